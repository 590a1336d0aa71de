"""Hand-built Q1 batch grids (verdicts known by construction), shared by Q1's unit and mutant tests.

A cell (d, m) is a trajectory whose main-variant test error is 0.5 before the seed's T_ε
and 0 from T_ε on, read at the snapshots `snapshot_steps(horizon, 101)` (plus T_ε, so the
recorded T_ε is exact). `grid_from(n_star_fn, m_min_fn)` builds, per d, the grid
m ∈ {m_min/4, …, 8·m_min}: below m_min no seed ever reaches ε (too noisy), from m_min on
T_ε = n*(d)/m_min steps, so n(m) = m·T_ε is least at m = m_min: n*(d) is known exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from lemmas.base import THRESHOLDS
from simulator import RunConfig
from simulator.trajectory import snapshot_steps
from tests.support.synthetic import make_trajectory

R = 4
LADDER = (16, 32, 64, 128, 256)


def cell(
    d: int,
    m: int,
    t_eps: Sequence[int | None],
    horizon: int,
    stop: bool = True,
    extra_snaps: Sequence[int] = (),
    seed: int = 0,
):
    """One (d, m) run: seed r reaches ε at step t_eps[r] (None, or beyond the horizon: never)."""
    t_eps = [t if t is not None and t <= horizon else None for t in t_eps]
    cfg = RunConfig(
        d=d,
        p=2,
        m=m,
        eta=0.1,
        theta=0.1,
        steps=horizon,
        seeds=len(t_eps),
        seed=seed,
        device="cpu",
        snapshots=101,
        stop_error=THRESHOLDS.eps if stop else 0.0,
    )
    snaps = set(snapshot_steps(horizon, 101)) | {t for t in t_eps if t is not None} | set(extra_snaps)
    T = horizon
    if stop and all(t is not None for t in t_eps):  # stopped early once every seed is at ε
        T = max(t_eps)
    snaps = sorted(s for s in snaps if s <= T)
    err = np.array([[0.0 if t is not None and s >= t else 0.5 for t in t_eps] for s in snaps])
    traj = make_trajectory(cfg, T=T, snap_steps=snaps, test_err_count=(err * cfg.test_size)[:, :, None])
    if T < horizon:
        traj.meta["stopped_early"] = True
    return traj


def grid_from(
    n_star: Callable[[int], float],
    m_min: Callable[[int], int],
    ladder=LADDER,
    factors=(0.25, 0.5, 1, 2, 4, 8),
    t_eps_jitter=(1.0, 1.0, 1.0, 1.0),
    budget_factor=4,
):
    """d -> m -> cell with n(m) least at m_min(d), n(m_min) = n_star(d) (times the per-seed jitter)."""
    grid = {}
    for d in ladder:
        mm, n = m_min(d), n_star(d)
        budget = budget_factor * n * max(t_eps_jitter)
        rows = {}
        for f in factors:
            m = max(1, int(mm * f))
            horizon = math.ceil(budget / m)
            if m < mm:
                t = [None] * R
            else:
                t = [max(1, round(n / mm * j)) for j in t_eps_jitter]
            rows[m] = cell(d, m, t, horizon)
        grid[d] = rows
    return grid


def d_log2_d(d: int) -> float:
    return d * math.log(d) ** 2
