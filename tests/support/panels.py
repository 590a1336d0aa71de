"""Reading a claim's report panels (lemmas.report) in the unit tests."""

from __future__ import annotations

from lemmas.report import Band, Curve, HLine, Panel, VLine


def curves(panel: Panel, role: str) -> list[Curve]:
    return [m for m in panel.marks if isinstance(m, Curve) and m.role == role]


def median(panel: Panel) -> Curve:
    (out,) = curves(panel, "median")
    return out


def hlines(panel: Panel) -> dict[str, float]:
    return {m.label: m.y for m in panel.marks if isinstance(m, HLine)}


def vlines(panel: Panel) -> dict[str, float]:
    return {m.label: m.x for m in panel.marks if isinstance(m, VLine)}


def bands(panel: Panel) -> list[Band]:
    return [m for m in panel.marks if isinstance(m, Band)]


def round_trips(panel: Panel) -> bool:
    return Panel.from_dict(panel.to_dict()) == panel
