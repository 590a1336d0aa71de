"""Claims, verdicts, the thresholds (the one place they live) and the registry.

A claim module (`c01_…` … `c15_…`) exports `CLAIM: Claim` whose `check` is a pure
function of trajectories (no pytest, no plotting, no simulation) returning a `Verdict`.

What a claim reads is declared in its `Claim` record:

* `needs = "run"`: one `Trajectory` (all seeds of one example) whose config carries
  the coupled `variants` the claim lists, named for the logistic loss (C1 reads the `linear`
  proxy, C8 `frozen_a`); lemmas.plan runs the main run's own twins of the same loss
  (`simulator.config.proxy_variant`, `frozen_variant`);
* `needs = "ladder"`: a mapping d → `Trajectory` over a d-ladder (C2 band, C10, C11);
* `needs = "gradient"`: the t = 0 gradient statistics at several batch sizes and the regime's own
  run over phase one (C7);
* `needs = "batch_grid"`: per d, per batch size m, a `Trajectory` (Q1);
* `needs = "width_family"` / `"eta_family"`: a mapping k → `Trajectory` at one d, the run with width
  p = ⌈k·⌈1/ψ⌉⌉ / step size k·η (horizon T/k) (C14, C15).

"With high probability" is one shared rule, `whp`: a claim holds on an example when
the number of failing seeds is within what a failure rate δ = 0.1 allows at 95%
confidence (one-sided binomial test), docs/SPEC.md §3.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy.stats import DegenerateDataWarning, binom, binomtest, bootstrap

from lemmas.plain import FAILS, HOLDS, INCONCLUSIVE, STATUSES, sanitize
from lemmas.plain import UNDECIDED as UNDECIDED  # re-exported: the sequential rule's status
from lemmas.report import KeyStat, Panel
from simulator.config import zeta

# STATUSES (lemmas.plain): undecided: the sequential rule (lemmas.sequential) reached its seed cap
# between its boundaries; inconclusive: the claim could not be evaluated (or is not defined) on the example.


@dataclass(frozen=True)
class Thresholds:
    """Every constant of docs/SPEC.md §3 in one table. Changing one is a change of the specification."""

    delta: float = 0.1  # tolerated failure rate of a w.h.p. claim
    confidence: float = 0.95  # confidence of the binomial rule and of intervals
    bootstrap_seed: int = 0  # RNG seed of every reported bootstrap interval (reproducible)
    max_unevaluable: float = 0.5  # more seeds than this share unevaluable -> inconclusive
    # The sequential rule (lemmas.sequential) that decides a w.h.p. claim on an example: an SPRT between
    # the failure rates seq_delta0 (holds) and seq_delta1 (fails) around delta, looked at from the fewest
    # seeds that can decide 'holds' on and after every further batch of seq_batch seeds (a batch is one
    # batched engine computation), undecided at seq_cap seeds.
    seq_delta0: float = 0.05  # failure rate the rule should call 'holds'
    seq_delta1: float = 0.25  # failure rate the rule should call 'fails'
    seq_alpha: float = 0.05  # bound on P(fails) at seq_delta0
    seq_beta: float = 0.05  # bound on P(holds) at seq_delta1
    seq_batch: int = 8  # seeds per evaluation
    seq_cap: int = 64  # most seeds; still between the boundaries there -> undecided
    seq_family_alpha: float = 0.05  # Holm's family-wise error over a run's decisions (reports.certificate)
    # Located boundaries (lemmas.boundary): a geometric bisection on a knob stops when the bracket's
    # ends are within this ratio - 1 of each other (adjacent integers for an integer knob), or after
    # this many probes per d (both ends of the range included).
    boundary_rel_tol: float = 0.1
    boundary_max_probes: int = 12
    # Every ζ-tolerance of docs/SPEC.md (C1 ≤ ζ, S ≥ 1-ζ, C4 ≤ ζ, C5 1+ζ, C2 1±ζ and share ≥ 1-ζ,
    # C6 ≤ ζ) is ζ(d) = 1/log d itself: see `zeta` below.
    # C1
    c1_proxy_window: float = 4.0  # the coupled proxy run lasts this many linearized T1 predictions
    # C2
    c2_min_window: int = 10  # steps a neuron needs at initial size for a rate fit
    c2_t1_band: tuple[float, float] = (0.5, 1.5)  # measured T1 / linearized prediction
    c2_min_fit_share: float = 0.5  # C2 'median over neurons': at least this share of the neurons fitted, else na
    # C4
    # Phase two of C4 starts at the first step where the network is signal-heavy at this share of ζ
    # (S_t ≥ 1 - fζ with the per-neuron test at fζ): C4's tolerance ζ is then 1/f times the hypothesis'.
    c4_hypothesis_factor: float = 0.5
    # C4's test set is read at every step of the run's first c4_every_step_window linearized T1
    # predictions (a prefix run, lemmas.plan.every_step_prefix), where T1 and the phase-two start lie.
    c4_every_step_window: float = 3.0
    # C6
    c6_identity_rtol: Mapping[str, float] = field(default_factory=lambda: {"float32": 1e-4, "float64": 1e-10})
    # C7
    c7_ratio_max: float = 1.0  # median noise/drift at the regime's batch, at t = 0 and at every step of phase one
    c7_min_d: int = 64  # the claim is stated for d ≥ 64
    c7_batch_gain: float = 2.0  # noise/drift at m = d is at least this many times that at m = ⌈d/ψ⌉
    c7_drift_batch_factor: int = 64  # the drift is estimated on an independent batch of ≥ 64·m samples
    c7_bootstrap: int = 1000  # bootstrap resamples over seeds (C7 reports an interval)
    # C8
    c8_spearman_max: float = -0.5
    c8_finder_mass: float = 0.5  # finders' share of the output mass at T (sparse_finders)
    c8_finder_uniform_factor: float = 3.0  # … and at least 3× their uniform share
    c8_frozen_uniform_factor: float = 2.0  # in the frozen-a coupled run: less than 2× their uniform share
    # C9
    eps: float = 0.01  # target 0-1 error
    c9_min_test: int = 20_000
    # C10 (the theorem's algorithm: n = m·T_ε at m = ⌈d/ψ⌉, on the C2/C11 ladder runs)
    c10_exponent_band: tuple[float, float] = (-0.5, 0.5)  # residual exponent β: n/(d·log^k d) ∝ d^β, k = 2C+1
    c10_min_span: float = 16.0  # the d-ladder spans at least 16×
    c10_min_seeds: int = 8  # fewer seeds: a bootstrap over seeds too coarse for an interval (inconclusive)
    c10_bootstrap: int = 1000  # resamples of β's bootstrap interval over seeds
    # Q1 (open question 1: the least sample count over a grid of batch sizes, lemmas/plan.py::q1_grid)
    q1_slope: tuple[float, float] = (1.0, 1.7)  # band of the log-log slope of n*(d) = min_m m·T_ε
    q1_min_span: float = 16.0  # the d-ladder spans at least 16×
    q1_time_resolution: float = 0.01  # T_ε resolution ≤ 1% of the horizon
    q1_bootstrap: int = 1000  # resamples of the slope's bootstrap interval over seeds
    q1_test_size: int = 4000  # test points of a grid run: T_ε is a crossing of ε, not a certificate (C9's job)
    q1_max_horizon: int = 4  # a grid run lasts at most this many paper horizons T (in steps)
    # C11: each phase length, normalized by its predicted d-dependence, grows like (log d)^k; k fitted per
    # seed over the ladder, its t-interval over seeds (at `confidence`) must lie inside this band (halfway
    # to the neighbouring powers ±1 of log d), fails wholly outside it
    c11_exponent_band: tuple[float, float] = (-0.5, 0.5)
    # C12
    c12_loss_exponent: float = 1.0  # c: the population loss must drop below (log d)^-c (c = 1: ζ(d))
    c12_time_constant: float = 12.0  # C: … at some step t ≤ ⌈C·log d/η⌉ (= κ, so t_max = T in the paper regime)
    # C13
    c13_negligible_mass: float = 1.0  # negligible neurons: the lightest ones whose shares sum to ≤ this × ζ
    c13_window_S: float = 0.5  # C13's window opens at the first step with S_t ≥ 1 - this × ζ (after T1's transient)
    # C14, C15: families of runs at one d (lemmas.families)
    family_claims: tuple[str, ...] = ("C3", "C4", "C5", "C6", "C9", "C12", "C13")  # compared on every member
    c14_widths: tuple[float, ...] = (1.0, 2.0, 4.0)  # p = ⌈k·⌈1/ψ⌉⌉ inside the theorem's range (first: reference)
    c14_widths_below: tuple[float, ...] = (0.5, 0.25)  # below p ≥ 1/ψ: reported, nearest first
    c15_etas: tuple[float, ...] = (1.0, 0.5, 0.25)  # η = k·ψ inside d^-C ≤ η ≤ ψ, horizon T/k (first: reference)
    c15_etas_outside: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # η above ψ: reported, nearest first
    # Trend verdicts (lemmas.trends, docs/SPEC.md §3.20): the median over seeds of a claim's violation
    # statistic is fitted against d on log-log axes; its slope's bootstrap interval over seeds (at
    # `confidence`) decides vanishes (upper end < -trend_min_slope) / persists / undecided.
    trend_resamples: int = 1000  # bootstrap resamples of the slope
    trend_min_rungs: int = 3  # fewer rungs with a finite median: undecided (a line through 2 points has no spread)
    trend_floor: float = 1e-12  # a median below this (a violation of exactly 0) is read as this on the log axis
    # vanishes needs the slope's upper end < -trend_min_slope: a flatter power (d^-0.05 shrinks by < 20% over
    # a 32× ladder) is no evidence of vanishing, and rounding of a constant statistic gives slopes ~ -1e-16
    trend_min_slope: float = 0.05

    @staticmethod
    def zeta(d: int) -> float:
        """ζ(d) = 1/log d (docs/SPEC.md §2; defined once, in simulator.config)."""
        return zeta(d)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["c6_identity_rtol"] = dict(self.c6_identity_rtol)
        out["zeta"] = "1/log(d)"
        return out


THRESHOLDS = Thresholds()


@dataclass
class Verdict:
    """The outcome of one claim on one example. Everything in it is builtin-serialisable via to_dict;
    `series` maps a name to a report panel (lemmas.report)."""

    claim: str
    status: str
    reason: str
    stats: dict[str, float] = field(default_factory=dict)  # the measured statistics
    thresholds: dict[str, Any] = field(default_factory=dict)  # what they were compared with
    per_seed: list[dict[str, Any]] = field(default_factory=list)  # seed, outcome ('pass'/'fail'/'na'), values
    series: dict[str, Panel] = field(default_factory=dict)  # the report's plots
    # The w.h.p. statement the per-seed outcomes test (`verdict_from_seeds`): the plan then decides the
    # example sequentially over batches of seeds (lemmas.sequential). None: a verdict of another rule.
    whp: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Verdict.status = {self.status!r}: must be one of {STATUSES}")

    @property
    def holds(self) -> bool:
        return self.status == HOLDS

    def summary(self) -> str:
        """One line: status, reason, and the statistics against their thresholds."""
        stats = ", ".join(f"{k}={_fmt(v)}" for k, v in self.stats.items())
        thr = ", ".join(f"{k}={_fmt(v)}" for k, v in self.thresholds.items())
        return f"{self.claim} {self.status}: {self.reason} [measured: {stats}] [thresholds: {thr}]"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, series={}))
        out["series"] = {name: panel.to_dict() for name, panel in self.series.items()}
        return sanitize(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# ---------------------------------------------------------------------------------------
# The shared verdict rule for "with high probability" claims
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhpOutcome:
    status: str
    failures: int
    evaluated: int
    unevaluable: int
    rate: float
    rate_lo: float
    rate_hi: float
    p_value: float  # P(X ≥ failures) under Binomial(evaluated, δ)
    max_failures: int  # the most failures that still hold at this number of seeds

    def describe(self) -> str:
        return (
            f"{self.failures}/{self.evaluated} seeds fail (rate {self.rate:.2f}, "
            f"{int(THRESHOLDS.confidence * 100)}% CI [{self.rate_lo:.2f}, {self.rate_hi:.2f}]; "
            f"at most {self.max_failures} allowed at δ={THRESHOLDS.delta})"
            + (f"; {self.unevaluable} seed(s) unevaluable" if self.unevaluable else "")
        )


def max_allowed_failures(n: int, delta: float = THRESHOLDS.delta, confidence: float = THRESHOLDS.confidence) -> int:
    """The largest k with P(Binomial(n, δ) ≥ k) ≥ 1 - confidence: k failures are consistent with rate δ."""
    k = 0
    while k < n and binom.sf(k, n, delta) >= 1 - confidence:  # sf(k) = P(X ≥ k+1)
        k += 1
    return k


def whp(
    outcomes: Sequence[str],
    delta: float = THRESHOLDS.delta,
    confidence: float = THRESHOLDS.confidence,
    max_unevaluable: float = THRESHOLDS.max_unevaluable,
) -> WhpOutcome:
    """Verdict of a w.h.p. claim from per-seed outcomes 'pass' / 'fail' / 'na'.

    holds  when the failures are consistent with a failure rate ≤ δ at the given confidence
           (one-sided binomial test: P(X ≥ failures | n, δ) ≥ 1 - confidence);
    fails  otherwise;
    inconclusive when more than `max_unevaluable` of the seeds could not be evaluated.
    """
    bad = [o for o in outcomes if o not in ("pass", "fail", "na")]
    if bad:
        raise ValueError(f"per-seed outcomes must be 'pass', 'fail' or 'na'; got {bad[:3]}")
    n_all = len(outcomes)
    if n_all == 0:
        raise ValueError("whp needs at least one seed")
    fails = sum(o == "fail" for o in outcomes)
    na = sum(o == "na" for o in outcomes)
    n = n_all - na
    if n == 0 or na > max_unevaluable * n_all:
        return WhpOutcome(INCONCLUSIVE, fails, n, na, math.nan, 0.0, 1.0, math.nan, max_allowed_failures(max(n, 0)))
    ci = binomtest(fails, n).proportion_ci(confidence_level=confidence, method="exact")  # Clopper–Pearson
    pval = float(binomtest(fails, n, delta, alternative="greater").pvalue)  # P(X ≥ failures)
    lo, hi = float(ci.low), float(ci.high)
    status = HOLDS if pval >= 1 - confidence else FAILS
    return WhpOutcome(status, fails, n, na, fails / n, lo, hi, pval, max_allowed_failures(n, delta, confidence))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], Any],
    n: int,
    resamples: int,
    confidence: float = THRESHOLDS.confidence,
    seed: int = THRESHOLDS.bootstrap_seed,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap interval(s) of `statistic(idx)` over n units (seeds) resampled with replacement.

    `statistic` takes an index array into the n units and returns a number or a vector of
    numbers (NaN where undefined). scipy.stats.bootstrap draws the resamples; the interval
    is over the resamples where the statistic is defined. Returns (lo, hi, share undefined),
    arrays of the statistic's shape; with n < 2 (nothing to resample) the statistic itself.
    """

    def stat(idx: np.ndarray) -> np.ndarray:
        return np.asarray(statistic(np.asarray(idx, dtype=np.int64)), dtype=np.float64)

    if n < 2:
        point = stat(np.arange(n))
        return point, point, np.isnan(point).astype(np.float64)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):  # ∞ statistics: ∞ - ∞ in scipy's spread
        warnings.simplefilter("ignore", DegenerateDataWarning)  # all resamples equal: a point interval
        res = bootstrap(
            (np.arange(n),),
            stat,
            vectorized=False,
            n_resamples=resamples,
            method="percentile",
            confidence_level=confidence,
            rng=np.random.default_rng(seed),
        )
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)  # (..., resamples)
    undefined = np.isnan(dist).mean(axis=-1)
    if not undefined.any():
        return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high), undefined
    a = (1 - confidence) / 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row: its interval is NaN
        lo, hi = np.nanquantile(dist, a, axis=-1), np.nanquantile(dist, 1 - a, axis=-1)
    return lo, hi, undefined


def seed_outcome(rec: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """One seed's record with its outcome: 'fail' with the problems joined as its 'why', else 'pass'."""
    if problems:
        return {**rec, "outcome": "fail", "why": "; ".join(problems)}
    return {**rec, "outcome": "pass"}


def per_seed_values(verdict: Verdict, key: str, seeds: Sequence[int]) -> np.ndarray:
    """`key` of each seed's record in `verdict.per_seed`, in the order of `seeds` (R,): NaN where the seed
    is unevaluable ('na'), has no such record or no such value (a claim's violation statistic, lemmas.trends)."""
    by_seed = {rec.get("seed"): rec for rec in verdict.per_seed}
    out = np.full(len(seeds), np.nan)
    for r, s in enumerate(seeds):
        rec = by_seed.get(s)
        if rec is not None and rec.get("outcome") != "na" and key in rec:
            out[r] = float(rec[key])
    return out


def verdict_from_seeds(
    claim: str,
    per_seed: list[dict[str, Any]],
    stats: dict[str, float],
    thresholds: dict[str, Any],
    series: dict[str, Panel] | None = None,
    what: str = "",
) -> Verdict:
    """Apply `whp` to per-seed records (each with an 'outcome' key) and build the Verdict."""
    w = whp([s["outcome"] for s in per_seed])
    stats = {
        **stats,
        "fail_rate": w.rate,
        "fail_rate_lo": w.rate_lo,
        "fail_rate_hi": w.rate_hi,
        "seeds_failing": w.failures,
        "seeds_evaluated": w.evaluated,
        "seeds_unevaluable": w.unevaluable,
    }
    thresholds = {**thresholds, "delta": THRESHOLDS.delta, "max_failures": w.max_failures}
    if w.status == INCONCLUSIVE:
        reasons = sorted({s.get("why", "") for s in per_seed if s["outcome"] == "na"} - {""})
        reason = f"{w.unevaluable}/{len(per_seed)} seeds unevaluable" + (f": {'; '.join(reasons)}" if reasons else "")
    else:
        first_fail = next((s for s in per_seed if s["outcome"] == "fail"), None)
        reason = (what + ": " if what else "") + w.describe()
        if w.status == FAILS and first_fail is not None and first_fail.get("why"):
            reason += f"; e.g. seed {first_fail.get('seed')}: {first_fail['why']}"
    return Verdict(claim, w.status, reason, stats, thresholds, per_seed, series or {}, whp=what)


# ---------------------------------------------------------------------------------------
# Claims and the registry
# ---------------------------------------------------------------------------------------

NEEDS = ("run", "ladder", "gradient", "batch_grid", "width_family", "eta_family")
FAMILIES = ("width_family", "eta_family")  # one run per multiple of p or η at one d (lemmas.families)
# How much of a run's time a claim reads: "T" the whole horizon; "phases" only up to its phase
# boundaries T1, T_ε and T_L (docs/SPEC.md §2), so its runs may stop once every seed has passed them
# (RunConfig.stop_phases, simulator.phases).
HORIZONS = ("T", "phases")


@dataclass(frozen=True)
class Claim:
    id: str  # "C1" … "C15", stable; "Q1" … for the paper's open questions
    slug: str  # "phase1_linearization"
    title: str
    anchor: str  # where in the paper
    statement: str  # the finite-d reading of docs/SPEC.md, in words
    check: Callable[..., Verdict]
    needs: str = "run"
    variants: tuple[str, ...] = ()  # coupled variants the claim reads besides the main run (logistic names)
    key_stats: tuple[KeyStat, ...] = ()  # what the verdict turns on, for the report (first: the summary's)
    decisions: str = ""  # choices made where the specification (docs/SPEC.md) is silent
    applies: Callable[[Any], str | None] = lambda cfg: None  # RunConfig -> None, or why the claim is undefined there
    horizon: str = "T"  # how much of a run it reads: one of HORIZONS
    # > 0: the plan adds the test set at every step of the run's first `every_step_window` linearized
    # T1 predictions (lemmas.plan.every_step_prefix); 0: the run's own snapshot grid only
    every_step_window: float = 0.0
    # The claim's o(1) reading (lemmas.trends): Trajectory -> per-seed violation statistic (R,), NaN where a
    # seed cannot be evaluated, compared with ζ(d) by the check (statistic > ζ(d) makes the seed fail);
    # `violation_clause` names the clause of the check the statistic is. None: no trend reading.
    violation: Callable[[Any], np.ndarray] | None = None
    violation_clause: str = ""

    def __post_init__(self) -> None:
        if self.needs not in NEEDS:
            raise ValueError(f"Claim.needs = {self.needs!r}: must be one of {NEEDS}")
        if self.horizon not in HORIZONS:
            raise ValueError(f"Claim.horizon = {self.horizon!r}: must be one of {HORIZONS}")


XOR_PLANE = (
    "reads the XOR signal plane μ̂± (docs/SPEC.md §2), which is not the feature of a label on "
    "three coordinates (parity-3)"
)


def xor_plane_missing(cfg: Any) -> str | None:
    """`applies` of the claims that read the XOR signal plane: why a run has none (a label on three
    coordinates), else None. Decided from the config's label arity, whatever regime built it."""
    return None if len(cfg.label_coords) == 2 else XOR_PLANE


def not_applicable(claim: str, why: str) -> Verdict:
    """The verdict where a claim is not defined (e.g. clean-network claims under parity-3)."""
    return Verdict(claim, INCONCLUSIVE, f"not defined here: {why}")


CLAIM_GROUP = "xorcert.claims"  # entry point group: name = "lemmas.module:CLAIM" (a Claim)


class ClaimRegistryError(RuntimeError):
    """An entry point of the claims group that cannot be loaded, or is not a Claim."""


def registry() -> dict[str, Claim]:
    """Every registered claim by id: the package entry point group `xorcert.claims` (the built-in
    claims are registered there by xorcert's own pyproject.toml; another installed package adds its
    claims the same way), ordered C1, C2, … by number, then other ids by name."""
    from importlib.metadata import entry_points

    claims: dict[str, Claim] = {}
    origin: dict[str, str] = {}
    for ep in entry_points(group=CLAIM_GROUP):
        where = f"entry point {ep.name} = {ep.value} (group {CLAIM_GROUP})"
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 - named and re-raised with its cause
            raise ClaimRegistryError(f"{where} failed to import: {type(e).__name__}: {e}") from e
        if not isinstance(obj, Claim):
            raise ClaimRegistryError(f"{where} is a {type(obj).__name__}, not a lemmas.base.Claim")
        if obj.id in claims and origin[obj.id] != ep.value:
            raise ClaimRegistryError(f"claim id {obj.id} is registered twice: {origin[obj.id]} and {ep.value}")
        claims[obj.id], origin[obj.id] = obj, ep.value
    if not claims:
        raise ClaimRegistryError(
            f"no claims are registered: the installed xorcert has no {CLAIM_GROUP!r} entry "
            "points; install the package (./setup.sh, or pip install -e .)"
        )
    return {cid: claims[cid] for cid in sorted(claims, key=claim_sort_key)}


def claim_sort_key(cid: str) -> tuple[int, str]:
    """C1 < C2 < … < C15 < …, then any other id by name."""
    digits = cid[1:]
    return (int(digits), "") if cid.startswith("C") and digits.isdigit() else (10**9, cid)
