"""C7 must fail on its designated broken setting: a batch of one sample (m = 1).

With m = 1 the per-sample noise is not averaged at all: noise/drift ≈ √d·const ≫ 1, and
the gain from m = 1 to m = d is √(1/d) < 1. Real one-step simulations (d = 64, 8 seeds,
well under a second each). The healthy paper regime at the same d is printed and, being
robust there (median ratio ≈ 0.6–0.8 over twelve disjoint seed sets, gain ≈ 4), asserted.
"""

from __future__ import annotations

import torch

from lemmas.base import THRESHOLDS
from lemmas.c07_gradient_concentration import check
from simulator import RunConfig, paper, run, small_batch

D, SEEDS = 64, 8


def gradient_runs(cfg: RunConfig) -> dict:
    """The three one-step runs the C7 docstring prescribes, from one regime config."""
    cfg = cfg.replace(steps=1, snapshots=2, test_size=1000, device="cpu")
    cfgs = {
        "regime": cfg,
        "m_d": cfg.replace(m=cfg.d),
        "drift": cfg.replace(m=THRESHOLDS.c7_drift_batch_factor * cfg.m, data_offset=1),
    }
    return {k: run(c) for k, c in cfgs.items()}


def _threads() -> None:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def test_batch_of_one_fails():
    _threads()
    v = check(gradient_runs(paper(D, seeds=SEEDS, m=1)))
    print("\nC7 mutant m = 1:", v.summary())
    assert v.status == "fails"
    assert v.stats["ratio_median"] > THRESHOLDS.c7_ratio_max
    assert v.stats["gain"] < THRESHOLDS.c7_batch_gain


def test_small_batch_regime_fails():
    _threads()
    v = check(gradient_runs(small_batch(D, seeds=SEEDS)))  # m = d: the gain is exactly 1
    print("\nC7 small_batch (m = d):", v.summary())
    assert v.status == "fails"


def test_healthy_paper_regime():
    _threads()
    v = check(gradient_runs(paper(D, seeds=SEEDS)))
    print("\nC7 healthy paper d = 64:", v.summary())
    assert v.status == "holds"
