"""C14 `width` — above the theorem's threshold p ≥ 1/ψ the results do not depend on the width.

Paper anchor: Theorem 3.1 (its hypothesis: width p ≥ 1/ψ, any such p). docs/SPEC.md id: C14.

Claim (docs/SPEC.md §3.16): at one d, the regime's runs at p = ⌈k·⌈1/ψ⌉⌉ for k ∈ {1, 2, 4}
(`Thresholds.c14_widths`; the init scale follows p where the regime sets it, θ = ψ/√p in the paper
regime) give the per-run claims the same failure rates: for every claim of
`Thresholds.family_claims` and every k ∈ {2, 4}, a two-sided Fisher exact test of its failing seeds
at k against k = 1 finds no difference at level α/M (Bonferroni over the M comparisons; α = 0.05).
Holds = no dependence detected; fails = some claim's failure rate depends on p (the claim and the
width are named). The family and the test are lemmas.families.

Below the threshold (k ∈ {1/2, 1/4}, `Thresholds.c14_widths_below`: p = 7 and 4 at d = 32) the same
claims are run and reported, not judged: which claims flip from holds to fails or fail significantly
more often than at k = 1, and the largest width at which one does ("breaks first").

Decisions (where the specification, docs/SPEC.md, is silent):

* One d per profile, the profile's first per-run d (quick 32, certify 64); the seeds of the
  profile's per-run examples (8, 16) at every member, the same base seed (independent runs: the
  initialization depends on p).
* Only claims that read the main run alone are compared (the members are single-variant runs);
  C1, C2, C7, C8, C10, C11 need runs of other kinds.
* Undefined (inconclusive) where the regime sets the width itself, so that members inside the
  range run at the reference's p (sparse_finders widens p to 64 to hold two finders per cluster:
  at d ≤ 64 every member is p = 64).
* A failure-rate test rather than a comparison of verdicts: a verdict near its boundary (rate ≈ δ)
  can flip between members by chance alone; the Fisher test bounds the false "depends" at α.
  Verdict flips are reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping

from lemmas.base import THRESHOLDS, Claim, Verdict
from lemmas.families import family_verdict, member_width
from lemmas.report import KeyStat
from simulator import RunConfig, build_regime, registered_regimes
from simulator.trajectory import Trajectory

ID = "C14"


def applies(cfg: RunConfig) -> str | None:
    """Undefined where the regime sets the width itself (sparse_finders widens p to hold its finders): a member
    inside the range would run at the reference's p. Decided from the regime's configs, before any run; a
    config built by hand (no registered regime) has the width it asks for."""
    if cfg.regime not in registered_regimes():
        return None
    same = [
        k for k in THRESHOLDS.c14_widths[1:] if build_regime(cfg.regime, cfg.d, p=member_width(cfg.d, k)).p == cfg.p
    ]
    if not same:
        return None
    return (
        f"the regime runs the members k = {same} at the reference's width p = {cfg.p}: "
        "there is no width dependence to test"
    )


def check(family: Mapping[float, Trajectory]) -> Verdict:
    """C14 on a width family (k → trajectory at p = ⌈k·⌈1/ψ⌉⌉): see the module docstring."""
    return family_verdict(
        ID,
        family,
        THRESHOLDS.c14_widths,
        THRESHOLDS.c14_widths_below,
        "failure rates at p = 2× and 4× ⌈1/ψ⌉ against 1×",
    )


CLAIM = Claim(
    id=ID,
    slug="width",
    title="Width: above p ≥ 1/ψ the claims' failure rates do not depend on p",
    anchor="Theorem 3.1 (p ≥ 1/ψ)",
    statement=(
        "At one d, the per-run claims (C3, C4, C5, C6, C9, C12, C13) fail equally often at p = 1×, 2×, 4× ⌈1/ψ⌉ "
        "(two-sided Fisher exact tests against 1×, Bonferroni at α = 0.05); p = ½× and ¼× are reported."
    ),
    check=check,
    applies=applies,
    needs="width_family",
    key_stats=(KeyStat("least Fisher p-value inside the range", "min_p_inside", ">=", "per_comparison_level"),),
    decisions=(
        "one d (the profile's first); failure counts compared by Fisher exact tests, Bonferroni; below the "
        "threshold reported, not judged; claims reading the main run only."
    ),
)
