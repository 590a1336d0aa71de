"""A content-addressed on-disk store of trajectories, safe under concurrent processes.

    cache = TrajectoryCache()                 # $XORCERT_CACHE or ./.xorcert-cache
    traj = cache.get_or_run(cfg)              # computed once, then read back
    found = cache.fetch(cfg, notify=print)    # the same, saying where it came from (Fetched)

An entry's key is the sha256 of the run's config (with `device="auto"` resolved to the
device it would run on, since CPU and CUDA runs differ in rounding) and of the code
version: the package version plus a hash of the code of the simulator's source files
(their syntax trees without docstrings and comments), so any edit of the code that produces
a trajectory invalidates every entry automatically, and an edit of its documentation none.
A run of a data law registered from outside the simulator is keyed by its module's code too.

Layout of the root folder, per key `K` (files follow the umask, like any file the user makes):

    K.npz    the trajectory (Trajectory.save, through simulator.files.atomic_write)
    K.json   a sidecar for humans: config, code version, creation time, wall time (atomic_write too)
    K.lock   the per-key lock file (fcntl.flock); never deleted; holds the pid of its last holder
    K.diverged.npz   a run that diverged, published by a sweep job (`publish`): what was recorded
             before the non-finite step; `require` raises SimulationDiverged with it, as the run would

Concurrency: a reader that finds `K.npz` loads it without locking (os.replace makes
the file appear whole or not at all). Otherwise it takes the exclusive lock on
`K.lock`, checks again for `K.npz` (another process may have written it meanwhile),
and only then runs the simulation. So of several processes asking for the same run
at once, exactly one computes and the others wait, then read. The lock is tried
without blocking first: a process that has to wait reports "waiting for the run
computed by pid N" through its `notify` callback (the holder writes its pid into the
lock file, in place, since a replaced file would be another lock), then blocks, and
`Fetched.waited_s` is its own wait. A process killed while holding the lock releases
it with its file descriptors; what it left is at most a temporary `.K.npz.*.tmp` file,
which is never read and is removed by the next holder of that key's lock.

Damage and failures: an entry that cannot be read, or does not hold a whole run of its
config (TrajectoryFileError: damaged bytes, another config, steps or snapshots cut short
of what the config and the file's meta say), is recomputed and replaced, with a
`CorruptCacheEntry` warning. A folder the process cannot write to (read-only, or a
regular file in its place) still serves the entries it has; a miss is then computed
without the lock and not stored, and so is a run whose store fails (disk full): the
trajectory is returned, with a `CacheNotStored` warning naming the path and the error,
and `Fetched.path` is None. A run that raises (SimulationDiverged, MemoryBudgetError,
KeyboardInterrupt, …) writes nothing and the exception propagates.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime
import errno
import fcntl
import hashlib
import inspect
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import engine
from .config import RunConfig
from .files import atomic_write
from .laws import get_law
from .memory import check_memory
from .recorder import SimulationDiverged
from .trajectory import Trajectory, TrajectoryFileError

ENV_ROOT = "XORCERT_CACHE"
DEFAULT_ROOT = ".xorcert-cache"
# The source files whose text defines what a trajectory contains.
CODE_FILES = (
    "config.py",
    "data.py",
    "laws.py",
    "losses.py",
    "engine.py",
    "workspace.py",
    "recorder.py",
    "phases.py",
    "trajectory.py",
    "population.py",
)
Progress = Callable[[int, int], None]
Notify = Callable[[str], None]


class CorruptCacheEntry(UserWarning):
    """A cache entry could not be read and is being recomputed."""


class CacheNotStored(UserWarning):
    """Something could not be written to the cache (read-only folder, disk full, …); the run is still returned."""


class NotCached(LookupError):
    """Runs a read-only getter was asked for and the cache does not hold (`TrajectoryCache.require`).

    `configs`: the missing runs' configs; `keys`: their cache keys, in the same order. `gather` raises
    one NotCached for all the runs of a group that are missing, so a planner sees them at once."""

    def __init__(self, configs: list[RunConfig], keys: list[str]):
        self.configs, self.keys = list(configs), list(keys)
        shown = ", ".join(f"{k[:12]} ({_describe(c)})" for k, c in zip(self.keys[:5], self.configs[:5]))
        more = f" and {len(self.keys) - 5} more" if len(self.keys) > 5 else ""
        super().__init__(f"{len(self.keys)} run(s) not in the cache: {shown}{more}")

    @classmethod
    def join(cls, errors: list[NotCached]) -> NotCached:
        """One NotCached naming the runs of all of `errors` (each key once)."""
        seen: dict[str, RunConfig] = {}
        for e in errors:
            for cfg, key in zip(e.configs, e.keys):
                seen.setdefault(key, cfg)
        return cls(list(seen.values()), list(seen))


def _describe(cfg: RunConfig) -> str:
    return f"d={cfg.d}, p={cfg.p}, m={cfg.m}, {cfg.steps} steps, seeds {cfg.seed}..{cfg.seed + cfg.seeds - 1}"


def gather(get: Callable[[Any], Any], items: Any) -> dict[Any, Any]:
    """{name: get(item)} for a mapping (of configs, or of whatever `get` reads runs from); with a read-only
    getter, every missing run of the group is named by one NotCached (a plain getter never raises it:
    the same as a dict comprehension)."""
    out, missing = {}, []
    for name, item in items.items():
        try:
            out[name] = get(item)
        except NotCached as e:
            missing.append(e)
    if missing:
        raise NotCached.join(missing)
    return out


@dataclass(frozen=True)
class Fetched:
    """What `TrajectoryCache.fetch` returns: the trajectory and where it came from."""

    trajectory: Trajectory
    path: Path | None  # the stored entry; None when the run could not be stored
    computed: bool  # this process ran the simulation
    waited_s: float = 0.0  # how long this process waited for another's lock on the key
    holder: int | None = None  # the pid that held that lock when the wait began (None: no wait, or unknown)


def default_root() -> Path:
    """$XORCERT_CACHE if set, else ./.xorcert-cache (relative to the working directory)."""
    return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)


def code_text(source: str) -> str:
    """What of a module's source can change a trajectory: its syntax tree without docstrings
    (comments are not in the tree), so an edit of the documentation keeps every cache entry."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def code_version(package_dir: Path | None = None) -> str:
    """`<package version>+<16 hex digits>`: the version and a hash of the CODE_FILES' code (`code_text`)."""
    from . import __version__

    package_dir = Path(__file__).parent if package_dir is None else Path(package_dir)
    h = hashlib.sha256()
    for name in CODE_FILES:
        h.update(name.encode() + b"\0" + code_text((package_dir / name).read_text(encoding="utf-8")).encode() + b"\0")
    return f"{__version__}+{h.hexdigest()[:16]}"


def law_code(name: str) -> str | None:
    """What keys the code of a data law defined outside the simulator: sha256 (16 hex digits) of its
    module's `code_text` (of its compiled code where the source cannot be read); None for a built-in
    law, whose code is in CODE_FILES. Raises ValueError for an unregistered law."""
    fn = get_law(name).sample
    module = inspect.getmodule(fn)
    if module is not None and module.__name__.startswith(__package__ + "."):
        return None
    try:
        text = code_text(inspect.getsource(module if module is not None else fn))
    except (OSError, TypeError, SyntaxError):
        code = fn.__code__
        text = code.co_code.hex() + repr(code.co_consts) + repr(code.co_names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolved_dict(cfg: RunConfig) -> dict[str, Any]:
    """cfg.to_dict() with `device="auto"` replaced by the device type it runs on ("cpu" or "cuda")."""
    return {**cfg.to_dict(), "device": engine.resolve_device(cfg.device).type}


class TrajectoryCache:
    """Trajectories on disk under `root`, addressed by config and code version."""

    def __init__(self, root: str | os.PathLike | None = None, *, version: str | None = None):
        """`root`: the store's folder (created on first write; default `default_root()`).
        `version`: use this code version instead of `code_version()` (for tests and tools)."""
        self.root = default_root() if root is None else Path(root)
        self.code_version = code_version() if version is None else version

    def __repr__(self) -> str:
        return f"TrajectoryCache({str(self.root)!r}, code_version={self.code_version!r})"

    # ------------------------------------------------------------------ addressing
    def key(self, cfg: RunConfig) -> str:
        """sha256 (hex) of the device-resolved config's JSON and the code version (and of the data
        law's code when the law is not built in)."""
        keyed: dict[str, Any] = {"config": resolved_dict(cfg), "code_version": self.code_version}
        user_law = law_code(cfg.data)
        if user_law is not None:
            keyed["data_law_code"] = user_law
        text = json.dumps(keyed, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def path_for(self, cfg: RunConfig) -> Path:
        """Where cfg's trajectory is (or would be) stored."""
        return self.root / f"{self.key(cfg)}.npz"

    def _sidecar(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _lock_path(self, key: str) -> Path:
        return self.root / f"{key}.lock"

    def diverged_path(self, cfg: RunConfig) -> Path:
        """Where a sweep job publishes cfg's run when it diverges (`publish`)."""
        return self.root / f"{self.key(cfg)}.diverged.npz"

    def _raise_if_diverged(self, cfg: RunConfig) -> None:
        """Raise SimulationDiverged, as running cfg would, when a job published that it diverges."""
        try:
            part = Trajectory.load(self.diverged_path(cfg))
        except (OSError, TrajectoryFileError):
            return
        if resolved_dict(part.config) != resolved_dict(cfg):
            return
        meta = part.meta.get("diverged") or {}
        raise SimulationDiverged(
            int(meta.get("step", part.steps)), str(meta.get("variant", "?")), int(meta.get("seed", -1)), part
        )

    # ------------------------------------------------------------------ access
    def get(self, cfg: RunConfig) -> Trajectory | None:
        """The stored trajectory of cfg, or None when there is none or it cannot be read."""
        try:
            return self._load(cfg, self.path_for(cfg))
        except (OSError, TrajectoryFileError):
            return None

    def require(self, cfg: RunConfig) -> Trajectory:
        """cfg's stored trajectory (or the stored whole run serving a stopped one, as `fetch`); NotCached
        naming the key when there is none that reads whole. Never simulates, never locks, never writes."""
        found = self._stored(cfg)
        if found is not None:
            return found.trajectory
        self._raise_if_diverged(cfg)
        raise NotCached([cfg], [self.key(cfg)])

    def publish(self, cfg: RunConfig, progress: Progress | None = None) -> bool:
        """Compute cfg's run and publish it, without the per-key lock: for a writer that is the only one
        of its key (a sweep's plan gives every key to one job), on filesystems whose locks cannot be
        trusted (NFS). The entry appears whole or not at all (written to a temporary file in the same
        folder, then renamed over, which is atomic on NFS too). A run that diverges is published as
        what it recorded before (`K.diverged.npz`), so that `require` answers as the run would. The
        sidecar is written after the entry: a writer killed between the two leaves a whole entry without
        its description (which nothing but a human reads). False
        when the entry was already there (nothing computed); a run that raises otherwise or cannot be
        stored raises (OSError)."""
        path = self.path_for(cfg)
        try:
            self._load(cfg, path)
            return False
        except (OSError, TrajectoryFileError):
            pass
        if self.diverged_path(cfg).is_file():
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries(path)
        try:
            traj = self._compute(cfg, progress)
        except SimulationDiverged as e:
            where = {"step": e.step, "variant": e.variant, "seed": e.seed}
            dataclasses.replace(e.trajectory, meta={**e.trajectory.meta, "diverged": where}).save(
                self.diverged_path(cfg)
            )
            return True
        traj.save(path)
        self._write_sidecar(path.stem, cfg, traj)
        return True

    def get_or_run(self, cfg: RunConfig, progress: Progress | None = None) -> Trajectory:
        """cfg's trajectory from the store, or run it (once across processes) and store it (see `fetch`)."""
        return self.fetch(cfg, progress).trajectory

    def fetch(self, cfg: RunConfig, progress: Progress | None = None, notify: Notify | None = None) -> Fetched:
        """cfg's trajectory from the store, or run it (once across processes) and store it.

        `progress(step, steps)` is passed to the engine; it is called only when this process
        computes the run, never on a hit. `notify(message)` is told when this process has to
        wait for another that holds the key's lock. A run that cannot be stored is returned
        all the same, with a CacheNotStored warning. A config with `stop_phases` is served by the
        stored whole run of the same config, when there is one (it holds everything the stopped
        run would: simulator.phases).
        """
        found = self._stored(cfg)  # missing, unreadable or damaged: decided again under the lock
        if found is not None:
            return found
        path = self.path_for(cfg)
        try:
            fd, waited, holder = self._lock(path.stem, notify)
        except OSError as e:
            warnings.warn(
                f"the trajectory cache {self.root} cannot be written ({e}); the run is computed and not stored",
                CacheNotStored,
                stacklevel=2,
            )
            return Fetched(self._compute(cfg, progress), None, computed=True)
        try:
            try:
                return Fetched(self._load(cfg, path), path, False, waited, holder)
            except OSError:
                pass
            except TrajectoryFileError as e:
                warnings.warn(
                    f"trajectory cache entry {path} is unreadable and is recomputed: {e}",
                    CorruptCacheEntry,
                    stacklevel=2,
                )
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            self._remove_stale_temporaries(path)
            traj = self._compute(cfg, progress)
            return Fetched(traj, path if self._store(path, cfg, traj) else None, True, waited, holder)
        finally:
            os.close(fd)  # releases the lock

    # ------------------------------------------------------------------ internals
    def _stored(self, cfg: RunConfig) -> Fetched | None:
        """cfg's entry as stored, or the stored whole run of a config with `stop_phases` (it holds
        everything the stopped run would: simulator.phases); None when neither reads whole."""
        candidates = [cfg, cfg.replace(stop_phases=0.0)] if cfg.stop_phases > 0 else [cfg]
        for c in candidates:
            path = self.path_for(c)
            with contextlib.suppress(OSError, TrajectoryFileError):
                return Fetched(self._load(c, path), path, computed=False)
        return None

    def _load(self, cfg: RunConfig, path: Path) -> Trajectory:
        """Load an entry; one that is not a whole run of cfg counts as damaged."""
        traj = Trajectory.load(path)
        if resolved_dict(traj.config) != resolved_dict(cfg):
            raise TrajectoryFileError(
                f"{path}: holds the run of another config (hash collision or a file copied in by hand)"
            )
        if not traj.complete:
            raise TrajectoryFileError(
                f"{path}: holds {traj.steps} of the config's {cfg.steps} steps without having "
                "stopped early: not a whole run"
            )
        if traj.config != cfg:  # same run, asked for with device "auto" vs the concrete device
            traj = dataclasses.replace(traj, config=cfg)
        return traj

    @staticmethod
    def _compute(cfg: RunConfig, progress: Progress | None) -> Trajectory:
        check_memory(cfg)  # a run that cannot fit is refused before it starts
        return engine.run(cfg, progress=progress)  # raises -> nothing written

    def _lock(self, key: str, notify: Notify | None) -> tuple[int, float, int | None]:
        """Take the exclusive flock of one key: (its file descriptor, seconds waited, the pid waited for).

        Closing the descriptor releases the lock (the OS does so if the process dies). OSError when
        the lock file cannot be made or written (a read-only folder, a file in the folder's place).
        """
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            waited, holder = 0.0, None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                holder = int(text) if text.isdigit() else None
                if notify is not None:
                    notify(
                        f"waiting for the run computed by {f'pid {holder}' if holder else 'another process'} "
                        f"(lock {self._lock_path(key)})"
                    )
                start = time.monotonic()
                fcntl.flock(fd, fcntl.LOCK_EX)
                waited = time.monotonic() - start
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        return fd, waited, holder

    @staticmethod
    def _remove_stale_temporaries(path: Path) -> None:
        """Delete temporary files of a writer of this entry that died (only call under the key's lock)."""
        for tmp in list(path.parent.glob(f".{path.name}.*.tmp")) + list(path.parent.glob(f".{path.stem}.json.*.tmp")):
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _store(self, path: Path, cfg: RunConfig, traj: Trajectory) -> bool:
        """Write the entry and its sidecar; False, with a CacheNotStored warning, when the entry cannot be written."""
        try:
            traj.save(path)
        except OSError as e:
            warnings.warn(
                f"could not store the run in the trajectory cache as {path}: {e}", CacheNotStored, stacklevel=3
            )
            return False
        try:
            self._write_sidecar(path.stem, cfg, traj)
        except OSError as e:
            warnings.warn(
                f"stored {path}, but not its description {self._sidecar(path.stem)}: {e}", CacheNotStored, stacklevel=3
            )
        return True

    def _write_sidecar(self, key: str, cfg: RunConfig, traj: Trajectory) -> None:
        """Write K.json atomically: what the entry is, for a human browsing the folder."""
        info = {
            "key": key,
            "code_version": self.code_version,
            "config": cfg.to_dict(),
            "resolved_device": resolved_dict(cfg)["device"],
            "device": traj.meta.get("device"),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "created_unix": time.time(),
            "wall_time_s": traj.meta.get("wall_time_s"),
        }
        text = json.dumps(info, indent=2, sort_keys=True)
        atomic_write(self._sidecar(key), lambda fh: fh.write(text.encode()))
