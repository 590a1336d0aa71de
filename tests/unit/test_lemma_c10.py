"""C10 sample_complexity on hand-built ladders of the theorem's algorithm (verdicts known by construction)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c10_sample_complexity import CLAIM, check, extreme_exponents, residual_exponent, samples_to_eps
from simulator import paper
from tests.support import panels
from tests.support.c10_ladders import LADDER, ladder_from, rung, theorem_rate


def test_samples_to_eps_brackets_t_eps_by_the_snapshot_before() -> None:
    r = samples_to_eps(rung(64, [100, None, 0.5], exact=False))
    m = paper(64).m
    assert r.m == m and r.budget == m * paper(64).steps
    assert r.hi[0] == m * 106 and r.lo[0] == m * 88  # snapshots …, 88, 106, … of the T = 864 grid
    assert math.isinf(r.hi[1]) and math.isinf(r.lo[1])
    assert r.hi[2] == m * 1 and r.lo[2] == 0  # reached at the first snapshot after 0
    assert r.rel_gap[0] == pytest.approx(18 / 106)


def test_error_at_init_is_unevaluable() -> None:
    traj = rung(64, [0.0, 100])
    r = samples_to_eps(traj)
    assert np.isnan(r.hi[0]) and r.hi[1] == paper(64).m * 100


def test_residual_exponent_of_the_theorem_rate_is_zero() -> None:
    ds = [64, 128, 256, 1024]
    assert residual_exponent(ds, [3 * d * math.log(d) ** 5 for d in ds], 5) == pytest.approx(0.0, abs=1e-12)
    assert residual_exponent(ds, [d**2 * math.log(d) ** 5 for d in ds], 5) == pytest.approx(1.0, abs=1e-12)


def test_extreme_exponents_bound_every_choice_inside_the_brackets() -> None:
    """Monte Carlo: β of any points inside the brackets lies in [β_min, β_max] (500 draws, exact bound)."""
    rng = np.random.default_rng(0)
    ds = list(LADDER)
    hi = [d * math.log(d) ** 5 for d in ds]
    lo = [h * 0.85 for h in hi]
    bmin, bmax = extreme_exponents(ds, lo, hi, 5)
    assert bmin < 0 < bmax
    for _ in range(500):
        pick = [lo_ + rng.random() * (h - lo_) for lo_, h in zip(lo, hi)]
        assert bmin - 1e-12 <= residual_exponent(ds, pick, 5) <= bmax + 1e-12


def test_theorem_rate_holds() -> None:
    v = check(ladder_from(theorem_rate()))
    assert v.status == "holds", v.reason
    assert v.stats["log_power_k"] == 5
    assert abs(v.stats["beta"]) < 0.02
    assert v.stats["beta_lo"] <= v.stats["beta"] <= v.stats["beta_hi"]
    assert v.stats["slope_raw"] > 1.7  # the raw slope of n against d: log^5 d adds ≈ 0.9 on 64 … 1024
    for d in LADDER:
        assert v.stats[f"m_d{d}"] == paper(d).m
        assert v.stats[f"n_over_budget_d{d}"] == pytest.approx(1.7 / 12, rel=0.05)  # T_ε/T = q/κ
    assert all(s["outcome"] == "pass" for s in v.per_seed)
    assert len(panels.median(v.series["n_over_dlogk"]).x) == len(LADDER)


def test_snapshot_resolution_widens_the_interval() -> None:
    exact = check(ladder_from(theorem_rate()))
    coarse = check(ladder_from(theorem_rate(), exact=False))
    assert coarse.stats["beta_lo"] < exact.stats["beta_lo"] and coarse.stats["beta_hi"] > exact.stats["beta_hi"]
    assert coarse.stats["beta_resolution_lo"] <= coarse.stats["beta"] <= coarse.stats["beta_resolution_hi"]
    assert coarse.status == "holds", coarse.reason


def test_an_extra_factor_d_fails() -> None:
    v = check(ladder_from(lambda d: theorem_rate()(d) * d / 64, beyond_t=True))
    assert v.status == "fails" and "faster" in v.reason
    assert v.stats["beta_lo"] > THRESHOLDS.c10_exponent_band[1]


def test_pure_d_squared_is_not_told_apart_from_d_log5_d_on_this_ladder() -> None:
    """What a 16× ladder cannot see (module docstring): n ∝ d² (no log factor) gives β ≈ 0.08 against
    d·log^5 d over 64 … 1024, inside the band."""
    v = check(ladder_from(lambda d: 2 * d**2 / paper(d).m))
    assert v.stats["beta"] == pytest.approx(0.08, abs=0.03)
    assert v.status == "holds"


def test_straddling_interval_is_inconclusive() -> None:
    """β's point estimate 0.4 is inside the band but the seeds spread past 0.5: no verdict."""
    growth = {d: (d / 64) ** 0.4 for d in LADDER}
    spread = [0.75, 0.8, 0.9, 1.0, 1.0, 1.1, 1.25, 1.33]
    g = {d: rung(d, [theorem_rate()(d) * growth[d] * s ** math.log2(d / 64) for s in spread]) for d in LADDER}
    v = check(g)
    assert v.stats["beta_lo"] < 0.5 < v.stats["beta_hi"], v.reason
    assert v.status == "inconclusive" and "straddles the band's end 0.5" in v.reason


def test_few_seeds_or_a_short_ladder_are_inconclusive() -> None:
    v = check(ladder_from(theorem_rate(), jitter=(0.98, 1.0, 1.0, 1.02)))
    assert v.status == "inconclusive" and "4 seeds < 8" in v.reason
    assert abs(v.stats["beta"]) < 0.02  # still measured
    v = check(ladder_from(theorem_rate(), ladder=(16, 32, 64)))
    assert v.status == "inconclusive" and "spans 4×" in v.reason


def test_a_rung_where_most_seeds_never_reach_eps_is_inconclusive() -> None:
    g = ladder_from(theorem_rate())
    g[256] = rung(256, [None] * 5 + [300.0] * 3)
    v = check(g)
    assert v.status == "inconclusive" and "d = 256: 5/8 seeds never reach ε" in v.reason and "C9" in v.reason
    assert v.per_seed[0]["outcome"] == "na"


def test_a_minority_never_reaching_counts_as_infinite() -> None:
    g = ladder_from(theorem_rate())
    t = theorem_rate()(256)
    g[256] = rung(256, [None] + [t] * 7)
    v = check(g)
    assert v.status == "holds", v.reason
    assert v.stats["seeds_never_d256"] == 1


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="empty"):
        check({})
    g = ladder_from(theorem_rate(), ladder=(64, 128))
    with pytest.raises(ValueError, match="holds a run"):
        check({64: g[64], 256: g[128]})
    with pytest.raises(ValueError, match="same seeds"):
        check({64: g[64], 128: rung(128, [100.0] * 8, seed=5)})


def test_claim_record_and_serialisable_verdict() -> None:
    assert CLAIM.id == "C10" and CLAIM.needs == "ladder" and CLAIM.horizon == "phases"
    out = check(ladder_from(theorem_rate())).to_dict()
    assert out["status"] == "holds" and out["series"]["n"]["x_scale"] == "log2"
