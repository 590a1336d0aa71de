"""Hand-built trajectories for the claim checks' unit tests (verdicts known by construction)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator import RunConfig, Trajectory
from simulator.trajectory import expected_shapes


def make_trajectory(
    cfg: RunConfig, T: int | None = None, snap_steps: list[int] | None = None, **arrays: Any
) -> Trajectory:
    """A Trajectory of cfg whose arrays are the given ones (broadcast to shape), zeros elsewhere."""
    T = cfg.steps if T is None else T
    snap_steps = [0, T] if snap_steps is None else snap_steps
    out: dict[str, np.ndarray] = {}
    for name, shape in expected_shapes(cfg, T, len(snap_steps)).items():
        if name == "snap_steps":
            out[name] = np.asarray(snap_steps, dtype=np.int64)
        elif name in arrays:
            out[name] = np.broadcast_to(np.asarray(arrays.pop(name), dtype=np.float64), shape).copy()
        else:
            out[name] = np.zeros(shape)
    if arrays:
        raise KeyError(f"unknown arrays {sorted(arrays)}")
    return Trajectory(cfg, out, {"format_version": 1, "device": "synthetic"})
