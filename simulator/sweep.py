"""Compute a plan's runs into a trajectory cache as a job array, through submitit.

    plan = load_plan("plan.json")                       # written by `python -m lemmas plan`
    outcome = sweep(plan, "/shared/cache", SweepOptions(executor="slurm", partition="gpu"))

A plan (schema PLAN_SCHEMA) lists runs — their configs and cache keys — and splits them into
jobs of balanced cost; every key is in exactly one job. `sweep` submits the jobs whose runs are
not all cached yet as one submitit job array (SLURM `sbatch --array`, or subprocesses of this
machine with the local executor), shows progress, and reports each failed job with the end of
its stderr and the keys it left undone. It is resumable: a run already in the cache is skipped,
so the same command after a failure, a kill or a time limit computes only what is missing.

Writers and shared filesystems: a job publishes each run with `TrajectoryCache.publish`, which
takes no lock (flock is not reliable on NFS) and relies instead on the plan giving every key to
one job, and on the publish being a rename of a finished temporary file in the cache folder
(atomic on NFS as on a local disk): a job killed mid-run leaves at most a temporary file, never
an entry that reads as whole. Two sweeps of the same plan into one cache at the same time would
break that single-writer rule; run one sweep at a time per cache.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import NotCached, TrajectoryCache, code_version
from .config import RunConfig
from .recorder import SimulationDiverged

PLAN_SCHEMA = "xorcert-plan/1"
EXECUTORS = ("local", "slurm", "auto")


class PlanError(ValueError):
    """A plan file that cannot be swept: damaged, of another schema or code version."""


class SweepError(ValueError):
    """Sweep options that cannot work here (unknown executor, no sbatch, a cache folder that cannot be written)."""


@dataclass(frozen=True)
class Plan:
    """A validated plan: its runs by key and its jobs (lists of keys)."""

    runs: dict[str, RunConfig]  # key -> config, in the plan's order
    jobs: list[list[str]]
    code_version: str
    data: Mapping[str, Any] = field(repr=False, default_factory=dict)  # the whole file, as read


@dataclass(frozen=True)
class SweepOptions:
    """Where and how the jobs run (submitit's parameters; the SLURM ones are ignored by the local executor)."""

    executor: str = "auto"
    partition: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    timeout_min: int = 60
    array_parallelism: int = 0  # at most this many jobs at once (0: SLURM's choice; local: the CPU count)
    mem_gb: float | None = None  # per job (default: the plan's largest peak in the job, plus 2 GB)
    log_dir: Path | None = None  # submitit's folder (default: <cache>/sweep-logs); shared with the nodes on SLURM
    poll_s: float = 5.0


@dataclass
class Outcome:
    """What a sweep did: runs computed or found, and the jobs that failed with what they left undone."""

    jobs: int = 0
    skipped_runs: int = 0  # already in the cache before the sweep
    failed: list[dict[str, Any]] = field(default_factory=list)  # {"job", "error", "stderr", "undone": [keys]}

    @property
    def ok(self) -> bool:
        return not self.failed


def load_plan(path: str | os.PathLike, version: str | None = None) -> Plan:
    """Read and check a plan file; PlanError says what is wrong and what to do.

    `version`: the code version the plan must have been made for (default: this simulator's)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise PlanError(f"no plan file {path}: make one with `python -m lemmas plan -o {path}`") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PlanError(f"{path} is not a readable plan file ({e}); make it again with `python -m lemmas plan`") from e
    if not isinstance(data, dict) or data.get("schema") != PLAN_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise PlanError(f"{path}: schema {found!r}, expected {PLAN_SCHEMA!r}; make the plan again with this version")
    version = code_version() if version is None else version
    if data.get("code_version") != version:
        raise PlanError(
            f"{path} was made for simulator code {data.get('code_version')!r}, this one is {version!r}: its keys "
            "name runs this code would not produce; make the plan again with `python -m lemmas plan`"
        )
    cache = TrajectoryCache(tempfile.gettempdir(), version=version)  # for keys only: nothing is read or written
    runs: dict[str, RunConfig] = {}
    try:
        for i, run in enumerate(data["runs"]):
            cfg = RunConfig.from_dict(run["config"])
            if cache.key(cfg) != run["key"]:
                raise PlanError(
                    f"{path}: run {i} has key {run['key'][:12]}… but its config's key is {cache.key(cfg)[:12]}…"
                )
            runs[run["key"]] = cfg
        jobs = [list(job["keys"]) for job in data["jobs"]]
    except PlanError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise PlanError(
            f"{path}: damaged plan ({type(e).__name__}: {e}); make it again with `python -m lemmas plan`"
        ) from e
    listed = [k for job in jobs for k in job]
    if sorted(listed) != sorted(runs) or len(set(listed)) != len(listed):
        raise PlanError(f"{path}: its jobs do not give every run to exactly one job; make the plan again")
    return Plan(runs, jobs, version, data)


def check_cache_dir(root: Path) -> None:
    """SweepError unless `root` is (or can be made) a folder this process can write to."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-check-"):
            pass
    except OSError as e:
        raise SweepError(f"--cache-dir {root}: cannot write there ({e}); give a writable folder") from e


def make_executor(opts: SweepOptions, folder: Path) -> Any:
    """The submitit executor of `opts` (SweepError: unknown executor, SLURM asked for without sbatch, or
    no submitit installed)."""
    if opts.executor not in EXECUTORS:
        raise SweepError(f"--executor {opts.executor!r} is not one of {', '.join(EXECUTORS)}")
    if opts.executor == "slurm" and shutil.which("sbatch") is None:
        raise SweepError("--executor slurm: no `sbatch` on this machine's PATH; use --executor local (or auto)")
    try:
        import submitit
    except ImportError as e:
        raise SweepError(
            f"a sweep runs its jobs through submitit, which {sys.executable} cannot import ({e}); "
            "run ./setup.sh again, or `pip install 'submitit>=1.5'`"
        ) from e

    ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=None if opts.executor == "auto" else opts.executor)
    params: dict[str, Any] = {
        "timeout_min": opts.timeout_min,
        "cpus_per_task": opts.cpus_per_task,
        "tasks_per_node": 1,
        "name": "xorcert-sweep",
    }
    if opts.gpus_per_task:
        params["gpus_per_node"] = opts.gpus_per_task
    if opts.mem_gb:
        params["mem_gb"] = opts.mem_gb
    if opts.partition:
        params["slurm_partition"] = opts.partition
    if opts.array_parallelism:
        params["slurm_array_parallelism"] = opts.array_parallelism
    ex.update_parameters(**params)
    return ex


def run_job(cache_dir: str, configs: Sequence[Mapping[str, Any]], threads: int = 0) -> list[str]:
    """One job of a sweep: publish every run of `configs` not yet in the cache; the keys it computed."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    cache = TrajectoryCache(cache_dir)
    done = []
    for data in configs:
        cfg = RunConfig.from_dict(dict(data))
        if cache.publish(cfg):
            done.append(cache.key(cfg))
    return done


def missing(plan: Plan, cache: TrajectoryCache) -> set[str]:
    """The plan's keys that the cache holds neither as a whole entry nor as a run that diverged (a damaged
    entry is missing: its job computes it again)."""
    out = set()
    for key, cfg in plan.runs.items():
        try:
            cache.require(cfg)  # a plan lists what was missing: the entries read here are few
        except NotCached:
            out.add(key)
        except SimulationDiverged:
            pass
    return out


def published(plan: Plan, cache: TrajectoryCache) -> int:
    """How many of the plan's runs have a file in the cache (for progress: not read, so not checked)."""
    return sum(any((cache.root / f"{k}{end}").is_file() for end in (".npz", ".diverged.npz")) for k in plan.runs)


def sweep(
    plan: Plan,
    cache_dir: str | os.PathLike,
    opts: SweepOptions | None = None,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Submit the plan's unfinished jobs and wait for them (see the module docstring)."""
    opts = opts or SweepOptions()
    root = Path(cache_dir)
    check_cache_dir(root)
    cache = TrajectoryCache(root, version=plan.code_version)
    if cache.code_version != code_version():
        raise PlanError(f"the plan is for simulator code {plan.code_version}, this one is {code_version()}")
    folder = Path(opts.log_dir) if opts.log_dir else root / "sweep-logs"
    executor = make_executor(opts, folder)  # refuses an unknown executor, or SLURM without sbatch
    todo = missing(plan, cache)
    jobs = [job for job in plan.jobs if any(k in todo for k in job)]
    out = Outcome(jobs=len(jobs), skipped_runs=len(plan.runs) - len(todo))
    say(
        f"sweep: {len(plan.runs)} runs in {len(plan.jobs)} jobs; {out.skipped_runs} already cached, "
        f"{len(jobs)} job(s) to run"
    )
    if not jobs:
        return out
    threads = opts.cpus_per_task
    args = [(str(root), [plan.runs[k].to_dict() for k in job if k in todo], threads) for job in jobs]
    local = executor.cluster in ("local", "debug")
    limit = opts.array_parallelism or (max(1, (os.cpu_count() or 1) // max(1, threads)) if local else len(args))
    submitted: list[Any] = []
    pending = list(range(len(args)))
    if not local:  # one job array; SLURM holds back what exceeds the array parallelism
        submitted = list(executor.map_array(run_job, *zip(*args)))
        pending = []
    last = ""
    failed_once: dict[int, bool] = {}  # per finished job: it raised or died (its result is read once)
    while True:
        running = [j for j in submitted if not j.done()]
        while pending and len(running) < limit:  # the local executor starts every job it is given
            job = executor.submit(run_job, *args[pending.pop(0)])
            submitted.append(job)
            running.append(job)
        finished = [j for j in submitted if j.done()]
        failed = [j for j in finished if failed_once.setdefault(id(j), _failed(j))]
        line = (
            f"sweep: {len(finished) - len(failed)}/{len(args)} jobs done, {len(running)} running, "
            f"{len(failed)} failed; {published(plan, cache)}/{len(plan.runs)} runs cached"
        )
        if line != last:
            say(line)
            last = line
        if not pending and not running:
            break
        time.sleep(opts.poll_s)
    still = missing(plan, cache)
    for i, job in enumerate(submitted):
        keys = [k for k in jobs[i] if k in still]
        try:
            job.result()
            error = None
        except Exception as e:  # noqa: BLE001 - reported per job: the job's own exception or how it died
            error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        if error is None and not keys:
            continue
        stderr = ""
        try:
            stderr = (job.stderr() or "")[-2000:]
        except Exception:  # noqa: BLE001 - a job that never started has no log
            pass
        out.failed.append(
            {"job": str(job.job_id), "error": error or "left runs undone", "stderr": stderr, "undone": keys}
        )
    return out


def _failed(job: Any) -> bool:
    """A finished job that raised, or that died without a result (killed, out of memory, time limit)."""
    try:
        return job.exception() is not None
    except Exception:  # noqa: BLE001 - submitit raises when there is no result to read: the job died
        return True


def format_failures(out: Outcome, stream: Any = None) -> None:
    """Print each failed job: its id, error, the end of its stderr and the keys it left undone."""
    stream = stream or sys.stderr
    for f in out.failed:
        print(f"job {f['job']} failed: {f['error']}", file=stream)
        for line in f["stderr"].strip().splitlines()[-12:]:
            print(f"    | {line}", file=stream)
        print(f"    undone: {', '.join(k[:12] for k in f['undone']) or 'none'}", file=stream)
