"""A content-addressed on-disk store of trajectories, safe under concurrent processes.

    cache = TrajectoryCache()                 # $XORCERT_CACHE or ./.xorcert-cache
    traj = cache.get_or_run(cfg)              # computed once, then read back

An entry's key is the sha256 of the run's config (with `device="auto"` resolved to the
device it would run on, since CPU and CUDA runs differ in rounding) and of the code
version: the package version plus a hash of the simulator's source files, so any edit
of the code that produces a trajectory invalidates every entry automatically.

Layout of the root folder, per key `K`:

    K.npz    the trajectory (written by Trajectory.save: temporary file + os.replace)
    K.json   a sidecar for humans: config, code version, creation time, wall time
    K.lock   the per-key lock file (fcntl.flock); never deleted, it is empty

Concurrency: a reader that finds `K.npz` loads it without locking (os.replace makes
the file appear whole or not at all). Otherwise it takes the exclusive lock on
`K.lock`, checks again for `K.npz` (another process may have written it meanwhile),
and only then runs the simulation. So of several processes asking for the same run
at once, exactly one computes and the others wait, then read. A process killed while
holding the lock releases it with its file descriptors; what it left is at most a
temporary `.K.npz.*.tmp` file, which is never read and is removed by the next holder
of that key's lock. An entry that cannot be read (TrajectoryFileError) is recomputed
and replaced, with a `CorruptCacheEntry` warning. A run that raises (SimulationDiverged,
KeyboardInterrupt, …) writes nothing and the exception propagates.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from . import engine
from .config import RunConfig
from .memory import check_memory
from .trajectory import Trajectory, TrajectoryFileError

ENV_ROOT = "XORCERT_CACHE"
DEFAULT_ROOT = ".xorcert-cache"
# The source files whose text defines what a trajectory contains.
CODE_FILES = ("config.py", "data.py", "engine.py", "trajectory.py", "population.py")
Progress = Callable[[int, int], None]


class CorruptCacheEntry(UserWarning):
    """A cache entry could not be read and is being recomputed."""


def default_root() -> Path:
    """$XORCERT_CACHE if set, else ./.xorcert-cache (relative to the working directory)."""
    return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)


def code_version(package_dir: Path | None = None) -> str:
    """`<package version>+<16 hex digits>`: the version and a hash of the CODE_FILES' text."""
    from . import __version__

    package_dir = Path(__file__).parent if package_dir is None else Path(package_dir)
    h = hashlib.sha256()
    for name in CODE_FILES:
        h.update(name.encode() + b"\0" + (package_dir / name).read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:16]}"


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
        """sha256 (hex) of the device-resolved config's JSON and the code version."""
        text = json.dumps({"config": resolved_dict(cfg), "code_version": self.code_version}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def path_for(self, cfg: RunConfig) -> Path:
        """Where cfg's trajectory is (or would be) stored."""
        return self.root / f"{self.key(cfg)}.npz"

    def _sidecar(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _lock_path(self, key: str) -> Path:
        return self.root / f"{key}.lock"

    # ------------------------------------------------------------------ access
    def get(self, cfg: RunConfig) -> Trajectory | None:
        """The stored trajectory of cfg, or None when there is none or it cannot be read."""
        try:
            return self._load(cfg, self.path_for(cfg))
        except (FileNotFoundError, TrajectoryFileError):
            return None

    def get_or_run(self, cfg: RunConfig, progress: Progress | None = None) -> Trajectory:
        """cfg's trajectory from the store, or run it (once across processes) and store it.

        `progress(step, steps)` is passed to the engine; it is called only when this
        process computes the run, never on a hit.
        """
        path = self.path_for(cfg)
        try:
            return self._load(cfg, path)
        except (FileNotFoundError, TrajectoryFileError):
            pass  # missing or damaged: decided again under the lock
        key = path.stem
        with self._locked(key):
            try:
                return self._load(cfg, path)
            except FileNotFoundError:
                pass
            except TrajectoryFileError as e:
                warnings.warn(f"trajectory cache entry {path} is unreadable and is recomputed: {e}",
                              CorruptCacheEntry, stacklevel=2)
                path.unlink(missing_ok=True)
            self._remove_stale_temporaries(path)
            check_memory(cfg)  # a run whose records cannot fit is refused before it starts
            traj = engine.run(cfg, progress=progress)  # raises -> nothing written
            traj.save(path)
            self._write_sidecar(key, cfg, traj)
            return traj

    # ------------------------------------------------------------------ internals
    def _load(self, cfg: RunConfig, path: Path) -> Trajectory:
        """Load an entry; an entry whose config is not cfg's counts as damaged."""
        traj = Trajectory.load(path)
        if resolved_dict(traj.config) != resolved_dict(cfg):
            raise TrajectoryFileError(f"{path}: holds the run of another config (hash collision or a "
                                      "file copied in by hand)")
        if traj.config != cfg:  # same run, asked for with device "auto" vs the concrete device
            traj = dataclasses.replace(traj, config=cfg)
        return traj

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """Hold the exclusive flock of one key (released on exit, or by the OS if the process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path(key), "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _remove_stale_temporaries(path: Path) -> None:
        """Delete temporary files of a writer of this entry that died (only call under the key's lock)."""
        for tmp in list(path.parent.glob(f".{path.name}.*.tmp")) + list(path.parent.glob(f".{path.stem}.json.*.tmp")):
            tmp.unlink(missing_ok=True)

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
        target = self._sidecar(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(info, fh, indent=2, sort_keys=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
