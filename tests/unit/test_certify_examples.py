"""Which examples a certification item runs: a fixed seed per profile, regime and kind of run."""

from __future__ import annotations

from hypothesis import given, settings

from tests.claims.harness import Example
from tests.claims.profiles import profile
from tests.claims.test_certify import choose_examples, examples


def drawn(cid: str, regime: str) -> list[Example]:
    """The examples the certify profile runs for the cell (nothing simulated)."""
    prof = profile("certify")
    out: list[Example] = []

    @given(ex=examples(cid, regime, prof))
    def record(ex: Example) -> None:
        out.append(ex)

    choose_examples(record, prof, cid, regime, base=settings.get_profile("certify"))()
    return out


def test_draws_are_fixed_per_cell_whatever_the_test_function() -> None:
    a = drawn("C3", "paper")
    b = drawn("C3", "paper")  # a new function object: the same draws
    c = drawn("C3", "gaussian")
    assert a == b and len(a) == 2 and a[0] == Example("paper", 64, 1, 0, 16)
    assert [e.seed for e in a] != [e.seed for e in c]  # each regime has its own seed
    assert drawn("C8", "paper") == a  # claims reading the same run share the examples
    assert all(e.width == 1 or e.d <= 128 for e in a + c)
    assert len(drawn("C2", "paper")) == 1  # ladder items: one example
    assert drawn("C2", "paper")[0].ladder == (64, 128, 256, 512, 1024)
