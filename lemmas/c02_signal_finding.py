"""C2 `signal_finding` — Glasgow (2023), Section 4.1, Mechanism 1 (docs/SPEC.md §3, id C2).

Claim, in words: in phase one every neuron's signal component ‖w_sig‖ grows
geometrically and its opposite component ‖w_opp‖ shrinks; while the network is still at
its initial size the fitted growth rate matches the linearized population prediction;
and phase one lasts Θ(log d / η), measured against the linearized prediction on every
rung of a d-ladder.

Derivation of the prediction (why the numbers below are what they are). In phase one
f ≈ 0, so h'(γ) = -1 and the update of neuron k is w ← w + η a E[y 1[w·x > 0] x]. Write
u = ⟨x, μ̂+⟩, v = ⟨x, μ̂-⟩ and w = s μ̂_sig + o μ̂_opp + w_perp (say a > 0, μ̂_sig = μ̂+).
The population drift along μ̂_sig is a E[y u 1[s u + o v + w_perp·x > 0]]; its zeroth order
in (s, o) is a E[y u] P(w_perp·x > 0) = 0, and to first order

    a s E[y u² δ(w_perp·x)] + a o E[y u v δ(w_perp·x)] = a s E[y u²] / (√(2π) ‖w_perp‖),

since w_perp·x is independent of (u, v) with density 1/(√(2π)‖w_perp‖) at 0 (exactly
N(0, ‖w_perp‖²) for Gaussian x; by the CLT on the hypercube), and E[y u v] = 0 (swap x_i and
x_j). So the drift constant of a data law is c = E[y u²] (`drift_constant`):

- boolean, y = -x_i x_j: u² = 1 - x_i x_j, so E[y u²] = E[-x_i x_j] + E[(x_i x_j)²] = 1;
- gaussian, y = -sign(x_i x_j) = sign(u² - v²) (u² - v² = -2 x_i x_j) with u, v iid N(0, 1):
  in polar coordinates E[r² cos²φ sign(cos 2φ)] = E[r²]·(1/2π)∫ (1 + cos 2φ)/2 · sign(cos 2φ) dφ
  = 2·(1/2π)·(1/2)·4 = 2/π.

Along μ̂_opp the same computation gives -c (E[y v²] = -E[y u²]). Hence ‖w_sig‖ grows by the
factor 1 + c η|a|/(√(2π)‖w_perp‖) ≈ 1 + c η/√(2π) per step (|a| ≈ ‖w_perp‖ ≈ θ at the start),
from ≈ θ/√d at initialization to ‖w_perp‖/ζ, where the neuron becomes signal-heavy:
T1 ≈ log(√d/ζ) / (c η/√(2π)) = √(2π) (½ log d + log(1/ζ)) / (c η). The recorded ‖w_perp‖ is
the norm on the d - 2 coordinates off the label pair, i.e. the w_perp above, for both laws;
the initial ‖w_sig‖ ≈ θ/√d does not depend on the law (the init does not read the data).
tests/unit/test_lemma_c02.py checks c by Monte Carlo on the registered samplers, and the
whole first-order drift E[y u 1[w·x > 0]] ≈ s c/(√(2π)‖w_perp‖) at small s.

The check (`needs = "ladder"`: d -> Trajectory of one regime with the same seeds), per
seed, on every rung (ζ = ζ(d) = 1/log d, c = the run's drift constant):

(i)   phase one: between t = 0 and the measured T1 the share of neurons whose ‖w_sig‖
      grew and whose ‖w_opp‖ shrank is ≥ 1 - ζ, each part over the neurons it applies to
      (`grown_share`: a component that is exactly 0 at t = 0 is left out of its part);
(ii)  growth rate: for each neuron, the steps t ≤ T1 where |a_k| is within (1 ± ζ)·θ
      (at least THRESHOLDS.c2_min_window of them, else the neuron is skipped); the
      least-squares slope of log ‖w_sig‖ against t over those steps is divided by the
      mean over the same steps of log(1 + c η|a|/(√(2π)‖w_perp‖)); the median ratio over
      the fitted neurons must lie in [1 - ζ, 1 + ζ];
(iii) band: T1 / (√(2π)(½ log d + log(1/ζ))/(c η)) ∈ THRESHOLDS.c2_t1_band = [0.5, 1.5].

A seed passes when (i)-(iii) hold on every rung; it fails when any of them fails on any
rung; otherwise (something could not be evaluated) it is 'na'. The seeds go through the
shared w.h.p. rule (`verdict_from_seeds`).

Decisions (the specification, docs/SPEC.md, is silent or asks for a finite-d reading):
- "every neuron" in (i) is read as all but a ζ share (finite d: a neuron whose initial
  ‖w_opp‖ is already ≈ 0 can see it grow by SGD noise).
- (i) is about the drift of the components a neuron starts with. A component that is
  exactly 0 at t = 0 (both plane components of the non-finders of sparse_finders) sits at
  the fixed point of the first-order drift (the drift is proportional to the component):
  it cannot shrink, and any growth is seeded by SGD noise, not the geometric growth of
  Mechanism 1. So "w_opp shrank" is read over the neurons with ‖w_opp(0)‖ > 0 and "w_sig
  grew" over those with ‖w_sig(0)‖ > 0; a neuron with both exactly 0 is in neither, and a
  rung where no neuron has a nonzero component makes (i) 'na'. How many neurons each part
  left out is reported (`d*_sig_excluded`, `d*_opp_excluded`).
- The drift constant c is a property of the data law, derived above for the built-in
  laws (`DRIFT_CONSTANTS`). For a law without a derived constant (a user's law) the rate
  (ii) and the band (iii), which need the absolute prediction, are 'na' with that reason
  (the hypercube's c = 1 is not assumed); (i) is still decided.
- The signal / opposite directions follow the current sign of a_k (docs/SPEC.md §2), at 0
  and at T1.
- (ii) uses log(1 + rate) as the per-step prediction (geometric growth, exact for the
  discrete update) rather than the rate itself; steps with ‖w_sig‖ = 0 (e.g. the
  non-finders of sparse_finders at t = 0) are left out of the fit, since log 0 is not a
  growth. Fewer than THRESHOLDS.c2_min_fit_share of the neurons with a window makes (ii)
  unevaluable ('na') on that rung.
- T1 never reached on a rung: 'na' for that seed (the lead's decision), except where the
  recorded horizon T already exceeds the band's upper end 1.5 × prediction: then the
  censored T1 > T > 1.5 × prediction is a definite failure of (iii), not a missing value
  (this is what happens when the label sits on another pair of coordinates).
- The seeds of the ladder must be the same on every rung (ValueError otherwise).

Known consequence of the specification's window (a finding, deliberately not corrected here):
where a is frozen (first_layer_only) |a| never leaves (1 ± ζ)θ, so the fit spans all of
phase one, including its end where ‖w_sig‖ is no longer small against ‖w_perp‖ and the
first-order prediction overestimates the growth: median ratios ≈ 0.56-0.75 at d = 32
(≈ 0.89-0.92 if the fit were restricted to ‖w_sig‖ ≤ ‖w_perp‖), so (ii) fails there. In
the paper regime |a| leaves the window before that (ratios ≈ 0.83-0.90 for d = 16-64).
With its own constant c = 2/π the gaussian regime matches the prediction as well as the
paper regime does (quick ladder: rate ratios 0.76, 0.85, 0.88, T1/T1_pred 1.00, 1.01, 0.98
at d = 16, 32, 64); with the hypercube's c = 1 it failed (ratios ≈ 0.5, T1/T1_pred up to 1.75).
In sparse_finders the non-finders start at the drift's fixed point, so T1 (which needs
their mass too) comes late at small d: T1/T1_pred 1.55, 1.26, 1.10 at d = 16, 32, 64, and
(iii) fails at d = 16.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, verdict_from_seeds
from lemmas.report import Band, Curve, KeyStat, Panel
from lemmas.series import lines
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

SQRT_2PI = math.sqrt(2 * math.pi)
SERIES_POINTS = 120

# The drift constant c = E[y ⟨x, μ̂+⟩²] of each data law (derivation in the module docstring):
# the first-order population drift of ‖w_sig‖ is c·η|a|/(√(2π)‖w_perp‖) per step.
DRIFT_CONSTANTS: dict[str, float] = {"boolean": 1.0, "gaussian": 2.0 / math.pi}


def drift_constant(law: str) -> float | None:
    """c = E[y ⟨x, μ̂+⟩²] of a data law: 1 (boolean), 2/π (gaussian); None where none is derived."""
    return DRIFT_CONSTANTS.get(law)


def no_drift_constant(law: str) -> str:
    """Why a prediction that needs the drift constant is 'na' for this law."""
    return (
        f"data law {law!r} has no derived drift constant E[y⟨x, μ̂+⟩²] (derived: "
        f"{', '.join(DRIFT_CONSTANTS)}), so the linearized prediction is not defined for it"
    )


def t1_prediction(d: int, eta: float, c: float) -> float:
    """The linearized phase-one length √(2π)(½ log d + log(1/ζ))/(c η) (steps), c the law's drift constant."""
    z = THRESHOLDS.zeta(d)
    return SQRT_2PI * (0.5 * math.log(d) + math.log(1.0 / z)) / (c * eta)


def grown_share(w_sig: np.ndarray, w_opp: np.ndarray, t1: int) -> tuple[float, int, int]:
    """(share, neurons left out of the w_sig part, of the w_opp part); arrays (T, p).

    A neuron counts when each part that applies to it holds: ‖w_sig‖ grew between 0 and t1
    (applies where ‖w_sig(0)‖ > 0) and ‖w_opp‖ shrank (applies where ‖w_opp(0)‖ > 0). The
    share is over the neurons with at least one part; NaN when there is none."""
    has_sig, has_opp = w_sig[0] > 0, w_opp[0] > 0
    ok = (~has_sig | (w_sig[t1] > w_sig[0])) & (~has_opp | (w_opp[t1] < w_opp[0]))
    judged = has_sig | has_opp
    share = float(np.mean(ok[judged])) if judged.any() else math.nan
    return share, int((~has_sig).sum()), int((~has_opp).sum())


def rate_ratios(
    w_sig: np.ndarray,
    w_perp: np.ndarray,
    a: np.ndarray,
    t1: int,
    theta: float,
    eta: float,
    z: float,
    c: float,
    min_window: int = THRESHOLDS.c2_min_window,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per neuron: (fitted slope, predicted slope, slope/prediction), NaN where the window is too short.

    Arrays (T, p) of one seed. The window of neuron k: steps t ≤ t1 with ||a_k| - θ| ≤ ζθ and
    ‖w_sig‖ > 0; the fit is least squares of log ‖w_sig‖ on t; the prediction is the mean over
    the window of log(1 + c η|a|/(√(2π)‖w_perp‖)), c the law's drift constant.
    """
    p = a.shape[1]
    fit, pred = np.full(p, np.nan), np.full(p, np.nan)
    steps = np.arange(t1 + 1)
    for k in range(p):
        ak, sk, pk = np.abs(a[: t1 + 1, k]), w_sig[: t1 + 1, k], w_perp[: t1 + 1, k]
        win = (np.abs(ak - theta) <= z * theta) & (sk > 0) & (pk > 0)
        if win.sum() < min_window:
            continue
        t = steps[win]
        fit[k] = np.polyfit(t, np.log(sk[win]), 1)[0]
        pred[k] = np.mean(np.log1p(c * eta * ak[win] / (SQRT_2PI * pk[win])))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = fit / pred
    return fit, pred, ratio


def _rung_seed(traj: Trajectory, r: int) -> dict[str, Any]:
    """(i)-(iii) for seed index r of one rung: values and per-criterion 'pass'/'fail'/'na'."""
    cfg = traj.config
    d, z, eta = cfg.d, traj.zeta, float(cfg.eta)
    c = drift_constant(cfg.data)
    pred_t1 = t1_prediction(d, eta, c) if c is not None else math.nan
    lo, hi = THRESHOLDS.c2_t1_band
    t1 = int(traj.T1()[r])
    out: dict[str, Any] = {"T1": t1, "T1_pred": pred_t1}
    if t1 < 0:
        out["T1_ratio"] = math.nan
        if c is not None and traj.steps > hi * pred_t1:
            out["band"] = "fail"
            out["why"] = f"d={d}: T1 not reached by T={traj.steps} > {hi}×prediction={hi * pred_t1:.1f}"
        else:
            out["band"] = "na"
            out["why"] = f"d={d}: T1 not reached by T={traj.steps}"
        out["share"] = out["rate"] = "na"
        return out
    w_sig, w_opp, w_perp, a = traj.w_sig()[:, r], traj.w_opp()[:, r], traj.w_perp()[:, r], traj.a()[:, r]
    share, sig_out, opp_out = grown_share(w_sig, w_opp, t1)
    out.update(share_grown=share, sig_excluded=sig_out, opp_excluded=opp_out)
    whys = []
    if not math.isfinite(share):
        out["share"] = "na"
        whys.append(f"d={d}: no neuron starts with a nonzero signal-plane component")
    elif share >= 1 - z:
        out["share"] = "pass"
    else:
        out["share"] = "fail"
        whys.append(f"d={d}: only {share:.2f} of the neurons grew w_sig and shrank w_opp (< 1-ζ={1 - z:.2f})")
    if c is None:
        out["rate"] = out["band"] = "na"
        out["T1_ratio"] = out["rate_ratio"] = math.nan
        whys.append(f"d={d}: {no_drift_constant(cfg.data)}")
        out["why"] = "; ".join(whys)
        return out
    fit, pred, ratio = rate_ratios(w_sig, w_perp, a, t1, float(cfg.theta), eta, z, c)
    fitted = np.isfinite(ratio)
    med = float(np.median(ratio[fitted])) if fitted.any() else math.nan
    t1_ratio = t1 / pred_t1
    out.update(
        rate_ratio=med,
        fitted_neurons=int(fitted.sum()),
        T1_ratio=t1_ratio,
        fit_slope=float(np.median(fit[fitted])) if fitted.any() else math.nan,
        pred_slope=float(np.median(pred[fitted])) if fitted.any() else math.nan,
    )
    if fitted.sum() < THRESHOLDS.c2_min_fit_share * a.shape[1]:
        out["rate"] = "na"
        whys.append(
            f"d={d}: {int(fitted.sum())}/{a.shape[1]} neurons have ≥ {THRESHOLDS.c2_min_window} "
            "steps at initial size before T1"
        )
    elif abs(med - 1) <= z:
        out["rate"] = "pass"
    else:
        out["rate"] = "fail"
        whys.append(f"d={d}: median fitted/predicted growth rate {med:.3f} outside 1±ζ=[{1 - z:.2f}, {1 + z:.2f}]")
    out["band"] = "pass" if lo <= t1_ratio <= hi else "fail"
    if out["band"] == "fail":
        whys.append(f"d={d}: T1/prediction = {t1}/{pred_t1:.1f} = {t1_ratio:.2f} outside [{lo}, {hi}]")
    out["why"] = "; ".join(whys)
    return out


def _combine(parts: list[str]) -> str:
    if "fail" in parts:
        return "fail"
    return "na" if "na" in parts else "pass"


def _common_seeds(ladder: Mapping[int, Trajectory]) -> list[int]:
    seeds = [list(t.seeds) for t in ladder.values()]
    if any(s != seeds[0] for s in seeds):
        raise ValueError(
            f"C2: the rungs of a ladder must hold the same seeds; got { {d: t.seeds for d, t in ladder.items()} }"
        )
    return seeds[0]


def _finite_median(values: list[Any]) -> float:
    v = [float(x) for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    return float(np.median(v)) if v else math.nan


def _quantiles(x: np.ndarray, idx: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """10%, median and 90% quantiles over neurons of all seeds, at the steps idx; x (T, R, p)."""
    flat = x[idx].reshape(len(idx), -1)
    q = np.quantile(flat, [0.1, 0.5, 0.9], axis=1)
    return q[0].tolist(), q[1].tolist(), q[2].tolist()


SEED_KEYS = ("T1", "T1_ratio", "share_grown", "sig_excluded", "opp_excluded", "rate_ratio", "fitted_neurons")
NORM_GROUPS = {"w_sig": 2, "w_opp": 4, "w_perp": 3}  # colour groups of the three norms


def _rung_series(d: int, traj: Trajectory, rows: list[dict[str, Any]]) -> dict[str, Panel]:
    """Two panels per rung: the spread of the neuron norms over time, and the growth-rate fit."""
    t1s = [r["T1"] for r in rows]
    reached = [t for t in t1s if t >= 0]
    horizon = min(traj.steps - 1, int(3 * max(reached)) if reached else traj.steps - 1)
    idx = np.unique(np.linspace(0, horizon, min(SERIES_POINTS, horizon + 1)).round().astype(int))
    t = idx.astype(float).tolist()
    marks: list[Any] = []
    for name, arr in (("w_sig", traj.w_sig()), ("w_opp", traj.w_opp()), ("w_perp", traj.w_perp())):
        q10, med, q90 = _quantiles(arr, idx)
        marks += [
            Band(t, q10, q90, f"‖{name}‖ 10–90%", NORM_GROUPS[name]),
            Curve(t, med, f"‖{name}‖", "line", NORM_GROUPS[name]),
        ]
    t2s = [int(x) for x in traj.T2() if x >= 0]
    times = {
        "T1 (median)": _finite_median(reached),
        "T2 (median)": _finite_median(t2s),
        "T1 predicted": rows[0]["T1_pred"],
    }
    norms = Panel(
        f"d = {d}: norms over the neurons (median, 10–90%)",
        (*marks, *lines(vlines=times)),
        "step t",
        "norm",
        y_scale="log",
    )
    # the rate fit: geometric lines from the median initial ‖w_sig‖ with the fitted and predicted slopes
    fit = _finite_median([r.get("fit_slope", math.nan) for r in rows])
    pred = _finite_median([r.get("pred_slope", math.nan) for r in rows])
    ratio = _finite_median([r.get("rate_ratio") for r in rows])
    s0 = float(np.median(traj.w_sig()[0]))
    t_fit = idx[idx <= (np.median(reached) if reached else 0)]
    _, w_sig_med, _ = _quantiles(traj.w_sig(), t_fit)
    growth: list[Any] = [Curve(t_fit.astype(float).tolist(), w_sig_med, "‖w_sig‖ median", "median")]
    if np.isfinite(fit):
        growth.append(Curve(t_fit.astype(float).tolist(), (s0 * np.exp(fit * t_fit)).tolist(), "fitted rate", "fit"))
    if np.isfinite(pred):
        growth.append(
            Curve(
                t_fit.astype(float).tolist(), (s0 * np.exp(pred * t_fit)).tolist(), "linearized prediction", "reference"
            )
        )
    title = f"d = {d}: growth of ‖w_sig‖ at initial size" + (
        f" — fitted/predicted rate {ratio:.3g}" if math.isfinite(ratio) else ""
    )
    return {f"d{d}_norms": norms, f"d{d}_growth": Panel(title, tuple(growth), "step t", "‖w_sig‖", y_scale="log")}


def check(ladder: Mapping[int, Trajectory]) -> Verdict:
    if not ladder:
        raise ValueError("C2: the ladder is empty; give at least one d -> Trajectory")
    ladder = dict(sorted(ladder.items()))
    seeds = _common_seeds(ladder)
    rungs = {d: [_rung_seed(traj, r) for r in range(len(seeds))] for d, traj in ladder.items()}
    per_seed = []
    for r, seed in enumerate(seeds):
        rec: dict[str, Any] = {"seed": seed}
        parts, whys = [], []
        for d, rows in rungs.items():
            row = rows[r]
            parts += [row["share"], row["rate"], row["band"]]
            if row.get("why"):
                whys.append(row["why"])
            for key in SEED_KEYS:
                if key in row:
                    rec[f"d{d}_{key}"] = row[key]
        rec["outcome"] = _combine(parts)
        if rec["outcome"] != "pass":
            rec["why"] = "; ".join(whys)
        per_seed.append(rec)
    stats: dict[str, float] = {}
    c = drift_constant(next(iter(ladder.values())).config.data)
    thresholds: dict[str, Any] = {
        "drift_constant": c if c is not None else math.nan,  # derived per data law (module docstring), not chosen
        "t1_band": list(THRESHOLDS.c2_t1_band),
        "min_window": THRESHOLDS.c2_min_window,
        "min_fit_share": THRESHOLDS.c2_min_fit_share,
    }
    series: dict[str, Panel] = {}
    for d, rows in rungs.items():
        stats[f"d{d}_rate_ratio"] = _finite_median([row.get("rate_ratio") for row in rows])
        stats[f"d{d}_T1_over_pred"] = _finite_median([row.get("T1_ratio") for row in rows])
        stats[f"d{d}_share_grown"] = _finite_median([row.get("share_grown") for row in rows])
        stats[f"d{d}_T1_pred"] = rows[0]["T1_pred"]
        stats[f"d{d}_sig_excluded"] = _finite_median([row.get("sig_excluded") for row in rows])
        stats[f"d{d}_opp_excluded"] = _finite_median([row.get("opp_excluded") for row in rows])
        thresholds[f"d{d}_zeta"] = THRESHOLDS.zeta(d)
        thresholds[f"d{d}_rate_band"] = [1 - THRESHOLDS.zeta(d), 1 + THRESHOLDS.zeta(d)]
        thresholds[f"d{d}_share_min"] = 1 - THRESHOLDS.zeta(d)
        series.update(_rung_series(d, ladder[d], rows))
    return verdict_from_seeds(
        "C2", per_seed, stats, thresholds, series, what="phase one: w_sig grows at the linearized rate, T1 in the band"
    )


def applies(cfg: RunConfig) -> str | None:
    if len(cfg.label_coords) != 2:
        return "reads the XOR signal plane μ̂±, which is not the feature of a label on three coordinates"
    return None


CLAIM = Claim(
    id="C2",
    slug="signal_finding",
    title="Signal finding: geometric growth of w_sig in phase one, T1 = Θ(log d / η)",
    anchor="Glasgow (2023), Sec. 4.1, Mechanism 1",
    statement=(
        "In phase one every neuron's ‖w_sig‖ grows geometrically and ‖w_opp‖ shrinks (all but a ζ share, "
        "each over the neurons whose component is nonzero at t = 0); at initial size the fitted growth rate "
        "of ‖w_sig‖ matches c·η|a|/(√(2π)‖w_perp‖) within 1±ζ (median over neurons); the measured T1 is "
        "within [0.5, 1.5] × √(2π)(½ log d + log(1/ζ))/(c η) on every rung of the d-ladder; c = E[y⟨x, μ̂+⟩²] "
        "= 1 (boolean), 2/π (gaussian)."
    ),
    check=check,
    needs="ladder",
    horizon="phases",  # reads T1 (C11: T1, T_ε, T_L) and the steps before it, never the rest of the horizon
    key_stats=(
        KeyStat("T1 / linearized prediction", "d{d}_T1_over_pred", "in", "t1_band"),
        KeyStat("growth rate / prediction", "d{d}_rate_ratio", "in", "d{d}_rate_band"),
        KeyStat("share with w_sig grown, w_opp shrunk", "d{d}_share_grown", ">=", "d{d}_share_min"),
    ),
    variants=(),
    decisions=(
        "'every neuron' = all but a ζ share; a component exactly 0 at t = 0 is left out of its part of the "
        "share (it sits at the drift's fixed point); rate fit over steps t ≤ T1 with |a| within (1±ζ)θ, "
        "≥ c2_min_window steps per neuron, ≥ c2_min_fit_share of the neurons fitted, prediction "
        "log(1+cη|a|/(√(2π)‖w_perp‖)), c the data law's drift constant (rate and band na for a law "
        "without one); T1 not reached -> na, unless T > 1.5×prediction (then a definite failure of the "
        "band); a seed must pass on every rung."
    ),
    applies=applies,
)
