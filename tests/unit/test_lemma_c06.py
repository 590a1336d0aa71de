"""C6 layer balance on hand-built trajectories whose verdict is known by construction.

`simulate` runs a numpy caricature of the update that keeps the homogeneity identity
w·g_w = a·g_a exactly (g_w random, g_a := w·g_w / a), so a'² - ‖w'‖² = a² - ‖w‖² +
η²(g_a² - ‖g_w‖²) holds to rounding; it records what the engine records (a, w at (i, j),
‖w_perp‖, g_a, ‖g_w‖²) and snapshots at 0 and T.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c06_layer_balance import CLAIM, balance_ratio, check, identity_residual
from simulator import RunConfig, first_layer_only, gaussian, paper, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory
from tests.support.violations import assert_violation_agrees

D, P, R, T, ETA = 32, 5, 4, 30, 0.1
Z = 1 / math.log(D)


def simulate(
    *,
    frozen: bool = False,
    w_scale: float = 1.0,
    dtype: str = "float64",
    label_coords=(0, 1),
    seed: int = 0,
    stop_before_T: bool = False,
):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(R, P, D))
    W *= w_scale / np.linalg.norm(W, axis=-1, keepdims=True)  # ‖w_k‖ = w_scale
    a = rng.choice([-1.0, 1.0], size=(R, P))  # |a_k| = 1
    W0, a0 = W.copy(), a.copy()
    rec = {k: [] for k in ("a", "w_coords", "w_perp", "g_a", "g_w_norm2")}
    for _ in range(T):
        g_w = 0.05 * rng.normal(size=(R, P, D))
        g_a = (W * g_w).sum(-1) / a
        rec["a"].append(a.copy())
        rec["w_coords"].append(W[..., list(label_coords)].copy())
        rec["w_perp"].append(np.linalg.norm(W[..., 2:], axis=-1))
        rec["g_a"].append(g_a)
        rec["g_w_norm2"].append((g_w**2).sum(-1))
        if not frozen:
            a = a - ETA * g_a
        W = W - ETA * g_w
    cfg = RunConfig(
        d=D,
        p=P,
        m=4,
        eta=ETA,
        theta=0.1,
        steps=T,
        seeds=R,
        device="cpu",
        test_size=1000,
        dtype=dtype,
        label_coords=label_coords,
    )
    arrays = {k: np.stack(v)[:, :, None] for k, v in rec.items()}
    snaps = [0, T - 5] if stop_before_T else [0, T]
    snap_W = np.stack([W0, W])[:, :, None]
    snap_a = np.stack([a0, a])[:, :, None]
    return make_trajectory(cfg, T=T, snap_steps=snaps, snap_W=snap_W, snap_a=snap_a, **arrays)


def test_exact_identity_and_balanced_layers_hold():
    traj = simulate()
    v = check(traj)
    assert v.status == "holds", v.summary()
    assert v.stats["max_identity_residual"] < 1e-13
    assert v.stats["max_balance_ratio"] < Z
    assert v.thresholds["identity_rtol"] == THRESHOLDS.c6_identity_rtol["float64"]
    assert identity_residual(traj).shape == (T, R, P)  # the last step reads the snapshot at T
    assert balance_ratio(traj).shape == (T + 1, R)
    json.dumps(v.to_dict())
    assert set(v.series) == {"balance_ratio", "identity_residual"}
    assert panels.hlines(v.series["identity_residual"])["tolerance"] == THRESHOLDS.c6_identity_rtol["float64"]


def test_perturbed_a_at_one_step_fails():
    traj = simulate()
    traj.arrays["a"][12, :, 0, 3] *= 1 + 1e-2  # every seed, one neuron, one step
    v = check(traj)
    assert v.status == "fails"
    assert {p["worst_step"] for p in v.per_seed} <= {11, 12}
    assert all(p["worst_neuron"] == 3 for p in v.per_seed)
    assert v.stats["max_identity_residual"] > 1e-3


def test_frozen_second_layer_breaks_the_identity():
    v = check(simulate(frozen=True))
    assert v.status == "fails"
    assert "identity residual" in v.per_seed[0]["why"]


def test_unbalanced_layers_fail_the_balance_but_not_the_identity():
    v = check(simulate(w_scale=2.0))  # |a| = 1, ‖w‖ = 2: |a² - ‖w‖²| = 3 > ζ·1
    assert v.status == "fails"
    assert v.stats["max_identity_residual"] < 1e-13
    assert v.stats["max_balance_ratio"] == pytest.approx(3.0, rel=0.1)


def test_last_step_reads_the_final_snapshot():
    traj = simulate()
    traj.arrays["snap_a"][-1, :, 0, 0] *= 1 + 1e-2
    v = check(traj)
    assert v.status == "fails"
    assert all(p["worst_step"] == T - 1 for p in v.per_seed)


def test_float32_tolerance():
    traj = simulate(dtype="float32")
    for k in ("a", "w_coords", "w_perp", "g_a", "g_w_norm2", "snap_W", "snap_a"):
        traj.arrays[k] = traj.arrays[k].astype(np.float32)
    v = check(traj)
    assert v.status == "holds", v.summary()
    assert v.thresholds["identity_rtol"] == THRESHOLDS.c6_identity_rtol["float32"]
    assert 1e-9 < v.stats["max_identity_residual"] < 1e-5


def test_one_failing_seed_of_four_still_holds():
    traj = simulate()
    traj.arrays["a"][5, 2, 0, 1] *= 1.05
    v = check(traj)
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["pass", "pass", "fail", "pass"]


def test_stopped_run_is_checked_up_to_its_last_known_state():
    traj = simulate(stop_before_T=True)  # the last snapshot is not the state after the last step
    assert identity_residual(traj).shape == (T - 1, R, P)
    assert check(traj).status == "holds"


def test_parity3_label_is_fine():
    traj = simulate(label_coords=(0, 1, 2))
    assert check(traj).status == "holds"
    assert all(CLAIM.applies(build(16)) is None for build in (paper, parity3, first_layer_only, gaussian))


def test_claim_record():
    assert CLAIM.id == "C6" and CLAIM.slug == "layer_balance" and CLAIM.needs == "run"


@pytest.mark.parametrize("w_scale", [1.0, 1.1, 2.0])
def test_violation_is_the_balance_clause(w_scale):
    """C6's violation statistic is the balance drift: with the identity exact it is the claim (≤ ζ ⇔ pass)."""
    stat = assert_violation_agrees(CLAIM, simulate(w_scale=w_scale), clause_is_claim=True)
    assert (stat > Z).all() == (w_scale**2 - 1 > Z)
