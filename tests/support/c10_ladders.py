"""Hand-built C10 ladders (verdicts known by construction), shared by C10's unit and mutant tests.

A rung d is a paper-regime run (its m, η, steps; p = 2 to stay small) whose main-variant test
error is 0.5 before the seed's T_ε and 0 from T_ε on, read at the engine's snapshot grid
`snapshot_steps(T, 50)` plus (when `exact`) T_ε itself, so the recorded T_ε is exact and
n = m·T_ε is known. `ladder_from(t_eps)` takes T_ε(d) in steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from simulator import paper
from simulator.trajectory import Trajectory, snapshot_steps
from tests.support.synthetic import make_trajectory

LADDER = (64, 128, 256, 512, 1024)
JITTER = (0.94, 0.96, 0.98, 1.0, 1.0, 1.02, 1.04, 1.06)  # per-seed factors of T_ε (8 seeds)


def rung(d: int, t_eps: Sequence[float | None], exact: bool = True, seed: int = 0, steps: int = 0) -> Trajectory:
    """One rung: seed r reaches ε at step ⌈t_eps[r]⌉ (None, or beyond the horizon: never); the
    horizon is the paper's T unless `steps` is given."""
    cfg = paper(d, seeds=len(t_eps), seed=seed, device="cpu").replace(p=2)
    cfg = cfg.replace(steps=steps) if steps else cfg
    ts = [math.ceil(t) if t is not None and t <= cfg.steps else None for t in t_eps]
    snaps = set(snapshot_steps(cfg.steps, cfg.snapshots)) | ({t for t in ts if t is not None} if exact else set())
    snaps = sorted(snaps)
    err = np.array([[0.0 if t is not None and s >= t else 0.5 for t in ts] for s in snaps])
    return make_trajectory(cfg, T=cfg.steps, snap_steps=snaps, test_err_count=(err * cfg.test_size)[:, :, None])


def ladder_from(
    t_eps: Callable[[int], float],
    ladder: Sequence[int] = LADDER,
    jitter: Sequence[float] = JITTER,
    exact: bool = True,
    beyond_t: bool = False,
) -> dict[int, Trajectory]:
    """d -> rung with T_ε(d)·jitter[r] for seed r; `beyond_t`: each horizon long enough for every T_ε
    (a slower algorithm than the theorem's, run past the theorem's T)."""
    out = {}
    for d in ladder:
        ts = [t_eps(d) * j for j in jitter]
        out[d] = rung(d, ts, exact, steps=math.ceil(1.2 * max(ts)) if beyond_t else 0)
    return out


def theorem_rate(q: float = 1.7) -> Callable[[int], float]:
    """T_ε = q·log d/η steps: n = ⌈d/ψ⌉·T_ε ∝ d·log^5 d (C = 2), the theorem's rate."""
    return lambda d: q * math.log(d) / paper(d).eta
