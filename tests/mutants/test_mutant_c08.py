"""C8 must fail where the second layer does not train.

Broken settings (real runs at d = 32, 4 seeds):
- first_layer_only: a is frozen at ±θ, so the final |a| is constant and carries no
  amplification: ρ := 0 > -0.5, part (a) fails on every seed;
- sparse_finders without joint training: the same init and batches with the frozen_a
  variant as the main run: the finders keep about their uniform share of the output mass
  (≈ 0.19 against the required 0.5), part (b) fails on every seed.

The contrasts (measured 2026-12-02): the healthy paper run holds (0/4 seeds fail,
median Spearman -0.87); the healthy sparse_finders run itself fails C8 at d = 32 (3/4
seeds: ⌈13/8⌉ = 2 finders for 4 clusters hold only ≈ half the mass, median 0.495, and
some seeds leave a cluster unlearned by T), so what is asserted there is the
amplification the mutant removes: with joint training the finders hold more than twice
the share they keep when a is frozen on the same init and batches (0.495 against 0.188).
"""

from __future__ import annotations

from lemmas.c08_amplification import check
from simulator import first_layer_only, paper, sparse_finders

D, SEEDS = 32, 4


def test_frozen_second_layer_fails_a(trajectories):
    v = check(trajectories(first_layer_only(D, seeds=SEEDS, device="cpu", test_size=2000)))
    print("\nC8 mutant first_layer_only:", v.summary())
    assert v.status == "fails"
    assert all(s["a"] == "fail" and s["spearman"] == 0.0 for s in v.per_seed)


def test_sparse_finders_without_joint_training_fails_b(trajectories):
    v = check(
        trajectories(sparse_finders(D, seeds=SEEDS, device="cpu", variants=("frozen_a", "logistic"), test_size=4000))
    )
    print("\nC8 mutant sparse_finders, main run frozen_a:", v.summary())
    assert v.status == "fails"
    assert all(s["b"] == "fail" for s in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "frozen_a"), test_size=4000)))
    print("\nC8 healthy paper d = 32:", v.summary())
    assert v.status == "holds", v.summary()


def test_healthy_sparse_finders_amplify_the_finders(trajectories):
    v = check(trajectories(sparse_finders(D, seeds=SEEDS, device="cpu", variants=("logistic", "frozen_a"))))
    print("\nC8 healthy sparse_finders d = 32:", v.summary())
    assert v.stats["finder_share_median"] > 2 * v.stats["finder_share_frozen_median"], v.summary()
