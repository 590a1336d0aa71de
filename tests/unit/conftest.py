"""Settings shared by the fast CPU unit tests of the simulator.

Every run in the unit suite is tiny (d ≈ 10, p ≈ 6, a few steps, a test set of a few
dozen points), so torch runs them on one thread: on tensors this small a second
OpenMP thread only adds synchronisation, and on a loaded machine a descheduled worker
thread stalls every kernel (measured here: ~100× slower with 2 threads on 2 busy cores).
The setting is made per test module and restored afterwards, so the claims tests keep
the per-worker thread count chosen by the top-level conftest.

Each test module is self-contained (its few helpers are defined in it): importing
helpers `from conftest` breaks as soon as a second conftest.py exists higher up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread for the module's tests (autouse: set up before its module-scoped runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
