"""The proof's structure as data, and how one regime's verdicts read against it (docs/SPEC.md §3.18).

`PROOF` is the dependency graph of Glasgow (2023)'s proof as the claims mirror it: nodes are
claim ids (and one derived node, "features found at T1", which no claim checks by itself),
edges run premise → conclusion, each with its paper anchor and a one-line reason.

`read_regime` states, for every conclusion of the graph and one regime's verdicts, whether the
conclusion holds *with* its premises, holds *although* a premise fails (a proof step the
conclusion does not need there), fails *because* a premise fails, fails *although* its premises
hold, or cannot be read. Derived nodes are transparent: a conclusion's premises are the claims
reached backwards through derived nodes, so a statement names the claim that failed.

A claim's status in a regime combines its cells (examples, per-d cells) by `combine`: fails if
any decided cell fails; else undecided if any cell is undecided; else holds if any cell holds;
else inconclusive (no cell could be evaluated). Inconclusive cells beside decided ones are
ignored: they are cells where the claim is not defined or could not be evaluated (C7 below
d = 64), not evidence either way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from lemmas.plain import FAILS, HOLDS, INCONCLUSIVE, UNDECIDED

NOT_RUN = "not run"  # a claim without a cell in the regime
CELL_STATUSES = (HOLDS, FAILS, INCONCLUSIVE, UNDECIDED)

# The readings of one conclusion (`Reading.kind`)
WITH, HOLDS_ALTHOUGH, BECAUSE, FAILS_ALTHOUGH, UNREADABLE = (
    "holds with",
    "holds although",
    "fails because",
    "fails although",
    "cannot be read",
)
READINGS = (WITH, HOLDS_ALTHOUGH, BECAUSE, FAILS_ALTHOUGH, UNREADABLE)


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    derived: bool = False  # no claim checks it; its status is read through its premises
    note: str = ""  # where the node sits and why (nodes without edges say why they have none)


@dataclass(frozen=True)
class Edge:
    premise: str
    conclusion: str
    anchor: str  # where in the paper the step is made
    why: str  # one line: what the premise contributes
    kind: str = "premise"  # "premise", or "mechanism" (a mechanism the step relies on: C8)


@dataclass(frozen=True)
class ProofGraph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def __post_init__(self) -> None:
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"ProofGraph: node ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
        for e in self.edges:
            for end in (e.premise, e.conclusion):
                if end not in ids:
                    raise ValueError(f"ProofGraph: edge {e.premise} -> {e.conclusion} names unknown node {end!r}")
            if e.kind not in ("premise", "mechanism"):
                raise ValueError(f"ProofGraph: edge kind {e.kind!r} must be 'premise' or 'mechanism'")
        self.topological_order()  # raises on a cycle

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(n.id for n in self.nodes)

    def node(self, nid: str) -> Node:
        return next(n for n in self.nodes if n.id == nid)

    def claim_ids(self) -> tuple[str, ...]:
        return tuple(n.id for n in self.nodes if not n.derived)

    def premises(self, nid: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.conclusion == nid)

    def topological_order(self) -> tuple[str, ...]:
        """Premises before conclusions (Kahn's algorithm in node order); raises ValueError on a cycle."""
        indeg = {n: 0 for n in self.ids}
        for e in self.edges:
            indeg[e.conclusion] += 1
        out: list[str] = []
        ready = [n for n in self.ids if indeg[n] == 0]
        while ready:
            n = ready.pop(0)
            out.append(n)
            for e in self.edges:
                if e.premise == n:
                    indeg[e.conclusion] -= 1
                    if indeg[e.conclusion] == 0:
                        ready.append(e.conclusion)
        if len(out) != len(self.ids):
            raise ValueError(f"ProofGraph: a cycle through {sorted(n for n in self.ids if n not in out)}")
        return tuple(out)

    def depth(self) -> dict[str, int]:
        """Longest path from a node without premises (its column in a drawing)."""
        depth: dict[str, int] = {}
        for n in self.topological_order():
            depth[n] = max((depth[e.premise] + 1 for e in self.premises(n)), default=0)
        return depth

    def claim_premises(self, nid: str) -> tuple[tuple[str, Edge], ...]:
        """(claim id, the edge into `nid` it arrives by) for every claim premise of `nid`, reached backwards
        through derived nodes."""
        out: list[tuple[str, Edge]] = []
        for e in self.premises(nid):
            if self.node(e.premise).derived:
                out += [(c, e) for c, _ in self.claim_premises(e.premise)]
            else:
                out.append((e.premise, e))
        first = {c: e for c, e in reversed(out)}  # each claim once, by its first edge
        return tuple((c, first[c]) for c in dict.fromkeys(c for c, _ in out))

    def validate(self, registered: Collection[str]) -> None:
        """Every claim node is a registered claim id; raises ValueError naming the strays."""
        stray = [c for c in self.claim_ids() if c not in registered]
        if stray:
            raise ValueError(
                f"ProofGraph: claim node(s) {stray} are not registered claims (registered: {sorted(registered)})"
            )


FOUND = "T1"  # the derived node: features found at T1

PROOF = ProofGraph(
    nodes=(
        Node("C1", "phase-one linearization"),
        Node("C2", "signal finding"),
        Node("C7", "gradient concentration"),
        Node("C6", "layer balance"),
        Node("C8", "amplification"),
        Node(FOUND, "features found at T1", derived=True, note="the end of phase one: S_t first reaches 1 - ζ"),
        Node("C3", "signal-heavy (inductive hypothesis)"),
        Node("C13", "neuron control"),
        Node("C4", "clean approximation"),
        Node("C5", "margin balance"),
        Node("C9", "main theorem (error ≤ ε)"),
        Node("C12", "loss bound"),
        Node("C11", "phase lengths"),
        Node("C10", "sample complexity"),
        Node("C14", "width range"),
        Node("C15", "step-size range"),
        Node(
            "Q1",
            "batch size (open question)",
            note="open question 1 of the paper, not a step of the proof: drawn beside C10, without edges",
        ),
    ),
    edges=(
        Edge("C1", FOUND, "Sec. 4.1, Lemma 4.1", "phase one is analysed on the linearized (correlation) loss"),
        Edge("C2", FOUND, "Sec. 4.1, Mechanism 1", "signal components grow at the linearized rate until T1"),
        Edge("C7", FOUND, "eq. (4.5)", "at batch m = ⌈d/ψ⌉ minibatch noise is below the population drift"),
        Edge("C6", FOUND, "homogeneity of ReLU", "|a_k| ≈ ‖w_k‖: both layers grow together, so the rates are joint"),
        Edge(
            "C8",
            FOUND,
            "abstract, Remark 4.3, Mechanism 2",
            "joint training amplifies the first finders, so a few of them suffice",
            kind="mechanism",
        ),
        Edge(FOUND, "C3", "Def. 4.2, Sec. 4.1.1", "the inductive hypothesis starts true at T1"),
        Edge(FOUND, "C13", "Def. 4.2, Sec. 4.1.1", "per-neuron half of the hypothesis, started at T1"),
        Edge(FOUND, "C11", "proof of Theorem 3.1", "phase one ends at T1: its length is C2's rate"),
        Edge("C3", "C4", "Sec. 4.1.1", "signal-heavy mass makes f ≈ the clean network f̃"),
        Edge("C13", "C4", "Sec. 4.1.1", "no heavy neuron carries an uncontrolled off-signal part"),
        Edge("C3", "C5", "Sec. 4.1.1, Mechanism 3", "the clean dynamics apply to (almost) all the mass"),
        Edge("C4", "C5", "Sec. 4.1.1, Mechanism 3", "margin balance is derived on the clean network"),
        Edge("C5", "C11", "proof of Theorem 3.1", "balanced margins grow at a d-free rate: phase two's length"),
        Edge("C4", "C9", "Theorem 3.1 (proof)", "the error of f is that of f̃ up to o(1)"),
        Edge("C5", "C9", "Theorem 3.1 (proof)", "every cluster's margin grows, none left behind"),
        Edge("C4", "C12", "Theorem 3.1", "the loss of f is that of f̃ up to o(1)"),
        Edge("C5", "C12", "Theorem 3.1", "the balanced margins drive the loss below (log d)^-c"),
        Edge("C9", "C10", "Theorem 3.1, sample complexity", "n = m·T_ε counts the samples of a run that learns"),
        Edge("C11", "C10", "proof of Theorem 3.1", "T_ε = T1 + phase two: log d + log log d steps, hence d·polylog d"),
        Edge(
            "C9", "C14", "Theorem 3.1 (hypothesis p ≥ 1/ψ)", "the theorem holds for every p in range: no p-dependence"
        ),
        Edge("C9", "C15", "Theorem 3.1 (hypothesis d^-C ≤ η ≤ ψ)", "the theorem holds for every η in range"),
    ),
)


def combine(statuses: Iterable[str]) -> str:
    """One claim's status in one regime from its cells' statuses (module docstring): fails if any cell
    fails; else undecided if any is undecided; else holds if any holds; else inconclusive; no cell: not
    run. A status outside holds/fails/inconclusive/undecided raises."""
    s = list(statuses)
    bad = [x for x in s if x not in CELL_STATUSES]
    if bad:
        raise ValueError(f"combine: status {bad[0]!r} is not one of {CELL_STATUSES}")
    for status in (FAILS, UNDECIDED, HOLDS, INCONCLUSIVE):
        if status in s:
            return status
    return NOT_RUN


@dataclass(frozen=True)
class Reading:
    conclusion: str
    status: str  # the conclusion's combined status
    kind: str  # one of READINGS
    failing: tuple[str, ...]  # claim premises that fail
    unread: tuple[str, ...]  # claim premises neither holding nor failing
    premises: tuple[str, ...]  # every claim premise

    def sentence(self) -> str:
        c = self.conclusion
        verb = "fails" if len(self.failing) == 1 else "fail"
        if self.kind == WITH:
            return f"{c} holds with its premises ({', '.join(self.premises)})."
        if self.kind == HOLDS_ALTHOUGH:
            return f"{c} holds although {_names(self.failing)} {verb}: a step it does not need here."
        if self.kind == BECAUSE:
            return f"{c} fails because {_names(self.failing)} {verb}."
        if self.kind == FAILS_ALTHOUGH:
            return f"{c} fails although its premises ({', '.join(self.premises)}) hold."
        if self.status not in (HOLDS, FAILS):
            return f"{c} cannot be read: it is {self.status} here."
        return f"{c} cannot be read: {c} {self.status}, premise(s) {', '.join(self.unread)} not decided."


def _names(ids: tuple[str, ...]) -> str:
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def read_conclusion(graph: ProofGraph, conclusion: str, status: Mapping[str, str]) -> Reading:
    """How `conclusion` reads against its claim premises, given claim id -> combined status (a claim
    missing from `status` is not run)."""
    prem = tuple(c for c, _ in graph.claim_premises(conclusion))
    st = {c: status.get(c, NOT_RUN) for c in (*prem, conclusion)}
    failing = tuple(c for c in prem if st[c] == FAILS)
    unread = tuple(c for c in prem if st[c] not in (HOLDS, FAILS))
    own = st[conclusion]
    if own == HOLDS:
        kind = HOLDS_ALTHOUGH if failing else WITH if not unread else UNREADABLE
    elif own == FAILS:
        kind = BECAUSE if failing else FAILS_ALTHOUGH if not unread else UNREADABLE
    else:
        kind = UNREADABLE
    return Reading(conclusion, own, kind, failing, unread, prem)


def read_regime(status: Mapping[str, str], graph: ProofGraph = PROOF) -> list[Reading]:
    """Every conclusion of `graph` (a claim with premises), premises first, read against one regime's
    combined statuses (claim id -> holds / fails / inconclusive / undecided / not run)."""
    allowed = (*CELL_STATUSES, NOT_RUN)
    for c, s in status.items():
        if s not in allowed:
            raise ValueError(f"read_regime: status of {c} is {s!r}, not one of {allowed}")
    return [
        read_conclusion(graph, n, status)
        for n in graph.topological_order()
        if not graph.node(n).derived and graph.premises(n)
    ]
