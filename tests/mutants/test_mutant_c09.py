"""C9 must fail where SGD cannot learn the task in the paper's horizon. d = 32, 4 seeds.

- batch size 1 with the paper's T = 500 steps (simulator.paper(32, m=1)): n = 500
  samples, far below d·polylog(d) — the features are never found and the test error
  at T is 0.3–0.5;
- the label on the wrong pair: a run driven by explicit batches whose x are the run's own
  minibatches (simulator.data.batch) but whose y = -x_3 x_4, while the config (and so the
  test set) says y = -x_1 x_2: the network learns the other XOR, which is uncorrelated
  with the test labels (test error ≈ 0.5).

The healthy paper run is asserted to hold: test error 0 on 20 000 points for every
seed (upper 95% bound 1.8e-4 < ε = 0.01).
"""

from __future__ import annotations

from lemmas.c09_main_theorem import check
from simulator import engine, paper
from tests.support.replay import wrong_pair_batches

D, SEEDS = 32, 4


def test_batch_size_one_fails(trajectories):
    v = check(trajectories(paper(D, m=1, seeds=SEEDS, device="cpu")))
    print("\nC9 mutant m = 1 with the paper's steps, d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" for p in v.per_seed)


def test_label_on_the_wrong_pair_fails():
    cfg = paper(D, seeds=SEEDS, device="cpu")
    v = check(engine.run(cfg, batches=wrong_pair_batches(cfg, (2, 3))))
    print("\nC9 mutant trained on -x_3 x_4, tested on -x_1 x_2, d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["error"] > 0.4 for p in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "linear"))))
    print("\nC9 healthy paper d = 32:", v.summary())
    assert v.status == "holds"
