"""Exact identities of the update, read off the recorded arrays (docs/SPEC.md §3.6, C6).

For ReLU networks w · g_w = a g_a exactly (homogeneity: relu(z) = 1[z > 0] z). The update
with weight decay λ and second-layer step ratio r, both layers from the old values, is
w' = u w - η g_w, a' = v a - rη g_a with u = 1 - ηλ, v = 1 - rηλ; expanding both squares,

    ‖w'‖² = u² ‖w‖² - 2uη a g_a + η² ‖g_w‖²,   a'² = v² a² - 2vrη a g_a + r²η² g_a²,
    a'² - ‖w'‖² = v² a² - u² ‖w‖² - 2η a g_a (r v - u) + η² (r² g_a² - ‖g_w‖²)

per neuron, per step, with no error term (λ = 0, r = 1: a² - ‖w‖² + η² (g_a² - ‖g_w‖²)).
A frozen second layer is the case r = 0 (a' = a). The trajectory records a, w at (i, j),
‖w_perp‖, g_a and ‖g_w‖² per step; the state after the last step is the last snapshot. In
float64 the identity must hold to rounding (≤ 1e-12 relative). With the second layer frozen
but r = 1 in the formula, or with the knobs left out of it, it must fail — the checks that
the tests can fail.
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


def identity_residual(
    traj: simulator.Trajectory, variant: str, lr_ratio: float | None = None, weight_decay: float | None = None
) -> np.ndarray:
    """Relative residual of the C6 identity, per step, seed and neuron (T, R, p), with the run's λ and r
    unless given.

    Normalised by v²a² + u²‖w‖² + 2η|a g_a (rv - u)| + η²(r²g_a² + ‖g_w‖²), the size of the terms that cancel.
    """
    v = traj.vi(variant)
    A = traj.arrays
    eta = traj.config.eta
    r = traj.config.lr_ratio if lr_ratio is None else lr_ratio
    lam = traj.config.weight_decay if weight_decay is None else weight_decay
    u_w, v_a = 1 - eta * lam, 1 - r * eta * lam
    a = A["a"][:, :, v]  # (T, R, p)
    wc = A["w_coords"][:, :, v, :, :2]  # (T, R, p, 2): only (i, j); w_perp holds every other coordinate
    w2 = (wc**2).sum(-1) + A["w_perp"][:, :, v] ** 2
    assert A["snap_steps"][-1] == traj.steps
    W_T, a_T = A["snap_W"][-1, :, v], A["snap_a"][-1, :, v]  # (R, p, d), (R, p)
    a_next = np.concatenate([a[1:], a_T[None]], axis=0)
    w2_next = np.concatenate([w2[1:], (W_T**2).sum(-1)[None]], axis=0)
    ga, gw2 = A["g_a"][:, :, v], A["g_w_norm2"][:, :, v]
    lhs = a_next**2 - w2_next
    cross = 2 * eta * a * ga * (r * v_a - u_w)
    rhs = v_a**2 * a**2 - u_w**2 * w2 - cross + eta**2 * (r**2 * ga**2 - gw2)
    scale = v_a**2 * a**2 + u_w**2 * w2 + np.abs(cross) + eta**2 * (r**2 * ga**2 + gw2)
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


TWO_LAYER = [v for v, spec in VARIANTS.items() if spec.layers == "both"]
FIRST_LAYER = [v for v, spec in VARIANTS.items() if spec.layers == "first"]


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
    """The identity is exact for any d, p, m, η, θ, seed and data law, not only the fixture's (logistic loss
    and its proxy: they stay finite for any such setting)."""
    logistic = ("logistic", "linear")
    cfg = _config(d=d, p=p, m=m, eta=eta, theta=theta, seed=seed, data=data, steps=6, seeds=1, variants=logistic)
    traj = simulator.run(cfg)
    for v in logistic:
        res = identity_residual(traj, v)
        assert res.max() <= IDENTITY_TOL, (v, res.max())


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    d=st.integers(3, 16),
    p=st.integers(1, 7),
    m=st.integers(1, 24),
    eta=st.floats(0.01, 0.5),
    theta=st.floats(0.05, 1.0),
    weight_decay=st.one_of(st.just(0.0), st.floats(1e-3, 1.5)),
    lr_ratio=st.floats(0.05, 3.0),
    init=st.sampled_from(["sphere", "gaussian"]),
    label_noise=st.sampled_from([0.0, 0.2]),
    seed=st.integers(0, 1000),
)
def test_restated_identity_any_loss_and_knobs(
    d: int,
    p: int,
    m: int,
    eta: float,
    theta: float,
    weight_decay: float,
    lr_ratio: float,
    init: str,
    label_noise: float,
    seed: int,
) -> None:
    """The restated identity is exact for every loss and proxy under any weight decay λ ≥ 0 and step ratio
    r > 0, init and label noise; a frozen second layer is its r = 0 case (no step and no decay on a)."""
    cfg = _config(
        d=d,
        p=p,
        m=m,
        eta=eta,
        theta=theta,
        weight_decay=weight_decay,
        lr_ratio=lr_ratio,
        init=init,
        label_noise=label_noise,
        seed=seed,
        steps=6,
        seeds=1,
    )
    traj = simulator.run(cfg)
    for v in TWO_LAYER:
        assert identity_residual(traj, v).max() <= IDENTITY_TOL, v
    for v in FIRST_LAYER:
        assert identity_residual(traj, v, lr_ratio=0.0).max() <= IDENTITY_TOL, v


KNOB_CASES = {
    "weight-decay": dict(weight_decay=0.4),
    "lr-ratio": dict(lr_ratio=1.3),
    "both": dict(weight_decay=0.25, lr_ratio=0.3),
}


@pytest.fixture(scope="module", params=list(KNOB_CASES), ids=list(KNOB_CASES))
def knob_run(request: pytest.FixtureRequest) -> simulator.Trajectory:
    """Every variant coupled under weight decay and/or a second-layer step ratio (25 steps of η = 0.6)."""
    return simulator.run(_config(**KNOB_CASES[request.param]))


@pytest.mark.parametrize("variant", TWO_LAYER)
def test_restated_identity_holds_with_knobs(knob_run: simulator.Trajectory, variant: str) -> None:
    """C6 restated: a'² - ‖w'‖² = v²a² - u²‖w‖² - 2η a g_a (rv - u) + η²(r²g_a² - ‖g_w‖²), to 1e-12 in float64,
    while the paper's form (λ = 0, r = 1 in the formula) misses the knobs' terms by far."""
    res = identity_residual(knob_run, variant)
    assert res.max() <= IDENTITY_TOL, f"worst relative residual {res.max():.3g}"
    assert np.median(identity_residual(knob_run, variant, lr_ratio=1.0, weight_decay=0.0)) > 1e6 * IDENTITY_TOL


@pytest.mark.parametrize("variant", FIRST_LAYER)
def test_frozen_second_layer_is_the_r0_case(knob_run: simulator.Trajectory, variant: str) -> None:
    """A frozen a takes neither a step nor weight decay: the identity holds with r = 0, not with the run's r."""
    assert identity_residual(knob_run, variant, lr_ratio=0.0).max() <= IDENTITY_TOL
    assert np.median(identity_residual(knob_run, variant)) > 1e3 * IDENTITY_TOL


def test_c6_check_reads_the_knobs(knob_run: simulator.Trajectory) -> None:
    """lemmas' C6 uses the restated identity (its residual is at rounding level under the knobs) and counts
    the balance |a| ≈ ‖w‖ in the verdict only at r = 1 (a finding otherwise)."""
    from lemmas.c06_layer_balance import check

    v = check(knob_run)
    assert v.stats["max_identity_residual"] <= IDENTITY_TOL
    assert all("identity residual" not in p.get("why", "") for p in v.per_seed)
    assert ("balance_max" in v.thresholds) == (knob_run.config.lr_ratio == 1)


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
