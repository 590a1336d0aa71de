"""The certification: every claim in every regime, on examples hypothesis draws.

One pytest item per (claim, regime), so `pytest -n auto` spreads them over workers.
Its expected verdict comes from reports/baseline.json (for the active profile):

* expected `holds` (or `inconclusive`): every example must give exactly that;
* expected `fails`: a strict xfail — every example must give `fails`, and the item is
  reported as xfailed; an example that holds is a flip and fails the run;
* a per-d cell (`{"d=64": "fails", "d=128": "holds"}`: the verdict depends on the dimension):
  every example must give the status recorded for its d; an example at a d the cell does
  not list has no expected verdict.

So a run is green exactly when every verdict matches the baseline; a flip in either
direction fails with the claim, the regime, the example and the measured values against
their thresholds.

Which examples: a derandomized profile draws from a seed fixed per (profile, regime, kind of
run the claim reads), so editing this file never changes them, a rerun checks the baseline on
the examples it was recorded on, and the claims of a regime that read the same run share its
cache entry. Changing what a profile draws (tests/claims/profiles.py) changes the examples:
record the baseline again. Every verdict is attached to the test report (`user_properties`,
builtin types) for the report plugin on the xdist controller.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, seed, settings
from hypothesis import strategies as st

from lemmas.base import FAILS, registry
from reports.baseline import expected_for, load as load_baseline
from simulator import REGIME_CONSTRUCTORS

from .harness import Example, evaluate, with_ladder
from .profiles import Profile

CLAIMS = registry()
REGIMES = tuple(REGIME_CONSTRUCTORS)
BASELINE = Path(__file__).resolve().parents[2] / "reports" / "baseline.json"


class VerdictFlip(AssertionError):
    """A verdict differs from the baseline."""


class KnownFailure(AssertionError):
    """The claim fails here, as the baseline records (the strict-xfail outcome)."""


def baseline_path(config: pytest.Config) -> Path:
    """The baseline file: --baseline (resolved by reports.plugin), else reports/baseline.json."""
    opt = config.getoption("xorcert_baseline", default=None)
    return Path(opt) if opt else BASELINE


def load_expected(path: Path = BASELINE) -> dict[str, dict[str, dict[str, Any]]]:
    """profile -> claim -> regime -> expected status (or per-d statuses); reports.plugin has already
    refused a baseline that does not load."""
    return load_baseline(path, missing_ok=True)["profiles"]


def choose_examples(test, prof: Profile, cid: str, regime: str, base: settings | None = None):
    """The hypothesis test with the cell's number of examples and (a derandomized profile) its fixed seed.
    `base`: the hypothesis settings to start from (default: the loaded profile's)."""
    base = settings.default if base is None else base
    family = CLAIMS[cid].needs in ("ladder", "batch_grid")  # one example is a whole ladder of runs
    test = settings(base, max_examples=prof.ladder_examples if family else base.max_examples)(test)
    if base.derandomize:  # claims that read the same kind of run draw the same examples: one cache entry
        test = seed(zlib.crc32(f"{prof.name}/{CLAIMS[cid].needs}/{regime}".encode()))(test)
    return test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """(claim, regime) items; those the active profile's baseline expects to fail are strict xfails."""
    if metafunc.function.__name__ != "test_claim":
        return
    prof = metafunc.config.getoption("hypothesis_profile") or "quick"
    table = load_expected(baseline_path(metafunc.config)).get(prof, {})
    params = []
    for cid in CLAIMS:
        for regime in REGIMES:
            marks = []
            if table.get(cid, {}).get(regime) == FAILS:
                marks.append(pytest.mark.xfail(raises=KnownFailure, strict=True,
                                               reason=f"{cid} fails in {regime} (baseline, profile {prof})"))
            params.append(pytest.param(cid, regime, marks=marks, id=f"{cid}-{regime}"))
    metafunc.parametrize(("cid", "regime"), params)


def examples(cid: str, regime: str, prof: Profile) -> st.SearchStrategy[Example]:
    """Small values only, cheapest first; simulation happens in the test body."""
    claim = CLAIMS[cid]
    ds = prof.small_batch_ds if regime == "small_batch" else prof.ds
    batch = st.sampled_from(prof.small_batch_ms) if regime == "small_batch" else st.just("")
    base = st.builds(Example, regime=st.just(regime), d=st.sampled_from(ds), width=st.sampled_from(prof.widths),
                     seed=st.integers(0, prof.max_seed), seeds=st.just(prof.seeds), batch=batch
                     ).filter(lambda e: e.width == 1 or e.d <= prof.wide_max_d)
    if claim.needs == "ladder":  # a run per rung over the full horizon: small_batch's ladder runs at m = d
        ladders = prof.paper_ladders if regime == "paper" else prof.ladders
        rung = base.map(lambda e: replace(e, seeds=prof.ladder_seeds, batch="d" if e.batch else ""))
    elif claim.needs == "batch_grid":
        ladders = prof.c10_ladders
        rung = base.map(lambda e: replace(e, seeds=prof.c10_seeds, width=1))
    else:
        return base
    return st.tuples(rung, st.sampled_from(ladders)).map(lambda t: with_ladder(*t))


def test_claim(cid: str, regime: str, xorcert_profile: Profile, trajectories, record_property,
               pytestconfig: pytest.Config) -> None:
    baseline = baseline_path(pytestconfig)
    expected_all = load_expected(baseline)
    table = expected_all.get(xorcert_profile.name, {})
    cell = table.get(cid, {}).get(regime)
    claim = CLAIMS[cid]
    verdicts: list[dict] = []
    unexpected: list[dict] = []  # examples the baseline has no verdict for

    @given(ex=examples(cid, regime, xorcert_profile))
    def check_example(ex: Example) -> None:
        t0 = time.perf_counter()
        expected = expected_for(cell, ex.d)
        verdict = evaluate(claim, ex, trajectories)
        record = {"claim": cid, "regime": regime, "profile": xorcert_profile.name, "example": ex.to_dict(),
                  "expected": expected, "seconds": time.perf_counter() - t0, "verdict": verdict.to_dict()}
        if not verdicts or verdicts[-1]["example"] != record["example"]:  # hypothesis replays a failing example
            verdicts.append(record)
            record_property("xorcert_verdict", record)
            if expected is None:
                unexpected.append(record)
        note(verdict.summary())
        if expected is not None and verdict.status != expected:
            raise VerdictFlip(f"{cid} in {regime} flipped: expected {expected}, measured {verdict.status} on "
                              f"{ex.describe()}\n  {verdict.summary()}")

    choose_examples(check_example, xorcert_profile, cid, regime)()
    if unexpected:  # every example was run and recorded; the baseline has to say what to expect
        measured = "; ".join(f"{r['verdict']['status']} on d={r['example']['d']} seed={r['example']['seed']}"
                             for r in unexpected)
        raise VerdictFlip(f"{cid} in {regime}: no expected verdict in {baseline.name} for profile "
                          f"'{xorcert_profile.name}'" + (f" ({cell})" if cell is not None else "")
                          + f"; measured: {measured}")
    if cell == FAILS:
        raise KnownFailure(f"{cid} fails in {regime} as recorded ({len(verdicts)} example(s)); "
                           + (verdicts[-1]["verdict"]["reason"] if verdicts else ""))
