"""The certification plan: from (claim, example) to the runs the claim reads, and its verdict.

An `Example` is what a certification draws: small values only (regime, d, width, seed, the
number of seeds, a batch size for regimes drawn over it, the d-ladder of ladder claims).
Everything here is deterministic in the example, so claims that read the same run share one
cache entry: the per-run *bundle* carries the main run and the frozen-second-layer run (C8)
in one batched computation; C1's coupled linear proxy runs beside the main run over phase
one only; C4 also reads the bundle's first steps with a snapshot at every step
(`every_step_prefix`); C7 reads three one-step runs and the bundle; Q1 searches a grid of
batch sizes; C14 and C15 read a family of main runs at one d, one per multiple of the width
or of the step size.

    from lemmas import certify
    from lemmas.plan import Example
    certify("C4", Example("paper", d=64, seeds=8))   # simulates through ./.xorcert-cache

A `Profile` says from which values a certification draws its examples (cheapest first) and
how many it draws; docs/SPEC.md §4 lists the regimes, §5 the profiles.

The runs a claim reads together (a ladder's rungs, C7's four runs, a run and its every-step
prefix, a decision's seed batches) are asked for with `simulator.cache.gather`, so a read-only
getter (`TrajectoryCache.require`, pytest `--xorcert-plan` / `--require-cached`) names every
missing one at once: that is how `python -m lemmas plan` lists a certification's runs.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lemmas.base import FAILS, FAMILIES, HOLDS, THRESHOLDS, Claim, Verdict, not_applicable, registry
from lemmas.c02_signal_finding import drift_constant, t1_prediction
from lemmas.families import member_width
from lemmas.sequential import SprtDesign, example_verdict
from simulator import RunConfig, Trajectory, build_regime, paper_hyper, registered_regimes
from simulator.cache import gather
from simulator.config import VARIANTS, frozen_variant, proxy_variant
from simulator.population import TEST_FIELDS
from simulator.recorder import SimulationDiverged

Get = Callable[[RunConfig], Trajectory]


# ---------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What a certification profile draws. Regime names appear here only as keys of data."""

    name: str
    ds: tuple[int, ...]  # d of a per-run example
    widths: tuple[int, ...]  # p = width · ⌈1/ψ⌉
    wide_max_d: int  # widths > 1 are drawn only at d ≤ this (a run's cost grows like width · d²·polylog d)
    seeds: int  # seeds per example (the binomial rule's n)
    max_seed: int  # the base seed is drawn from [0, max_seed]
    ladders: tuple[tuple[int, ...], ...]  # d-ladders of C2, C10 and C11
    ladder_seeds: int  # seeds of a ladder example (one run per rung, to the phases' end: C2, C10, C11)
    ladder_examples: int  # examples per ladder or batch-grid item (C2, C10, C11, Q1: the top rung dominates)
    c10_ladders: tuple[tuple[int, ...], ...]  # d-ladders of Q1's batch grid (span ≥ 16×; lemmas/q1_batch_size.py)
    c10_seeds: int  # seeds of Q1's batch grid
    max_examples: int  # examples per per-run item
    derandomize: bool  # draws fixed per (profile, regime, kind of run): reruns check the same examples
    search: bool = False  # hypothesis targets and shrinks (a search for counterexamples)
    # Per-regime data: the regime's own d values, d-ladders, and batch sizes ("d" or an integer) it is
    # drawn over (passed to its constructor as m).
    regime_ds: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    regime_ladders: Mapping[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    regime_batches: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    regime_ladder_seeds: Mapping[str, int] = field(default_factory=dict)  # a regime's own seeds per ladder example
    # Trend verdicts (lemmas.trends): per (claim with a violation statistic, regime of trend_regimes), the
    # statistic on the per-run bundle at every d of trend_ladder with `seeds` seeds from base seed 0
    # (the same runs as the per-run examples at those d). Empty: no trend items.
    trend_ladder: tuple[int, ...] = ()
    trend_regimes: tuple[str, ...] = ()

    def ds_for(self, regime: str) -> tuple[int, ...]:
        return tuple(self.regime_ds.get(regime, self.ds))

    def ladders_for(self, regime: str) -> tuple[tuple[int, ...], ...]:
        return tuple(self.regime_ladders.get(regime, self.ladders))

    def batches_for(self, regime: str) -> tuple[str, ...]:
        return tuple(self.regime_batches.get(regime, ()))

    def ladder_seeds_for(self, regime: str) -> int:
        return int(self.regime_ladder_seeds.get(regime, self.ladder_seeds))


def _profiles() -> dict[str, Profile]:
    # Sized for a 2-core CPU (README, "Verdicts"): a run costs ~4·n·d·p flop for n = m·T samples, i.e. grows
    # like d²·polylog d (d = 128: 0.05 TFLOP per seed and variant over the paper horizon, d = 1024: 40), so
    # certify reaches d = 1024 by the paper regime's ladder (4 seeds, one example) and the other regimes'
    # ladders stop at 256. small_batch runs at m = d only in certify: at m = 4 its horizon is n/4 ≥ 2.4·10⁵
    # steps from d = 64 on, and the O(T·seeds·p) per-step records of 16 seeds no longer fit in 24 GiB
    # (quick covers m = 4 at d = 32).
    quick = Profile(
        "quick",
        ds=(32, 64),
        widths=(1,),
        wide_max_d=64,
        seeds=8,
        max_seed=0,
        ladders=((16, 32, 64),),
        ladder_seeds=8,
        ladder_examples=1,
        c10_ladders=((8, 16, 32, 64, 128),),
        c10_seeds=4,
        max_examples=1,
        derandomize=True,
        regime_ds={"small_batch": (32,)},
        # C10 needs a ladder spanning 16× on which the paper regime reaches ε (C2 and C11 read it too)
        regime_ladders={"paper": ((16, 32, 64, 128, 256),)},
        regime_batches={"small_batch": ("d", "4")},
        trend_ladder=(16, 32, 64, 128),
        trend_regimes=("paper", "large_init", "gaussian"),
    )
    certify = Profile(
        "certify",
        ds=(64, 128),
        widths=(1, 2),
        wide_max_d=128,
        seeds=16,
        max_seed=10_000,
        ladders=((64, 128, 256),),
        ladder_seeds=4,
        ladder_examples=1,
        c10_ladders=((16, 32, 64, 128, 256),),
        c10_seeds=4,
        max_examples=2,
        derandomize=True,
        regime_ds={"small_batch": (64, 128)},
        regime_ladders={"paper": ((64, 128, 256, 512, 1024),)},
        regime_batches={"small_batch": ("d",)},
        # C10's interval is a bootstrap over the ladder's seeds: 8 (not 4) in the paper regime, whose ladder
        # spans 16×; the d = 1024 rung doubles (≈ 4·m·T_stop·d·p ≈ 20 TFLOP per seed stopped at ~0.5 T).
        regime_ladder_seeds={"paper": 8},
        # 8× like quick's: a d = 512 rung costs ≈ 28 min per kind of run, regime and 16 seeds on 2 cores
        # (C1's proxy run, the bundle), ≈ 3 h in all; certify-gpu climbs to 1024
        trend_ladder=(32, 64, 128, 256),
        trend_regimes=("paper", "large_init", "gaussian"),
    )
    # certify's draws enlarged for a GPU: a profile of its own, with its own baseline cells.
    certify_gpu = replace(
        certify,
        name="certify-gpu",
        ds=(64, 128, 256, 512, 1024),
        wide_max_d=1024,
        ladders=((64, 128, 256, 512, 1024),),
        regime_ladders={"paper": ((64, 128, 256, 512, 1024, 2048, 4096),)},
        trend_ladder=(32, 64, 128, 256, 512, 1024),
    )
    # For a cluster or a GPU (lemmas/runplan.py, simulator/sweep.py): per-run claims to d = 512 with 32 seeds,
    # the paper ladder to d = 4096 (≈ 2 PFLOP per seed at the top rung), the trend ladder to d = 1024.
    certify_large = replace(
        certify,
        name="certify-large",
        ds=(64, 128, 256, 512),
        wide_max_d=256,
        seeds=32,
        ladders=((64, 128, 256, 512, 1024),),
        ladder_seeds=8,
        regime_ds={"small_batch": (64, 128, 256)},
        regime_ladders={"paper": ((64, 128, 256, 512, 1024, 2048, 4096),)},
        regime_ladder_seeds={"paper": 16},
        trend_ladder=(32, 64, 128, 256, 512, 1024),
    )
    hunt = Profile(
        "hunt",
        ds=(16, 32, 64, 128),
        widths=(1, 2, 4),
        wide_max_d=128,
        seeds=8,
        max_seed=1_000_000,
        ladders=((16, 32, 64), (32, 64, 128)),
        ladder_seeds=8,
        ladder_examples=40,
        c10_ladders=((8, 16, 32, 64, 128),),
        c10_seeds=4,
        max_examples=40,
        derandomize=False,
        search=True,
        regime_ds={"small_batch": (16, 32)},
        regime_batches={"small_batch": ("d", "4")},
    )
    return {p.name: p for p in (quick, certify, certify_gpu, certify_large, hunt)}


PROFILES = _profiles()
DEFAULT_PROFILE = "quick"


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile {name!r} is not an xorcert profile; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# ---------------------------------------------------------------------------------------
# Examples
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    regime: str
    d: int
    width: int = 1  # p = width · ⌈1/ψ⌉
    seed: int = 0
    seeds: int = 8
    batch: str = ""  # regimes drawn over batch sizes: "d" or an integer, passed to the constructor as m
    ladder: tuple[int, ...] = ()  # ladder claims: the d-ladder (d is then its first rung)
    # RunConfig fields set on the regime's config after the regime built it (a boundary's knob,
    # lemmas.boundary): (name, value) pairs, sorted by name
    overrides: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        parts = [
            f"regime={self.regime}",
            f"d={self.d}",
            f"width={self.width}",
            f"seed={self.seed}",
            f"seeds={self.seeds}",
        ]
        if self.batch:
            parts.append(f"m={self.batch}")
        if self.ladder:
            parts.append(f"ladder={list(self.ladder)}")
        parts += [f"{k}={v}" for k, v in self.overrides]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Builtin types; `overrides` only where there are some (an example without any reads as before)."""
        out: dict[str, Any] = {
            "regime": self.regime,
            "d": self.d,
            "width": self.width,
            "seed": self.seed,
            "seeds": self.seeds,
            "batch": self.batch,
            "ladder": list(self.ladder),
        }
        if self.overrides:
            out["overrides"] = dict(self.overrides)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Example:
        return cls(
            regime=str(data["regime"]),
            d=int(data["d"]),
            width=int(data.get("width", 1)),
            seed=int(data.get("seed", 0)),
            seeds=int(data.get("seeds", 8)),
            batch=str(data.get("batch") or ""),
            ladder=tuple(int(x) for x in data.get("ladder") or ()),
            overrides=tuple(sorted((str(k), v) for k, v in (data.get("overrides") or {}).items())),
        )

    def command(self, claim_id: str, imports: tuple[str, ...] = ()) -> str:
        """The shell command that recomputes this example's verdict with the installed package."""
        args = [
            "python",
            "-m",
            "lemmas",
            "check",
            claim_id,
            "--regime",
            self.regime,
            "--d",
            str(self.d),
            "--width",
            str(self.width),
            "--seed",
            str(self.seed),
            "--seeds",
            str(self.seeds),
        ]
        if self.batch:
            args += ["--batch", self.batch]
        if self.ladder:
            args += ["--ladder", ",".join(str(d) for d in self.ladder)]
        for name, value in self.overrides:
            args += ["--set", f"{name}={value!r}"]
        for path in imports:
            args += ["--import", path]
        return shlex.join(args)


def with_ladder(ex: Example, ladder: tuple[int, ...]) -> Example:
    return replace(ex, d=ladder[0], ladder=tuple(ladder))


# ---------------------------------------------------------------------------------------
# The runs a claim reads
# ---------------------------------------------------------------------------------------


def base_config(
    ex: Example, d: int | None = None, variants: tuple[str, ...] | None = None, p: int | None = None
) -> RunConfig:
    """The regime's config at dimension d (default ex.d) for the example's width (or the width p) and seeds,
    with the example's `overrides` set on it; its main variant (the regime's first, e.g. `frozen_a` where the
    second layer is frozen) unless `variants`."""
    d = ex.d if d is None else d
    p = ex.width * paper_hyper(d).p if p is None else p
    kwargs: dict[str, Any] = {"p": p, "seed": ex.seed, "seeds": ex.seeds}
    if ex.batch:
        kwargs["m"] = d if ex.batch == "d" else int(ex.batch)
    cfg = build_regime(ex.regime, d, **kwargs)
    if ex.overrides:
        cfg = cfg.replace(**dict(ex.overrides))
    return cfg.replace(variants=variants if variants is not None else cfg.variants[:1])


def within_horizon(cfg: RunConfig, claim: Claim) -> RunConfig:
    """The run as far as the claim reads it: a claim that reads only up to the phase boundaries
    (horizon "phases") lets it stop once every seed has passed T1, T_ε and T_L (simulator.phases).
    Claims of one horizon share their runs; a stored whole run serves a stopped one's request."""
    return cfg.replace(stop_phases=THRESHOLDS.eps) if claim.horizon == "phases" else cfg


def bundle(ex: Example) -> RunConfig:
    """The per-run bundle over the whole horizon: the main run and (unless it is the main) its frozen-a twin
    (`frozen_variant`: the same loss with the second layer frozen)."""
    main = base_config(ex).variants[0]
    return base_config(ex, variants=tuple(dict.fromkeys((main, frozen_variant(main)))))


def linearized_t1(cfg: RunConfig) -> float:
    """C2's linearized phase-one length √(2π)(½ log d + log 1/ζ)/(c η) (docs/SPEC.md §3.2), known before a
    run: c the data law's drift constant, 1 for a law without one (the boolean value; a window, not a test)."""
    return t1_prediction(cfg.d, cfg.eta, drift_constant(cfg.data) or 1.0)


def every_step_prefix(cfg: RunConfig, window: float) -> RunConfig:
    """cfg over its first min(T, ⌈window × linearized_t1⌉) steps, with a snapshot at every step. The same
    seeds, init, minibatches and variants: its records are those of cfg's run up to there, bit for bit
    (neither the snapshot grid nor the horizon changes a random draw or a step; dropping a coupled
    variant would change the batched arithmetic by rounding)."""
    steps = min(cfg.steps, math.ceil(window * linearized_t1(cfg)))
    return cfg.replace(steps=steps, snapshots=steps + 1)


def with_prefix_snapshots(whole: Trajectory, prefix: Trajectory) -> Trajectory:
    """`whole` with the snapshots of its every-step `prefix` (`every_step_prefix`) in place of its own up to
    the prefix's last step; the per-step records are whole's (the prefix's are the same)."""
    if list(prefix.seeds) != list(whole.seeds) or prefix.config.variants != whole.config.variants:
        raise ValueError("the prefix run is not a prefix of this run (other seeds or variants)")
    end = int(prefix.snap_steps[-1]) if len(prefix.snap_steps) else -1
    later = whole.snap_steps > end
    arrays = dict(whole.arrays)
    for name in ("snap_steps", "snap_W", "snap_a", *TEST_FIELDS):
        arrays[name] = np.concatenate([prefix.arrays[name], whole.arrays[name][later]])
    return Trajectory(whole.config, arrays, {**whole.meta, "every_step_snapshots_to": end})


def proxy_run(ex: Example) -> RunConfig:
    """C1's coupled run: the main run and its first-order proxy (`proxy_variant`) over phase one only.

    The proxy h0 has no minimum (h0' ≡ -1), so its weights grow geometrically forever and
    overflow on long horizons (small batches run ~10⁵ steps); C1 reads it only up to T1, so
    this run lasts min(T, c1_proxy_window × the linearized T1 prediction √(2π)(½ log d + log 1/ζ)/η).
    A T1 later than that leaves the seed unevaluable for C1, or failing when T2 falls inside (T1 > T2).
    """
    cfg = base_config(ex)
    main = cfg.variants[0]
    steps = min(cfg.steps, math.ceil(THRESHOLDS.c1_proxy_window * linearized_t1(cfg)))
    return cfg.replace(variants=(main, proxy_variant(main)), steps=steps)


def gradient_configs(ex: Example) -> dict[str, RunConfig]:
    """C7: one step at the regime's m, at m = d, and the drift run (64·m, an independent batch), and the
    regime's own run for phase one: the per-run bundle, which C3–C6, C8 and C9 read on the same examples
    (`lemmas.certification` draws C7's examples with theirs), so C7 adds only the three one-step runs."""
    cfg = base_config(ex).replace(steps=1, snapshots=2)
    return {
        "regime": cfg,
        "m_d": cfg.replace(m=cfg.d),
        "drift": cfg.replace(m=THRESHOLDS.c7_drift_batch_factor * cfg.m, data_offset=1),
        "trajectory": bundle(ex),
    }


def family_configs(ex: Example, needs: str) -> dict[float, RunConfig]:
    """C14, C15: the regime's main run at ex.d for every multiple k of the family (lemmas.families).

    width_family: p = ⌈k·⌈1/ψ⌉⌉ (the regime sets θ from p: ψ/√p in the paper regime);
    eta_family: η = k·η₀ with the horizon ⌈T/k⌉ (η·T kept). Multiples from Thresholds (c14_…, c15_…).
    """
    if needs == "width_family":
        ks = (*THRESHOLDS.c14_widths, *THRESHOLDS.c14_widths_below)
        return {k: base_config(ex, p=member_width(ex.d, k)) for k in ks}
    if needs == "eta_family":
        cfg = base_config(ex)
        ks = (*THRESHOLDS.c15_etas, *THRESHOLDS.c15_etas_outside)
        return {k: cfg.replace(eta=k * cfg.eta, steps=math.ceil(cfg.steps / k)) for k in ks}
    raise ValueError(f"{needs!r} is not a family of runs; the families are {FAMILIES}")


def family_member(get: Get, cfg: RunConfig) -> Trajectory:
    """A family member's run, read as `evaluate` reads a main run for the compared claims (with the
    every-step prefix where one of them asks for it, C4); one that diverges (a non-finite parameter, e.g.
    at η = 8ψ) gives the part recorded before it, marked `meta["diverged_at"]` (lemmas.families counts it
    failing every claim)."""
    claims = registry()
    window = max(claims[cid].every_step_window for cid in THRESHOLDS.family_claims)
    try:
        if window <= 0:
            return get(cfg)
        runs = gather(get, {"whole": cfg, "prefix": every_step_prefix(cfg, window)})
        return with_prefix_snapshots(runs["whole"], runs["prefix"])
    except SimulationDiverged as e:
        e.trajectory.meta["diverged_at"] = e.step
        return e.trajectory


def batch_grid(d: int) -> list[int]:
    """Q1's geometric grid {1, 2, 4, …} up to 2⌈d/ψ⌉, and 2⌈d/ψ⌉ itself; descending."""
    top = 2 * paper_hyper(d).m
    grid = {2**k for k in range(int(math.log2(top)) + 1)} | {top}
    return sorted(grid, reverse=True)


def samples_to_eps(traj: Trajectory) -> np.ndarray:
    """Per seed, m·T_ε (∞ for a seed that never reaches ε in the run): Q1's own reading
    (`q1_batch_size.samples_to_eps`), so that the search and the verdict agree."""
    from lemmas.q1_batch_size import samples_to_eps as cell_of

    n = cell_of(traj).n
    return np.where(np.isnan(n), np.inf, n)


def q1_grid(ex: Example, get: Get) -> dict[int, dict[int, Trajectory]]:
    """Search the batch grid at every d of the ladder, from the largest m down.

    Each m runs with the regime's η, p, θ for the horizon min(⌈min(n_budget, 2·n_best)/m⌉,
    q1_max_horizon·T) steps (n_budget = the paper regime's m·T at that d; n_best = the slowest
    seed's least m·T_ε so far: a run needing more than twice that cannot hold any seed's arg-min;
    the horizon cap bounds the cost of small batches where nothing is learnt — a seed censored
    there is reported as such by the check), 101 uniform snapshots (T_ε to 1% of the horizon) on
    a q1_test_size-point test set, and stops once every seed is at test error ≤ ε, or, once every
    seed has a least n, at the first snapshot past n_best/m steps (no seed can improve beyond). The descent
    stops after two consecutive m at which no seed improved its own least n (so every seed's
    arg-min is bracketed from below), or at m = 1.

    A regime with a `batch_twin` (its runs are the twin's once m is overridden) searches the
    twin's grid, so both share the cache entries.
    """
    twin = registered_regimes()[ex.regime].batch_twin
    grid_ex = replace(ex, regime=twin, batch="") if twin else ex
    # a read-only getter's misses: every d's next run is named at once
    return gather(lambda d: _q1_search(grid_ex, d, get), {d: d for d in ex.ladder})


def _q1_search(grid_ex: Example, d: int, get: Get) -> dict[int, Trajectory]:
    """`q1_grid`'s descent over the batch grid at one d."""
    cfg = base_config(grid_ex, d=d)
    budget = paper_hyper(d).m * paper_hyper(d).steps
    best = np.full(grid_ex.seeds, np.inf)
    stale, rows = 0, {}
    for m in batch_grid(d):
        found = best[np.isfinite(best)]
        cap = min(budget, 2 * float(found.max())) if found.size else budget
        steps = max(1, min(math.ceil(cap / m), THRESHOLDS.q1_max_horizon * paper_hyper(d).steps))
        # once every seed has a least n, past n_best samples none can improve: the run stops there
        # (at a snapshot of its own grid, so every T_ε it reads is the one the whole run would read)
        settled = math.ceil(float(best.max()) / m) if np.isfinite(best).all() else 0
        run_cfg = cfg.replace(
            m=m,
            steps=steps,
            snapshots=101,
            stop_error=THRESHOLDS.eps,
            stop_step=settled if settled < steps else 0,
            test_size=THRESHOLDS.q1_test_size,
        )
        rows[m] = traj = get(run_cfg)
        n = samples_to_eps(traj)
        improved = n < best
        best = np.minimum(best, n)
        if not np.isfinite(best).any():
            continue  # nothing learnt yet: keep descending (smaller m, more steps for the budget)
        stale = 0 if improved.any() else stale + 1
        if stale >= 2:
            break
    return rows


def claim_trajectory(claim: Claim, ex: Example, get: Get) -> Trajectory:
    """The one trajectory a `needs = "run"` claim reads on this example: C1's coupled proxy run, else the
    bundle within the claim's horizon, with the every-step prefix's snapshots where the claim asks for them."""
    if claim.needs != "run":
        raise ValueError(f"claim {claim.id} reads needs = {claim.needs!r}, not one run")
    if any(VARIANTS[v].proxy for v in claim.variants):
        return get(proxy_run(ex))
    cfg = within_horizon(bundle(ex), claim)
    if claim.every_step_window <= 0:
        return get(cfg)
    runs = gather(get, {"whole": cfg, "prefix": every_step_prefix(cfg, claim.every_step_window)})
    return with_prefix_snapshots(runs["whole"], runs["prefix"])


def evaluate(claim: Claim, ex: Example, get: Get, design: SprtDesign | None = None) -> Verdict:
    """The claim's verdict on the example: checked on the example's seeds and, for a w.h.p. claim
    (a verdict of `verdict_from_seeds`), decided by the sequential rule (lemmas.sequential).

    Further batches of seeds ex.seed + ex.seeds, … are simulated, each its own batched run and cache
    entry (so a smaller decision's runs are reused by a larger one), until the rule decides or its
    cap is reached. After each batch the claim is checked on all seeds so far, its runs stacked
    along the seeds (`stacked_getter`); runs that cannot be stacked (runs stopped at their phases
    stop at a step of their own seeds) are checked batch by batch, the rule reading the seeds of all.
    `design`: the rule's parameters (default: Thresholds'; `confirm` passes a stricter one).
    """
    verdict = check_seeds(claim, ex, get)
    if verdict.whp is None:
        return verdict
    design = design or SprtDesign.from_thresholds()
    batches, sizes = [verdict], [ex.seeds]
    while (decided := example_verdict(batches, sum(sizes), design)) is None:
        size = min(design.batch, design.cap - sum(sizes))
        try:
            whole = check_seeds(claim, replace(ex, seeds=sum(sizes) + size), stacked_getter(get, [*sizes, size]))
            batches = [whole]
        except UnstackableRuns:
            batches.append(check_seeds(claim, replace(ex, seed=ex.seed + sum(sizes), seeds=size), get))
        sizes.append(size)
        if batches[-1].whp is None:  # the claim could not read these seeds as seeds: that is the verdict
            return batches[-1]
    return decided


@dataclass(frozen=True)
class Confirmation:
    """A decision that contradicted the record, decided again at the family level (`confirm`)."""

    verdict: Verdict  # the family-level verdict (its seeds include the first decision's)
    first: str  # the per-example decision that contradicted the record
    expected: str  # the recorded status
    decisions: int  # the family's size N (α = β = family_alpha / N)

    @property
    def confirmed(self) -> bool:
        """The family-level test reaches the contrary decision too: a flip."""
        return self.verdict.status == self.first

    @property
    def unconfirmed(self) -> bool:
        """Undecided at the family level: the contradiction is within what N decisions produce by chance."""
        return self.verdict.status not in (self.first, self.expected)

    def note(self) -> str:
        what = (
            "confirmed"
            if self.confirmed
            else "unconfirmed (undecided at that level)"
            if self.unconfirmed
            else f"not confirmed: {self.verdict.status}, as recorded"
        )
        return (
            f"decided {self.first} against the recorded {self.expected}; at a family-wise error of "
            f"{THRESHOLDS.seq_family_alpha:g} over {self.decisions} decisions: {what}"
        )


def contradicts(verdict: Verdict, expected: str | None) -> bool:
    """A w.h.p. decision (holds or fails) opposite to the recorded decision."""
    decided = (HOLDS, FAILS)
    return verdict.whp is not None and expected in decided and verdict.status in decided and verdict.status != expected


def confirm(claim: Claim, ex: Example, get: Get, verdict: Verdict, expected: str, decisions: int) -> Confirmation:
    """Decide a contradicting example again by the same sequential test at α = β = seq_family_alpha / decisions
    (its seeds are reused from the cache, further batches added), so that a run's probability of any false
    flip — a contradiction of a record that is right — is ≤ seq_family_alpha (docs/SPEC.md §3.12)."""
    design = SprtDesign.from_thresholds().confirming(decisions, THRESHOLDS.seq_family_alpha)
    again = evaluate(claim, ex, get, design)
    out = Confirmation(again, verdict.status, expected, decisions)
    return replace(out, verdict=replace(again, reason=f"{again.reason}; {out.note()}"))


class UnstackableRuns(ValueError):
    """Runs of consecutive seed batches that are not one run's records split by seeds."""


def stacked_getter(get: Get, sizes: list[int]) -> Get:
    """A getter for a run of sum(sizes) seeds from the runs of its batches: seeds cfg.seed, … in batches of
    `sizes`, each fetched through `get` (its own cache entry) and stacked along the seed axis (axis 1 of
    every array but `snap_steps`). Seed s of a batched run is the run of seed s alone (simulator.config),
    so the stack is that run's record but for the batched arithmetic's rounding. Raises UnstackableRuns
    where the batches recorded different steps or snapshots (a run stopped by a rule of its own seeds)."""

    def get_stacked(cfg: RunConfig) -> Trajectory:
        if cfg.seeds != sum(sizes):
            raise ValueError(f"stacked_getter serves {sum(sizes)} seeds, asked for {cfg.seeds}")
        starts = [cfg.seed + sum(sizes[:i]) for i in range(len(sizes))]
        parts = gather(get, {i: cfg.replace(seed=s, seeds=n) for i, (s, n) in enumerate(zip(starts, sizes))})
        return stack_seeds(cfg, list(parts.values()))

    return get_stacked


def stack_seeds(cfg: RunConfig, parts: list[Trajectory]) -> Trajectory:
    """The trajectories of consecutive seed batches as one trajectory of cfg (see `stacked_getter`)."""
    first = parts[0]
    for part in parts[1:]:
        if part.steps != first.steps or not np.array_equal(part.arrays["snap_steps"], first.arrays["snap_steps"]):
            raise UnstackableRuns(f"batches of {cfg.d}-dimensional runs recorded {first.steps} and {part.steps} steps")
    arrays = {
        name: arr if name == "snap_steps" else np.concatenate([p.arrays[name] for p in parts], axis=1)
        for name, arr in first.arrays.items()
    }
    return Trajectory(cfg, arrays, {**first.meta, "seed_batches": [p.config.seeds for p in parts]})


def check_seeds(claim: Claim, ex: Example, get: Get) -> Verdict:
    """Simulate what the claim needs for this example's seeds (through `get`) and check it."""
    why = claim.applies(base_config(ex))
    if why is not None:
        return not_applicable(claim.id, why)
    if claim.needs == "run":
        return claim.check(claim_trajectory(claim, ex, get))
    if claim.needs == "ladder":
        return claim.check(gather(get, {d: within_horizon(base_config(ex, d=d), claim) for d in ex.ladder}))
    if claim.needs == "gradient":
        return claim.check(gather(get, gradient_configs(ex)))
    if claim.needs == "batch_grid":
        return claim.check(q1_grid(ex, get))
    if claim.needs in FAMILIES:
        return claim.check(gather(lambda cfg: family_member(get, cfg), family_configs(ex, claim.needs)))
    raise ValueError(f"claim {claim.id}: unknown needs {claim.needs!r}")


def certify(claim_id: str, example: Example, cache: Any = None) -> Verdict:
    """The verdict of one claim on one example.

    `cache`: a `simulator.cache.TrajectoryCache`, a folder for one, or a function RunConfig ->
    Trajectory; default: the cache at $XORCERT_CACHE or ./.xorcert-cache.
    """
    claims = registry()
    if claim_id not in claims:
        raise ValueError(f"claim {claim_id!r} is not registered; the claims are {', '.join(claims)}")
    return evaluate(claims[claim_id], example, getter(cache))


def getter(cache: Any = None) -> Get:
    """A function RunConfig -> Trajectory from a cache, a cache folder, or such a function."""
    from simulator.cache import TrajectoryCache, default_root

    if callable(cache) and not isinstance(cache, TrajectoryCache):
        return cache
    if cache is None or not isinstance(cache, TrajectoryCache):
        cache = TrajectoryCache(default_root() if cache is None else cache)
    return cache.get_or_run


def regime_imports(regime: str) -> tuple[str, ...]:
    """What `python -m lemmas check --import` must load to know the regime: () for xorcert's own
    regimes, else the file that registers it (a conftest.py, a module of the researcher's)."""
    import inspect

    build = inspect.unwrap(registered_regimes()[regime].build)
    module = getattr(build, "__module__", "") or ""
    if module == "simulator" or module.startswith("simulator."):
        return ()
    path = inspect.getsourcefile(build)
    return (path,) if path else ()
