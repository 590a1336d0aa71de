"""C14 must fail where the width changes what SGD does above the threshold. d = 32, 8 seeds.

The designated broken setting omits the mean-field gradient scaling (docs/SPEC.md §1: the gradients
are multiplied by p): then every neuron's step is η·⌈1/ψ⌉/p instead of η, so at p = 2× and 4× ⌈1/ψ⌉ the
run steps with ψ/2 and ψ/4 for the paper's horizon T — half and a quarter of the η·T the theorem
needs. Simulated as the width family with η = ψ·⌈1/ψ⌉/p and T fixed. At 4× phase two is cut short:
the clean cluster margins are not balanced at T on any seed (C5 fails 8/8 against 1/8 at 1×; Fisher
p = 0.0014 < 0.05/12; C12 is na there, t_max > T). Measured 2026-12-05.

The healthy width family (η = ψ at every width) must hold.
"""

from __future__ import annotations

import math

from lemmas.base import THRESHOLDS
from lemmas.c14_width import check
from simulator import paper, paper_hyper

D, SEEDS = 32, 8
WIDTHS = (*THRESHOLDS.c14_widths, *THRESHOLDS.c14_widths_below)


def test_width_without_the_mean_field_scaling_fails(trajectories):
    h = paper_hyper(D)
    family = {}
    for k in WIDTHS:
        p = math.ceil(k * h.p)
        family[k] = trajectories(paper(D, p=p, eta=h.eta * h.p / p, steps=h.steps, seeds=SEEDS, device="cpu"))
    v = check(family)
    print("\nC14 mutant η = ψ·⌈1/ψ⌉/p (no mean-field ×p), d = 32:", v.reason)
    assert v.status == "fails"
    assert "at 4x" in v.reason and v.stats["C5_4x_fail_rate"] == 1.0


def test_healthy_width_family_holds(trajectories):
    h = paper_hyper(D)
    v = check({k: trajectories(paper(D, p=math.ceil(k * h.p), seeds=SEEDS, device="cpu")) for k in WIDTHS})
    print("\nC14 healthy width family d = 32:", v.reason)
    assert v.status == "holds", v.reason
