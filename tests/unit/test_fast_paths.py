"""The engine's shortcuts against the plain paths they replace, bit for bit.

Each shortcut only reorganises work: records staged in a ring of steps and copied in blocks
(recorder.STAGE_STEPS), the words of a block of small batches drawn at once and the ±1 signs looked
up by numpy (data.BooleanSampler.SMALL_BYTES), the finiteness check reading only the steps since
the last one. Switching a shortcut off must leave every array of the trajectory byte-identical,
and a divergence must be reported at the same step, seed and variant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, SimulationDiverged, data, recorder

CPU = torch.device("cpu")


def same_arrays(a: simulator.Trajectory, b: simulator.Trajectory) -> None:
    assert set(a.arrays) == set(b.arrays)
    for k in a.arrays:
        x, y = np.asarray(a.arrays[k]), np.asarray(b.arrays[k])
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), k


CONFIGS = {
    # T = 300 > KEY_BLOCK: two blocks of step keys; several passes of the record ring
    "small_batch": simulator.small_batch(12, m=2, seeds=3, steps=300, test_size=64, device="cpu"),
    "parity3": simulator.parity3(12, m=3, seeds=2, steps=150, test_size=64, device="cpu", dtype="float64"),
    "coupled": simulator.paper(
        10, m=5, seeds=2, steps=130, test_size=64, device="cpu", variants=("logistic", "linear", "frozen_a")
    ),
    "chunks": simulator.paper(10, m=40, seeds=2, steps=70, test_size=64, device="cpu", chunk_rows=16),
    "gaussian": simulator.gaussian(10, m=4, seeds=2, steps=90, test_size=64, device="cpu"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shortcuts_off_give_the_same_trajectory(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = CONFIGS[name]
    fast = simulator.run(cfg)
    monkeypatch.setattr(recorder, "STAGE_STEPS", 1)  # every step's records copied at once
    monkeypatch.setattr(data.BooleanSampler, "SMALL_BYTES", 0)  # torch lookup, one step at a time
    same_arrays(fast, simulator.run(cfg))
    monkeypatch.setattr(recorder, "STAGE_STEPS", 7)  # a ring that does not divide the snapshot steps
    same_arrays(fast, simulator.run(cfg))


def test_early_stop_keeps_the_staged_records() -> None:
    """stop_error ends the run at a snapshot inside the ring: the records up to it are all there."""
    cfg = RunConfig(d=8, p=8, m=64, eta=2.0, theta=0.5, steps=400, snapshots=40, test_size=64, stop_error=0.5)
    traj = simulator.run(cfg)
    assert traj.meta.get("stopped_early") and traj.steps % recorder.STAGE_STEPS != 0
    full = simulator.run(cfg.replace(stop_error=0.0))
    for k in simulator.trajectory.PER_STEP_FIELDS:
        assert np.array_equal(traj.arrays[k], full.arrays[k][: traj.steps]), k


@pytest.mark.parametrize("snapshots", [2, 13, 201])
def test_divergence_is_found_at_the_same_step_whatever_the_snapshots(snapshots: int) -> None:
    """The check reads only the steps since the previous snapshot: the first non-finite step,
    seed and variant are the same with snapshots at every step or far apart."""
    cfg = RunConfig(d=10, p=6, m=30, eta=1e5, theta=5.0, steps=200, test_size=32, seeds=2, snapshots=snapshots)
    with pytest.raises(SimulationDiverged) as info:
        simulator.run(cfg)
    with pytest.raises(SimulationDiverged) as every_step:
        simulator.run(cfg.replace(snapshots=201))
    got, ref = info.value, every_step.value
    assert (got.step, got.seed, got.variant) == (ref.step, ref.seed, ref.variant)
    assert 0 < got.step < cfg.steps
    for k in simulator.trajectory.PER_STEP_FIELDS:
        assert np.array_equal(got.trajectory.arrays[k], ref.trajectory.arrays[k]), k
        assert np.isfinite(got.trajectory.arrays[k]).all(), k


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [5, 64, 70, 200])
def test_sampler_paths_draw_the_same_signs(d: int, dt: torch.dtype) -> None:
    """numpy lookup (small chunks), torch lookup, and a block of steps drawn at once: the same rows."""
    R, rows, ws = 3, 4, 8 * math.ceil(d / 8) + 16
    keys = data.step_keys_range(data.seed_keys([1, 2, 3], data.STREAM_BATCH, CPU), 0, 20)  # (20, R)
    small = data.BooleanSampler(R, rows, d, dt, CPU, out=torch.zeros(R * rows * ws, dtype=dt), row_stride=ws)
    plain = data.BooleanSampler(R, rows, d, dt, CPU)
    plain.SMALL_BYTES = 0
    assert small.small_steps(rows) and not plain.small_steps(rows)
    small.draw_steps(keys, rows)
    for s in range(keys.shape[0]):
        ref = plain(keys[s], 0, rows).clone()
        assert torch.equal(small(keys[s], 0, rows), ref)
        assert torch.equal(small.fill_step(s), ref)
        assert torch.equal(ref, data.boolean_rows(keys[s], 0, rows, d, dt))
