"""Synthetic verdict records and certificates for the report tests (no simulation, no torch).

Every claim's series has the shape its module in lemmas/ gives it (curve dicts, C2's rung
groups, C7's quantiles, C8's scatter, C10/C11's ladders), so the renderers are exercised
on each; `odd_series()` holds shapes that must be skipped, not crash the report.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from reports import certificate as certmod

REGIMES = ["paper", "small_batch", "gaussian", "first_layer_only", "large_init", "parity3", "sparse_finders"]
CLAIMS = [f"C{i}" for i in range(1, 12)]
SPEC = {"package": "xorcert", "package_version": "0.1.0",
        "thresholds": {"delta": 0.1, "confidence": 0.95, "eps": 0.01, "c2_t1_band": [0.5, 1.5], "zeta": "1/log(d)"}}
ENV = {"git_commit": "0" * 40, "git_dirty": False, "python": "3.11", "platform": "test", "torch": "2.13.0",
       "numpy": "2", "hypothesis": "6", "pytest": "9", "scipy": "1"}
CLAIM_META = {c: {"slug": f"claim_{c.lower()}", "title": f"Synthetic claim {c}", "anchor": f"Sec. {c[1:]}",
                  "statement": f"The statement of {c}.", "decisions": "none", "needs": "run"} for c in CLAIMS}


def _curve(n: int = 30, seeds: int = 3, log: bool = False, lo_hi: bool = False) -> dict[str, Any]:
    x = [float(10 * t) for t in range(n)]
    per = {str(s): [math.exp(-0.1 * t * (1 + 0.1 * s)) for t in range(n)] for s in range(seeds)}
    out: dict[str, Any] = {"x": x, "median": per["1"], "per_seed": per, "x_label": "step t", "y_label": "value",
                           "hlines": {"ζ": 0.3}, "vlines": {"T1 (median)": 50.0, "T2 (median)": "inf"}, "log_y": log}
    if lo_hi:
        out["per_seed_lo"] = {s: [0.0] + [v * 0.5 for v in vals[1:]] for s, vals in per.items()}
        out["per_seed_hi"] = {s: [v * 1.5 for v in vals] for s, vals in per.items()}
    return out


def _c2_series() -> dict[str, Any]:
    out: dict[str, Any] = {"d": [16]}
    for d in (16,):
        t = list(range(0, 100, 5))
        out[f"d{d}.t"] = t
        out[f"d{d}.T1"] = [40, 45, -1]
        out[f"d{d}.T2"] = [60, -1, 70]
        out[f"d{d}.T1_pred"] = [42.0]
        for name, base in (("w_sig", 0.01), ("w_opp", 0.01), ("w_perp", 0.1)):
            grow = 1.05 if name == "w_sig" else (0.98 if name == "w_opp" else 1.0)
            med = [base * grow**s for s in t]
            out[f"d{d}.{name}_q10"] = [v * 0.8 for v in med]
            out[f"d{d}.{name}_med"] = med
            out[f"d{d}.{name}_q90"] = [v * 1.2 for v in med]
        fit_t = [s for s in t if s <= 40]
        out[f"d{d}.fit_t"] = fit_t
        out[f"d{d}.w_sig_fit"] = [0.01 * 1.05**s for s in fit_t]
        out[f"d{d}.w_sig_pred"] = [0.01 * 1.055**s for s in fit_t]
        out[f"d{d}.rate_ratio_per_seed"] = [0.9, 0.95, "nan"]
    return out


def series_for(claim: str) -> dict[str, Any]:
    """A series of the shape the claim's module gives."""
    if claim == "C1":
        return {"batch_max_dev": _curve(), "proxy_distance_snapshots": _curve(12)}
    if claim == "C2":
        return _c2_series()
    if claim in ("C3", "C4", "C6"):
        return {"S": _curve()} if claim == "C3" else {"gap": _curve(), "ratio": _curve(log=True)}
    if claim == "C5":
        return {"R": {**_curve(log=True), "median": ["inf"] * 5 + [1.5] * 25}}
    if claim == "C7":
        return {"quantile_levels": [0.1, 0.25, 0.5, 0.75, 0.9], "ratio_quantiles_regime": [0.2, 0.3, 0.5, 0.8, 1.2],
                "ratio_quantiles_m_d": [2.0, 3.0, 5.0, 8.0, "inf"]}
    if claim == "C8":
        return {"first_heavy_step": [float(i) for i in range(40)], "final_abs_a": [1.0 / (1 + i) for i in range(40)],
                "horizon": [500], "spearman_per_seed": [-0.8, -0.7, "nan"], "snap_steps": [0.0, 100.0, 200.0],
                "finder_share_main": [0.1, 0.5, 0.7], "finder_share_frozen": [0.1, 0.12, 0.13]}
    if claim == "C9":
        return {"test_error": _curve(log=True, lo_hi=True), "test_loss": _curve(log=True)}
    if claim == "C10":
        ds = [8.0, 16.0, 32.0, 64.0]
        out: dict[str, Any] = {"d": ds, "n_star_median": [d**1.3 * 100 for d in ds],
                               "n_star_over_d_log2_d": [1.0, 1.1, 1.2, 1.25], "argmin_m_median": [8.0, 16.0, 32.0, 32.0],
                               "n_star_seed0": [d**1.25 * 100 for d in ds], "n_star_seed1": [d**1.35 * 100 for d in ds]}
        for d in (8, 16, 32, 64):
            out[f"m_tried_d{d}"] = [64.0, 32.0, 16.0, 8.0]
            out[f"n_median_by_m_d{d}"] = [d * 400.0, d * 300.0, d * 250.0, "inf"]
            out[f"argmin_m_d{d}"] = [16.0, 32.0]
        return out
    if claim == "C11":
        ds = [16.0, 32.0, 64.0]
        return {"d": ds, "T1_eta_over_logd_median": [1.0, 1.1, 1.2], "phase2_eps_eta_median": [3.0, "nan", 3.5],
                "phase2_loss_eta_over_loglogd_median": [2.0, 2.2, 2.1], "T1_eta_over_logd_seed0": [0.9, 1.0, 1.3],
                "T1_eta_over_logd_seed1": [1.1, 1.2, 1.1]}
    raise KeyError(claim)


STATS = {
    "C1": ({"max_batch_dev_to_T1": 0.1, "max_test_dev_to_T1": 0.05, "T1_median": 50.0}, {"zeta": 0.29}),
    "C2": ({"d16_T1_over_pred": 0.9, "d32_T1_over_pred": 1.2, "d16_rate_ratio": 0.95, "d32_rate_ratio": 0.7},
           {"t1_band": [0.5, 1.5], "d16_rate_band": [0.64, 1.36], "d32_rate_band": [0.71, 1.29]}),
    "C3": ({"min_S_after_T1": 0.8}, {"S_min": 0.71}),
    "C4": ({"max_gap_over_max_margin": 0.02, "min_sign_agree": 0.99}, {"gap_over_max_margin_max": 0.29,
                                                                     "sign_agree_min": 0.71}),
    "C5": ({"R_T_max": 1.2, "max_rise": "inf"}, {"R_T_max": 1.29, "rise_max": 1.29}),
    "C6": ({"max_balance_ratio": 0.01, "max_identity_residual": 1e-7}, {"balance_max": 0.29, "identity_rtol": 1e-4}),
    "C7": ({"ratio_median": 0.5, "ratio_median_lo": 0.4, "ratio_median_hi": 0.6, "ratio_median_m_d": 5.0, "gain": 10.0,
            "m_d": 64.0, "m_regime": 1107.0}, {"ratio_max": 1.0, "batch_gain": 2.0}),
    "C8": ({"spearman_median": -0.7, "finder_share_median": 0.6}, {"spearman_max": -0.5, "finder_share_min": 0.5}),
    "C9": ({"final_error_hi_max": 0.004, "final_error_median": 0.001}, {"eps": 0.01}),
    "C10": ({"slope": 1.3, "slope_lo": 1.2, "slope_hi": 1.4}, {"slope_lo": 1.0, "slope_hi": 1.7}),
    "C11": ({"q_worst_ratio_median": 1.3}, {"factor": 2.0}),
}


def verdict(claim: str, status: str, seeds: int = 4, fails: int = 0, series: Any = None) -> dict[str, Any]:
    stats, thr = STATS[claim]
    per_seed = [{"seed": s, "outcome": "fail" if s < fails else ("na" if status == "inconclusive" else "pass"),
                 **({"why": f"seed {s} broke"} if s < fails else {})} for s in range(seeds)]
    return {"claim": claim, "status": status, "reason": f"{claim} {status}: {fails}/{seeds} seeds fail",
            "stats": {**stats, "seeds_failing": fails, "fail_rate": fails / seeds}, "thresholds": {**thr, "delta": 0.1},
            "per_seed": per_seed, "series": series_for(claim) if series is None else series}


def record(claim: str, regime: str, status: str, expected: str | None = "holds", d: int = 32, seed: int = 0,
           fails: int = 0, profile: str = "quick", series: Any = None) -> dict[str, Any]:
    """What tests/claims/test_certify.py attaches with record_property('xorcert_verdict', record)."""
    return {"claim": claim, "regime": regime, "profile": profile,
            "example": {"regime": regime, "d": d, "width": 1, "seed": seed, "seeds": 4, "batch": "", "ladder": []},
            "expected": expected, "seconds": 0.5, "verdict": verdict(claim, status, fails=fails, series=series)}


def all_kinds_records() -> dict[str, list[dict[str, Any]]]:
    """nodeid -> records: every claim in paper, plus fails, inconclusive, a flip and mixed examples."""
    out: dict[str, list[dict[str, Any]]] = {}

    def add(claim: str, regime: str, *recs: dict[str, Any]) -> None:
        out[f"tests/claims/test_certify.py::test_claim[{claim}-{regime}]"] = list(recs)

    for c in CLAIMS:
        add(c, "paper", record(c, "paper", "holds"), record(c, "paper", "holds", d=64))
    add("C9", "gaussian", record("C9", "gaussian", "fails", expected="fails", fails=4))
    add("C1", "parity3", record("C1", "parity3", "inconclusive", expected="inconclusive"))
    add("C4", "large_init", record("C4", "large_init", "fails", expected="holds", fails=3))  # a flip
    add("C5", "small_batch", record("C5", "small_batch", "holds"), record("C5", "small_batch", "fails", fails=2, d=64))
    return out


_RUNS = itertools.count()


def certificate(records: dict[str, list[dict[str, Any]]] | None = None, *, complete: bool = True,
                spec: dict[str, Any] | None = None, items: dict[str, Any] | None = None) -> dict[str, Any]:
    records = all_kinds_records() if records is None else records
    entries = [certmod.entry_from_record(r, nid, i, "cpu") for nid, recs in records.items() for i, r in enumerate(recs)]
    if items is None:
        items = {nid: {"claim": recs[0]["claim"], "regime": recs[0]["regime"],
                       "outcome": "failed" if any(r["verdict"]["status"] != r["expected"] for r in recs) else "passed",
                       "examples": len(recs), "message": "VerdictFlip: flipped" if any(
                           r["verdict"]["status"] != r["expected"] for r in recs) else "",
                       "reproduce": ["@reproduce_failure('6.170.17', b'AAAA')"]} for nid, recs in records.items()}
    run = {"date": "2026-01-01T00:00:00", "exitstatus": 1, "pid": next(_RUNS)}  # each call: a run of its own
    return certmod.build(entries, spec=spec or SPEC, env=ENV, run=run,
                         items=items, claims=CLAIM_META, regimes=REGIMES, complete=complete,
                         incomplete_reasons=[] if complete else ["the run ended with exit status 2 (interrupted)"])


def odd_series() -> dict[str, Any]:
    """Shapes no renderer should choke on."""
    return {"x_only": {"x": [1, 2, 3]}, "bad_curve": {"x": [1, 2, 3], "median": [1, 2]},
            "strings": {"x": ["a", "b"], "median": ["c", "d"]}, "scalar": 3.0, "text": "hello", "none": None,
            "nested": {"a": {"b": [1, 2]}}, "empty": [], "mixed": [1, "x", None], "d": [1, 2],
            "d5.t": "not a list", "d5.w_sig_med": [1, 2, 3], "quantile_levels": "odd", "nan_list": ["nan", "nan"]}
