"""This repository's test settings: the default hypothesis profile and per-worker torch threads.

The certification's profiles, options and fixtures come from the installed plugin
`lemmas.pytest_plugin` (pytest11 entry point `xorcert`): `--hypothesis-profile NAME` with NAME in
quick (the default here, also when `CI` is set, since hypothesis would otherwise load its own
`ci` profile), certify, certify-gpu, hunt; lemmas/plan.py says what each profile draws.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.load_profile("quick")  # registered by lemmas.pytest_plugin; --hypothesis-profile is loaded after this


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread per core share: `pytest -n 2` on 2 cores gives each worker one."""
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
