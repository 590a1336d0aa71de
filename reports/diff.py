"""The regression gate: a run against the baseline of expected verdicts, and two certificates.

* `baseline_diff(cert, baseline)`: per (claim, regime) of the certificate's profile, the
  measured verdict against `reports/baseline.json` — flips first, then cells with no
  expected verdict, then expected cells the run did not cover; each trend item of the run is a
  row of its own (regime "<regime> trend") against the trend its cell records.
* `certificate_diff(old, new)`: verdict flips per cell, then, on the examples both ran
  (matched by claim, regime and the example's values), the statistics that moved by more
  than their tolerance. The tolerances live here, in `TOLERANCES`, and nowhere else.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lemmas.plain import num

from .baseline import describe_cell, expected_for, expected_trend
from .certificate import cells, claim_order, describe_example, trend_status, trends, unconfirmed

DEFAULT_RELATIVE_TOLERANCE = 0.10
# Per-statistic relative tolerances (fnmatch patterns, first match wins). Counts of seeds
# are exact: any change is reported.
TOLERANCES: tuple[tuple[str, float], ...] = (
    ("seeds_*", 0.0),
    ("*_seeds_d*", 0.0),
    ("ladder_size", 0.0),
    ("neurons", 0.0),
    ("samples", 0.0),
    ("fail_rate*", 0.25),
    ("*", DEFAULT_RELATIVE_TOLERANCE),
)
ABSOLUTE_FLOOR = 1e-12  # changes smaller than this are rounding, never a move


def tolerance(stat: str) -> float:
    """The relative tolerance of a statistic (see TOLERANCES)."""
    for pattern, tol in TOLERANCES:
        if fnmatch.fnmatchcase(stat, pattern):
            return tol
    return DEFAULT_RELATIVE_TOLERANCE


@dataclass(frozen=True)
class CellChange:
    claim: str
    regime: str
    before: str | None
    after: str | None
    kind: str  # "flip", "unconfirmed" (not confirmed at the family level: no flip), "new", "missing", "same"
    counts: dict[str, int] = field(default_factory=dict)
    nodeid: str | None = None


@dataclass(frozen=True)
class StatMove:
    claim: str
    regime: str
    example: str
    stat: str
    before: float
    after: float
    tolerance: float

    @property
    def relative(self) -> float:
        if not (math.isfinite(self.before) and math.isfinite(self.after)):
            return math.inf
        return abs(self.after - self.before) / max(abs(self.before), abs(self.after), ABSOLUTE_FLOOR)


@dataclass
class Diff:
    cells: list[CellChange]
    moves: list[StatMove] = field(default_factory=list)
    against: str = ""
    labels: tuple[str, str] = ("expected", "measured")

    @property
    def flips(self) -> list[CellChange]:
        return [c for c in self.cells if c.kind == "flip"]

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.cells)


def _order(c: CellChange) -> tuple:
    rank = {"flip": 0, "unconfirmed": 1, "new": 2, "missing": 3, "same": 4}
    return (rank.get(c.kind, 4), claim_order(c.claim), c.regime)


def expected_table(baseline: Mapping[str, Any] | None, profile: str | None) -> dict[str, dict[str, Any]]:
    if not baseline:
        return {}
    return dict((baseline.get("profiles") or {}).get(profile or "") or {})


def baseline_diff(cert: Mapping[str, Any], baseline: Mapping[str, Any] | None, against: str = "") -> Diff:
    """The run's verdict per cell against the expected one of its profile."""
    table = expected_table(baseline, cert.get("profile"))
    out: list[CellChange] = []
    seen = set()
    for (cid, regime), cell in cells(cert).items():
        seen.add((cid, regime))
        exp = (table.get(cid) or {}).get(regime)
        got = cell.status
        if exp is None:
            kind = "new"
        elif isinstance(exp, str) or not cell.entries:
            kind = "same" if got == exp else "flip"
        else:  # a per-d cell: each example against the status of its d
            wanted = [expected_for(exp, (e.get("example") or {}).get("d")) for e in cell.entries]
            kind = (
                "flip"
                if any(w is not None and w != s for w, s in zip(wanted, cell.statuses))
                else "new"
                if None in wanted
                else "same"
            )
        differing = [
            e for e, s in zip(cell.entries, cell.statuses) if s != expected_for(exp, (e.get("example") or {}).get("d"))
        ]
        if kind == "flip" and differing and all(map(unconfirmed, differing)):  # none confirmed: no flip
            kind = "unconfirmed"
        out.append(CellChange(cid, regime, describe_cell(exp), got, kind, cell.counts, cell.nodeid))
    for cid, row in table.items():
        for regime, exp in (row or {}).items():
            if (cid, regime) not in seen:
                out.append(CellChange(cid, regime, describe_cell(exp), None, "missing"))
    for (cid, regime), rec in trends(cert).items():  # a trend item: its regime column reads "<regime> trend"
        want, got = expected_trend((table.get(cid) or {}).get(regime)), trend_status(rec)
        kind = "new" if want is None else "same" if got == want else "flip"
        out.append(CellChange(cid, f"{regime} trend", want, got, kind, {}, rec.get("nodeid")))
    return Diff(sorted(out, key=_order), [], against)


def example_key(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry.get("example") or {}, sort_keys=True)


def certificate_diff(old: Mapping[str, Any], new: Mapping[str, Any], against: str = "") -> Diff:
    """Cell verdict flips, then statistics that moved beyond their tolerance on shared examples."""
    a_cells, b_cells = cells(old), cells(new)
    changes: list[CellChange] = []
    for key in list(dict.fromkeys([*b_cells, *a_cells])):
        a, b = a_cells.get(key), b_cells.get(key)
        before = a.status if a else None
        after = b.status if b else None
        if a is None:
            kind = "new"
        elif b is None:
            kind = "missing"
        else:
            kind = "same" if before == after else "flip"
        changes.append(
            CellChange(
                key[0], key[1], before, after, kind, b.counts if b else {}, (b or a).nodeid if (b or a) else None
            )
        )
    a_trends, b_trends = trends(old), trends(new)
    for key in list(dict.fromkeys([*b_trends, *a_trends])):
        before, after = trend_status(a_trends.get(key)), trend_status(b_trends.get(key))
        kind = "new" if before is None else "missing" if after is None else "same" if before == after else "flip"
        changes.append(CellChange(key[0], f"{key[1]} trend", before, after, kind))
    moves: list[StatMove] = []
    old_ex = {(e.get("claim"), e.get("regime"), example_key(e)): e for e in old.get("entries", [])}
    for e in new.get("entries", []):
        key = (e.get("claim"), e.get("regime"), example_key(e))
        o = old_ex.get(key)
        if o is None:
            continue
        sa, sb = (o.get("verdict") or {}).get("stats") or {}, (e.get("verdict") or {}).get("stats") or {}
        for stat in sb:
            x, y = num(sa.get(stat)), num(sb.get(stat))
            if x is None or y is None or (math.isnan(x) and math.isnan(y)):
                continue
            tol = tolerance(stat)
            if _moved(x, y, tol):
                moves.append(
                    StatMove(key[0] or "?", key[1] or "?", describe_example(e.get("example") or {}), stat, x, y, tol)
                )
    moves.sort(key=lambda m: (claim_order(m.claim), m.regime, -min(m.relative, 1e300)))
    return Diff(sorted(changes, key=_order), moves, against, ("before", "after"))


def _moved(x: float, y: float, tol: float) -> bool:
    if math.isnan(x) != math.isnan(y) or (math.isinf(x) or math.isinf(y)):
        return not (x == y)
    delta = abs(y - x)
    return delta > ABSOLUTE_FLOOR and delta > tol * max(abs(x), abs(y))


def format_diff(diff: Diff, *, show_same: bool = False, limit: int | None = 50) -> list[str]:
    """The regression table as text lines: every flip first, then new cells (at most `limit`), then moved
    statistics. Cells the run did not cover are only counted, unless `show_same` (then every cell is listed)."""
    lines = [
        f"verdicts against {diff.against or 'the reference'}: {diff.count('flip')} flipped, "
        f"{diff.count('new')} new, {diff.count('missing')} not run, {diff.count('same')} unchanged"
        + (f", {diff.count('unconfirmed')} unconfirmed (not flips)" if diff.count("unconfirmed") else "")
    ]
    tag = {"flip": "FLIP", "unconfirmed": "unconf", "new": "new ", "missing": "gone", "same": "same"}
    listed = [c for c in diff.cells if c.kind in ("flip", "unconfirmed", "new") or show_same]
    others = 0
    for c in listed:
        if c.kind != "flip" and limit is not None and others >= limit:
            lines.append(f"  … {sum(1 for x in listed if x.kind != 'flip') - others} more")
            break
        others += c.kind != "flip"
        counts = ", ".join(f"{n} {k}" for k, n in c.counts.items())
        lines.append(
            f"  {tag[c.kind]} {c.claim:<4} {c.regime:<17} {diff.labels[0]} {c.before or '—':<12} "
            f"{diff.labels[1]} {c.after or '—':<12}{' (' + counts + ')' if counts else ''}"
        )
    if diff.moves:
        lines.append(f"statistics moved beyond their tolerance: {len(diff.moves)}")
        for m in diff.moves[: limit or len(diff.moves)]:
            rel = "∞" if math.isinf(m.relative) else f"{m.relative:.0%}"
            lines.append(
                f"  {m.claim:<4} {m.regime:<17} {m.stat}: {m.before:.4g} -> {m.after:.4g} "
                f"({rel} > {m.tolerance:.0%}) [{m.example}]"
            )
        if limit is not None and len(diff.moves) > limit:
            lines.append(f"  … {len(diff.moves) - limit} more")
    return lines
