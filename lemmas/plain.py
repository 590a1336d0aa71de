"""Builtin, strict-JSON values: the one sanitizer of non-finite numbers, and its reader; the
verdict statuses (what `reports` and `lemmas.proof` compare with, without importing `lemmas.base`).

Verdicts (`lemmas.base.Verdict.to_dict`) and certificates (`reports`) are strict JSON: no
NaN/Infinity literals. A non-finite float is written as the string "nan", "inf" or
"-inf"; `num` reads any of these back as a float. No dependencies: `reports` imports it.
"""

from __future__ import annotations

import math
from typing import Any

HOLDS, FAILS, INCONCLUSIVE, UNDECIDED = "holds", "fails", "inconclusive", "undecided"
STATUSES = (HOLDS, FAILS, INCONCLUSIVE, UNDECIDED)

NON_FINITE = {
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "-infinity": -math.inf,
}


def sanitize(x: Any) -> Any:
    """A deep copy of x with builtin containers only and non-finite floats as strings.

    Mappings become dicts with string keys, tuples and lists become lists, numpy arrays and
    scalars (anything with `tolist`) their builtin values; other objects their float, else str.
    """
    if isinstance(x, dict):
        return {str(k): sanitize(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [sanitize(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, (str, int)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if hasattr(x, "tolist"):  # numpy arrays and scalars
        return sanitize(x.tolist())
    try:
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
