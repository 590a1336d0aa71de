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
early costs less), its peak memory (simulator.memory), and hours at this machine's measured
throughput (its cached runs' flop per second of wall time, else a float64 GEMM's; the engine runs
within 1–9× of the GEMM floor, benchmarks/RESULTS.md). Jobs are balanced by flop (longest first,
each to the lightest job), and every key is in exactly one job: no two jobs ever write one key.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
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


def measured_rate(cache: TrajectoryCache, limit: int = 200) -> tuple[float, str]:
    """(flop per second, where the figure comes from): the cache's runs (their sidecars' wall time) where
    it holds some, else a float64 GEMM of 64 × 256 × 256 timed here."""
    flop = wall = 0.0
    if cache.root.is_dir():
        for side in sorted(cache.root.glob("*.json"))[:limit]:
            try:
                info = json.loads(side.read_text(encoding="utf-8"))
                cfg = RunConfig.from_dict(info["config"])
                if float(info.get("wall_time_s") or 0) > 0:
                    flop, wall = flop + run_flop(cfg), wall + float(info["wall_time_s"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
    if wall > 0:
        return flop / wall, f"the {cache.root} cache's runs"
    import torch

    a, b = torch.randn(64, 256, dtype=torch.float64), torch.randn(256, 256, dtype=torch.float64)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.3:
        a @ b
        n += 1
    rate = 2.0 * 64 * 256 * 256 * n / (time.perf_counter() - t0)
    return rate, "a float64 GEMM on this machine: the floor, so the hours are a lower bound (the engine is 1-9x it)"


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
    rate: tuple[float, str],
    about: Mapping[str, Any],
) -> dict[str, Any]:
    """The plan file's content (schema simulator.sweep.PLAN_SCHEMA) for the requested runs."""
    runs = []
    for req in requests:
        cfg = RunConfig.from_dict(dict(req["config"]))
        key = cache.key(cfg)
        if key != req["key"]:
            raise PlanningFailed(f"run {req['key'][:12]}… was asked for under another key ({key[:12]}…)")
        runs.append(
            {
                "key": key,
                "config": cfg.to_dict(),
                "device": resolved_dict(cfg)["device"],
                "flop": run_flop(cfg),
                "peak_bytes": sum(peak_terms(cfg).values()),
                "requested_by": list(req.get("by", [])),
            }
        )
    costs = {r["key"]: r["flop"] for r in runs}
    split = balanced_jobs(costs, jobs) if runs else []
    total = sum(costs.values())
    return {
        "schema": PLAN_SCHEMA,
        "code_version": cache.code_version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **about,
        "runs": runs,
        "jobs": [{"index": i, "keys": job, "flop": sum(costs[k] for k in job)} for i, job in enumerate(split)],
        "totals": {
            "runs": len(runs),
            "jobs": len(split),
            "flop": total,
            "largest_job_flop": max((sum(costs[k] for k in job) for job in split), default=0.0),
            "peak_bytes_max": max((r["peak_bytes"] for r in runs), default=0),
            "rate_flops": rate[0],
            "rate_from": rate[1],
            "hours_one_worker": total / rate[0] / 3600 if rate[0] > 0 else math.inf,
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
    hours = t["hours_one_worker"]
    return "\n".join(
        [
            f"plan: {t['runs']} runs in {t['jobs']} jobs (profile {plan.get('profile')}), "
            f"{t['flop'] / 1e12:.2f} TFLOP in all, the largest job {t['largest_job_flop'] / 1e12:.2f} TFLOP",
            f"  peak memory of the largest run: {t['peak_bytes_max'] / 2**30:.2f} GiB",
            f"  at {t['rate_flops'] / 1e9:.2f} GFLOP/s (measured from {t['rate_from']}): "
            f"{hours:.2f} h on one worker, {hours * t['largest_job_flop'] / max(t['flop'], 1):.2f} h with "
            f"every job on a worker of its own",
            "  this is one round: the sequential rule then adds seeds where it cannot decide yet "
            "(plan again after the sweep; at most 4x a w.h.p. example's first look)",
        ]
    )
