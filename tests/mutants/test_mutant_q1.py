"""Q1 (the least sample count over batch sizes) must fail when it grows like d² (the kernel rate).

Why the designated mutant is hand-built, not simulated: Q1 reads a d-ladder spanning
≥ 16× with a batch-size descent at every d. Measured on this machine (1 torch thread,
shared CPU, 4 seeds, the harness's descent continued while nothing reaches ε): d ∈ {8, 16}
50 s, d ∈ {32, 64} 121 s, d = 128 183 s (14 runs, m = 6028 … 1); so a ladder {8, …, 128}
costs ~6 min and {16, …, 256} an estimated 10–15 min — and a genuinely d²-sample broken
variant (e.g. η ∝ 1/d, so T_ε ∝ d·polylog d steps even at m = 1) needs ~10⁵ steps at
d = 128 alone.
Far beyond a mutant test's ~15 s. So the mutant is the check fed a grid whose n*(d) ∝ d²
by construction (n(m) least at m ∝ d, T_ε ∝ d steps there; smaller batches never reach ε),
built exactly like the trajectories a run records (test error at the snapshots of a
101-point uniform grid, early stop at ε). A second, real-simulation test runs the check on
two real runs at d = 32 and prints what it reads (it must be inconclusive: one d, and the
arg-min at the grid's bottom edge).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lemmas.base import THRESHOLDS
from lemmas.q1_batch_size import check, samples_to_eps
from simulator import paper, run
from tests.support.q1_grids import LADDER, d_log2_d, grid_from


def test_kernel_rate_d_squared_fails():
    v = check(grid_from(lambda d: 0.25 * d**2, lambda d: d // 2))
    print("\nQ1 mutant n* ∝ d²:", v.summary())
    assert v.status == "fails"
    assert v.stats["slope"] > THRESHOLDS.q1_slope[1]


def test_kernel_rate_with_polylog_factor_fails():
    v = check(grid_from(lambda d: d**2 * math.log(d), lambda d: d // 2))
    assert v.status == "fails"


def test_healthy_shape_holds():
    v = check(grid_from(d_log2_d, lambda d: max(1, d // 16)))
    print("\nQ1 d log² d grid over", LADDER, ":", v.summary())
    assert v.status == "holds"


def test_real_runs_are_read_consistently():
    torch.set_num_threads(1)
    d = 32
    base = paper(d, seeds=4, device="cpu", snapshots=101, stop_error=THRESHOLDS.eps, test_size=2000)
    grid = {d: {m: run(base.replace(m=m, steps=h)) for m, h in ((4, 700), (8, 450))}}
    for m, traj in grid[d].items():
        cell = samples_to_eps(traj)
        err = traj.test_error()
        hit = err <= THRESHOLDS.eps
        expect = np.where(hit.any(0), m * traj.snap_steps[hit.argmax(0)], np.nan)
        np.testing.assert_array_equal(cell.n, expect)
        print(f"\nQ1 real d={d} m={m}: ran {traj.steps}/{traj.config.steps} steps, n(m) per seed = {cell.n}")
    v = check(grid)
    print("Q1 real grid at one d:", v.summary())
    assert v.status == "inconclusive"
    assert "spans 1×" in v.reason
