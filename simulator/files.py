"""One atomic writer for every file the suite produces (trajectories, cache entries, reports).

    atomic_write(path, lambda fh: fh.write(data))

The bytes go to a temporary file in the target's folder, are flushed to disk, and replace
the target with one `os.replace`: a reader sees the old file or the new one, never a part.
Whatever interrupts the write (a full disk, a kill, an exception in `write`) leaves the old
file as it was and removes the temporary. The new file's mode follows the umask, like a
file made by `open` (mkstemp alone would make it 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def current_umask() -> int:
    """The process umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call write(fh) on a temporary file beside path, fsync it, then os.replace it onto path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, 0o666 & ~current_umask())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
