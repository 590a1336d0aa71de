"""Shared settings of the mutant tests (each runs a few small real simulations)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import torch

from simulator import RunConfig, Trajectory
from simulator.cache import TrajectoryCache


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny runs: one torch thread (a second one only stalls on a loaded machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trajectories(tmp_path_factory: pytest.TempPathFactory) -> Callable[[RunConfig], Trajectory]:
    """get(cfg) -> Trajectory through a cache of this test session, never the user's .xorcert-cache
    (the root conftest's `trajectories` is the certification's). Under xdist the workers share it:
    it lives in the session's folder above each worker's basetemp."""
    base = tmp_path_factory.getbasetemp()
    return TrajectoryCache(
        (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "xorcert-cache"
    ).get_or_run
