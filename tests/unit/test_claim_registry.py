"""The claims registry: the `xorcert.claims` entry point group, and its failures named."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

import lemmas.base as base
from lemmas.base import Claim, ClaimRegistryError, registry


def fake_group(monkeypatch: pytest.MonkeyPatch, *eps: tuple[str, str]) -> None:
    """entry_points(group=...) returns the real claims plus these (name, "module:attr") entries."""
    import importlib.metadata as md

    real = md.entry_points

    def entry_points(**kw: Any) -> Any:
        found = list(real(**kw))
        if kw.get("group") == base.CLAIM_GROUP:
            found += [EntryPoint(name, value, base.CLAIM_GROUP) for name, value in eps]
        return found

    monkeypatch.setattr(md, "entry_points", entry_points)


EXTRA = Claim(id="C99", slug="extra", title="An extra claim", anchor="-", statement="-", check=lambda t: None)
NOT_A_CLAIM = {"id": "C98"}


def test_the_built_in_claims_in_order() -> None:
    assert list(registry()) == [*(f"C{i}" for i in range(1, 16)), "Q1"]


def test_another_package_adds_a_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_group(monkeypatch, ("C99", f"{__name__}:EXTRA"))
    assert list(registry())[-2:] == ["C99", "Q1"] and registry()["C99"] is EXTRA


@pytest.mark.parametrize(
    ("ep", "says"),
    [
        (
            ("C98", "no_such_module_xyz:CLAIM"),
            "entry point C98 = no_such_module_xyz:CLAIM (group xorcert.claims) failed to import: ModuleNotFoundError",
        ),
        (("C98", f"{__name__}:NOT_A_CLAIM"), "is a dict, not a lemmas.base.Claim"),
        (("again", f"{__name__}:SHADOW"), "claim id C3 is registered twice"),
    ],
    ids=["fails to import", "not a claim", "duplicate id"],
)
def test_a_bad_entry_point_is_named(monkeypatch: pytest.MonkeyPatch, ep: tuple[str, str], says: str) -> None:
    fake_group(monkeypatch, ep)
    with pytest.raises(ClaimRegistryError) as err:
        registry()
    assert says in str(err.value)


def test_no_claims_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda **kw: [])
    with pytest.raises(ClaimRegistryError, match=r"install the package \(\./setup\.sh"):
        registry()


SHADOW = Claim(id="C3", slug="shadow", title="-", anchor="-", statement="-", check=lambda t: None)
