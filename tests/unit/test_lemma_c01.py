"""C1 phase-one linearization on hand-built trajectories whose verdict is known by construction.

Every neuron has a = 1, ‖w_perp‖ = 1, ‖w_opp‖ = 0 and ‖w_sig‖ jumping from 0 to 10 at step
T1 (signal-heavy from then on: 10·ζ ≥ 1 at d = 32, ζ ≈ 0.29); the batch's max|h'+1| is
0.01 before step T2 and 0.5 from T2 on. The proxy run (variant 1) is a copy of the main
run unless a test moves it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c01_phase1_linearization import CLAIM, check
from simulator import RunConfig, first_layer_only, paper, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory
from tests.support.violations import assert_violation_agrees

D, P, R, T = 32, 4, 4, 40
SNAPS = [0, 4, 8, 12, 16, 20, 30, T]
Z = 1 / math.log(D)


def build(
    t1: int | None = 10,
    t2: int | None = 25,
    *,
    variants=("logistic", "linear"),
    regime: str = "custom",
    label_coords=(0, 1),
    test_dev: float = 0.01,
    proxy_shift_snap: dict[int, float] | None = None,
    proxy_shift_step: dict[int, float] | None = None,
):
    """t1 / t2: the step where S reaches 1-ζ / where max|h'+1| reaches ζ (None: never).

    proxy_shift_snap {snapshot index: relative distance}: move the proxy's snap_W there;
    proxy_shift_step {step: relative distance}: move the proxy's recorded w_i at that step.
    """
    V = len(variants)
    cfg = RunConfig(
        d=D,
        p=P,
        m=4,
        eta=0.1,
        theta=0.1,
        steps=T,
        seeds=R,
        variants=variants,
        device="cpu",
        test_size=1000,
        regime=regime,
        label_coords=label_coords,
    )
    t = np.arange(T)
    s = np.where(t >= (T + 1 if t1 is None else t1), 10.0, 0.0)[:, None, None, None]
    s = np.broadcast_to(s, (T, R, V, P)).copy()
    K = len(label_coords)
    w_coords = np.zeros((T, R, V, P, K))
    w_coords[..., 0], w_coords[..., 1] = s / math.sqrt(2), -s / math.sqrt(2)  # ⟨w, μ̂+⟩ = s
    dev = np.where(t >= (T + 1 if t2 is None else t2), 0.5, 0.01)[:, None, None]
    S = len(SNAPS)
    snap_W = np.zeros((S, R, V, P, D))
    snap_W[..., 2] = 1.0  # the perpendicular part, norm 1
    for k, step in enumerate(SNAPS):
        sk = 10.0 if t1 is not None and step >= t1 else 0.0
        snap_W[k, ..., 0], snap_W[k, ..., 1] = sk / math.sqrt(2), -sk / math.sqrt(2)
    if V > 1:
        for k, rel in (proxy_shift_snap or {}).items():
            norm = np.linalg.norm(snap_W[k, :, 0], axis=-1)
            snap_W[k, :, 0, :, 3] += rel * norm  # main run moved off the proxy by rel·‖w^0‖
        for step, rel in (proxy_shift_step or {}).items():
            norm = np.sqrt(s[step, :, 1] ** 2 + 1.0)
            w_coords[step, :, 0, :, 0] += rel * norm
    return make_trajectory(
        cfg,
        T=T,
        snap_steps=SNAPS,
        a=1.0,
        w_perp=1.0,
        w_coords=w_coords,
        batch_max_dev=np.broadcast_to(dev, (T, R, V)),
        snap_a=1.0,
        snap_W=snap_W,
        test_max_dev=test_dev,
    )


def test_linear_until_found_holds():
    v = check(build(10, 25))
    assert v.status == "holds", v.summary()
    assert v.stats["T1_median"] == 10 and v.stats["T2_median"] == 25
    assert v.stats["max_batch_dev_to_T1"] == pytest.approx(0.01)
    assert v.stats["max_proxy_dist_snap_to_T1"] == 0.0
    assert v.thresholds["zeta"] == pytest.approx(Z)
    json.dumps(v.to_dict())
    panel = v.series["batch_max_dev"]
    assert len(panels.median(panel).x) == T and len(panels.curves(panel, "seed")) == R
    assert panels.hlines(panel)["ζ"] == pytest.approx(Z) and panels.vlines(panel)["T1 (median)"] == 10
    assert panels.round_trips(panel)


def test_loss_leaves_linear_regime_first_fails():
    v = check(build(25, 10))
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" for p in v.per_seed)
    assert "T1 = 25 > T2 = 10" in v.per_seed[0]["why"]


def test_T1_equal_T2_fails_on_the_deviation_at_T1():
    v = check(build(10, 10))  # T1 ≤ T2 holds, but max|h'+1| = 0.5 > ζ at t = T1
    assert v.status == "fails"
    assert "batch max|h'+1|" in v.per_seed[0]["why"]


def test_never_leaving_linear_regime_counts_as_T2_infinite():
    v = check(build(10, None))
    assert v.status == "holds", v.summary()
    assert v.stats["T2_median"] == math.inf


def test_test_set_deviation_before_T1_fails():
    v = check(build(10, 25, test_dev=0.5))
    assert v.status == "fails"
    assert "test max|h'+1|" in v.per_seed[0]["why"]


def test_proxy_drifting_before_T1_fails_at_a_snapshot():
    v = check(build(10, 25, proxy_shift_snap={2: 2 * Z}))  # snapshot step 8 ≤ T1
    assert v.status == "fails"
    assert v.stats["max_proxy_dist_snap_to_T1"] == pytest.approx(2 * Z)


def test_proxy_drift_after_T1_is_not_part_of_the_claim():
    v = check(build(10, 25, proxy_shift_snap={5: 2 * Z}))  # snapshot step 20 > T1
    assert v.status == "holds", v.summary()


def test_proxy_drift_between_snapshots_is_caught_by_the_per_step_bound():
    v = check(build(10, 25, proxy_shift_step={6: 2 * Z}))  # step 6 is not a snapshot
    assert v.status == "fails"
    assert v.stats["max_proxy_dist_snap_to_T1"] == 0.0
    assert v.stats["max_proxy_dist_step_lb_to_T1"] == pytest.approx(2 * Z)


def test_one_failing_seed_of_four_still_holds():
    traj = build(10, 25)
    traj.arrays["batch_max_dev"][3, 0, 0] = 0.9  # seed 0 deviates at t = 3 < T1
    v = check(traj)
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["fail", "pass", "pass", "pass"]


def test_loss_leaving_linear_regime_before_features_are_found_fails():
    v = check(build(None, 25))  # T2 = 25 reached, T1 never (beyond the 40 recorded steps): T1 > T2
    assert v.status == "fails", v.summary()
    assert [p["outcome"] for p in v.per_seed] == ["fail"] * R
    assert "T1 > T2 = 25: T1 not reached in the 40 recorded steps" in v.per_seed[0]["why"]
    assert "batch max|h'+1| = 0.5" in v.per_seed[0]["why"]  # (b) read over every recorded step
    assert v.stats["max_batch_dev_to_T1"] == pytest.approx(0.5)
    assert v.stats["seeds_unevaluable"] == 0 and math.isnan(v.stats["T1_median"])  # no seed reached T1
    assert v.per_seed[0]["snapshots_checked"] == len(SNAPS)


def test_one_seed_never_finding_features_after_T2_counts_as_a_failure():
    traj = build(10, 25)
    traj.arrays["w_coords"][:, 1] = 0.0  # seed 1 never finds the features (S_t = 0); T2 = 25
    v = check(traj)
    assert [p["outcome"] for p in v.per_seed] == ["pass", "fail", "pass", "pass"]
    assert v.stats["T1_median"] == 10  # over the seeds that reached T1


def test_neither_T1_nor_T2_is_inconclusive():
    v = check(build(None, None))
    assert v.status == "inconclusive"
    assert "neither T1 nor T2 reached" in v.reason
    assert all(p["outcome"] == "na" for p in v.per_seed)


def test_missing_proxy_is_inconclusive():
    v = check(build(10, 25, variants=("logistic",)))
    assert v.status == "inconclusive"
    assert "'linear' was not run" in v.reason


def test_frozen_a_main_reads_its_own_proxy():
    v = check(build(10, 25, variants=("frozen_a", "linear_frozen_a"), regime="first_layer_only"))
    assert v.status == "holds", v.summary()
    assert v.thresholds["proxy"] == "linear_frozen_a"
    assert check(build(10, 25, variants=("frozen_a", "linear"))).status == "inconclusive"


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None
    assert CLAIM.applies(paper(16)) is None and CLAIM.applies(first_layer_only(16)) is None
    v = check(build(10, 25, regime="parity3", label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C1" and CLAIM.slug == "phase1_linearization" and CLAIM.needs == "run"
    assert CLAIM.variants == ("linear",)


@pytest.mark.parametrize("t1, t2", [(10, 25), (25, 10), (10, 10), (10, None), (None, 10), (None, None)])
def test_violation_is_the_batch_deviation_clause(t1, t2):
    """C1's violation statistic is clause (b): > ζ only on failing seeds, NaN on unevaluable ones."""
    traj = build(t1, t2)
    stat = assert_violation_agrees(CLAIM, traj)
    if t1 == 10 and t2 == 10:
        assert (stat > Z).all()
