"""What a claim hands the report: typed plot panels and its key statistics (no dependencies).

A verdict's `series` maps a name to a `Panel`: a title, axis labels and scales, and the
marks drawn on it, in order. `Panel.to_dict()` is the certificate's JSON form, each mark
tagged with its `"kind"`; `Panel.from_dict()` reads it back (`reports.plots` draws any
panel from it, knowing nothing about claims)::

    {"kind": "panel", "title": str, "x_label": str, "y_label": str,
     "x_scale": "linear" | "log" | "log2", "y_scale": "linear" | "log" | "auto",
     "marks": [{"kind": "curve", "x": [...], "y": [...], "label": str, "role": str, "group": int | None,
                "markers": bool},
               {"kind": "band", "x": [...], "lo": [...], "hi": [...], "label": str, "group": int | None},
               {"kind": "scatter", "x": [...], "y": [...], "label": str, "group": int | None},
               {"kind": "errorbar", "x": float, "y": float, "lo": float, "hi": float, "label": str},
               {"kind": "hline", "y": float, "label": str, "role": str},
               {"kind": "vline", "x": float, "label": str, "role": str}]}

Numbers may be non-finite ("nan", "inf" in JSON: `lemmas.plain`); a mark at a non-finite
position is not drawn. Roles say what a mark is, the renderer how it looks: a curve is the
`median` over seeds, one `seed`, a `fit`, a `reference` (a prediction, a theory line), a
`threshold`, or a plain `line` (coloured by its `group`, as is a band); a line is a
`threshold` or a `reference` (a marked time or level). "auto" y: logarithmic when the
data are positive and span more than 100×.

`KeyStat` names a statistic of `Verdict.stats` and the threshold(s) of
`Verdict.thresholds` it is compared with; a claim lists its own in `Claim.key_stats`, and
the certificate's `claims` section carries them (`KeyStat.to_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from lemmas.plain import num

CURVE_ROLES = ("median", "seed", "fit", "reference", "threshold", "line")
LINE_ROLES = ("threshold", "reference")
X_SCALES = ("linear", "log", "log2")
Y_SCALES = ("linear", "log", "auto")
KEY_OPS = ("<=", "<", ">=", ">", "in")


def _floats(v: Any, what: str) -> tuple[float, ...]:
    if not isinstance(v, (list, tuple)):
        raise TypeError(f"{what}: expected a list of numbers, got {type(v).__name__}")
    out = []
    for x in v:
        f = num(x)
        if f is None and x is not None:
            raise TypeError(f"{what}: {x!r} is not a number")
        out.append(float("nan") if f is None else f)
    return tuple(out)


def _float(v: Any, what: str) -> float:
    f = num(v)
    if f is None:
        raise TypeError(f"{what}: {v!r} is not a number")
    return f


def _choice(v: str, allowed: Sequence[str], what: str) -> None:
    if v not in allowed:
        raise ValueError(f"{what} = {v!r}: must be one of {tuple(allowed)}")


@dataclass(frozen=True)
class Curve:
    x: Sequence[float]  # stored as a tuple
    y: Sequence[float]  # stored as a tuple
    label: str = ""
    role: str = "line"
    group: int | None = None  # marks of one group share a colour (role "line" and bands)
    markers: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _floats(self.x, "Curve.x"))
        object.__setattr__(self, "y", _floats(self.y, "Curve.y"))
        if len(self.x) != len(self.y):
            raise ValueError(f"Curve {self.label!r}: {len(self.x)} x but {len(self.y)} y")
        _choice(self.role, CURVE_ROLES, "Curve.role")


@dataclass(frozen=True)
class Band:
    x: Sequence[float]  # stored as a tuple
    lo: Sequence[float]  # stored as a tuple
    hi: Sequence[float]  # stored as a tuple
    label: str = ""
    group: int | None = None  # None: the colour of the seed curves

    def __post_init__(self) -> None:
        for name in ("x", "lo", "hi"):
            object.__setattr__(self, name, _floats(getattr(self, name), f"Band.{name}"))
        if not len(self.x) == len(self.lo) == len(self.hi):
            raise ValueError(f"Band {self.label!r}: x, lo, hi of lengths {len(self.x)}, {len(self.lo)}, {len(self.hi)}")


@dataclass(frozen=True)
class Scatter:
    x: Sequence[float]  # stored as a tuple
    y: Sequence[float]  # stored as a tuple
    label: str = ""
    group: int | None = None  # None: the median's colour; else the group's, as a line's

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _floats(self.x, "Scatter.x"))
        object.__setattr__(self, "y", _floats(self.y, "Scatter.y"))
        if len(self.x) != len(self.y):
            raise ValueError(f"Scatter {self.label!r}: {len(self.x)} x but {len(self.y)} y")


@dataclass(frozen=True)
class ErrorBar:
    """An interval [lo, hi] around the point (x, y)."""

    x: float
    y: float
    lo: float
    hi: float
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("x", "y", "lo", "hi"):
            object.__setattr__(self, name, _float(getattr(self, name), f"ErrorBar.{name}"))


@dataclass(frozen=True)
class HLine:
    y: float
    label: str = ""
    role: str = "threshold"

    def __post_init__(self) -> None:
        object.__setattr__(self, "y", _float(self.y, "HLine.y"))
        _choice(self.role, LINE_ROLES, "HLine.role")


@dataclass(frozen=True)
class VLine:
    x: float
    label: str = ""
    role: str = "reference"

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _float(self.x, "VLine.x"))
        _choice(self.role, LINE_ROLES, "VLine.role")


Mark = Curve | Band | Scatter | ErrorBar | HLine | VLine
MARKS: dict[str, type] = {
    "curve": Curve,
    "band": Band,
    "scatter": Scatter,
    "errorbar": ErrorBar,
    "hline": HLine,
    "vline": VLine,
}
KIND = {cls: kind for kind, cls in MARKS.items()}


def mark_to_dict(mark: Mark) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": KIND[type(mark)]}
    for f in fields(mark):
        v = getattr(mark, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def mark_from_dict(d: Mapping[str, Any]) -> Mark:
    """The mark of a `mark_to_dict` record; TypeError/ValueError for anything else."""
    if not isinstance(d, Mapping):
        raise TypeError(f"a mark is a mapping, got {type(d).__name__}")
    cls = MARKS.get(str(d.get("kind")))
    if cls is None:
        raise ValueError(f"unknown mark kind {d.get('kind')!r} (one of {tuple(MARKS)})")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Panel:
    """One figure: its marks, drawn in order, under a title and labelled axes."""

    title: str
    marks: Sequence[Mark] = ()  # stored as a tuple
    x_label: str = ""
    y_label: str = ""
    x_scale: str = "linear"
    y_scale: str = "linear"

    def __post_init__(self) -> None:
        object.__setattr__(self, "marks", tuple(self.marks))
        _choice(self.x_scale, X_SCALES, "Panel.x_scale")
        _choice(self.y_scale, Y_SCALES, "Panel.y_scale")
        bad = [type(m).__name__ for m in self.marks if type(m) not in KIND]
        if bad:
            raise TypeError(f"Panel {self.title!r}: not marks: {bad}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "panel",
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "x_scale": self.x_scale,
            "y_scale": self.y_scale,
            "marks": [mark_to_dict(m) for m in self.marks],
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Panel:
        """The panel of a `to_dict` record; TypeError/ValueError for anything else."""
        if not isinstance(d, Mapping) or d.get("kind") != "panel":
            raise ValueError('not a panel record (a mapping with "kind": "panel")')
        marks = d.get("marks") or []
        if not isinstance(marks, list):
            raise TypeError(f"panel marks: a list expected, got {type(marks).__name__}")
        return Panel(
            title=str(d.get("title", "")),
            marks=tuple(mark_from_dict(m) for m in marks),
            x_label=str(d.get("x_label", "")),
            y_label=str(d.get("y_label", "")),
            x_scale=str(d.get("x_scale", "linear")),
            y_scale=str(d.get("y_scale", "linear")),
        )


@dataclass(frozen=True)
class KeyStat:
    """A statistic a verdict turns on, against its threshold.

    `stat` is a key of `Verdict.stats`; it may contain `{d}`: the statistic is then read on
    every rung of a d-ladder (`d64_T1_over_pred`) and the worst rung is shown. `threshold`
    is a key of `Verdict.thresholds` (for "in", one key holding [lo, hi], or a pair of
    keys), and may contain `{d}` too. A claim's first key statistic is the one the terminal
    summary prints.
    """

    label: str
    stat: str
    op: str  # "<=", "<", ">=", ">", "in"
    threshold: str | tuple[str, str]

    def __post_init__(self) -> None:
        _choice(self.op, KEY_OPS, "KeyStat.op")
        if isinstance(self.threshold, list):
            object.__setattr__(self, "threshold", tuple(self.threshold))

    def to_dict(self) -> dict[str, Any]:
        thr = list(self.threshold) if isinstance(self.threshold, tuple) else self.threshold
        return {"label": self.label, "stat": self.stat, "op": self.op, "threshold": thr}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> KeyStat:
        return KeyStat(str(d["label"]), str(d["stat"]), str(d["op"]), d["threshold"])
