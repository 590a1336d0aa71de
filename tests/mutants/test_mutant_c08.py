"""C8 must fail where the second layer does not amplify the finders.

Broken setting (real runs at d = 32, 4 seeds): sparse_finders whose second layer steps with
lr_ratio = 0.01 (joint training in name, |a| almost frozen): the same stratified init and
batches as the healthy run, but the finders keep about their uniform share of the output
mass (≈ 0.20 of it against the required 0.5; 0.15 in the frozen-a twin), so part (b) fails on
every seed. Part (a) alone would not catch it: the rank correlation of the first
signal-heavy step with the final |a| stays ≈ -1 (|a| still moves a little, in the order the
neurons found the signal), which is why the amplification is asserted on the mass in (b);
nor would (b)'s per-cluster clause alone, a direction test: the finders' per-cluster
amplification is still ≈ 1.2× the frozen twin's (median of the least cluster). The
whole-network share is what fails.

Where the second layer is frozen outright (first_layer_only, or a sparse_finders run whose
main variant is frozen_a) C8 is not defined (|a| = θ by construction): inconclusive, not a
mutant.

The contrasts (measured 2026-12-05): the healthy paper run holds (median Spearman ≈ -0.9); the
healthy sparse_finders run (p = 64, two finders per cluster) holds with the finders carrying
≈ 0.90 of the mass against ≈ 0.15 in the frozen-a twin, and in every cluster ≥ 3.5× more
amplified than in the twin (median of the least cluster).
"""

from __future__ import annotations

from lemmas.c08_amplification import CLAIM, check
from simulator import first_layer_only, paper, sparse_finders

D, SEEDS = 32, 4


def test_frozen_second_layer_is_not_defined():
    assert "joint training" in (CLAIM.applies(first_layer_only(D)) or "")
    assert CLAIM.applies(sparse_finders(D, variants=("frozen_a", "logistic")))


def test_second_layer_that_barely_trains_fails_b(trajectories):
    v = check(
        trajectories(
            sparse_finders(
                D, seeds=SEEDS, device="cpu", lr_ratio=0.01, variants=("logistic", "frozen_a"), test_size=4000
            )
        )
    )
    print("\nC8 mutant sparse_finders, lr_ratio = 0.01:", v.summary())
    assert v.status == "fails"
    assert all(s["b"] == "fail" and s["finder_share"] < v.thresholds["finder_share_min"] for s in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "frozen_a"), test_size=4000)))
    print("\nC8 healthy paper d = 32:", v.summary())
    assert v.status == "holds", v.summary()


def test_healthy_sparse_finders_hold(trajectories):
    v = check(
        trajectories(sparse_finders(D, seeds=SEEDS, device="cpu", variants=("logistic", "frozen_a"), test_size=4000))
    )
    print("\nC8 healthy sparse_finders d = 32:", v.summary())
    assert v.status == "holds", v.summary()
    assert v.stats["finder_share_median"] > 3 * v.stats["finder_share_frozen_median"], v.summary()
