"""The report's "proof's structure" section: lemmas.proof's graph per regime, coloured by verdict.

Per regime of the matrix: each claim's cells combined into one status (lemmas.proof.combine;
a cell with another status — an error, a status this code does not know — is left out and
noted), the graph drawn as inline SVG (nodes coloured by that status, the derived node white,
mechanism edges dashed, an edge whose premise fails into a conclusion that holds drawn red), and
the statement of every conclusion (lemmas.proof.read_regime). Regimes without any verdict are
skipped. Works on any certificate: it reads only the entries' verdict statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from lemmas.proof import (
    CELL_STATUSES,
    FAILS,
    HOLDS,
    HOLDS_ALTHOUGH,
    NOT_RUN,
    PROOF,
    ProofGraph,
    Reading,
    combine,
    read_regime,
)

from .certificate import cells, matrix_regimes

FILL = {  # (fill, stroke, text): the matrix's colours (report.html.j2)
    "holds": ("#e8f5e9", "#2e7d32", "#2e7d32"),
    "fails": ("#ffebee", "#c62828", "#c62828"),
    "inconclusive": ("#eeeeee", "#5f6368", "#5f6368"),
    "undecided": ("#fff3e0", "#e65100", "#e65100"),
    NOT_RUN: ("#ffffff", "#999999", "#999999"),
    "derived": ("#ffffff", "#1d1d1f", "#1d1d1f"),
}
BOX_W, BOX_H, COL, ROW, PAD = 150, 34, 185, 46, 8


@dataclass
class RegimeProof:
    regime: str
    status: dict[str, str]
    readings: list[Reading]
    svg: str

    @property
    def although(self) -> list[Reading]:
        return [r for r in self.readings if r.kind == HOLDS_ALTHOUGH]


def regime_statuses(cert: Mapping[str, Any], log: Callable[[str], None] = lambda m: None) -> dict[str, dict[str, str]]:
    """regime -> claim id -> combined status, for every regime with an entry."""
    per: dict[str, dict[str, list[str]]] = {}
    for (cid, regime), cell in cells(cert).items():
        known = [s for s in cell.statuses if s in CELL_STATUSES]
        if len(known) < len(cell.statuses):
            log(f"proof graph: {cid} {regime}: cells of status {sorted(set(cell.statuses) - set(known))} left out")
        if known:
            per.setdefault(regime, {})[cid] = known
    return {r: {c: combine(s) for c, s in claims.items()} for r, claims in per.items()}


def _layout(graph: ProofGraph) -> dict[str, tuple[float, float]]:
    """Columns by depth (longest premise chain), each centred vertically, rows in node order; a node
    without edges (Q1) in the last column."""
    depth = graph.depth()
    last = max(depth.values())
    columns: dict[int, list[str]] = {}
    for n in graph.ids:
        linked = any(n in (e.premise, e.conclusion) for e in graph.edges)
        columns.setdefault(depth[n] if linked else last, []).append(n)
    tallest = max(len(c) for c in columns.values())
    return {
        n: (PAD + col * COL, PAD + (r + (tallest - len(ns)) / 2) * ROW)
        for col, ns in columns.items()
        for r, n in enumerate(ns)
    }


def _edge_path(pos: Mapping[str, tuple[float, float]], premise: str, conclusion: str, lane: float | None) -> str:
    """An edge from the premise's right side to the conclusion's left side; one that skips columns runs
    along `lane` (a y below every box of the columns it passes), so no box hides it."""
    (x0, y0), (x1, y1) = pos[premise], pos[conclusion]
    ax, ay, bx, by = x0 + BOX_W, y0 + BOX_H / 2, x1, y1 + BOX_H / 2
    if lane is None:
        return f"M{ax:.0f},{ay:.0f} C{ax + 40:.0f},{ay:.0f} {bx - 40:.0f},{by:.0f} {bx - 6:.0f},{by:.0f}"
    gap = (COL - BOX_W) / 2  # half the space between two columns
    return (
        f"M{ax:.0f},{ay:.0f} C{ax + gap:.0f},{ay:.0f} {ax + gap:.0f},{lane:.0f} {ax + 2 * gap:.0f},{lane:.0f} "
        f"L{bx - 2 * gap:.0f},{lane:.0f} C{bx - gap:.0f},{lane:.0f} {bx - gap:.0f},{by:.0f} {bx - 6:.0f},{by:.0f}"
    )


def _lanes(pos: Mapping[str, tuple[float, float]], graph: ProofGraph) -> dict[tuple[str, str], float]:
    """(premise, conclusion) -> the y of its lane, for every edge that skips a column: below the lowest box
    of the columns it passes, 6 px apart where several pass the same columns."""
    out: dict[tuple[str, str], float] = {}
    for e in graph.edges:
        x0, x1 = pos[e.premise][0], pos[e.conclusion][0]
        passed = [y for x, y in pos.values() if x0 < x < x1]
        if passed:
            lane = max(passed) + BOX_H + 8
            while any(abs(lane - other) < 6 for other in out.values()):
                lane += 6
            out[(e.premise, e.conclusion)] = lane
    return out


def proof_svg(status: Mapping[str, str], graph: ProofGraph = PROOF, title: str = "") -> str:
    """The graph as one inline SVG element (no ids, no external references)."""
    pos = _layout(graph)
    lanes = _lanes(pos, graph)
    width = max(x for x, _ in pos.values()) + BOX_W + PAD
    height = max([y + BOX_H for _, y in pos.values()] + [y + 4 for y in lanes.values()]) + PAD
    out = [
        f'<svg role="img" class="proof-graph" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="sans-serif" font-size="11"><title>{escape(title)}</title>'
    ]
    for e in graph.edges:
        bx, by = pos[e.conclusion][0], pos[e.conclusion][1] + BOX_H / 2
        st_p, st_c = status.get(e.premise, NOT_RUN), status.get(e.conclusion, NOT_RUN)
        if graph.node(e.premise).derived:
            st_p = FAILS if any(status.get(c) == FAILS for c, _ in graph.claim_premises(e.premise)) else st_p
        although = st_p == FAILS and st_c == HOLDS
        colour = "#c62828" if although else "#888888"
        dash = ' stroke-dasharray="4 3"' if e.kind == "mechanism" else ""
        out.append(
            f'<path d="{_edge_path(pos, e.premise, e.conclusion, lanes.get((e.premise, e.conclusion)))}" '
            f'fill="none" stroke="{colour}" stroke-width="{2 if although else 1}"{dash}>'
            f"<title>{escape(f'{e.premise} → {e.conclusion} ({e.anchor}): {e.why}')}</title></path>"
            f'<polygon points="{bx:.0f},{by:.0f} {bx - 7:.0f},{by - 4:.0f} {bx - 7:.0f},{by + 4:.0f}" fill="{colour}"/>'
        )
    for n in graph.nodes:
        x, y = pos[n.id]
        st = "derived" if n.derived else status.get(n.id, NOT_RUN)
        fill, stroke, ink = FILL.get(st, FILL[NOT_RUN])
        dash = ' stroke-dasharray="3 2"' if n.derived else ""
        label = n.label if len(n.label) <= 24 else n.label[:23] + "…"
        head = "" if n.derived else f"{escape(n.id)} · {escape(st)}"
        out.append(
            f'<g class="proof-node" data-node="{escape(n.id)}" data-status="{escape(st)}">'
            f"<title>{escape(f'{n.id}: {n.label} — {st}' + (f' ({n.note})' if n.note else ''))}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="5" '
            f'fill="{fill}" stroke="{stroke}"{dash}/>'
            f'<text x="{x + 6:.0f}" y="{y + 14:.0f}" fill="{ink}" font-weight="bold">{head}</text>'
            f'<text x="{x + 6:.0f}" y="{y + (21 if n.derived else 27):.0f}" fill="#1d1d1f">{escape(label)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def proof_views(cert: Mapping[str, Any], log: Callable[[str], None] = lambda m: None) -> list[RegimeProof]:
    """One RegimeProof per matrix regime that has a verdict, in matrix order."""
    statuses = regime_statuses(cert, log)
    out = []
    for regime in matrix_regimes(cert) + sorted(set(statuses) - set(matrix_regimes(cert))):
        st = statuses.get(regime)
        if not st:
            continue
        out.append(RegimeProof(regime, st, read_regime(st), proof_svg(st, title=f"The proof's structure in {regime}")))
    return out
