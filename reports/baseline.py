"""reports/baseline.json: the expected verdict per profile, claim and regime.

Schema: `{"schema": 1, "profiles": {profile: {claim_id: {regime: "holds"|"fails"|"inconclusive"}}}}`.
`updated(baseline, cert)` is what `--update-baseline` writes: the old table with every
(profile, claim, regime) the certificate covers set to the status all its examples share;
cells whose examples disagree are refused (`BaselineConflict` lists them), since one
expected status per cell is what the certification test compares with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .certificate import STATUSES, cells, claim_order
from .diff import describe_example
from .files import read_json

BASELINE_SCHEMA = 1


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
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA or not isinstance(data.get("profiles"), dict):
        raise ValueError(f"{path}: not a baseline (expected {{'schema': {BASELINE_SCHEMA}, 'profiles': {{…}}}})")
    return data


def updated(baseline: Mapping[str, Any] | None, cert: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """(the new baseline, the number of cells written). Raises BaselineConflict on disagreeing examples."""
    profile = cert.get("profile")
    if not profile or "+" in str(profile):
        raise BaselineConflict(f"the certificate's profile is {profile!r}: one hypothesis profile per run is needed")
    conflicts, statuses = [], {}
    for (cid, regime), cell in cells(cert).items():
        if not cell.entries:
            continue
        s = set(cell.statuses)
        if len(s) != 1:
            lines = [f"    example {e.get('index')}: {describe_example(e.get('example') or {})} -> "
                     f"{(e.get('verdict') or {}).get('status')}" for e in cell.entries]
            conflicts.append(f"  {cid} in {regime} ({cell.nodeid}): " + ", ".join(
                f"{n} {k}" for k, n in cell.counts.items()) + "\n" + "\n".join(lines))
            continue
        status = s.pop()
        if status not in STATUSES:
            raise BaselineConflict(f"{cid} in {regime}: status {status!r} is not one of {STATUSES}")
        statuses[(cid, regime)] = status
    if conflicts:
        raise BaselineConflict("refusing to update the baseline: the examples of these cells disagree, so no "
                               "single expected verdict can be recorded (fix the claim or narrow the profile):\n"
                               + "\n".join(conflicts))
    out = {"schema": BASELINE_SCHEMA, "profiles": {p: {c: dict(r) for c, r in t.items()}
                                                   for p, t in ((baseline or {}).get("profiles") or {}).items()}}
    table = out["profiles"].setdefault(profile, {})
    for (cid, regime), status in statuses.items():
        table.setdefault(cid, {})[regime] = status
    out["profiles"][profile] = {c: table[c] for c in sorted(table, key=claim_order)}
    return out, len(statuses)
