"""C7 `gradient_concentration` — docs/SPEC.md §3 C7, paper eq. (4.5).

Claim (finite-d reading of docs/SPEC.md). The signal coordinate of the minibatch gradient
concentrates because the batch is d·polylog(d): at t = 0, with

    noise = (per-sample std of the signal-direction gradient) / √m,
    drift = |population mean of the signal-direction gradient|
            (estimated on an independent batch of at least 64·m samples),

the median over neurons and seeds of noise/drift is ≤ 1 in the paper regime for d ≥ 64,
and it is at least 2× larger at batch size m = d than at the regime's m = ⌈d/ψ⌉
(theory: noise/drift scales as √(d/m), so the gain is √(m_regime/d) = 1/√ψ = log d).

The signal-direction gradient of neuron k is ⟨g_w,k, μ̂_sig,k⟩ (μ̂+ if a_k ≥ 0, else μ̂-,
docs/SPEC.md §2); per sample it is h'(γ(x)) y a_k 1[w_k·x > 0] ⟨x, μ̂_sig⟩.

What `check` reads (needs = "gradient"): a mapping with three one-step trajectories,
all seeds of one example, the main run being variant 0. The harness builds them from the
regime's config `cfg` (lemmas/plan.py `gradient_configs`):

    "regime": cfg.replace(steps=1)                       — the regime's batch size m
    "m_d":    cfg.replace(steps=1, m=cfg.d)              — same init (same seeds), m = d
    "drift":  cfg.replace(steps=1, m=THRESHOLDS.c7_drift_batch_factor * cfg.m, data_offset=1)
                                                         — same init, an independent batch

(`snapshots=2` or any other snapshot setting is irrelevant: only step 0 is read.)
This module never simulates; it checks that the three runs share d, p, seeds and the
initial weights and that the drift batch is independent and large enough
(ValueError otherwise: that is a harness bug, not a finding).

Decisions where the specification (docs/SPEC.md) is silent:

* Per-sample std. From each run's own step-0 batch moments (traj.g_sig_m2, traj.g_sig_mean
  at t = 0) with Bessel's correction: s² = m/(m-1) · max(m2 - mean², 0). With m = 1 the
  batch carries no variance information (m2 - mean² ≡ 0, which would claim a noiseless
  gradient); there s is taken from the drift run's batch (64·m samples, same weights at
  t = 0, hence the same per-sample law) and the statistic `s_from_drift_batch` = 1 says so.
* Drift. |batch mean| of the drift run at t = 0 (its own estimation error is about
  noise/√64 = noise/8; its median relative standard error is reported as
  `drift_rel_se_median`). A neuron whose estimated drift is exactly 0 has ratio +∞
  (e.g. the perpendicular-only neurons of `sparse_finders`): they count in the median.
* Statistic. One pooled statistic, the median over all neurons of all seeds (as the
  claim says), not a per-seed w.h.p. rule. The per-seed medians are reported in
  `per_seed` (their 'outcome' applies the same two criteria to one seed; informational
  only, the verdict does not use them). A 95% percentile bootstrap interval over seeds
  (scipy.stats.bootstrap: seeds resampled with replacement, THRESHOLDS.c7_bootstrap
  resamples, RNG seed THRESHOLDS.bootstrap_seed)
  is reported for the median ratio and for the gain; also the theory gain √(m_regime/d)
  and the theory ratio of the two batch sizes' noise levels.
* Cross-check (reported, not used): the realised deviation |mean_regime - drift_estimate|
  / |drift_estimate| (median; ≈ 0.67 × the noise/drift ratio for Gaussian fluctuations),
  and the share of neurons whose regime-batch gradient has the sign of the drift.
* Domain. Below d = THRESHOLDS.c7_min_d (64) the claim is not stated: the verdict is
  inconclusive with the reason, but both parts are measured and reported. At d ≥ 64 the
  verdict is 'holds' iff median ratio ≤ THRESHOLDS.c7_ratio_max and gain ≥
  THRESHOLDS.c7_batch_gain; otherwise 'fails', naming the part(s) that failed.
* Other regimes. The same check runs in every regime where the XOR signal plane is
  defined (not parity3). In `small_batch` with m = d the "regime" and "m_d" runs coincide,
  the gain is 1 and the second part honestly fails; with m = 4 the gain is < 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, THRESHOLDS, Claim, Verdict, bootstrap_interval
from lemmas.report import Curve, ErrorBar, HLine, KeyStat, Panel, VLine
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

KEYS = ("regime", "m_d", "drift")
QUANTILE_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _validate(runs: Mapping[str, Trajectory]) -> None:
    missing = [k for k in KEYS if k not in runs]
    if missing:
        raise ValueError(
            f"C7 needs the trajectories {list(KEYS)}; missing {missing} "
            "(see the module docstring for the configs to build)"
        )
    reg, md, dr = (runs[k] for k in KEYS)
    c = reg.config
    for name, t in (("m_d", md), ("drift", dr)):
        o = t.config
        for f in ("d", "p", "seed", "seeds", "theta", "init", "data", "label_coords"):
            if getattr(o, f) != getattr(c, f):
                raise ValueError(
                    f"C7: run '{name}' has {f} = {getattr(o, f)!r}, the regime run "
                    f"{getattr(c, f)!r}; the three runs must share the initialization"
                )
        if t.steps < 1:
            raise ValueError(f"C7: run '{name}' recorded no step")
    if md.config.m != c.d:
        raise ValueError(f"C7: run 'm_d' has m = {md.config.m}; it must have m = d = {c.d}")
    need = THRESHOLDS.c7_drift_batch_factor * c.m
    if dr.config.m < need:
        raise ValueError(
            f"C7: the drift run has m = {dr.config.m}; it needs at least "
            f"{THRESHOLDS.c7_drift_batch_factor}·m = {need} samples"
        )
    if dr.config.data_offset == c.data_offset:
        raise ValueError("C7: the drift run must draw an independent batch (a different data_offset)")
    a0 = reg.a()[0]
    for name, t in (("m_d", md), ("drift", dr)):
        same = (
            np.array_equal(t.a()[0], a0)
            and np.array_equal(t.series("w_coords")[0], reg.series("w_coords")[0])
            and np.allclose(t.w_perp()[0], reg.w_perp()[0], rtol=1e-6, atol=0)
        )
        if not same:
            raise ValueError(f"C7: run '{name}' does not start from the regime run's initial weights")


# ---------------------------------------------------------------------------------------
# The t = 0 statistics
# ---------------------------------------------------------------------------------------


def per_sample_std(traj: Trajectory) -> np.ndarray | None:
    """Per-sample std of the signal-direction gradient at t = 0 from the run's own batch (R, p).

    s² = m/(m-1) · max(m2 - mean², 0) (Bessel); None when m = 1 (no variance information).
    """
    m = traj.config.m
    if m < 2:
        return None
    mean, m2 = traj.g_sig_mean()[0], traj.g_sig_m2()[0]
    return np.sqrt(np.maximum(m2 - mean**2, 0.0) * m / (m - 1))


def noise_over_drift(noise: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """noise/drift per neuron; +∞ where the drift is 0 (and the noise is not)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = noise / drift
    return np.where(drift > 0, r, np.where(noise > 0, np.inf, np.nan))


def _median(x: np.ndarray) -> float:
    """Median of the finite-or-+∞ values (NaN ignored; ∞ sorts last)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    with np.errstate(invalid="ignore"):
        return float(np.median(x)) if x.size else math.nan


def _gain(med_d: float, med_reg: float) -> float:
    if med_reg == 0:
        return math.inf if med_d > 0 else math.nan
    if math.isinf(med_reg):
        return math.nan
    return med_d / med_reg


def bootstrap_over_seeds(
    ratio_reg: np.ndarray, ratio_d: np.ndarray, resamples: int, confidence: float = THRESHOLDS.confidence
) -> dict[str, float]:
    """Percentile intervals of the pooled median ratio and of the gain, seeds resampled; (R, p) inputs."""

    def stat(idx: np.ndarray) -> list[float]:
        med = _median(ratio_reg[idx])
        return [med, _gain(_median(ratio_d[idx]), med)]

    lo, hi, _ = bootstrap_interval(stat, ratio_reg.shape[0], resamples, confidence)
    return {
        "ratio_median_lo": float(lo[0]),
        "ratio_median_hi": float(hi[0]),
        "gain_lo": float(lo[1]),
        "gain_hi": float(hi[1]),
    }


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------


def check(runs: Mapping[str, Trajectory]) -> Verdict:
    """C7 on the three one-step runs "regime", "m_d", "drift" (see the module docstring)."""
    _validate(runs)
    reg, md, dr = (runs[k] for k in KEYS)
    d, m = reg.config.d, reg.config.m
    m_drift = dr.config.m

    drift_mean = dr.g_sig_mean()[0]  # (R, p)
    drift = np.abs(drift_mean)
    s_drift = per_sample_std(dr)
    assert s_drift is not None  # _validate: the drift run has m ≥ c7_drift_batch_factor·m ≥ 2 samples
    s_reg = per_sample_std(reg)
    s_from_drift = s_reg is None
    if s_reg is None:  # m = 1: the batch has no variance information
        s_reg = s_drift
    s_d = per_sample_std(md)
    if s_d is None:  # d ≥ 3, so only if the config is inconsistent
        s_d = s_drift
    noise_reg = s_reg / math.sqrt(m)
    noise_d = s_d / math.sqrt(md.config.m)
    ratio_reg = noise_over_drift(noise_reg, drift)
    ratio_d = noise_over_drift(noise_d, drift)

    med_reg, med_d = _median(ratio_reg), _median(ratio_d)
    gain = _gain(med_d, med_reg)
    boot = bootstrap_over_seeds(ratio_reg, ratio_d, THRESHOLDS.c7_bootstrap)

    mean_reg = reg.g_sig_mean()[0]
    realized = noise_over_drift(np.abs(mean_reg - drift_mean), drift)
    sign_agree = float(np.mean(np.sign(mean_reg) == np.sign(drift_mean)))
    drift_se = noise_over_drift(s_drift / math.sqrt(m_drift), drift)

    stats = {
        "d": float(d),
        "m_regime": float(m),
        "m_d": float(md.config.m),
        "m_drift": float(m_drift),
        "ratio_median": med_reg,
        **{k: v for k, v in boot.items() if k.startswith("ratio")},
        "ratio_median_m_d": med_d,
        "gain": gain,
        **{k: v for k, v in boot.items() if k.startswith("gain")},
        "gain_theory": math.sqrt(m / d),
        "noise_median": _median(noise_reg),
        "noise_median_m_d": _median(noise_d),
        "drift_median": _median(drift),
        "per_sample_std_median": _median(s_reg),
        "s_from_drift_batch": float(s_from_drift),  # 1: m = 1, the per-sample std is the drift batch's
        "drift_rel_se_median": _median(drift_se),
        "realized_ratio_median": _median(realized),
        "sign_agree_regime": sign_agree,
        "neurons": float(ratio_reg.size),
    }
    thresholds = {
        "ratio_max": THRESHOLDS.c7_ratio_max,
        "batch_gain": THRESHOLDS.c7_batch_gain,
        "min_d": THRESHOLDS.c7_min_d,
        "drift_batch_factor": THRESHOLDS.c7_drift_batch_factor,
        "bootstrap_resamples": THRESHOLDS.c7_bootstrap,
    }
    series = _series(stats, _quantiles(ratio_reg), _quantiles(ratio_d), m, md.config.m)
    per_seed = _per_seed(reg, ratio_reg, ratio_d)

    ok_ratio = med_reg <= THRESHOLDS.c7_ratio_max
    ok_gain = bool(gain >= THRESHOLDS.c7_batch_gain)  # NaN compares False
    parts = (
        f"median noise/drift at m = {m}: {med_reg:.3g} (95% CI over seeds [{boot['ratio_median_lo']:.3g}, "
        f"{boot['ratio_median_hi']:.3g}]; needs ≤ {THRESHOLDS.c7_ratio_max:g}); at m = d = {d}: {med_d:.3g}, "
        f"gain {gain:.3g} (CI [{boot['gain_lo']:.3g}, {boot['gain_hi']:.3g}]; needs ≥ "
        f"{THRESHOLDS.c7_batch_gain:g}; theory √(m/d) = {math.sqrt(m / d):.3g})"
    )
    if d < THRESHOLDS.c7_min_d:
        would = "would hold" if ok_ratio and ok_gain else "would fail"
        return Verdict(
            "C7",
            INCONCLUSIVE,
            f"the claim is stated for d ≥ {THRESHOLDS.c7_min_d}, here d = {d} (measured anyway, it {would}): {parts}",
            stats,
            thresholds,
            per_seed,
            series,
        )
    if ok_ratio and ok_gain:
        return Verdict("C7", HOLDS, parts, stats, thresholds, per_seed, series)
    failed = [
        w
        for w, ok in (
            ("the noise does not concentrate at the regime's batch", ok_ratio),
            ("the batch gain is too small", ok_gain),
        )
        if not ok
    ]
    return Verdict("C7", FAILS, "; ".join(failed) + ": " + parts, stats, thresholds, per_seed, series)


def _series(stats: dict[str, float], q_reg: list[float], q_d: list[float], m: int, m_d: int) -> dict[str, Panel]:
    """noise/drift against the batch size (log-log, with the theory slope -1/2), and its quantiles over neurons."""
    thr = HLine(THRESHOLDS.c7_ratio_max, "threshold (median)")
    out: dict[str, Panel] = {}
    r_d, r_r = stats["ratio_median_m_d"], stats["ratio_median"]
    if m_d != m and all(math.isfinite(v) and v > 0 for v in (r_d, r_r)):
        slope = math.log(r_r / r_d) / math.log(m / m_d)
        xs = np.geomspace(min(m_d, m), max(m_d, m), 20)
        out["noise_over_drift_by_batch"] = Panel(
            f"median noise/drift against the batch: measured slope {slope:.3g} (theory −0.5)",
            (
                Curve([m_d, m], [r_d, r_r], "measured (median)", "median", markers=True),
                Curve(xs.tolist(), (r_d * (xs / m_d) ** -0.5).tolist(), "theory ∝ √(d/m) through m = d", "fit"),
                ErrorBar(
                    m,
                    r_r,
                    stats["ratio_median_lo"],
                    stats["ratio_median_hi"],
                    f"{THRESHOLDS.confidence:.0%} bootstrap CI over seeds",
                ),
                thr,
            ),
            "batch size m",
            "median noise / drift",
            x_scale="log",
            y_scale="log",
        )
    levels = list(QUANTILE_LEVELS)
    out["noise_over_drift_quantiles"] = Panel(
        "noise/drift: quantiles over neurons and seeds",
        (
            Curve(levels, q_reg, f"at the regime's batch m = {m}", "line", 0, markers=True),
            Curve(levels, q_d, f"at m = d = {m_d}", "line", 1, markers=True),
            thr,
            VLine(0.5, "median"),
        ),
        "quantile level",
        "noise / drift",
        y_scale="auto",
    )
    return out


def _quantiles(x: np.ndarray) -> list[float]:
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if not x.size:
        return [math.nan] * len(QUANTILE_LEVELS)
    with np.errstate(invalid="ignore"):  # ∞ - ∞ when interpolating between infinite ratios
        return [float(q) for q in np.quantile(x, QUANTILE_LEVELS)]


def _per_seed(reg: Trajectory, ratio_reg: np.ndarray, ratio_d: np.ndarray) -> list[dict]:
    """Per-seed medians (informational: the verdict is the pooled median)."""
    out = []
    for r, seed in enumerate(reg.seeds):
        mr, mdd = _median(ratio_reg[r]), _median(ratio_d[r])
        g = _gain(mdd, mr)
        ok = mr <= THRESHOLDS.c7_ratio_max and g >= THRESHOLDS.c7_batch_gain
        rec = {
            "seed": seed,
            "outcome": "pass" if ok else "fail",
            "ratio_median": mr,
            "ratio_median_m_d": mdd,
            "gain": g,
        }
        if not ok:
            rec["why"] = f"median noise/drift {mr:.3g}, gain {g:.3g}"
        out.append(rec)
    return out


def applies(cfg: RunConfig) -> str | None:
    if len(cfg.label_coords) != 2:
        return (
            "the signal direction μ̂± of docs/SPEC.md §2 is the XOR signal plane, not the feature of a label "
            "on three coordinates; "
            "its gradient coordinate is not the one eq. (4.5) concentrates"
        )
    return None


CLAIM = Claim(
    id="C7",
    slug="gradient_concentration",
    title="The signal coordinate of the minibatch gradient concentrates",
    anchor="eq. (4.5)",
    statement=(
        "At t = 0, noise = per-sample std/√m of the signal-direction gradient, drift = its population "
        "mean (independent batch of ≥ 64·m samples): the median over neurons and seeds of noise/drift is "
        "≤ 1 in the paper regime for d ≥ 64, and at least 2× larger at m = d than at m = ⌈d/ψ⌉ "
        "(theory: √(d/m))."
    ),
    check=check,
    needs="gradient",
    key_stats=(
        KeyStat("median noise/drift", "ratio_median", "<=", "ratio_max"),
        KeyStat("batch gain (m=d vs regime)", "gain", ">=", "batch_gain"),
    ),
    decisions=(
        "per-sample std from each run's own step-0 batch with Bessel's correction (from the drift batch "
        "when m = 1); drift = |drift-run batch mean|, zero drift gives ratio +∞; one pooled median over "
        "neurons and seeds (per-seed medians informational), bootstrap interval over seeds; below d = 64 "
        "inconclusive with both parts reported; the three runs: regime (steps=1), m = d, and "
        "m = 64·m with data_offset=1, all from the same init."
    ),
    applies=applies,
)
