"""C2 must fail when the label sits on the wrong pair of coordinates.

The broken setting: the batches are the generator's own X (simulator.data.batch, seed by
seed) but the label is y = -x_2·x_3 while the config (and hence μ̂±, w_sig, S_t, T1)
says (0, 1). The network learns a feature the claim does not look at: ‖w_sig‖ is pure
noise, no neuron becomes signal-heavy and T1 is never reached, although the horizon
T = κ log d/η is far beyond 1.5 × the predicted T1 — a definite failure of the band on
every seed. Ladder d ∈ {16, 32}, 4 seeds, small test set (C2 reads no test metric).

The contrast: the healthy paper-regime ladder {16, 32, 64} with the same seeds must hold
(measured 2026-12-02: 0/4 seeds fail; rate ratio 0.83-0.90 against the band ±ζ,
T1/predicted 0.77-0.85 against [0.5, 1.5], share grown ≥ 0.92 against ≥ 0.76), so the
failure above is the mutation's, not the ladder's.
"""

from __future__ import annotations

from lemmas.c02_signal_finding import check
from simulator import paper, run
from tests.support.replay import wrong_pair_batches

SEEDS = 4


def test_label_on_wrong_pair_fails():
    cfgs = {d: paper(d, seeds=SEEDS, device="cpu", test_size=500, snapshots=2) for d in (16, 32)}
    ladder = {d: run(cfg, batches=wrong_pair_batches(cfg, (2, 3))) for d, cfg in cfgs.items()}
    v = check(ladder)
    print("\nC2 mutant (label on coordinates 2, 3):", v.summary())
    assert v.status == "fails"
    assert all(s["outcome"] == "fail" for s in v.per_seed)


def test_healthy_paper_ladder(trajectories):
    ladder = {d: trajectories(paper(d, seeds=SEEDS, device="cpu", test_size=2000)) for d in (16, 32, 64)}
    v = check(ladder)
    print("\nC2 healthy paper ladder {16, 32, 64}:", v.summary())
    assert v.status == "holds", v.summary()
