"""reports/baseline.json: the expected verdict per profile, claim and regime (and, where it differs, per d).

Schema 2: `{"schema": 2, "profiles": {profile: {claim_id: {regime: CELL}}}}` where CELL is one
status ("holds" | "fails" | "inconclusive") for every example of the cell, or, for a cell whose
verdict depends on the dimension, `{"d=64": status, "d=128": status, …}` keyed by the example's d
(a ladder example's d is its first rung). Schema 1 (single statuses only) is read as well.

`updated(baseline, cert)` is what `--update-baseline` writes: the old table with every
(profile, claim, regime) the certificate covers set to the status all its examples share, or to
the per-d table when the examples agree at each d but not across d; cells whose examples disagree
at one d (other seeds or width) are refused (`BaselineConflict` lists them), since one expected
status per example is what the certification test compares with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .certificate import STATUSES, cells, claim_order, describe_example
from .files import read_json

BASELINE_SCHEMA = 2
READABLE_SCHEMAS = (1, 2)


class BaselineConflict(ValueError):
    """The examples of a cell disagree: no single expected verdict can be recorded."""


def empty() -> dict[str, Any]:
    return {"schema": BASELINE_SCHEMA, "profiles": {}}


def load(path: str | Path) -> dict[str, Any]:
    """The baseline at path (an empty one when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return empty()
    data = read_json(path)
    if not is_baseline(data):
        raise ValueError(f"{path}: not a baseline (expected {{'schema': {BASELINE_SCHEMA}, 'profiles': {{…}}}})")
    return data


def is_baseline(data: Any) -> bool:
    return isinstance(data, dict) and data.get("schema") in READABLE_SCHEMAS and isinstance(data.get("profiles"), dict)


def d_key(d: Any) -> str:
    return f"d={d}"


def expected_for(cell: Any, d: Any) -> str | None:
    """The expected status of an example at dimension d under a baseline CELL (None: nothing expected)."""
    if cell is None or isinstance(cell, str):
        return cell
    if isinstance(cell, Mapping):
        return cell.get(d_key(d))
    raise ValueError(f"baseline cell {cell!r}: expected a status or {{'d=N': status}}")


def expected_statuses(cell: Any) -> set[str]:
    """Every status a CELL expects somewhere."""
    if cell is None:
        return set()
    return {cell} if isinstance(cell, str) else set(cell.values())


def describe_cell(cell: Any) -> str | None:
    """'holds', or 'fails at d=64; holds at d=128, 256' for a per-d cell."""
    if cell is None or isinstance(cell, str):
        return cell
    by: dict[str, list[str]] = {}
    for k, s in sorted(cell.items(), key=lambda kv: int(str(kv[0]).split("=")[-1])):
        by.setdefault(s, []).append(str(k).split("=")[-1])
    return "; ".join(f"{s} at d={', '.join(ds)}" for s, ds in by.items())


def updated(baseline: Mapping[str, Any] | None, cert: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """(the new baseline, the number of cells written). Raises BaselineConflict on disagreeing examples."""
    profile = cert.get("profile")
    if not profile or "+" in str(profile):
        raise BaselineConflict(f"the certificate's profile is {profile!r}: one hypothesis profile per run is needed")
    conflicts, statuses = [], {}
    for (cid, regime), cell in cells(cert).items():
        if not cell.entries:
            continue
        by_d: dict[int, set[str]] = {}
        for e, st in zip(cell.entries, cell.statuses):
            by_d.setdefault(int((e.get("example") or {}).get("d") or 0), set()).add(st)
        if any(len(s) != 1 for s in by_d.values()):
            lines = [f"    example {e.get('index')}: {describe_example(e.get('example') or {})} -> "
                     f"{(e.get('verdict') or {}).get('status')}" for e in cell.entries]
            conflicts.append(f"  {cid} in {regime} ({cell.nodeid}): " + ", ".join(
                f"{n} {k}" for k, n in cell.counts.items()) + " at the same d\n" + "\n".join(lines))
            continue
        per_d = {d_key(d): next(iter(s)) for d, s in sorted(by_d.items())}
        for status in per_d.values():
            if status not in STATUSES:
                raise BaselineConflict(f"{cid} in {regime}: status {status!r} is not one of {STATUSES}")
        distinct = set(per_d.values())
        statuses[(cid, regime)] = distinct.pop() if len(distinct) == 1 else per_d
    if conflicts:
        raise BaselineConflict("refusing to update the baseline: examples of these cells disagree at the same d "
                               "(other seeds or width), so no expected verdict can be recorded for that d (fix "
                               "the claim or narrow the profile):\n"
                               + "\n".join(conflicts))
    out = {**{k: v for k, v in (baseline or {}).items() if k not in ("schema", "profiles")},
           "schema": BASELINE_SCHEMA, "profiles": {p: {c: dict(r) for c, r in t.items()}
                                                   for p, t in ((baseline or {}).get("profiles") or {}).items()}}
    table = out["profiles"].setdefault(profile, {})
    for (cid, regime), status in statuses.items():
        table.setdefault(cid, {})[regime] = status
    out["profiles"][profile] = {c: table[c] for c in sorted(table, key=claim_order)}
    return out, len(statuses)
