"""The label_noise knob ρ (docs/SPEC.md §1 "Label noise"): flips of the fresh training labels only.

The float64 oracle of tests/unit/test_engine_oracle.py covers ρ > 0 (every record to 1e-10);
here: the flip rate is ρ, the flips are deterministic in the counter-based keys (chunks, batched
seeds), the test set keeps the clean labels, and the field is stored with a run (old files
without it load with ρ = 0). That ρ = 0 draws exactly the run without the knob is pinned in
tests/unit/test_fingerprints.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, Trajectory, data

F64 = torch.float64
CPU = torch.device("cpu")


def tiny(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = dict(
        d=10,
        p=6,
        m=60,
        eta=0.6,
        theta=0.8,
        steps=6,
        dtype="float64",
        device="cpu",
        test_size=400,
        snapshots=3,
        label_noise=0.25,
    )
    base.update(overrides)
    return RunConfig(**base)


def keys(seeds: list[int], step: int = 0) -> torch.Tensor:
    return data.step_keys(data.seed_keys(seeds, data.STREAM_BATCH, CPU), step)


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.25, 0.49])
def test_flip_rate_is_rho(rho: float) -> None:
    """Over 4·10^5 samples (4 seeds × 10^5 rows) the share of flipped labels is ρ within 5 binomial
    standard errors, for the flips alone and through data.batch (noisy against clean labels)."""
    n = 100_000
    flips = data.label_flips(keys([0, 1, 2, 3]), 0, n, rho, F64)
    assert set(np.unique(flips.numpy())) == {-1.0, 1.0}
    rate = float((flips < 0).to(F64).mean())
    assert abs(rate - rho) < 5 * math.sqrt(rho * (1 - rho) / (4 * n)), rate
    _, noisy = data.batch("boolean", 9, 4, n, 8, (0, 1), F64, label_noise=rho)
    _, clean = data.batch("boolean", 9, 4, n, 8, (0, 1), F64)
    rate = float((noisy != clean).to(F64).mean())
    assert abs(rate - rho) < 5 * math.sqrt(rho * (1 - rho) / n), rate


def test_flips_are_independent_of_the_rows() -> None:
    """A flip is uncorrelated with the coordinates of its row (the flips use their own key domain)."""
    x, clean = data.batch("boolean", 2, 0, 200_000, 70, (0, 1), F64)
    _, noisy = data.batch("boolean", 2, 0, 200_000, 70, (0, 1), F64, label_noise=0.3)
    f = (noisy * clean).numpy()  # -1 where flipped
    corr = np.abs((x.numpy() * (f - f.mean())[:, None]).mean(0)) / f.std()
    assert corr.max() < 5 / math.sqrt(200_000)


def test_flips_are_chunk_and_seed_invariant() -> None:
    """Flips of rows [r0, r0 + c) are the same whatever chunks they are drawn in, and stacked keys flip each
    seed's rows exactly as that seed alone."""
    k = keys([5, 6, 7], step=3)
    whole = data.label_flips(k, 0, 97, 0.3, F64)
    parts = [data.label_flips(k, r0, c, 0.3, F64) for r0, c in ((0, 1), (1, 40), (41, 56))]
    assert torch.equal(torch.cat(parts, dim=1), whole)
    for r in range(3):
        assert torch.equal(data.label_flips(k[r : r + 1], 0, 97, 0.3, F64)[0], whole[r])


def test_runs_are_chunk_and_seed_invariant() -> None:
    """A noisy run: chunk_rows reorders a sum only; seed s of a batched run is the single run of seed s."""
    base = simulator.run(tiny(seed=3, seeds=2))
    others = [(None, simulator.run(tiny(seed=3, seeds=2, chunk_rows=c))) for c in (7, 1)]
    others += [(r, simulator.run(tiny(seed=3 + r, seeds=1))) for r in (0, 1)]
    for r, other in others:
        for k in ("snap_W", "snap_a", "batch_loss", "batch_err", "g_w_norm2", "test_err_count"):
            want = base.arrays[k] if r is None else base.arrays[k][:, r : r + 1]
            np.testing.assert_allclose(other.arrays[k], want, rtol=1e-12, atol=1e-14, err_msg=k)


def test_noise_changes_the_labels_only() -> None:
    """ρ > 0 and ρ = 0 share the initialization and the inputs; the runs differ (the labels do)."""
    noisy, clean = simulator.run(tiny()), simulator.run(tiny(label_noise=0.0))
    np.testing.assert_array_equal(noisy.arrays["snap_W"][0], clean.arrays["snap_W"][0])
    np.testing.assert_array_equal(noisy.arrays["snap_a"][0], clean.arrays["snap_a"][0])
    assert not np.array_equal(noisy.arrays["snap_W"][-1], clean.arrays["snap_W"][-1])
    xn, _ = data.batch("boolean", 0, 2, 60, 10, (0, 1), F64, label_noise=0.25)
    xc, _ = data.batch("boolean", 0, 2, 60, 10, (0, 1), F64)
    assert torch.equal(xn, xc)


def test_test_set_keeps_the_clean_labels() -> None:
    """The population error of a noisy run is measured against the true XOR labels: recomputed here from
    the snapshots and the clean test rows."""
    cfg = tiny(label_noise=0.4)
    traj = simulator.run(cfg)
    x, y = data.test_rows(cfg.data, cfg.test_seed, 0, cfg.test_size, cfg.d, cfg.label_coords, F64, CPU)
    np.testing.assert_array_equal(y.numpy(), -(x[:, 0] * x[:, 1]).numpy())
    for s in range(len(traj.arrays["snap_steps"])):
        W = torch.from_numpy(traj.arrays["snap_W"][s, 0, 0])
        a = torch.from_numpy(traj.arrays["snap_a"][s, 0, 0])
        f = torch.relu(x @ W.T) @ a / cfg.p
        assert traj.arrays["test_err_count"][s, 0, 0] == int(((y * f) <= 0).sum())


def test_label_noise_is_stored_and_old_files_load_with_zero(tmp_path: Path) -> None:
    """label_noise round-trips through to_dict/from_dict and a trajectory file; a file written before the
    field existed (no label_noise in its stored config) loads with ρ = 0."""
    cfg = tiny(label_noise=0.125, steps=2)
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg
    traj = simulator.run(cfg)
    traj.save(tmp_path / "noisy.npz")
    assert Trajectory.load(tmp_path / "noisy.npz").config.label_noise == 0.125

    old = simulator.run(tiny(label_noise=0.0, steps=2))
    old.save(tmp_path / "old.npz")
    with np.load(tmp_path / "old.npz") as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["__header__"].tobytes().decode())
    del header["config"]["label_noise"]
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    back = Trajectory.load(tmp_path / "old.npz")
    assert back.config.label_noise == 0.0 and back.config == old.config


def test_cli_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--label-noise sets the field; the stored run carries it, and `show` prints it."""
    from simulator.cli import main

    out = tmp_path / "r.npz"
    code = main(
        [
            "run",
            "--regime",
            "custom",
            "--d",
            "8",
            "--p",
            "4",
            "--m",
            "16",
            "--eta",
            "0.1",
            "--theta",
            "0.1",
            "--steps",
            "3",
            "--test-size",
            "64",
            "--snapshots",
            "2",
            "--device",
            "cpu",
            "--label-noise",
            "0.2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0 and Trajectory.load(out).config.label_noise == 0.2
    capsys.readouterr()
    assert main(["show", str(out)]) == 0 and "label noise 0.2 (training labels only)" in capsys.readouterr().out
