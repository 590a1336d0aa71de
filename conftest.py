"""Hypothesis profiles, per-worker torch threads, and the shared fixtures of the suite.

Profiles (select with `--hypothesis-profile NAME`; default `quick`, also when `CI` is set,
since hypothesis would otherwise load its own `ci` profile):

* quick   — CI: d ≤ 128, one example per (claim, regime) — the cheapest —, derandomized, no shrinking.
* certify — the main job: d up to 1024 on CPU (more with a GPU), two examples each (ladder claims: one;
            tests/claims/profiles.py says what each profile draws and why).
* hunt    — random search with shrinking on, to find minimal counterexamples.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("quick", max_examples=1, derandomize=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate), **_COMMON)
settings.register_profile("certify", max_examples=2, derandomize=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate), **_COMMON)
settings.register_profile("hunt", max_examples=40, derandomize=False,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
                          **_COMMON)
settings.load_profile("quick")  # --hypothesis-profile, when given, is loaded after this

ROOT = Path(__file__).resolve().parent
pytest_plugins = ["reports.plugin"]  # certificate, HTML report and the baseline gate (reports/plugin.py)


@pytest.hookimpl(tryfirst=True)  # before hypothesis' own plugin loads the profile (an internal error there)
def pytest_configure(config: pytest.Config) -> None:
    from tests.claims.profiles import PROFILES

    name = config.getoption("hypothesis_profile", default=None)
    if name is not None and name not in PROFILES:
        raise pytest.UsageError(f"--hypothesis-profile {name!r} is not a profile of this suite; "
                                f"choose one of {', '.join(PROFILES)}")
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="session")
def xorcert_profile(pytestconfig: pytest.Config):
    from tests.claims.profiles import profile

    return profile(pytestconfig.getoption("hypothesis_profile") or "quick")


@pytest.fixture(scope="session")
def trajectory_cache():
    from simulator.cache import TrajectoryCache, default_root

    root = default_root()
    return TrajectoryCache(root if root.is_absolute() else ROOT / root)


@pytest.fixture(scope="session")
def trajectories(trajectory_cache):
    """get(cfg) -> Trajectory, computed once per content key across all workers."""
    return trajectory_cache.get_or_run
