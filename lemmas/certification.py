"""The certification as a pytest test: every claim in every regime, on examples hypothesis draws.

`test_claim` is parametrized (by `lemmas.pytest_plugin`) with one item per (claim, regime), so
`pytest -n auto` spreads them over workers. It is collected from any test module that imports
it (xorcert's own test suite does) or, with `pytest --xorcert`, from this module in the
installed package. Its expected verdict comes from the baseline (--baseline,
default reports/baseline.json under the rootdir), for the active profile:

* expected `holds` (or `inconclusive`): every example must give exactly that;
* expected `fails` (at every d the cell records): a strict xfail — every example must give `fails`;
  one that holds is a flip;
* a per-d cell (`{"d=64": "fails", "d=128": "holds"}`): every example must give the status
  recorded for its d;
* no expected verdict (a regime, claim, profile or d the baseline does not know): the verdict
  is recorded as **new** and the item passes, unless --strict-baseline is given.

A w.h.p. decision (holds or fails) that contradicts the recorded decision is decided again at the
family level (`lemmas.plan.confirm`: the same sequential test at α = β = 0.05/N, N the run's
decisions, its seeds reused and more added): the contrary decision again is a flip; the recorded
one is none; undecided there is an *unconfirmed* contradiction — recorded (`confirmation` in the
entry) and listed by the gate, but the item passes — so a run's chance of any false flip is ≤ 5%.

Under a search profile (`hunt`, `Profile.search`) every verdict is also observed by
`lemmas.hunt.observe`: hypothesis targets the claim's slack, and a verdict that fails is a
`Counterexample` that hypothesis shrinks (smallest d, then width, then seed); the item fails with
the minimal one, which is attached to the item (`xorcert_counterexample`) for the certificate.

So a run is green exactly when every known verdict matches the baseline; a flip in either
direction fails with the claim, the regime, the example and the measured values against
their thresholds.

`test_trend` is the asymptotic reading beside the cells: one item per (claim with a violation
statistic, regime of the profile's `trend_regimes`), the claim's statistic on the profile's
`trend_ladder` with the profile's seeds from base seed 0 (`lemmas.trends.trend_item`), against the
trend the baseline records in the cell (its "trend" key: vanishes / persists / undecided). A trend
that differs is a flip; one the baseline does not know is new, as above.

Which examples: a derandomized profile draws from a seed fixed per (profile, regime, kind of
run the claim reads), so a rerun checks the baseline on the examples it was recorded on, and
the claims of a regime that read the same run share its cache entry. Changing what a profile
draws (lemmas/plan.py `PROFILES`) changes the examples: record the baseline again. Every
verdict is attached to the test report (`user_properties`, builtin types) for the report
plugin on the xdist controller.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, seed, settings
from hypothesis import strategies as st

from lemmas.base import FAILS, FAMILIES, THRESHOLDS, registry
from lemmas.hunt import Counterexample, observe, profile_settings
from lemmas.plan import Example, Profile, confirm, contradicts, evaluate, regime_imports, with_ladder
from lemmas.pytest_plugin import MISSING_PROPERTY, planning
from lemmas.trends import trend_item
from reports.baseline import expected_for, expected_statuses, expected_trend
from reports.baseline import load as load_baseline
from simulator.cache import NotCached

VERDICT_PROPERTY = "xorcert_verdict"
COUNTEREXAMPLE_PROPERTY = "xorcert_counterexample"  # a search profile's minimal counterexample (lemmas.hunt.Found)
TREND_PROPERTY = "xorcert_trend"  # a trend item's record (TrendVerdict.to_dict() under "trend")


class VerdictFlip(AssertionError):
    """A verdict differs from the baseline."""


class KnownFailure(AssertionError):
    """The claim fails here, as the baseline records (the strict-xfail outcome)."""


def expected_table(config: pytest.Config) -> dict[str, dict[str, dict[str, Any]]]:
    """profile -> claim -> regime -> expected status (or per-d statuses), from the baseline that
    reports.plugin resolved and checked at configure time (missing: no expectations)."""
    path = config.getoption("xorcert_baseline", default=None)
    if not path:
        return {}
    return load_baseline(Path(path), missing_ok=True)["profiles"]


def recorded_cell(config: pytest.Config, prof: Profile, cid: str, regime: str) -> Any:
    """The baseline's cell of (claim, regime) for the profile (None: not recorded)."""
    return expected_table(config).get(prof.name, {}).get(cid, {}).get(regime)


def decisions(config: pytest.Config) -> int:
    """N, the run's decisions (lemmas.pytest_plugin counts them at collection; 1 outside a collected run)."""
    from lemmas.pytest_plugin import DECISIONS

    return config.stash.get(DECISIONS, 1)


def choose_examples(test: Callable[..., None], prof: Profile, needs: str, regime: str) -> Callable[..., None]:
    """The hypothesis test with the profile's settings, its number of examples for this kind of
    claim and, for a derandomized profile, the seed fixed per (profile, kind of run, regime)."""
    family = needs in ("ladder", "batch_grid", *FAMILIES)  # one example is a whole ladder or family of runs
    base = profile_settings(prof)
    test = settings(base, max_examples=prof.ladder_examples if family else prof.max_examples)(test)
    if prof.derandomize:  # claims that read the same kind of run draw the same examples: one cache entry
        kind = "run" if needs == "gradient" else needs  # C7 reads the per-run bundle too
        test = seed(zlib.crc32(f"{prof.name}/{kind}/{regime}".encode()))(test)
    return test


def examples(needs: str, regime: str, prof: Profile) -> st.SearchStrategy[Example]:
    """Small values only, cheapest first; simulation happens in the test body.

    Drawn in the order d (or the ladder), width, seed, so that a search profile's shrinker (shortlex
    on the draws: a sampled value shrinks to the first, an integer to 0) reaches the smallest d, then
    width, then seed that still fails (lemmas.hunt)."""
    batches = prof.batches_for(regime)
    batch = st.sampled_from(batches) if batches else st.just("")
    ds = prof.ds_for(regime)
    if needs == "gradient":  # C7 is stated for d ≥ c7_min_d: drawn there where the profile has such a d
        ds = tuple(d for d in ds if d >= THRESHOLDS.c7_min_d) or ds
    base = st.builds(
        Example,
        regime=st.just(regime),
        d=st.sampled_from(ds),
        width=st.sampled_from(prof.widths),
        seed=st.integers(0, prof.max_seed),
        seeds=st.just(prof.seeds),
        batch=batch,
    ).filter(lambda e: e.width == 1 or e.d <= prof.wide_max_d)
    if needs == "ladder":  # a run per rung over the full horizon: at m = d where the regime draws m
        ladders = prof.ladders_for(regime)
        rung = base.map(lambda e: replace(e, seeds=prof.ladder_seeds_for(regime), batch="d" if e.batch else ""))
    elif needs == "batch_grid":
        ladders = prof.c10_ladders
        rung = base.map(lambda e: replace(e, seeds=prof.c10_seeds, width=1))
    elif needs in FAMILIES:  # a run per multiple of p or η, at the profile's first d (m = d where m is drawn)
        d0 = prof.ds_for(regime)[0]
        return base.map(lambda e: replace(e, d=d0, width=1, batch="d" if e.batch else ""))
    else:
        return base
    # the ladder first (its first rung is the example's d); one ladder is a `just`, which draws nothing
    return st.tuples(st.sampled_from(ladders), rung).map(lambda t: with_ladder(t[1], t[0]))


def test_claim(
    cid: str,
    regime: str,
    xorcert_profile: Profile,
    trajectories: Any,
    record_property: Any,
    pytestconfig: pytest.Config,
) -> None:
    """One (claim, regime) cell of the certification: every drawn example against the baseline."""
    prof = xorcert_profile
    cell = recorded_cell(pytestconfig, prof, cid, regime)
    strict = bool(pytestconfig.getoption("xorcert_strict_baseline", default=False))
    claim = registry()[cid]
    imports = regime_imports(regime)
    verdicts: list[dict[str, Any]] = []
    unexpected: list[dict[str, Any]] = []  # examples the baseline has no verdict for
    plan_mode = planning(pytestconfig)  # misses are recorded, not raised

    @given(ex=examples(claim.needs, regime, prof))
    def check_example(ex: Example) -> None:
        t0 = time.perf_counter()
        expected = expected_for(cell, ex.d)
        try:
            verdict = evaluate(claim, ex, trajectories)
            confirmation = None
            if contradicts(verdict, expected):  # a flip counts only when confirmed at the family level
                confirmation = confirm(claim, ex, trajectories, verdict, str(expected), decisions(pytestconfig))
                verdict = confirmation.verdict
        except NotCached as missing:
            if not plan_mode:
                raise
            record_property(MISSING_PROPERTY, _missing(missing, f"{cid}-{regime}"))
            return
        record = {
            "claim": cid,
            "regime": regime,
            "profile": prof.name,
            "example": ex.to_dict(),
            "expected": expected,
            "seconds": time.perf_counter() - t0,
            "verdict": verdict.to_dict(),
            "reproduce": ex.command(cid, imports),
        }
        if confirmation is not None:
            record["confirmation"] = {
                "first": confirmation.first,
                "decisions": confirmation.decisions,
                "confirmed": confirmation.confirmed,
                "unconfirmed": confirmation.unconfirmed,
            }
        if not verdicts or verdicts[-1]["example"] != record["example"]:  # hypothesis replays a failing example
            verdicts.append(record)
            record_property(VERDICT_PROPERTY, record)
            if expected is None:
                unexpected.append(record)
        note(verdict.summary())
        if prof.search:  # target the violation; a failing verdict is a counterexample to shrink
            observe(claim, ex, verdict, imports)
        if expected is not None and verdict.status != expected and not (confirmation and confirmation.unconfirmed):
            raise VerdictFlip(
                f"{cid} in {regime} flipped: expected {expected}, measured {verdict.status} on "
                f"{ex.describe()}\n  {verdict.summary()}\n  reproduce: {record['reproduce']}"
            )

    try:
        choose_examples(check_example, prof, claim.needs, regime)()
    except Counterexample as found:  # raised again by hypothesis on the minimal example
        record_property(COUNTEREXAMPLE_PROPERTY, found.found.to_dict())
        raise
    except NotCached as missing:
        pytest.fail(_require_message(missing), pytrace=False)
    if unexpected and strict:  # every example was run and recorded; the baseline has to say what to expect
        measured = "; ".join(
            f"{r['verdict']['status']} on d={r['example']['d']} seed={r['example']['seed']}" for r in unexpected
        )
        raise VerdictFlip(
            f"{cid} in {regime}: no expected verdict in the baseline for profile '{prof.name}'"
            + (f" ({cell})" if cell is not None else "")
            + f"; measured: {measured} "
            "(--strict-baseline; record it with --update-baseline)"
        )
    if expected_statuses(cell) == {FAILS}:
        raise KnownFailure(
            f"{cid} fails in {regime} as recorded ({len(verdicts)} example(s)); "
            + (verdicts[-1]["verdict"]["reason"] if verdicts else "")
        )


test_claim.xorcert_certification = True  # type: ignore[attr-defined]  # parametrized by lemmas.pytest_plugin


def test_trend(
    cid: str,
    regime: str,
    xorcert_profile: Profile,
    trajectories: Any,
    record_property: Any,
    pytestconfig: pytest.Config,
) -> None:
    """One trend item: does the claim's violation vanish over the profile's d-ladder in this regime?"""
    prof = xorcert_profile
    cell = recorded_cell(pytestconfig, prof, cid, regime)
    expected = expected_trend(cell)
    t0 = time.perf_counter()
    try:
        trend = trend_item(registry()[cid], regime, prof.trend_ladder, prof.seeds, trajectories)
    except NotCached as missing:
        if planning(pytestconfig):
            record_property(MISSING_PROPERTY, _missing(missing, f"{cid}-{regime}-trend"))
            return
        pytest.fail(_require_message(missing), pytrace=False)
    reproduce = f"python -m lemmas.trends --profile {prof.name} --claim {cid} --regime {regime}"
    record_property(
        TREND_PROPERTY,
        {
            "claim": cid,
            "regime": regime,
            "profile": prof.name,
            "expected": expected,
            "seconds": time.perf_counter() - t0,
            "trend": trend.to_dict(),
            "reproduce": reproduce,
        },
    )
    if expected is None:
        if pytestconfig.getoption("xorcert_strict_baseline", default=False):
            raise VerdictFlip(
                f"{cid} in {regime}: no expected trend in the baseline for profile '{prof.name}'; measured "
                f"{trend.summary()} (--strict-baseline; record it with --update-baseline)"
            )
        return
    if trend.status != expected:
        raise VerdictFlip(
            f"{cid} in {regime}: the trend flipped: expected {expected}, measured {trend.summary()}\n"
            f"  {trend.reason}\n  reproduce: {reproduce}"
        )


def _missing(e: NotCached, item: str) -> dict[str, Any]:
    """A plan-mode record of the runs an item asked for and the cache lacks (builtin types)."""
    return {"item": item, "keys": e.keys, "configs": [c.to_dict() for c in e.configs]}


def _require_message(e: NotCached) -> str:
    return (
        f"--require-cached: {e}; compute them first: python -m lemmas plan -o plan.json (same options), "
        "then python -m simulator sweep plan.json --cache-dir DIR"
    )


test_trend.xorcert_trend = True  # type: ignore[attr-defined]  # parametrized by lemmas.pytest_plugin
