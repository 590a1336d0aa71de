from __future__ import annotations

import pytest

from tests.support.fake_run import make_fake


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester's folder holding the fake certification (tests/support/fake_run.py)."""
    return make_fake(pytester, monkeypatch)
