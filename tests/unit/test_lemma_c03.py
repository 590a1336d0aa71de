"""C3 signal-heavy persistence on hand-built trajectories whose verdict is known by construction.

Every neuron has a = 1 (signal direction μ̂+), ‖w_perp‖ = 1, ‖w_opp‖ = 0 and ‖w_sig‖ = 10
(signal-heavy: 10·ζ ≥ 1 at d = 32) on the steps given, 0 elsewhere, so S_t ∈ {0, 1}. The
last snapshot (step T) holds the state after the last step, consistent unless a test
changes it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c03_signal_heavy import CLAIM, check, signal_heavy_mass
from simulator import RunConfig, gaussian, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory
from tests.support.violations import assert_violation_agrees

D, P, R, T = 32, 4, 4, 30
Z = 1 / math.log(D)


def build(
    heavy_steps,
    *,
    heavy_at_T: bool = True,
    regime: str = "custom",
    label_coords=(0, 1),
    per_seed_heavy: dict[int, np.ndarray] | None = None,
):
    """heavy_steps: bool (T,) — where every neuron is signal-heavy; per_seed_heavy overrides one seed."""
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
    )
    heavy = np.broadcast_to(np.asarray(heavy_steps, bool)[:, None], (T, R)).copy()
    for r, h in (per_seed_heavy or {}).items():
        heavy[:, r] = h
    s = np.where(heavy, 10.0, 0.0)[:, :, None, None] * np.ones((1, 1, 1, P))
    K = len(label_coords)
    w_coords = np.zeros((T, R, 1, P, K))
    w_coords[..., 0], w_coords[..., 1] = s / math.sqrt(2), -s / math.sqrt(2)
    snap_W = np.zeros((2, R, 1, P, D))
    snap_W[..., 2] = 1.0
    s_T = 10.0 if heavy_at_T else 0.0
    snap_W[-1, ..., 0], snap_W[-1, ..., 1] = s_T / math.sqrt(2), -s_T / math.sqrt(2)
    return make_trajectory(cfg, T=T, snap_steps=[0, T], a=1.0, w_perp=1.0, w_coords=w_coords, snap_a=1.0, snap_W=snap_W)


def steps_from(t0: int) -> np.ndarray:
    return np.arange(T) >= t0


def test_found_and_kept_holds():
    v = check(build(steps_from(8)))
    assert v.status == "holds", v.summary()
    assert v.stats["T1_median"] == 8 and v.stats["min_S_after_T1"] == 1.0
    json.dumps(v.to_dict())
    curve = panels.median(v.series["S"])
    assert curve.x[-1] == T and len(curve.x) == T + 1  # the final state T is included
    assert panels.hlines(v.series["S"])["1-ζ"] == pytest.approx(1 - Z)


def test_lost_after_T1_fails():
    heavy = steps_from(8) & ~((np.arange(T) >= 15) & (np.arange(T) < 18))
    v = check(build(heavy))
    assert v.status == "fails"
    assert all(p["first_drop"] == 15 for p in v.per_seed)
    assert "t = 15 > T1 = 8" in v.per_seed[0]["why"]


def test_lost_only_at_the_final_state_fails():
    v = check(build(steps_from(8), heavy_at_T=False))  # every recorded step is fine, the state at T is not
    assert v.status == "fails"
    assert all(p["first_drop"] == T for p in v.per_seed)


def test_partial_mass_at_the_threshold():
    """S_t just above / just below 1-ζ: neuron 0 carries a mass share set by its |a|."""

    def with_light_neuron(share: float):
        traj = build(steps_from(5))
        a = traj.arrays["a"]
        # neuron 0 not signal-heavy from step 10 on, holding `share` of the mass
        heavy_mass = 3 * math.sqrt(10.0**2 + 1.0)  # three heavy neurons, a = 1, ‖w‖ = √101
        a[10:, :, :, 0] = share / (1 - share) * heavy_mass  # mass_0 = |a_0|·‖w_0‖ = |a_0|·1
        traj.arrays["w_coords"][10:, :, :, 0] = 0.0
        return traj

    hold = check(with_light_neuron(0.9 * Z))
    assert hold.status == "holds", hold.summary()
    assert hold.stats["min_S_after_T1"] == pytest.approx(1 - 0.9 * Z, rel=1e-9)
    assert check(with_light_neuron(1.1 * Z)).status == "fails"


def test_one_failing_seed_of_four_still_holds():
    heavy0 = steps_from(8) & (np.arange(T) < 20)
    v = check(build(steps_from(8), per_seed_heavy={0: heavy0}))
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["fail", "pass", "pass", "pass"]


def test_never_found_is_inconclusive():
    v = check(build(np.zeros(T, bool), heavy_at_T=False))
    assert v.status == "inconclusive"
    assert "T1 not reached" in v.reason


def test_signal_heavy_mass_matches_trajectory_S():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, P, D))
    W[:, :2, :2] *= 20  # two neurons strongly in the signal plane
    a = rng.choice([-1.0, 1.0], size=(3, P)) * rng.uniform(0.5, 2, size=(3, P))
    cfg = RunConfig(d=D, p=P, m=4, eta=0.1, theta=0.1, steps=3, seeds=1, device="cpu", test_size=10)
    wc = W[:, None, None, :, :2]
    perp = np.linalg.norm(W[:, :, 2:], axis=-1)[:, None, None]
    traj = make_trajectory(cfg, T=3, snap_steps=[0, 3], a=a[:, None, None], w_coords=wc, w_perp=perp)
    np.testing.assert_allclose(signal_heavy_mass(W, a, (0, 1), Z), traj.S()[:, 0], rtol=1e-12)


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None and CLAIM.applies(gaussian(16)) is None
    v = check(build(steps_from(8), regime="parity3", label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C3" and CLAIM.slug == "signal_heavy" and CLAIM.needs == "run"


@pytest.mark.parametrize(
    "t0, drop, heavy_at_T", [(8, None, True), (8, (15, 18), True), (8, None, False), (99, None, True)]
)
def test_violation_is_the_whole_claim(t0, drop, heavy_at_T):
    """C3's violation statistic 1 - min S_t after T1 is the claim: ≤ ζ ⇔ pass, NaN where T1 is not reached."""
    heavy = steps_from(t0)
    if drop:
        heavy &= ~((np.arange(T) >= drop[0]) & (np.arange(T) < drop[1]))
    assert_violation_agrees(CLAIM, build(heavy, heavy_at_T=heavy_at_T), clause_is_claim=True)
