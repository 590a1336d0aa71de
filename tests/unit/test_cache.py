"""The content-addressed trajectory cache: addressing, hits, concurrency, damage, interrupts."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from simulator import RunConfig, SimulationDiverged
from simulator import cache as cache_mod
from simulator.cache import CODE_FILES, CorruptCacheEntry, TrajectoryCache, code_version
from simulator.engine import resolve_device

TINY = RunConfig(d=8, p=4, m=16, eta=0.1, theta=0.1, steps=5, test_size=256, snapshots=2, device="cpu")
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Counter:
    """A progress callback that counts its calls (it is called only when the run is computed)."""

    def __init__(self, raise_at: int | None = None):
        self.calls, self.raise_at = 0, raise_at

    def __call__(self, step: int, steps: int) -> None:
        self.calls += 1
        if self.raise_at is not None and self.calls >= self.raise_at:
            raise KeyboardInterrupt


def same_arrays(a, b) -> bool:
    return set(a.arrays) == set(b.arrays) and all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)


def entries(root: Path) -> list[str]:
    """Names in the cache folder other than lock files."""
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) if root.exists() else []


@pytest.fixture
def cache(tmp_path: Path) -> TrajectoryCache:
    return TrajectoryCache(tmp_path / "cache")


# ----------------------------------------------------------------------------- addressing
def _alternative(cfg: RunConfig, name: str):
    """A valid value different from cfg's for field `name`."""
    special = {
        "label_coords": (1, 2),
        "variants": ("logistic", "linear"),
        "data": "gaussian",
        "init": "sparse_finders",
        "dtype": "float64",
        "regime": "paper",
        "regime_params": (("C", 3.0),),
        "finder_fraction": 0.5,
        "stop_error": 0.25,
        "stop_phases": 0.05,
        "label_noise": 0.1,
        "weight_decay": 1e-3,
    }
    if name in special:
        return special[name]
    value = getattr(cfg, name)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5
    raise AssertionError(f"test_cache._alternative: add a changed value for the new RunConfig field {name!r}")


def test_key_changes_with_every_config_field(cache):
    base = cache.key(TINY)
    assert base == cache.key(TINY.replace())  # deterministic
    keys = {base}
    for f in fields(RunConfig):
        if f.name == "device":
            continue  # devices are addressed by what they resolve to: see the next test
        cfg = TINY.replace(**{f.name: _alternative(TINY, f.name)})
        k = cache.key(cfg)
        assert k not in keys, f"changing RunConfig.{f.name} did not change the cache key"
        keys.add(k)


def test_key_resolves_the_device(cache):
    here = resolve_device("auto").type
    assert cache.key(TINY.replace(device="auto")) == cache.key(TINY.replace(device=here))
    if here == "cuda":  # only a GPU machine can build a cuda config
        assert cache.key(TINY.replace(device="cuda")) != cache.key(TINY.replace(device="cpu"))


def test_key_changes_with_code_version(tmp_path):
    a, b = TrajectoryCache(tmp_path, version="1+aaaa"), TrajectoryCache(tmp_path, version="1+bbbb")
    assert a.key(TINY) != b.key(TINY)
    assert a.path_for(TINY) != b.path_for(TINY)


def test_code_version_hashes_the_simulator_sources(tmp_path):
    src = Path(cache_mod.__file__).parent
    for name in CODE_FILES:
        shutil.copy(src / name, tmp_path / name)
    assert code_version(tmp_path) == code_version() == TrajectoryCache(tmp_path).code_version
    engine = (tmp_path / "engine.py").read_text()
    documented = engine.replace('"""', '"""A documentation edit. ', 1)  # the module docstring
    documented = documented.replace("\ndef ", "\n# a new comment\ndef ", 1)
    documented = re.sub(r'(def run\(.*?\n(?:.*\n)*?\s+""")', r"\1An edited docstring. ", documented, count=1)
    assert documented.count("A documentation edit") == 1 and "An edited docstring" in documented
    (tmp_path / "engine.py").write_text(documented)
    assert code_version(tmp_path) == code_version()  # docstrings and comments do not key the cache
    (tmp_path / "engine.py").write_text(engine + "\nEDITED = 1\n")
    assert code_version(tmp_path) != code_version()
    (tmp_path / "engine.py").write_text(engine)
    workspace = (tmp_path / "workspace.py").read_text()
    (tmp_path / "workspace.py").write_text(workspace.replace("STAT_ELEMENTS = ", "STAT_ELEMENTS = 1 + ", 1))
    assert code_version(tmp_path) != code_version()  # a changed constant


def test_default_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XORCERT_CACHE", str(tmp_path / "elsewhere"))
    assert TrajectoryCache().root == tmp_path / "elsewhere"
    monkeypatch.delenv("XORCERT_CACHE")
    assert TrajectoryCache().root == Path(".xorcert-cache")


# ----------------------------------------------------------------------------- hit / miss
def test_miss_computes_then_hit_loads(cache):
    first, second = Counter(), Counter()
    assert cache.get(TINY) is None
    t1 = cache.get_or_run(TINY, progress=first)
    assert first.calls > 0 and cache.path_for(TINY).is_file()
    t2 = cache.get_or_run(TINY, progress=second)
    assert second.calls == 0, "a hit must not run the simulation"
    assert same_arrays(t1, t2) and t2.config == TINY
    assert cache.get(TINY) is not None
    key = cache.key(TINY)
    assert entries(cache.root) == [f"{key}.json", f"{key}.npz"]
    side = json.loads((cache.root / f"{key}.json").read_text())
    assert side["config"] == TINY.to_dict() and side["code_version"] == cache.code_version
    assert side["wall_time_s"] >= 0 and side["created"]


def test_auto_device_shares_the_entry_and_keeps_the_requested_config(cache):
    here = resolve_device("auto").type
    cache.get_or_run(TINY.replace(device=here))
    counter = Counter()
    traj = cache.get_or_run(TINY.replace(device="auto"), progress=counter)
    assert counter.calls == 0 and traj.config.device == "auto"


# ----------------------------------------------------------------------------- concurrency
WORKER = textwrap.dedent("""
    import hashlib, json, sys, time
    from pathlib import Path
    from simulator import RunConfig
    from simulator.cache import TrajectoryCache
    root, go = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = RunConfig.from_dict(json.loads(sys.argv[3]))
    computed = []
    def progress(step, steps):
        if not computed:
            time.sleep(0.5)  # hold the lock long enough for the other process to queue on it
        computed.append(step)
    (root.parent / f"ready-{sys.argv[4]}").touch()
    while not go.exists():
        time.sleep(0.01)
    traj = TrajectoryCache(root).get_or_run(cfg, progress=progress)
    h = hashlib.sha256()
    for k in sorted(traj.arrays):
        h.update(k.encode() + traj.arrays[k].tobytes())
    print(json.dumps({"computed": bool(computed), "digest": h.hexdigest()}))
""")


def test_concurrent_processes_compute_once(tmp_path):
    root, go = tmp_path / "cache", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), str(go), TINY.to_json(), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=SUBPROCESS_ENV,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.02)
    go.touch()  # both start asking at the same moment
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["computed"] for r in results) == [False, True], results
    assert results[0]["digest"] == results[1]["digest"]
    loaded = TrajectoryCache(root).get(TINY)
    assert loaded is not None


def test_waiting_process_reads_what_the_lock_holder_wrote(cache):
    """In-process view of the protocol: a request made while another holds the key's lock waits, then reads."""
    key = cache.key(TINY)
    cache.root.mkdir(parents=True)
    holder = open(cache.root / f"{key}.lock", "a+b")
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
    ref = TrajectoryCache(cache.root.parent / "other").get_or_run(TINY)
    ref.save(cache.path_for(TINY))  # the "other process" finishes while we hold the lock ...
    fcntl.flock(holder.fileno(), fcntl.LOCK_UN)  # ... and releases it
    holder.close()
    counter = Counter()
    assert same_arrays(cache.get_or_run(TINY, progress=counter), ref) and counter.calls == 0


# ----------------------------------------------------------------------------- damage and interrupts
def test_truncated_entry_is_recomputed_with_a_warning(cache):
    good = cache.get_or_run(TINY)
    path = cache.path_for(TINY)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    counter = Counter()
    with pytest.warns(CorruptCacheEntry, match="recomputed"):
        again = cache.get_or_run(TINY, progress=counter)
    assert counter.calls > 0 and same_arrays(good, again)
    assert path.stat().st_size > len(data) // 2  # replaced by a whole file (its header's wall time differs)
    assert same_arrays(cache.get_or_run(TINY, progress=Counter()), good)


def test_garbage_entry_is_recomputed(cache):
    path = cache.path_for(TINY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file at all")
    with pytest.warns(CorruptCacheEntry):
        traj = cache.get_or_run(TINY)
    assert traj.steps == TINY.steps and cache.get(TINY) is not None


def test_entry_of_another_config_is_not_returned(cache):
    other = TINY.replace(seed=7)
    cache.get_or_run(other)
    shutil.copy(cache.path_for(other), cache.path_for(TINY))  # a file put under the wrong name
    assert cache.get(TINY) is None
    with pytest.warns(CorruptCacheEntry):
        traj = cache.get_or_run(TINY)
    assert traj.config == TINY


def test_stale_temporary_file_of_a_dead_writer_is_ignored_and_removed(cache):
    path = cache.path_for(TINY)
    path.parent.mkdir(parents=True)
    stale = path.parent / f".{path.name}.abc123.tmp"
    stale.write_bytes(b"PK\x03\x04 half of a zip")
    assert cache.get(TINY) is None
    traj = cache.get_or_run(TINY)
    assert traj.steps == TINY.steps and not stale.exists()
    key = cache.key(TINY)
    assert entries(cache.root) == [f"{key}.json", f"{key}.npz"]


KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from simulator import RunConfig
    from simulator.cache import TrajectoryCache
    import json
    cfg = RunConfig.from_dict(json.loads(sys.argv[2]))
    def progress(step, steps):
        print("computing", flush=True)
        time.sleep(600)  # killed here, holding the key's lock
    TrajectoryCache(Path(sys.argv[1])).get_or_run(cfg, progress=progress)
""")


def test_killed_writer_leaves_no_entry_and_releases_the_lock(cache):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(cache.root), TINY.to_json()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=SUBPROCESS_ENV,
    )
    try:
        assert proc.stdout.readline().strip() == "computing", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert cache.get(TINY) is None and not cache.path_for(TINY).exists()
    counter = Counter()
    traj = cache.get_or_run(TINY, progress=counter)  # the OS released the dead process's lock
    assert counter.calls > 0 and traj.steps == TINY.steps


def test_interrupted_computation_leaves_no_entry(cache):
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_run(TINY, progress=Counter(raise_at=2))
    assert entries(cache.root) == []
    counter = Counter()
    cache.get_or_run(TINY, progress=counter)  # the lock was released
    assert counter.calls > 0


def test_diverged_run_writes_nothing_and_propagates(cache):
    wild = TINY.replace(eta=1e8, theta=1.0, steps=50)
    with pytest.raises(SimulationDiverged):
        cache.get_or_run(wild)
    assert entries(cache.root) == []
    with pytest.raises(SimulationDiverged):  # and it is not remembered as a result
        cache.get_or_run(wild)
