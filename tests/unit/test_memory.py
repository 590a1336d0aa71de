"""A run whose records cannot fit in memory is refused before any work starts."""

from __future__ import annotations

import pytest

from simulator import engine, paper, small_batch
from simulator.cache import TrajectoryCache
from simulator.cli import main
from simulator.memory import MemoryBudgetError, available_bytes, check_memory, record_bytes


def test_record_bytes_matches_a_real_trajectory():
    cfg = paper(16, seeds=2, steps=40, device="cpu", test_size=200)
    traj = engine.run(cfg)
    real = sum(a.nbytes for a in traj.arrays.values())
    assert 0.8 * real <= record_bytes(cfg) <= 1.25 * real


def test_small_batch_at_m4_with_16_seeds_is_refused_naming_what_to_change():
    cfg = small_batch(128, m=4, p=48, seeds=16).replace(variants=("logistic", "frozen_a"))
    assert record_bytes(cfg) > 50 * 2**30  # 10⁶ steps of O(seeds · p) records
    with pytest.raises(MemoryBudgetError, match=r"steps = 1033049, seeds = 16.*GiB.*lower --steps or --seeds"):
        check_memory(cfg, available=24 * 2**30)
    check_memory(small_batch(128, seeds=16), available=24 * 2**30)  # m = d fits
    assert available_bytes() is None or available_bytes() > 0


def test_cache_and_cli_refuse_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("simulator.memory.available_bytes", lambda: 1024)
    monkeypatch.setattr(engine, "run", lambda *a, **k: pytest.fail("the engine must not start"))
    with pytest.raises(MemoryBudgetError):
        TrajectoryCache(tmp_path).get_or_run(paper(16, seeds=2, steps=5, device="cpu"))
    assert not list(tmp_path.glob("*.npz"))
    out = tmp_path / "run.npz"
    assert main(["run", "--d", "16", "--seeds", "2", "--steps", "5", "--device", "cpu", "--out", str(out)]) == 2
    assert "GiB" in capsys.readouterr().err and not out.exists()
