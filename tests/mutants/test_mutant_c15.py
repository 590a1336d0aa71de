"""C15 must fail where the horizon does not follow the step size. d = 32, 8 seeds.

The designated broken setting keeps the paper's horizon T = ⌈κ log d/ψ⌉ at every step size: at
η = ψ/4 the run covers a quarter of the η·T the theorem needs (t ≤ C log d/η). The features are
found (T1 ≈ 310 of 500 steps) but phase two is cut short: the four clean cluster margins are not
balanced at T on any seed (C5 fails 8/8 against 1/8 at ψ; Fisher p = 0.0014 < 0.05/12), C9 fails
2/8, and C12 cannot be read (t_max = 2000 > T: na, not compared). Measured 2026-12-05. At 32ψ and
64ψ the run diverges within T (counted failing every claim; reported, not judged).

The healthy step-size family (horizon T/k at η = k·ψ) must hold.
"""

from __future__ import annotations

import math

from lemmas.base import THRESHOLDS
from lemmas.c15_step_size import check
from lemmas.plan import family_member
from simulator import paper, paper_hyper

D, SEEDS = 32, 8
ETAS = (*THRESHOLDS.c15_etas, *THRESHOLDS.c15_etas_outside)


def test_horizon_that_ignores_the_step_size_fails(trajectories):
    h = paper_hyper(D)
    family = {  # at 32ψ and 64ψ for T steps the run diverges: family_member marks it, as the plan does
        k: family_member(trajectories, paper(D, eta=k * h.eta, steps=h.steps, seeds=SEEDS, device="cpu")) for k in ETAS
    }
    v = check(family)
    print("\nC15 mutant horizon T at every η, d = 32:", v.reason)
    assert v.status == "fails"
    assert "at 0.25x" in v.reason and v.stats["C5_0.25x_fail_rate"] == 1.0


def test_healthy_step_size_family_holds(trajectories):
    h = paper_hyper(D)
    family = {
        k: family_member(trajectories, paper(D, eta=k * h.eta, steps=math.ceil(h.steps / k), seeds=SEEDS, device="cpu"))
        for k in ETAS
    }
    v = check(family)
    print("\nC15 healthy step-size family d = 32:", v.reason)
    assert v.status == "holds", v.reason
