"""Hypothesis that searches and shrinks: the `hunt` profile's score, its counterexample and its search.

Under a profile with `search=True` (`hunt`, lemmas/plan.py) every example's verdict is observed by
`observe`: it calls `hypothesis.target` on the claim's *slack*, so that hypothesis' targeting phase
mutates the examples closest to (or furthest past) the claim's threshold, and raises
`Counterexample` on a verdict that fails, so that hypothesis shrinks the example to a minimal one
and raises it again there. The strategies of `lemmas.certification.examples` draw d first (smallest
d first), then the width (smallest first), then the seed (integers shrink to 0), so the shrinker's
shortlex order reaches the smallest d, then width, then seed that still fails.

Slack (one definition, `slack`): the claim's key statistics (`Claim.key_stats`) measured on the
verdict, each as its signed distance to its threshold in threshold units (`reports.keystats.slack`:
`(thr - v)/|thr|` for `≤`, `(v - thr)/|thr|` for `≥`, the distance to the nearer end over the band's
width for a band), and the smallest of them: positive, every key statistic is inside its threshold
with that margin; negative, one is violated by that much. A claim without key statistics (or a
verdict that measured none of them) reads the share of failing seeds against δ. The slack guides the
search; the verdict decides a counterexample: only `fails` is one (holds, inconclusive and the
sequential rule's undecided are not). A key statistic read as a worst case over seeds can be
violated (negative slack) on a verdict that holds, where the failing seeds are within what the
w.h.p. rule tolerates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target

from lemmas.base import FAILS, Claim, Verdict

SLACK_CAP = 1e9  # hypothesis.target needs a finite score: an infinite slack is scored at ±this


def slack(claim: Claim, verdict: Verdict) -> float | None:
    """The verdict's slack (module docstring); None where no key statistic was measured."""
    from reports.keystats import measure_all

    light = {"stats": verdict.stats, "thresholds": verdict.thresholds}
    values = [m.slack for m in measure_all(claim.key_stats, light) if m.slack is not None and not math.isnan(m.slack)]
    return min(values) if values else None


def is_counterexample(verdict: Verdict) -> bool:
    """Only a verdict that fails is a counterexample."""
    return verdict.status == FAILS


@dataclass(frozen=True)
class Found:
    """A minimal counterexample: the example hypothesis shrank to, its verdict and how to reproduce it."""

    claim: str
    regime: str
    example: dict[str, Any]
    describe: str
    status: str
    reason: str
    slack: float | None
    command: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Counterexample(AssertionError):
    """A failing verdict found by the search; hypothesis shrinks it and raises the minimal one."""

    def __init__(self, found: Found) -> None:
        super().__init__(
            f"{found.claim} in {found.regime} fails on {found.describe} (slack {found.slack}): {found.reason}\n"
            f"  reproduce: {found.command}"
        )
        self.found = found


def observe(claim: Claim, ex: Any, verdict: Verdict, regime_imports: tuple[str, ...] = ()) -> float | None:
    """Target the violation (-slack) and raise Counterexample on a failing verdict; the slack."""
    s = slack(claim, verdict)
    if s is not None:
        target(-max(-SLACK_CAP, min(SLACK_CAP, s)), label=f"violation of {claim.id} (-slack)")
    if is_counterexample(verdict):
        raise Counterexample(
            Found(
                claim.id,
                ex.regime,
                ex.to_dict(),
                ex.describe(),
                verdict.status,
                verdict.reason,
                s,
                ex.command(claim.id, regime_imports),
            )
        )
    return s


def profile_settings(prof: Any) -> settings:
    """The hypothesis settings of a certification profile (lemmas.plan.Profile): a search profile adds the
    target and shrink phases and reports one bug (the minimal counterexample)."""
    phases = (Phase.explicit, Phase.reuse, Phase.generate) + ((Phase.target, Phase.shrink) if prof.search else ())
    return settings(
        max_examples=prof.max_examples,
        derandomize=prof.derandomize,
        phases=phases,
        deadline=None,
        database=None,
        print_blob=True,
        report_multiple_bugs=not prof.search,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def search(
    claim: Claim,
    regime: str,
    prof: Any,
    get: Callable[[Any], Any],
    each: Callable[[Any, Verdict], None] | None = None,
    regime_imports: tuple[str, ...] = (),
) -> Found | None:
    """Run the profile's search for a counterexample of `claim` in `regime`, outside pytest: the minimal
    counterexample, or None when every drawn example's verdict is not `fails`. `each(example, verdict)` is
    told of every evaluated example (the shrinker's too)."""
    from lemmas.certification import choose_examples, examples
    from lemmas.plan import evaluate

    @given(ex=examples(claim.needs, regime, prof))
    def run(ex: Any) -> None:
        verdict = evaluate(claim, ex, get)
        if each is not None:
            each(ex, verdict)
        observe(claim, ex, verdict, regime_imports)

    try:
        choose_examples(run, prof, claim.needs, regime)()
    except Counterexample as c:
        return c.found
    return None
