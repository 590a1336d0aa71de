"""The sequential rule (lemmas.sequential): exact OC, a Monte Carlo check of it, decisions, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemmas.base import Thresholds
from lemmas.sequential import SprtDesign, decide, operating_characteristic

DESIGN = SprtDesign.from_thresholds(Thresholds())
# Wald's bounds on the error rates, which the batched and capped rule must respect.
FALSE_FAIL_BOUND = DESIGN.alpha / (1 - DESIGN.beta)
FALSE_HOLD_BOUND = DESIGN.beta / (1 - DESIGN.alpha)


@pytest.mark.parametrize("rate", [0.0, DESIGN.delta0, Thresholds().delta, DESIGN.delta1, 0.5])
def test_oc_is_a_distribution(rate: float) -> None:
    op = operating_characteristic(DESIGN, rate)
    assert op.p_holds + op.p_fails + op.p_undecided == pytest.approx(1.0, abs=1e-12)
    assert DESIGN.batch <= op.expected_seeds <= DESIGN.cap


def test_error_rates_within_stated_bounds() -> None:
    assert operating_characteristic(DESIGN, DESIGN.delta0).p_fails <= FALSE_FAIL_BOUND
    assert operating_characteristic(DESIGN, DESIGN.delta1).p_holds <= FALSE_HOLD_BOUND
    assert operating_characteristic(DESIGN, 0.0).p_holds == pytest.approx(1.0)
    assert operating_characteristic(DESIGN, 0.5).p_fails == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("rate", [DESIGN.delta0, 0.1, DESIGN.delta1])
def test_monte_carlo_agrees_with_dp(rate: float) -> None:
    trials = 4000
    rng = np.random.default_rng(12345)
    counts = {"holds": 0, "fails": 0, "undecided": 0}
    seeds = 0
    for _ in range(trials):
        d = decide(list(rng.random(DESIGN.cap) < rate), DESIGN)
        counts[d.status] += 1
        seeds += d.seeds_used
    op = operating_characteristic(DESIGN, rate)
    for status, p in (("holds", op.p_holds), ("fails", op.p_fails), ("undecided", op.p_undecided)):
        se = math.sqrt(max(p * (1 - p), 1e-4) / trials)  # binomial standard error of the MC share
        assert abs(counts[status] / trials - p) <= 4 * se, status
    # expected seeds: the seed count is bounded by the cap, so its sd ≤ cap/2
    assert abs(seeds / trials - op.expected_seeds) <= 4 * (DESIGN.cap / 2) / math.sqrt(trials)


def test_clean_sequence_holds_at_first_possible_look() -> None:
    d = decide([False] * 16, DESIGN)
    assert (d.status, d.seeds_used, d.failures) == ("holds", 16, 0)
    assert d.llr <= d.lower
    assert d.interval[0] == 0.0 and d.interval[1] < 0.25
    assert d.false_hold_at_delta1 <= FALSE_HOLD_BOUND


def test_many_failures_fail_at_first_batch() -> None:
    d = decide([True] * 4 + [False] * 4 + [False] * 8, DESIGN)
    assert (d.status, d.seeds_used) == ("fails", 8)
    assert d.llr >= d.upper
    assert d.power_at_delta1 >= 1 - FALSE_HOLD_BOUND


def test_borderline_rate_is_undecided_at_cap() -> None:
    # one failure in every 8 seeds (12.5%): inside the indifference zone for all 64 seeds
    outcomes = ([True] + [False] * 7) * (DESIGN.cap // 8)
    d = decide(outcomes, DESIGN)
    assert (d.status, d.seeds_used, d.failures) == ("undecided", DESIGN.cap, DESIGN.cap // 8)
    assert d.lower < d.llr < d.upper
    assert d.more_seeds > 0 and d.more_seeds % DESIGN.batch == 0


def test_short_sequence_continues() -> None:
    d = decide([False] * 8, DESIGN)
    assert d.status == "continue" and d.more_seeds == 8


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"delta0": 0.3, "delta1": 0.2}, "delta0"),
        ({"delta1": 1.0}, "delta1"),
        ({"alpha": 0.5}, "alpha"),
        ({"beta": 0.0}, "beta"),
        ({"batch": 0}, "batch"),
        ({"cap": 4}, "cap"),
    ],
)
def test_bad_design_raises(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SprtDesign(**kwargs)  # type: ignore[arg-type]
