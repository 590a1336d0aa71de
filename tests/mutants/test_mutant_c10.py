"""C10 must fail when the theorem's algorithm needs an extra factor d of samples (n ∝ d²·log^5 d).

Why the designated mutant is hand-built, not simulated: C10 reads the paper regime's ladder
64 … 1024 (the C2/C11 runs; the d = 1024 rung alone is ≈ 20 TFLOP a seed), and a genuinely
broken algorithm with T_ε ∝ d·log d/η would need ≈ 16× the paper's steps at d = 1024 — hours.
So the mutant is the check fed ladders built exactly like the runs it reads (the paper
regime's m, η and snapshot grid on every rung, test error 0.5 before T_ε and 0 after), with
T_ε growing like d·log d/η (a step effectively η/d: a broken simulator), run past the
theorem's T so that T_ε is seen. A second test reads two real paper runs (d = 16, 32,
8 seeds, stopped after the phases) and checks that C10 reads their T_ε as C11 does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lemmas.base import THRESHOLDS
from lemmas.c10_sample_complexity import check, samples_to_eps
from lemmas.c11_phase_lengths import t_eps
from simulator import paper, run
from tests.support.c10_ladders import ladder_from, theorem_rate


def test_extra_factor_d_fails() -> None:
    v = check(ladder_from(lambda d: theorem_rate()(d) * d / 64, beyond_t=True))
    print("\nC10 mutant T_ε ∝ d·log d/η:", v.summary())
    assert v.status == "fails"
    assert v.stats["beta_lo"] > THRESHOLDS.c10_exponent_band[1]


def test_extra_factor_sqrt_d_is_not_a_pass() -> None:
    """An extra √d (β = 0.5, the band's end) is never 'holds'."""
    v = check(ladder_from(lambda d: theorem_rate()(d) * math.sqrt(d / 64), beyond_t=True))
    assert v.status != "holds", v.summary()


def test_theorem_rate_holds() -> None:
    v = check(ladder_from(theorem_rate()))
    print("\nC10 T_ε = 1.7 log d/η:", v.summary())
    assert v.status == "holds"


def test_real_runs_are_read_as_c11_reads_them() -> None:
    torch.set_num_threads(1)
    ladder = {d: run(paper(d, seeds=8, device="cpu", stop_phases=THRESHOLDS.eps)) for d in (16, 32)}
    for traj in ladder.values():
        te = t_eps(traj)
        expect = np.where(te > 0, traj.config.m * te.astype(float), np.inf)
        np.testing.assert_array_equal(samples_to_eps(traj).hi, expect)
    v = check(ladder)
    print("\nC10 real paper runs d = 16, 32:", v.summary())
    assert v.status == "inconclusive" and "spans 2×" in v.reason
