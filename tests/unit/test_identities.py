"""Exact identities of the update, read off the recorded arrays (docs/SPEC.md §3.6, C6).

For ReLU networks w · g_w = a g_a exactly (homogeneity: relu(z) = 1[z > 0] z), so when both
layers take a step from the old values,

    a'² - ‖w'‖² = a² - ‖w‖² + η² (g_a² - ‖g_w‖²)        per neuron, per step,

with no error term. The trajectory records a, w at (i, j), ‖w_perp‖, g_a and ‖g_w‖² per
step; the state after the last step is the last snapshot. In float64 the identity must
hold to rounding (≤ 1e-12 relative). With the second layer frozen it must fail, by
2η a g_a - η² g_a² — the check that the test can fail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import RunConfig
from simulator.config import VARIANTS

IDENTITY_TOL = 1e-12


def identity_residual(traj: simulator.Trajectory, variant: str) -> np.ndarray:
    """Relative residual of the C6 identity, per step, seed and neuron (T, R, p).

    Normalised by a² + ‖w‖² + η²(g_a² + ‖g_w‖²), the size of the terms that cancel.
    """
    v = traj.vi(variant)
    A = traj.arrays
    eta = traj.config.eta
    a = A["a"][:, :, v]  # (T, R, p)
    wc = A["w_coords"][:, :, v, :, :2]  # (T, R, p, 2): only (i, j); w_perp holds every other coordinate
    w2 = (wc**2).sum(-1) + A["w_perp"][:, :, v] ** 2
    assert A["snap_steps"][-1] == traj.steps
    W_T, a_T = A["snap_W"][-1, :, v], A["snap_a"][-1, :, v]  # (R, p, d), (R, p)
    a_next = np.concatenate([a[1:], a_T[None]], axis=0)
    w2_next = np.concatenate([w2[1:], (W_T**2).sum(-1)[None]], axis=0)
    ga, gw2 = A["g_a"][:, :, v], A["g_w_norm2"][:, :, v]
    lhs = a_next**2 - w2_next
    rhs = a**2 - w2 + eta**2 * (ga**2 - gw2)
    scale = a**2 + w2 + eta**2 * (ga**2 + gw2)
    assert np.isfinite(lhs).all() and np.isfinite(rhs).all()
    return np.abs(lhs - rhs) / scale


def _config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = dict(
        d=12,
        p=8,
        m=40,
        eta=0.6,
        theta=0.8,
        steps=25,
        snapshots=2,
        dtype="float64",
        device="cpu",
        test_size=32,
        variants=tuple(VARIANTS),
        seeds=2,
    )
    base.update(overrides)
    return RunConfig(**base)


TWO_LAYER = [v for v, (_, layers) in VARIANTS.items() if layers == "both"]
FIRST_LAYER = [v for v, (_, layers) in VARIANTS.items() if layers == "first"]


@pytest.fixture(scope="module")
def coupled_run() -> simulator.Trajectory:
    """Every variant coupled, two seeds, 25 steps of fairly large η (the margins leave the linear regime)."""
    return simulator.run(_config())


@pytest.mark.parametrize("variant", TWO_LAYER)
def test_layer_balance_identity_holds(coupled_run: simulator.Trajectory, variant: str) -> None:
    """C6: a'² - ‖w'‖² = a² - ‖w‖² + η²(g_a² - ‖g_w‖²) per neuron and step, to 1e-12 in float64."""
    res = identity_residual(coupled_run, variant)
    assert res.shape == (25, 2, 8)
    assert res.max() <= IDENTITY_TOL, (
        f"worst relative residual {res.max():.3g} at {np.unravel_index(res.argmax(), res.shape)}"
    )


def test_run_leaves_the_linear_regime(coupled_run: simulator.Trajectory) -> None:
    """The identity runs above test the logistic loss beyond its linear part (h' ≠ -1 matters)."""
    assert coupled_run.series("batch_max_dev", "logistic").max() > 0.3


@pytest.mark.parametrize("variant", FIRST_LAYER)
def test_layer_balance_identity_fails_with_frozen_second_layer(coupled_run: simulator.Trajectory, variant: str) -> None:
    """Sanity check that the identity test can fail: with a frozen the residual is O(η a g_a), far above 1e-12."""
    res = identity_residual(coupled_run, variant)
    assert res.max() > 1e-4
    assert np.median(res) > 1e3 * IDENTITY_TOL


def test_frozen_second_layer_stays_at_init(coupled_run: simulator.Trajectory) -> None:
    """The frozen variants' a never moves, while their first layer does."""
    for v in FIRST_LAYER:
        a = coupled_run.arrays["a"][:, :, coupled_run.vi(v)]
        np.testing.assert_array_equal(a, np.broadcast_to(a[:1], a.shape))
        np.testing.assert_array_equal(coupled_run.arrays["snap_a"][-1, :, coupled_run.vi(v)], a[0])
        W = coupled_run.arrays["snap_W"][:, :, coupled_run.vi(v)]
        assert np.abs(W[-1] - W[0]).max() > 1e-3


@settings(max_examples=8, deadline=None)
@given(
    d=st.integers(3, 20),
    p=st.integers(1, 9),
    m=st.integers(1, 30),
    eta=st.floats(0.01, 2.0),
    theta=st.floats(0.05, 2.0),
    seed=st.integers(0, 1000),
    data=st.sampled_from(["boolean", "gaussian"]),
)
def test_layer_balance_identity_any_setting(
    d: int, p: int, m: int, eta: float, theta: float, seed: int, data: str
) -> None:
    """The identity is exact for any d, p, m, η, θ, seed and data law, not only the fixture's."""
    cfg = _config(
        d=d, p=p, m=m, eta=eta, theta=theta, seed=seed, data=data, steps=6, seeds=1, variants=tuple(TWO_LAYER)
    )
    traj = simulator.run(cfg)
    for v in TWO_LAYER:
        res = identity_residual(traj, v)
        assert res.max() <= IDENTITY_TOL, (v, res.max())


def test_first_layer_gradient_is_orthogonal_to_its_weight_up_to_a_ga() -> None:
    """The homogeneity behind C6, directly: w_k · g_w,k = a_k g_a,k, checked on the snapshots
    (snapshot at every step) through ‖w - η g_w‖² = ‖w‖² - 2η a g_a + η² ‖g_w‖²."""
    cfg = _config(steps=6, snapshots=7, variants=("logistic",), seeds=1)
    traj = simulator.run(cfg)
    A = traj.arrays
    W = A["snap_W"][:, 0, 0]  # (T+1, p, d)
    a, ga, gw2 = A["a"][:, 0, 0], A["g_a"][:, 0, 0], A["g_w_norm2"][:, 0, 0]
    lhs = (W[1:] ** 2).sum(-1)
    rhs = (W[:-1] ** 2).sum(-1) - 2 * cfg.eta * a * ga + cfg.eta**2 * gw2
    scale = (W[:-1] ** 2).sum(-1) + cfg.eta**2 * gw2 + 2 * cfg.eta * np.abs(a * ga)
    assert (np.abs(lhs - rhs) / scale).max() <= IDENTITY_TOL
