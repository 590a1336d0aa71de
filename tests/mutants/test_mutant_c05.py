"""C5 must fail where nothing balances the clusters. Real runs at d = 32, 4 seeds.

- the second layer frozen (first_layer_only): with a fixed at ±θ the network stays tiny,
  the loss never leaves its linear phase (T2 is never reached) and each cluster's clean
  margin is set by how many neurons happened to serve it: R_T from 1.35 to ∞ > 1 + ζ.
  The no-rise part is vacuous there, but R_T ≤ 1 + ζ is a statement at T and fails
  (see the decision in lemmas/c05_margin_balance.py);
- the proxy loss throughout (variants=("linear",) as the main run): h0' ≡ -1 weighs
  every cluster alike, so nothing pulls the smallest margin up; the margins grow
  geometrically at cluster-dependent rates and R_T is 2.8 to 4.5e5.

The healthy paper run at d = 32 with the same seeds must hold; it does with one seed of
four failing (2 allowed): that seed ends at R_T ≈ 1.39 > 1 + ζ ≈ 1.29 (at d = 64 all four
end ≤ 1.05; measured 2026-12-02).
"""

from __future__ import annotations

from lemmas.c05_margin_balance import check
from simulator import first_layer_only, paper

D, SEEDS = 32, 4


def test_frozen_second_layer_does_not_balance(trajectories):
    v = check(trajectories(first_layer_only(D, seeds=SEEDS, device="cpu", test_size=4000)))
    print("\nC5 mutant first_layer_only d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" and p["R_T"] > 1 + v.thresholds["zeta"] for p in v.per_seed)


def test_proxy_loss_throughout_does_not_balance(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("linear",), test_size=4000)))
    print("\nC5 mutant proxy loss throughout d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" for p in v.per_seed)


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "linear"))))
    print("\nC5 healthy paper d = 32:", v.summary())
    assert v.status == "holds", v.summary()
