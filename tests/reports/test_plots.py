"""Every panel is drawn by the one renderer, every kind of mark; malformed records are logged and skipped."""

from __future__ import annotations

import json
import math
import re

import pytest

from lemmas.plain import sanitize
from lemmas.report import Band, Curve, ErrorBar, HLine, KeyStat, Panel, Scatter, VLine
from reports.plots import clean_svg, plots_for
from tests.support import certificates as S


@pytest.mark.parametrize("claim", S.CLAIMS)
def test_each_claim_series_is_drawn(claim: str) -> None:
    logs: list[str] = []
    plots = plots_for(claim, S.verdict(claim, "holds"), logs.append, id_prefix=f"{claim}-")
    assert plots, f"{claim}: no plot drawn"
    assert not logs, logs
    for p in plots:
        assert p.svg.startswith("<svg") and p.svg.endswith("</svg>")
        assert "http" not in p.svg and "<?xml" not in p.svg and "DOCTYPE" not in p.svg
        ids = re.findall(r'\bid="([^"]+)"', p.svg)
        assert all(i.startswith(f"{claim}-") for i in ids)


def test_panels_are_drawn_as_given() -> None:
    """One plot per panel, in order, under the panel's title; scales as the panel says."""
    verdict = S.verdict("C10", "holds")
    plots = plots_for("C10", verdict)
    assert [p.title for p in plots] == [d["title"] for d in verdict["series"].values()]
    svg = plots[0].svg
    assert "band slope 1" in svg and "fit: slope 1.3" in svg and "seeds" in svg  # legend: one entry for the seeds
    assert svg.count(">seeds<") <= 1


def test_every_mark_kind_round_trips_and_draws() -> None:
    panel = Panel(
        "all marks",
        (
            Band([1, 2, 3], [0.0, 0.5, 1], [2, 3, 4], "band"),
            Curve([1, 2, 3], [1, "inf", 3], "seed 0", "seed"),
            Curve([1, 2, 3], [1, 2, 3], "m", "median"),
            Scatter([1, 2], [3, 4], "pts"),
            ErrorBar(2, 2, 1, 3, "CI"),
            HLine(2.5, "thr"),
            HLine(1.5, "ref", "reference"),
            VLine(2, "T1"),
            VLine(math.inf, "never"),
        ),
        "x",
        "y",
        x_scale="log2",
        y_scale="log",
    )
    record = panel.to_dict()
    assert record["kind"] == "panel" and [m["kind"] for m in record["marks"]] == [
        "band",
        "curve",
        "curve",
        "scatter",
        "errorbar",
        "hline",
        "hline",
        "vline",
        "vline",
    ]
    assert Panel.from_dict(json.loads(json.dumps(sanitize(record)))) == panel
    logs: list[str] = []
    (plot,) = plots_for("any", {"series": {"p": record}}, logs.append)
    assert not logs and "all marks" in plot.svg and ">T1<" in plot.svg and ">never<" not in plot.svg


def test_contract_rejects_malformed_marks() -> None:
    with pytest.raises(ValueError):
        Curve([1, 2], [1], "short")
    with pytest.raises(ValueError):
        Curve([1], [1], "x", role="sparkle")
    with pytest.raises(ValueError):
        Panel("t", (), y_scale="cubic")
    with pytest.raises(TypeError):
        Panel("t", ({"kind": "curve"},))  # type: ignore[arg-type]
    assert KeyStat.from_dict(KeyStat("s", "slope", "in", ("lo", "hi")).to_dict()).threshold == ("lo", "hi")


def test_odd_series_are_skipped_not_fatal() -> None:
    logs: list[str] = []
    assert plots_for("C1", {"series": S.odd_series(), "stats": {"x": "odd"}, "thresholds": None}, logs.append) == []
    assert len(logs) == len(S.odd_series()), logs  # each odd record is named in the log
    logs.clear()
    assert plots_for("C3", {"series": {"S": {"x": [1, 2], "median": [1, 2]}, "d": [1, 2]}}, logs.append) == []
    assert len(logs) == 1 and "older" in logs[0]  # an old certificate: one note per verdict, not one per series
    assert plots_for("C3", {"series": [1, 2, 3]}, logs.append) == []
    assert any("series of type list" in m for m in logs)
    assert plots_for("C3", {}, logs.append) == []


def test_ids_are_unique_per_prefix() -> None:
    a = plots_for("C3", S.verdict("C3", "holds"), id_prefix="a-")[0].svg
    b = plots_for("C3", S.verdict("C3", "holds"), id_prefix="b-")[0].svg
    assert set(re.findall(r'id="([^"]+)"', a)).isdisjoint(re.findall(r'id="([^"]+)"', b))
    assert "url(#a-" in a or 'href="#a-' in a


def test_clean_svg() -> None:
    raw = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/x.dtd">\n'
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><metadata>'
        '<a href="http://x"/></metadata><g id="g1" clip-path="url(#c1)"><use xlink:href="#m1"/></g></svg>'
    )
    out = clean_svg(raw, "q-")
    assert "http" not in out and 'id="q-g1"' in out and "url(#q-c1)" in out and 'href="#q-m1"' in out
