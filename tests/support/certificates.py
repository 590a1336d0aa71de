"""Synthetic verdict records and certificates for the report tests (no simulation, no torch).

Every claim's series are panels (lemmas.report) of the names and kinds its module in
lemmas/ gives (curves over seeds with thresholds and marked times, C2's norm bands and
growth fit, C7's log-log and quantile panels, C8's scatter, C10/C11's ladders), so the
renderer meets every kind of mark; `odd_series()` holds records that must be skipped, not
crash the report. `CLAIM_META` carries each claim's key statistics as the certificate's
`claims` section does; `user_regime_records()` adds a user regime and cells the baseline
does not know.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from lemmas.report import Band, Curve, ErrorBar, HLine, KeyStat, Panel, Scatter, VLine
from reports import certificate as certmod

REGIMES = ["paper", "small_batch", "gaussian", "first_layer_only", "large_init", "parity3", "sparse_finders"]
USER_REGIME = "label_noise"
CLAIMS = [f"C{i}" for i in range(1, 12)]
SPEC = {
    "package": "xorcert",
    "package_version": "0.1.0",
    "thresholds": {"delta": 0.1, "confidence": 0.95, "eps": 0.01, "c2_t1_band": [0.5, 1.5], "zeta": "1/log(d)"},
}
ENV = {
    "git_commit": "0" * 40,
    "git_dirty": False,
    "python": "3.11",
    "platform": "test",
    "torch": "2.13.0",
    "numpy": "2",
    "hypothesis": "6",
    "pytest": "9",
    "scipy": "1",
}
KEY_STATS = {
    "C1": (
        KeyStat("max|h'+1| up to T1", "max_batch_dev_to_T1", "<=", "zeta"),
        KeyStat("test max|h'+1| up to T1", "max_test_dev_to_T1", "<=", "zeta"),
    ),
    "C2": (
        KeyStat("T1 / linearized prediction", "d{d}_T1_over_pred", "in", "t1_band"),
        KeyStat("growth rate / prediction", "d{d}_rate_ratio", "in", "d{d}_rate_band"),
    ),
    "C3": (KeyStat("min S_t after T1 (worst seed)", "min_S_after_T1", ">=", "S_min"),),
    "C4": (
        KeyStat("max|f-f̃| / max|γ̃|", "max_gap_over_max_margin", "<=", "gap_over_max_margin_max"),
        KeyStat("sign agreement", "min_sign_agree", ">=", "sign_agree_min"),
    ),
    "C5": (
        KeyStat("R_T (worst seed)", "R_T_max", "<=", "R_T_max"),
        KeyStat("largest rise of R after T2", "max_rise", "<=", "rise_max"),
    ),
    "C6": (
        KeyStat("max_k|a²-‖w‖²| / max a²", "max_balance_ratio", "<=", "balance_max"),
        KeyStat("identity residual", "max_identity_residual", "<=", "identity_rtol"),
    ),
    "C7": (
        KeyStat("median noise/drift", "ratio_median", "<=", "ratio_max"),
        KeyStat("batch gain (m=d vs regime)", "gain", ">=", "batch_gain"),
    ),
    "C8": (
        KeyStat("Spearman(first heavy step, final |a|)", "spearman_median", "<=", "spearman_max"),
        KeyStat("finders' mass share", "finder_share_median", ">=", "finder_share_min"),
    ),
    "C9": (KeyStat("upper 95% bound of the test error (worst seed)", "final_error_hi_max", "<", "eps"),),
    "C10": (KeyStat("log-log slope of n*(d)", "slope", "in", ("slope_lo", "slope_hi")),),
    "C11": (KeyStat("T1·η/log d, worst ratio to median", "q_worst_ratio_median", "<=", "factor"),),
}
CLAIM_META = {
    c: {
        "slug": f"claim_{c.lower()}",
        "title": f"Synthetic claim {c}",
        "anchor": f"Sec. {c[1:]}",
        "statement": f"The statement of {c}.",
        "decisions": "none",
        "needs": "run",
        "key_stats": [k.to_dict() for k in KEY_STATS[c]],
    }
    for c in CLAIMS
}


def _over_seeds(
    title: str, n: int = 30, seeds: int = 3, log: bool = False, lo_hi: bool = False, median: list[Any] | None = None
) -> Panel:
    x = [float(10 * t) for t in range(n)]
    per = {s: [math.exp(-0.1 * t * (1 + 0.1 * s)) for t in range(n)] for s in range(seeds)}
    marks: list[Any] = []
    if lo_hi:
        marks += [
            Band(x, [0.0] + [v * 0.5 for v in vals[1:]], [v * 1.5 for v in vals], f"seed {s}")
            for s, vals in per.items()
        ]
    marks += [Curve(x, vals, f"seed {s}", "seed") for s, vals in per.items()]
    marks += [
        Curve(x, per[1] if median is None else median, "median over seeds", "median"),
        HLine(0.3, "ζ"),
        VLine(50.0, "T1 (median)"),
        VLine(math.inf, "T2 (median)"),
    ]
    return Panel(title, tuple(marks), "step t", "value", y_scale="log" if log else "linear")


def _c2_panels() -> dict[str, Panel]:
    t = [float(s) for s in range(0, 100, 5)]
    marks: list[Any] = []
    for group, (name, base) in enumerate((("w_sig", 0.01), ("w_opp", 0.01), ("w_perp", 0.1))):
        grow = 1.05 if name == "w_sig" else (0.98 if name == "w_opp" else 1.0)
        med = [base * grow**s for s in t]
        marks += [
            Band(t, [v * 0.8 for v in med], [v * 1.2 for v in med], f"‖{name}‖ 10–90%", group),
            Curve(t, med, f"‖{name}‖", "line", group),
        ]
    marks += [VLine(42.5, "T1 (median)"), VLine(65.0, "T2 (median)"), VLine(42.0, "T1 predicted")]
    fit_t = [s for s in t if s <= 40]
    growth = (
        Curve(fit_t, [0.01 * 1.05**s for s in fit_t], "‖w_sig‖ median", "median"),
        Curve(fit_t, [0.01 * 1.05**s for s in fit_t], "fitted rate", "fit"),
        Curve(fit_t, [0.01 * 1.055**s for s in fit_t], "linearized prediction", "reference"),
    )
    return {
        "d16_norms": Panel(
            "d = 16: norms over the neurons (median, 10–90%)", tuple(marks), "step t", "norm", y_scale="log"
        ),
        "d16_growth": Panel(
            "d = 16: growth of ‖w_sig‖ at initial size — fitted/predicted rate 0.95",
            growth,
            "step t",
            "‖w_sig‖",
            y_scale="log",
        ),
    }


def panels_for(claim: str) -> dict[str, Panel]:
    """Panels of the names and kinds the claim's module gives."""
    if claim == "C1":
        return {"batch_max_dev": _over_seeds("batch max |h'+1|"), "proxy_distance_snapshots": _over_seeds("proxy", 12)}
    if claim == "C2":
        return _c2_panels()
    if claim == "C3":
        return {"S": _over_seeds("signal-heavy mass S_t")}
    if claim in ("C4", "C6"):
        return {"gap": _over_seeds("gap"), "ratio": _over_seeds("ratio", log=True)}
    if claim == "C5":
        return {"R": _over_seeds("R_t", log=True, median=["inf"] * 5 + [1.5] * 25)}
    if claim == "C7":
        levels = [0.1, 0.25, 0.5, 0.75, 0.9]
        return {
            "noise_over_drift_by_batch": Panel(
                "median noise/drift against the batch: measured slope -0.5 (theory −0.5)",
                (
                    Curve([64.0, 1107.0], [5.0, 0.5], "measured (median)", "median", markers=True),
                    Curve([64.0, 1107.0], [5.0, 1.2], "theory ∝ √(d/m) through m = d", "fit"),
                    ErrorBar(1107.0, 0.5, 0.4, 0.6, "95% bootstrap CI over seeds"),
                    HLine(1.0, "threshold (median)"),
                ),
                "batch size m",
                "median noise / drift",
                x_scale="log",
                y_scale="log",
            ),
            "noise_over_drift_quantiles": Panel(
                "noise/drift: quantiles over neurons and seeds",
                (
                    Curve(levels, [0.2, 0.3, 0.5, 0.8, 1.2], "regime", "line", 0, markers=True),
                    Curve(levels, [2.0, 3.0, 5.0, 8.0, "inf"], "m = d", "line", 1, markers=True),
                    HLine(1.0, "threshold (median)"),
                    VLine(0.5, "median"),
                ),
                "quantile level",
                "noise / drift",
                y_scale="auto",
            ),
        }
    if claim == "C8":
        return {
            "amplification": Panel(
                "final |a| against the first signal-heavy step — Spearman (median over seeds) -0.70",
                (
                    Scatter([float(i) for i in range(40)], [1.0 / (1 + i) for i in range(40)], "neurons"),
                    VLine(500.0, "T"),
                ),
                "first signal-heavy step",
                "final |a|",
                y_scale="auto",
            ),
            "spearman_per_seed": Panel(
                "Spearman per seed",
                (
                    Curve([0.0, 1.0, 2.0], [-0.8, -0.7, "nan"], "ρ", "line", 0, markers=True),
                    HLine(-0.5, "spearman max"),
                ),
                "seed",
                "Spearman ρ",
            ),
            "finder_share": Panel(
                "finders' share of the output mass",
                (
                    Curve([0.0, 100.0, 200.0], [0.1, 0.5, 0.7], "main", "line", 0),
                    Curve([0.0, 100.0, 200.0], [0.1, 0.12, 0.13], "frozen", "line", 1),
                    HLine(0.5, "finder share min"),
                ),
                "snapshot step",
                "share",
            ),
        }
    if claim == "C9":
        return {
            "test_error": _over_seeds("test 0-1 error", log=True, lo_hi=True),
            "test_loss": _over_seeds("test loss", log=True),
        }
    if claim == "C10":
        ds = [8.0, 16.0, 32.0, 64.0]
        med = [d**1.3 * 100 for d in ds]
        return {
            "n_star": Panel(
                "n* against d — log-log slope 1.3, 95% CI [1.2, 1.4]",
                (
                    Curve(ds, [d**1.25 * 100 for d in ds], "seed 0", "seed", markers=True),
                    Curve(ds, [d**1.35 * 100 for d in ds], "seed 1", "seed", markers=True),
                    Curve(ds, med, "median over seeds", "median", markers=True),
                    Curve(ds, med, "fit: slope 1.3", "fit"),
                    Curve(ds, [d * 100 for d in ds], "band slope 1", "threshold"),
                ),
                "d",
                "n*",
                x_scale="log2",
                y_scale="log",
            ),
            "n_by_m": Panel(
                "n(m) at each d",
                tuple(
                    Curve(
                        [64.0, 32.0, 16.0, 8.0][::-1],
                        [d * 400.0, d * 300.0, d * 250.0, "inf"][::-1],
                        f"d = {d:g}",
                        "line",
                        i,
                        markers=True,
                    )
                    for i, d in enumerate(ds)
                ),
                "batch size m",
                "n(m)",
                x_scale="log2",
                y_scale="auto",
            ),
        }
    if claim == "C11":
        ds = [16.0, 32.0, 64.0]
        return {
            "T1_eta_over_logd": Panel(
                "T1·η/log d against d",
                (
                    Curve(ds, [0.9, 1.0, 1.3], "seed 0", "seed", markers=True),
                    Curve(ds, [1.0, 1.1, 1.2], "median over seeds", "median", markers=True),
                    HLine(1.1, "median over the ladder", "reference"),
                    HLine(2.2, "×2 band"),
                    HLine(0.55),
                ),
                "d",
                "T1·η/log d",
                x_scale="log2",
            ),
            "phase2_eps_eta": Panel(
                "(T_ε−T1)·η against d (reported)",
                (Curve(ds, [3.0, "nan", 3.5], "median over seeds", "median", markers=True),),
                "d",
                "(T_ε−T1)·η",
                x_scale="log2",
                y_scale="auto",
            ),
        }
    raise KeyError(claim)


def series_for(claim: str) -> dict[str, Any]:
    """The claim's series as a verdict record carries them."""
    return {name: p.to_dict() for name, p in panels_for(claim).items()}


STATS = {
    "C1": ({"max_batch_dev_to_T1": 0.1, "max_test_dev_to_T1": 0.05, "T1_median": 50.0}, {"zeta": 0.29}),
    "C2": (
        {"d16_T1_over_pred": 0.9, "d32_T1_over_pred": 1.2, "d16_rate_ratio": 0.95, "d32_rate_ratio": 0.7},
        {"t1_band": [0.5, 1.5], "d16_rate_band": [0.64, 1.36], "d32_rate_band": [0.71, 1.29]},
    ),
    "C3": ({"min_S_after_T1": 0.8}, {"S_min": 0.71}),
    "C4": (
        {"max_gap_over_max_margin": 0.02, "min_sign_agree": 0.99},
        {"gap_over_max_margin_max": 0.29, "sign_agree_min": 0.71},
    ),
    "C5": ({"R_T_max": 1.2, "max_rise": "inf"}, {"R_T_max": 1.29, "rise_max": 1.29}),
    "C6": ({"max_balance_ratio": 0.01, "max_identity_residual": 1e-7}, {"balance_max": 0.29, "identity_rtol": 1e-4}),
    "C7": (
        {
            "ratio_median": 0.5,
            "ratio_median_lo": 0.4,
            "ratio_median_hi": 0.6,
            "ratio_median_m_d": 5.0,
            "gain": 10.0,
            "m_d": 64.0,
            "m_regime": 1107.0,
        },
        {"ratio_max": 1.0, "batch_gain": 2.0},
    ),
    "C8": ({"spearman_median": -0.7, "finder_share_median": 0.6}, {"spearman_max": -0.5, "finder_share_min": 0.5}),
    "C9": ({"final_error_hi_max": 0.004, "final_error_median": 0.001}, {"eps": 0.01}),
    "C10": ({"slope": 1.3, "slope_lo": 1.2, "slope_hi": 1.4}, {"slope_lo": 1.0, "slope_hi": 1.7}),
    "C11": ({"q_worst_ratio_median": 1.3}, {"factor": 2.0}),
}


def verdict(claim: str, status: str, seeds: int = 4, fails: int = 0, series: Any = None) -> dict[str, Any]:
    stats, thr = STATS[claim]
    per_seed = [
        {
            "seed": s,
            "outcome": "fail" if s < fails else ("na" if status == "inconclusive" else "pass"),
            **({"why": f"seed {s} broke"} if s < fails else {}),
        }
        for s in range(seeds)
    ]
    return {
        "claim": claim,
        "status": status,
        "reason": f"{claim} {status}: {fails}/{seeds} seeds fail",
        "stats": {**stats, "seeds_failing": fails, "fail_rate": fails / seeds},
        "thresholds": {**thr, "delta": 0.1},
        "per_seed": per_seed,
        "series": series_for(claim) if series is None else series,
    }


def record(
    claim: str,
    regime: str,
    status: str,
    expected: str | None = "holds",
    d: int = 32,
    seed: int = 0,
    fails: int = 0,
    profile: str = "quick",
    series: Any = None,
) -> dict[str, Any]:
    """What tests/claims/test_certify.py attaches with record_property('xorcert_verdict', record)."""
    return {
        "claim": claim,
        "regime": regime,
        "profile": profile,
        "example": {"regime": regime, "d": d, "width": 1, "seed": seed, "seeds": 4, "batch": "", "ladder": []},
        "expected": expected,
        "seconds": 0.5,
        "verdict": verdict(claim, status, fails=fails, series=series),
        "reproduce": reproduce(claim, regime, d, seed),
    }


def reproduce(claim: str, regime: str, d: int, seed: int) -> str:
    """The command a certificate entry carries to evaluate its example alone."""
    return f"python -m lemmas check {claim} --regime {regime} --d {d} --width 1 --seed {seed} --seeds 4"


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


def user_regime_records() -> dict[str, list[dict[str, Any]]]:
    """Every claim in paper, and in the user regime `label_noise` (no expectation: new cells) with C3 and C9
    failing there and C7 inconclusive; C2 in gaussian is new too (a built-in cell the baseline does not know)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for c in CLAIMS:
        out[f"t::test_claim[{c}-paper]"] = [record(c, "paper", "holds")]
        status = {"C3": "fails", "C9": "fails", "C7": "inconclusive"}.get(c, "holds")
        out[f"t::test_claim[{c}-{USER_REGIME}]"] = [
            record(c, USER_REGIME, status, expected=None, fails=2 if status == "fails" else 0)
        ]
    out["t::test_claim[C2-gaussian]"] = [record("C2", "gaussian", "fails", expected=None, fails=3)]
    return out


_RUNS = itertools.count()


def _flipped(recs: list[dict[str, Any]]) -> bool:
    return any(r["expected"] is not None and r["verdict"]["status"] != r["expected"] for r in recs)


def certificate(
    records: dict[str, list[dict[str, Any]]] | None = None,
    *,
    complete: bool = True,
    spec: dict[str, Any] | None = None,
    items: dict[str, Any] | None = None,
    regimes: list[str] | None = None,
) -> dict[str, Any]:
    records = all_kinds_records() if records is None else records
    entries = [certmod.entry_from_record(r, nid, i, "cpu") for nid, recs in records.items() for i, r in enumerate(recs)]
    if items is None:
        items = {
            nid: {
                "claim": recs[0]["claim"],
                "regime": recs[0]["regime"],
                "outcome": "failed" if _flipped(recs) else "passed",
                "examples": len(recs),
                "message": "VerdictFlip: flipped" if _flipped(recs) else "",
            }
            for nid, recs in records.items()
        }
    run = {"date": "2026-01-01T00:00:00", "exitstatus": 1, "pid": next(_RUNS)}  # each call: a run of its own
    return certmod.build(
        entries,
        spec=spec or SPEC,
        env=ENV,
        run=run,
        items=items,
        claims=CLAIM_META,
        regimes=REGIMES if regimes is None else regimes,
        complete=complete,
        incomplete_reasons=[] if complete else ["the run ended with exit status 2 (interrupted)"],
    )


def odd_series() -> dict[str, Any]:
    """Records no renderer should choke on: each is logged and skipped."""
    curve = {"kind": "curve", "x": [1, 2, 3], "y": [1, 2, 3], "label": "", "role": "median"}
    return {
        "old_curve_dict": {"x": [1, 2, 3], "median": [1, 2, 3]},
        "no_kind": {"title": "t", "marks": []},
        "bad_length": {"kind": "panel", "title": "t", "marks": [{**curve, "y": [1, 2]}]},
        "strings": {"kind": "panel", "title": "t", "marks": [{**curve, "y": ["a", "b", "c"]}]},
        "unknown_mark": {"kind": "panel", "title": "t", "marks": [{"kind": "pie", "x": [1]}]},
        "unknown_role": {"kind": "panel", "title": "t", "marks": [{**curve, "role": "sparkle"}]},
        "bad_scale": {"kind": "panel", "title": "t", "y_scale": "cubic", "marks": [curve]},
        "marks_not_list": {"kind": "panel", "title": "t", "marks": "x"},
        "nan_only": {"kind": "panel", "title": "t", "marks": [{**curve, "y": ["nan", "nan", "nan"]}]},
        "empty": {"kind": "panel", "title": "t", "marks": []},
        "scalar": 3.0,
        "text": "hello",
        "none": None,
        "list": [1, 2],
    }
