"""Trend verdicts: does a claim's violation vanish as d grows (the paper's o(1) reading)?

A claim with an o(1) reading declares a violation statistic (`Claim.violation`: per seed, the
quantity its check compares with ζ(d)). Given that statistic per seed at each d of a d-ladder,
`fit_trend` fits log(median over seeds) = a + b·log d by least squares, takes a percentile
bootstrap interval of the slope b over seeds (`lemmas.base.bootstrap_interval`; the seed index r
is resampled jointly on every rung, so the R runs of a resample are the same seeds at each d), and
decides (docs/SPEC.md §3.20):

* **vanishes**: the interval's upper end is < -`trend_min_slope` (the violation shrinks like a
  power of d; a flatter power is read as none);
* **persists**: otherwise, with the median at the largest fitted d above ζ(d) there (not shown to
  shrink, and still a violation), or a median of ∞ at the largest d;
* **undecided**: otherwise — the slope is not shown negative but the median is already within ζ(d)
  at the largest d, or fewer than `trend_min_rungs` rungs have a finite median.

It also reports the fitted exponent b, its interval, and the extrapolated crossing: the least
d ≥ 2 from which the fitted median a·d^b stays ≤ ζ(d) = 1/log d for every larger d (∞ when it
never does, i.e. b ≥ 0).

`trend_item` runs it through the plan: the statistic at each d is read from the same runs the
per-run verdicts read (`lemmas.plan.claim_trajectory`), so they share the cache.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import brentq

from lemmas.base import THRESHOLDS, Claim, Thresholds, bootstrap_interval
from lemmas.plain import sanitize
from lemmas.report import Curve, Panel, Scatter
from simulator.config import zeta

VANISHES, PERSISTS, UNDECIDED = "vanishes", "persists", "undecided"
TREND_STATUSES = (VANISHES, PERSISTS, UNDECIDED)


@dataclass
class TrendVerdict:
    """The trend of one claim's violation over a d-ladder in one regime. Its statuses are
    TREND_STATUSES (not a per-example Verdict's)."""

    claim: str
    regime: str
    status: str
    reason: str
    ds: list[int]
    tolerance: list[float]  # ζ(d) per rung
    median: list[float]  # median over the evaluable seeds per rung (NaN where too few)
    per_seed: list[list[float]]  # the statistic per rung, per seed (NaN: unevaluable)
    exponent: float = math.nan  # fitted slope b of log median against log d
    exponent_lo: float = math.nan
    exponent_hi: float = math.nan
    intercept: float = math.nan  # a: log median ≈ a + b log d
    crossing_d: float = math.nan  # least d from which the fit stays ≤ ζ(d); ∞: never; NaN: no fit
    clause: str = ""
    thresholds: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in TREND_STATUSES:
            raise ValueError(f"TrendVerdict.status = {self.status!r}: must be one of {TREND_STATUSES}")

    def fitted(self, d: np.ndarray | float) -> np.ndarray:
        """The fitted median exp(a)·d^b."""
        return np.exp(self.intercept + self.exponent * np.log(np.asarray(d, dtype=np.float64)))

    def summary(self) -> str:
        """One line, e.g. 'violation ∝ d^-0.90 [-1.2, -0.6]: vanishes (fit ≤ ζ(d) from d ≈ 80)'."""
        if math.isnan(self.exponent):
            return f"trend {self.status}: {self.reason}"
        cross = "never" if math.isinf(self.crossing_d) else f"from d ≈ {self.crossing_d:.3g}"
        return (
            f"violation ∝ d^{self.exponent:.2f} [{self.exponent_lo:.2f}, {self.exponent_hi:.2f}]: {self.status} "
            f"(fit ≤ ζ(d) {cross})"
        )

    def panel(self) -> Panel:
        """The trend drawn: every seed's statistic and the median against d (log-log), the fit and ζ(d)."""
        ds = np.asarray(self.ds, dtype=np.float64)
        vals = np.asarray(self.per_seed, dtype=np.float64)  # (rungs, R)
        xs, ys = np.broadcast_to(ds[:, None], vals.shape), vals
        keep = np.isfinite(ys) & (ys > 0)  # a log axis: 0 and ∞ are stated in the reason, not drawn
        # the fit is drawn over the ladder, and on to the crossing when that lies within 16× of the largest d
        end = self.crossing_d if ds[-1] < self.crossing_d <= 16 * ds[-1] else ds[-1]
        grid = np.geomspace(ds[0], end, 40)
        marks: list[Any] = [
            Scatter(xs[keep].tolist(), ys[keep].tolist(), "seeds"),
            Curve(ds.tolist(), list(self.median), "median over seeds", "median", markers=True),
            Curve(grid.tolist(), (1.0 / np.log(grid)).tolist(), "ζ(d) = 1/log d", "threshold"),
        ]
        if not math.isnan(self.exponent):
            label = f"fit: d^{self.exponent:.2f} [{self.exponent_lo:.2f}, {self.exponent_hi:.2f}]"
            marks.insert(2, Curve(grid.tolist(), self.fitted(grid).tolist(), label, "fit"))
        return Panel(
            f"{self.claim} {self.regime}: violation against d — {self.status}",
            marks,
            "d",
            f"violation statistic ({self.clause})" if self.clause else "violation statistic",
            x_scale="log2",
            y_scale="log",
        )

    def cell(self, per_d: Mapping[int, str] | None = None) -> str:
        """The matrix cell: the per-d statuses, then the trend, e.g. 'C4 paper: fails d = 64, holds d = 128;
        violation ∝ d^-0.90 [-1.20, -0.60]: vanishes (…)'."""
        head = f"{self.claim} {self.regime}: "
        if per_d:
            head += ", ".join(f"{s} d = {d}" for d, s in sorted(per_d.items())) + "; "
        return head + self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Builtin types; `series` holds the trend's panel, so a report draws it like a verdict's."""
        out = sanitize(asdict(self))
        out["series"] = {"trend": self.panel().to_dict()}
        return out


def _check_ladder(ds: Sequence[int], min_rungs: int) -> None:
    if len(ds) < min_rungs:
        raise ValueError(f"a trend needs a d-ladder of at least trend_min_rungs = {min_rungs} rungs; got {list(ds)}")
    if any(int(d) < 2 for d in ds):
        raise ValueError(f"every d of a trend's ladder must be ≥ 2 (ζ(d) = 1/log d); got {list(ds)}")
    if any(b <= a for a, b in zip(ds, ds[1:], strict=False)):
        raise ValueError(f"a trend's d-ladder must be strictly increasing; got {list(ds)}")


def _medians(values: np.ndarray, max_unevaluable: float) -> np.ndarray:
    """Median over the evaluable seeds per rung (rungs, R) -> (rungs,); NaN where more than
    `max_unevaluable` of the seeds are NaN."""
    ok = ~np.isnan(values)
    out = np.full(values.shape[0], np.nan)
    for k in range(values.shape[0]):
        if ok[k].any() and (~ok[k]).sum() <= max_unevaluable * values.shape[1]:
            out[k] = float(np.median(values[k, ok[k]]))
    return out


def _fit(logd: np.ndarray, med: np.ndarray, floor: float, min_rungs: int) -> tuple[float, float]:
    """(slope, intercept) of log max(med, floor) against log d over the rungs with a finite median; NaN
    with fewer than min_rungs of them."""
    sel = np.isfinite(med)
    if sel.sum() < min_rungs:
        return math.nan, math.nan
    y = np.log(np.maximum(med[sel], floor))
    b, a = np.polyfit(logd[sel], y, 1)
    return float(b), float(a)


def crossing_d(intercept: float, exponent: float) -> float:
    """The least d ≥ 2 from which exp(a)·d^b ≤ ζ(d) = 1/log d for every larger d; ∞ when no such d
    (b ≥ 0: log(fit·log d) = a + b x + log x, x = log d, grows without bound). NaN without a fit."""
    a, b = intercept, exponent
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if b >= 0:
        return math.inf

    def g(x: float) -> float:  # log(fit/ζ) at x = log d; concave, maximal at x = -1/b
        return a + b * x + math.log(x)

    x0 = max(math.log(2.0), -1.0 / b)
    if g(x0) <= 0:  # g's largest value on [log 2, ∞) is g(x0): the fit is ≤ ζ from d = 2 on
        return 2.0
    hi = 2.0 * x0
    while g(hi) > 0:
        hi *= 2.0
    x = brentq(g, x0, hi, xtol=1e-12, rtol=1e-12)
    return math.exp(x) if x < 709 else math.inf


def fit_trend(
    stats: Mapping[int, Sequence[float] | np.ndarray],
    *,
    claim: str = "",
    regime: str = "",
    clause: str = "",
    thresholds: Thresholds = THRESHOLDS,
) -> TrendVerdict:
    """The trend verdict of per-seed violation statistics `stats`: d -> (R,) (NaN: unevaluable),
    every rung with the same seeds (index r is seed r on every rung). See the module docstring."""
    ds = [int(d) for d in stats]
    _check_ladder(ds, thresholds.trend_min_rungs)
    rows = [np.asarray(stats[d], dtype=np.float64).ravel() for d in ds]
    if len({len(r) for r in rows}) != 1 or len(rows[0]) == 0:
        raise ValueError(f"every rung needs the same, non-zero number of seeds; got {[len(r) for r in rows]}")
    values = np.stack(rows)  # (rungs, R)
    if (values[~np.isnan(values)] < 0).any():
        raise ValueError("a violation statistic is ≥ 0 (a distance to the claim's ideal); got a negative value")
    n_seeds = values.shape[1]
    logd = np.log(np.asarray(ds, dtype=np.float64))
    tol = [zeta(d) for d in ds]
    med = _medians(values, thresholds.max_unevaluable)
    floor, k_min = thresholds.trend_floor, thresholds.trend_min_rungs
    b, a = _fit(logd, med, floor, k_min)
    base = TrendVerdict(
        claim,
        regime,
        UNDECIDED,
        "",
        ds,
        tol,
        med.tolist(),
        values.tolist(),
        clause=clause,
        thresholds={
            "zeta": "1/log(d)",
            "confidence": thresholds.confidence,
            "trend_resamples": thresholds.trend_resamples,
            "trend_min_rungs": k_min,
            "trend_floor": floor,
            "trend_min_slope": thresholds.trend_min_slope,
            "max_unevaluable": thresholds.max_unevaluable,
        },
    )
    finite = np.isfinite(med)
    if np.isinf(med[-1]):
        return replace(base, status=PERSISTS, reason=f"the median violation is ∞ at the largest d = {ds[-1]}")
    if math.isnan(b):
        why = f"{int(finite.sum())} rung(s) with a finite median (need {k_min})"
        return replace(base, reason=why)

    def slope(idx: np.ndarray) -> float:
        return _fit(logd, _medians(values[:, idx], thresholds.max_unevaluable), floor, k_min)[0]

    lo, hi, _ = bootstrap_slope(slope, n_seeds, thresholds)
    top = int(np.flatnonzero(finite)[-1])
    fit = replace(base, exponent=b, exponent_lo=lo, exponent_hi=hi, intercept=a, crossing_d=crossing_d(a, b))
    interval = f"slope {b:.3g}, {int(thresholds.confidence * 100)}% interval [{lo:.3g}, {hi:.3g}]"
    flat = thresholds.trend_min_slope
    if hi < -flat:
        return replace(fit, status=VANISHES, reason=f"{interval}: upper end < -{flat:g}")
    if math.isnan(hi):
        return replace(fit, reason=f"{interval}: the slope is undefined on the resamples")
    at_top = f"median {med[top]:.3g} vs ζ = {tol[top]:.3g} at d = {ds[top]}"
    if med[top] > tol[top]:
        return replace(fit, status=PERSISTS, reason=f"{interval}: upper end ≥ -{flat:g}; {at_top}: above tolerance")
    return replace(fit, reason=f"{interval}: upper end ≥ -{flat:g}, but {at_top}: already within tolerance")


def bootstrap_slope(statistic: Any, n: int, thresholds: Thresholds) -> tuple[float, float, float]:
    """(lo, hi, share undefined) of the slope's percentile bootstrap interval over n seeds."""
    lo, hi, und = bootstrap_interval(
        statistic, n, thresholds.trend_resamples, thresholds.confidence, thresholds.bootstrap_seed
    )
    return float(lo), float(hi), float(und)


# ---------------------------------------------------------------------------------------
# Through the plan: the same runs as the per-run verdicts
# ---------------------------------------------------------------------------------------


def trend_item(claim: Claim, regime: str, ladder: Sequence[int], seeds: int, get: Any, seed: int = 0) -> TrendVerdict:
    """The trend verdict of `claim` in `regime` over `ladder`: at each d, the claim's violation statistic
    on the run its per-run verdict reads at that d (`lemmas.plan.claim_trajectory` of
    `Example(regime, d, seeds=seeds, seed=seed)`, through `get`)."""
    from lemmas.plan import Example, base_config, claim_trajectory
    from simulator.cache import gather

    violation = claim.violation
    if violation is None:
        raise ValueError(f"claim {claim.id} has no violation statistic (Claim.violation): no trend reading")
    _check_ladder(list(ladder), THRESHOLDS.trend_min_rungs)
    examples = {int(d): Example(regime, d=int(d), seeds=seeds, seed=seed) for d in ladder}
    for ex in examples.values():
        why = claim.applies(base_config(ex))
        if why is not None:
            raise ValueError(f"claim {claim.id} is not defined in regime {regime!r}: {why}")
    # a read-only getter's misses: every rung's are named at once
    stats = gather(lambda ex: violation(claim_trajectory(claim, ex, get)), examples)
    return fit_trend(stats, claim=claim.id, regime=regime, clause=claim.violation_clause)


def trend_claims() -> list[Claim]:
    """The registered claims with a violation statistic (an o(1) reading), in claim order."""
    from lemmas.base import registry

    return [c for c in registry().values() if c.violation is not None]


def profile_trends(
    profile_name: str, get: Any, claims: Sequence[str] = (), regimes: Sequence[str] = ()
) -> list[TrendVerdict]:
    """Every trend item of a profile (`Profile.trend_ladder` × `trend_regimes` × the claims with a violation
    statistic, narrowed to `claims` / `regimes` when given), with the profile's seeds per run."""
    from lemmas.plan import profile

    prof = profile(profile_name)
    chosen = [c for c in trend_claims() if not claims or c.id in claims]
    unknown = sorted(set(claims) - {c.id for c in chosen})
    if unknown:
        raise ValueError(f"no trend reading for {unknown}: the claims with one are {[c.id for c in trend_claims()]}")
    bad = sorted(set(regimes) - set(prof.trend_regimes))
    if bad:
        raise ValueError(f"regimes {bad} have no trend items in profile {prof.name!r}: {list(prof.trend_regimes)}")
    return [
        trend_item(c, r, prof.trend_ladder, prof.seeds, get)
        for r in prof.trend_regimes
        if not regimes or r in regimes
        for c in chosen
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lemmas.trends --profile quick [--claim C4]… [--regime paper]… [--json FILE]`: run the
    profile's trend items through the trajectory cache ($XORCERT_CACHE) and print one cell per item."""
    import argparse
    import json
    import time

    from lemmas.plan import getter

    ap = argparse.ArgumentParser(prog="python -m lemmas.trends", description=main.__doc__)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--claim", action="append", default=[], help="claim id (repeatable; default: every trend claim)")
    ap.add_argument("--regime", action="append", default=[], help="regime (repeatable; default: the profile's)")
    ap.add_argument("--json", default=None, metavar="FILE", help="write the trend records here")
    args = ap.parse_args(argv)
    get = getter()
    records = []
    t0 = time.perf_counter()
    for tv in profile_trends(args.profile, get, args.claim, args.regime):
        print(tv.cell(), f"[{time.perf_counter() - t0:.0f} s]", flush=True)
        records.append(tv.to_dict())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
