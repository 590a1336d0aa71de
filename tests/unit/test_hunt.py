"""The hunt profile searches and shrinks: in the style of hypothesis' own `minimal(...)` tests, a search
for a counterexample of a synthetic claim must end on the smallest example that still fails (smallest d,
then width, then seed), and one on a real failing cell (C1 under large_init) on the smallest d drawn."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, Claim, Verdict, registry
from lemmas.hunt import Counterexample, is_counterexample, observe, search, slack
from lemmas.plan import PROFILES, Example
from lemmas.report import KeyStat
from simulator import RunConfig

HUNT = replace(PROFILES["hunt"], derandomize=True)  # the hunt, reproducible in tests (as hypothesis' own `minimal`)


def synthetic(fails: Any, key_stats: tuple[KeyStat, ...] = (KeyStat("seed", "seed", "<", "seed_max"),)) -> Claim:
    """A per-run claim whose verdict is `fails(cfg)` on the config it is handed (the fake get hands it the
    config itself: nothing is simulated)."""

    def check(cfg: RunConfig) -> Verdict:
        status = FAILS if fails(cfg) else HOLDS
        return Verdict("X1", status, "synthetic", {"seed": float(cfg.seed)}, {"seed_max": 1000.0})

    return Claim("X1", "synthetic", "a synthetic claim", "-", "-", check, key_stats=key_stats)


def identity(cfg: RunConfig) -> RunConfig:
    return cfg


def width_of(cfg: RunConfig) -> int:
    """The example's width: p = width · ⌈1/ψ⌉ (lemmas.plan.base_config)."""
    from simulator import paper_hyper

    return cfg.p // paper_hyper(cfg.d).p


def test_shrinks_to_the_smallest_seed_that_fails() -> None:
    found = search(synthetic(lambda cfg: cfg.seed >= 1000), "paper", HUNT, identity)
    assert found is not None and found.status == FAILS
    ex = Example.from_dict(found.example)
    assert (ex.d, ex.width, ex.seed) == (16, 1, 1000)  # the smallest d and width drawn, the first failing seed
    assert found.command == ex.command("X1") and "--seed 1000" in found.command
    assert found.slack == 0.0  # seed = 1000 against seed < 1000: on the threshold


def test_shrinks_d_before_width_before_seed() -> None:
    """Fails only from d = 64 on, at a width ≥ 2 and an odd seed: the minimal example is exactly that."""
    claim = synthetic(lambda cfg: cfg.d >= 64 and width_of(cfg) >= 2 and cfg.seed % 2 == 1)
    found = search(claim, "paper", replace(HUNT, max_examples=200), identity)
    assert found is not None
    ex = Example.from_dict(found.example)
    assert (ex.d, ex.width, ex.seed) == (64, 2, 1)


def test_a_search_that_finds_nothing_returns_none_and_targets_every_example() -> None:
    seen: list[tuple[Example, Verdict]] = []
    found = search(
        synthetic(lambda cfg: False),
        "paper",
        replace(HUNT, max_examples=10),
        identity,
        each=lambda e, v: seen.append((e, v)),
    )
    assert found is None and len(seen) >= 10
    assert {v.status for _, v in seen} == {HOLDS}


def test_only_a_failing_verdict_is_a_counterexample() -> None:
    undecided = Verdict("X1", HOLDS, "")
    undecided.status = "undecided"  # the sequential rule's fourth status: not a counterexample
    assert [is_counterexample(Verdict("X1", s, "")) for s in (HOLDS, FAILS, INCONCLUSIVE)] == [False, True, False]
    assert not is_counterexample(undecided)


def test_observe_raises_with_the_reproduce_command() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    claim = synthetic(lambda cfg: True)
    ex = Example("paper", 32, seed=7)

    @given(st.just(ex))
    def run(e: Example) -> None:
        observe(claim, e, claim.check(RunConfig(32, 1, 1, 0.1, 0.1, 1, seed=7)))

    with pytest.raises(Counterexample, match=r"X1 in paper fails on regime=paper d=32") as info:
        run()
    assert info.value.found.command == ex.command("X1")


def test_slack_is_the_worst_key_statistic_in_threshold_units() -> None:
    stats = (KeyStat("a", "a", "<=", "a_max"), KeyStat("b", "b", ">=", "b_min"))
    claim = replace(synthetic(lambda cfg: False), key_stats=stats)
    v = Verdict("X1", HOLDS, "", {"a": 0.5, "b": 3.0}, {"a_max": 1.0, "b_min": 2.0})
    assert slack(claim, v) == pytest.approx(0.5)  # min((1 - 0.5)/1, (3 - 2)/2)
    v = Verdict("X1", FAILS, "", {"a": 3.0, "b": 3.0}, {"a_max": 1.0, "b_min": 2.0})
    assert slack(claim, v) == pytest.approx(-2.0)  # violated by twice the threshold
    assert slack(claim, Verdict("X1", INCONCLUSIVE, "not defined here")) is None  # nothing measured
    fallback = replace(claim, key_stats=())  # no key statistics: the share of failing seeds against δ
    assert slack(fallback, Verdict("X1", HOLDS, "", {"fail_rate": 0.05}, {"delta": 0.1})) == pytest.approx(0.5)


@pytest.mark.slow
def test_hunt_finds_c1_under_large_init_and_shrinks_to_the_smallest_d(tmp_path: Path) -> None:
    """C1 fails under large_init (θ = 1) at d = 16 and 32 on every seed (measured: 8/8 seeds, T2 < T1): the
    search finds it and shrinks to the smallest d of its range, width 1 and seed 0. ~15-40 s on one core."""
    from simulator.cache import TrajectoryCache

    prof = replace(HUNT, name="hunt-c1", ds=(16, 32), widths=(1, 2), seeds=4, max_examples=5)
    found = search(registry()["C1"], "large_init", prof, TrajectoryCache(tmp_path).get_or_run)
    assert found is not None and found.status == FAILS
    assert (found.example["d"], found.example["width"], found.example["seed"]) == (16, 1, 0)
    assert found.slack is not None and found.slack < 0  # max|h'+1| up to T1 above ζ
    assert found.command.startswith("python -m lemmas check C1 --regime large_init --d 16 --width 1 --seed 0")


@pytest.mark.slow
def test_the_hunt_profile_fails_the_item_and_records_the_minimal_counterexample(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`pytest --xorcert --hypothesis-profile hunt` on C1 × large_init (a real certification in a subprocess):
    the item fails with the counterexample and its reproduce command, and the certificate's item carries it."""
    import json

    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XORCERT_CACHE", str(tmp_path / "cache"))
    res = pytester.runpytest_subprocess(
        "--xorcert", "-p", "no:cacheprovider", "--hypothesis-profile", "hunt", "--claims", "C1",
        "--regimes", "large_init", timeout=600,
    )  # fmt: skip
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*Counterexample: C1 in large_init fails on regime=large_init d=16 width=1 seed=0*"])
    cert = json.loads((pytester.path / "reports" / "out" / "certificate.json").read_text())
    (item,) = cert["items"].values()
    assert item["counterexample"]["command"].startswith("python -m lemmas check C1 --regime large_init --d 16")
    assert "Counterexamples found by hunt" in (pytester.path / "reports" / "out" / "index.html").read_text()
