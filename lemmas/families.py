"""Families of runs at one d that differ in one hyper-parameter (width p, step size η), and the test that
decides whether the per-run claims depend on it (C14, C15; docs/SPEC.md §3.16, §3.17).

A family maps a multiple k of the regime's own value (p = ⌈k·⌈1/ψ⌉⌉, or η = k·ψ) to the trajectory of
that member (all seeds of one example). The claims compared are the per-run claims that read the main
run only (`Thresholds.family_claims`: C3, C4, C5, C6, C9, C12, C13), each with its own check and its
own w.h.p. verdict on every member.

"Does not depend on the parameter" is decided on the failure counts, where the w.h.p. rule puts its
error rates: for every compared claim and every member k inside the theorem's range other than the
reference (k = 1), a two-sided Fisher exact test of (failing, evaluable seeds) at k against k = 1.
Dependence is detected when some p-value is below α/M (Bonferroni over the M comparisons made,
α = 1 - confidence): so the chance of a false "depends" is at most α whatever the claims' own rates
are, and "holds" means "no dependence detected" — not refuted, as for the w.h.p. rule. A claim that
is inconclusive on the reference or on the member is not compared there. A member whose run
diverges (a non-finite parameter stops the whole batch of seeds; lemmas.plan.family_member) counts
as failing every claim on every seed. The members outside the
range are reported, not judged: per member, the claims whose verdict changes from the reference's
and those whose failure count is significantly higher (one-sided Fisher at α/M_out); the member
nearest the range with one is where the claims break first.

Power, stated: with 8 seeds per member and M = 14 comparisons, 0/8 failing at k = 1 against 7/8 at
k is detected (p = 0.0014 < 0.0036), 0/8 against 6/8 is not (p = 0.007); with 16 seeds 0/16 against
8/16 is (p = 0.0023).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import fisher_exact

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, THRESHOLDS, Verdict
from simulator.config import paper_hyper
from simulator.trajectory import Trajectory


@dataclass(frozen=True)
class Cell:
    """One compared claim on one member: its verdict and its failing / evaluable seeds."""

    claim: str
    multiple: float
    status: str
    fails: int
    evaluated: int

    @property
    def comparable(self) -> bool:
        return self.status != INCONCLUSIVE and self.evaluated > 0


def member_width(d: int, k: float) -> int:
    """The width the width family asks for at multiple k: p = ⌈k·⌈1/ψ⌉⌉ (the paper's p at d is ⌈1/ψ⌉)."""
    return math.ceil(k * paper_hyper(d).p)


def cells(family: Mapping[float, Trajectory], claim_ids: Sequence[str]) -> dict[tuple[str, float], Cell]:
    """Every compared claim's verdict on every member."""
    from lemmas.base import registry

    claims = registry()
    out = {}
    for k, traj in family.items():
        for cid in claim_ids:
            if traj.meta.get("diverged_at") is not None:  # a non-finite network fails every claim, every seed
                out[cid, k] = Cell(cid, k, FAILS, traj.config.seeds, traj.config.seeds)
                continue
            v = claims[cid].check(traj)
            fails, ev = int(v.stats.get("seeds_failing", 0)), int(v.stats.get("seeds_evaluated", 0))
            out[cid, k] = Cell(cid, k, v.status, fails, ev)
    return out


def fisher_p(a: Cell, b: Cell, alternative: str = "two-sided") -> float:
    """Fisher exact p-value of b's failure rate against a's ("greater": b fails more often)."""
    table = [[b.fails, b.evaluated - b.fails], [a.fails, a.evaluated - a.fails]]
    return float(fisher_exact(table, alternative=alternative).pvalue)


def _label(k: float) -> str:
    return f"{k:g}x"


def family_verdict(
    claim_id: str,
    family: Mapping[float, Trajectory],
    inside: Sequence[float],
    outside: Sequence[float],
    what: str,
) -> Verdict:
    """The verdict of a family claim: see the module docstring. inside[0] is the reference member."""
    ids = THRESHOLDS.family_claims
    missing = [k for k in (*inside, *outside) if k not in family]
    if missing:
        raise ValueError(f"{claim_id}: the family lacks the members {missing}")
    got = cells(family, ids)
    ref = inside[0]
    alpha = 1 - THRESHOLDS.confidence
    pairs = [(cid, k) for k in inside[1:] for cid in ids if got[cid, ref].comparable and got[cid, k].comparable]
    p_in = {(cid, k): fisher_p(got[cid, ref], got[cid, k]) for cid, k in pairs}
    level = alpha / max(len(p_in), 1)
    dependent = sorted((p, cid, k) for (cid, k), p in p_in.items() if p < level)
    out_pairs = [(cid, k) for k in outside for cid in ids if got[cid, ref].comparable and got[cid, k].comparable]
    p_out = {(cid, k): fisher_p(got[cid, ref], got[cid, k], "greater") for cid, k in out_pairs}
    level_out = alpha / max(len(p_out), 1)
    broken = {
        k: [cid for cid in ids if (cid, k) in p_out and (p_out[cid, k] < level_out or _worse(got, cid, ref, k))]
        for k in outside
    }
    first = next((k for k in outside if broken[k]), None)
    stats: dict[str, Any] = {
        f"{cid}_{_label(k)}_fail_rate": (c.fails / c.evaluated if c.evaluated else math.nan)
        for (cid, k), c in got.items()
    }
    stats.update({f"{cid}_{_label(k)}_p": p for (cid, k), p in p_in.items()})
    stats["min_p_inside"] = min(p_in.values(), default=math.nan)
    stats["comparisons"] = len(p_in)
    stats["breaks_first_at"] = first if first is not None else math.nan
    thresholds = {
        "alpha": alpha,
        "per_comparison_level": level,
        "inside": list(inside),
        "outside": list(outside),
        "claims_compared": list(ids),
        "outside_level": level_out,
    }
    flips_in = [f"{cid} at {_label(k)}" for cid, k in pairs if _flip(got, cid, ref, k)]
    report_out = "; ".join(f"{_label(k)}: {', '.join(broken[k]) or 'none'}" for k in outside)
    tail = (
        f" Verdicts that differ from {_label(ref)} inside: {', '.join(flips_in) or 'none'}."
        f" Outside, worse than the reference (holds → fails, or more failures): {report_out}."
    )
    if not p_in:
        return Verdict(
            claim_id, INCONCLUSIVE, f"{what}: no claim is evaluable on the reference and a member", stats, thresholds
        )
    if dependent:
        p, cid, k = dependent[0]
        c0, c1 = got[cid, ref], got[cid, k]
        reason = (
            f"{what}: depends — {cid} fails {c1.fails}/{c1.evaluated} seeds at {_label(k)} against {c0.fails}/"
            f"{c0.evaluated} at {_label(ref)} (Fisher p = {p:.2g} < α/M = {level:.2g}, M = {len(p_in)})."
        )
        return Verdict(claim_id, FAILS, reason + tail, stats, thresholds)
    reason = (
        f"{what}: no dependence detected — least Fisher p = {stats['min_p_inside']:.2g} ≥ α/M = {level:.2g} "
        f"over M = {len(p_in)} comparisons."
    )
    return Verdict(claim_id, HOLDS, reason + tail, stats, thresholds)


def _flip(got: Mapping[tuple[str, float], Cell], cid: str, ref: float, k: float) -> bool:
    """The claim's verdict on member k is a definite one (holds / fails) other than on the reference."""
    a, b = got[cid, ref].status, got[cid, k].status
    return INCONCLUSIVE not in (a, b) and a != b


def _worse(got: Mapping[tuple[str, float], Cell], cid: str, ref: float, k: float) -> bool:
    """The claim holds on the reference and fails on member k."""
    return got[cid, ref].status == HOLDS and got[cid, k].status == FAILS
