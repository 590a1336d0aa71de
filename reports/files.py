"""Reading and writing the reports' files: atomic replace, strict JSON, lenient numbers.

Certificates are strict JSON (no NaN/Infinity literals): `dumps` writes non-finite floats
as the strings "nan", "inf", "-inf" through the one sanitizer, `lemmas.plain.sanitize`
(which `lemmas.base.Verdict.to_dict` uses too); `lemmas.plain.num` reads them back.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lemmas.plain import sanitize

BOUNDARY_DIR = "boundaries"  # beside a certificate: the JSON files of `python -m lemmas boundary` the report reads


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
