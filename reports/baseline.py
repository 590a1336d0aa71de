"""reports/baseline.json: the expected verdict per profile, claim and regime (and, where it differs, per d).

Schema 2: `{"schema": 2, "profiles": {profile: {claim_id: {regime: CELL}}}}` where CELL is one
status ("holds" | "fails" | "inconclusive" | "undecided") for every example of the cell, or, for a cell whose
verdict depends on the dimension, `{"d=64": status, "d=128": status, …}` keyed by the example's d
(a ladder example's d is its first rung). Schema 1 (single statuses only) is read as well.
A per-d table may also carry the cell's trend verdict over d, `"trend": "vanishes" | "persists" |
"undecided"` (lemmas.trends, docs/SPEC.md §3.20), which the certification's trend item compares with;
`expected_for` never reads it.

`updated(baseline, cert)` is what `--update-baseline` writes: the old table with every
(profile, claim, regime) the certificate covers set to the status all its examples share, or to
the per-d table when the examples agree at each d but not across d; cells whose examples disagree
at one d (other seeds or width) are refused (`BaselineConflict` lists them), since one expected
status per example is what the certification test compares with. A trend item of the certificate
(`cert["trends"]`) writes its trend into its cell, which then is the per-d table with the trend key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .certificate import STATUSES, TREND_STATUSES, cells, claim_order, describe_example, unconfirmed
from .files import read_json

BASELINE_SCHEMA = 2
READABLE_SCHEMAS = (1, 2)


TREND_KEY = "trend"


class BaselineConflict(ValueError):
    """The examples of a cell disagree: no single expected verdict can be recorded."""


class BaselineError(ValueError):
    """A file that is not a baseline this code reads (its name and what is wrong are in the message)."""


def empty() -> dict[str, Any]:
    return {"schema": BASELINE_SCHEMA, "profiles": {}}


def load(path: str | Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """The baseline at path, validated (`validate`). A missing file raises BaselineError, or gives an
    empty baseline with `missing_ok` (a run that is about to record the first one)."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return empty()
        raise BaselineError(f"{path}: baseline file not found")
    try:
        data = read_json(path)
    except (ValueError, OSError) as e:
        raise BaselineError(f"{path}: cannot read the baseline: {e}") from e
    return validate(data, str(path))


def looks_like_baseline(data: Any) -> bool:
    """A mapping with a 'profiles' table and no certificate schema: meant as a baseline (maybe a broken one)."""
    return isinstance(data, Mapping) and "profiles" in data and "schema_version" not in data


def validate(data: Any, where: str = "baseline") -> dict[str, Any]:
    """Return data if it is a baseline of a readable schema whose every cell is a known status or a
    per-d table of them; else raise BaselineError naming `where` and the offending cell."""
    if not isinstance(data, dict):
        raise BaselineError(
            f"{where}: not a baseline (a JSON object {{'schema': {BASELINE_SCHEMA}, "
            f"'profiles': {{…}}}} expected, found {type(data).__name__})"
        )
    if data.get("schema") not in READABLE_SCHEMAS:
        raise BaselineError(
            f"{where}: baseline schema {data.get('schema')!r} is not supported; this version "
            f"reads schemas {', '.join(map(str, READABLE_SCHEMAS))}"
        )
    profiles = data.get("profiles")
    if not isinstance(profiles, dict):
        raise BaselineError(f"{where}: 'profiles' missing or not a mapping")
    for prof, table in profiles.items():
        if not isinstance(table, dict) or not all(isinstance(row, dict) for row in table.values()):
            raise BaselineError(f"{where}: profile {prof!r} is not a table {{claim: {{regime: status}}}}")
        for cid, row in table.items():
            for regime, cell in row.items():
                problem = _cell_problem(cell, int(data["schema"]))
                if problem:
                    raise BaselineError(f"{where}: {prof}/{cid}/{regime}: {problem}")
    return data


def _cell_problem(cell: Any, schema: int) -> str | None:
    """What is wrong with one baseline cell (None: nothing)."""
    if isinstance(cell, str):
        return None if cell in STATUSES else f"unknown status {cell!r} (expected one of {', '.join(STATUSES)})"
    if schema >= 2 and isinstance(cell, dict) and cell:
        for k, v in cell.items():
            if k == TREND_KEY:
                if v not in TREND_STATUSES:
                    return f"unknown trend {v!r} (expected one of {', '.join(TREND_STATUSES)})"
                continue
            if not re.fullmatch(r"d=\d+", str(k)):
                return f"per-d key {k!r} is not of the form 'd=N'"
            if v not in STATUSES:
                return f"unknown status {v!r} at {k} (expected one of {', '.join(STATUSES)})"
        return None
    return f"{cell!r} is neither a status nor a per-d table {{'d=N': status}}"


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
    return {cell} if isinstance(cell, str) else {v for k, v in cell.items() if k != TREND_KEY}


def expected_trend(cell: Any) -> str | None:
    """The trend verdict a CELL records (None: none)."""
    return cell.get(TREND_KEY) if isinstance(cell, Mapping) else None


def describe_cell(cell: Any) -> str | None:
    """'holds', or 'fails at d=64; holds at d=128, 256' for a per-d cell."""
    if cell is None or isinstance(cell, str):
        return cell
    by: dict[str, list[str]] = {}
    per_d = {k: v for k, v in cell.items() if k != TREND_KEY}
    for k, s in sorted(per_d.items(), key=lambda kv: int(str(kv[0]).split("=")[-1])):
        by.setdefault(s, []).append(str(k).split("=")[-1])
    text = "; ".join(f"{s} at d={', '.join(ds)}" for s, ds in by.items())
    return text + (f"; trend {cell[TREND_KEY]}" if TREND_KEY in cell else "")


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
        for e, st in zip(cell.entries, cell.statuses):  # an unconfirmed contradiction keeps its record
            kept = str(e.get("expected")) if unconfirmed(e) and e.get("expected") else st
            by_d.setdefault(int((e.get("example") or {}).get("d") or 0), set()).add(kept)
        if any(len(s) != 1 for s in by_d.values()):
            lines = [
                f"    example {e.get('index')}: {describe_example(e.get('example') or {})} -> "
                f"{(e.get('verdict') or {}).get('status')}"
                for e in cell.entries
            ]
            conflicts.append(
                f"  {cid} in {regime} ({cell.nodeid}): "
                + ", ".join(f"{n} {k}" for k, n in cell.counts.items())
                + " at the same d\n"
                + "\n".join(lines)
            )
            continue
        per_d = {d_key(d): next(iter(s)) for d, s in sorted(by_d.items())}
        for status in per_d.values():
            if status not in STATUSES:
                raise BaselineConflict(f"{cid} in {regime}: status {status!r} is not one of {STATUSES}")
        distinct = set(per_d.values())
        statuses[(cid, regime)] = distinct.pop() if len(distinct) == 1 else per_d
    if conflicts:
        raise BaselineConflict(
            "refusing to update the baseline: examples of these cells disagree at the same d "
            "(other seeds or width), so no expected verdict can be recorded for that d (fix "
            "the claim or narrow the profile):\n" + "\n".join(conflicts)
        )
    out = {
        **{k: v for k, v in (baseline or {}).items() if k not in ("schema", "profiles")},
        "schema": BASELINE_SCHEMA,
        "profiles": {
            p: {c: dict(r) for c, r in t.items()} for p, t in ((baseline or {}).get("profiles") or {}).items()
        },
    }
    table = out["profiles"].setdefault(profile, {})
    measured = {
        (str(t.get("claim")), str(t.get("regime"))): str(t["trend"]["status"])
        for t in cert.get("trends", [])
        if isinstance(t.get("trend"), Mapping) and t["trend"].get("status") in TREND_STATUSES
    }
    alone = sorted(k for k in measured if k not in statuses and isinstance(table.get(k[0], {}).get(k[1]), str))
    if alone:
        raise BaselineConflict(
            "refusing to update the baseline: trend items ran without their cells' examples, so the cells' "
            "per-d statuses cannot be written beside the trend: "
            + ", ".join(f"{c} in {r}" for c, r in alone)
            + " (run the claim's certification item too)"
        )
    for (cid, regime), status in measured.items():
        if (cid, regime) not in statuses:
            table.setdefault(cid, {})[regime] = {**(table.get(cid, {}).get(regime) or {}), TREND_KEY: status}
    for (cid, regime), expected in statuses.items():
        trend = measured.get((cid, regime)) or expected_trend(table.get(cid, {}).get(regime))
        if trend is not None:  # the trend (measured, else recorded) beside the per-d statuses
            ds = sorted({int((e.get("example") or {}).get("d") or 0) for e in cells(cert)[(cid, regime)].entries})
            per_cell: dict[str, str] = {d_key(d): expected for d in ds} if isinstance(expected, str) else dict(expected)
            expected = {**per_cell, TREND_KEY: trend}
        table.setdefault(cid, {})[regime] = expected
    out["profiles"][profile] = {c: table[c] for c in sorted(table, key=claim_order)}
    return out, len(statuses | measured.keys())
