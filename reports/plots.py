"""Plots of a verdict's series, as inline SVG (matplotlib, Agg/SVG backends, no pyplot state).

A verdict's `series` maps names to panel records (`lemmas.report.Panel.to_dict`); one
renderer draws any panel: bands, curves, scatters, error bars, then threshold and
reference lines, with the panel's title, axis labels and scales. What a mark looks like
follows its role (`ROLE_STYLE`): seed curves thin and light under one legend entry, the
median thick, fits dashed, references dotted, thresholds red.

Rendering never raises: a panel that cannot be drawn is reported through `log` and skipped.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lemmas.report import Band, Curve, ErrorBar, HLine, Panel, Scatter, VLine

Log = Callable[[str], None]

SIZE = (6.4, 3.0)
COLOURS = {"median": "#1f3b73", "seed": "#7f9cc9", "threshold": "#c0392b", "reference": "#555555", "fit": "#e08214"}
CYCLE = ("#1f3b73", "#e08214", "#1b7837", "#7b3294", "#c0392b", "#008b8b", "#8c564b", "#555555")
# curve role -> (colour, line style, line width, alpha)
ROLE_STYLE = {
    "median": (COLOURS["median"], "-", 1.6, 1.0),
    "seed": (COLOURS["seed"], "-", 0.7, 0.7),
    "fit": (COLOURS["fit"], "--", 1.2, 1.0),
    "reference": (COLOURS["median"], ":", 1.2, 1.0),
    "threshold": (COLOURS["threshold"], ":", 1.0, 1.0),
    "line": (None, "-", 1.3, 1.0),
}
ID_TOKEN = "__xorcert_id__-"  # placeholder prefix of SVG element ids, made unique by plots_for


@dataclass(frozen=True)
class Plot:
    title: str
    svg: str


class _Figure:
    """A matplotlib Figure without pyplot, saved as a cleaned inline SVG."""

    def __init__(self, title: str, size: tuple[float, float] = SIZE) -> None:
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=size)  # fixed margins: a layout engine would double the drawing time
        self.fig.subplots_adjust(left=0.12, right=0.98, top=0.89, bottom=0.15)
        self.ax = self.fig.add_subplot()
        self.title = title
        self.ax.set_title(title, fontsize=9, loc="left")
        self.ax.tick_params(labelsize=7.5)
        self.ax.grid(True, alpha=0.25, linewidth=0.5)

    def labels(self, x: str | None, y: str | None) -> None:
        if x:
            self.ax.set_xlabel(str(x), fontsize=8)
        if y:
            self.ax.set_ylabel(str(y), fontsize=8)

    def log(self, which: str, base: float = 10) -> None:
        """A log axis with plain tick labels (mathtext labels would triple the drawing time) and no minor ticks."""
        from matplotlib.ticker import FuncFormatter, NullLocator

        axis = self.ax.yaxis if which == "y" else self.ax.xaxis
        (self.ax.set_yscale if which == "y" else self.ax.set_xscale)("log", base=base)
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())

    def _narrow_log_ticks(self) -> None:
        """On a log axis spanning less than two decades, label 1, 2, 5 × 10^k rather than 10^k alone."""
        from matplotlib.ticker import LogLocator

        for axis, lim, scale in (
            (self.ax.yaxis, self.ax.get_ylim(), self.ax.get_yscale()),
            (self.ax.xaxis, self.ax.get_xlim(), self.ax.get_xscale()),
        ):
            lo, hi = sorted(lim)
            if (
                scale == "log"
                and lo > 0
                and hi / lo < 100
                and axis.get_major_locator().__class__ is LogLocator
                and getattr(axis.get_major_locator(), "_base", 10) == 10
            ):
                axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))

    def svg(self) -> Plot:
        import matplotlib

        self._narrow_log_ticks()
        handles, _ = self.ax.get_legend_handles_labels()
        if handles:
            self.ax.legend(fontsize=6.5, loc="best", frameon=False)
        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "xorcert"}):
            self.fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        return Plot(self.title, clean_svg(buf.getvalue(), ID_TOKEN))


def clean_svg(text: str, prefix: str) -> str:
    """Inline-ready SVG: no XML prolog, doctype, metadata or namespace URLs; ids prefixed to be unique."""
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    text = re.sub(r"<svg\b", '<svg role="img" class="plot"', text, count=1)
    return text.strip()


# ------------------------------------------------------------------------------ the renderer
def _colour(group: int | None, default: str) -> str:
    return default if group is None else CYCLE[group % len(CYCLE)]


def _auto_log(ys: list[np.ndarray]) -> bool:
    """Positive data spanning more than 100×."""
    fin = [y[np.isfinite(y)] for y in ys]
    pos = np.concatenate(fin or [np.array([])])
    return bool(pos.size and (pos > 0).all() and pos.max() / pos.min() > 100)


def draw(panel: Panel) -> Plot:
    """One panel as a Plot; raises on a panel with nothing to draw."""
    f = _Figure(panel.title)
    curves = [m for m in panel.marks if isinstance(m, (Curve, Scatter))]
    ys = [np.asarray(m.y, dtype=float) for m in curves]
    bands = [m for m in panel.marks if isinstance(m, Band)]
    if not any(np.isfinite(y).any() for y in ys) and not bands:
        raise ValueError(f"panel {panel.title!r}: no curve with a finite value")
    log_y = panel.y_scale == "log" or (panel.y_scale == "auto" and _auto_log(ys))
    if log_y:
        f.log("y")
    if panel.x_scale != "linear":
        f.log("x", 2 if panel.x_scale == "log2" else 10)
    shown = ys + [np.asarray(v, dtype=float) for m in bands for v in (m.lo, m.hi)]
    pos = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in shown] or [np.array([])])
    floor = float(pos.min()) if log_y and pos.size else None
    seen_seed = False
    vlines = 0
    for m in panel.marks:
        if isinstance(m, Band):  # on log axes a lower end ≤ 0 is drawn at the smallest value shown
            lo = np.asarray(m.lo, dtype=float)
            f.ax.fill_between(
                m.x,
                np.where(lo > 0, lo, floor) if floor else lo,
                m.hi,
                linewidth=0,
                color=_colour(m.group, COLOURS["seed"]),
                alpha=0.12 if m.group is None else 0.18,
            )
        elif isinstance(m, Curve):
            colour, style, width, alpha = ROLE_STYLE[m.role]
            label: str | None = m.label or None
            if m.role == "seed":
                label, seen_seed = (None if seen_seed else "seeds"), True
            f.ax.plot(
                m.x,
                m.y,
                ("o" if m.markers else "") + style,
                color=colour or _colour(m.group, CYCLE[0]),
                linewidth=width,
                alpha=alpha,
                markersize=3 if m.markers else 0,
                label=label,
            )
        elif isinstance(m, Scatter):
            big = m.group is not None  # grouped points are few and each one counts (a boundary's probes)
            f.ax.scatter(
                m.x,
                m.y,
                s=18 if big else 6,
                alpha=0.9 if big else 0.6,
                color=_colour(m.group, COLOURS["median"]),
                linewidths=0,
                label=m.label or None,
            )
        elif isinstance(m, ErrorBar):
            if all(math.isfinite(v) for v in (m.x, m.y, m.lo, m.hi)) and not (log_y and m.lo <= 0):
                f.ax.errorbar(
                    [m.x],
                    [m.y],
                    yerr=[[max(m.y - m.lo, 0)], [max(m.hi - m.y, 0)]],
                    color=COLOURS["median"],
                    capsize=3,
                    linewidth=1.0,
                    label=m.label or None,
                )
        elif isinstance(m, HLine):
            if math.isfinite(m.y) and not (log_y and m.y <= 0):
                threshold = m.role == "threshold"
                f.ax.axhline(
                    m.y,
                    color=COLOURS["threshold"] if threshold else COLOURS["median"],
                    linestyle="--" if threshold else ":",
                    linewidth=1.0,
                    label=m.label or None,
                )
        elif isinstance(m, VLine):
            if math.isfinite(m.x):
                colour = CYCLE[(vlines + 3) % len(CYCLE)] if m.role == "reference" else COLOURS["threshold"]
                f.ax.axvline(m.x, color=colour, linestyle=":", linewidth=1.0, label=m.label or None)
                vlines += 1
    f.labels(panel.x_label, panel.y_label)
    return f.svg()


def plots_for(claim: str, verdict: Mapping[str, Any], log: Log = lambda msg: None, id_prefix: str = "p") -> list[Plot]:
    """Every panel of the verdict's series, drawn; `claim` only names it in the log.

    SVG element ids are prefixed with `id_prefix` and the plot's number, so that many plots
    can be inlined in one page; give each call its own prefix.
    """
    series = verdict.get("series")
    out: list[Plot] = []
    if not isinstance(series, dict):
        if series not in (None, {}, []):
            log(f"{claim}: series of type {type(series).__name__} skipped (a mapping of panels was expected)")
        return out
    if series and not any(isinstance(r, dict) and r.get("kind") == "panel" for r in series.values()):
        log(f"{claim}: series without panel records (a certificate older than lemmas.report) not drawn")
        return out
    for name, record in series.items():
        try:
            out.append(draw(Panel.from_dict(record)))
        except Exception as e:  # noqa: BLE001 - one odd series never breaks the report
            log(f"{claim}: series {name!r} skipped ({type(e).__name__}: {e})")
    return [Plot(p.title, p.svg.replace(ID_TOKEN, f"{id_prefix}{i}-")) for i, p in enumerate(out)]
