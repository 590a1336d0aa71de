"""The sequential rule (lemmas.sequential): exact OC, a Monte Carlo check of it, decisions, validation."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from lemmas import plan
from lemmas.base import Claim, Thresholds, Verdict, seed_outcome, verdict_from_seeds
from lemmas.sequential import SprtDesign, attained_error, decide, example_verdict, holm, operating_characteristic
from tests.support.synthetic import make_trajectory

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
        ({"cap": 15}, "cap"),  # below the 16 seeds a clean sequence needs to reach 'holds'
    ],
)
def test_bad_design_raises(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SprtDesign(**kwargs)  # type: ignore[arg-type]


def test_first_look_is_computed_from_the_boundaries() -> None:
    """16 = the fewest whole batches of 8 in which 0 failures cross B (13 passing seeds)."""
    assert DESIGN.first_look == 16
    assert 13 * DESIGN.pass_step <= DESIGN.lower < 12 * DESIGN.pass_step
    assert decide([False] * 8, DESIGN).status == "continue"


def test_attained_error_is_a_valid_p_value() -> None:
    """At δ₀ the chance of a 'fails' decision with attained error ≤ x is ≤ x (and at δ₁ for 'holds'), by
    Monte Carlo; a decision's attained error never exceeds the design's error rate."""
    rng = np.random.default_rng(7)
    for rate, status in ((DESIGN.delta0, "fails"), (DESIGN.delta1, "holds")):
        ps = []
        for _ in range(4000):
            d = decide(list(rng.random(DESIGN.cap) < rate), DESIGN)
            ps.append(attained_error(DESIGN, d.seeds_used, d.failures, d.status) if d.status == status else 1.0)
        for x in (0.005, 0.01, 0.02):
            share = np.mean(np.asarray(ps) <= x)
            assert share <= x + 4 * math.sqrt(x / 4000), (status, x, share)
    assert attained_error(DESIGN, 16, 0, "holds") == pytest.approx(0.75**16)
    assert attained_error(DESIGN, 8, 4, "fails") < attained_error(DESIGN, 8, 3, "fails")
    op0, op1 = operating_characteristic(DESIGN, DESIGN.delta0), operating_characteristic(DESIGN, DESIGN.delta1)
    assert attained_error(DESIGN, 8, 3, "fails") <= op0.p_fails
    assert attained_error(DESIGN, 64, 4, "holds") <= op1.p_holds + 1e-12
    assert math.isnan(attained_error(DESIGN, 64, 8, "undecided"))


def test_holm_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, math.nan], 0.05) == [True, False, False, False]
    assert holm([0.001, 0.02, 0.03], 0.06) == [True, True, True]  # 0.001 ≤ 0.02, 0.02 ≤ 0.03, 0.03 ≤ 0.06
    assert holm([], 0.05) == []


# ---------------------------------------------------------------------------------------
# The plan decides a w.h.p. claim over batches of seeds
# ---------------------------------------------------------------------------------------


def seed_claim(fails: set[int], na: frozenset[int] = frozenset()) -> tuple[Claim, list[tuple[int, int]]]:
    """A ladder claim on one rung whose seed s fails iff s ∈ fails (na iff s ∈ na), and the (seed, seeds) of
    every batch the plan asked it for."""
    asked: list[tuple[int, int]] = []

    def check(runs: dict[int, Any]) -> Verdict:
        cfg = runs[16].config
        asked.append((cfg.seed, cfg.seeds))
        per_seed = []
        for s in range(cfg.seed, cfg.seed + cfg.seeds):
            rec = {"seed": s}
            per_seed.append({**rec, "outcome": "na"} if s in na else seed_outcome(rec, ["bad"] if s in fails else []))
        return verdict_from_seeds("C98", per_seed, {"x": 1.0}, {}, what="seeds behave")

    return Claim("C98", "seeds", "t", "a", "s", check=check, needs="ladder"), asked


def decide_example(
    fails: set[int], na: frozenset[int] = frozenset(), seeds: int = 8, steps: Any = None
) -> tuple[Verdict, list, list]:
    """The plan's verdict on the stand-in claim, the (seed, seeds) it checked, and the runs it fetched."""
    claim, checked = seed_claim(fails, na)
    fetched: list[tuple[int, int]] = []

    def get(cfg: Any) -> Any:
        fetched.append((cfg.seed, cfg.seeds))
        return make_trajectory(cfg.replace(steps=8), T=steps(cfg.seed) if steps else 8, snap_steps=[0, 8])

    ex = plan.Example(regime="paper", d=16, seed=100, seeds=seeds, ladder=(16,))
    return plan.evaluate(claim, ex, get), checked, fetched


def test_clean_claim_holds_after_two_batches() -> None:
    v, checked, fetched = decide_example(set())
    assert checked == [(100, 8), (100, 16)]  # the second look reads both batches stacked
    assert sorted(set(fetched)) == [(100, 8), (108, 8)]  # the example's own run, then one more batch
    assert v.status == "holds" and v.stats["seeds_run"] == 16 and v.stats["seeds_failing"] == 0
    assert [s["seed"] for s in v.per_seed] == list(range(100, 116))
    assert v.stats["attained_error"] == pytest.approx(0.75**16)
    assert v.thresholds["delta1"] == DESIGN.delta1 and "max_failures" not in v.thresholds
    assert v.reason.startswith("seeds behave: 0/16 seeds fail") and "first 8 seeds" not in v.reason


def test_failing_claim_fails_after_one_batch() -> None:
    v, checked, _ = decide_example({100, 103, 105})
    assert checked == [(100, 8)] and v.status == "fails" and "e.g. seed 100" in v.reason


def test_borderline_claim_is_undecided_at_the_cap() -> None:
    v, checked, fetched = decide_example({s for s in range(100, 164) if s % 8 == 4})  # 1 in 8 fail: in the zone
    assert len(checked) == DESIGN.cap // 8 and checked[-1] == (100, DESIGN.cap) and v.status == "undecided"
    assert sorted(set(fetched)) == [(100 + 8 * j, 8) for j in range(DESIGN.cap // 8)]
    assert v.stats["seeds_run"] == DESIGN.cap and v.stats["more_seeds"] > 0
    assert "more seeds could decide it" in v.reason


def test_runs_of_other_lengths_are_checked_batch_by_batch() -> None:
    """Runs stopped at their own seeds' phases cannot be stacked: each batch is checked alone, the rule reads all."""
    v, checked, _ = decide_example(set(), steps=lambda seed: 4 + (seed // 8) % 2)
    assert checked == [(100, 8), (108, 8)] and v.status == "holds"
    assert "statistics and panels: the first 8 seeds" in v.reason


def test_stacked_runs_are_the_batches_side_by_side() -> None:
    import simulator

    cfg = simulator.paper(16, seeds=5, device="cpu").replace(steps=3)
    parts = [make_trajectory(cfg.replace(seed=s, seeds=n), a=float(s)) for s, n in ((0, 2), (2, 3))]
    both = plan.stack_seeds(cfg, parts)
    assert both.config.seeds == 5 and both.arrays["a"].shape[1] == 5
    assert both.arrays["a"][0, :, 0, 0].tolist() == [0, 0, 2, 2, 2]
    assert both.arrays["snap_W"].shape[1] == 5 and both.arrays["snap_steps"].tolist() == [0, 3]
    with pytest.raises(plan.UnstackableRuns):
        plan.stack_seeds(cfg, [parts[0], make_trajectory(cfg.replace(seed=2, seeds=3), T=2, snap_steps=[0, 2])])


def test_a_larger_first_batch_is_looked_at_in_batches() -> None:
    """An example of 16 seeds (certify) is one run; the rule looks at its first 8 and its 16 seeds."""
    v, checked, _ = decide_example(set(), seeds=16)
    assert checked == [(100, 16)] and v.status == "holds"


def test_mostly_unevaluable_is_inconclusive_and_other_rules_are_untouched() -> None:
    v, _, _ = decide_example(set(), na=frozenset(range(100, 110)))
    assert v.status == "inconclusive"
    plain = Claim("C97", "p", "t", "a", "s", check=lambda runs: Verdict("C97", "holds", "pooled"), needs="ladder")
    ex = plan.Example(regime="paper", d=16, seed=0, seeds=8, ladder=(16,))
    assert plan.evaluate(plain, ex, lambda cfg: SimpleNamespace(config=cfg)).reason == "pooled"


def test_example_verdict_waits_for_a_look() -> None:
    claim, _ = seed_claim(set())
    first = claim.check({16: SimpleNamespace(config=SimpleNamespace(seed=0, seeds=8))})
    assert example_verdict([first], 8, DESIGN) is None  # 8 clean seeds: below the first look that can hold


# ---------------------------------------------------------------------------------------
# Confirming a contradiction of the record at the family level (lemmas.plan.confirm)
# ---------------------------------------------------------------------------------------
N_DECISIONS = 100
STRICT = DESIGN.confirming(N_DECISIONS, 0.05)


def test_the_confirming_design_divides_both_errors_by_the_family() -> None:
    assert STRICT.alpha == STRICT.beta == pytest.approx(0.05 / N_DECISIONS)
    assert STRICT.first_look == 40 and STRICT.cap == 80  # 33 clean seeds reach log(0.95/5e-4); twice that
    for rate, bound in ((STRICT.delta0, "p_fails"), (STRICT.delta1, "p_holds")):
        op = operating_characteristic(STRICT, rate)
        assert getattr(op, bound) <= 0.05 / N_DECISIONS / (1 - 0.05 / N_DECISIONS), (rate, op)
    with pytest.raises(ValueError, match="decisions must be >= 1"):
        DESIGN.confirming(0, 0.05)
    with pytest.raises(ValueError, match="family_alpha must lie in"):
        DESIGN.confirming(10, 0.5)


def confirm_example(fails: set[int], expected: str) -> tuple[Verdict, plan.Confirmation, list]:
    claim, checked = seed_claim(fails)

    def get(cfg: Any) -> Any:
        return make_trajectory(cfg.replace(steps=8), T=8, snap_steps=[0, 8])

    ex = plan.Example(regime="paper", d=16, seed=100, seeds=8, ladder=(16,))
    first = plan.evaluate(claim, ex, get)
    assert plan.contradicts(first, expected)
    return first, plan.confirm(claim, ex, get, first, expected, N_DECISIONS), checked


def test_a_clean_claim_recorded_as_failing_is_a_confirmed_flip() -> None:
    first, c, _ = confirm_example(set(), "fails")
    assert first.status == "holds" and first.stats["seeds_run"] == 16
    assert c.confirmed and not c.unconfirmed and c.verdict.status == "holds"
    assert c.verdict.stats["seeds_run"] == 40 and c.verdict.thresholds["alpha"] == pytest.approx(5e-4)
    assert "over 100 decisions: confirmed" in c.verdict.reason


def test_early_failures_that_do_not_last_are_not_a_flip() -> None:
    """3 of the first 8 fail (per example: fails), every later seed passes: at the family level the test
    goes on and reaches the record's holds."""
    first, c, _ = confirm_example({100, 101, 102}, "holds")
    assert first.status == "fails" and first.stats["seeds_run"] == 8
    assert not c.confirmed and not c.unconfirmed and c.verdict.status == "holds"
    assert "not confirmed: holds, as recorded" in c.verdict.reason


def test_a_contradiction_within_chance_at_the_family_level_is_unconfirmed() -> None:
    """3 of the first 8 fail, then one in 8: between the family-level boundaries at its cap."""
    fails = {100, 101, 102} | {s for s in range(108, 200) if s % 8 == 4}
    first, c, _ = confirm_example(fails, "holds")
    assert first.status == "fails"
    assert c.unconfirmed and not c.confirmed and c.verdict.status == "undecided"
    assert c.verdict.stats["seeds_run"] == STRICT.cap and "unconfirmed" in c.verdict.reason


def test_only_an_opposite_decision_contradicts() -> None:
    v = Verdict("C98", "holds", "r", {}, {}, whp="seeds behave")
    assert plan.contradicts(v, "fails") and not plan.contradicts(v, "holds")
    assert not plan.contradicts(v, "undecided") and not plan.contradicts(v, None)
    assert not plan.contradicts(Verdict("C98", "holds", "r", {}, {}), "fails")  # not a w.h.p. decision
