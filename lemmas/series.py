"""Marks of the report's panels (lemmas.report) from a claim's arrays: thinned, median over seeds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lemmas.report import Band, Curve, HLine, Panel, VLine

MAX_POINTS = 200  # points per plotted series
MAX_SEED_CURVES = 8  # per-seed curves per series


def thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """≤ max_points indices spread over range(n), first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(int))


def seed_curves(x: np.ndarray, values: np.ndarray, seeds: Sequence[int], thin_to: int = MAX_POINTS) -> list[Curve]:
    """≤ 8 per-seed curves (role "seed") and the median over seeds (role "median"), thinned to ≤ thin_to
    points. values: (len(x), R)."""
    idx = thin(len(x), thin_to)
    xs, v = np.asarray(x, dtype=float)[idx], np.asarray(values, dtype=float)[idx]
    out = [Curve(xs.tolist(), v[:, r].tolist(), f"seed {s}", "seed") for r, s in enumerate(seeds[:MAX_SEED_CURVES])]
    with np.errstate(invalid="ignore"):
        out.append(Curve(xs.tolist(), np.median(v, axis=1).tolist(), "median over seeds", "median"))
    return out


def seed_bands(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, seeds: Sequence[int]) -> list[Band]:
    """Per-seed intervals (≤ 8 seeds), thinned like `seed_curves`; lo, hi: (len(x), R)."""
    idx = thin(len(x))
    xs = np.asarray(x, dtype=float)[idx].tolist()
    return [
        Band(
            xs, np.asarray(lo, dtype=float)[idx, r].tolist(), np.asarray(hi, dtype=float)[idx, r].tolist(), f"seed {s}"
        )
        for r, s in enumerate(seeds[:MAX_SEED_CURVES])
    ]


def lines(hlines: Mapping[str, float] | None = None, vlines: Mapping[str, float] | None = None) -> list[HLine | VLine]:
    """Threshold levels and marked times (a non-finite time, e.g. a median T2 = ∞, is left out)."""
    out: list[HLine | VLine] = [HLine(float(y), label) for label, y in (hlines or {}).items()]
    out += [VLine(float(x), label) for label, x in (vlines or {}).items() if math.isfinite(float(x))]
    return out


def over_seeds(
    title: str,
    x: np.ndarray,
    values: np.ndarray,
    seeds: Sequence[int],
    x_label: str,
    y_label: str,
    hlines: Mapping[str, float] | None = None,
    vlines: Mapping[str, float] | None = None,
    log_y: bool = False,
    extra: Iterable[Any] = (),
) -> Panel:
    """The usual panel of a quantity over time: seed curves, their median, thresholds and marked times."""
    return Panel(
        title,
        (*extra, *seed_curves(x, values, seeds), *lines(hlines, vlines)),
        x_label,
        y_label,
        y_scale="log" if log_y else "linear",
    )
