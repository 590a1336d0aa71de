"""C14 and C15: the family test (lemmas.families) on given failure counts, and the runs of a family.

The compared claims' verdicts are replaced by hand-set cells (claim, multiple → status, failing and
evaluable seeds), so the decision is known by construction; the family's runs are checked on their
configs only (no simulation).
"""

from __future__ import annotations

import math

import pytest

import lemmas.families as families
from lemmas.base import THRESHOLDS
from lemmas.c14_width import CLAIM as C14
from lemmas.c14_width import check as check_c14
from lemmas.c15_step_size import CLAIM as C15
from lemmas.c15_step_size import check as check_c15
from lemmas.families import Cell, fisher_p
from lemmas.plan import Example, base_config, evaluate, family_configs
from simulator import paper_hyper

IDS = THRESHOLDS.family_claims
WIDTHS = (*THRESHOLDS.c14_widths, *THRESHOLDS.c14_widths_below)
ETAS = (*THRESHOLDS.c15_etas, *THRESHOLDS.c15_etas_outside)


def fake(monkeypatch: pytest.MonkeyPatch, ks, n: int = 8, override: dict | None = None) -> dict:
    """Every claim holds 0/n on every member unless `override[(claim, k)] = (status, fails)`."""
    table = {(cid, k): Cell(cid, k, "holds", 0, n) for cid in IDS for k in ks}
    for (cid, k), (status, fails) in (override or {}).items():
        table[cid, k] = Cell(cid, k, status, fails, 0 if status == "inconclusive" else n)
    monkeypatch.setattr(families, "cells", lambda family, ids: table)
    return dict.fromkeys(ks)  # the members themselves are not read by the fake cells


def test_equal_rates_hold(monkeypatch):
    v = check_c14(fake(monkeypatch, WIDTHS))
    assert v.status == "holds", v.reason
    assert v.stats["comparisons"] == 2 * len(IDS) and v.stats["min_p_inside"] == 1.0
    assert v.thresholds["per_comparison_level"] == pytest.approx(0.05 / 14)
    assert math.isnan(v.stats["breaks_first_at"])


def test_a_claim_that_fails_at_4x_only_fails(monkeypatch):
    v = check_c14(fake(monkeypatch, WIDTHS, override={("C9", 4.0): ("fails", 8)}))
    assert v.status == "fails"
    assert "C9 fails 8/8 seeds at 4x against 0/8 at 1x" in v.reason
    assert v.stats["C9_4x_fail_rate"] == 1.0


def test_power_at_eight_seeds_is_stated(monkeypatch):
    """0/8 against 7/8 is detected at α/14; 0/8 against 6/8 is not (the module docstring's numbers)."""
    assert check_c14(fake(monkeypatch, WIDTHS, override={("C12", 2.0): ("fails", 7)})).status == "fails"
    assert check_c14(fake(monkeypatch, WIDTHS, override={("C12", 2.0): ("fails", 6)})).status == "holds"
    assert fisher_p(Cell("x", 1, "holds", 0, 8), Cell("x", 2, "fails", 7, 8)) == pytest.approx(0.0013986, rel=1e-4)
    assert fisher_p(Cell("x", 1, "holds", 0, 8), Cell("x", 2, "fails", 6, 8)) == pytest.approx(0.0069930, rel=1e-4)


def test_inconclusive_cells_are_not_compared(monkeypatch):
    override = {("C13", 1.0): ("inconclusive", 0), ("C13", 4.0): ("fails", 8)}
    v = check_c14(fake(monkeypatch, WIDTHS, override=override))
    assert v.status == "holds" and v.stats["comparisons"] == 2 * (len(IDS) - 1)
    everything = {(cid, 1.0): ("inconclusive", 0) for cid in IDS}
    assert check_c14(fake(monkeypatch, WIDTHS, override=everything)).status == "inconclusive"


def test_outside_the_range_is_reported_not_judged(monkeypatch):
    override = {("C6", 4.0): ("fails", 8), ("C9", 8.0): ("fails", 8), ("C3", 2.0): ("holds", 1)}
    v = check_c15(fake(monkeypatch, ETAS, override=override))
    assert v.status == "holds"
    assert v.stats["breaks_first_at"] == 4.0  # C6 breaks first, at η = 4ψ
    assert "4x: C6" in v.reason and "8x: C9" in v.reason and "2x: none" in v.reason


def test_a_missing_member_is_an_error(monkeypatch):
    fam = fake(monkeypatch, WIDTHS)
    del fam[4.0]
    with pytest.raises(ValueError, match="lacks the members"):
        check_c14(fam)


def test_the_width_family_runs():
    cfgs = family_configs(Example("paper", 32, seeds=8), "width_family")
    p0 = paper_hyper(32).p  # 13
    assert {k: c.p for k, c in cfgs.items()} == {1.0: 13, 2.0: 26, 4.0: 52, 0.5: 7, 0.25: 4}
    assert all(c.theta == pytest.approx(paper_hyper(32).psi / math.sqrt(c.p)) for c in cfgs.values())
    assert all(c.eta == cfgs[1.0].eta and c.steps == cfgs[1.0].steps and c.seeds == 8 for c in cfgs.values())
    assert all(c.variants == ("logistic",) for c in cfgs.values()) and p0 == 13


def test_a_regime_that_fixes_the_width_is_not_compared():
    """Decided before any member runs; the paper regime's family is compared."""
    ex = Example("sparse_finders", 32, seeds=8)
    cfgs = family_configs(ex, "width_family")
    assert {c.p for c in cfgs.values()} == {64}  # the regime widens p to hold two finders per cluster

    def no_run(cfg):
        raise AssertionError(f"simulated {cfg}")

    v = evaluate(C14, ex, no_run)
    assert v.status == "inconclusive" and "p = 64" in v.reason, v.reason
    assert C14.applies(base_config(Example("paper", 32, seeds=8))) is None


def test_the_step_size_family_runs():
    cfgs = family_configs(Example("paper", 32, seeds=8), "eta_family")
    h = paper_hyper(32)
    for k, c in cfgs.items():
        assert c.eta == pytest.approx(k * h.eta) and c.steps == math.ceil(h.steps / k) and c.p == h.p
    assert set(cfgs) == set(ETAS)


def test_claim_records():
    assert C14.id == "C14" and C14.needs == "width_family" and C15.id == "C15" and C15.needs == "eta_family"


def test_a_diverged_member_fails_every_claim_on_every_seed():
    from types import SimpleNamespace

    from lemmas.plan import family_member
    from simulator import paper
    from simulator.engine import SimulationDiverged

    partial = SimpleNamespace(meta={}, config=SimpleNamespace(seeds=8))

    def get(cfg):
        raise SimulationDiverged(17, "logistic", 3, partial)

    member = family_member(get, paper(8))  # its every-step prefix is asked for with it (one NotCached for both)
    assert member is partial and member.meta["diverged_at"] == 17
    got = families.cells({8.0: member}, IDS)
    assert all(c.status == "fails" and c.fails == c.evaluated == 8 for c in got.values())
