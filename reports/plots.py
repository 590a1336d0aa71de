"""Plots of a verdict's series, as inline SVG (matplotlib, Agg/SVG backends, no pyplot state).

A verdict's `series` comes in the shapes the claim modules give it; every shape present
in lemmas/c01…c11 is drawn, and anything else falls through to a generic renderer:

* curve dicts `{"x", "median", "per_seed": {seed: [...]}, "x_label", "y_label", "hlines",
  "vlines", "log_y", "per_seed_lo"/"per_seed_hi"}` (C1, C3–C6, C9): median and seed curves
  with the threshold lines;
* rung groups `"d64.t"`, `"d64.w_sig_q10"`, …, `"d64.fit_t"`, `"d64.w_sig_fit"` (C2): the
  spread of ‖w_sig‖, ‖w_opp‖, ‖w_perp‖ over neurons with T1, T2 and the prediction marked,
  and the growth-rate fit against the linearized prediction;
* a ladder axis `"d"` with `<name>_median` / `<name>_seed<k>` lists (C10, C11): against d,
  C10 on log-log axes with the fitted slope and the band, C11 with its factor-2 band;
* per-rung grids `"m_tried_d64"` with `"n_median_by_m_d64"` (C10): n(m) at each d;
* `"quantile_levels"` with quantile lists (C7), plus C7's log-log noise/drift against m
  from its statistics with the √(d/m) slope;
* `"snap_steps"` with lists of its length, and paired lists as a scatter (C8).

Rendering never raises: a series that cannot be drawn is reported through `log` and skipped.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .files import num

Log = Callable[[str], None]

SIZE = (6.4, 3.0)
COLOURS = {"median": "#1f3b73", "seed": "#7f9cc9", "threshold": "#c0392b", "vline": "#555555",
           "w_sig": "#1b7837", "w_opp": "#c0392b", "w_perp": "#7b3294", "fit": "#e08214", "pred": "#1f3b73"}
CYCLE = ("#1f3b73", "#e08214", "#1b7837", "#7b3294", "#c0392b", "#008b8b", "#8c564b", "#555555")
ID_TOKEN = "__xorcert_id__-"  # placeholder prefix of SVG element ids, made unique by plots_for
RUNG = re.compile(r"^(d\d+)\.(.+)$")
PER_D = re.compile(r"^(.+)_d(\d+)$")
SEED_SUFFIX = re.compile(r"^(.+)_seed(-?\d+)$")


@dataclass(frozen=True)
class Plot:
    title: str
    svg: str


# ------------------------------------------------------------------------------ helpers
def values(x: Any) -> np.ndarray:
    """A list of numbers (None, 'nan', 'inf' allowed) as a float array; anything else raises."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"expected a list of numbers, got {type(x).__name__}")
    out = []
    for v in x:
        f = num(v)
        out.append(math.nan if f is None else f)
    return np.asarray(out, dtype=float)


def is_numeric_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(num(v) is not None or v is None for v in x) \
        and any(num(v) is not None for v in x)


def _finite(v: Any) -> float | None:
    f = num(v)
    return f if f is not None and math.isfinite(f) else None


def _positive_floor(ys: list[np.ndarray]) -> float | None:
    pos = [y[np.isfinite(y) & (y > 0)] for y in ys]
    pos = [p for p in pos if p.size]
    return float(min(p.min() for p in pos)) if pos else None


def _median_of(v: Any, nonneg: bool = False) -> float | None:
    """A scalar, or the median of the finite (and, if asked, ≥ 0) entries of a list."""
    if isinstance(v, (list, tuple)):
        xs = [f for f in (_finite(x) for x in v) if f is not None and (not nonneg or f >= 0)]
        return float(np.median(xs)) if xs else None
    f = _finite(v)
    return None if f is None or (nonneg and f < 0) else f


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

    def log_y_if(self, ys: Iterable[np.ndarray], want: bool | None = None) -> None:
        """Log y when asked (or, when want is None, for positive data spanning > 100×)."""
        pos = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys] or [np.array([])])
        if not pos.size:
            return
        if want or (want is None and pos.max() / pos.min() > 100 and all((y[np.isfinite(y)] > 0).all() for y in ys)):
            self.log("y")

    def log(self, which: str, base: float = 10) -> None:
        """A log axis with plain tick labels (mathtext labels would triple the drawing time) and no minor ticks."""
        from matplotlib.ticker import FuncFormatter, NullLocator

        axis = self.ax.yaxis if which == "y" else self.ax.xaxis
        (self.ax.set_yscale if which == "y" else self.ax.set_xscale)("log", base=base)
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())

    def hline(self, label: str | None, y: Any, colour: str = COLOURS["threshold"], style: str = "--") -> None:
        f = _finite(y)
        if f is None or (self.ax.get_yscale() == "log" and f <= 0):
            return
        self.ax.axhline(f, color=colour, linestyle=style, linewidth=1.0, label=None if label is None else str(label))

    def vline(self, label: str, x: Any, colour: str = COLOURS["vline"], style: str = ":") -> None:
        f = _finite(x)
        if f is None:
            return
        self.ax.axvline(f, color=colour, linestyle=style, linewidth=1.0, label=str(label))

    def _narrow_log_ticks(self) -> None:
        """On a log axis spanning less than two decades, label 1, 2, 5 × 10^k rather than 10^k alone."""
        from matplotlib.ticker import LogLocator

        for axis, lim, scale in ((self.ax.yaxis, self.ax.get_ylim(), self.ax.get_yscale()),
                                 (self.ax.xaxis, self.ax.get_xlim(), self.ax.get_xscale())):
            lo, hi = sorted(lim)
            if scale == "log" and lo > 0 and hi / lo < 100 and axis.get_major_locator().__class__ is LogLocator \
                    and getattr(axis.get_major_locator(), "_base", 10) == 10:
                axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))

    def svg(self) -> Plot:
        import matplotlib

        self._narrow_log_ticks()
        handles, _ = self.ax.get_legend_handles_labels()
        if handles:
            self.ax.legend(fontsize=6.5, loc="best", frameon=False)
        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "xorcert"}):
            self.fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                          "Type": None})
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
    text = re.sub(r'<svg\b', '<svg role="img" class="plot"', text, count=1)
    return text.strip()


# ------------------------------------------------------------------------------ renderers
def curve_plot(name: str, s: Mapping[str, Any]) -> Plot:
    """A curve dict: seed curves (thin), the median (thick), hlines and vlines."""
    x = values(s["x"])
    f = _Figure(name)
    ys = []
    per_seed = s.get("per_seed") or {}
    lo, hi = s.get("per_seed_lo") or {}, s.get("per_seed_hi") or {}
    log_y = bool(s.get("log_y"))
    bands = []
    if isinstance(per_seed, dict):
        for i, (seed, v) in enumerate(per_seed.items()):
            y = values(v)
            if len(y) != len(x):
                continue
            ys.append(y)
            f.ax.plot(x, y, color=COLOURS["seed"], linewidth=0.7, alpha=0.7, label="seeds" if i == 0 else None)
            if isinstance(lo, dict) and isinstance(hi, dict) and seed in lo and seed in hi:
                yl, yh = values(lo[seed]), values(hi[seed])
                if len(yl) == len(x) == len(yh):
                    bands.append((yl, yh))
    floor = _positive_floor(ys + [b for pair in bands for b in pair]) if log_y else None
    for yl, yh in bands:  # per-seed intervals; on log axes a lower end of 0 is drawn at the smallest value shown
        f.ax.fill_between(x, np.fmax(yl, floor) if floor else yl, yh, color=COLOURS["seed"], alpha=0.12,
                          linewidth=0)
    if "median" in s:
        y = values(s["median"])
        if len(y) == len(x):
            ys.append(y)
            f.ax.plot(x, y, color=COLOURS["median"], linewidth=1.6, label="median over seeds")
    if not ys:
        raise ValueError("no curve of the length of x")
    f.log_y_if(ys, log_y)
    for label, v in (s.get("hlines") or {}).items():
        f.hline(label, v)
    for i, (label, v) in enumerate((s.get("vlines") or {}).items()):
        f.vline(label, _median_of(v), colour=CYCLE[(i + 3) % len(CYCLE)])
    f.labels(s.get("x_label"), s.get("y_label"))
    return f.svg()


def rung_plots(rung: str, group: Mapping[str, Any], stats: Mapping[str, Any]) -> list[Plot]:
    """C2-style rung group: spread of the neuron norms over time, and the growth-rate fit."""
    out = []
    t1 = _median_of(group.get("T1"), nonneg=True)
    t2 = _median_of(group.get("T2"), nonneg=True)
    t1p = _median_of(group.get("T1_pred"))
    if "t" in group:
        t = values(group["t"])
        bases = sorted({k[: -len(suf)] for k in group for suf in ("_q10", "_med", "_q90") if k.endswith(suf)})
        if bases:
            f = _Figure(f"{rung.replace('d', 'd = ', 1)}: norms over the neurons (median, 10–90%)")
            ys = []
            for i, b in enumerate(bases):
                c = COLOURS.get(b, CYCLE[i % len(CYCLE)])
                med = values(group.get(f"{b}_med", []))
                if len(med) != len(t):
                    continue
                ys.append(med)
                q10, q90 = group.get(f"{b}_q10"), group.get(f"{b}_q90")
                if q10 is not None and q90 is not None and len(q10) == len(t) == len(q90):
                    f.ax.fill_between(t, values(q10), values(q90), color=c, alpha=0.18, linewidth=0)
                f.ax.plot(t, med, color=c, linewidth=1.4, label=f"‖{b}‖")
            if ys:
                f.log_y_if(ys, True)
                f.vline("T1 (median)", t1, colour="#1b7837")
                f.vline("T2 (median)", t2, colour="#c0392b")
                f.vline("T1 predicted", t1p, colour="#555555", style="-.")
                f.labels("step t", "norm")
                out.append(f.svg())
    if "fit_t" in group:
        ft = values(group["fit_t"])
        fits = {k: values(v) for k, v in group.items() if k.endswith(("_fit", "_pred")) and isinstance(v, list)
                and len(v) == len(ft) and len(v)}
        if fits:
            ratio = _finite(stats.get(f"{rung}_rate_ratio"))
            f = _Figure(f"{rung.replace('d', 'd = ', 1)}: growth of ‖w_sig‖ at initial size"
                        + (f" — fitted/predicted rate {ratio:.3g}" if ratio is not None else ""))
            if "t" in group and "w_sig_med" in group:
                t, med = values(group["t"]), values(group["w_sig_med"])
                if len(t) == len(med):
                    keep = t <= (ft.max() if ft.size else 0)
                    f.ax.plot(t[keep], med[keep], color=COLOURS["median"], linewidth=1.6,
                              label="‖w_sig‖ median")
            for k, y in fits.items():
                kind = "fit" if k.endswith("_fit") else "pred"
                f.ax.plot(ft, y, color=COLOURS[kind], linestyle="--" if kind == "fit" else ":", linewidth=1.2,
                          label=("fitted rate" if kind == "fit" else "linearized prediction"))
            f.log_y_if(list(fits.values()), True)
            f.labels("step t", "‖w_sig‖")
            out.append(f.svg())
    return out


def ladder_plots(claim: str, d: np.ndarray, groups: Mapping[str, dict[str, Any]], stats: Mapping[str, Any],
                 thresholds: Mapping[str, Any]) -> list[Plot]:
    """Quantities against d: median (thick) and seeds (thin); C10 log-log with slope and band, C11 band."""
    out = []
    for base, parts in groups.items():
        f = _Figure(base.replace("_", " "))
        ys = []
        for i, (seed, v) in enumerate(parts.get("seeds", {}).items()):
            y = values(v)
            ys.append(y)
            f.ax.plot(d, y, "o-", color=COLOURS["seed"], linewidth=0.7, markersize=2.5, alpha=0.7,
                      label="seeds" if i == 0 else None)
        if "median" in parts:
            y = values(parts["median"])
            ys.append(y)
            f.ax.plot(d, y, "o-", color=COLOURS["median"], linewidth=1.6, markersize=4, label="median over seeds")
        if not ys:
            continue
        f.log("x", 2)
        if claim == "C10" and base.startswith("n_star") and "over" not in base:
            f.log_y_if(ys, True)
            if f.ax.get_yscale() == "log":
                _c10_slope(f, d, ys[-1], stats, thresholds)
        elif claim == "C11" and "median" in parts and base.startswith("T1_eta_over_logd"):
            med = np.nanmedian(values(parts["median"]))
            factor = _finite(thresholds.get("factor")) or 2.0
            if math.isfinite(med):
                f.hline("median over the ladder", med, colour=COLOURS["median"], style=":")
                f.hline(f"×{factor:g} band", med * factor)
                f.hline(None, med / factor)
        else:
            f.log_y_if(ys)
        f.labels("d", base.replace("_", " "))
        out.append(f.svg())
    return out


def _c10_slope(f: _Figure, d: np.ndarray, y: np.ndarray, stats: Mapping[str, Any],
               thresholds: Mapping[str, Any]) -> None:
    ok = np.isfinite(y) & (y > 0) & (d > 0)
    if ok.sum() < 2:
        return
    ld, ly = np.log(d[ok]), np.log(y[ok])
    slope = _finite(stats.get("slope"))
    own = slope is None  # the verdict measured no slope: fit the plotted medians, and say so
    if own:
        slope = float(np.polyfit(ld, ly, 1)[0])
    c = ly.mean() - slope * ld.mean()
    xs = np.exp(np.linspace(ld.min(), ld.max(), 20))
    lo_ci, hi_ci = _finite(stats.get("slope_lo")), _finite(stats.get("slope_hi"))
    ci = f", 95% CI [{lo_ci:.3g}, {hi_ci:.3g}]" if lo_ci is not None and hi_ci is not None else ""
    f.ax.plot(xs, np.exp(c) * xs**slope, color=COLOURS["fit"], linestyle="--", linewidth=1.2,
              label=f"fit: slope {slope:.3g}{ci}")
    lo, hi = _finite(thresholds.get("slope_lo")), _finite(thresholds.get("slope_hi"))
    if lo is not None and hi is not None:
        for s, style in ((lo, ":"), (hi, ":")):
            f.ax.plot(xs, np.exp(ly.mean() - s * ld.mean()) * xs**s, color=COLOURS["threshold"], linestyle=style,
                      linewidth=1.0, label=f"band slope {s:g}")
    f.title = (f"{f.title} — slope of the plotted medians {slope:.3g} (the verdict measured none)" if own
               else f"{f.title} — log-log slope {slope:.3g}{ci}")
    f.ax.set_title(f.title, fontsize=9, loc="left")


def per_d_plots(groups: Mapping[str, dict[str, list]]) -> list[Plot]:
    """C10 grid: for each rung d, the lists of the m-grid plotted against `m_tried`."""
    by_d: dict[str, dict[str, Any]] = {}
    for name, rows in groups.items():
        for dd, v in rows.items():
            by_d.setdefault(dd, {})[name] = v
    axis = "m_tried"
    names = sorted({n for v in by_d.values() for n in v if n != axis})
    out = []
    for name in names:
        f = _Figure(f"{name.replace('_', ' ')} at each d")
        ys = []
        for i, (dd, v) in enumerate(sorted(by_d.items(), key=lambda kv: int(kv[0]))):
            if axis not in v or name not in v:
                continue
            x, y = values(v[axis]), values(v[name])
            if len(x) != len(y):
                continue
            ys.append(y)
            f.ax.plot(x, y, "o-", color=CYCLE[i % len(CYCLE)], linewidth=1.0, markersize=3, label=f"d = {dd}")
        if not ys:
            continue
        f.log("x", 2)
        f.log_y_if(ys)
        f.labels("batch size m", name.replace("_", " "))
        out.append(f.svg())
    return out


def quantile_plot(levels: np.ndarray, lists: Mapping[str, Any], thresholds: Mapping[str, Any]) -> Plot:
    f = _Figure("quantiles over neurons and seeds")
    ys = []
    for i, (k, v) in enumerate(lists.items()):
        y = values(v)
        ys.append(y)
        f.ax.plot(levels, y, "o-", color=CYCLE[i % len(CYCLE)], linewidth=1.2, markersize=3,
                  label=k.replace("_", " "))
    f.log_y_if(ys)
    if "ratio_max" in thresholds:
        f.hline("threshold (median)", thresholds["ratio_max"])
    f.vline("median", 0.5)
    f.labels("quantile level", "value")
    return f.svg()


def c7_loglog(stats: Mapping[str, Any], thresholds: Mapping[str, Any]) -> Plot | None:
    """noise/drift against the batch size on log-log axes, with the theory slope -1/2 through m = d."""
    m_d, m_r = _finite(stats.get("m_d")), _finite(stats.get("m_regime"))
    r_d, r_r = _finite(stats.get("ratio_median_m_d")), _finite(stats.get("ratio_median"))
    if None in (m_d, m_r, r_d, r_r) or min(m_d, m_r, r_d, r_r) <= 0 or m_d == m_r:  # type: ignore[operator]
        return None
    slope = math.log(r_r / r_d) / math.log(m_r / m_d)  # type: ignore[operator]
    f = _Figure(f"median noise/drift against the batch: measured slope {slope:.3g} (theory −0.5)")
    xs = np.geomspace(min(m_d, m_r), max(m_d, m_r), 20)  # type: ignore[type-var]
    f.ax.plot([m_d, m_r], [r_d, r_r], "o-", color=COLOURS["median"], linewidth=1.6, label="measured (median)")
    f.ax.plot(xs, r_d * (xs / m_d) ** -0.5, color=COLOURS["fit"], linestyle="--", linewidth=1.2,  # type: ignore
              label="theory ∝ √(d/m) through m = d")
    lo, hi = _finite(stats.get("ratio_median_lo")), _finite(stats.get("ratio_median_hi"))
    if lo is not None and hi is not None and lo > 0:
        f.ax.errorbar([m_r], [r_r], yerr=[[r_r - lo], [max(hi - r_r, 0)]], color=COLOURS["median"],  # type: ignore
                      capsize=3, linewidth=1.0)
    f.log("x")
    f.log("y")
    f.hline("threshold", thresholds.get("ratio_max"))
    f.labels("batch size m", "median noise / drift")
    return f.svg()


# thresholds drawn as horizontal lines on a claim's generic plots (key in Verdict.thresholds)
HLINES = {"C8": ("finder_share_min", "finder_share_frozen_max", "spearman_max")}


def xy_plot(title: str, x: np.ndarray, lists: Mapping[str, Any], x_label: str,
            hlines: Mapping[str, Any] | None = None, markers: bool = False) -> Plot:
    f = _Figure(title)
    ys = []
    for i, (k, v) in enumerate(lists.items()):
        y = values(v)
        ys.append(y)
        f.ax.plot(x, y, "o-" if markers else "-", color=CYCLE[i % len(CYCLE)], linewidth=1.0 if markers else 1.3,
                  markersize=3.5, label=k.replace("_", " "))
    f.log_y_if(ys)
    lo = np.nanmin(np.concatenate(ys)) if ys and np.isfinite(np.concatenate(ys)).any() else None
    hi = np.nanmax(np.concatenate(ys)) if lo is not None else None
    for label, v in (hlines or {}).items():
        fv = _finite(v)
        if fv is not None and lo is not None and lo - abs(hi - lo) <= fv <= hi + abs(hi - lo):  # only nearby ones
            f.hline(label.replace("_", " "), fv)
    f.labels(x_label, None)
    return f.svg()


def scatter_plot(xname: str, yname: str, x: np.ndarray, y: np.ndarray, note: str = "") -> Plot:
    f = _Figure(f"{yname.replace('_', ' ')} against {xname.replace('_', ' ')}{note}")
    f.ax.scatter(x, y, s=6, alpha=0.6, color=COLOURS["median"], linewidths=0)
    f.log_y_if([y])
    f.labels(xname.replace("_", " "), yname.replace("_", " "))
    return f.svg()


# ------------------------------------------------------------------------------ dispatch
AXES = ("snap_steps", "quantile_levels", "steps", "t", "x")


def plots_for(claim: str, verdict: Mapping[str, Any], log: Log = lambda msg: None, id_prefix: str = "p") -> list[Plot]:
    """Every plot the verdict's series allow (claim-specific extras from its statistics).

    SVG element ids are prefixed with `id_prefix` and the plot's number, so that many plots
    can be inlined in one page; give each call its own prefix.
    """
    out = _plots(claim, verdict, log)
    return [Plot(p.title, p.svg.replace(ID_TOKEN, f"{id_prefix}{i}-")) for i, p in enumerate(out)]


def _plots(claim: str, verdict: Mapping[str, Any], log: Log) -> list[Plot]:
    series = verdict.get("series")
    stats = verdict.get("stats") if isinstance(verdict.get("stats"), dict) else {}
    thresholds = verdict.get("thresholds") if isinstance(verdict.get("thresholds"), dict) else {}
    out: list[Plot] = []

    def attempt(what: str, fn: Callable[[], Any]) -> None:
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 - one odd series never breaks the report
            log(f"{claim}: series {what!r} skipped ({type(e).__name__}: {e})")
            return
        if isinstance(res, Plot):
            out.append(res)
        elif res:
            out.extend(res)

    extra_hlines = {k: thresholds[k] for k in HLINES.get(claim, ()) if k in thresholds}
    if claim == "C7":
        attempt("noise/drift against m", lambda: c7_loglog(stats, thresholds))
    if not isinstance(series, dict):
        if series not in (None, {}):
            log(f"{claim}: series of type {type(series).__name__} skipped (a dict was expected)")
        return out
    rest = dict(series)
    # curve dicts
    for k, v in list(rest.items()):
        if isinstance(v, dict) and "x" in v and ("median" in v or "per_seed" in v):
            attempt(k, lambda k=k, v=v: curve_plot(k.replace("_", " "), v))
            rest.pop(k)
    # rung groups (C2)
    rungs: dict[str, dict[str, Any]] = {}
    for k in list(rest):
        m = RUNG.match(k)
        if m:
            rungs.setdefault(m.group(1), {})[m.group(2)] = rest.pop(k)
    for rung, group in sorted(rungs.items(), key=lambda kv: int(kv[0][1:])):
        attempt(rung, lambda rung=rung, group=group: rung_plots(rung, group, stats))
    # per-rung grids (C10): name_d<d>
    per_d: dict[str, dict[str, list]] = {}
    for k in list(rest):
        m = PER_D.match(k)
        if m and is_numeric_list(rest[k]):
            per_d.setdefault(m.group(1), {})[m.group(2)] = rest[k]
    if "m_tried" in per_d:
        for name, rows in per_d.items():
            for dd in rows:
                rest.pop(f"{name}_d{dd}", None)
        attempt("batch-size grid", lambda: per_d_plots(per_d))
    # ladder axis (C10, C11)
    if "d" in rest and is_numeric_list(rest["d"]):
        d = values(rest.pop("d"))
        groups: dict[str, dict[str, Any]] = {}
        for k in list(rest):
            v = rest[k]
            if not (is_numeric_list(v) and len(v) == len(d)):
                continue
            m = SEED_SUFFIX.match(k)
            if m:
                groups.setdefault(m.group(1), {}).setdefault("seeds", {})[m.group(2)] = rest.pop(k)
            elif k.endswith("_median"):
                groups.setdefault(k[: -len("_median")], {})["median"] = rest.pop(k)
            else:
                groups.setdefault(k, {})["median"] = rest.pop(k)
        if groups:
            attempt("against d", lambda: ladder_plots(claim, d, groups, stats, thresholds))
    # quantiles (C7)
    if "quantile_levels" in rest and is_numeric_list(rest["quantile_levels"]):
        levels = values(rest.pop("quantile_levels"))
        lists = {k: rest.pop(k) for k in list(rest) if isinstance(rest[k], list) and len(rest[k]) == len(levels)}
        if lists:
            attempt("quantiles", lambda: quantile_plot(levels, lists, thresholds))
    # lists against an axis (C8 finder shares against snap_steps)
    for axis in AXES:
        if axis in rest and is_numeric_list(rest[axis]):
            ax = values(rest[axis])
            lists = {k: v for k, v in rest.items() if k != axis and is_numeric_list(v) and len(v) == len(ax)}
            if lists:
                rest.pop(axis)
                for k in lists:
                    rest.pop(k)
                attempt(f"against {axis}", lambda ax=ax, lists=lists, axis=axis: xy_plot(
                    ", ".join(k.replace("_", " ") for k in lists) + f" against {axis.replace('_', ' ')}",
                    ax, lists, axis.replace("_", " "), hlines=extra_hlines))
    # leftovers: pairs of equal-length lists -> scatter, others against their index
    lists = {k: v for k, v in rest.items() if is_numeric_list(v) and len(v) > 1}
    by_len: dict[int, list[str]] = {}
    for k, v in lists.items():
        by_len.setdefault(len(v), []).append(k)
    for n, keys in by_len.items():
        if len(keys) == 2:
            xk, yk = keys
            rho = _finite(stats.get("spearman_median"))
            note = f" — Spearman (median over seeds) {rho:.2f}" if rho is not None and claim == "C8" else ""
            attempt(f"{xk} × {yk}", lambda xk=xk, yk=yk, note=note: scatter_plot(
                xk, yk, values(rest[xk]), values(rest[yk]), note))
        else:
            for k in keys:
                attempt(k, lambda k=k: xy_plot(k.replace("_", " "), np.arange(len(rest[k])), {k: rest[k]},
                                               "seed (index)" if "seed" in k else "index", hlines=extra_hlines,
                                               markers=True))
        for k in keys:
            rest.pop(k, None)
    for k, v in rest.items():
        if not (is_numeric_list(v) or isinstance(v, (int, float, str)) or v is None):
            log(f"{claim}: series {k!r} skipped (unsupported shape {type(v).__name__})")
    return out
