"""Sequential decision rule for w.h.p. claims, with stated error rates.

Design
------
Wald's sequential probability ratio test (SPRT) on per-seed outcomes (fail = True), between
H0: failure rate δ₀ (the claim *holds*) and H1: failure rate δ₁ (the claim *fails*), with
δ₀ < δ = 0.1 < δ₁. SPRT was chosen over a group-sequential Clopper–Pearson rule with α-spending
because its boundaries are two closed-form constants on one statistic (the log-likelihood ratio),
it needs no spending function, and (unbatched and uncapped) it minimises the expected number of
seeds at δ₀ and δ₁ among tests with the same error rates (Wald–Wolfowitz); the exact error
rates of the batched, capped version are computed below by dynamic programming rather than
taken from Wald's bounds.

Boundaries
----------
After n seeds with k failures the log-likelihood ratio is
    Λ = k·log(δ₁/δ₀) + (n−k)·log((1−δ₁)/(1−δ₀)).
Wald's bounds give A = log((1−β)/α) and B = log(β/(1−α)): Λ ≥ A → fails, Λ ≤ B → holds,
otherwise continue; at the seed cap the outcome is *undecided* (distinct from *inconclusive*,
which means the seeds could not be evaluated at all).

Why group-sequential
--------------------
The engine runs R seeds in one batched computation, so Λ is looked at only after each batch
(every R seeds). Looking less often can only let Λ overshoot further before it is seen, and the
cap truncates the test; both move the error rates away from Wald's approximations α and β. Wald's
inequalities P(fails | δ₀) ≤ α/(1−β) and P(holds | δ₁) ≤ β/(1−α) still hold for any looks at
which the boundaries are checked (on the 'fails' event the likelihood ratio is ≥ e^A, whatever the
stopping time), so the batched rule keeps them; the exact values are
`operating_characteristic` below (and a Monte Carlo check in tests/unit/test_sequential.py).

Choice of δ₀ = 0.05, δ₁ = 0.25, batch 8, cap 64
----------------------------------------------
A claim tested at δ = 0.1 on 8–16 seeds cannot tell 5% from 35%. The zone 0.05..0.25 brackets
δ = 0.1 by a factor of about 2 on each side; it decides a clean claim (0 failures) after 16 seeds
(two batches, two batched engine calls) and bounds the cost at 64 seeds (8 batches). A narrower zone
costs whole batches more: 0.05..0.15 (uncapped, same α, β) needs 64 expected seeds at δ₀ and 99 at
δ = 0.1 (exact DP), against 25.5 and 35.4 here. Batches of 8 match the engine's batched seeds; a
batch of 16 halves the number of looks and adds up to 8 seeds of overshoot per decision.

Measured operating characteristic (default design, exact DP)
------------------------------------------------------------
rate   P(holds)  P(fails)  P(undecided)  expected seeds
0.00   1.000     0.000     0.000         16.0
0.05   0.967     0.017     0.016         25.5
0.10   0.651     0.207     0.142         35.4
0.25   0.021     0.970     0.009         19.7
0.50   0.000     1.000     0.000          9.2
False fails at δ₀: 1.7% (Wald's bound α/(1−β) = 5.3%); false holds at δ₁: 2.1% (bound 5.3%):
batching and the cap make the rule more conservative than Wald's α, β, at the price of an
undecided share (1.6% at δ₀, 0.9% at δ₁, 14% at δ = 0.1, which lies inside the zone).
(regenerate with `python -m lemmas.sequential`; the test file asserts the error bounds.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import stats

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, THRESHOLDS, UNDECIDED, Thresholds, Verdict

Status = Literal["holds", "fails", "undecided", "continue"]


@dataclass(frozen=True)
class SprtDesign:
    """The SPRT's parameters; validated on construction."""

    delta0: float = 0.05
    delta1: float = 0.25
    alpha: float = 0.05
    beta: float = 0.05
    batch: int = 8
    cap: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.delta0 < self.delta1 < 1.0:
            raise ValueError(f"delta0, delta1 must satisfy 0 < delta0 < delta1 < 1, got {self.delta0}, {self.delta1}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise ValueError(f"{name} must lie in (0, 0.5), got {value}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if self.cap < self.first_look:
            raise ValueError(
                f"cap must be >= {self.first_look}, the fewest seeds at which this rule can decide 'holds' "
                f"(delta0={self.delta0}, delta1={self.delta1}, alpha={self.alpha}, beta={self.beta}, "
                f"batch={self.batch}); got {self.cap}"
            )

    @classmethod
    def from_thresholds(cls, th: Thresholds | None = None) -> SprtDesign:
        th = th or Thresholds()
        return cls(th.seq_delta0, th.seq_delta1, th.seq_alpha, th.seq_beta, th.seq_batch, th.seq_cap)

    def confirming(self, decisions: int, family_alpha: float) -> SprtDesign:
        """The design that confirms a decision contradicting the record at a family-wise error of
        `family_alpha` over `decisions` decisions: α = β = family_alpha / decisions (Bonferroni), the
        cap twice its own first look (and at least this design's)."""
        if decisions < 1:
            raise ValueError(f"decisions must be >= 1, got {decisions}")
        if not 0.0 < family_alpha < 0.5:
            raise ValueError(f"family_alpha must lie in (0, 0.5), got {family_alpha}")
        level = family_alpha / decisions
        unbounded = replace(self, alpha=level, beta=level, cap=10**9)
        return replace(unbounded, cap=max(self.cap, 2 * unbounded.first_look))

    @property
    def fail_step(self) -> float:
        """Λ's increment for a failing seed, log(δ₁/δ₀) > 0."""
        return math.log(self.delta1 / self.delta0)

    @property
    def pass_step(self) -> float:
        """Λ's increment for a passing seed, log((1−δ₁)/(1−δ₀)) < 0."""
        return math.log((1.0 - self.delta1) / (1.0 - self.delta0))

    @property
    def upper(self) -> float:
        """Wald's upper boundary A = log((1−β)/α): at or above it, fails."""
        return math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        """Wald's lower boundary B = log(β/(1−α)): at or below it, holds."""
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def first_look(self) -> int:
        """The fewest seeds, in whole batches, at which a clean sequence (no failure) reaches 'holds':
        ⌈B / log((1−δ₁)/(1−δ₀))⌉ rounded up to a batch. Computed, not chosen: an earlier look could
        only decide 'fails', and a cap below it could never decide 'holds'."""
        clean = math.ceil(self.lower / self.pass_step - 1e-12)
        return self.batch * math.ceil(clean / self.batch)

    @property
    def looks(self) -> list[int]:
        """Seed counts at which Λ is examined: every batch, and the cap. Before `first_look` a look can
        only decide 'fails' (a clearly failing claim stops after one batch)."""
        ns = list(range(self.batch, self.cap + 1, self.batch))
        if not ns or ns[-1] != self.cap:
            ns.append(self.cap)
        return ns


def log_likelihood_ratio(design: SprtDesign, n: int, k: int) -> float:
    """Λ after n seeds with k failures."""
    return k * design.fail_step + (n - k) * design.pass_step


def stage_status(design: SprtDesign, n: int, k: int) -> Status:
    """The rule at a look: fails, holds, undecided at the cap, else continue."""
    llr = log_likelihood_ratio(design, n, k)
    if llr >= design.upper:
        return "fails"
    if llr <= design.lower:
        return "holds"
    return "undecided" if n >= design.cap else "continue"


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact binomial interval for the failure rate."""
    if n == 0:
        return (0.0, 1.0)
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return (lo, hi)


@dataclass(frozen=True)
class OperatingPoint:
    """Exact behaviour of a design at one true failure rate."""

    rate: float
    p_holds: float
    p_fails: float
    p_undecided: float
    expected_seeds: float


def operating_characteristic(design: SprtDesign, rate: float) -> OperatingPoint:
    """P(holds), P(fails), P(undecided) and the expected seed count at a true rate, by DP.

    The state after each look is the distribution of the failure count k among paths not yet
    stopped; a batch of b seeds convolves it with Binomial(b, rate); the mass at each look whose
    Λ crosses a boundary is absorbed.
    """
    alive = np.zeros(design.cap + 1)
    alive[0] = 1.0
    n_prev = 0
    p_h = p_f = p_u = esn = 0.0
    for n in design.looks:
        b = n - n_prev
        step = stats.binom.pmf(np.arange(b + 1), b, rate)
        alive = np.convolve(alive, step)[: design.cap + 1]
        for k in range(n + 1):
            mass = float(alive[k])
            if mass == 0.0:
                continue
            status = stage_status(design, n, k)
            if status == "continue":
                continue
            alive[k] = 0.0
            esn += mass * n
            if status == "holds":
                p_h += mass
            elif status == "fails":
                p_f += mass
            else:
                p_u += mass
        n_prev = n
    return OperatingPoint(rate, p_h, p_f, p_u, esn)


@dataclass(frozen=True)
class SequentialDecision:
    """The rule applied to an ordered sequence of per-seed outcomes."""

    status: Status
    seeds_used: int
    failures: int
    interval: tuple[float, float]  # Clopper–Pearson for the failure rate at `confidence`
    llr: float
    lower: float
    upper: float
    power_at_delta1: float  # P(fails) of the design at δ₁
    false_hold_at_delta1: float  # P(holds) of the design at δ₁
    more_seeds: int  # undecided/continue: fewest further seeds that could reach a boundary


def seeds_to_boundary(design: SprtDesign, n: int, k: int) -> int:
    """Fewest further seeds (whole batches) after which Λ could cross a boundary.

    All passing seeds move Λ down by |pass_step| each, all failing up by fail_step; the smaller
    count, rounded up to a batch, is the figure reported for an undecided or continuing rule.
    """
    llr = log_likelihood_ratio(design, n, k)
    if llr <= design.lower or llr >= design.upper:
        return 0
    to_hold = math.ceil((llr - design.lower) / -design.pass_step)
    to_fail = math.ceil((design.upper - llr) / design.fail_step)
    need = min(to_hold, to_fail)
    return design.batch * math.ceil(need / design.batch)


def decide(outcomes: Sequence[bool], design: SprtDesign | None = None, confidence: float = 0.95) -> SequentialDecision:
    """Apply the rule at each look to ordered outcomes (True = failed; unevaluable seeds excluded)."""
    design = design or SprtDesign()
    fails = [bool(x) for x in outcomes]
    status: Status = "continue"
    n_used = 0
    for n in design.looks:
        if n > len(fails):
            break
        n_used = n
        status = stage_status(design, n, sum(fails[:n]))
        if status != "continue":
            break
    k = sum(fails[:n_used])
    at_d1 = operating_characteristic(design, design.delta1)
    return SequentialDecision(
        status=status,
        seeds_used=n_used,
        failures=k,
        interval=clopper_pearson(k, n_used, confidence),
        llr=log_likelihood_ratio(design, n_used, k),
        lower=design.lower,
        upper=design.upper,
        power_at_delta1=at_d1.p_fails,
        false_hold_at_delta1=at_d1.p_holds,
        more_seeds=seeds_to_boundary(design, n_used, k) if status in ("undecided", "continue") else 0,
    )


def attained_error(design: SprtDesign, n: int, k: int, status: Status) -> float:
    """The decision's attained error probability (its p-value under the stage-wise ordering).

    'fails' at the look n with k failures: the probability, at the failure rate δ₀ (where 'fails' is
    wrong), of stopping with 'fails' at an earlier look or reaching the look n with ≥ k failures;
    'holds': the same at δ₁ with 'holds' and ≤ k failures. It is at most the design's P(fails | δ₀)
    or P(holds | δ₁) and smaller the more decisive the data; Holm's rule over a run's cells reads it
    (`holm`). NaN for an undecided example (no decision to err).
    """
    if status not in ("holds", "fails"):
        return math.nan
    rate = design.delta0 if status == "fails" else design.delta1
    alive = np.zeros(design.cap + 1)
    alive[0] = 1.0
    n_prev, earlier = 0, 0.0
    for look in design.looks:
        b = look - n_prev
        alive = np.convolve(alive, stats.binom.pmf(np.arange(b + 1), b, rate))[: design.cap + 1]
        if look >= n:
            tail = alive[k:].sum() if status == "fails" else alive[: k + 1].sum()
            return float(min(1.0, earlier + tail))
        for j in range(look + 1):
            if alive[j] > 0.0 and stage_status(design, look, j) != "continue":
                earlier += alive[j] if stage_status(design, look, j) == status else 0.0
                alive[j] = 0.0
        n_prev = look
    raise ValueError(f"n = {n} is beyond the design's cap {design.cap}")


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down rule: which of the decisions with these attained errors stand with a
    family-wise error ≤ alpha (NaN: no decision, never confirmed, not counted in the family)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(order)
    confirmed = [False] * len(p_values)
    for rank, (p, i) in enumerate(order):
        if p > alpha / (m - rank):
            break
        confirmed[i] = True
    return confirmed


def oc_table(design: SprtDesign, rates: Sequence[float]) -> list[OperatingPoint]:
    return [operating_characteristic(design, r) for r in rates]


if __name__ == "__main__":
    d = SprtDesign.from_thresholds()
    for op in oc_table(d, [0.0, d.delta0, 0.1, d.delta1, 0.5]):
        print(
            f"{op.rate:.2f}   {op.p_holds:.3f}     {op.p_fails:.3f}     {op.p_undecided:.3f}"
            f"         {op.expected_seeds:.1f}"
        )


def example_verdict(batches: Sequence[Verdict], seeds_run: int, design: SprtDesign | None = None) -> Verdict | None:
    """One example's verdict from the w.h.p. verdicts of its batches of seeds (in seed order), or None
    while the rule wants more seeds and `seeds_run` (the seeds simulated so far) is below the cap: the
    plan then runs the next batch.

    The per-seed records, the failure-rate interval and the decision are over the seeds the rule used
    (unevaluable seeds left out, in seed order); the claim's own statistics and panels are those of the
    first batch (the reason says so when more were run). Inconclusive when more than `max_unevaluable`
    of the seeds run are `na`.
    """
    design = design or SprtDesign.from_thresholds()
    first = batches[0]
    per_seed = [s for v in batches for s in v.per_seed]
    evaluated = [s["outcome"] == "fail" for s in per_seed if s["outcome"] != "na"]
    na = len(per_seed) - len(evaluated)
    if na > THRESHOLDS.max_unevaluable * len(per_seed) or not evaluated:
        return _with_rule(first, INCONCLUSIVE, first.reason, per_seed, {"seeds_run": float(seeds_run)}, design)
    dec = decide(evaluated, design, THRESHOLDS.confidence)
    if dec.status == "continue" and seeds_run < design.cap:
        return None
    status = UNDECIDED if dec.status == "continue" else dec.status
    stats = {
        "fail_rate": dec.failures / dec.seeds_used if dec.seeds_used else math.nan,
        "fail_rate_lo": dec.interval[0],
        "fail_rate_hi": dec.interval[1],
        "seeds_failing": float(dec.failures),
        "seeds_evaluated": float(dec.seeds_used),
        "seeds_unevaluable": float(na),
        "seeds_run": float(seeds_run),
        "llr": dec.llr,
        "power_at_delta1": dec.power_at_delta1,
        "false_hold_at_delta1": dec.false_hold_at_delta1,
        "attained_error": attained_error(design, dec.seeds_used, dec.failures, dec.status),
        "more_seeds": float(seeds_to_boundary(design, dec.seeds_used, dec.failures) if status == UNDECIDED else 0),
    }
    rate = f"{dec.failures}/{dec.seeds_used} seeds fail (95% CI [{dec.interval[0]:.2f}, {dec.interval[1]:.2f}])"
    rule = f"SPRT δ₀ = {design.delta0:g} vs δ₁ = {design.delta1:g}: Λ = {dec.llr:.2f}"
    if status == HOLDS:
        said = f"{rule} ≤ {design.lower:.2f}, holds (attained error {stats['attained_error']:.2g})"
    elif status == FAILS:
        said = f"{rule} ≥ {design.upper:.2f}, fails (attained error {stats['attained_error']:.2g})"
    else:
        said = (
            f"{rule} between {design.lower:.2f} and {design.upper:.2f} at the cap of {design.cap} seeds, "
            f"undecided; {int(stats['more_seeds'])} more seeds could decide it"
        )
    reason = (f"{first.whp}: " if first.whp else "") + f"{rate}; {said}"
    if na:
        reason += f"; {na} seed(s) unevaluable"
    failing = next((s for s in per_seed if s["outcome"] == "fail" and s.get("why")), None)
    if status == FAILS and failing is not None:
        reason += f"; e.g. seed {failing.get('seed')}: {failing['why']}"
    if len(batches) > 1:
        reason += f" (statistics and panels: the first {len(first.per_seed)} seeds)"
    return _with_rule(first, status, reason, per_seed, stats, design)


def _with_rule(
    v: Verdict, status: str, reason: str, per_seed: list[dict[str, Any]], stats: dict[str, float], design: SprtDesign
) -> Verdict:
    """`v` with the sequential rule's status, reason, seeds and statistics, and its design among the thresholds
    (in place of the fixed-n rule's δ and allowed failures)."""
    thresholds = {k: t for k, t in v.thresholds.items() if k not in ("delta", "max_failures")}
    thresholds |= {
        "delta0": design.delta0,
        "delta1": design.delta1,
        "alpha": design.alpha,
        "beta": design.beta,
        "seed_cap": design.cap,
    }
    return Verdict(v.claim, status, reason, {**v.stats, **stats}, thresholds, per_seed, v.series, v.whp)
