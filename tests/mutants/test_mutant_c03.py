"""C3 must fail where the features found stop being the features of the task.

The designated broken setting is a non-stationary target: the paper run at d = 32 (4
seeds) replayed on its own minibatches (simulator.data.batch: the same x the generator
draws, so up to the switch it is the healthy run, bit for bit), but from step 150 on —
after T1 ≈ 64–81, before T2 ≈ 180 — the labels are y = -x_3 x_4 (coordinates 2, 3)
instead of -x_1 x_2. The signal plane of docs/SPEC.md §2 stays the one of (0, 1): the network
unlearns it and grows the new pair, which lies in w_perp, so S_t collapses to 0 a few
dozen steps after the switch on every seed. The inductive hypothesis relies on a
stationary population gradient pointing at μ̂±; this is the setting where it has none.

Why not the settings first suggested: at d = 32 neither the lazy start (large_init,
θ = 1) nor the proxy loss throughout (variants=("linear",)) breaks C3 — S_t rises
monotonically after T1 there as well (least S_t after T1: 0.712 and 0.714 against
1 - ζ = 0.711, i.e. S_t is lowest at T1 itself; measured 2026-12-02, not asserted: a
setting that does not break the claim proves nothing about the check). The healthy run
itself must hold (0/4 seeds fail, least S_t after T1 0.7135): the switch, not the ladder
size, is what fails.
"""

from __future__ import annotations

import numpy as np

from lemmas.c03_signal_heavy import check
from simulator import engine, paper
from tests.support.replay import relabelled_batches

D, SEEDS, SWITCH = 32, 4, 150
COUPLED = ("logistic", "linear")


def test_target_switch_after_T1_fails(trajectories):
    cfg = paper(D, seeds=SEEDS, device="cpu", variants=COUPLED)
    healthy = trajectories(cfg)
    traj = engine.run(cfg, batches=relabelled_batches(cfg, lambda t: cfg.pair if t < SWITCH else (2, 3)))
    np.testing.assert_array_equal(traj.T1(), healthy.T1())  # the same run up to the switch
    assert (healthy.T1() < SWITCH).all()
    v = check(traj)
    print("\nC3 mutant target switched to (x_3, x_4) at t = 150, d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" and SWITCH <= p["first_drop"] < SWITCH + 60 for p in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=COUPLED)))
    print("\nC3 healthy paper d = 32:", v.summary())
    assert v.status == "holds", v.summary()
