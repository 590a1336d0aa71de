"""The runs a certification will ask for, as a plan of jobs for `python -m simulator sweep`.

    python -m lemmas plan --profile certify -o plan.json      # what the certification needs next
    python -m simulator sweep plan.json --cache-dir DIR       # compute it (SLURM or local)
    python -m lemmas plan --profile certify -o plan.json      # again, until it lists no run

The plan is made by the certification itself: `plan` runs pytest on the certification items with
`--xorcert-plan` (lemmas.pytest_plugin), where the trajectory getter only reads the cache. Every
run an item asks for and the cache lacks is recorded (`simulator.cache.NotCached`; runs an item
asks for together, such as a ladder's rungs, are named together), so the plan lists exactly the
runs pytest would ask the cache for next. The certification is adaptive — the sequential rule adds
seeds to the examples it cannot decide yet, Q1 descends its batch grid, a contradiction is
confirmed with more seeds — so one plan is one *round*: after its sweep, the next plan lists what
the runs of that round made necessary, and an empty plan means the certification will only read.
A profile's first round holds the bulk (every example's first look, every rung of every ladder);
later rounds add batches of 8 seeds to undecided examples, at most cap / first look = 4× the
first round's seeds of a w.h.p. example.

Cost: per run 4·m·T·d·p flop per seed and network (the forward and backward GEMMs; a run stopped
early costs less), its peak memory (simulator.memory), and seconds on one core at the engine's
throughput for its dimension (`Throughput`: measured from the cache's runs where they cover that d,
else the two-GEMM floor timed here less the engine's overhead at that d). Jobs are balanced by
seconds (longest first, each to the lightest job), and every key is in exactly one job: no two jobs
ever write one key.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator import RunConfig
from simulator.cache import TrajectoryCache, resolved_dict
from simulator.memory import peak_terms
from simulator.sweep import PLAN_SCHEMA

REQUESTS_SCHEMA = "xorcert-requests/1"


class PlanningFailed(RuntimeError):
    """The certification could not be planned (pytest stopped with a usage or internal error)."""


def run_flop(cfg: RunConfig) -> float:
    """4·m·T·d·p per seed and network: the forward and backward GEMMs over the whole horizon."""
    return 4.0 * cfg.m * cfg.steps * cfg.d * cfg.p * cfg.seeds * len(cfg.variants)


def engine_overhead(d: int) -> float:
    """The engine's wall time per run over the two-GEMM floor's at dimension d, without a measurement:
    800/d, at least 1.5 (this 2-core machine's cached certify runs, 2026-12-05: 30x, 13x, 6.7x, 5x at
    d = 32, 64, 128, 256 — snapshots and per-step overhead; a bare step is 1.0-1.5x the floor at
    d = 1024, benchmarks/RESULTS.md)."""
    return max(1.5, 800.0 / d)


FLOOR_ROWS = 4096  # the most batch rows `gemm_floor` times: its rate no longer depends on m there


def floor_shape(cfg: RunConfig) -> tuple[int, int, int, str]:
    """What `gemm_floor`'s rate depends on: d, p, the rows it times, dtype."""
    return cfg.d, cfg.p, min(cfg.m, FLOOR_ROWS), cfg.dtype


def gemm_floor(cfg: RunConfig) -> float:
    """Flop per second of one step's two GEMMs (x·W, then the gradient's Gᵀ·x) at cfg's d, p and dtype,
    timed here on one thread over at most FLOOR_ROWS rows of the batch."""
    import torch

    d, p, rows, dtype_name = floor_shape(cfg)  # the rate depends on these only: Throughput caches it by them
    dtype = getattr(torch, dtype_name)
    x, w, g = (
        torch.randn(rows, d, dtype=dtype),
        torch.randn(d, p, dtype=dtype),
        torch.randn(rows, p, dtype=dtype),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x @ w
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.05 or n < 2:
            x @ w
            g.T @ x
            n += 1
        return 4.0 * rows * d * p * n / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Throughput:
    """The engine's flop per second on one core, by dimension, for a plan's time estimates.

    `measured`: flop per second of wall time of the cache's runs, per d. A run whose d lies within the
    measured ones takes the rate of the nearest measured d at or below its own (the rate grows with d:
    the engine is overhead-bound at small d, so this errs long); any other run takes the two-GEMM
    floor's rate at its shape over `engine_overhead(d)`."""

    measured: Mapping[int, float]
    floor: Callable[[RunConfig], float] = gemm_floor

    @classmethod
    def from_cache(cls, cache: TrajectoryCache, limit: int = 2000) -> Throughput:
        """Rates per d from the sidecars (config and wall time) of at most `limit` of the cache's runs."""
        flop: dict[int, float] = {}
        wall: dict[int, float] = {}
        if cache.root.is_dir():
            for side in sorted(cache.root.glob("*.json"))[:limit]:
                try:
                    info = json.loads(side.read_text(encoding="utf-8"))
                    cfg = RunConfig.from_dict(info["config"])
                    seconds = float(info.get("wall_time_s") or 0)
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if seconds > 0:
                    flop[cfg.d] = flop.get(cfg.d, 0.0) + run_flop(cfg)
                    wall[cfg.d] = wall.get(cfg.d, 0.0) + seconds
        return cls({d: flop[d] / wall[d] for d in sorted(flop)})

    def rate(self, cfg: RunConfig) -> float:
        below = [d for d in self.measured if d <= cfg.d]
        if below and cfg.d <= max(self.measured):
            return self.measured[max(below)]
        return self.floor(cfg) / engine_overhead(cfg.d)

    def seconds(self, cfgs: Sequence[RunConfig]) -> list[float]:
        """Each run's estimated seconds on one core (the floor timed once per shape)."""
        rates: dict[tuple[int, int, int, str], float] = {}
        out = []
        for cfg in cfgs:
            shape = floor_shape(cfg)
            if shape not in rates:
                rates[shape] = self.rate(cfg)
            out.append(run_flop(cfg) / rates[shape])
        return out

    def describe(self) -> str:
        if not self.measured:
            return "the two-GEMM floor timed here over the engine's overhead"
        ds = ", ".join(f"{self.measured[d] / 1e9:.3g} at d = {d}" for d in self.measured)
        return f"the cache's runs (GFLOP/s {ds}), beyond them the two-GEMM floor over the engine's overhead"


def balanced_jobs(costs: Mapping[str, float], jobs: int) -> list[list[str]]:
    """Keys split into at most `jobs` non-empty jobs of near-equal total cost (longest first, each to the
    lightest job); every key in exactly one job."""
    n = max(1, min(jobs, len(costs)))
    bins: list[list[str]] = [[] for _ in range(n)]
    load = [0.0] * n
    for key in sorted(costs, key=lambda k: (-costs[k], k)):
        i = min(range(n), key=lambda j: (load[j], j))
        bins[i].append(key)
        load[i] += costs[key]
    return [b for b in bins if b]


def build_plan(
    requests: Sequence[Mapping[str, Any]],
    cache: TrajectoryCache,
    jobs: int,
    speed: Throughput,
    about: Mapping[str, Any],
) -> dict[str, Any]:
    """The plan file's content (schema simulator.sweep.PLAN_SCHEMA) for the requested runs."""
    cfgs = [RunConfig.from_dict(dict(req["config"])) for req in requests]
    for req, cfg in zip(requests, cfgs):
        if (key := cache.key(cfg)) != req["key"]:
            raise PlanningFailed(f"run {req['key'][:12]}… was asked for under another key ({key[:12]}…)")
    seconds = speed.seconds(cfgs)
    runs = [
        {
            "key": req["key"],
            "config": cfg.to_dict(),
            "device": resolved_dict(cfg)["device"],
            "flop": run_flop(cfg),
            "seconds": sec,
            "peak_bytes": sum(peak_terms(cfg).values()),
            "requested_by": list(req.get("by", [])),
        }
        for cfg, sec, req in zip(cfgs, seconds, requests)
    ]
    costs = {r["key"]: r["seconds"] for r in runs}
    split = balanced_jobs(costs, jobs) if runs else []
    flop = {r["key"]: r["flop"] for r in runs}
    jobs_out = [
        {"index": i, "keys": job, "flop": sum(flop[k] for k in job), "seconds": sum(costs[k] for k in job)}
        for i, job in enumerate(split)
    ]
    return {
        "schema": PLAN_SCHEMA,
        "code_version": cache.code_version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **about,
        "runs": runs,
        "jobs": jobs_out,
        "totals": {
            "runs": len(runs),
            "jobs": len(split),
            "flop": sum(flop.values()),
            "seconds": sum(costs.values()),
            "largest_job_seconds": max((j["seconds"] for j in jobs_out), default=0.0),
            "peak_bytes_max": max((r["peak_bytes"] for r in runs), default=0),
            "rates_measured": {str(d): r for d, r in speed.measured.items()},
            "rate_from": speed.describe(),
        },
    }


def requested_runs(pytest_args: Sequence[str], cache_dir: Path, env: Mapping[str, str] | None = None) -> list[dict]:
    """Run the certification in plan mode (a pytest subprocess) and return its requests."""
    with tempfile.TemporaryDirectory(prefix="xorcert-plan-") as tmp:
        out = Path(tmp) / "requests.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-report",
            "--report-dir",
            str(Path(tmp) / "report"),
            "--xorcert-cache",
            str(cache_dir),
            "--xorcert-plan",
            str(out),
            *pytest_args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
        # exit 0: every item passed; 1: some verdict differs from the baseline (still planned)
        if proc.returncode not in (0, 1) or not out.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise PlanningFailed(f"pytest could not plan the certification (exit {proc.returncode}):\n{tail}")
        data = json.loads(out.read_text(encoding="utf-8"))
    if data.get("schema") != REQUESTS_SCHEMA:
        raise PlanningFailed(f"the plan-mode run wrote schema {data.get('schema')!r}, expected {REQUESTS_SCHEMA!r}")
    return list(data["requests"])


def describe(plan: Mapping[str, Any]) -> str:
    """The plan's totals in a few lines (what --dry-run prints)."""
    t = plan["totals"]
    if not t["runs"]:
        return "plan: no run to compute: the certification will only read the cache (--require-cached passes)"
    return "\n".join(
        [
            f"plan: {t['runs']} runs in {t['jobs']} jobs (profile {plan.get('profile')}), "
            f"{t['flop'] / 1e12:.2f} TFLOP in all",
            f"  peak memory of the largest run: {t['peak_bytes_max'] / 2**30:.2f} GiB",
            f"  estimated {t['seconds'] / 3600:.2f} h on one core, {t['largest_job_seconds'] / 3600:.2f} h with "
            f"every job on a core of its own (rates: {t['rate_from']})",
            "  this is one round: the sequential rule then adds seeds where it cannot decide yet "
            "(plan again after the sweep; at most 4x a w.h.p. example's first look)",
        ]
    )
