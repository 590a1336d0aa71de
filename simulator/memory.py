"""The memory a run needs at its peak, checked before any work starts.

A run (simulator/engine.py) holds, at its peak:

* records: the per-step arrays, O(steps · seeds · variants · p) (simulator.trajectory.PER_STEP_FIELDS);
* snapshots: W at every snapshot step, O(snapshot steps · seeds · variants · p · d), and the test metrics;
* parameters: W, its gradient and one temporary of W's size (seeds · variants · p · d each) and the
  initial W (seeds · p · d), or, while the initial W is drawn, its float64 Box–Muller temporaries;
* workspace: a chunk of the batch (chunk rows × d, with what the sampler draws it from), Z = X Wᵀ
  and D (chunk rows · seeds · variants · p), the per-row results of a block of rows, and the views
  the engine keeps for every chunk of a batch (m / chunk rows of them);
* test set: the whole test set and its per-row results when the run keeps it in memory (up to
  population.KEEP_BYTES), else the test rows generated and evaluated at once at a snapshot (at
  least 64 rows × d, whatever test_size is beyond 64); and the forward pass of one chunk of rows.

A long horizon at a small batch (small_batch at m = 4 runs n/4 steps) needs records beyond the
machine; a huge d needs snapshots, parameters and test-set rows beyond it. Such a run would be
killed by the kernel minutes or hours in, leaving nothing: `check_memory` refuses it up front,
naming the term that dominates and what to change. The estimate is an upper bound: 1.0 to 1.5
times the peak resident size measured on the CPU, for runs dominated by each term. On a CUDA device the same
arrays live on the device, whose allocator fails at once when they do not fit; the records and
snapshots are copied to the host at the end. This module reads configs only: it is not part of
the code version that keys the cache (nothing here changes a trajectory).
"""

from __future__ import annotations

import math
import os

from .config import RunConfig
from .laws import get_law
from .population import KEEP_BYTES, kept_bytes
from .recorder import eval_rows_for
from .trajectory import PER_STEP_FIELDS, expected_shapes, snapshot_steps
from .workspace import block_rows_for, chunk_rows_for

# The per-step records are written in place (through a ring of recorder.STAGE_STEPS steps), and a CUDA
# run copies them to the host at the end: two copies at the peak, an upper bound on the CPU, where the
# finiteness check at a snapshot reads only the steps recorded since the previous one.
COPIES_AT_PEAK = 2
INIT_BYTES = 48  # per entry of the initial W (seeds · p · d) while it is drawn: float64 Box–Muller temporaries
SIGN_BYTES = 2  # per ±1 entry drawn, besides the entry: the Boolean sampler's words, bytes and packed signs
# per Gaussian entry drawn, the entry and its temporaries included (also the estimate for a user's data law)
GAUSSIAN_BYTES = {"float32": 30, "float64": 48}
CHUNK_VIEW_BYTES = 6 * 2**10  # the workspace views the engine keeps for one chunk of a batch's rows
GIB = 2**30


class MemoryBudgetError(ValueError):
    """The run would not fit in the memory available."""


def record_bytes(cfg: RunConfig) -> int:
    """Bytes of one copy of the trajectory cfg records (per-step records, snapshots, test metrics)."""
    item = 8 if cfg.dtype == "float64" else 4
    shapes = expected_shapes(cfg, cfg.steps + 1, len(snapshot_steps(cfg.steps, cfg.snapshots)))
    return sum(math.prod(s) for s in shapes.values()) * item


def peak_terms(cfg: RunConfig) -> dict[str, int]:
    """Bytes of each part of cfg's peak memory (see the module docstring); their sum is the peak."""
    item = 8 if cfg.dtype == "float64" else 4
    R, V, p, d, m = cfg.seeds, len(cfg.variants), cfg.p, cfg.d, cfg.m
    B = V * p

    def drawn(entries: int) -> int:  # bytes to generate `entries` data entries, the result included
        return entries * (item + SIGN_BYTES if cfg.data == "boolean" else GAUSSIAN_BYTES[cfg.dtype])

    shapes = expected_shapes(cfg, cfg.steps, len(snapshot_steps(cfg.steps, cfg.snapshots)))
    per_step = sum(math.prod(s) for k, s in shapes.items() if k in PER_STEP_FIELDS) * item
    snapshots = sum(math.prod(s) for k, s in shapes.items() if k not in PER_STEP_FIELDS) * item
    c = chunk_rows_for(cfg)
    block = block_rows_for(cfg)
    rows = min(eval_rows_for(d), cfg.test_size)
    kept = kept_bytes(cfg, item)
    test_rows = kept if kept <= KEEP_BYTES else drawn(rows * d)  # all of them, kept; else one chunk drawn
    return {
        "records": COPIES_AT_PEAK * per_step,
        "snapshots": snapshots,
        "parameters": max(INIT_BYTES * R * p * d, item * R * d * (p + 3 * B)),
        "workspace": (
            item * R * (c * (d + 16 + 2 * V + 2 * B) + block * (2 * V + 7))
            + drawn(R * c * d)
            + CHUNK_VIEW_BYTES * math.ceil(m / c)
        ),
        "test set": test_rows + 6 * item * R * rows * B,  # the rows, then Z = X Wᵀ of a chunk and its activations
    }


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
    """Raise MemoryBudgetError when cfg's peak memory exceeds the available memory, naming the largest term.

    A config whose data law is not registered is refused first (ValueError listing the registered laws)."""
    get_law(cfg.data)
    available = available_bytes() if available is None else available
    terms = peak_terms(cfg)
    need = sum(terms.values())
    if available is None or need <= available:
        return
    R, V, p, d = cfg.seeds, len(cfg.variants), cfg.p, cfg.d
    S = len(snapshot_steps(cfg.steps, cfg.snapshots))
    rows = min(eval_rows_for(d), cfg.test_size)
    what = {  # per term: the parameters it grows with, what it is, and what lowers it
        "records": (
            f"steps = {cfg.steps}, seeds = {R}, variants = {V}, p = {p}",
            "the per-step records (steps · seeds · variants · p)",
            "lower --steps or --seeds (run the seeds in several parts), or use a larger batch --m",
        ),
        "snapshots": (
            f"snapshots = {cfg.snapshots}, d = {d}, seeds = {R}, variants = {V}, p = {p}",
            f"the snapshots of W ({S} snapshot steps · seeds · variants · p · d)",
            "lower --snapshots (24 log-spaced steps are always added), --d, --seeds or --p",
        ),
        "parameters": (
            f"d = {d}, seeds = {R}, variants = {V}, p = {p}",
            "the weights, their gradient and their initialization (seeds · variants · p · d)",
            "lower --d, --p or --seeds",
        ),
        "workspace": (
            f"d = {d}, m = {cfg.m}, seeds = {R}",
            f"the step's workspace (chunks of {chunk_rows_for(cfg)} rows × d, and one set of views "
            "per chunk of the batch)",
            "lower --d or --m",
        ),
        "test set": (
            (
                f"test_size = {cfg.test_size}, d = {d}",
                f"the test set kept in memory ({cfg.test_size} rows × d)",
                "lower --d",
            )
            if kept_bytes(cfg, 8 if cfg.dtype == "float64" else 4) <= KEEP_BYTES
            else (f"d = {d}", f"the test-set rows evaluated at once at a snapshot ({rows} rows × d)", "lower --d")
        ),
    }
    top = max(terms, key=terms.__getitem__)
    lead, part, advice = what[top]
    raise MemoryBudgetError(
        f"{lead}: the run needs about {need / GIB:.1f} GiB at its peak, {available / GIB:.1f} GiB is available; "
        f"{terms[top] / need:.0%} of it is {part} — {advice}"
    )
