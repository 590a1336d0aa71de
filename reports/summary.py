"""The terminal summary of a certification run: one line per claim × regime.

Each line: claim, regime, verdict (with the per-status counts when the examples
disagree), number of examples, seeds, failing seeds with their Clopper–Pearson interval,
and the claim's key statistic on its closest example against its threshold.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import keystats
from .certificate import cells, confidence

HEADER = (f"{'claim':<5} {'regime':<17} {'verdict':<13} {'ex':>3} {'seeds':>5}  {'failing seeds [CI]':<20}  "
          f"key statistic against its threshold")


def status_text(cell_status: str, counts: Mapping[str, int]) -> str:
    if cell_status == "mixed":
        return "mixed " + "/".join(f"{n}{k[0]}" for k, n in counts.items())
    return cell_status


def cell_lines(cert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(line, colour) per cell; colour is 'green', 'red', 'yellow' or ''."""
    conf = confidence(cert)
    out = []
    for (cid, regime), cell in cells(cert).items():
        rate = cell.fail_rate(conf)
        if rate is None:
            rate_s = "—"
        else:
            k, n, _ = cell.seed_outcomes()
            rate_s = f"{k}/{n} [{rate[1]:.2f}, {rate[2]:.2f}]"
        key = keystats.worst(cid, [e.get("verdict") or {} for e in cell.entries])
        if key is not None:
            key_s = key.describe()
        elif cell.entries:  # no statistic measured (e.g. a claim not defined in this regime): the reason
            key_s = str((cell.entries[0].get("verdict") or {}).get("reason", ""))[:90]
        else:
            key_s = str((cell.item or {}).get("message", ""))[:90]
        status = cell.status
        line = (f"{cid:<5} {regime:<17} {status_text(status, cell.counts):<13} {len(cell.entries):>3} "
                f"{cell.seeds:>5}  {rate_s:<20}  {key_s}")
        colour = {"holds": "green", "fails": "red", "error": "red", "mixed": "yellow"}.get(status, "")
        out.append((line, colour))
    return out
