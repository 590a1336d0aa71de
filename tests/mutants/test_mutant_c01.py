"""C1 must fail where phase one is not linear: the lazy start (large_init, θ = 1).

With θ = 1 the network's output is O(1) from step 0, so max|h'+1| ≥ ζ on the very first
minibatch (T2 = 0 on most seeds) while the features are found only at T1 ≈ 70: T1 > T2,
and the coupled proxy run drifts away (‖w - w^0‖/‖w^0‖ ≈ 0.3–0.6 > ζ before T1). Real runs
at d = 32, 4 seeds, each with its coupled linear proxy (same init, same batches).

The second broken setting is the one where the features are never found while the loss leaves
its linear regime: the paper run at d = 32 replayed on its own minibatches labelled on the
wrong pair (x_3, x_4) while the signal plane and the test set say (x_1, x_2), over C1's
coupled window (4 linearized T1 predictions, 359 steps): S_t stays 0 (T1 never), the network
grows the other pair and the batch max|h'+1| reaches ζ at T2 ≈ 182–190. T1 > T2: every seed
fails (it was 'na', and the verdict inconclusive, before).

The healthy paper run at d = 32 is asserted to hold: its margins are wide (max|h'+1| ≈ 7e-4
against ζ ≈ 0.29 up to T1 ≈ 70, T2 ≈ 190, proxy distance ≈ 0.01).
"""

from __future__ import annotations

from lemmas.c01_phase1_linearization import check
from lemmas.plan import Example, proxy_run
from simulator import engine, large_init, paper
from tests.support.replay import wrong_pair_batches

D, SEEDS = 32, 4
COUPLED = ("logistic", "linear")


def test_large_init_is_not_linear_in_phase_one(trajectories):
    v = check(trajectories(large_init(D, seeds=SEEDS, device="cpu", variants=COUPLED, test_size=4000)))
    print("\nC1 mutant large_init d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" for p in v.per_seed)
    assert v.stats["max_batch_dev_to_T1"] > v.thresholds["zeta"]


def test_loss_leaving_linear_regime_with_features_never_found_fails():
    cfg = paper(D, seeds=SEEDS, device="cpu", variants=COUPLED)
    cfg = cfg.replace(steps=proxy_run(Example("paper", D, seeds=SEEDS)).steps)  # C1's coupled window
    traj = engine.run(cfg, batches=wrong_pair_batches(cfg, (2, 3)))
    v = check(traj)
    print("\nC1 mutant wrong pair (x_3, x_4), d = 32:", v.summary())
    assert (traj.T1() == -1).all() and (traj.T2() >= 0).all()
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" and "T1 > T2" in p["why"] for p in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=COUPLED)))
    print("\nC1 healthy paper d = 32:", v.summary())
    assert v.status == "holds"
