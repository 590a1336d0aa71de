"""C7 must fail on its designated broken settings.

* A batch of one sample (m = 1): the per-sample noise is not averaged at all, noise/drift at
  t = 0 is ≈ √d·const ≫ 1 and the gain from m = 1 to m = d is √(1/d) < 1; along phase one the
  perpendicular noise moves every neuron by far more than ζ of its norm.
* A step 16× the theorem's η = ψ: nothing at t = 0 depends on η, so (a) and (b) hold, but the
  perpendicular noise accumulated over phase one grows like √η (√Σ η²‖g_perp‖² over ~1/η steps):
  ≈ 4 × 0.12 against ζ(64) = 0.24. Only the along-the-trajectory part (c) can see it.

Real simulations at d = 64, 8 seeds: the three one-step runs and a phase-one prefix of the
regime's own run (2× the linearized T1, which the check reads up to the measured T1). The
healthy paper regime at the same d is printed and, being robust there (median ratio ≈ 0.6–0.8
over twelve disjoint seed sets, gain ≈ 4, phase-one perpendicular noise ≈ 0.12), asserted.
"""

from __future__ import annotations

import math

from lemmas.base import THRESHOLDS
from lemmas.c07_gradient_concentration import check
from lemmas.plan import linearized_t1
from simulator import RunConfig, paper, run, small_batch

D, SEEDS = 64, 8


def gradient_runs(cfg: RunConfig) -> dict:
    """The four runs the C7 docstring prescribes, from one regime config (the trajectory: its phase-one prefix)."""
    cfg = cfg.replace(test_size=1000, device="cpu")
    one = cfg.replace(steps=1, snapshots=2)
    cfgs = {
        "regime": one,
        "m_d": one.replace(m=cfg.d),
        "drift": one.replace(m=THRESHOLDS.c7_drift_batch_factor * cfg.m, data_offset=1),
        "trajectory": cfg.replace(steps=min(cfg.steps, math.ceil(2 * linearized_t1(cfg)))),
    }
    return {k: run(c) for k, c in cfgs.items()}


def test_batch_of_one_fails():
    v = check(gradient_runs(paper(D, seeds=SEEDS, m=1)))
    print("\nC7 mutant m = 1:", v.summary())
    assert v.status == "fails"
    assert v.stats["ratio_median"] > THRESHOLDS.c7_ratio_max
    assert v.stats["gain"] < THRESHOLDS.c7_batch_gain
    assert v.stats["phase_one_perp_noise_max"] > THRESHOLDS.zeta(D)


def test_large_step_fails_only_along_phase_one():
    cfg = paper(D, seeds=SEEDS)
    v = check(gradient_runs(cfg.replace(eta=16 * cfg.eta)))
    print("\nC7 mutant η = 16ψ:", v.summary())
    assert v.status == "fails"
    assert v.stats["ratio_median"] <= THRESHOLDS.c7_ratio_max and v.stats["gain"] >= THRESHOLDS.c7_batch_gain
    assert v.reason.startswith("the perpendicular noise is not small along phase one")


def test_small_batch_regime_fails():
    v = check(gradient_runs(small_batch(D, seeds=SEEDS)))  # m = d: the gain is exactly 1
    print("\nC7 small_batch (m = d):", v.summary())
    assert v.status == "fails"


def test_healthy_paper_regime():
    v = check(gradient_runs(paper(D, seeds=SEEDS)))
    print("\nC7 healthy paper d = 64:", v.summary())
    assert v.status == "holds"
