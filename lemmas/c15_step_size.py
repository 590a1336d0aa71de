"""C15 `step_size` — inside the theorem's range d^-C ≤ η ≤ ψ the results do not depend on η.

Paper anchor: Theorem 3.1 (its hypothesis: step size d^-C ≤ η ≤ ψ, horizon O(log d/η)).
docs/SPEC.md id: C15.

Claim (docs/SPEC.md §3.17): at one d, the regime's runs at η = k·η₀ (η₀ the regime's own, ψ in the
paper regime) for k ∈ {1, 1/2, 1/4} (`Thresholds.c15_etas`), each with the horizon T/k (η·T kept,
as the theorem's `t ≤ C log d/η`), give the per-run claims the same failure rates: the family test
of lemmas.families (two-sided Fisher exact tests against k = 1, Bonferroni at α = 0.05).

Above the range (k ∈ {2, 4, 8, 16, 32, 64}, `Thresholds.c15_etas_outside`; cheap, the horizons
shrink as 1/k) the same claims are run and reported, not judged: which flip from holds to fails or
fail significantly more often, and the smallest k at which one does — the claim that breaks first.
Measured (paper, d = 32, 8 seeds, 2026-12-05): nothing up to 8ψ; C6 (layer balance: the η² term of
its identity) first, at 16ψ; then C3, C5, C13 at 32ψ; C9 and C12 at 64ψ.

Decisions (where the specification, docs/SPEC.md, is silent):

* The lower end of the range, d^-C (1/1024 at d = 32), needs T ≈ 4·10⁴ steps at d = 32, 85× the
  paper run: the family stops at ψ/4. The range inside is therefore a factor 4, not the theorem's
  whole range; below ψ/4 nothing is run.
* The horizon scales as 1/k (so does C12's t_max = ⌈C log d/η⌉, read with each run's own η).
* As C14: one d (the profile's first per-run d), the profile's seeds, claims reading the main run.
"""

from __future__ import annotations

from collections.abc import Mapping

from lemmas.base import THRESHOLDS, Claim, Verdict
from lemmas.families import family_verdict
from lemmas.report import KeyStat
from simulator.trajectory import Trajectory

ID = "C15"


def check(family: Mapping[float, Trajectory]) -> Verdict:
    """C15 on a step-size family (k → trajectory at η = k·η₀, horizon T/k): see the module docstring."""
    return family_verdict(
        ID,
        family,
        THRESHOLDS.c15_etas,
        THRESHOLDS.c15_etas_outside,
        "failure rates at η = ψ/2 and ψ/4 against ψ",
    )


CLAIM = Claim(
    id=ID,
    slug="step_size",
    title="Step size: inside d^-C ≤ η ≤ ψ the claims' failure rates do not depend on η",
    anchor="Theorem 3.1 (d^-C ≤ η ≤ ψ)",
    statement=(
        "At one d, the per-run claims (C3, C4, C5, C6, C9, C12, C13) fail equally often at η = ψ, ψ/2, ψ/4 with "
        "horizon ∝ 1/η (Fisher exact tests against ψ, Bonferroni at α = 0.05); η = 2ψ … 64ψ are reported."
    ),
    check=check,
    needs="eta_family",
    key_stats=(KeyStat("least Fisher p-value inside the range", "min_p_inside", ">=", "per_comparison_level"),),
    decisions=(
        "one d; η ∈ {ψ, ψ/2, ψ/4} (d^-C too costly), horizon T/k; Fisher exact tests, Bonferroni; above ψ "
        "reported, not judged."
    ),
)
