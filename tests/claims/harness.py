"""From (claim, regime, example) to the trajectories the claim reads, through the cache.

An `Example` is what hypothesis draws: small values only (regime, d, width, seed, and
for ladder claims the d-ladder). Everything here is deterministic in the example, so
claims that read the same run (C3–C6, C8, C9 in one regime) share one cache entry: the
per-run *bundle* carries the main run and the frozen-second-layer run (C8) in one batched
computation; C1's coupled linear proxy runs beside the main run over phase one only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, not_applicable
from simulator import RunConfig, Trajectory, paper_hyper, regime as make_regime
from simulator.config import VARIANTS, proxy_variant

Get = Callable[[RunConfig], Trajectory]


@dataclass(frozen=True)
class Example:
    regime: str
    d: int
    width: int = 1  # p = width · ⌈1/ψ⌉
    seed: int = 0
    seeds: int = 8
    batch: str = ""  # small_batch only: "d" or an integer batch size
    ladder: tuple[int, ...] = ()  # ladder claims: the d-ladder (d is then its first rung)

    def describe(self) -> str:
        parts = [f"regime={self.regime}", f"d={self.d}", f"width={self.width}", f"seed={self.seed}",
                 f"seeds={self.seeds}"]
        if self.batch:
            parts.append(f"m={self.batch}")
        if self.ladder:
            parts.append(f"ladder={list(self.ladder)}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"regime": self.regime, "d": self.d, "width": self.width, "seed": self.seed, "seeds": self.seeds,
                "batch": self.batch, "ladder": list(self.ladder)}


def main_variant(regime: str) -> str:
    return "frozen_a" if regime == "first_layer_only" else "logistic"


def base_config(ex: Example, d: int | None = None, variants: tuple[str, ...] | None = None) -> RunConfig:
    """The regime's config at dimension d (default ex.d) for the example's width and seeds."""
    d = ex.d if d is None else d
    p = ex.width * paper_hyper(d).p
    kwargs: dict[str, Any] = {"p": p, "seed": ex.seed, "seeds": ex.seeds}
    if ex.regime == "small_batch":
        kwargs["m"] = d if ex.batch in ("", "d") else int(ex.batch)
    main = main_variant(ex.regime)
    cfg = make_regime(ex.regime, d, **kwargs)
    return cfg.replace(variants=variants if variants is not None else (main,))


def bundle(ex: Example) -> RunConfig:
    """The per-run bundle for the whole horizon: the main run and (unless main) the frozen-a run."""
    main = main_variant(ex.regime)
    return base_config(ex, variants=tuple(dict.fromkeys((main, "frozen_a"))))


PROXY_WINDOW = 4.0  # the coupled proxy run lasts this many times the linearized T1 prediction


def proxy_run(ex: Example) -> RunConfig:
    """C1's coupled run: the main run and its linear proxy over phase one only.

    The proxy h0 has no minimum (h0' ≡ -1), so its weights grow geometrically forever and
    overflow on long horizons (small_batch at m = 4 runs ~10⁵ steps); C1 reads it only up
    to T1, so this run lasts min(T, 4 × the linearized T1 prediction √(2π)(½ log d + log 1/ζ)/η).
    A T1 later than that leaves the seed unevaluable for C1.
    """
    cfg = base_config(ex)
    main = cfg.variants[0]
    t1_pred = math.sqrt(2 * math.pi) * (0.5 * math.log(cfg.d) + math.log(1 / cfg.zeta)) / cfg.eta
    steps = min(cfg.steps, math.ceil(PROXY_WINDOW * t1_pred))
    return cfg.replace(variants=(main, proxy_variant(main)), steps=steps)


def gradient_configs(ex: Example) -> dict[str, RunConfig]:
    """C7: one step at the regime's m, at m = d, and the drift run (64·m, independent batch)."""
    cfg = base_config(ex).replace(steps=1, snapshots=2)
    return {"regime": cfg, "m_d": cfg.replace(m=cfg.d),
            "drift": cfg.replace(m=THRESHOLDS.c7_drift_batch_factor * cfg.m, data_offset=1)}


def batch_grid(d: int) -> list[int]:
    """C10's geometric grid {1, 2, 4, …} up to 2⌈d/ψ⌉, and 2⌈d/ψ⌉ itself; descending."""
    top = 2 * paper_hyper(d).m
    grid = {2**k for k in range(int(math.log2(top)) + 1)} | {top}
    return sorted(grid, reverse=True)


C10_TEST_SIZE = 4000  # test points of a grid run: T_ε is a crossing of ε = 0.01, not a certificate (C9's job)
C10_MAX_HORIZON = 4  # a grid run lasts at most this many paper horizons T (in steps)


def c10_grid(ex: Example, get: Get) -> dict[int, dict[int, Trajectory]]:
    """Search the batch grid at every d of the ladder, from the largest m down.

    Each m runs with the regime's η, p, θ for the horizon min(⌈min(n_budget, 2·n_best)/m⌉, 4·T)
    steps (n_budget = the paper regime's m·T at that d; n_best = the slowest seed's least
    m·T_ε so far: a run needing more than twice that cannot hold any seed's arg-min; 4·T
    bounds the cost of small batches where nothing is learnt — a seed censored there is
    reported as such by the check), 101 uniform snapshots (T_ε to 1% of the horizon) on a
    4000-point test set, and stops once every seed is at test error ≤ ε. The descent stops
    after two consecutive m at which no seed improved its own least n (so every seed's
    arg-min is bracketed from below), or at m = 1.
    """
    out: dict[int, dict[int, Trajectory]] = {}
    # The grid varies m itself, so small_batch's grid is the paper regime's (one cache entry for both).
    grid_ex = replace(ex, regime="paper", batch="") if ex.regime == "small_batch" else ex
    for d in ex.ladder:
        cfg = base_config(grid_ex, d=d)
        budget = paper_hyper(d).m * paper_hyper(d).steps
        best = np.full(ex.seeds, np.inf)
        stale, rows = 0, {}
        for m in batch_grid(d):
            found = best[np.isfinite(best)]
            cap = min(budget, 2 * float(found.max())) if found.size else budget
            steps = min(math.ceil(cap / m), C10_MAX_HORIZON * paper_hyper(d).steps)
            run_cfg = cfg.replace(m=m, steps=max(steps, 1), snapshots=101,
                                  stop_error=THRESHOLDS.eps, test_size=C10_TEST_SIZE)
            rows[m] = traj = get(run_cfg)
            n = samples_to_eps(traj)
            improved = n < best
            best = np.minimum(best, n)
            if not np.isfinite(best).any():
                continue  # nothing learnt yet: keep descending (smaller m, more steps for the budget)
            stale = 0 if improved.any() else stale + 1
            if stale >= 2:
                break
        out[d] = rows
    return out


def samples_to_eps(traj: Trajectory) -> np.ndarray:
    """Per seed, m·T_ε (∞ for a seed that never reaches ε in the run)."""
    hit = traj.test_error() <= THRESHOLDS.eps  # (S, R)
    t_eps = np.where(hit.any(0), traj.snap_steps[hit.argmax(0)], np.inf)
    return traj.config.m * t_eps


def evaluate(claim: Claim, ex: Example, get: Get) -> Verdict:
    """Simulate what the claim needs for this example (through `get`) and check it."""
    why = claim.applies(ex.regime)
    if why is not None:
        return not_applicable(claim.id, why)
    if claim.needs == "run":
        coupled_proxy = any(VARIANTS[v][0] == "linear" for v in claim.variants)
        return claim.check(get(proxy_run(ex) if coupled_proxy else bundle(ex)))
    if claim.needs == "ladder":
        return claim.check({d: get(base_config(ex, d=d)) for d in ex.ladder})
    if claim.needs == "gradient":
        return claim.check({k: get(c) for k, c in gradient_configs(ex).items()})
    if claim.needs == "batch_grid":
        return claim.check(c10_grid(ex, get))
    raise ValueError(f"claim {claim.id}: unknown needs {claim.needs!r}")


def with_ladder(ex: Example, ladder: tuple[int, ...]) -> Example:
    return replace(ex, d=ladder[0], ladder=tuple(ladder))
