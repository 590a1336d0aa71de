"""Q1 batch_size (open question 1) on hand-built batch grids (verdicts known by construction).

A cell (d, m) is a trajectory whose main-variant test error is 0.5 before the seed's T_ε
and 0 from T_ε on, read at the snapshots `snapshot_steps(horizon, 101)` (plus T_ε, so the
recorded T_ε is exact). `grid_from(n_star_fn, m_min_fn)` builds, per d, the grid
m ∈ {m_min/4, …, 8·m_min}: below m_min no seed ever reaches ε (too noisy), from m_min on
T_ε = n*(d)/m_min steps, so n(m) = m·T_ε is least at m = m_min: n*(d) is known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemmas.q1_batch_size import CLAIM, check, loglog_slope, samples_to_eps
from simulator import paper, parity3
from tests.support import panels
from tests.support.q1_grids import LADDER, R, cell, d_log2_d, grid_from
from tests.support.synthetic import make_trajectory


def test_samples_to_eps_reads_the_first_snapshot_at_eps():
    c = samples_to_eps(cell(32, 8, [50, None, 120, 7], horizon=1000, stop=False))
    assert c.m == 8 and c.horizon == 1000
    np.testing.assert_array_equal(np.isnan(c.n), [False, True, False, False])
    assert c.n[0] == 8 * 50 and c.n[2] == 8 * 120 and c.n[3] == 8 * 7
    assert c.lower == 8 * 1000
    assert not c.coarse.any()


def test_healthy_d_polylog_d_holds():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    v = check(g)
    assert v.status == "holds", v.reason
    ds = list(LADDER)
    expect = loglog_slope(ds, [max(1, round(d_log2_d(d) / (d // 4))) * (d // 4) for d in ds])
    assert v.stats["slope"] == pytest.approx(expect)
    assert 1.0 <= v.stats["slope"] <= 1.7
    assert v.stats["slope_lo"] == pytest.approx(expect) and v.stats["slope_hi"] == pytest.approx(expect)
    for d in ds:
        assert v.stats[f"argmin_m_median_d{d}"] == d // 4
        assert v.stats[f"n_star_over_dlog2d_d{d}"] == pytest.approx(1.0, rel=0.05)
        assert v.stats[f"m_min_d{d}"] == d // 16 and v.stats[f"m_max_d{d}"] == 2 * d
    for c in panels.curves(v.series["n_by_m"], "line"):
        assert list(c.x) == sorted(c.x)
    assert all(s["outcome"] == "pass" for s in v.per_seed)


def test_kernel_like_d_squared_fails():
    v = check(grid_from(lambda d: 0.5 * d**2, lambda d: d))
    assert v.status == "fails"
    assert v.stats["slope"] == pytest.approx(2.0, abs=0.01)
    assert "faster" in v.reason


def test_sublinear_growth_fails():
    v = check(grid_from(lambda d: 200 * math.log(d), lambda d: 4))
    assert v.status == "fails"
    assert v.stats["slope"] < 1.0 and "slower than linear" in v.reason


def test_seed_spread_gives_a_bootstrap_interval():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4, t_eps_jitter=(0.8, 1.0, 1.1, 1.3))
    v = check(g)
    assert v.status == "holds"
    assert v.stats["slope_lo"] <= v.stats["slope"] <= v.stats["slope_hi"]


def test_short_ladder_is_inconclusive():
    v = check(grid_from(lambda d: d_log2_d(d), lambda d: d // 4, ladder=(16, 32, 64, 128)))
    assert v.status == "inconclusive"
    assert "spans 8×" in v.reason
    assert 1.0 <= v.stats["slope"] <= 1.7  # still measured


def test_minority_of_never_reaching_seeds_counts_as_infinite():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    d, mm = 64, 16
    for m in [m for m in g[d] if m >= mm]:  # seed 3 never reaches ε at d = 64
        n = max(1, round(d_log2_d(d) / mm))
        g[d][m] = cell(d, m, [n, n, n, None], horizon=g[d][m].config.steps)
    v = check(g)
    assert v.status == "holds", v.reason
    assert v.stats["seeds_never_d64"] == 1
    assert v.per_seed[3]["outcome"] == "na"


def test_majority_never_reaching_is_inconclusive_and_names_the_paper_regime():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    d = 16  # m_paper(16) = 123, T_paper(16) = 256: the m = 128 cell runs 300 steps and fails
    g[d] = {m: cell(d, m, [None] * R, horizon=300 if m == 128 else 50) for m in (4, 8, 16, 32, 128)}
    v = check(g)
    assert v.status == "inconclusive"
    assert "d = 16" in v.reason and "cannot be measured" in v.reason
    assert "paper regime itself fails" in v.reason


def test_majority_never_reaching_with_short_horizons_does_not_blame_the_paper_regime():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    g[16] = {m: cell(16, m, [None] * R, horizon=50) for m in (4, 8, 16, 32, 128)}
    v = check(g)
    assert v.status == "inconclusive" and "paper regime" not in v.reason


def test_argmin_at_the_largest_batch_is_inconclusive():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4, factors=(0.25, 0.5, 1))
    v = check(g)
    assert v.status == "inconclusive"
    assert "top edge" in v.reason


def test_argmin_at_the_smallest_batch_above_one_is_inconclusive():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4, factors=(1, 2, 4))
    v = check(g)
    assert v.status == "inconclusive"
    assert "bottom edge" in v.reason


def test_argmin_at_batch_one_is_bracketed():
    g = grid_from(lambda d: 30 * d, lambda d: 1, factors=(1, 2, 4, 8))
    v = check(g)
    assert v.status == "holds", v.reason
    assert v.stats["slope"] == pytest.approx(1.0, abs=1e-9)
    assert v.stats["argmin_at_m1_seeds_d64"] == R
    assert "m = 1" in v.reason


def test_censored_seeds_are_unevaluable():
    # at d = 64 the m = 8 run (below m_min = 16) stopped at step 10: n(8) > 80 only, below n* ≈ 1100
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    g[64][8] = cell(64, 8, [None] * R, horizon=10)
    v = check(g)
    assert v.status == "inconclusive"
    assert "censored" in v.reason and v.stats["seeds_unevaluable_d64"] == R


def test_coarse_resolution_is_unevaluable():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    d, mm = 32, 8
    n = max(1, round(d_log2_d(d) / mm))
    # snapshots only at 0, the horizon/2 and T_ε: a gap ≫ 1% of the horizon before T_ε
    c = g[d][mm]
    horizon = c.config.steps
    cfg = c.config
    snaps = [0, n]
    err = np.array([[0.5] * R, [0.0] * R])
    g[d][mm] = make_trajectory(cfg, T=n, snap_steps=snaps, test_err_count=(err * cfg.test_size)[:, :, None])
    assert n > math.ceil(0.01 * horizon)
    v = check(g)
    assert v.status == "inconclusive"
    assert "coarser" in v.reason


def test_bad_inputs_raise():
    g = grid_from(lambda d: d_log2_d(d), lambda d: d // 4)
    with pytest.raises(ValueError, match="empty"):
        check({})
    bad = {**g, 32: {**g[32], 8: g[64][16]}}
    with pytest.raises(ValueError, match="holds a run"):
        check(bad)
    other = cell(32, 4, [None] * R, horizon=100, seed=100)
    with pytest.raises(ValueError, match="same seeds"):
        check({**g, 32: {**g[32], 4: other}})


def test_claim_record_and_serialisable_verdict():
    assert CLAIM.id == "Q1" and CLAIM.needs == "batch_grid"
    assert CLAIM.applies(parity3(16)) is None and CLAIM.applies(paper(16)) is None
    v = check(grid_from(lambda d: d_log2_d(d), lambda d: d // 4))
    out = v.to_dict()
    assert out["status"] == "holds"
    assert len(panels.median(v.series["n_star"]).x) == len(LADDER)
    assert out["series"]["n_star"]["kind"] == "panel" and out["series"]["n_star"]["x_scale"] == "log2"


def test_an_interval_straddling_the_band_is_inconclusive_whatever_the_point_estimate():
    """Median n* = 30·d exactly (slope 1.0, on the band's end) but the seeds' slopes spread around it:
    the interval straddles 1.0, so no verdict (a point-estimate rule would say holds)."""
    flat = (1.0, 1.0, 1.0, 1.0)
    spread = {16: flat, 32: flat, 64: (0.9, 0.95, 1.05, 1.1), 128: (0.8, 0.9, 1.1, 1.2), 256: (0.7, 0.85, 1.15, 1.3)}
    g = {d: grid_from(lambda d: 30 * d, lambda d: 4, ladder=(d,), t_eps_jitter=j)[d] for d, j in spread.items()}
    v = check(g)
    assert v.stats["slope"] == pytest.approx(1.0, abs=0.01)
    assert v.stats["slope_lo"] < 1.0 < v.stats["slope_hi"]
    assert v.status == "inconclusive" and "straddles the band's end 1" in v.reason


def test_reports_the_argmin_against_the_theorem_batch_and_budget():
    v = check(grid_from(lambda d: d_log2_d(d), lambda d: d // 4))
    for d in LADDER:
        hyper = paper(d).replace(seeds=1)
        assert v.stats[f"argmin_over_m_paper_d{d}"] == pytest.approx((d // 4) / hyper.m)
        assert v.stats[f"n_star_over_budget_d{d}"] == pytest.approx(v.stats[f"n_star_d{d}"] / (hyper.m * hyper.steps))
