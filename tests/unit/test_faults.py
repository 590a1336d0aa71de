"""The fault table: each row a way a run, the cache or the CLI can fail, and what must happen instead.

Principles the rows check: bad input is a clear error naming the parameter and its allowed
range, before any work starts; nothing computed is lost or corrupted by a failure; the CLI
reports every error as one line `error: …` on stderr with a non-zero exit, never a traceback.

Failures of the file system are injected (read-only folders as EROFS from the os functions that
write, a full disk as ENOSPC from fsync), so the rows hold as root too, where chmod stops nothing.
Every row uses its own tmp_path, with XORCERT_CACHE pointed into it.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import json
import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import RunConfig, Trajectory, TrajectoryFileError, engine, paper, small_batch
from simulator.cache import CacheNotStored, CorruptCacheEntry, TrajectoryCache
from simulator.cli import build_parser, config_from_args, main
from simulator.memory import GIB, MemoryBudgetError, check_memory
from simulator.trajectory import PER_STEP_FIELDS
from tests.support.tiny_run import TINY_ARGS

TINY = RunConfig(d=8, p=4, m=16, eta=0.1, theta=0.1, steps=5, test_size=256, snapshots=2, device="cpu")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
A_RANGE = re.compile(r"[\[(][-\d.e+]+, [-\d.e+]+[\])]")  # an allowed range such as [1, 1000000000] or (0, 13.594]


@dataclass
class Env:
    """What a row works with: its folder, monkeypatch, and the CLI run in-process."""

    tmp: Path
    mp: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of main(argv); argparse's own exits count as their status."""
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def no_work(self) -> None:
        """Fail the row if a simulation or the memory estimate starts."""
        self.mp.setattr(engine, "run", lambda *a, **k: pytest.fail("a simulation started"))
        self.mp.setattr("simulator.memory.check_memory", lambda *a, **k: pytest.fail("work started"))


@dataclass(frozen=True)
class Fault:
    name: str
    fault: str  # what goes wrong
    expected: str  # what must happen instead
    check: Callable[[Env], None]


FAULTS: list[Fault] = []


def fault(name: str, what: str, expected: str) -> Callable[[Callable[[Env], None]], Callable[[Env], None]]:
    """Add the decorated check to FAULTS as one row."""

    def add(check: Callable[[Env], None]) -> Callable[[Env], None]:
        FAULTS.append(Fault(name, what, expected, check))
        return check

    return add


def one_error_line(err: str) -> str:
    """The single `error: …` line of stderr (and no traceback)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def tiny_cfg() -> RunConfig:
    """The config TINY_ARGS describe, as the CLI builds it."""
    return config_from_args(build_parser().parse_args(["run", *TINY_ARGS]))


# ----------------------------------------------------------------------------- 1. memory
@fault(
    "memory-d-1e9-refused",
    "d = 10^9 passed the memory check (records only) and was OOM-killed at 22.7 GB",
    "refused at once, before anything is allocated, naming d as what to lower",
)
def _(env: Env) -> None:
    cfg = RunConfig(d=10**9, p=1, m=1, eta=0.1, theta=0.1, steps=1, device="cpu")
    start = time.perf_counter()
    with pytest.raises(MemoryBudgetError, match=r"^d = 1000000000: .*GiB.*test-set rows.*lower --d"):
        check_memory(cfg, available=24 * GIB)
    assert time.perf_counter() - start < 1.0
    env.mp.setattr("simulator.memory.available_bytes", lambda: 24 * GIB)
    env.mp.setattr(engine, "run", lambda *a, **k: pytest.fail("the engine must not start"))
    out = env.tmp / "x.npz"
    code, _, err = env.cli(
        "run",
        "--regime",
        "custom",
        "--d",
        "1000000000",
        "--p",
        "1",
        "--m",
        "1",
        "--eta",
        "0.1",
        "--theta",
        "0.1",
        "--steps",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert code == 2 and "d = 1000000000" in one_error_line(err) and not out.exists()


@fault("memory-wide-snapshots-refused", "snapshots of W (steps · d) were not counted", "refused naming snapshots and d")
def _(env: Env) -> None:
    cfg = RunConfig(d=2**20, p=64, m=8, eta=0.1, theta=0.1, steps=1000, snapshots=1000, device="cpu")
    with pytest.raises(MemoryBudgetError, match=r"^snapshots = 1000, d = 1048576.*snapshots of W.*--snapshots"):
        check_memory(cfg, available=24 * GIB)


@fault(
    "memory-normal-runs-fit",
    "a stricter estimate could refuse the suite's ordinary runs",
    "paper at d = 1024 with 4 seeds and small_batch at d = 128 fit in 24 GiB",
)
def _(env: Env) -> None:
    for cfg in (
        paper(1024, seeds=4, device="cpu"),
        paper(1024, seeds=4, device="cpu", variants=("logistic", "linear")),
        small_batch(128, seeds=16, device="cpu"),
        small_batch(128, m=32, seeds=4, device="cpu"),
    ):
        check_memory(cfg, available=24 * GIB)


# ----------------------------------------------------------------------------- 2. cut records
def cut(path: Path, t: int, *, meta_too: bool = False) -> None:
    """Rewrite the trajectory file keeping its first t steps and the snapshots up to t, every array consistently."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays.pop("__header__").tobytes())
    keep = arrays["snap_steps"] <= t
    arrays = {k: v[:t] if k in PER_STEP_FIELDS else v[keep] for k, v in arrays.items()}
    if meta_too:
        header["meta"]["steps_done"] = t
    np.savez(path, __header__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, step: int, steps: int) -> None:
        self.calls += 1


@fault(
    "cache-cut-entry-recomputed",
    "an entry with 5 of its 20 steps (every array cut alike) was served as the run",
    "a CorruptCacheEntry warning naming the contradiction, and the whole run recomputed",
)
def _(env: Env) -> None:
    cache, cfg = TrajectoryCache(env.tmp / "cache"), TINY.replace(steps=20)
    cache.get_or_run(cfg)
    cut(cache.path_for(cfg), 5)
    counter = Counter()
    with pytest.warns(CorruptCacheEntry, match="5 steps are recorded, but its meta says steps_done = 20"):
        traj = cache.get_or_run(cfg, progress=counter)
    assert counter.calls > 0 and traj.steps == 20 and cache.get(cfg).steps == 20


@fault(
    "cache-cut-entry-and-meta-recomputed",
    "the same, with the meta's steps_done cut to match",
    "the file loads as a partial record, but the cache does not serve it as the whole run",
)
def _(env: Env) -> None:
    cache, cfg = TrajectoryCache(env.tmp / "cache"), TINY.replace(steps=20)
    cache.get_or_run(cfg)
    cut(cache.path_for(cfg), 5, meta_too=True)
    assert Trajectory.load(cache.path_for(cfg)).steps == 5 and cache.get(cfg) is None
    counter = Counter()
    with pytest.warns(CorruptCacheEntry, match="5 of the config's 20 steps"):
        traj = cache.get_or_run(cfg, progress=counter)
    assert counter.calls > 0 and traj.steps == 20


@fault(
    "show-cut-file", "`show` summarized a cut file as a finished run", "exit 2 with one error line saying what is cut"
)
def _(env: Env) -> None:
    path = TrajectoryCache(env.tmp / "cache").get_or_run(TINY.replace(steps=20)).save(env.tmp / "run.npz")
    cut(path, 5)
    code, out, err = env.cli("show", str(path))
    assert code == 2 and "steps_done = 20" in one_error_line(err) and out == ""


@fault(
    "load-wrong-snapshot-steps",
    "snapshot steps that are not the config's grid loaded as if they were",
    "TrajectoryFileError naming the snapshot steps",
)
def _(env: Env) -> None:
    path = TrajectoryCache(env.tmp / "cache").get_or_run(TINY).save(env.tmp / "run.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["snap_steps"] = arrays["snap_steps"] + 1  # same shapes, other steps
    np.savez(path, **arrays)
    with pytest.raises(TrajectoryFileError, match="snapshot steps"):
        Trajectory.load(path)


@fault(
    "cache-stopped-early-is-whole",
    "(guard) a run stopped early at stop_error is shorter than its horizon",
    "it is stored and served from the cache as it is, and `show` says it stopped early",
)
def _(env: Env) -> None:
    cache, cfg = TrajectoryCache(env.tmp / "cache"), TINY.replace(stop_error=0.99)  # stops at the first snapshot
    first = cache.get_or_run(cfg)
    assert first.meta["stopped_early"] and first.steps < cfg.steps
    counter = Counter()
    assert cache.get_or_run(cfg, progress=counter).steps == first.steps and counter.calls == 0
    code, out, _ = env.cli("show", str(cache.path_for(cfg)))
    assert code == 0 and "stopped     early" in out


# ----------------------------------------------------------------------------- 3. cache folder not writable
def read_only(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Make every write under root fail with EROFS, as on a read-only mount (chmod does not stop root)."""
    root = root.resolve()

    def inside(path: Any) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False  # a file descriptor
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(root)

    def refuse(path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    real_open, real_builtin_open = os.open, builtins.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if inside(path) and flags & writing:
            raise refuse(path)
        return real_open(path, flags, *args, **kw)

    def guarded_builtin_open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if inside(file) and any(c in mode for c in "wax+"):
            raise refuse(file)
        return real_builtin_open(file, mode, *args, **kw)

    mp.setattr(os, "open", guarded_open)
    mp.setattr(builtins, "open", guarded_builtin_open)
    for name in ("mkdir", "replace", "rename", "unlink", "remove", "chmod"):
        real = getattr(os, name)

        def guarded(path: Any, *args: Any, _real: Callable = real, **kw: Any) -> Any:
            if inside(path):
                raise refuse(path)
            return _real(path, *args, **kw)

        mp.setattr(os, name, guarded)


@fault(
    "cache-is-a-file-with-out",
    "XORCERT_CACHE naming a regular file: a traceback (FileExistsError)",
    "the run is computed, --out written, and one warning says the cache could not store it",
)
def _(env: Env) -> None:
    blocker, out = env.tmp / "not-a-folder", env.tmp / "run.npz"
    blocker.write_text("x")
    env.mp.setenv("XORCERT_CACHE", str(blocker))
    code, stdout, err = env.cli("run", *TINY_ARGS, "--cache", "--out", str(out))
    assert code == 0 and "Traceback" not in err, err
    assert re.search(rf"warning: the trajectory cache {re.escape(str(blocker))} cannot be written.*not stored", err)
    assert Trajectory.load(out).steps == 5 and blocker.read_text() == "x" and f"wrote {out}" in stdout


@fault(
    "cache-is-a-file-without-out",
    "the same without --out: the run would be computed and then lost",
    "exit 2 before any work, naming the cache path",
)
def _(env: Env) -> None:
    blocker = env.tmp / "not-a-folder"
    blocker.write_text("x")
    env.mp.setenv("XORCERT_CACHE", str(blocker))
    env.no_work()
    code, _, err = env.cli("run", *TINY_ARGS, "--cache")
    assert code == 2 and f"{blocker} is a file, not a folder" in one_error_line(err)


@fault(
    "cache-read-only-hit",
    "a read-only cache folder (lock file and temporaries cannot be made)",
    "an entry it holds is still served, and copied to --out",
)
def _(env: Env) -> None:
    root, out = env.tmp / "cache", env.tmp / "run.npz"
    assert env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root))[0] == 0
    read_only(env.mp, root)
    env.no_work()
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(out))
    assert code == 0 and "cache hit" in err and "warning" not in err, err
    assert out.read_bytes() == TrajectoryCache(root).path_for(tiny_cfg()).read_bytes()


@fault(
    "cache-read-only-miss-with-out",
    "a read-only cache folder on a miss: a traceback at the lock or the save",
    "the run is computed without storing it, --out written, one warning naming the folder",
)
def _(env: Env) -> None:
    root, out = env.tmp / "cache", env.tmp / "run.npz"
    root.mkdir()
    read_only(env.mp, root)
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(out))
    assert code == 0 and "Traceback" not in err, err
    assert re.search(rf"warning: the trajectory cache {re.escape(str(root))} cannot be written .*Read-only", err)
    assert Trajectory.load(out).steps == 5 and files_in(root) == []


@fault(
    "cache-read-only-miss-without-out",
    "a read-only cache folder, a miss and no --out: the run would be lost",
    "exit 2 before any work, naming the folder",
)
def _(env: Env) -> None:
    root = env.tmp / "cache"
    root.mkdir()
    read_only(env.mp, root)
    env.no_work()
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root))
    assert code == 2 and f"cannot write in {root}" in one_error_line(err)


@fault(
    "cache-read-only-library",
    "TrajectoryCache.get_or_run on a read-only folder raised OSError",
    "the computed trajectory is returned, with a CacheNotStored warning",
)
def _(env: Env) -> None:
    root = env.tmp / "cache"
    root.mkdir()
    read_only(env.mp, root)
    with pytest.warns(CacheNotStored, match=re.escape(str(root))):
        traj = TrajectoryCache(root).get_or_run(TINY)
    assert traj.steps == TINY.steps and files_in(root) == []


# ----------------------------------------------------------------------------- 4. disk full
def disk_full(mp: pytest.MonkeyPatch, folder: Path) -> None:
    """Make fsync of any file in folder fail with ENOSPC, as a full disk does."""
    folder, real = folder.resolve(), os.fsync

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent == folder:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    mp.setattr(os, "fsync", fsync)


@fault(
    "disk-full-on-out",
    "--out on a full disk: a traceback, and maybe a partial file",
    "exit 1, one error line naming the path, no file or temporary left",
)
def _(env: Env) -> None:
    folder = env.tmp / "out"
    folder.mkdir()
    disk_full(env.mp, folder)
    code, _, err = env.cli("run", *TINY_ARGS, "--out", str(folder / "run.npz"))
    line = one_error_line(err)
    assert code == 1 and str(folder / "run.npz") in line and "No space left" in line
    assert files_in(folder) == []


@fault(
    "disk-full-on-cache-store",
    "the cache store fails (disk full) after the run was computed",
    "--out is written all the same; one warning says the cache could not store it; no partial entry",
)
def _(env: Env) -> None:
    root, out = env.tmp / "cache", env.tmp / "run.npz"
    root.mkdir()
    disk_full(env.mp, root)
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(out))
    assert code == 0 and "Traceback" not in err, err
    assert re.search(r"warning: could not store the run in the trajectory cache as .*No space left", err)
    assert Trajectory.load(out).steps == 5
    assert [n for n in files_in(root) if not n.endswith(".lock")] == []


@fault(
    "disk-full-on-out-after-cache",
    "--out fails after the cache stored the run",
    "exit 1; the error names --out and where the cached copy is",
)
def _(env: Env) -> None:
    root, folder = env.tmp / "cache", env.tmp / "out"
    folder.mkdir()
    disk_full(env.mp, folder)
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(folder / "run.npz"))
    entry = TrajectoryCache(root).path_for(tiny_cfg())
    line = one_error_line(err)
    assert code == 1 and str(folder / "run.npz") in line and f"the run is in the cache: {entry}" in line
    assert Trajectory.load(entry).steps == 5 and files_in(folder) == []


@fault(
    "disk-full-on-cache-without-out",
    "the cache store fails and there is no --out",
    "exit 1 saying the run was not kept (never a silent success)",
)
def _(env: Env) -> None:
    root = env.tmp / "cache"
    root.mkdir()
    disk_full(env.mp, root)
    code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root))
    assert code == 1 and "not kept" in one_error_line(err)


# ----------------------------------------------------------------------------- 5. huge integers
HUGE = [  # (options, what the error must name)
    (["--d", "16", "--C", "50"], "C = 50.0"),
    (["--d", "16", "--kappa", "1e20"], "kappa = 1e+20"),
    (["--d", "16", "--steps", "1e20"], "RunConfig.steps = 100000000000000000000"),
    (["--d", "16", "--steps", "100000000000000000000"], "RunConfig.steps"),
    (["--d", "16", "--m", "1e20"], "RunConfig.m"),
    (["--regime", "small_batch", "--d", "16", "--m", "1e20"], "RunConfig.m"),
    (["--d", "16", "--test-size", "1e20"], "RunConfig.test_size"),
    (["--d", "16", "--p", "1e20"], "RunConfig.p"),
    (["--d", "1e20"], "d = 100000000000000000000"),
    (
        ["--regime", "custom", "--d", "1e20", "--p", "1", "--m", "1", "--eta", "1", "--theta", "1", "--steps", "1"],
        "RunConfig.d",
    ),
    (["--d", "16", "--seeds", "1e20"], "RunConfig.seeds"),
    (["--d", "16", "--snapshots", "1e20"], "RunConfig.snapshots"),
    (["--d", "16", "--chunk-rows", "1e20"], "RunConfig.chunk_rows"),
    (["--d", "16", "--threads", "1e20"], "--threads"),
]


def huge_row(args: list[str], names: str) -> Callable[[Env], None]:
    def check(env: Env) -> None:
        env.no_work()
        out = env.tmp / "x.npz"
        start = time.perf_counter()
        code, _, err = env.cli("run", *args, "--out", str(out))
        line = one_error_line(err)
        assert code == 2 and names in line and A_RANGE.search(line), line
        assert time.perf_counter() - start < 5 and not out.exists()

    return check


for _args, _names in HUGE:
    fault(
        f"huge {' '.join(_args)}",
        "a huge value ran (or overflowed) instead of being refused",
        "exit 2 at once, naming the parameter and its allowed range",
    )(huge_row(_args, _names))


@fault(
    "huge-beyond-any-range",
    "--steps 1e999999999: converting it to an integer alone takes minutes",
    "refused at once by the option parser, naming --steps",
)
def _(env: Env) -> None:
    env.no_work()
    start = time.perf_counter()
    code, _, err = env.cli("run", "--d", "16", "--steps", "1e999999999", "--out", str(env.tmp / "x.npz"))
    assert code == 2 and "--steps" in err and "far outside" in err and time.perf_counter() - start < 5


@fault(
    "integers-in-scientific-notation",
    "(guard) --steps 1e3 was not an integer option value",
    "a whole number in scientific notation is that integer",
)
def _(env: Env) -> None:
    ns = build_parser().parse_args(["run", "--d", "16", "--steps", "1e3", "--seeds", "2"])
    assert config_from_args(ns).steps == 1000


# ----------------------------------------------------------------------------- 6. hand-damaged files
def with_header(env: Env, header: Any) -> Path:
    """A real trajectory file whose JSON header is replaced by `header`."""
    path = TrajectoryCache(env.tmp / "cache").get_or_run(TINY).save(env.tmp / "run.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    if callable(header):
        header = header(json.loads(arrays["__header__"].tobytes()))
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def text_file(env: Env) -> Path:
    path = env.tmp / "notes.npz"
    path.write_text("hello\n")
    return path


DAMAGED: list[tuple[str, Callable[[Env], Path], str]] = [
    ("meta-list", lambda env: with_header(env, lambda h: {**h, "meta": [1, 2]}), "meta is a list, not a mapping"),
    ("meta-string", lambda env: with_header(env, lambda h: {**h, "meta": "x"}), "meta is a str, not a mapping"),
    ("header-list", lambda env: with_header(env, [1, 2]), "damaged header"),
    (
        "meta-wall-time-string",
        lambda env: with_header(env, lambda h: {**h, "meta": {**h["meta"], "wall_time_s": "x"}}),
        "wall_time_s = 'x'",
    ),
    ("plain-text", text_file, "not an .npz archive"),
]


def damaged_row(make: Callable[[Env], Path], says: str) -> Callable[[Env], None]:
    def check(env: Env) -> None:
        path = make(env)
        code, _, err = env.cli("show", str(path))
        line = one_error_line(err)
        assert code == 2 and str(path) in line and says in line, line

    return check


for _name, _make, _says in DAMAGED:
    fault(
        f"show-{_name}",
        "`show` on a hand-damaged file raised AttributeError/ValueError (a traceback)",
        "exit 2 with one error line saying what is wrong",
    )(damaged_row(_make, _says))


# ----------------------------------------------------------------------------- 7. waiting for a lock
@fault(
    "lock-waiter-names-the-holder",
    "a process waiting on another's lock said nothing, then reported the other's run time as its own",
    "'waiting for the run computed by pid N' at once, then its own wait time",
)
def _(env: Env) -> None:
    root, out = env.tmp / "cache", env.tmp / "run.npz"
    cfg = tiny_cfg()
    ref = TrajectoryCache(env.tmp / "elsewhere").get_or_run(cfg)
    entry = TrajectoryCache(root).path_for(cfg)
    root.mkdir()
    lock = os.open(entry.with_suffix(".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # this process is "the other" that computes the run
    os.write(lock, f"{os.getpid()}\n".encode())
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    seen: list[str] = []
    try:
        try:
            deadline = time.monotonic() + 120
            while not any("waiting for the run computed by" in line for line in seen):
                try:
                    seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
                except queue.Empty:
                    pytest.fail(f"no waiting message within 120 s; stderr so far: {seen}")
            assert f"waiting for the run computed by pid {os.getpid()}" in seen[-1], seen
            time.sleep(1.0)
            ref.save(entry)  # "the other" finishes ...
        finally:
            os.close(lock)  # ... and releases the lock
        assert proc.wait(timeout=120) == 0, seen
        stdout = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    waited = re.search(rf"read from the cache after waiting ([\d.]+) s for pid {os.getpid()}", stdout)
    assert waited and 0.9 <= float(waited.group(1)) < 30, stdout
    assert out.read_bytes() == entry.read_bytes()


# ----------------------------------------------------------------------------- 8. --out into a file
@fault(
    "out-parent-is-a-file",
    "--out below a regular file: a bare '[Errno 17] File exists'",
    "exit 2 before any work, saying which path is a file and not a folder",
)
def _(env: Env) -> None:
    blocker = env.tmp / "file"
    blocker.write_text("x")
    env.no_work()
    for out in (blocker / "run.npz", blocker / "sub" / "run.npz"):
        code, _, err = env.cli("run", *TINY_ARGS, "--out", str(out))
        assert code == 2 and f"{blocker} is a file, not a folder" in one_error_line(err)


# ----------------------------------------------------------------------------- 9. file modes
def umask_row(mask: int) -> Callable[[Env], None]:
    def check(env: Env) -> None:
        root, out = env.tmp / "cache", env.tmp / "run.npz"
        old = os.umask(mask)
        try:
            code, _, err = env.cli("run", *TINY_ARGS, "--cache", "--cache-dir", str(root), "--out", str(out))
        finally:
            os.umask(old)
        assert code == 0, err
        entry = TrajectoryCache(root).path_for(tiny_cfg())
        for path in (out, entry, entry.with_suffix(".json")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, (path, oct(path.stat().st_mode))

    return check


for _mask in (0o022, 0o077):
    fault(
        f"umask-{_mask:03o}",
        "--cache --out wrote the --out copy and the sidecar as 0600 whatever the umask",
        f"--out, the cache entry and its sidecar are {0o666 & ~_mask:o}",
    )(umask_row(_mask))


@fault(
    "one-atomic-writer",
    "three hand-written copies of the temporary-file-and-rename dance",
    "simulator/files.py is the only place that makes a temporary file to write through",
)
def _(env: Env) -> None:
    src = Path(__file__).resolve().parents[2] / "simulator"
    users = sorted(p.name for p in src.glob("*.py") if "mkstemp" in p.read_text() or "os.replace(" in p.read_text())
    assert users == ["files.py"], users


# ----------------------------------------------------------------------------- 10. regimes, data laws, label noise
def fresh_registries(env: Env) -> None:
    """Let the row register regimes and laws in copies of the registries (restored after the row)."""
    from simulator import laws, regimes

    for reg in (regimes._REGISTRY, laws._REGISTRY):
        env.mp.setattr(reg, "_records", dict(reg._records))
        env.mp.setattr(reg, "_origins", dict(reg._origins))
        env.mp.setattr(reg, "_entry_points_loaded", False)


def custom_args(env: Env, *extra: str) -> list[str]:
    return ["run", *TINY_ARGS, *extra, "--out", str(env.tmp / "x.npz")]


@fault(
    "regime-unknown",
    "an unknown regime name",
    "ValueError listing the registered regimes and how to register "
    "one; the CLI refuses it naming the registered ones (exit 2), before any work",
)
def _(env: Env) -> None:
    with pytest.raises(
        ValueError,
        match=r"regime 'papr' is not registered; registered: paper, small_batch, gaussian, "
        r"first_layer_only, large_init, parity3, sparse_finders.*@simulator\.regime",
    ):
        simulator.build_regime("papr", 16)
    env.no_work()
    code, _, err = env.cli("run", "--regime", "papr", "--d", "16", "--out", str(env.tmp / "x.npz"))
    assert code == 2 and "invalid choice: 'papr'" in err and "paper" in err and "sparse_finders" in err


@fault(
    "regime-raises",
    "a user regime's function raises",
    "RegimeError naming the regime, d, the arguments and the "
    "original error; in the CLI one error line, exit 2, before any work",
)
def _(env: Env) -> None:
    fresh_registries(env)
    simulator.regime("boom")(lambda d, **kw: 1 / 0)
    with pytest.raises(
        simulator.RegimeError,
        match=r"^regime 'boom' at d=16 with \{'C': 3\} raised "
        r"ZeroDivisionError: division by zero$",
    ):
        simulator.build_regime("boom", 16, C=3)
    env.no_work()
    code, _, err = env.cli("run", "--regime", "boom", "--d", "16", "--device", "cpu", "--out", str(env.tmp / "x.npz"))
    assert code == 2 and "regime 'boom' at d=16" in one_error_line(err) and "ZeroDivisionError" in err


@fault(
    "regime-wrong-type",
    "a user regime returns something other than a RunConfig",
    "RegimeError naming the regime and the type returned",
)
def _(env: Env) -> None:
    fresh_registries(env)
    simulator.regime("dict_regime")(lambda d, **kw: {"d": d})
    with pytest.raises(
        simulator.RegimeError,
        match=r"regime 'dict_regime' \(.*\) returned builtins\.dict, not a "
        r"RunConfig",
    ):
        simulator.build_regime("dict_regime", 16)


@fault(
    "regime-bad-name",
    "a regime registered under a name that is not identifier-like, or under 'custom'",
    "ValueError naming the name and the allowed form, at registration",
)
def _(env: Env) -> None:
    fresh_registries(env)
    for name in ("", "my regime", "1st", "custom"):
        with pytest.raises(ValueError, match=rf"regime name = {re.escape(repr(name))} is not allowed"):
            simulator.regime(name)(lambda d, **kw: simulator.paper(d, **kw))
    assert not {"", "my regime", "1st"} & set(simulator.registered_regimes())


@fault(
    "regime-taken-name",
    "a second function registered under a taken name",
    "RegimeError naming both origins; the first registration is kept",
)
def _(env: Env) -> None:
    fresh_registries(env)

    def small_batch(d: int, **kw: Any) -> RunConfig:
        return simulator.paper(d, **kw)

    with pytest.raises(
        simulator.RegimeError,
        match=r"regime 'small_batch' is already registered from "
        r"simulator\.regimes\.small_batch; cannot register "
        r"tests\.unit\.test_faults\..*small_batch",
    ):
        simulator.regime("small_batch")(small_batch)
    assert simulator.registered_regimes()["small_batch"].build is simulator.small_batch


@fault(
    "entry-point-fails",
    "an installed package's regime entry point does not import",
    "RegimeError naming the entry point (name = value) and the original error; the CLI says so in one line",
)
def _(env: Env) -> None:
    import importlib.metadata

    fresh_registries(env)
    ep = importlib.metadata.EntryPoint(name="broken", value="xorcert_missing_plugin:regime", group="xorcert.regimes")
    real = importlib.metadata.entry_points
    env.mp.setattr(
        importlib.metadata, "entry_points", lambda **kw: [ep] if kw.get("group") == "xorcert.regimes" else real(**kw)
    )
    pattern = (
        r"entry point broken = xorcert_missing_plugin:regime \(group xorcert\.regimes\) failed to import: "
        r"ModuleNotFoundError: No module named 'xorcert_missing_plugin'"
    )
    with pytest.raises(simulator.RegimeError, match=pattern):
        simulator.registered_regimes()
    env.no_work()
    code, _, err = env.cli(*custom_args(env))
    assert code == 2 and re.search(pattern, one_error_line(err))


@fault(
    "label-noise-out-of-range",
    "label_noise outside [0, 0.5), NaN, or a bool",
    "ValueError naming RunConfig.label_noise, the value and [0, 0.5); the CLI exits 2 before any work",
)
def _(env: Env) -> None:
    for value in (0.5, -0.1, 1.0, float("nan"), True, "0.1"):
        with pytest.raises(
            ValueError,
            match=rf"^RunConfig\.label_noise = {re.escape(repr(value))} is not allowed: "
            r"must be a number in \[0, 0\.5\)$",
        ):
            TINY.replace(label_noise=value)
    env.no_work()
    for text in ("0.5", "nan", "-1e-9"):
        code, _, err = env.cli(*custom_args(env, f"--label-noise={text}"))
        assert code == 2 and "RunConfig.label_noise" in one_error_line(err) and "[0, 0.5)" in err


@fault(
    "data-law-unknown-at-run",
    "a config names a data law no one registered in this process",
    "the config builds and loads (a file of a user law reads anywhere), but the engine, the memory check and "
    "the cache refuse the run before any work, listing the registered laws; the CLI refuses it as a choice",
)
def _(env: Env) -> None:
    cfg = TINY.replace(data="laplace")
    env.mp.setattr("simulator.data.init_params", lambda *a, **k: pytest.fail("work started"))
    listing = r"data law 'laplace' is not registered; registered: boolean, gaussian"
    with pytest.raises(ValueError, match=listing):
        engine.run(cfg)
    with pytest.raises(ValueError, match=listing):
        check_memory(cfg)
    with pytest.raises(ValueError, match=listing):
        TrajectoryCache(env.tmp / "c").fetch(cfg)
    assert not (env.tmp / "c").exists()
    env.no_work()
    code, _, err = env.cli(*custom_args(env, "--data", "laplace"))
    assert code == 2 and "invalid choice: 'laplace'" in err and "boolean" in err


@pytest.mark.parametrize("case", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(
    case: Fault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XORCERT_CACHE", str(tmp_path / "xorcert-cache"))
    case.check(Env(tmp_path, monkeypatch, capsys))
