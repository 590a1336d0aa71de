"""C10 `sample_complexity` — docs/SPEC.md §3 C10, Theorem 3.1 ("near-optimal sample complexity").

Claim. The theorem's own algorithm — batch m = ⌈d/ψ⌉, step η = ψ, width p = ⌈1/ψ⌉, init
θ = ψ/√p, ψ = log(d)^{-C} — reaches test error ε with n = d·polylog(d) samples, n = m·T_ε.
Its polylog is stated: m ≈ d·log^C d, and T_ε = Θ(log d/η) steps (the proof's phase one,
Θ(log d/η), plus the tuning phase, Θ(log log d/η)), so n = Θ(d·log^k d) with k = 2C + 1
(k = 5 at the default C = 2; the theorem's budget m·T = ⌈d/ψ⌉·⌈κ log d/ψ⌉ has the same
power). The finite-d reading: on a d-ladder spanning ≥ THRESHOLDS.c10_min_span (16×),
the residual exponent β in n/(d·log^k d) ∝ d^β — the log-log slope of n/(d·log^k d)
against d — has its 95% interval inside THRESHOLDS.c10_exponent_band = [−0.5, 0.5].
β = 0 is the theorem's rate, β = 1 the kernel methods' extra factor d (n ∝ d²·log^k d);
the band's ends are the midpoints to β = ±1.

What `check` reads (needs = "ladder", horizon = "phases"): d -> Trajectory, the regime's
own config on each rung with the same seeds — in the paper regime exactly the theorem's
algorithm, and the very runs C2 and C11 read (one cache entry per rung; they stop a little
after every seed has passed T1, T_ε and T_L, RunConfig.stop_phases). Another regime is
judged on the algorithm it runs (its m, η, p, θ); k is always the theorem's 2C + 1, C from
the config's regime parameters (default 2). The search over batch sizes is not C10's:
it is the open question Q1 (lemmas/q1_batch_size.py).

Per seed and rung: T_ε = first snapshot step with main-variant test error ≤ ε
(THRESHOLDS.eps, docs/SPEC.md §2), n = m·T_ε. T_ε is known to lie in (s⁻, T_ε], s⁻ the
snapshot before it, so n ∈ (m·s⁻, m·T_ε].

Decisions where the specification is silent:

* The statistic. Per rung, n(d) = median over seeds (unevaluable seeds left out, seeds that
  never reach ε kept as +∞). β̂ = least-squares slope of log(n(d)/(d·log^k d)) on log d,
  on the T_ε reading. The raw log-log slope of n against d is reported (`slope_raw`):
  over 64…1024 the factor log^5 d alone contributes ≈ 0.9 to it.
* Resolution enters the interval. β is extreme over the brackets (m·s⁻, m·T_ε] when every
  rung below the ladder's mean log d takes one end and every rung above it the other: β_min
  (lower ends above the mean, upper ends below) and β_max (the reverse). The 95% interval
  is [2.5% quantile of β_min, 97.5% quantile of β_max] over THRESHOLDS.c10_bootstrap
  bootstrap resamples of the seeds (jointly over the ladder; shared RNG seed), so it covers
  both the seeds' spread and the snapshot grid's rounding.
* The verdict is decided from the interval, not the point estimate: **holds** iff the
  interval lies inside the band, **fails** iff it lies wholly outside it (above: n grows
  faster than d·log^k d; below: slower), **inconclusive** when it straddles an end.
* Inconclusive (β and its interval still reported) when: the ladder spans less than
  THRESHOLDS.c10_min_span; fewer than THRESHOLDS.c10_min_seeds seeds (a bootstrap over 4
  seeds has 35 distinct resamples: its percentiles are a few order statistics); at some
  d more than THRESHOLDS.max_unevaluable of the seeds are unevaluable (error ≤ ε already
  at the first snapshot); at some d the median seed never reaches ε within the run (n
  exceeds what the run could show — in the paper regime the theorem's budget m·T: cf. C9).
* Per-seed β (the same fit on one seed) is reported in `per_seed` with the band applied
  (informational; the verdict does not use it).
* What a 16× ladder cannot tell apart: n ∝ d² without log factors and n ∝ d·log^5 d differ
  by d/log^5 d, which changes by only ≈ 1.25× over 64…1024 (β ≈ 0.08). The check tests
  the theorem's stated rate d·log^k d against an extra power of d, not d² against d·polylog.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, THRESHOLDS, Claim, Verdict, bootstrap_interval
from lemmas.report import Curve, KeyStat, Panel
from simulator.config import paper_hyper
from simulator.trajectory import Trajectory

MAX_SEED_SERIES = 8


@dataclass(frozen=True)
class Rung:
    """The sample count to ε on one rung, per seed (arrays of shape (R,))."""

    d: int
    m: int
    hi: np.ndarray  # m·T_ε; +∞ where ε is not reached; NaN where unevaluable
    lo: np.ndarray  # m·(snapshot before T_ε); same conventions
    rel_gap: np.ndarray  # (T_ε − s⁻)/T_ε where reached, NaN elsewhere
    budget: int  # the theorem's m·T at this d (paper regime, the config's C and κ)


def log_power(traj: Trajectory) -> float:
    """k = 2C + 1: the power of log d in the theorem's n = ⌈d/ψ⌉·T_ε, ψ = log(d)^{-C}."""
    return 2 * float(dict(traj.config.regime_params).get("C", 2.0)) + 1


def samples_to_eps(traj: Trajectory) -> Rung:
    """m·T_ε per seed and its bracket from the snapshot before T_ε (docstring)."""
    cfg = traj.config
    steps = np.asarray(traj.snap_steps, dtype=np.float64)
    hit = traj.test_error(0) <= THRESHOLDS.eps  # (S, R)
    reached = hit.any(0)
    first = hit.argmax(0)
    t_eps = steps[first]
    before = steps[np.maximum(first - 1, 0)]
    at_init = reached & (first == 0)
    hi = np.where(reached, cfg.m * t_eps, math.inf)
    lo = np.where(reached, cfg.m * before, math.inf)
    hi, lo = np.where(at_init, np.nan, hi), np.where(at_init, np.nan, lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_gap = np.where(reached & ~at_init, (t_eps - before) / t_eps, np.nan)
    params = dict(cfg.regime_params)
    hyper = paper_hyper(cfg.d, C=float(params.get("C", 2.0)), kappa=float(params.get("kappa", 12.0)))
    return Rung(cfg.d, cfg.m, hi, lo, rel_gap, hyper.m * hyper.steps)


# ---------------------------------------------------------------------------------------
# The residual exponent
# ---------------------------------------------------------------------------------------


def median_over_seeds(values: np.ndarray) -> float:
    """Median over seeds: NaN (unevaluable) left out, +∞ (never reached) kept."""
    v = values[~np.isnan(values)]
    return float(np.median(v)) if v.size else math.nan


def residual_exponent(ds: list[int], ns: list[float], k: float) -> float:
    """Least-squares slope of log(n/(d·log^k d)) on log d; NaN unless every n is finite and > 0."""
    n = np.asarray(ns, dtype=np.float64)
    if len(ds) < 2 or not np.all(np.isfinite(n)) or np.any(n <= 0):
        return math.nan
    d = np.asarray(ds, dtype=np.float64)
    return float(np.polyfit(np.log(d), np.log(n / (d * np.log(d) ** k)), 1)[0])


def extreme_exponents(ds: list[int], lo: list[float], hi: list[float], k: float) -> tuple[float, float]:
    """(β_min, β_max) over per-rung brackets [lo, hi]: the least-squares slope is monotone in each
    point with the sign of log d − mean(log d), so its extremes take one end of every bracket."""
    x = np.log(np.asarray(ds, dtype=np.float64))
    above = x > x.mean()
    small = [h if not a else low for low, h, a in zip(lo, hi, above)]
    large = [low if not a else h for low, h, a in zip(lo, hi, above)]
    return residual_exponent(ds, small, k), residual_exponent(ds, large, k)


def exponent_interval(rungs: list[Rung], k: float, resamples: int) -> tuple[float, float, float]:
    """(lo, hi, share of resamples undefined) of β, seeds resampled jointly over the ladder."""
    ds = [r.d for r in rungs]

    def stat(idx: np.ndarray) -> list[float]:
        lo = [median_over_seeds(r.lo[idx]) for r in rungs]
        hi = [median_over_seeds(r.hi[idx]) for r in rungs]
        return list(extreme_exponents(ds, lo, hi, k))

    lo, hi, undefined = bootstrap_interval(stat, rungs[0].hi.size, resamples)
    return float(np.asarray(lo)[0]), float(np.asarray(hi)[1]), float(np.max(undefined))


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------


def _validate(ladder: Mapping[int, Trajectory]) -> tuple[int, int]:
    if not ladder:
        raise ValueError("C10 needs a ladder d -> Trajectory; got an empty mapping")
    keys = {(t.config.seed, t.config.seeds, t.config.regime) for t in ladder.values()}
    if len(keys) > 1:
        raise ValueError(f"C10: the rungs differ in (seed, seeds, regime): {sorted(keys)}; one regime, the same seeds")
    for d, t in ladder.items():
        if t.config.d != d:
            raise ValueError(f"C10: ladder[{d}] holds a run with d = {t.config.d}")
    seed, seeds, _ = keys.pop()
    return seed, seeds


def _blockers(rungs: list[Rung], span: float, R: int) -> list[str]:
    out = []
    if span < THRESHOLDS.c10_min_span:
        out.append(f"the ladder spans {span:g}× < {THRESHOLDS.c10_min_span:g}×")
    if R < THRESHOLDS.c10_min_seeds:
        out.append(f"{R} seeds < {THRESHOLDS.c10_min_seeds}: the bootstrap interval over seeds is too coarse")
    for r in rungs:
        na = int(np.isnan(r.hi).sum())
        if na > THRESHOLDS.max_unevaluable * R:
            out.append(f"d = {r.d}: {na}/{R} seeds unevaluable (test error ≤ ε at the first snapshot)")
        elif math.isinf(median_over_seeds(r.hi)):
            never = int(np.isinf(r.hi).sum())
            out.append(
                f"d = {r.d}: {never}/{R - na} seeds never reach ε within the run (m = {r.m}; n > the run's "
                f"m·steps; the theorem's budget m·T = {r.budget:.3g}): n cannot be measured (cf. C9)"
            )
    return out


def check(ladder: Mapping[int, Trajectory]) -> Verdict:
    """C10 on a d-ladder of the regime's own runs (see the module docstring)."""
    seed0, R = _validate(ladder)
    ds = sorted(ladder)
    any_run = ladder[ds[0]]
    k = log_power(any_run)
    rungs = [samples_to_eps(ladder[d]) for d in ds]
    med_hi = [median_over_seeds(r.hi) for r in rungs]
    med_lo = [median_over_seeds(r.lo) for r in rungs]
    beta = residual_exponent(ds, med_hi, k)
    res_lo, res_hi = extreme_exponents(ds, med_lo, med_hi, k)
    lo, hi, undefined = exponent_interval(rungs, k, THRESHOLDS.c10_bootstrap)
    span = ds[-1] / ds[0]
    band = THRESHOLDS.c10_exponent_band
    gaps = np.concatenate([r.rel_gap for r in rungs])
    gaps = gaps[np.isfinite(gaps)]
    finite = all(math.isfinite(n) and n > 0 for n in med_hi)
    slope_raw = float(np.polyfit(np.log(ds), np.log(med_hi), 1)[0]) if finite and len(ds) > 1 else math.nan
    stats: dict[str, float] = {
        "beta": beta,
        "beta_lo": lo,
        "beta_hi": hi,
        "beta_resolution_lo": res_lo,
        "beta_resolution_hi": res_hi,
        "beta_bootstrap_undefined": undefined,
        "log_power_k": float(k),
        "slope_raw": slope_raw,
        "span": float(span),
        "ladder_size": float(len(ds)),
        "seeds": float(R),
        "t_eps_rel_gap_max": float(gaps.max()) if gaps.size else math.nan,
    }
    for r, n in zip(rungs, med_hi):
        stats[f"n_d{r.d}"] = n
        stats[f"n_over_dlogk_d{r.d}"] = n / (r.d * math.log(r.d) ** k)
        stats[f"n_over_budget_d{r.d}"] = n / r.budget
        stats[f"m_d{r.d}"] = float(r.m)
        stats[f"seeds_never_d{r.d}"] = float(np.isinf(r.hi).sum())
        stats[f"seeds_unevaluable_d{r.d}"] = float(np.isnan(r.hi).sum())
    thresholds = {
        "beta_min": band[0],
        "beta_max": band[1],
        "min_span": THRESHOLDS.c10_min_span,
        "min_seeds": THRESHOLDS.c10_min_seeds,
        "eps": THRESHOLDS.eps,
        "max_unevaluable": THRESHOLDS.max_unevaluable,
        "bootstrap_resamples": THRESHOLDS.c10_bootstrap,
    }
    seeds = [seed0 + r for r in range(R)]
    per_seed = _per_seed(ds, seeds, rungs, k)
    series = _series(ds, seeds, rungs, med_hi, k, stats)
    ratios = ", ".join(f"{stats[f'n_over_dlogk_d{d}']:.3g}" for d in ds)
    measured = (
        f"n = m·T_ε = {', '.join(f'{n:.3g}' for n in med_hi)} over d ∈ {ds} (m = {[r.m for r in rungs]}); "
        f"n/(d·log^{k:g} d) = {ratios}; residual exponent "
        f"β = {beta:.3g}, 95% interval [{lo:.3g}, {hi:.3g}] (seeds and snapshot resolution), band "
        f"[{band[0]:g}, {band[1]:g}]; raw log-log slope {slope_raw:.3g}"
    )
    blockers = _blockers(rungs, span, R)
    if blockers:
        return Verdict(
            "C10", INCONCLUSIVE, "; ".join(blockers) + " — measured: " + measured, stats, thresholds, per_seed, series
        )
    if band[0] <= lo and hi <= band[1]:
        return Verdict("C10", HOLDS, measured, stats, thresholds, per_seed, series)
    if lo > band[1] or hi < band[0]:
        side = "faster" if lo > band[1] else "slower"
        reason = f"n grows {side} than d·log^{k:g} d (the whole interval of β is outside the band): " + measured
        return Verdict("C10", FAILS, reason, stats, thresholds, per_seed, series)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Verdict(
            "C10", INCONCLUSIVE, "β has no interval — measured: " + measured, stats, thresholds, per_seed, series
        )
    edge = band[1] if hi > band[1] else band[0]
    return Verdict(
        "C10",
        INCONCLUSIVE,
        f"the interval of β straddles the band's end {edge:g} — measured: " + measured,
        stats,
        thresholds,
        per_seed,
        series,
    )


def _per_seed(ds: list[int], seeds: list[int], rungs: list[Rung], k: float) -> list[dict]:
    """Per seed: n on every rung and that seed's own β (informational)."""
    band = THRESHOLDS.c10_exponent_band
    out = []
    for r, seed in enumerate(seeds):
        ns = [float(g.hi[r]) for g in rungs]
        rec: dict = {"seed": seed, "n": ns}
        bad = [d for d, n in zip(ds, ns) if not (math.isfinite(n) and n > 0)]
        if bad:
            rec.update(outcome="na", why=f"ε not reached (or reached at the first snapshot) at d = {bad}")
        elif len(ds) < 2:
            rec.update(outcome="na", why="one rung: no exponent")
        else:
            b = residual_exponent(ds, ns, k)
            rec["beta"] = b
            rec["outcome"] = "pass" if band[0] <= b <= band[1] else "fail"
            if rec["outcome"] == "fail":
                rec["why"] = f"β = {b:.3g} outside [{band[0]:g}, {band[1]:g}]"
        out.append(rec)
    return out


def _series(
    ds: list[int], seeds: list[int], rungs: list[Rung], med: list[float], k: float, stats: dict[str, float]
) -> dict[str, Panel]:
    """n against d (log-log) and n/(d·log^k d) against d, per seed and the median."""
    lo, hi = stats["beta_lo"], stats["beta_hi"]
    ci = f", 95% interval [{lo:.3g}, {hi:.3g}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    norm = [d * math.log(d) ** k for d in ds]
    seed_n = [
        Curve(ds, [float(g.hi[r]) for g in rungs], f"seed {s}", "seed", markers=True)
        for r, s in enumerate(seeds[:MAX_SEED_SERIES])
    ]
    seed_ratio = [
        Curve(ds, [float(g.hi[r]) / z for g, z in zip(rungs, norm)], f"seed {s}", "seed", markers=True)
        for r, s in enumerate(seeds[:MAX_SEED_SERIES])
    ]
    return {
        "n": Panel(
            f"n = m·T_ε against d — raw log-log slope {stats['slope_raw']:.3g}",
            (*seed_n, Curve(ds, med, "median over seeds", "median", markers=True)),
            "d",
            "n (samples to ε)",
            x_scale="log2",
            y_scale="log",
        ),
        "n_over_dlogk": Panel(
            f"n/(d·log^{k:g} d) against d — residual exponent β {stats['beta']:.3g}{ci}",
            (*seed_ratio, Curve(ds, [n / z for n, z in zip(med, norm)], "median over seeds", "median", markers=True)),
            "d",
            f"n / (d·log^{k:g} d)",
            x_scale="log2",
            y_scale="log",
        ),
    }


CLAIM = Claim(
    id="C10",
    slug="sample_complexity",
    title="The theorem's algorithm needs n = d·polylog(d) samples",
    anchor='Theorem 3.1, "near-optimal sample complexity"',
    statement=(
        "At the theorem's m = ⌈d/ψ⌉, η, p, θ, n = m·T_ε samples to test error ε grow like d·log^k d, "
        "k = 2C + 1: on a d-ladder spanning ≥ 16×, the 95% interval of the exponent β in "
        "n/(d·log^k d) ∝ d^β lies in [−0.5, 0.5]."
    ),
    check=check,
    needs="ladder",
    horizon="phases",
    key_stats=(
        KeyStat("residual exponent β of n/(d·log^k d)", "beta", "in", ("beta_min", "beta_max")),
        KeyStat("upper end of β's 95% interval", "beta_hi", "<=", "beta_max"),
        KeyStat("lower end of β's 95% interval", "beta_lo", ">=", "beta_min"),
    ),
    decisions=(
        "reads the C2/C11 ladder runs (the regime's own m, η, p, θ); n per rung = median over seeds of m·T_ε "
        "(never reached = +∞); β = slope of log(n/(d log^k d)) on log d, k = 2C+1; its 95% interval covers the "
        "seeds (bootstrap) and the snapshot resolution (T_ε bracketed by the snapshot before it); decided from "
        "the interval: inside the band holds, outside fails, straddling inconclusive; inconclusive for span "
        "< 16×, < 8 seeds, a rung where the median seed never reaches ε, or a majority unevaluable."
    ),
)
