"""Which examples a certification item runs: a fixed seed per profile, regime and kind of run."""

from __future__ import annotations

from hypothesis import given

from lemmas.base import registry
from lemmas.certification import choose_examples, examples
from lemmas.plan import Example, profile
from lemmas.q1_batch_size import CLAIM as Q1


def drawn(cid: str, regime: str, name: str = "certify") -> list[Example]:
    """The examples the profile runs for the cell (nothing simulated)."""
    prof = profile(name)
    needs = Q1.needs if cid == "Q1" else registry()[cid].needs  # Q1 is registered once the package is installed
    out: list[Example] = []

    @given(ex=examples(needs, regime, prof))
    def record(ex: Example) -> None:
        out.append(ex)

    choose_examples(record, prof, needs, regime)()
    return out


def test_draws_are_fixed_per_cell_whatever_the_test_function() -> None:
    a = drawn("C3", "paper")
    b = drawn("C3", "paper")  # a new function object: the same draws
    c = drawn("C3", "gaussian")
    assert a == b and len(a) == 2 and a[0] == Example("paper", 64, 1, 0, 16)
    assert [e.seed for e in a] != [e.seed for e in c]  # each regime has its own seed
    assert drawn("C8", "paper") == a  # claims reading the same run share the examples
    assert drawn("C7", "paper") == a and drawn("C7", "gaussian") == c  # C7 reads the bundle too
    assert all(e.width == 1 or e.d <= 128 for e in a + c)
    assert len(drawn("C2", "paper")) == 1  # ladder items: one example
    assert drawn("C2", "paper")[0].ladder == (64, 128, 256, 512, 1024)


def test_the_draws_the_baselines_were_recorded_on() -> None:
    """The quick profile's examples, as recorded in reports/baseline.json's run (a change here changes
    every quick verdict's example: record the baseline again)."""
    assert drawn("C3", "paper", "quick") == [Example("paper", 32, 1, 0, 8)]
    assert drawn("C3", "small_batch", "quick")[0].batch in ("d", "4")
    assert drawn("C2", "gaussian", "quick")[0].ladder == (16, 32, 64)
    assert drawn("Q1", "paper", "quick")[0] == Example("paper", 8, 1, 0, 4, "", (8, 16, 32, 64, 128))
    assert drawn("C10", "paper", "quick") == drawn("C2", "paper", "quick")  # C10 reads the C2/C11 ladder runs


def test_c10_reads_the_certify_paper_ladder_with_8_seeds() -> None:
    """C10's interval is a bootstrap over seeds: the paper ladder (the one spanning 16×) runs 8 seeds, shared
    by C2 and C11; the other regimes' ladders keep the profile's 4."""
    (ex,) = drawn("C10", "paper")
    assert ex.ladder == (64, 128, 256, 512, 1024) and ex.seeds == 8 and drawn("C2", "paper") == [ex]
    assert drawn("C10", "gaussian")[0].seeds == 4


def test_a_gpu_profile_is_its_own_profile() -> None:
    assert drawn("C2", "paper", "certify-gpu")[0].ladder[-1] == 4096
    assert drawn("C2", "paper")[0].ladder[-1] == 1024  # certify is the same on any hardware


def test_a_family_item_runs_one_example_at_the_profile_s_first_d() -> None:
    """C14, C15: one family per cell, at d = 32 (quick) / 64 (certify), width 1, m = d where m is drawn."""
    for cid in ("C14", "C15"):
        (q,) = drawn(cid, "paper", "quick")
        assert (q.d, q.width, q.seeds, q.ladder) == (32, 1, 8, ())
        (c,) = drawn(cid, "paper")
        assert (c.d, c.width, c.seeds) == (64, 1, 16)
        assert drawn(cid, "small_batch", "quick")[0].batch == "d"
