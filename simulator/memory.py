"""The memory a run's records take, checked before any work starts.

A trajectory keeps O(T · seeds · variants · p) per-step records (simulator.trajectory
.PER_STEP_FIELDS) plus its snapshots. A long horizon at a small batch (small_batch at
m = 4 runs n/4 steps) can need more than the machine has; the run would then be killed by
the kernel hours in, leaving nothing. `check_memory` refuses such a run up front with what
to change. This module reads configs only: it is not part of the code version that keys
the cache (nothing here changes a trajectory).
"""

from __future__ import annotations

import math
import os

from .config import RunConfig
from .trajectory import expected_shapes, snapshot_steps

# The records are filled on the device and copied into numpy once at the end: two copies at the peak.
COPIES_AT_PEAK = 2


class MemoryBudgetError(ValueError):
    """The run's records would not fit in the memory available."""


def record_bytes(cfg: RunConfig) -> int:
    """Bytes of one copy of the trajectory cfg records (per-step records, snapshots, test metrics)."""
    item = 8 if cfg.dtype == "float64" else 4
    shapes = expected_shapes(cfg, cfg.steps + 1, len(snapshot_steps(cfg.steps, cfg.snapshots)))
    return sum(math.prod(s) for s in shapes.values()) * item


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: RunConfig, available: int | None = None) -> None:
    """Raise MemoryBudgetError when cfg's records (at their peak) exceed the available memory."""
    available = available_bytes() if available is None else available
    need = COPIES_AT_PEAK * record_bytes(cfg)
    if available is None or need <= available:
        return
    gib = 2**30
    raise MemoryBudgetError(
        f"steps = {cfg.steps}, seeds = {cfg.seeds}, variants = {len(cfg.variants)}, p = {cfg.p}: the run's per-step "
        f"records need about {need / gib:.1f} GiB at their peak, {available / gib:.1f} GiB is available; "
        f"allowed: steps · seeds · variants · p ≲ {cfg.steps * cfg.seeds * len(cfg.variants) * cfg.p * available / need:.3g}"
        f" — lower --steps or --seeds (run the seeds in several parts), or use a larger batch --m")
