"""C9 main theorem on hand-built trajectories: the final snapshot's test-error count is set.

The rule is the upper end of the 95% Clopper–Pearson interval of the final test error
against ε = 0.01, per seed, on a test set of at least 20 000 points.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c09_main_theorem import CLAIM, check
from simulator import RunConfig, first_layer_only, gaussian, paper, parity3
from simulator.population import clopper_pearson
from tests.support import panels
from tests.support.synthetic import make_trajectory

D, P, R, T = 32, 4, 4, 20
SNAPS = [0, 10, T]


def build(final_errors, *, test_size: int = 20_000, snaps=SNAPS, loss: float = 0.05, regime: str = "custom"):
    """final_errors: the error count at the last snapshot, one value or one per seed."""
    cfg = RunConfig(
        d=D, p=P, m=4, eta=0.1, theta=0.1, steps=T, seeds=R, device="cpu", test_size=test_size, regime=regime
    )
    S = len(snaps)
    counts = np.zeros((S, R, 1))
    counts[0] = 0.5 * test_size
    counts[-1, :, 0] = final_errors
    return make_trajectory(cfg, T=T, snap_steps=snaps, test_err_count=counts, test_loss=loss)


def test_zero_errors_holds():
    v = check(build(0))
    assert v.status == "holds", v.summary()
    assert v.stats["final_error_hi_max"] == pytest.approx(float(clopper_pearson(0, 20_000)[1]))
    assert v.stats["final_loss_median"] == pytest.approx(0.05)
    assert v.thresholds["eps"] == THRESHOLDS.eps
    json.dumps(v.to_dict())
    panel = v.series["test_error"]
    assert list(panels.median(panel).x) == [float(s) for s in SNAPS] and panels.median(panel).y[0] == 0.5
    assert len(panels.bands(panel)) == R and panels.hlines(panel)["ε"] == THRESHOLDS.eps


def test_large_error_fails():
    v = check(build(600))  # 3%
    assert v.status == "fails"
    assert "upper end ≥ ε" in v.per_seed[0]["why"]


def test_point_estimate_below_eps_but_interval_above_fails():
    n = 20_000
    k = 180  # 0.9% < ε, but the upper 95% bound is ≈ 1.04%
    assert k / n < THRESHOLDS.eps < float(clopper_pearson(k, n)[1])
    assert check(build(k)).status == "fails"
    assert check(build(150)).status == "holds"  # 0.75%, upper bound ≈ 0.88%


def test_one_failing_seed_of_four_still_holds():
    v = check(build([0, 0, 1000, 0]))
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["pass", "pass", "fail", "pass"]


def test_small_test_set_is_inconclusive():
    v = check(build(0, test_size=1000))
    assert v.status == "inconclusive"
    assert "test set of 1000 points" in v.reason


def test_run_stopped_before_its_horizon_is_inconclusive():
    v = check(build(0, snaps=[0, 10, 15]))
    assert v.status == "inconclusive"
    assert "not at the horizon" in v.reason


def test_defined_in_every_regime():
    assert all(CLAIM.applies(build(16)) is None for build in (paper, parity3, gaussian, first_layer_only))
    assert check(build(0, regime="parity3")).status == "holds"


def test_claim_record():
    assert CLAIM.id == "C9" and CLAIM.slug == "main_theorem" and CLAIM.needs == "run"
