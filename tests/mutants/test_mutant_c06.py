"""C6 must fail where the update is not the one the identity describes.

- a deliberately corrupted trajectory: the healthy paper run at d = 32 (4 seeds, real)
  with a of one neuron multiplied by 1 + 1e-2 at one step (t = T/2) in every seed — a
  relative residual of ≈ 1e-2 at steps T/2 - 1 and T/2, against a float32 tolerance of
  1e-4 (the healthy run's residual is ≈ 2e-7);
- the first_layer_only regime (a frozen, real run): a' = a while g_a ≠ 0, so the
  identity misses 2η a g_a - η² g_a² at every step, and |a| = θ while ‖w‖ grows
  (max_k|a²-‖w‖²| / max a² ≈ 200 > ζ).

The healthy paper run is asserted to hold: residual ≈ 2e-7 ≪ 1e-4 and max_k|a²-‖w‖²| /
max a² ≈ 0.02 ≪ ζ ≈ 0.29.
"""

from __future__ import annotations

import dataclasses

from lemmas.c06_layer_balance import check
from simulator import first_layer_only, paper

D, SEEDS = 32, 4


def healthy(trajectories):
    return trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "linear")))


def test_corrupted_trajectory_fails(trajectories):
    traj = healthy(trajectories)
    arrays = {k: v.copy() for k, v in traj.arrays.items()}  # the cached run itself is not touched
    t = traj.steps // 2
    arrays["a"][t, :, 0, 0] *= 1 + 1e-2
    v = check(dataclasses.replace(traj, arrays=arrays))
    print("\nC6 mutant corrupted a at one step, d = 32:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" and p["worst_step"] in (t - 1, t) for p in v.per_seed)


def test_frozen_second_layer_fails(trajectories):
    v = check(trajectories(first_layer_only(D, seeds=SEEDS, device="cpu", test_size=4000)))
    print("\nC6 mutant first_layer_only d = 32:", v.summary())
    assert v.status == "fails"
    assert v.stats["max_identity_residual"] > 100 * v.thresholds["identity_rtol"]


def test_healthy_paper_run_holds(trajectories):
    v = check(healthy(trajectories))
    print("\nC6 healthy paper d = 32:", v.summary())
    assert v.status == "holds"
