"""The terminal summary of a certification run: one line per claim × regime.

Each line: claim, regime, verdict (with the per-status counts when the examples
disagree), number of examples, seeds, failing seeds with their Clopper–Pearson interval,
and the claim's first key statistic (from the certificate's `claims` section) on its
closest example against its threshold. A cell the baseline does not know (an example
with no expected verdict) is tagged `new` and never coloured red. User regimes (not
built in) follow `paper`; a claim whose verdict there differs from paper's is tagged
`≠paper`, and one line per user regime lists those claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import keystats
from .certificate import cells, claim_order, confidence, describe_differences, matrix_regimes, paper_differences

HEADER = (
    f"{'claim':<5} {'regime':<17} {'verdict':<13} {'ex':>3} {'seeds':>5}  {'failing seeds [CI]':<20}  "
    f"key statistic against its threshold"
)


def status_text(cell_status: str, counts: Mapping[str, int]) -> str:
    if cell_status == "mixed":
        return "mixed " + "/".join(f"{n}{k[0]}" for k, n in counts.items())
    return cell_status


def cell_lines(cert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(line, colour) per cell, then one line per user regime; colour is 'green', 'red', 'yellow', 'cyan'
    (a new cell) or ''."""
    conf = confidence(cert)
    cs = cells(cert)
    rank = {r: i for i, r in enumerate(matrix_regimes(cert))}
    ordered = sorted(cs.items(), key=lambda kv: (claim_order(kv[0][0]), rank.get(kv[0][1], len(rank)), kv[0][1]))
    differences = paper_differences(cert, cs)
    differ = {(d.claim, d.regime) for rows in differences.values() for d in rows or ()}
    out = []
    for (cid, regime), cell in ordered:
        rate = cell.fail_rate(conf)
        if rate is None:
            rate_s = "—"
        else:
            k, n, _ = cell.seed_outcomes()
            rate_s = f"{k}/{n} [{rate[1]:.2f}, {rate[2]:.2f}]"
        key = keystats.worst(keystats.claim_key_stats(cert, cid), [e.get("verdict") or {} for e in cell.entries])
        if key is not None:
            key_s = key.describe()
        elif cell.entries:  # no statistic measured (e.g. a claim not defined in this regime): the reason
            key_s = str((cell.entries[0].get("verdict") or {}).get("reason", ""))[:90]
        else:
            key_s = str((cell.item or {}).get("message", ""))[:90]
        status = cell.status
        tags = (" new" if cell.new else "") + (" ≠paper" if (cid, regime) in differ else "")
        line = (
            f"{cid:<5} {regime:<17} {status_text(status, cell.counts) + tags:<13} {len(cell.entries):>3} "
            f"{cell.seeds:>5}  {rate_s:<20}  {key_s}"
        )
        colour = {"holds": "green", "fails": "red", "error": "red", "mixed": "yellow"}.get(status, "")
        out.append((line, "cyan" if cell.new and status != "error" else colour))
    for regime, rows in differences.items():
        out.append((describe_differences(regime, rows), "yellow" if rows else ""))
    return out
