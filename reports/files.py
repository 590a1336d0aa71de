"""Reading and writing the reports' files: atomic replace, strict JSON, lenient numbers.

Certificates are strict JSON (no NaN/Infinity literals): non-finite floats are written as
the strings "nan", "inf", "-inf", the same convention as `lemmas.base.Verdict.to_dict`.
`num` reads any of these back as a float.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

NON_FINITE = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
              "infinity": math.inf, "-infinity": -math.inf}


def sanitize(x: Any) -> Any:
    """A deep copy of x with builtin containers only and non-finite floats as strings."""
    if isinstance(x, dict):
        return {str(k): sanitize(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [sanitize(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, (str, int)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    try:  # numpy scalars and the like
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return v if math.isfinite(v) else str(v)


def num(x: Any) -> float | None:
    """x as a float (numbers, bools excluded, and 'nan'/'inf' strings), else None."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        key = x.strip().lower()
        if key in NON_FINITE:
            return NON_FINITE[key]
        try:
            return float(key)
        except ValueError:
            return None
    return None


def finite(x: Any) -> float | None:
    """num(x) if it is finite, else None."""
    v = num(x)
    return v if v is not None and math.isfinite(v) else None


def dumps(obj: Any) -> str:
    """Strict, stable JSON text of obj (sanitized, keys in insertion order, 1-space indent)."""
    return json.dumps(sanitize(obj), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text to path through a temporary file in the same folder and os.replace: a reader sees the
    old file or the new one, a failure leaves the old one. The mode follows the umask, as with `open`.
    (simulator.files.atomic_write is the same for binary files; reports does not import the simulator,
    which would load torch for a report.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp creates 0600
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, dumps(obj))


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; the error names the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
