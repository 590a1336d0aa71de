"""C11 must fail when phase one is not Θ(log d / η) across the ladder.

The broken setting: a layer-unbalanced initialization with a d-dependent ratio,
a_k = θ (d/16)² ε_k while ‖w_k‖ = θ (the paper has |a_k| = ‖w_k‖ = θ). The phase-one rate
of ‖w_sig‖ is cη|a|/(√(2π)‖w_perp‖) (C2), so phase one lasts Θ(log d / (η (d/16)²)): the
exponent of log d in T1·η/(½ log d + log(1/ζ)) is far below the band (−½, ½) on the ladder
{16, 32, 64} (measured 2026-12-05, 8 seeds: −5.36, 95% CI [−5.67, −5.04]; the output stays
tiny, |a|·θ ≤ 16θ² ≈ 0.003, so the loss is still linear in phase one).

Settings tried and found NOT to break the claim (so not used): large_init (θ = 1: the growth
rate |a|/‖w_perp‖ is scale-free), and the same η and horizon for every d (the check
normalizes by each rung's own η, and T1 scales as 1/η).

The contrast: the healthy paper ladder {16, 32, 64} with the same 8 seeds. Its phase one
holds (measured 2026-12-05: exponent −0.00, 95% CI [−0.34, 0.34]); its phase two is
undecided on this ladder (exponent −0.74, CI [−1.39, −0.10]: at d ≤ 64 the tuning phase,
(T_L − T1)·η ≈ 14.4 at d = 16 rising to ≈ 16.4 at d = 64, grows more slowly than log log d,
and the two seeds that d = 16 barely teaches add spread), so the contrast asks for phase one
to hold and the claim not to fail: the failure above is the mutation's, not the ladder's.
"""

from __future__ import annotations

import torch

from lemmas.c11_phase_lengths import check
from simulator import RunConfig, Trajectory, data, paper, run

SEEDS = 8


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
    assert v.status == "fails" and "phase one" in v.reason
    assert v.stats["phase1_exponent_hi"] < -0.5
    assert all(s["outcome"] == "fail" for s in v.per_seed)


def test_healthy_paper_ladder(trajectories):
    ladder = {d: trajectories(paper(d, seeds=SEEDS, device="cpu", test_size=2000)) for d in (16, 32, 64)}
    v = check(ladder)
    print("\nC11 healthy paper ladder {16, 32, 64}:", v.summary())
    assert v.status != "fails", v.summary()
    assert -0.5 <= v.stats["phase1_exponent_lo"] <= v.stats["phase1_exponent_hi"] <= 0.5, v.summary()
