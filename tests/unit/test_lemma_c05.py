"""C5 margin balance on hand-built trajectories whose verdict is known by construction.

Four neurons, one per cluster (a = +1, +1, -1, -1 with the signal coordinate of the right
sign), so the clean cluster margins γ̃_c are exactly the ones asked for (`cluster_state`,
checked against Trajectory.clean_margins). T2 is set through the batch's max|h'+1|
(0.01 before T2, 0.5 from T2 on). At d = 32, 1 + ζ ≈ 1.289.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c05_margin_balance import CLAIM, check, margin_ratio, rise_factor
from simulator import RunConfig, first_layer_only, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory
from tests.support.violations import assert_violation_agrees

D, P, R, T = 32, 4, 4, 40
Z = 1 / math.log(D)
SNAPS = [0, 5, 10, 15, 20, 25, 30, 35, T]


def cluster_state(margins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, w_coords) (T, R, 1, 4[, 2]) whose clean margins are margins (T, R, 4) ≥ 0."""
    s = 2 * math.sqrt(2) * margins  # γ̃_c = (1/p)|a| |s| √2 with p = 4
    a = np.broadcast_to(np.array([1.0, 1.0, -1.0, -1.0]), margins.shape).copy()
    s = s * np.array([1.0, -1.0, 1.0, -1.0])  # clusters (1,-1), (-1,1) by a > 0; (1,1), (-1,-1) by a < 0
    sign_j = np.array([-1.0, -1.0, 1.0, 1.0])  # μ̂+ = (e_i - e_j)/√2 for a ≥ 0, μ̂- = (e_i + e_j)/√2 else
    w = np.stack([s / math.sqrt(2), sign_j * s / math.sqrt(2)], axis=-1)
    return a[:, :, None], w[:, :, None]


def build(
    ratio_t,
    *,
    t2: int | None = 10,
    final: np.ndarray | None = None,
    data: str = "boolean",
    snap_margins: np.ndarray | None = None,
    per_seed_ratio: dict[int, np.ndarray] | None = None,
    regime: str = "custom",
    label_coords=(0, 1),
):
    """ratio_t (T,): margins (1, 1, 1, ratio_t) per step (a ratio of ∞ puts cluster 0 at 0).

    final: the last snapshot's clean margins (default: those of the last step);
    snap_margins (S, 4): every snapshot's clean margins (Gaussian data reads only these).
    """
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
        data=data,
        regime=regime,
        label_coords=label_coords,
    )
    ratio = np.broadcast_to(np.asarray(ratio_t, float)[:, None], (T, R)).copy()
    for r, x in (per_seed_ratio or {}).items():
        ratio[:, r] = x
    margins = np.ones((T, R, 4))
    margins[..., 3] = np.where(np.isinf(ratio), 2.0, ratio)
    margins[..., 0] = np.where(np.isinf(ratio), 0.0, 1.0)
    a, w = cluster_state(margins)
    if len(label_coords) == 3:
        w = np.concatenate([w, np.zeros(w.shape[:-1] + (1,))], axis=-1)
    dev = np.where(np.arange(T) >= (T + 1 if t2 is None else t2), 0.5, 0.01)[:, None, None]
    S = len(SNAPS)
    if snap_margins is None:
        idx = [min(s, T - 1) for s in SNAPS]
        snap_margins = margins[idx]
        snap_margins[-1] = margins[-1] if final is None else final
    cm = np.broadcast_to(np.asarray(snap_margins, float).reshape(S, -1, 4), (S, R, 4))[:, :, None]
    return make_trajectory(
        cfg,
        T=T,
        snap_steps=SNAPS,
        a=a,
        w_coords=w,
        w_perp=0.0,
        batch_max_dev=np.broadcast_to(dev, (T, R, 1)),
        test_clean_margin=cm,
    )


def settling(r_T: float = 1.1) -> np.ndarray:
    """R_t decreasing from 1 + 4 to r_T."""
    t = np.arange(T)
    return r_T + 4 * np.exp(-t / 5.0)


def test_cluster_state_gives_the_asked_margins():
    rng = np.random.default_rng(1)
    m = rng.uniform(0.0, 3.0, size=(3, 2, 4))
    a, w = cluster_state(m)
    cfg = RunConfig(d=D, p=P, m=4, eta=0.1, theta=0.1, steps=3, seeds=2, device="cpu", test_size=10)
    traj = make_trajectory(cfg, T=3, snap_steps=[0, 3], a=a, w_coords=w)
    np.testing.assert_allclose(traj.clean_margins(), m, rtol=1e-12, atol=1e-15)


def test_balancing_holds():
    v = check(build(settling(1.1)))
    assert v.status == "holds", v.summary()
    assert v.stats["R_T_median"] == pytest.approx(1.1, abs=0.01)
    assert v.stats["max_rise"] == pytest.approx(1.0)
    assert v.thresholds["R_T_max"] == pytest.approx(1 + Z)
    json.dumps(v.to_dict())
    assert len(panels.median(v.series["R"]).x) == T + 1 and panels.median(v.series["R"]).x[-1] == T


def test_unbalanced_at_T_fails():
    v = check(build(settling(1.5)))
    assert v.status == "fails"
    assert "R_T = 1.5" in v.per_seed[0]["why"]


def test_final_state_is_read_from_the_last_snapshot():
    v = check(build(settling(1.1), final=np.array([1.0, 1.0, 1.0, 1.6])))
    assert v.status == "fails"
    assert v.stats["R_T_max"] == pytest.approx(1.6)


def test_rise_after_T2_fails():
    r = settling(1.1)
    r[15:20] = 2.0  # from a minimum of ≈ 1.24 up to 2.0
    v = check(build(r))
    assert v.status == "fails"
    assert all(p["first_rise"] == 15 for p in v.per_seed)


def test_rise_before_T2_is_not_part_of_the_claim():
    r = settling(1.1)
    r[3:6] = 50.0
    assert check(build(r, t2=10)).status == "holds"


def test_slow_drift_is_a_rise_cumulatively():
    r = np.empty(T)
    r[:15] = np.linspace(5.0, 1.0, 15)
    r[15:30] = 1.0 * 1.02 ** np.arange(1, 16)  # +2% per step, ×1.35 in all
    r[30:] = 1.1
    v = check(build(r))
    assert v.status == "fails"
    assert v.stats["max_rise"] == pytest.approx(1.02**15)
    assert all("R rises" in p["why"] and "R_T" not in p["why"] for p in v.per_seed)


def test_rise_to_infinity_fails_and_rise_from_infinity_does_not():
    r = settling(1.1)
    r[25] = np.inf  # a cluster's clean margin drops to 0
    assert check(build(r)).status == "fails"
    r = settling(1.1)
    r[:14] = np.inf  # a cluster not yet served at T2
    v = check(build(r))
    assert v.status == "holds", v.summary()


def test_margin_ratio_and_rise_factor():
    m = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 0.0, 1.0], [-1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(margin_ratio(m), [4.0, np.inf, np.inf])
    np.testing.assert_allclose(
        rise_factor(np.array([np.inf, np.inf, 3.0, 2.0, 4.0, np.inf])), [1.0, 1.0, 1.0, 1.0, 2.0, np.inf]
    )


def test_T2_never_reached():
    v = check(build(settling(1.1), t2=None))
    assert v.status == "inconclusive"
    assert "T2 not reached" in v.reason
    v = check(build(settling(3.0), t2=None))  # never balanced by T: R_T is still a claim
    assert v.status == "fails"
    assert "T2 never reached" in v.per_seed[0]["why"]


def test_one_failing_seed_of_four_still_holds():
    v = check(build(settling(1.1), per_seed_ratio={1: settling(2.0)}))
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["pass", "fail", "pass", "pass"]


def test_gaussian_data_reads_the_snapshots():
    balanced = np.array([[1, 1, 1, r] for r in (9, 8, 4, 2, 1.5, 1.3, 1.2, 1.1, 1.05)], dtype=float)
    v = check(build(settling(1.1), data="gaussian", snap_margins=balanced))
    assert v.status == "holds", v.summary()
    assert list(panels.median(v.series["R"]).x) == [float(s) for s in SNAPS]
    rising = balanced.copy()
    rising[6, 3] = 2.0  # snapshot step 30 ≥ T2
    assert check(build(settling(1.1), data="gaussian", snap_margins=rising)).status == "fails"


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None and CLAIM.applies(first_layer_only(16)) is None
    v = check(build(settling(1.1), regime="parity3", label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C5" and CLAIM.slug == "margin_balance" and CLAIM.needs == "run"


@pytest.mark.parametrize("r_T", [1.05, 1.1, 1.5, 3.0])
def test_violation_is_the_balance_at_T_clause(r_T):
    """C5's violation statistic R_T - 1: > ζ only on failing seeds; with no rise it is the claim."""
    stat = assert_violation_agrees(CLAIM, build(settling(r_T)), clause_is_claim=True)
    assert stat == pytest.approx(np.full(R, r_T - 1), abs=0.01)  # settling reaches r_T up to 4e^-T/5
