"""C11 must fail when phase one is not Θ(log d / η) across the ladder.

The broken setting: a layer-unbalanced initialization with a d-dependent ratio,
a_k = θ (d/16)² ε_k while ‖w_k‖ = θ (the paper has |a_k| = ‖w_k‖ = θ). The phase-one rate
of ‖w_sig‖ is η|a|/(√(2π)‖w_perp‖) (C2), so phase one lasts Θ(log d / (η (d/16)²)): T1·η/log d
falls by ≈ 3× per doubling of d and leaves the factor-2 band around its median on every
seed (ladder {16, 32, 64}, 4 seeds; the output stays tiny, |a|·θ ≤ 16θ² ≈ 0.003, so the loss
is still linear and nothing else changes).

Settings tried and found NOT to break the claim (so not used): large_init (θ = 1;
T1·η/log d ≈ 2.1, 1.9, 2.0 on {16, 32, 64}: the growth rate |a|/‖w_perp‖ is scale-free),
the same η and horizon for every d (the check normalizes by each rung's own η, and T1
scales as 1/η), and the milder imbalance a_k = θ (d/16) ε_k (T1·η/log d ≈ 1.8, 1.1, 0.6:
within a factor 2 of the median on a 4× ladder — the limit of this test's power).

The contrast: the healthy paper ladder {16, 32, 64} with the same seeds must hold
(measured 2026-12-02: 0/4 seeds fail; T1·η/log d = 1.83, 1.66, 1.79).
"""

from __future__ import annotations

import torch

from lemmas.c11_phase_lengths import check
from simulator import RunConfig, Trajectory, data, paper, run

SEEDS = 4


def unbalanced_run(cfg: RunConfig, power: float = 2.0) -> Trajectory:
    """cfg's seeded init with the second layer scaled by (d/16)^power."""
    seeds = [cfg.seed + r for r in range(cfg.seeds)]
    W0, a0 = data.init_params(
        seeds, cfg.p, cfg.d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, torch.float32, torch.device("cpu")
    )
    return run(cfg, init=(W0, a0 * (cfg.d / 16) ** power))


def test_unbalanced_init_fails():
    ladder = {d: unbalanced_run(paper(d, seeds=SEEDS, device="cpu", test_size=500, snapshots=2)) for d in (16, 32, 64)}
    v = check(ladder)
    print("\nC11 mutant (a = θ(d/16)² ε):", v.summary())
    assert v.status == "fails"
    assert all(s["outcome"] == "fail" for s in v.per_seed)


def test_healthy_paper_ladder(trajectories):
    ladder = {d: trajectories(paper(d, seeds=SEEDS, device="cpu", test_size=2000)) for d in (16, 32, 64)}
    v = check(ladder)
    print("\nC11 healthy paper ladder {16, 32, 64}:", v.summary())
    assert v.status == "holds", v.summary()
