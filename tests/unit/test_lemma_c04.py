"""C4 clean approximation on hand-built trajectories whose verdict is known by construction.

T1 is set through the per-step arrays (every neuron signal-heavy from step T1 on, as in
test_lemma_c03); the test-set quantities at the snapshots are set directly: clean cluster
margins (1, 2, 3, 4) (max |γ̃| = 4, min = 1), the gap max|f - f̃| and the sign agreement.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c04_clean_approximation import CLAIM, check, gap_ratios
from simulator import RunConfig, large_init, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory

D, P, R, T = 32, 4, 4, 30
SNAPS = [0, 5, 10, 15, 20, 25, T]
Z = 1 / math.log(D)
MARGINS = np.array([1.0, 2.0, 3.0, 4.0])


def build(
    t1: int | None = 10,
    *,
    gap: float | np.ndarray = 0.1 * Z * 4,
    agree: float | np.ndarray = 1.0,
    margins: np.ndarray = MARGINS,
    regime: str = "custom",
    label_coords=(0, 1),
    data: str = "boolean",
):
    """gap / agree: a value for every snapshot, or (S,) or (S, R) arrays."""
    cfg = RunConfig(
        d=D,
        p=P,
        m=4,
        eta=0.1,
        theta=0.1,
        steps=T,
        seeds=R,
        device="cpu",
        test_size=1000,
        regime=regime,
        label_coords=label_coords,
        data=data,
    )
    s = np.where(np.arange(T) >= (T + 1 if t1 is None else t1), 10.0, 0.0)[:, None, None, None] * np.ones((1, R, 1, P))
    w_coords = np.zeros((T, R, 1, P, len(label_coords)))
    w_coords[..., 0], w_coords[..., 1] = s / math.sqrt(2), -s / math.sqrt(2)
    S = len(SNAPS)

    def per_snap(x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        return np.broadcast_to(x, (S, R))[:, :, None]

    return make_trajectory(
        cfg,
        T=T,
        snap_steps=SNAPS,
        a=1.0,
        w_perp=1.0,
        w_coords=w_coords,
        test_clean_gap=per_snap(gap),
        test_sign_agree=per_snap(agree),
        test_clean_margin=np.broadcast_to(margins, (S, R, 1, 4)),
    )


def test_close_to_clean_network_holds():
    v = check(build())
    assert v.status == "holds", v.summary()
    assert v.stats["max_gap_over_max_margin"] == pytest.approx(0.1 * Z)
    assert v.stats["max_gap_over_min_margin"] == pytest.approx(0.4 * Z)  # reported, not compared
    assert v.thresholds["gap_over_max_margin_max"] == pytest.approx(Z)
    json.dumps(v.to_dict())
    assert set(v.series) == {"gap_over_max_margin", "gap_over_min_margin", "sign_agree"}
    assert list(panels.median(v.series["gap_over_max_margin"]).x) == [float(s) for s in SNAPS]


def test_large_gap_after_T1_fails():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[3] = 1.5 * Z * 4  # snapshot step 15 ≥ T1
    v = check(build(gap=gap))
    assert v.status == "fails"
    assert all(p["first_violation"] == 15 for p in v.per_seed)


def test_gap_before_T1_is_not_part_of_the_claim():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[1] = 10.0  # snapshot step 5 < T1 = 10
    assert check(build(gap=gap)).status == "holds"


def test_gap_ratio_to_min_margin_is_reported_only():
    v = check(build(gap=0.9 * Z * 4))  # ≤ ζ·max|γ̃| but 3.6·ζ·min|γ̃|
    assert v.status == "holds"
    assert v.stats["max_gap_over_min_margin"] == pytest.approx(3.6 * Z)


def test_sign_disagreement_after_T1_fails():
    agree = np.ones(len(SNAPS))
    agree[-1] = 1 - 1.5 * Z
    v = check(build(agree=agree))
    assert v.status == "fails"
    assert v.stats["min_sign_agree"] == pytest.approx(1 - 1.5 * Z)


def test_zero_margins():
    assert check(build(gap=0.0, margins=np.zeros(4))).status == "holds"  # f = f̃ = 0: ratio 0
    v = check(build(gap=0.1, margins=np.zeros(4)))  # a gap over nothing: ratio ∞
    assert v.status == "fails"
    assert v.stats["max_gap_over_max_margin"] == math.inf
    json.dumps(v.to_dict())  # ∞ is serialisable (as a string)


def test_gap_ratios_uses_absolute_margins():
    traj = build(margins=np.array([-8.0, 2.0, 3.0, 4.0]), gap=1.0)
    r_max, r_min = gap_ratios(traj)
    np.testing.assert_allclose(r_max, 1 / 8)
    np.testing.assert_allclose(r_min, 1 / 2)


def test_one_failing_seed_of_four_still_holds():
    gap = np.full((len(SNAPS), R), 0.1 * Z * 4)
    gap[-1, 2] = 2 * Z * 4
    v = check(build(gap=gap))
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["pass", "pass", "fail", "pass"]


def test_never_found_is_inconclusive():
    v = check(build(None))
    assert v.status == "inconclusive"
    assert "T1 not reached" in v.reason


def test_gaussian_data_reads_the_same_snapshot_fields():
    assert check(build(data="gaussian")).status == "holds"


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None and CLAIM.applies(large_init(16)) is None
    v = check(build(regime="parity3", label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C4" and CLAIM.slug == "clean_approximation" and CLAIM.needs == "run"
