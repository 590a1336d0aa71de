"""The time series a verdict carries for the report: thinned curves, median over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_POINTS = 200  # points per plotted series
MAX_SEED_CURVES = 8  # per-seed curves per series


def thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """≤ max_points indices spread over range(n), first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(int))


def curve(x: np.ndarray, values: np.ndarray, seeds: list[int]) -> dict[str, Any]:
    """A plotted series: x, the median over seeds, and ≤ 8 per-seed curves. values: (len(x), R)."""
    idx = thin(len(x))
    v = values[idx]
    return {"x": [float(t) for t in x[idx]], "median": np.median(v, axis=1).tolist(),
            "per_seed": {str(s): v[:, r].tolist() for r, s in enumerate(seeds[:MAX_SEED_CURVES])}}
