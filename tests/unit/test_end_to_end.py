"""Whole runs: the paper regime learns XOR at d = 32, and a diverging run stops with its record.

* Paper regime (docs/SPEC.md §1) at d = 32, two seeds: test error 0 at T, and the measured
  phase boundaries come in the order the theory says, 0 ≤ T1 < T2.
* Divergence: a NaN/inf in the parameters raises `SimulationDiverged`, naming the step and the
  variant, and carrying the trajectory recorded before that step — nothing non-finite in it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, SimulationDiverged


@pytest.fixture(scope="module")
def paper32() -> simulator.Trajectory:
    return simulator.run(simulator.paper(32, seeds=2, device="cpu"))


def test_paper_regime_learns_xor(paper32: simulator.Trajectory) -> None:
    """Theorem 3.1 at d = 32: both seeds reach test error exactly 0 on the 20 000-point test set."""
    final = paper32.final()
    np.testing.assert_array_equal(final["error"], [0.0, 0.0])
    assert (final["error_hi"] < 0.01).all()  # the C9 criterion: Clopper–Pearson upper end below ε
    assert (final["loss"] < paper32.snap("test_loss")[0]).all()


def test_paper_regime_finds_features_before_the_loss_turns_nonlinear(paper32: simulator.Trajectory) -> None:
    """T1 (features found) and T2 (loss stops being linear) are both reached, and T1 < T2."""
    T1, T2 = paper32.T1(), paper32.T2()
    assert (T1 >= 0).all() and (T2 >= 0).all(), (T1, T2)
    assert (T1 < T2).all(), (T1, T2)


def test_paper_regime_record_is_complete(paper32: simulator.Trajectory) -> None:
    """The run records every step and the configured regime; all its records are finite."""
    cfg = paper32.config
    assert cfg.regime == "paper" and paper32.steps == cfg.steps
    assert paper32.arrays["snap_steps"][0] == 0 and paper32.arrays["snap_steps"][-1] == cfg.steps
    assert len(paper32.arrays["snap_steps"]) >= 50
    for k, v in paper32.arrays.items():
        assert np.isfinite(v).all(), k


# ----------------------------------------------------------------------------- divergence


def tiny(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = dict(
        d=10, p=6, m=30, eta=0.5, theta=0.5, steps=30, snapshots=31, dtype="float64", device="cpu", test_size=32
    )
    base.update(overrides)
    return RunConfig(**base)


def assert_clean_partial_record(exc: SimulationDiverged) -> None:
    """The partial trajectory: exactly the steps before exc.step, and every recorded value finite."""
    traj = exc.trajectory
    assert traj.steps == exc.step
    for k in simulator.trajectory.PER_STEP_FIELDS:
        assert traj.arrays[k].shape[0] == exc.step, k
    bad = sorted(k for k, v in traj.arrays.items() if not np.isfinite(v).all())
    assert not bad, f"non-finite values kept in the partial trajectory: {bad}"
    assert (traj.arrays["snap_steps"] < exc.step).all() or exc.step == 0, (
        f"snapshots {traj.arrays['snap_steps'].tolist()} reach the diverged step {exc.step}"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_init_diverges_at_step_0(bad: float) -> None:
    """An explicit init with a NaN/inf: SimulationDiverged at step 0, an empty but valid trajectory."""
    cfg = tiny(steps=3, snapshots=4)
    W0 = np.full((cfg.p, cfg.d), 0.1)
    W0[2, 4] = bad
    with pytest.raises(SimulationDiverged, match=r"step 0 in variant 'logistic'") as info:
        simulator.run(cfg, init=(W0, np.full(cfg.p, 0.1)))
    exc = info.value
    assert exc.step == 0 and exc.variant == "logistic" and exc.seed == cfg.seed
    assert_clean_partial_record(exc)
    assert exc.trajectory.arrays["snap_W"].shape[0] == 0


def test_huge_init_value_overflows_and_diverges() -> None:
    """An init entry of 1e200 overflows in the forward pass; the run stops and names the step."""
    cfg = tiny(steps=5, snapshots=6)
    W0 = np.full((cfg.p, cfg.d), 0.1)
    W0[0, 0] = 1e200
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg, init=(W0, np.full(cfg.p, 1e200)))
    exc = info.value
    assert f"step {exc.step}" in str(exc) and "'logistic'" in str(exc)
    assert 0 <= exc.step <= cfg.steps


def test_non_finite_init_in_second_seed_names_that_seed() -> None:
    """A NaN in seed index 1 only: the exception names seed + 1."""
    cfg = tiny(steps=2, snapshots=3, seeds=2, seed=7)
    W0 = np.full((2, cfg.p, cfg.d), 0.1)
    W0[1, 0, 0] = math.nan
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg, init=(W0, np.full((2, cfg.p), 0.1)))
    assert info.value.seed == 8 and info.value.step == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_huge_step_diverges(dtype: str) -> None:
    """η = 1e30 with large θ blows up within a few steps: SimulationDiverged naming the step and variant."""
    cfg = tiny(eta=1e30, theta=10.0, dtype=dtype)
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg)
    exc = info.value
    assert 0 < exc.step < cfg.steps
    assert exc.variant == "logistic"
    assert f"step {exc.step} in variant 'logistic'" in str(exc)
    assert exc.trajectory.steps == exc.step
    for k in simulator.trajectory.PER_STEP_FIELDS:  # the per-step records before the step are finite
        assert np.isfinite(exc.trajectory.arrays[k]).all(), k


def test_divergence_names_the_variant_that_diverged() -> None:
    """Coupled run where only the two-layer variant blows up (frozen a: the gradient of W is bounded,
    so W only grows linearly): the exception names 'logistic', the second variant, not the first."""
    cfg = tiny(eta=1e30, theta=10.0, variants=("frozen_a", "logistic"))
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg)
    assert info.value.variant == "logistic"
    frozen = info.value.trajectory.arrays["snap_W"][:, :, 0]
    assert np.isfinite(frozen).all()


@pytest.mark.parametrize("dtype,eta,theta", [("float64", 1e30, 10.0), ("float64", 1e5, 5.0), ("float32", 1e5, 5.0)])
def test_diverged_trajectory_holds_only_finite_records(dtype: str, eta: float, theta: float) -> None:
    """exc.trajectory must hold the records up to exc.step and nothing non-finite.

    The hard case: the state at a snapshot step s is finite but so large that its test-set
    metrics overflow; the snapshot at s is then a divergence at s (recorder.Recorder.snapshot)
    and is not kept.
    """
    cfg = tiny(eta=eta, theta=theta, dtype=dtype, steps=40, snapshots=41)
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg)
    assert_clean_partial_record(info.value)


def test_stable_run_does_not_raise() -> None:
    """The same config with a sane step size runs to the end with finite records (the tests above
    are about η, not the config)."""
    traj = simulator.run(tiny(theta=10.0, steps=5, snapshots=6))
    assert traj.steps == 5
    assert all(np.isfinite(v).all() for v in traj.arrays.values())


def test_partial_trajectory_is_saveable(tmp_path: Any) -> None:
    """The partial trajectory of a diverged run saves and loads like any other."""
    cfg = tiny(steps=3, snapshots=4)
    W0 = np.full((cfg.p, cfg.d), 0.1)
    W0[0, 0] = math.nan
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg, init=(torch.from_numpy(W0), torch.full((cfg.p,), 0.1, dtype=torch.float64)))
    traj = info.value.trajectory
    back = simulator.Trajectory.load(traj.save(tmp_path / "partial.npz"))
    assert back.config == cfg and back.steps == 0
