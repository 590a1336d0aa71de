"""Beyond one machine: plan → sweep (submitit's local executor) → a certification that only reads.

Real certifications (subprocess pytest with the installed plugin) of C4 and C6 in a regime of the
folder's conftest.py at d = 8, so each run simulates in about a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lemmas.runplan import Throughput, balanced_jobs, build_plan, engine_overhead, gemm_floor
from simulator import SimulationDiverged, paper, run
from simulator.cache import NotCached, TrajectoryCache
from simulator.sweep import PlanError, SweepError, SweepOptions, load_plan, make_executor
from simulator.trajectory import Trajectory

CONFTEST = '''
import simulator


@simulator.regime("tiny")
def tiny(d, **kw):
    """The paper regime at d = 8, whatever d is asked (a cheap stand-in for a user regime)."""
    return simulator.paper(8, **{"test_size": 2000, "snapshots": 10, **kw})
'''
CERTIFY = ("--regimes", "tiny", "--claims", "C4,C6")


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XORCERT_CACHE", str(pytester.path / "default-cache-unused"))
    pytester.makeconftest(CONFTEST)
    return pytester


def cli(p: pytest.Pytester, module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=p.path, capture_output=True, text=True, timeout=600
    )


def plan(p: pytest.Pytester, cache: Path, *extra: str) -> dict:
    res = cli(p, "lemmas", "plan", *CERTIFY, "--cache-dir", str(cache), "--jobs", "2", "-o", "plan.json", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads((p.path / "plan.json").read_text())


def sweep(p: pytest.Pytester, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli(p, "simulator", "sweep", "plan.json", "--cache-dir", str(cache), "--poll", "0.2", *extra)


def certify(p: pytest.Pytester, out: str, *extra: str) -> pytest.RunResult:
    return p.runpytest_subprocess("--xorcert", "-p", "no:cacheprovider", *CERTIFY, "--report-dir", out, *extra)


def entries(p: pytest.Pytester, out: str) -> list[dict]:
    cert = json.loads((p.path / out / "certificate.json").read_text())
    return [{k: v for k, v in e.items() if k != "seconds"} for e in cert["entries"]]


def keys(cache: Path) -> set[str]:
    return {f.stem for f in cache.glob("*.npz")}


def test_plan_sweep_then_the_certification_only_reads(repo: pytest.Pytester) -> None:
    """Rounds of plan + sweep (≥ 2 array jobs in the local executor) warm a cache; the certification over it
    simulates nothing (--require-cached passes) and gives the verdicts of a direct run, which asks the
    cache for exactly the runs the plans listed."""
    cache = repo.path / "swept"
    planned: set[str] = set()
    for round_ in range(8):
        got = plan(repo, cache)
        if not got["runs"]:
            break
        if round_ == 0:
            assert len(got["jobs"]) == 2 and got["profile"] == "quick"
        assert {r["key"] for r in got["runs"]}.isdisjoint(planned)  # a plan lists only what is missing
        planned |= {r["key"] for r in got["runs"]}
        res = sweep(repo, cache, "--executor", "local")
        assert res.returncode == 0, res.stderr
        assert "jobs done" in res.stderr and "every run of plan.json is in" in res.stderr
    else:
        pytest.fail("the plans did not run out within 8 rounds")
    assert keys(cache) == planned
    mtimes = {f: f.stat().st_mtime_ns for f in cache.iterdir()}

    res = certify(repo, "read", "--xorcert-cache", str(cache), "--require-cached")
    assert res.ret == 0, res.stdout.str()
    assert {f: f.stat().st_mtime_ns for f in cache.iterdir()} == mtimes  # nothing simulated, nothing written

    direct = repo.path / "direct"
    res = certify(repo, "whole", "--xorcert-cache", str(direct))
    assert res.ret == 0, res.stdout.str()
    assert keys(direct) == planned
    assert entries(repo, "read") == entries(repo, "whole")


def test_require_cached_names_the_missing_runs_and_writes_nothing(repo: pytest.Pytester) -> None:
    cache = repo.path / "empty"
    res = certify(repo, "out", "--xorcert-cache", str(cache), "--require-cached")
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*--require-cached: * run(s) not in the cache: *d=8*python -m lemmas plan*"])
    assert not keys(cache)


def test_shards_merge_to_the_whole_run_and_the_gate_applies(repo: pytest.Pytester) -> None:
    cache = str(repo.path / "cache")
    assert certify(repo, "rec", "--xorcert-cache", cache, "--update-baseline").ret == 0
    assert certify(repo, "whole", "--xorcert-cache", cache).ret == 0  # the whole run, against that record
    for i in (1, 2):
        res = certify(repo, f"s{i}", "--xorcert-cache", cache, f"--shard={i}/2")
        assert res.ret == 0, res.stdout.str()
        res.stdout.fnmatch_lines(["*1 passed, 2 deselected*"])  # the other shard and the empty trend item
    res = cli(repo, "reports", "merge", "s1/certificate.json", "s2/certificate.json", "-o", "m.json")
    assert res.returncode == 0, res.stderr
    merged = json.loads((repo.path / "m.json").read_text())
    whole = json.loads((repo.path / "whole" / "certificate.json").read_text())
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in merged["entries"]]
    assert strip == entries(repo, "whole") and merged["complete"] and merged["spec"] == whole["spec"]

    args = ("reports", "merge", "s1/certificate.json", "s2/certificate.json", "-o", "m.json")
    gate = cli(repo, *args, "--baseline", "reports/baseline.json")
    assert gate.returncode == 0 and "0 flipped" in gate.stdout, gate.stdout + gate.stderr
    base = json.loads((repo.path / "reports" / "baseline.json").read_text())
    base["profiles"]["quick"]["C6"]["tiny"] = "inconclusive"  # a wrong record: the merged run must flip
    (repo.path / "reports" / "baseline.json").write_text(json.dumps(base))
    gate = cli(repo, *args, "--baseline", "reports/baseline.json")
    assert gate.returncode == 1 and "1 flipped" in gate.stdout, gate.stdout


@pytest.mark.parametrize("bad", ["3/2", "x"])
def test_a_bad_shard_is_refused_before_any_test(repo: pytest.Pytester, bad: str) -> None:
    res = certify(repo, "out", f"--shard={bad}")
    assert res.ret == 4  # usage error
    res.stderr.fnmatch_lines([f"*--shard {bad!r}*"])


def small_plan(tmp_path: Path, n: int, steps: int | list[int]) -> Path:
    """A plan of n paper runs at d = 24 (2 jobs; `steps` per run or for all), written as `lemmas plan` does."""
    cache = TrajectoryCache(tmp_path / "cache")
    each = steps if isinstance(steps, list) else [steps] * n
    cfgs = [paper(24, seeds=2, seed=10 * i).replace(steps=each[i], snapshots=5) for i in range(n)]
    reqs = [{"key": cache.key(c), "config": c.to_dict(), "by": ["test"]} for c in cfgs]
    data = build_plan(reqs, cache, 2, Throughput({24: 1e9}), {"profile": "test"})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    return path


def test_a_job_killed_mid_run_is_resumed_without_loss_or_partial_entries(tmp_path: Path) -> None:
    """A job is killed (SIGKILL) while it computes; every entry in the cache still reads whole, and the sweep
    run again completes the plan, computing only what the killed job left undone."""
    path = small_plan(tmp_path, 4, steps=[500, 60_000, 500, 500])  # the long one: ~3 s on one thread
    cache = tmp_path / "cache"
    loaded = load_plan(path)
    job = [cfg.to_dict() for cfg in list(loaded.runs.values())[:2]]  # a short run, then the long one
    code = "import json, sys; from simulator.sweep import run_job; run_job(sys.argv[1], json.loads(sys.argv[2]), 1)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(cache), json.dumps(job)], start_new_session=True)
    deadline = time.monotonic() + 300
    while not keys(cache) and time.monotonic() < deadline:  # the short run is in: kill the job in the long one
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = keys(cache)
    assert 1 <= len(first) < len(job)
    for k in first:  # whatever the killed job left reads whole
        assert Trajectory.load(cache / f"{k}.npz").complete
    # the entry itself is the witness: the kill may land between it and its sidecar (written after it)
    born = {k: (cache / f"{k}.npz").stat().st_mtime_ns for k in first}

    res = subprocess.run(
        [sys.executable, "-m", "simulator", "sweep", str(path), "--cache-dir", str(cache), "--executor", "local"]
        + ["--poll", "0.2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert f"{len(first)} already cached" in res.stderr
    assert keys(cache) == set(loaded.runs)
    assert {k: (cache / f"{k}.npz").stat().st_mtime_ns for k in first} == born  # not computed twice
    assert not list(cache.glob(".*.npz.*.tmp"))  # the killed writer's temporary entry was removed
    # a kill between an entry and its sidecar may leave that sidecar's temporary file (never read)
    assert {t.name.split(".")[1] for t in cache.glob(".*.json.*.tmp")} <= first
    reader = TrajectoryCache(cache)
    for cfg in loaded.runs.values():
        assert reader.require(cfg).complete


def test_a_failed_job_is_reported_with_its_undone_keys(tmp_path: Path) -> None:
    cache = TrajectoryCache(tmp_path / "c")
    fine = paper(24, seeds=2).replace(steps=50, snapshots=5)
    huge = fine.replace(steps=10**8)  # the job refuses it before it starts (MemoryBudgetError: ~170 GiB)
    reqs = [{"key": cache.key(c), "config": c.to_dict()} for c in (huge, fine)]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(build_plan(reqs, cache, 2, Throughput({24: 1e9}), {})))
    key = cache.key(huge)
    res = subprocess.run(
        [sys.executable, "-m", "simulator", "sweep", str(path), "--cache-dir", str(tmp_path / "c")]
        + ["--executor", "local", "--poll", "0.2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 1
    assert "1 job(s) failed" in res.stderr and f"undone: {key[:12]}" in res.stderr, res.stderr
    assert "jobs done, 0 running, 1 failed" in res.stderr  # the progress counts it too
    assert "MemoryBudgetError" in res.stderr and keys(cache.root) == {cache.key(fine)}


def test_bad_input_is_refused_before_anything_is_submitted(tmp_path: Path) -> None:
    path = small_plan(tmp_path, 2, steps=20)
    data = json.loads(path.read_text())

    def sweep_with(text: str | None, *args: str) -> subprocess.CompletedProcess:
        if text is not None:
            path.write_text(text)
        return subprocess.run(
            [sys.executable, "-m", "simulator", "sweep", str(path), *args], capture_output=True, text=True, timeout=120
        )

    ok = ("--cache-dir", str(tmp_path / "c"))
    other = {**data, "code_version": "0.0.1+0123456789abcdef"}
    wrong_key = json.loads(json.dumps(data))
    wrong_key["runs"][0]["config"]["d"] = 25
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (json.dumps(other), ok, "was made for simulator code '0.0.1+0123456789abcdef'"),
        (json.dumps(data)[:200], ok, "is not a readable plan file"),
        (json.dumps({**data, "schema": "other/9"}), ok, "schema 'other/9', expected 'xorcert-plan/1'"),
        (json.dumps(wrong_key), ok, "but its config's key is"),
        (json.dumps({**data, "jobs": data["jobs"][:1]}), ok, "do not give every run to exactly one job"),
        (json.dumps(data), (*ok, "--executor", "pbs"), "invalid choice: 'pbs'"),
        (json.dumps(data), (*ok, "--executor", "slurm"), "no `sbatch`"),
        (json.dumps(data), ("--cache-dir", str(blocker / "sub")), "cannot write there"),
        (json.dumps(data), (*ok, "--timeout-min", "0"), "--timeout-min must be ≥ 1"),
    ]
    env_path = os.environ.get("PATH", "")
    if any(Path(d, "sbatch").exists() for d in env_path.split(os.pathsep)):
        cases = [c for c in cases if "sbatch" not in c[2]]
    for text, args, message in cases:
        res = sweep_with(text, *args)
        assert res.returncode == 2 and message in res.stderr, (message, res.stderr)
        assert not (tmp_path / "c" / "sweep-logs").exists()  # nothing submitted
    with pytest.raises(PlanError, match="no plan file"):
        load_plan(tmp_path / "none.json")


def test_an_environment_without_submitit_is_told_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "submitit", None)  # `import submitit` raises ImportError
    with pytest.raises(SweepError, match=r"submitit, which .* cannot import .*run \./setup\.sh again"):
        make_executor(SweepOptions(executor="local"), tmp_path / "logs")
    assert not (tmp_path / "logs").exists()


def test_plan_dry_run_prints_the_cost_and_writes_nothing(repo: pytest.Pytester) -> None:
    res = cli(repo, "lemmas", "plan", *CERTIFY, "--cache-dir", "c", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert all(s in res.stdout for s in ("runs in", "TFLOP", "h on one core", "two-GEMM floor"))
    assert not (repo.path / "plan.json").exists()
    bad = cli(repo, "lemmas", "plan", "--regimes", "nosuch", "--cache-dir", "c", "--dry-run")
    assert bad.returncode == 2 and "unknown regime(s) nosuch" in bad.stderr
    assert cli(repo, "lemmas", "plan", "--jobs", "0").returncode == 2
    hunt = cli(repo, "lemmas", "plan", "--profile", "hunt", "--dry-run")  # drawn anew each run: nothing to plan
    assert hunt.returncode == 2 and "invalid choice: 'hunt'" in hunt.stderr


def test_jobs_are_balanced_and_give_every_key_to_one_job() -> None:
    costs = {f"k{i}": float(c) for i, c in enumerate([9, 7, 6, 5, 4, 3, 2, 1, 1])}
    jobs = balanced_jobs(costs, 3)
    assert sorted(k for j in jobs for k in j) == sorted(costs) and len(jobs) == 3
    loads = [sum(costs[k] for k in j) for j in jobs]
    assert max(loads) - min(loads) <= max(costs.values())
    assert balanced_jobs(costs, 50) == [[k] for k in sorted(costs, key=lambda k: (-costs[k], k))]


def test_throughput_reads_the_cache_per_d_and_times_the_floor_beyond_it(tmp_path: Path) -> None:
    """A run takes the measured rate of the nearest cached d at or below its own; outside the cached
    dimensions, the two-GEMM floor's over the engine's overhead at its d."""
    cache = TrajectoryCache(tmp_path)
    for i, (d, wall) in enumerate([(32, 10.0), (32, 30.0), (128, 5.0), (64, 0.0)]):  # d = 64: no wall time
        cfg = paper(d, seeds=2)
        side = {"config": cfg.to_dict(), "wall_time_s": wall}
        (tmp_path / f"{i:064x}.json").write_text(json.dumps(side))
    (tmp_path / f"{9:064x}.json").write_text("{not json")  # a torn sidecar is skipped
    speed = Throughput.from_cache(cache)
    flop32 = 2 * 4.0 * paper(32, seeds=2).m * paper(32).steps * 32 * paper(32).p * 2
    assert list(speed.measured) == [32, 128]
    assert speed.measured[32] == pytest.approx(flop32 / 40.0)
    floor = Throughput(speed.measured, floor=lambda cfg: 1e10)
    assert floor.rate(paper(96)) == speed.measured[32]  # nearest measured d below 96
    assert floor.rate(paper(128)) == speed.measured[128]
    assert floor.rate(paper(16)) == pytest.approx(1e10 / engine_overhead(16))  # below every measured d
    assert floor.rate(paper(1024)) == pytest.approx(1e10 / 1.5)  # beyond: near the floor
    assert Throughput({}).describe().startswith("the two-GEMM floor")
    assert 1e7 < gemm_floor(paper(64)) < 1e13  # a real timing on this machine, one thread


def test_jobs_of_a_plan_are_balanced_by_estimated_seconds(tmp_path: Path) -> None:
    cache = TrajectoryCache(tmp_path)
    cfgs = [paper(d, seeds=2, seed=10 * i) for i, d in enumerate((16, 16, 16, 64))]  # d = 64 outweighs 3 × d = 16
    reqs = [{"key": cache.key(c), "config": c.to_dict()} for c in cfgs]
    plan = build_plan(reqs, cache, 2, Throughput({16: 1e9, 64: 1e9}), {})
    big = cache.key(cfgs[-1])
    assert [len(j["keys"]) for j in plan["jobs"]] == [1, 3] and plan["jobs"][0]["keys"] == [big]
    t = plan["totals"]
    assert t["seconds"] == pytest.approx(sum(r["flop"] for r in plan["runs"]) / 1e9)
    assert t["largest_job_seconds"] == plan["jobs"][0]["seconds"] == pytest.approx(plan["runs"][-1]["flop"] / 1e9)


def test_require_reads_a_whole_run_for_a_stopped_one_and_names_a_missing_one(tmp_path: Path) -> None:
    cache = TrajectoryCache(tmp_path)
    cfg = paper(8, seeds=2).replace(steps=30, snapshots=4)
    with pytest.raises(NotCached) as e:
        cache.require(cfg)
    assert e.value.keys == [cache.key(cfg)] and "1 run(s) not in the cache" in str(e.value)
    assert not list(tmp_path.iterdir())  # require never writes, not even a lock
    assert cache.publish(cfg) is True and cache.publish(cfg) is False
    assert cache.require(cfg).complete
    assert cache.require(cfg.replace(stop_phases=0.5)).steps == 30  # served by the whole run


def test_a_run_that_diverges_is_published_as_it_diverged(tmp_path: Path) -> None:
    """A job's diverging run (C15's η = 8ψ member) is kept as what it recorded, so a certification that only
    reads gets the SimulationDiverged the run itself raises, and the next plan does not list it again."""
    cfg = paper(8, seeds=2).replace(steps=200, snapshots=5)
    cfg = cfg.replace(eta=500 * cfg.eta)
    with pytest.raises(SimulationDiverged) as direct:
        run(cfg)
    cache = TrajectoryCache(tmp_path)
    assert cache.publish(cfg) is True and cache.publish(cfg) is False
    assert not cache.path_for(cfg).exists() and cache.diverged_path(cfg).is_file()
    with pytest.raises(SimulationDiverged) as read:
        cache.require(cfg)
    assert read.value.step == direct.value.step and read.value.trajectory.steps == direct.value.trajectory.steps
    for name, arr in direct.value.trajectory.arrays.items():
        np.testing.assert_array_equal(read.value.trajectory.arrays[name], arr)
