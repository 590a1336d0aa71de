"""C13 per-neuron control on hand-built trajectories whose verdict is known by construction.

Every neuron has a > 0 (signal direction μ̂+); its components ‖w_sig‖, ‖w_opp‖, ‖w_perp‖ and |a| are
set per step, so its output mass |a|·‖w‖, its off-signal ratio max(‖w_opp‖, ‖w_perp‖)/‖w_sig‖ and
S_t are known. d = 32: ζ = 1/log 32 = 0.2885, the window opens at S_t ≥ 1 - ζ/2 = 0.856.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c03_signal_heavy import check as check_c3
from lemmas.c13_neuron_control import (
    CLAIM,
    check,
    components_from_W,
    neuron_series,
    non_negligible,
    off_signal_ratio,
)
from simulator import RunConfig, gaussian, parity3
from tests.support.synthetic import make_trajectory

D, R, T = 32, 4, 30
Z = 1 / math.log(D)
HEAVY = (10.0, 0.0, 1.0)  # (sig, opp, perp): ratio 0.1 ≤ ζ
OFF = (1.0, 0.0, 1.0)  # ratio 1 > ζ


def build(
    comp: np.ndarray, shares: np.ndarray, *, final: tuple[np.ndarray, np.ndarray] | None = None, label_coords=(0, 1)
):
    """comp (T, p, 3): (sig, opp, perp) per step and neuron; shares (T, p): the output-mass shares (|a| is set
    to share/‖w‖). `final`: (comp, shares) of the state at T (default: the last step's)."""
    p = comp.shape[1]
    cfg = RunConfig(
        d=D, p=p, m=4, eta=0.1, theta=0.1, steps=T, seeds=R, device="cpu", test_size=100, label_coords=label_coords
    )

    def parts(c, sh):
        sig, opp, perp = c[..., 0], c[..., 1], c[..., 2]
        a = sh / np.sqrt(sig**2 + opp**2 + perp**2)
        wi, wj = (sig + opp) / math.sqrt(2), (opp - sig) / math.sqrt(2)  # ⟨w, μ̂+⟩ = sig, ⟨w, μ̂-⟩ = opp
        return a, wi, wj, perp

    a, wi, wj, perp = parts(comp, shares)
    K = len(label_coords)
    w_coords = np.zeros((T, R, 1, p, K))
    w_coords[..., 0], w_coords[..., 1] = wi[:, None, None], wj[:, None, None]
    fc, fs = final if final is not None else (comp[-1], shares[-1])
    aT, wiT, wjT, perpT = parts(np.asarray(fc, float), np.asarray(fs, float))
    snap_W = np.zeros((2, R, 1, p, D))
    snap_W[-1, ..., 0], snap_W[-1, ..., 1], snap_W[-1, ..., 2] = wiT, wjT, perpT
    snap_a = np.zeros((2, R, 1, p))
    snap_a[-1] = aT
    return make_trajectory(
        cfg,
        T=T,
        snap_steps=[0, T],
        a=a[:, None, None],
        w_coords=w_coords,
        w_perp=perp[:, None, None],
        snap_W=snap_W,
        snap_a=snap_a,
    )


def neurons(*kinds) -> np.ndarray:
    """(T, p, 3) components, neuron k constant at kinds[k]."""
    return np.broadcast_to(np.array(kinds, dtype=float)[None], (T, len(kinds), 3)).copy()


def constant(shares) -> np.ndarray:
    return np.broadcast_to(np.asarray(shares, dtype=float)[None], (T, len(shares))).copy()


# a neuron that is off-signal and holds 13% of the mass, while two lighter heavy neurons hold 9% each:
# the lightest ζ of the mass (0.09 + 0.09 = 0.18, + 0.13 = 0.31 > ζ) does not include it
BIG_OFF = [0.13, 0.09, 0.09, 0.345, 0.345]


def test_every_neuron_heavy_holds():
    v = check(build(neurons(HEAVY, HEAVY, HEAVY, HEAVY), constant([0.25] * 4)))
    assert v.status == "holds", v.summary()
    assert v.stats["max_ratio"] == pytest.approx(0.1)
    assert v.thresholds["ratio_max"] == pytest.approx(Z) and v.thresholds["window_S"] == pytest.approx(1 - Z / 2)
    json.dumps(v.to_dict())
    assert v.series["ratio"].y_scale == "log"


def test_a_big_off_signal_neuron_fails_where_S_holds():
    """The point of C13: S_t = 0.87 ≥ 1 - ζ/2 (C3 holds), but a neuron outside the negligible set is
    off-signal."""
    traj = build(neurons(OFF, HEAVY, HEAVY, HEAVY, HEAVY), constant(BIG_OFF))
    assert traj.S()[:, 0] == pytest.approx(0.87)
    assert check_c3(traj).status == "holds"
    v = check(traj)
    assert v.status == "fails"
    assert all(p["first_violation"] == 0 for p in v.per_seed)
    assert "neuron 0 at t = 0 holds 0.13 of the mass" in v.per_seed[0]["why"]


def test_an_off_signal_neuron_in_the_lightest_zeta_holds():
    v = check(build(neurons(OFF, HEAVY, HEAVY, HEAVY, HEAVY), constant([0.05, 0.2, 0.2, 0.25, 0.3])))
    assert v.status == "holds", v.summary()


def test_the_transient_before_the_window_is_reported_not_judged():
    """Steps 0–9: S = 0.75 (≥ 1 - ζ, < 1 - ζ/2) with a big off-signal neuron; from 10 on it is light."""
    comp = neurons(OFF, HEAVY, HEAVY, HEAVY, HEAVY)
    shares = constant([0.02, 0.2, 0.2, 0.28, 0.3])
    shares[:10] = [0.25, 0.05, 0.05, 0.3, 0.35]
    v = check(build(comp, shares))
    assert v.status == "holds", v.summary()
    assert all(p["T1"] == 0 and p["window_start"] == 10 for p in v.per_seed)
    assert v.stats["transient_max_ratio"] == pytest.approx(1.0)


def test_a_violation_at_the_final_state_fails():
    comp, shares = neurons(HEAVY, HEAVY, HEAVY, HEAVY, HEAVY), constant(BIG_OFF)
    final = (np.array([OFF, HEAVY, HEAVY, HEAVY, HEAVY]), np.array(BIG_OFF))
    v = check(build(comp, shares, final=final))
    assert v.status == "fails"
    assert all(p["first_violation"] == T for p in v.per_seed)


def test_zero_signal_in_a_non_negligible_neuron_fails():
    v = check(build(neurons((0.0, 0.0, 1.0), HEAVY, HEAVY, HEAVY, HEAVY), constant(BIG_OFF)))
    assert v.status == "fails" and math.isinf(v.stats["max_ratio"])


def test_window_never_opens_is_inconclusive():
    comp = neurons(OFF, HEAVY, HEAVY, HEAVY)
    v = check(build(comp, constant([0.2, 0.2, 0.3, 0.3])))  # S = 0.8: T1 at 0, never ≥ 1 - ζ/2
    assert v.status == "inconclusive" and "window never opens" in v.reason


def test_T1_never_reached_is_inconclusive():
    v = check(build(neurons(OFF, OFF, HEAVY, HEAVY), constant([0.25] * 4)))  # S = 0.5
    assert v.status == "inconclusive" and "T1 not reached" in v.reason


def test_non_negligible_is_the_complement_of_the_lightest_zeta():
    mass = np.array([[0.05, 0.1, 0.2, 0.65], [0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.3, 0.3]])
    got = non_negligible(mass, 0.2)
    assert got.tolist() == [
        [False, False, True, True],
        [False] * 4,
        [False, True, True, True],
    ]  # ties: lower index first
    assert non_negligible(mass, THRESHOLDS.c13_negligible_mass * 0.0)[0].all()


def test_off_signal_ratio_conventions():
    r = off_signal_ratio(np.array([2.0, 0.0, 0.0]), np.array([0.5, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    assert r[0] == 0.5 and math.isinf(r[1]) and r[2] == 0.0


def test_holding_implies_S_above_one_minus_zeta():
    """If every neuron outside the lightest ζ of the mass is heavy, the heavy mass is ≥ 1 - ζ (random trials)."""
    rng = np.random.default_rng(0)
    for _ in range(2000):
        p = int(rng.integers(1, 20))
        mass = rng.exponential(size=p) ** 3
        heavy = rng.random(p) < 0.7
        nn = non_negligible(mass, Z)
        if (heavy | ~nn).all():
            assert (mass * heavy).sum() / mass.sum() >= 1 - Z - 1e-12


def test_components_from_W_match_the_per_step_records():
    rng = np.random.default_rng(3)
    traj = build(neurons(HEAVY, OFF, HEAVY), constant([0.3, 0.3, 0.4]))
    W = rng.normal(size=(R, 3, D))
    a = rng.choice([-1.0, 1.0], size=(R, 3))
    sig, opp, perp = components_from_W(W, a, (0, 1))
    s = np.where(a >= 0, -1.0, 1.0)
    np.testing.assert_allclose(sig, np.abs(W[..., 0] + s * W[..., 1]) / math.sqrt(2))
    np.testing.assert_allclose(opp, np.abs(W[..., 0] - s * W[..., 1]) / math.sqrt(2))
    np.testing.assert_allclose(perp, np.linalg.norm(W[..., 2:], axis=-1))
    ns = neuron_series(traj)  # the final state T appended from the last snapshot
    assert ns["steps"][-1] == T and len(ns["steps"]) == T + 1
    np.testing.assert_allclose(ns["sig"][-1], ns["sig"][-2], rtol=1e-12)
    np.testing.assert_allclose(ns["mass"][-1], ns["mass"][-2], rtol=1e-12)


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None and CLAIM.applies(gaussian(16)) is None
    v = check(build(neurons(HEAVY, HEAVY), constant([0.5, 0.5]), label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C13" and CLAIM.slug == "neuron_control" and CLAIM.needs == "run" and CLAIM.horizon == "T"
