"""The overview figure of a paper-regime run: the two phases on one time axis.

Its data are the verdict series the certification already records for the paper regime (no
run of its own): the median over seeds of S_t (C3's panel "S"), of the minibatch max|h'+1|
(C1's "batch_max_dev", with ζ), of the first-layer norms ‖w_sig‖, ‖w_opp‖, ‖w_perp‖ over the
neurons (C2's "d{d}_norms"; the second layer follows the first, |a_k| ≈ ‖w_k‖, C6) and of the
test 0-1 error (C9's "test_error", with ε). T1 and T2 are the medians the claims marked
(`Trajectory.T1` / `T2` through the panels' "T1 (median)" / "T2 (median)" lines, C1's first).
One d is drawn: the smallest at which the paper regime has a C3 or C9 example; a quantity the
certificate lacks at that d (an older certificate, a narrowed run) is left out and said so.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lemmas.plain import num
from lemmas.report import Curve, HLine, Panel, VLine

from .plots import Plot, clean_svg

REGIME = "paper"
# (row title, claim, panel name with {d}, y scale)
ROWS = (
    ("signal-heavy mass S_t", "C3", "S", "linear"),
    ("minibatch max|h'+1| (C1)", "C1", "batch_max_dev", "log"),
    ("first-layer norms over neurons (C2)", "C2", "d{d}_norms", "log"),
    ("test 0-1 error (C9)", "C9", "test_error", "log"),
)


@dataclass
class Row:
    title: str
    claim: str
    curves: list[Curve]
    levels: list[HLine]
    y_scale: str


@dataclass
class Overview:
    d: int
    seeds: int
    rows: list[Row]
    times: dict[str, float]  # "T1", "T2" (median steps), where marked
    missing: list[str] = field(default_factory=list)


def _entries(cert: Mapping[str, Any], claim: str) -> list[Mapping[str, Any]]:
    return [e for e in cert.get("entries") or [] if e.get("claim") == claim and e.get("regime") == REGIME]


def _panel(entry: Mapping[str, Any], name: str) -> Panel | None:
    rec = ((entry.get("verdict") or {}).get("series") or {}).get(name)
    try:
        return Panel.from_dict(rec) if isinstance(rec, dict) else None
    except Exception:  # noqa: BLE001 - an unreadable panel is a missing one
        return None


def _d(entry: Mapping[str, Any]) -> int | None:
    d = num((entry.get("example") or {}).get("d"))
    return int(d) if d is not None and math.isfinite(d) else None


def overview(cert: Mapping[str, Any]) -> Overview | None:
    """The overview's data from a certificate, or None without a paper-regime C3 or C9 example."""
    ds = sorted({d for c in ("C3", "C9") for e in _entries(cert, c) if (d := _d(e)) is not None})
    if not ds:
        return None
    d = ds[0]
    rows: list[Row] = []
    times: dict[str, float] = {}
    missing: list[str] = []
    seeds = 0
    for title, claim, name, scale in ROWS:
        key = name.format(d=d)
        found = None
        for e in _entries(cert, claim):
            p = _panel(e, key)
            if p is not None and (claim == "C2" or _d(e) == d):
                found, seeds = p, max(seeds, len((e.get("verdict") or {}).get("per_seed") or []))
                break
        if found is None:
            missing.append(f"{title}: no {claim} panel {key!r} at d = {d}")
            continue
        curves = [m for m in found.marks if isinstance(m, Curve) and m.role in ("median", "line")]
        rows.append(Row(title, claim, curves, [m for m in found.marks if isinstance(m, HLine)], scale))
        for m in found.marks:
            if isinstance(m, VLine) and math.isfinite(m.x):
                for t in ("T1", "T2"):
                    if m.label == f"{t} (median)":
                        times.setdefault(t, m.x)
    return Overview(d, seeds, rows, times, missing) if rows else None


def overview_figure(ov: Overview, id_prefix: str = "overview-") -> Plot:
    """The rows stacked on one shared step axis; phase one shaded up to T1, T1 and T2 marked on every row."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullLocator

    height = 1.9 * len(ov.rows) + 0.8
    fig = Figure(figsize=(7.2, height))
    fig.subplots_adjust(left=0.12, right=0.98, top=1 - 0.55 / height, bottom=0.45 / height, hspace=0.4)
    axes = fig.subplots(len(ov.rows), 1, sharex=True, squeeze=False)[:, 0]
    title = f"paper regime, d = {ov.d}: phase one (shaded, up to T1) then phase two — medians over seeds"
    for ax, row in zip(axes, ov.rows, strict=True):
        ax.set_title(row.title, fontsize=8.5, loc="left")
        ax.tick_params(labelsize=7.5)
        ax.grid(True, alpha=0.25, linewidth=0.5)
        if row.y_scale == "log":
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_locator(NullLocator())
        for c in row.curves:
            ys = [v if (row.y_scale != "log" or v > 0) else math.nan for v in c.y]
            ax.plot(c.x, ys, linewidth=1.4, label=c.label or None)
        for h in row.levels:
            if math.isfinite(h.y) and not (row.y_scale == "log" and h.y <= 0):
                ax.axhline(h.y, color="#c0392b", linestyle="--", linewidth=0.9, label=h.label or None)
        if "T1" in ov.times:
            ax.axvspan(0, ov.times["T1"], color="#7f9cc9", alpha=0.12, linewidth=0)
        for t, colour in (("T1", "#1b7837"), ("T2", "#7b3294")):
            if t in ov.times:
                ax.axvline(ov.times[t], color=colour, linestyle=":", linewidth=1.1, label=t)
        ax.legend(fontsize=6.5, loc="best", frameon=False)
    axes[-1].set_xlabel("step t", fontsize=8)
    fig.suptitle(title, fontsize=9, x=0.02, y=1 - 0.08 / height, ha="left", va="top")
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "xorcert"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return Plot(title, clean_svg(buf.getvalue(), id_prefix))
