"""Trend items through the plan, on a stand-in engine whose violation is known at every d.

The stand-in returns, for whatever config the plan asks for, a short hand-built run of that
config in which every neuron is signal-heavy from step 8 on, except that from step 15 on the
signal-heavy mass S_t is 1 - v(d): C3's violation statistic is then v(d) exactly, on every seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS, registry
from lemmas.plan import PROFILES
from lemmas.trends import PERSISTS, VANISHES, profile_trends, trend_claims, trend_item
from simulator import RunConfig
from tests.support.synthetic import make_trajectory

T, T1, DROP = 30, 8, 15
LADDER = (16, 32, 64)


def stand_in(violation_of_d):
    """get(cfg) -> Trajectory: S_t = 0 before T1, 1 from T1, 1 - v(d) from DROP on (v = violation_of_d(d))."""
    asked: list[RunConfig] = []

    def get(cfg: RunConfig):
        asked.append(cfg)
        short = cfg.replace(steps=T, snapshots=2)
        R, P = short.seeds, short.p
        v = violation_of_d(short.d)
        a = np.ones((T, R, 1, P))
        heavy = np.zeros((T, R, 1, P), dtype=bool)
        heavy[T1:] = True
        heavy[DROP:, ..., 0] = False  # neuron 0 turns light, carrying share v of the output mass:
        # mass_k = |a_k|·‖w_k‖, heavy neurons have ‖w‖ = √101, the light one ‖w‖ = 1 (w_perp only)
        light_mass = v / (1 - v) * (P - 1) * math.sqrt(101) if v > 0 else 0.0
        a[DROP:, ..., 0] = light_mass
        s = np.where(heavy, 10.0, 0.0)
        w_coords = np.zeros((T, R, 1, P, 2))
        w_coords[..., 0], w_coords[..., 1] = s / math.sqrt(2), -s / math.sqrt(2)
        snap_W = np.zeros((2, R, 1, P, short.d))
        snap_W[..., 2] = 1.0
        snap_W[-1, ..., 1:, 0], snap_W[-1, ..., 1:, 1] = 10 / math.sqrt(2), -10 / math.sqrt(2)
        snap_a = np.ones((2, R, 1, P))
        snap_a[-1, ..., 0] = light_mass
        return make_trajectory(
            short, T=T, snap_steps=[0, T], a=a, w_perp=1.0, w_coords=w_coords, snap_a=snap_a, snap_W=snap_W
        )

    get.asked = asked  # type: ignore[attr-defined]
    return get


C3 = registry()["C3"]


def test_stand_in_gives_the_asked_violation():
    get = stand_in(lambda d: 0.5)
    from lemmas.plan import Example, claim_trajectory

    stat = C3.violation(claim_trajectory(C3, Example("paper", d=16, seeds=4), get))
    assert stat == pytest.approx(np.full(4, 0.5))


def test_violation_that_does_not_shrink_persists():
    """The honest-results rule: a violation constant in d (0.5 > ζ at every d) must read 'persists'."""
    tv = trend_item(C3, "paper", LADDER, 4, stand_in(lambda d: 0.5))
    assert tv.status == PERSISTS, tv.reason
    assert tv.exponent == pytest.approx(0.0, abs=1e-9) and math.isinf(tv.crossing_d)


def test_violation_that_shrinks_vanishes_and_reads_the_plan_runs():
    get = stand_in(lambda d: 4.0 / d)
    tv = trend_item(C3, "paper", LADDER, 4, get)
    assert tv.status == VANISHES, tv.reason
    assert tv.exponent == pytest.approx(-1.0, abs=1e-6)
    assert [c.d for c in get.asked] == list(LADDER)  # one run per rung: the per-run bundle at that d
    assert all(c.seeds == 4 for c in get.asked)


def test_trend_claims_and_profiles():
    assert [c.id for c in trend_claims()] == ["C1", "C3", "C4", "C5", "C6"]
    for name in ("quick", "certify", "certify-gpu", "certify-large"):  # ≥ trend_min_rungs rungs spanning ≥ 8×
        ladder = PROFILES[name].trend_ladder
        assert len(ladder) >= THRESHOLDS.trend_min_rungs and list(ladder) == sorted(set(ladder))
        assert ladder[-1] >= 8 * ladder[0]
        assert len(PROFILES[name].trend_regimes) >= 3 and "paper" in PROFILES[name].trend_regimes


def test_bad_trend_requests_are_clear_errors():
    get = stand_in(lambda d: 0.5)
    with pytest.raises(ValueError, match="no violation statistic"):
        trend_item(registry()["C9"], "paper", LADDER, 4, get)
    with pytest.raises(ValueError, match="not defined in regime 'parity3'"):
        trend_item(C3, "parity3", LADDER, 4, get)
    with pytest.raises(ValueError, match="strictly increasing"):
        trend_item(C3, "paper", (32, 16, 64), 4, get)
    with pytest.raises(ValueError, match="no trend reading for \\['C9'\\]"):
        profile_trends("quick", get, claims=["C9"])
    with pytest.raises(ValueError, match="no trend items in profile 'quick'"):
        profile_trends("quick", get, regimes=["parity3"])
    assert get.asked == []  # every error before any run
