"""Located boundaries: the knob value at which a claim's verdict flips, by bisection (docs/SPEC.md §3.19).

    from lemmas.boundary import locate
    b = locate("C1", "paper", "theta", (1e-3, 1.0), ds=(32, 64, 128))
    b.brackets[0].interval        # (θ that holds, θ that fails): the last decided probe on each side
    b.scaling.slope               # log-log slope of the boundary against d

A *knob* is a numeric field of `simulator.RunConfig` (`KNOBS`): the regime builds its config at
each d, the knob's value overrides it (`lemmas.plan.Example.overrides`, so every run the claim
reads carries it). At each d the bisection probes both ends of the range, then the midpoint of
the bracket, geometric (`√(a·b)`; the knobs are scales or batch sizes), rounded to an integer for
integer knobs, keeping the last decided probe on each side, until the bracket is narrow
(`b/a ≤ 1 + boundary_rel_tol`, or, for an integer knob, adjacent integers) or `boundary_max_probes`
probes were made. `python -m lemmas boundary` writes the result as JSON (`Boundary.to_dict`) in
REPORT_DIR/boundaries/, where the report reads it; a run of the same measurement at other d joins
the earlier file (`merged`).

Decisions:

* A probe is *decided* when its verdict is holds or fails. A probe that is undecided (the
  sequential rule reached its seed cap: the failure rate lies in its indifference zone, i.e. the
  probe sits in the transition) or inconclusive (the claim could not be evaluated) stops the
  bisection at that d: the interval is still the last decided probe on each side, and the
  outcome says where and why it stopped (`stopped`), rather than guessing a side.
* Both ends with the same decided verdict: no flip inside the range (`no flip`), no interval.
* The bisection assumes one flip in the range; a verdict that flips back and forth is not seen
  between probes. The probes are all reported, so a non-monotone pattern is visible.
* Scaling over d: the least-squares slope of log(boundary) on log d through the brackets'
  geometric midpoints, with the range of slopes the intervals allow (every choice of one end of
  each interval; the extremes are attained at the ends); with k values of d it is a k-point fit,
  and says so.

Errors (`BoundaryError`, before any run): a knob that is not a field of RunConfig, or a field that
is not a knob; a range that is malformed, empty, inverted, or outside the knob's allowed values;
a d outside RunConfig's range; a claim that is not per-run (ladders and families have no single
config to set a knob on); a regime that cannot build its config with the knob at either end.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lemmas.base import FAILS, HOLDS, THRESHOLDS, registry
from lemmas.hunt import slack
from lemmas.plain import sanitize
from lemmas.report import HLine, Panel, Scatter, VLine
from simulator.config import INT_RANGES, MAX_LABEL_NOISE, RunConfig

SCHEMA = "xorcert-boundary"
DECIDED = (HOLDS, FAILS)
PER_RUN_NEEDS = ("run", "gradient")  # claims whose example is one config the knob can be set on
STATUS_GROUP = {HOLDS: 2, FAILS: 4}  # the report's colour group of a probe's verdict (green, red; others grey)


class BoundaryError(ValueError):
    """A boundary request that cannot run (said before any simulation)."""


@dataclass(frozen=True)
class Knob:
    """A RunConfig field the bisection can move: its allowed values and how to bisect it."""

    name: str
    integer: bool  # integer knob (batch size, width): midpoints rounded, stops at adjacent integers
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool
    what: str

    def allowed(self) -> str:
        hi = "∞" if math.isinf(self.hi) else f"{self.hi:g}"
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {hi}{')' if self.hi_open else ']'}"

    def admits(self, x: float) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below and math.isfinite(x) and (not self.integer or float(x).is_integer())


_INF = math.inf
# Geometric bisection needs a positive range: a knob whose allowed values start at 0 (ρ, λ) is
# bisected over a range that excludes 0.
KNOBS = {
    k.name: k
    for k in (
        Knob("theta", False, 0.0, _INF, True, True, "init scale θ"),
        Knob("eta", False, 0.0, _INF, True, True, "step size η"),
        Knob("lr_ratio", False, 0.0, _INF, True, True, "second-layer step ratio r"),
        Knob("weight_decay", False, 0.0, _INF, True, True, "weight decay λ (> 0 for a geometric bisection)"),
        Knob("label_noise", False, 0.0, MAX_LABEL_NOISE, True, True, "label noise ρ"),
        Knob("finder_fraction", False, 0.0, 1.0, True, False, "share of finders (sparse_finders init)"),
        Knob("m", True, float(INT_RANGES["m"][0]), float(INT_RANGES["m"][1]), False, False, "batch size m"),
        Knob("p", True, float(INT_RANGES["p"][0]), float(INT_RANGES["p"][1]), False, False, "width p"),
    )
}


def knob(name: str) -> Knob:
    """The knob `name`; BoundaryError naming the knobs when it is none."""
    if name in KNOBS:
        return KNOBS[name]
    fields = set(RunConfig.__dataclass_fields__)
    known = ", ".join(f"{k.name} {k.allowed()}" for k in KNOBS.values())
    if name in fields:
        raise BoundaryError(f"--knob {name!r} is a RunConfig field but not a knob to bisect; the knobs are {known}")
    raise BoundaryError(f"--knob {name!r} is not a field of RunConfig; the knobs are {known}")


def parse_range(text: str, k: Knob) -> tuple[float, float]:
    """'LO:HI' → (lo, hi), checked against the knob's allowed values (BoundaryError otherwise)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise BoundaryError(f"--range {text!r}: must be LO:HI, e.g. 1e-3:1; {k.name} takes values in {k.allowed()}")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise BoundaryError(f"--range {text!r}: LO and HI must be numbers; {k.name} takes {k.allowed()}") from None
    return check_range(lo, hi, k)


def check_range(lo: float, hi: float, k: Knob) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise BoundaryError(f"range [{lo}, {hi}] of {k.name}: must be finite; allowed {k.allowed()}")
    if lo == hi:
        raise BoundaryError(f"range [{lo:g}, {hi:g}] of {k.name} is empty: LO must be < HI; allowed {k.allowed()}")
    if lo > hi:
        raise BoundaryError(f"range [{lo:g}, {hi:g}] of {k.name} is inverted: LO must be < HI; allowed {k.allowed()}")
    bad = [x for x in (lo, hi) if not k.admits(x)]
    if bad:
        what = "integers in" if k.integer else "values in"
        raise BoundaryError(
            f"range [{lo:g}, {hi:g}] of {k.name} ({k.what}): {', '.join(f'{x:g}' for x in bad)} outside the "
            f"allowed {what} {k.allowed()}"
        )
    if k.integer and hi - lo < 1:
        raise BoundaryError(f"range [{lo:g}, {hi:g}] of {k.name}: no two integers to bisect between")
    return (float(lo), float(hi))


# ---------------------------------------------------------------------------------------
# The bisection (pure: a probe function in, the probes and the bracket out)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One probe: the knob's value and the verdict there."""

    value: float
    status: str
    reason: str = ""
    seconds: float = 0.0
    slack: float | None = None  # lemmas.hunt.slack of the verdict (None: not measured)
    fail_rate: float | None = None
    failures: int | None = None  # failing seeds
    seeds: int | None = None  # evaluated seeds
    command: str = ""


@dataclass(frozen=True)
class Bracket:
    """The bisection at one d."""

    d: int
    probes: tuple[Probe, ...]
    outcome: str  # located | no flip | stopped | probe limit
    note: str
    low_status: str  # the decided verdict at the range's low end ('' when undecided there)
    high_status: str
    interval: tuple[float, float] | None  # last decided probe on the low side, on the high side

    @property
    def estimate(self) -> float | None:
        """The interval's geometric midpoint."""
        return math.sqrt(self.interval[0] * self.interval[1]) if self.interval else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["estimate"] = self.estimate
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bracket:
        probe_fields = set(Probe.__dataclass_fields__)
        iv = data.get("interval")
        return cls(
            int(data["d"]),
            tuple(Probe(**{k: v for k, v in p.items() if k in probe_fields}) for p in data.get("probes") or ()),
            str(data["outcome"]),
            str(data.get("note", "")),
            str(data.get("low_status", "")),
            str(data.get("high_status", "")),
            (float(iv[0]), float(iv[1])) if iv else None,
        )


def midpoint(a: float, b: float, integer: bool) -> float:
    """The geometric midpoint √(a·b); for an integer knob rounded and kept strictly inside (a, b)."""
    x = math.sqrt(a * b)
    return float(min(max(round(x), a + 1), b - 1)) if integer else x


def narrow(a: float, b: float, integer: bool, rel_tol: float) -> bool:
    """The bracket is narrow: b/a ≤ 1 + rel_tol, or (integer knob) adjacent integers."""
    return b / a <= 1 + rel_tol or (integer and b - a <= 1)


def probes_needed(lo: float, hi: float, rel_tol: float) -> int:
    """Probes of a geometric bisection of [lo, hi] that decides every probe: both ends, then
    ⌈log₂(log(hi/lo) / log(1 + rel_tol))⌉ midpoints."""
    return 2 + max(0, math.ceil(math.log2(math.log(hi / lo) / math.log1p(rel_tol))))


def bisect(
    probe: Callable[[float], Probe],
    lo: float,
    hi: float,
    *,
    d: int = 0,
    integer: bool = False,
    rel_tol: float = THRESHOLDS.boundary_rel_tol,
    max_probes: int = THRESHOLDS.boundary_max_probes,
) -> Bracket:
    """Bisect [lo, hi] for the value where `probe(x).status` flips (see the module's decisions)."""
    probes: list[Probe] = []

    def look(x: float) -> Probe:
        p = probe(x)
        probes.append(p)
        return p

    ends = [look(lo)]
    if ends[0].status in DECIDED:
        ends.append(look(hi))
    low, high = ends[0].status, ends[-1].status
    if len(ends) < 2 or high not in DECIDED:
        where = ends[-1]
        return Bracket(
            d,
            tuple(probes),
            "stopped",
            f"{where.status} at the range's end {where.value:g}: no side to bisect from",
            low if low in DECIDED else "",
            high if len(ends) == 2 and high in DECIDED else "",
            None,
        )
    if low == high:
        return Bracket(d, tuple(probes), "no flip", f"{low} at both ends: no flip in [{lo:g}, {hi:g}]", low, high, None)
    a, b = lo, hi
    outcome, note = "located", ""
    while not narrow(a, b, integer, rel_tol):
        if len(probes) >= max_probes:
            outcome, note = "probe limit", f"{max_probes} probes made before the bracket was narrow"
            break
        x = midpoint(a, b, integer)
        p = look(x)
        if p.status == low:
            a = x
        elif p.status == high:
            b = x
        else:
            outcome, note = "stopped", f"{p.status} at {x:g}: the transition lies around it, between the bracket's ends"
            break
    if outcome == "located":
        note = f"{low} at {a:g}, {high} at {b:g}" + (" (adjacent integers)" if b - a == 1 else f" (ratio {b / a:.3g})")
    return Bracket(d, tuple(probes), outcome, note, low, high, (a, b))


# ---------------------------------------------------------------------------------------
# Scaling over d
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaling:
    """log(boundary) = slope·log d + intercept through the brackets' midpoints."""

    slope: float
    intercept: float
    slope_range: tuple[float, float]  # over every choice of one end of each interval
    ds: tuple[int, ...]
    note: str


def fit_scaling(brackets: Sequence[Bracket]) -> Scaling | None:
    """The log-log fit over the brackets with an interval; None with fewer than two of them."""
    usable = [(b.d, b.interval) for b in brackets if b.interval is not None]
    if len({d for d, _ in usable}) < 2:
        return None
    x = np.log([d for d, _ in usable])
    y = np.log([math.sqrt(lo * hi) for _, (lo, hi) in usable])
    slope, intercept = np.polyfit(x, y, 1)
    slopes = [float(np.polyfit(x, np.log(choice), 1)[0]) for choice in itertools.product(*(iv for _, iv in usable))]
    n = len(usable)
    note = f"{n}-point fit" + (" (a line through two points: no check of the power law)" if n == 2 else "")
    return Scaling(float(slope), float(intercept), (min(slopes), max(slopes)), tuple(d for d, _ in usable), note)


# ---------------------------------------------------------------------------------------
# The real thing: a claim, a regime, a knob, several d
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    claim: str
    regime: str
    knob: str
    range: tuple[float, float]
    seeds: int
    seed: int
    width: int
    batch: str
    rel_tol: float
    max_probes: int
    brackets: tuple[Bracket, ...]
    scaling: Scaling | None
    command: str = ""
    seconds: float = 0.0
    series: dict[str, Panel] = field(default_factory=dict)

    @property
    def located(self) -> bool:
        return all(b.outcome == "located" for b in self.brackets)

    def to_dict(self) -> dict[str, Any]:
        return sanitize(
            {
                "schema": SCHEMA,
                "claim": self.claim,
                "regime": self.regime,
                "knob": self.knob,
                "range": list(self.range),
                "seeds": self.seeds,
                "seed": self.seed,
                "width": self.width,
                "batch": self.batch,
                "rel_tol": self.rel_tol,
                "max_probes": self.max_probes,
                "brackets": [b.to_dict() for b in self.brackets],
                "scaling": asdict(self.scaling) if self.scaling else None,
                "command": self.command,
                "seconds": self.seconds,
                "series": {name: p.to_dict() for name, p in self.series.items()},
            }
        )

    def describe(self) -> list[str]:
        lines = [f"{self.claim} in {self.regime} against {self.knob} over [{self.range[0]:g}, {self.range[1]:g}]:"]
        for b in self.brackets:
            where = f"[{b.interval[0]:.4g}, {b.interval[1]:.4g}]" if b.interval else "no interval"
            lines.append(f"  d={b.d}: {b.outcome}, {where} ({b.note}; {len(b.probes)} probes)")
        if self.scaling:
            s = self.scaling
            lines.append(
                f"  scaling: boundary ∝ d^{s.slope:.3g} (slopes the intervals allow: "
                f"[{s.slope_range[0]:.3g}, {s.slope_range[1]:.3g}]; {s.note})"
            )
        return lines


# What must agree for two boundary files to be one measurement at several d.
IDENTITY = ("schema", "claim", "regime", "knob", "range", "seeds", "seed", "width", "batch", "rel_tol", "max_probes")


def merged(new: Boundary, old: Mapping[str, Any] | None) -> dict[str, Any]:
    """`new` as JSON, with the brackets of an earlier file of the same measurement (`IDENTITY`) at the d it
    did not run, and the scaling refitted over all of them; `new` alone when `old` is another measurement.
    So the d of one boundary can be run in several commands (each within a time limit)."""
    out = new.to_dict()
    if not old or any(old.get(k) != out.get(k) for k in IDENTITY):
        return out
    ran = {b.d for b in new.brackets}
    kept = [Bracket.from_dict(b) for b in old.get("brackets") or [] if int(b.get("d", -1)) not in ran]
    brackets = sorted([*kept, *new.brackets], key=lambda b: b.d)
    scaling = fit_scaling(brackets)
    series = {**(old.get("series") or {}), **out["series"]}
    out.update(
        brackets=[b.to_dict() for b in brackets],
        scaling=asdict(scaling) if scaling else None,
        series={f"d={b.d}": series[f"d={b.d}"] for b in brackets if f"d={b.d}" in series},
        seconds=float(old.get("seconds") or 0.0) + new.seconds,
        command="\n".join(dict.fromkeys([*str(old.get("command", "")).splitlines(), new.command])),
    )
    return sanitize(out)


def check_request(
    claim_id: str, regime: str, knob_name: str, lo: float, hi: float, ds: Sequence[int], width: int, batch: str
) -> Knob:
    """Every check of the module docstring's Errors, before any run; the knob."""
    from lemmas.plan import Example, base_config
    from simulator import registered_regimes

    claims = registry()
    if claim_id not in claims:
        raise BoundaryError(f"claim {claim_id!r} is not registered; the claims are {', '.join(claims)}")
    if claims[claim_id].needs not in PER_RUN_NEEDS:
        raise BoundaryError(
            f"claim {claim_id} reads {claims[claim_id].needs!r} (several configs per example): a boundary is located "
            f"for a per-run claim ({', '.join(c for c, cl in claims.items() if cl.needs in PER_RUN_NEEDS)})"
        )
    if regime not in registered_regimes():
        raise BoundaryError(f"--regime {regime!r} is not registered; the regimes are {', '.join(registered_regimes())}")
    k = knob(knob_name)
    check_range(lo, hi, k)
    if not ds:
        raise BoundaryError("--d: give at least one dimension")
    d_lo, d_hi = INT_RANGES["d"]
    for d in ds:
        if isinstance(d, bool) or not isinstance(d, int) or not d_lo <= d <= d_hi:
            raise BoundaryError(f"--d {d!r}: must be an integer in [{d_lo}, {d_hi}]")
    if len(set(ds)) != len(ds):
        raise BoundaryError(f"--d {list(ds)}: each dimension once")
    if width < 1:
        raise BoundaryError(f"--width {width}: must be an integer ≥ 1")
    for d in ds:
        for x in (lo, hi):
            ex = Example(regime, d, width, batch=batch, overrides=((k.name, _value(k, x)),))
            try:
                base_config(ex)
            except (ValueError, TypeError) as e:
                raise BoundaryError(f"{ex.describe()}: {e}") from e
    return k


def _value(k: Knob, x: float) -> float | int:
    return int(round(x)) if k.integer else float(x)


def locate(
    claim_id: str,
    regime: str,
    knob_name: str,
    knob_range: tuple[float, float],
    ds: Sequence[int],
    *,
    seeds: int = 8,
    seed: int = 0,
    width: int = 1,
    batch: str = "",
    get: Any = None,
    rel_tol: float = THRESHOLDS.boundary_rel_tol,
    max_probes: int = THRESHOLDS.boundary_max_probes,
    progress: Callable[[str], None] | None = None,
    command: str = "",
) -> Boundary:
    """Bisect the knob at every d (module docstring); `get` as `lemmas.plan.certify`'s cache."""
    from dataclasses import replace

    from lemmas.plan import Example, evaluate, getter, regime_imports

    lo, hi = knob_range
    k = check_request(claim_id, regime, knob_name, lo, hi, ds, width, batch)
    if seeds < 1:
        raise BoundaryError(f"--seeds {seeds}: must be an integer ≥ 1")
    if max_probes < 2:
        raise BoundaryError(f"max_probes = {max_probes}: must be ≥ 2 (both ends of the range)")
    if not rel_tol > 0:
        raise BoundaryError(f"rel_tol = {rel_tol}: must be > 0")
    claim, fetch, imports = registry()[claim_id], getter(get), regime_imports(regime)
    t_all = time.perf_counter()
    brackets = []
    for d in ds:
        base = Example(regime, d, width, seed, seeds, batch)

        def probe(x: float, base: Example = base, d: int = d) -> Probe:
            ex = replace(base, overrides=((k.name, _value(k, x)),))
            t0 = time.perf_counter()
            v = evaluate(claim, ex, fetch)
            p = Probe(
                float(x),
                v.status,
                v.reason,
                time.perf_counter() - t0,
                slack(claim, v),
                _num(v.stats.get("fail_rate")),
                _int(v.stats.get("seeds_failing")),
                _int(v.stats.get("seeds_evaluated")),
                ex.command(claim_id, imports),
            )
            if progress:
                progress(
                    f"boundary {claim_id} {regime} d={d}: {k.name}={x:.4g} → {p.status}"
                    + (f" ({p.failures}/{p.seeds} seeds fail)" if p.failures is not None else "")
                    + f" in {p.seconds:.1f} s"
                )
            return p

        brackets.append(bisect(probe, lo, hi, d=d, integer=k.integer, rel_tol=rel_tol, max_probes=max_probes))
    return Boundary(
        claim_id,
        regime,
        k.name,
        (lo, hi),
        seeds,
        seed,
        width,
        batch,
        rel_tol,
        max_probes,
        tuple(brackets),
        fit_scaling(brackets),
        command,
        time.perf_counter() - t_all,
        {f"d={b.d}": verdict_panel(claim_id, regime, k, b) for b in brackets},
    )


def verdict_panel(claim_id: str, regime: str, k: Knob, b: Bracket) -> Panel:
    """The report's plot of one bracket: each probe's slack against the knob, one mark per verdict, the
    interval's ends marked."""
    marks: list[Any] = [HLine(0.0, label="threshold (slack 0)", role="threshold")]
    for status in dict.fromkeys(p.status for p in b.probes):
        ps = [p for p in b.probes if p.status == status]
        ys = [p.slack if p.slack is not None else math.nan for p in ps]
        marks.append(Scatter([p.value for p in ps], ys, label=status, group=STATUS_GROUP.get(status, 7)))
    if b.interval:
        marks.append(VLine(b.interval[0], label=f"bracket [{b.interval[0]:.4g}, {b.interval[1]:.4g}]"))
        marks.append(VLine(b.interval[1]))
    return Panel(
        f"{claim_id} in {regime}, d={b.d}: verdict against {k.name} ({b.outcome})",
        marks,
        x_label=f"{k.name} ({k.what})",
        y_label="slack of the key statistic (< 0: violated)",
        x_scale="log",
        y_scale="linear",
    )


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _int(v: Any) -> int | None:
    f = _num(v)
    return int(f) if f is not None else None
