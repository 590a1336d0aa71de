"""Q1 `batch_size` — the paper's open question 1: does the theorem's large batch matter?

Not one of the theorem's conclusions (ids C1–C15) but a result reported beside them, under
the id Q1 (open questions get Q-ids). The theorem's algorithm uses m = ⌈d/ψ⌉ (C10 measures
its sample count); the paper asks whether smaller batches, down to m = 1, learn as well.
Q1 searches a geometric grid of batch sizes at the regime's η, p, θ and asks whether the
least sample count over the grid still grows like d·polylog(d): for each d of a ladder
spanning ≥ THRESHOLDS.q1_min_span (16×), n*(d) = the least m·T_ε over m ∈ {1, 2, 4, …,
2⌈d/ψ⌉} (T_ε = first snapshot with test error ≤ ε, resolution ≤ 1% of the horizon), and
the log-log slope of n* against d has its 95% bootstrap interval inside
THRESHOLDS.q1_slope = [1.0, 1.7]. Reported beside it: the arg-min batch sizes and their
ratio to ⌈d/ψ⌉, n*/(d log² d), and n* against the theorem's budget m·T at each d.

What `check` reads (needs = "batch_grid"): a mapping d → (m → Trajectory), every
trajectory a run of the same regime with the same seeds, the main run being variant 0.
The harness (lemmas/plan.py `q1_grid`) searches the grid from the largest m
down, caps each horizon at ⌈min(n_budget, 2·n_best)/m⌉ and stops runs early once every
seed is at error ≤ ε (RunConfig.stop_error) or past n_best/m (RunConfig.stop_step); the
check works on whatever subset of the grid is present and reports which m were tried.

Per seed, per (d, m): T_ε = first snapshot step with main-variant test error ≤ ε
(THRESHOLDS.eps), n(m) = m·T_ε. A seed that has not reached ε by the last recorded
snapshot has n(m) > m·(last snapshot step): that is all that is known (a run stopped
early, capped, or cut short). n*(d) = min over m of the n(m) reached; its arg-min m.

Decisions where the specification (docs/SPEC.md) is silent:

* Censoring. A seed's n* is determined only if every m where it did not reach ε has a
  lower bound m·(last snapshot step) ≥ its n* (true for complete runs and for the
  harness's 2·n_best cap, unless that seed is much slower than the median); otherwise the
  seed is unevaluable ('na') at that d. A seed that reaches ε at no m of the grid has
  n* = +∞ (beyond every horizon); it counts in the median over seeds.
* Resolution. T_ε is read at snapshots; a seed is unevaluable at d if any reached T_ε
  follows a snapshot gap larger than ⌈q1_time_resolution · horizon⌉ steps (the horizon
  is the config's `steps`; integer steps, hence the ceiling). The largest relative
  uncertainty gap/T_ε at the arg-min is reported (`t_eps_rel_gap_max`).
* The statistic. n*(d) = median over seeds (the unevaluable ones left out, the +∞ ones
  kept); slope = least-squares slope of log n*(d) on log d over the ladder; its 95%
  bootstrap interval (seeds resampled jointly over the ladder, THRESHOLDS.q1_bootstrap
  resamples, the shared RNG seed), with the share of resamples whose slope is undefined.
  Per-seed slopes are reported in `per_seed` (informational; their 'outcome' applies the
  band to one seed; the verdict does not use it).
* The verdict is decided from the interval, not the point estimate: **holds** iff the
  interval lies inside the band, **fails** iff it lies wholly outside it, **inconclusive**
  when it straddles an end of the band (the reason names the end).
* Inconclusive, with the reason, also when: the ladder spans less than q1_min_span (the
  slope is still reported); at some d more than THRESHOLDS.max_unevaluable of the
  seeds are unevaluable; at some d the median n* is +∞ (no batch size reaches ε for a
  majority of seeds — n* cannot be measured; if runs with m ≥ ⌈d/ψ⌉ for at least the
  paper's horizon T were tried and do not reach ε either, the reason says the paper
  regime itself fails there, cf. C9);
  at some d the arg-min is unbracketed for a majority of the evaluable seeds.
* Edges. The arg-min is bracketed when a smaller and a larger m were tried, or when it is
  m = 1 (no smaller batch exists; reported as `argmin_at_m1_seeds_d*`). At the largest m
  tried it is unbracketed (n(m) still falling at the largest batch: a larger m might need
  fewer samples; extending the grid above 2⌈d/ψ⌉ is the only remedy, so the verdict is
  inconclusive unless the grid was extended and the arg-min is inside it); at the
  smallest m tried with m > 1 it is unbracketed too (extend the grid downwards). A
  minority of unbracketed seeds is named in the reason but does not block the verdict.
* Against the theorem: `n_star_over_budget_d*` = n*/(⌈d/ψ⌉·T), the theorem's sample budget
  at d (a stated number, not a run), and `argmin_over_m_paper_d*` = arg-min m/⌈d/ψ⌉. The
  measured n of the theorem's own batch is C10's (`n_d*` there, on its ladder).
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

MAX_SEED_SERIES = 8  # per-seed series in the report for at most this many seeds


# ---------------------------------------------------------------------------------------
# One trajectory: samples to ε per seed
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """The samples-to-ε of one (d, m) trajectory, per seed (arrays of shape (R,))."""

    m: int
    n: np.ndarray  # m·T_ε where ε was reached, NaN elsewhere
    lower: float  # m·(last snapshot step): n(m) > lower where ε was not reached
    coarse: np.ndarray  # bool: the snapshot gap before T_ε exceeds the allowed resolution
    rel_gap: np.ndarray  # (gap before T_ε) / T_ε where reached, NaN elsewhere
    horizon: int


def samples_to_eps(
    traj: Trajectory, eps: float = THRESHOLDS.eps, resolution: float = THRESHOLDS.q1_time_resolution
) -> Cell:
    """m·T_ε per seed from the snapshots' main-variant test error; NaN where ε is not reached."""
    cfg = traj.config
    steps = np.asarray(traj.snap_steps, dtype=np.int64)
    if steps.size == 0:
        raise ValueError(f"Q1: the trajectory d={cfg.d}, m={cfg.m} has no snapshot")
    err = traj.test_error(0)  # (S, R)
    hit = err <= eps
    reached = hit.any(0)
    first = hit.argmax(0)
    t_eps = steps[first].astype(np.float64)
    prev = np.where(first > 0, steps[np.maximum(first - 1, 0)], 0)
    gap = (steps[first] - prev).astype(np.float64)
    allowed = max(1, math.ceil(resolution * cfg.steps))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_gap = np.where(reached & (t_eps > 0), gap / t_eps, np.nan)
    return Cell(
        m=cfg.m,
        n=np.where(reached, cfg.m * t_eps, np.nan),
        lower=float(cfg.m * steps[-1]),
        coarse=reached & (gap > allowed),
        rel_gap=rel_gap,
        horizon=cfg.steps,
    )


# ---------------------------------------------------------------------------------------
# One d: n* per seed
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedAtD:
    status: str  # "ok", "never" (n* = +∞) or "na"
    n_star: float  # +∞ for "never", NaN for "na"
    argmin: int  # 0 unless "ok"
    edge: str  # "", "top", "bottom" (unbracketed) or "m1" (bracketed by m = 1)
    rel_gap: float
    why: str = ""


def seed_at_d(cells: list[Cell], r: int) -> SeedAtD:
    """n*(d) of seed r over the cells of one d (sorted by m)."""
    ms = [c.m for c in cells]
    reached = [(float(c.n[r]), c.m, c) for c in cells if not math.isnan(c.n[r])]
    if not reached:
        return SeedAtD("never", math.inf, 0, "", math.nan, "reaches ε at no batch size tried")
    coarse = [c.m for c in cells if bool(c.coarse[r])]
    if coarse:
        return SeedAtD(
            "na",
            math.nan,
            0,
            "",
            math.nan,
            f"T_ε coarser than {THRESHOLDS.q1_time_resolution:.0%} of the horizon at m = {coarse}",
        )
    n_star, m_star, cell = min(reached, key=lambda t: (t[0], t[1]))
    if n_star <= 0:
        return SeedAtD("na", math.nan, 0, "", math.nan, "test error ≤ ε already at initialization")
    censored = [c.m for c in cells if math.isnan(c.n[r]) and c.lower < n_star]
    if censored:
        return SeedAtD(
            "na",
            math.nan,
            0,
            "",
            math.nan,
            f"m = {censored} stopped before ε below n = {n_star:.4g} samples (censored)",
        )
    if m_star == max(ms):  # also when a single m was tried: nothing larger to compare with
        edge = "top"
    elif m_star == 1:
        edge = "m1"
    elif m_star == min(ms):
        edge = "bottom"
    else:
        edge = ""
    return SeedAtD("ok", n_star, m_star, edge, float(cell.rel_gap[r]))


def m_paper(traj: Trajectory) -> int:
    """⌈d/ψ⌉ of the paper regime at this d (ψ from the config's regime parameter C)."""
    params = dict(traj.config.regime_params)
    return paper_hyper(traj.config.d, C=float(params.get("C", 2.0)), kappa=float(params.get("kappa", 12.0))).m


def t_paper(traj: Trajectory) -> int:
    """The paper regime's horizon T = ⌈κ log d/η⌉ at this d."""
    params = dict(traj.config.regime_params)
    return paper_hyper(traj.config.d, C=float(params.get("C", 2.0)), kappa=float(params.get("kappa", 12.0))).steps


# ---------------------------------------------------------------------------------------
# The slope
# ---------------------------------------------------------------------------------------


def loglog_slope(ds: list[int], ns: list[float]) -> float:
    """Least-squares slope of log n on log d; NaN unless ≥ 2 points, all finite and > 0."""
    ns_a = np.asarray(ns, dtype=np.float64)
    if len(ds) < 2 or not np.all(np.isfinite(ns_a)) or np.any(ns_a <= 0):
        return math.nan
    return float(np.polyfit(np.log(np.asarray(ds, dtype=np.float64)), np.log(ns_a), 1)[0])


def median_n_star(values: np.ndarray) -> float:
    """Median over seeds of n* (NaN = unevaluable, left out; +∞ kept)."""
    v = values[~np.isnan(values)]
    return float(np.median(v)) if v.size else math.nan


def bootstrap_slope(
    ds: list[int], n_star: np.ndarray, resamples: int, confidence: float = THRESHOLDS.confidence
) -> tuple[float, float, float]:
    """(lo, hi, share undefined) of the slope with seeds resampled jointly; n_star is (D, R)."""
    lo, hi, undefined = bootstrap_interval(
        lambda idx: loglog_slope(ds, [median_n_star(row[idx]) for row in n_star]),
        n_star.shape[1],
        resamples,
        confidence,
    )
    return float(lo), float(hi), float(undefined)


def _series(
    ds: list[int],
    seeds: list[int],
    nstar: np.ndarray,
    medians: list[float],
    stats: dict[str, float],
    per_d: dict[int, AtD],
) -> dict[str, Panel]:
    """n* against d (log-log, with the fitted slope and the band), n*/(d log² d), the arg-min m, and n(m) per d."""
    d = np.asarray(ds, dtype=np.float64)
    seed_marks = [
        Curve(ds, [float(x) for x in nstar[:, r]], f"seed {seed}", "seed", markers=True)
        for r, seed in enumerate(seeds[:MAX_SEED_SERIES])
    ]
    marks: list[Curve] = [*seed_marks, Curve(ds, medians, "median over seeds", "median", markers=True)]
    title = "n* against d"
    y = np.asarray(medians, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() >= 2:
        ld, ly = np.log(d[ok]), np.log(y[ok])
        slope, own = stats["slope"], not math.isfinite(stats["slope"])
        if own:  # the verdict measured no slope: fit the plotted medians, and say so
            slope = float(np.polyfit(ld, ly, 1)[0])
        xs = np.exp(np.linspace(ld.min(), ld.max(), 20))
        lo, hi = stats["slope_lo"], stats["slope_hi"]
        ci = f", 95% CI [{lo:.3g}, {hi:.3g}]" if math.isfinite(lo) and math.isfinite(hi) else ""
        marks.append(
            Curve(
                xs.tolist(),
                (np.exp(ly.mean() - slope * ld.mean()) * xs**slope).tolist(),
                f"fit: slope {slope:.3g}{ci}",
                "fit",
            )
        )
        for b in THRESHOLDS.q1_slope:
            marks.append(
                Curve(
                    xs.tolist(), (np.exp(ly.mean() - b * ld.mean()) * xs**b).tolist(), f"band slope {b:g}", "threshold"
                )
            )
        title += (
            f" — slope of the plotted medians {slope:.3g} (the verdict measured none)"
            if own
            else f" — log-log slope {slope:.3g}{ci}"
        )
    out = {"n_star": Panel(title, tuple(marks), "d", "n* (samples to ε)", x_scale="log2", y_scale="log")}
    out["n_star_over_d_log2_d"] = Panel(
        "n*/(d log² d) against d",
        (
            Curve(
                ds,
                [n / (x * math.log(x) ** 2) for n, x in zip(medians, ds)],
                "median over seeds",
                "median",
                markers=True,
            ),
        ),
        "d",
        "n* / (d log² d)",
        x_scale="log2",
        y_scale="auto",
    )
    out["argmin_m"] = Panel(
        "arg-min batch size against d",
        (Curve(ds, [stats[f"argmin_m_median_d{x}"] for x in ds], "median over seeds", "median", markers=True),),
        "d",
        "arg-min batch size m",
        x_scale="log2",
        y_scale="auto",
    )
    out["n_by_m"] = Panel(
        "n(m) = m·T_ε (median over seeds) at each d",
        tuple(
            Curve(
                per_d[x].series[f"m_tried_d{x}"],
                per_d[x].series[f"n_median_by_m_d{x}"],
                f"d = {x}",
                "line",
                i,
                markers=True,
            )
            for i, x in enumerate(ds)
        ),
        "batch size m",
        "n(m) (median over seeds)",
        x_scale="log2",
        y_scale="auto",
    )
    return out


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------


def _validate(grid: Mapping[int, Mapping[int, Trajectory]]) -> tuple[int, int, str]:
    if not grid:
        raise ValueError("Q1 needs a grid d -> (m -> Trajectory); got an empty mapping")
    ref = None
    for d, row in grid.items():
        if not row:
            raise ValueError(f"Q1: no batch size was run at d = {d}")
        for m, t in row.items():
            c = t.config
            if c.d != d or c.m != m:
                raise ValueError(f"Q1: grid[{d}][{m}] holds a run with d = {c.d}, m = {c.m}")
            key = (c.seed, c.seeds, c.regime)
            if ref is None:
                ref = key
            elif key != ref:
                raise ValueError(
                    f"Q1: grid[{d}][{m}] has (seed, seeds, regime) = {key}, another run {ref}; "
                    "the whole grid must come from one regime and the same seeds"
                )
    assert ref is not None
    return ref


@dataclass
class AtD:
    """Everything measured at one d of the ladder."""

    rows: list[SeedAtD]
    n_star: float  # median over seeds
    stats: dict[str, float]
    series: dict[str, list]
    blocker: str  # why no verdict can be drawn at this d ("" if none)
    notes: list[str]


def at_d(d: int, row: Mapping[int, Trajectory], R: int) -> AtD:
    """n* per seed at one d, its median, the edges, and what (if anything) blocks a verdict."""
    cells = [samples_to_eps(row[m]) for m in sorted(row)]
    rows = [seed_at_d(cells, r) for r in range(R)]
    med = median_n_star(np.array([s.n_star for s in rows]))
    ok = [s for s in rows if s.status == "ok"]
    na = sum(s.status == "na" for s in rows)
    never = sum(s.status == "never" for s in rows)
    unbr = [s for s in ok if s.edge in ("top", "bottom")]
    at_m1 = sum(s.edge == "m1" for s in ok)
    ms = [c.m for c in cells]
    any_run = next(iter(row.values()))
    mp, tp = m_paper(any_run), t_paper(any_run)
    argmins = [s.argmin for s in ok]
    stats = {
        f"n_star_d{d}": med,
        f"n_star_over_dlog2d_d{d}": med / (d * math.log(d) ** 2),
        f"argmin_m_median_d{d}": float(np.median(argmins)) if argmins else math.nan,
        f"m_min_d{d}": float(min(ms)),
        f"m_max_d{d}": float(max(ms)),
        f"m_count_d{d}": float(len(ms)),
        f"m_paper_d{d}": float(mp),
        f"seeds_never_d{d}": float(never),
        f"seeds_unevaluable_d{d}": float(na),
        f"seeds_unbracketed_d{d}": float(len(unbr)),
        f"argmin_at_m1_seeds_d{d}": float(at_m1),
        f"argmin_over_m_paper_d{d}": (float(np.median(argmins)) / mp) if argmins else math.nan,
        f"n_star_over_budget_d{d}": med / (mp * tp),
    }
    series = {
        f"m_tried_d{d}": [float(m) for m in ms],
        f"n_median_by_m_d{d}": [_median_inf(c) for c in cells],
        f"argmin_m_d{d}": [float(s.argmin) if s.status == "ok" else math.nan for s in rows],
    }
    blocker, notes = "", []
    if na > THRESHOLDS.max_unevaluable * R:
        whys = sorted({s.why for s in rows if s.status == "na"})
        blocker = f"d = {d}: {na}/{R} seeds unevaluable ({'; '.join(whys)})"
    elif math.isinf(med):
        paper_like = [c for c in cells if c.m >= mp and c.lower >= c.m * tp]
        blocker = (
            f"d = {d}: {never}/{R - na} seeds reach ε at no batch size tried (m ∈ {ms}, horizons "
            f"{[c.horizon for c in cells]} steps): n* cannot be measured"
        )
        if paper_like and all(np.mean(np.isnan(c.n)) > 0.5 for c in paper_like):
            blocker += (
                f"; runs with the paper's batch or larger (m ≥ ⌈d/ψ⌉ = {mp}) for at least its horizon "
                f"T = {tp} do not reach ε either: the paper regime itself fails at this d (cf. C9)"
            )
    elif len(unbr) > 0.5 * len(ok):
        where = sorted({s.edge for s in unbr})
        blocker = (
            f"d = {d}: the arg-min is at the {'/'.join(where)} edge of the grid tried (m ∈ {ms}) "
            f"for {len(unbr)}/{len(ok)} seeds — n* is not bracketed; extend the grid"
        )
    elif unbr:
        notes.append(f"d = {d}: {len(unbr)}/{len(ok)} seeds' arg-min at an edge of the grid")
    if at_m1:
        notes.append(f"d = {d}: arg-min at m = 1 (the smallest batch) for {at_m1}/{len(ok)} seeds")
    return AtD(rows, med, stats, series, blocker, notes)


def check(grid: Mapping[int, Mapping[int, Trajectory]]) -> Verdict:
    """Q1 on a batch-size grid per d (see the module docstring)."""
    seed0, R, _ = _validate(grid)
    seeds = [seed0 + r for r in range(R)]
    ds = sorted(grid)
    per_d = {d: at_d(d, grid[d], R) for d in ds}
    stats: dict[str, float] = {k: v for a in per_d.values() for k, v in a.stats.items()}
    blockers = [a.blocker for a in per_d.values() if a.blocker]
    notes = [n for a in per_d.values() for n in a.notes]
    table = {d: a.rows for d, a in per_d.items()}
    medians = [per_d[d].n_star for d in ds]
    nstar_rows = [np.array([s.n_star for s in per_d[d].rows]) for d in ds]

    nstar = np.vstack(nstar_rows)  # (D, R)
    slope = loglog_slope(ds, medians)
    lo, hi, undefined = bootstrap_slope(ds, nstar, THRESHOLDS.q1_bootstrap)
    span = ds[-1] / ds[0]
    band = THRESHOLDS.q1_slope
    gaps = [s.rel_gap for rows in table.values() for s in rows if s.status == "ok" and not math.isnan(s.rel_gap)]
    stats.update(
        {
            "slope": slope,
            "slope_lo": lo,
            "slope_hi": hi,
            "slope_bootstrap_undefined": undefined,
            "span": float(span),
            "ladder_size": float(len(ds)),
            "t_eps_rel_gap_max": float(max(gaps)) if gaps else math.nan,
        }
    )
    series = _series(ds, seeds, nstar, medians, stats, per_d)
    n_over = [n / (d * math.log(d) ** 2) for n, d in zip(medians, ds)]
    thresholds = {
        "slope_lo": band[0],
        "slope_hi": band[1],
        "min_span": THRESHOLDS.q1_min_span,
        "eps": THRESHOLDS.eps,
        "time_resolution": THRESHOLDS.q1_time_resolution,
        "max_unevaluable": THRESHOLDS.max_unevaluable,
        "bootstrap_resamples": THRESHOLDS.q1_bootstrap,
    }
    per_seed = _per_seed(ds, seeds, table)

    measured = (
        f"slope of log n* on log d = {slope:.3g} (95% bootstrap CI [{lo:.3g}, {hi:.3g}]; band "
        f"[{band[0]:g}, {band[1]:g}]) over d ∈ {ds}; n* = "
        + ", ".join(f"{n:.3g}" for n in medians)
        + "; n*/(d log² d) = "
        + ", ".join(f"{x:.3g}" for x in n_over)
        + "; arg-min m = "
        + ", ".join(f"{stats[f'argmin_m_median_d{d}']:g}" for d in ds)
        + " (÷⌈d/ψ⌉: "
        + ", ".join(f"{stats[f'argmin_over_m_paper_d{d}']:.2g}" for d in ds)
        + "); n*/(the theorem's m·T) = "
        + ", ".join(f"{stats[f'n_star_over_budget_d{d}']:.2g}" for d in ds)
    )
    tail = ("; " + "; ".join(notes)) if notes else ""
    if span < THRESHOLDS.q1_min_span:
        blockers.insert(0, f"the ladder spans {span:g}× < {THRESHOLDS.q1_min_span:g}×")
    if blockers:
        return Verdict(
            "Q1",
            INCONCLUSIVE,
            "; ".join(blockers) + " — measured: " + measured + tail,
            stats,
            thresholds,
            per_seed,
            series,
        )
    if band[0] <= lo and hi <= band[1]:
        return Verdict("Q1", HOLDS, measured + tail, stats, thresholds, per_seed, series)
    if lo > band[1] or hi < band[0]:
        side = "faster than d·polylog d allows here" if lo > band[1] else "slower than linear in d"
        return Verdict("Q1", FAILS, f"n* grows {side}: " + measured + tail, stats, thresholds, per_seed, series)
    edge = f"{band[1]:g}" if hi > band[1] else f"{band[0]:g}"
    why = (
        f"the slope's interval straddles the band's end {edge}"
        if math.isfinite(lo + hi)
        else "the slope has no interval"
    )
    return Verdict("Q1", INCONCLUSIVE, why + " — measured: " + measured + tail, stats, thresholds, per_seed, series)


def _median_inf(cell: Cell) -> float:
    """Median over seeds of n(m), +∞ for a seed that did not reach ε."""
    return float(np.median(np.where(np.isnan(cell.n), np.inf, cell.n)))


def _per_seed(ds: list[int], seeds: list[int], table: dict[int, list[SeedAtD]]) -> list[dict]:
    """Per seed: n*(d), arg-mins and that seed's own slope (informational)."""
    band = THRESHOLDS.q1_slope
    out = []
    for r, seed in enumerate(seeds):
        rows = [table[d][r] for d in ds]
        rec = {
            "seed": seed,
            "n_star": [s.n_star for s in rows],
            "argmin_m": [s.argmin for s in rows],
            "edge": [s.edge for s in rows],
        }
        bad = [(d, s) for d, s in zip(ds, rows) if s.status != "ok"]
        if bad:
            rec.update(outcome="na", why="; ".join(f"d = {d}: {s.why}" for d, s in bad))
        else:
            sl = loglog_slope(ds, [s.n_star for s in rows])
            rec["slope"] = sl
            rec["outcome"] = "pass" if band[0] <= sl <= band[1] else "fail"
            if rec["outcome"] == "fail":
                rec["why"] = f"slope {sl:.3g} outside [{band[0]:g}, {band[1]:g}]"
        out.append(rec)
    return out


CLAIM = Claim(
    id="Q1",
    slug="batch_size",
    title="Open question 1: the least sample count over batch sizes still grows like d·polylog(d)",
    anchor="open question 1 (does the large batch matter?); Theorem 3.1",
    statement=(
        "For each d of a ladder spanning ≥ 16×, n*(d) = least m·T_ε over the geometric batch grid "
        "{1, 2, 4, …, 2⌈d/ψ⌉} (η, p, θ of the regime; T_ε to 1% of the horizon): the 95% bootstrap interval of "
        "the log-log slope of n* against d lies in [1.0, 1.7]; reported with the arg-min batch sizes against "
        "⌈d/ψ⌉ and n* against the theorem's budget m·T."
    ),
    check=check,
    needs="batch_grid",
    key_stats=(
        KeyStat("log-log slope of n*(d)", "slope", "in", ("slope_lo", "slope_hi")),
        KeyStat("upper end of the slope's 95% interval", "slope_hi", "<=", "slope_hi"),
        KeyStat("lower end of the slope's 95% interval", "slope_lo", ">=", "slope_lo"),
    ),
    decisions=(
        "n* per seed = least reached m·T_ε; unreached runs give the lower bound m·(last snapshot) and a seed "
        "whose bound undercuts its n* is unevaluable; never-reached seeds count as +∞ in the median over seeds; "
        "slope = least squares on the medians, decided from its bootstrap interval (inside the band holds, "
        "outside fails, straddling inconclusive); inconclusive also for span < 16×, an unmeasurable d (median "
        "n* = +∞, naming a paper-regime failure), too many unevaluable seeds, or an arg-min at the largest m "
        "tried / the smallest m > 1 tried for a majority of seeds (m = 1 counts as bracketed)."
    ),
)
