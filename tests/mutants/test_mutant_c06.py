"""C6 must fail where the update is not the one the identity describes.

- a deliberately corrupted trajectory: the healthy paper run at d = 32 (4 seeds, real)
  with a of one neuron multiplied by 1 + 1e-2 at one step (t = T/2) in every seed — a
  relative residual of ≈ 1e-2 at steps T/2 - 1 and T/2, against a float32 tolerance of
  1e-4 (the healthy run's residual is ≈ 2e-7);
- the first_layer_only regime (a frozen, real run): a' = a while g_a ≠ 0, so the
  identity misses 2η a g_a - η² g_a² at every step, and |a| = θ while ‖w‖ grows
  (max_k|a²-‖w‖²| / max a² ≈ 200 > ζ).

- a run with weight decay λ = 0.05 and second-layer step ratio r = 2 whose stored config is
  relabelled λ = 0, r = 1: C6 then checks the paper's identity on an update that has the
  cross term -2η a g_a (rv - u) and the decay, and must fail (the healthy run's residual is
  ≈ 2e-7 under its own λ, r).

The healthy paper run is asserted to hold: residual ≈ 2e-7 ≪ 1e-4 and max_k|a²-‖w‖²| /
max a² ≈ 0.02 ≪ ζ ≈ 0.29. So are the knob runs read with their own λ, r: with r = 1 and
λ = 0.05 the balance is still in the verdict (≈ 0.02); with r = 2 (λ = 0) it is reported as
a finding, at ≈ 1 - 1/r = 0.5 > ζ (|a| ≈ √r ‖w‖), and does not fail the run.
"""

from __future__ import annotations

import dataclasses

import pytest

from lemmas.c06_layer_balance import check
from simulator import first_layer_only, paper

D, SEEDS = 32, 4
KNOBS = dict(weight_decay=0.05, lr_ratio=2.0)


def healthy(trajectories, **knobs):
    return trajectories(paper(D, seeds=SEEDS, device="cpu", variants=("logistic", "linear"), **knobs))


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


def test_knob_run_read_as_the_paper_update_fails(trajectories):
    traj = healthy(trajectories, **KNOBS)
    relabelled = dataclasses.replace(traj, config=traj.config.replace(weight_decay=0.0, lr_ratio=1.0))
    v = check(relabelled)
    print("\nC6 mutant λ = 0.05, r = 2 read as λ = 0, r = 1, d = 32:", v.summary())
    assert v.status == "fails"
    assert v.stats["max_identity_residual"] > 100 * v.thresholds["identity_rtol"]
    assert all("identity residual" in p["why"] for p in v.per_seed)


@pytest.mark.parametrize("knobs", [dict(weight_decay=0.05), dict(lr_ratio=2.0)], ids=["decay", "ratio"])
def test_healthy_knob_runs_hold_with_their_own_update(trajectories, knobs):
    v = check(healthy(trajectories, **knobs))
    print(f"\nC6 healthy paper d = 32 with {knobs}:", v.summary())
    assert v.status == "holds"
    assert v.stats["max_identity_residual"] < 1e-5
    if knobs.get("lr_ratio", 1.0) == 1.0:
        assert v.thresholds["balance_max"] == v.thresholds["zeta"] > v.stats["max_balance_ratio"]
    else:
        assert "balance_max" not in v.thresholds and "lr_ratio" in v.thresholds["balance_finding_only"]
        # λ = 0: a²/r - ‖w‖² is conserved to O(η²), so a² ≈ r‖w‖² once the weights have grown
        assert v.stats["final_balance_ratio_median"] == pytest.approx(1 - 1 / knobs["lr_ratio"], abs=0.05)
