"""The proof graph (lemmas.proof): registered, acyclic, and every reading of a conclusion."""

from __future__ import annotations

import pytest

from lemmas.base import registry
from lemmas.proof import (
    BECAUSE,
    FAILS_ALTHOUGH,
    FOUND,
    HOLDS_ALTHOUGH,
    PROOF,
    UNREADABLE,
    WITH,
    Edge,
    Node,
    ProofGraph,
    combine,
    read_conclusion,
    read_regime,
)

ALL_HOLD = {c: "holds" for c in PROOF.claim_ids()}


def test_every_claim_node_is_registered_and_every_claim_is_placed() -> None:
    registered = registry()
    PROOF.validate(registered)
    assert set(PROOF.claim_ids()) == set(registered)


def test_unregistered_claim_is_named() -> None:
    with pytest.raises(ValueError, match=r"C99"):
        ProofGraph((Node("C1", "a"), Node("C99", "b")), (Edge("C1", "C99", "x", "y"),)).validate({"C1"})


def test_graph_is_acyclic_and_a_cycle_is_refused() -> None:
    order = PROOF.topological_order()
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[e.premise] < pos[e.conclusion] for e in PROOF.edges)
    with pytest.raises(ValueError, match="cycle"):
        ProofGraph((Node("A", "a"), Node("B", "b")), (Edge("A", "B", "x", "y"), Edge("B", "A", "x", "y")))


def test_bad_edges_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown node 'Z'"):
        ProofGraph((Node("A", "a"),), (Edge("A", "Z", "x", "y"),))
    with pytest.raises(ValueError, match="edge kind"):
        ProofGraph((Node("A", "a"), Node("B", "b")), (Edge("A", "B", "x", "y", kind="maybe"),))


def test_derived_node_is_transparent() -> None:
    assert PROOF.node(FOUND).derived
    assert [c for c, _ in PROOF.claim_premises("C3")] == ["C1", "C2", "C7", "C6", "C8"]
    assert all(e.anchor and e.why for e in PROOF.edges)


def test_combine_cells() -> None:
    assert combine(["holds", "fails", "inconclusive"]) == "fails"
    assert combine(["holds", "undecided"]) == "undecided"
    assert combine(["holds", "inconclusive"]) == "holds"
    assert combine(["inconclusive"]) == "inconclusive"
    assert combine([]) == "not run"
    with pytest.raises(ValueError, match="'mixed'"):
        combine(["mixed"])


def test_holds_with_its_premises() -> None:
    r = read_conclusion(PROOF, "C9", ALL_HOLD)
    assert r.kind == WITH and r.premises == ("C4", "C5") and "holds with" in r.sentence()


def test_holds_although_a_premise_fails() -> None:
    table = {**ALL_HOLD, "C1": "fails"}  # phase one off its linearization, the network still signal-heavy
    r = read_conclusion(PROOF, "C3", table)
    assert r.kind == HOLDS_ALTHOUGH and r.failing == ("C1",)
    assert r.sentence() == "C3 holds although C1 fails: a step it does not need here."
    assert read_conclusion(PROOF, "C9", table).kind == WITH  # its own premises hold


def test_fails_because_a_premise_fails() -> None:
    r = read_conclusion(PROOF, "C9", {**ALL_HOLD, "C4": "fails", "C5": "fails", "C9": "fails"})
    assert r.kind == BECAUSE and r.failing == ("C4", "C5")
    assert r.sentence() == "C9 fails because C4 and C5 fail."


def test_fails_although_its_premises_hold() -> None:
    r = read_conclusion(PROOF, "C9", {**ALL_HOLD, "C9": "fails"})
    assert r.kind == FAILS_ALTHOUGH and "premises (C4, C5) hold" in r.sentence()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"C9": "undecided"}, "it is undecided here"),
        ({"C9": "inconclusive"}, "it is inconclusive here"),
        ({"C4": "inconclusive"}, "premise(s) C4 not decided"),
        ({"C9": "fails", "C5": "undecided"}, "premise(s) C5 not decided"),
    ],
)
def test_cannot_be_read(change: dict[str, str], why: str) -> None:
    table = {**ALL_HOLD, **change}
    r = read_conclusion(PROOF, "C9", table)
    assert r.kind == UNREADABLE and why in r.sentence()


def test_missing_claim_is_not_run_and_unreadable() -> None:
    table = {k: v for k, v in ALL_HOLD.items() if k != "C4"}
    r = read_conclusion(PROOF, "C9", table)
    assert r.kind == UNREADABLE and r.unread == ("C4",)


def test_read_regime_reads_every_conclusion_and_checks_statuses() -> None:
    readings = read_regime(ALL_HOLD)
    assert {r.conclusion for r in readings} == {n for n in PROOF.claim_ids() if PROOF.premises(n)}
    assert all(r.kind == WITH for r in readings)
    assert "Q1" not in {r.conclusion for r in readings}
    with pytest.raises(ValueError, match="status of C2 is 'mixed'"):
        read_regime({**ALL_HOLD, "C2": "mixed"})
