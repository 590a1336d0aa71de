"""Every series shape the claim modules produce is drawn; odd shapes are logged and skipped."""

from __future__ import annotations

import re

import pytest

from reports.plots import clean_svg, plots_for
from tests.reports import synthetic as S


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


def test_claim_specific_plots() -> None:
    titles = {c: [p.title for p in plots_for(c, S.verdict(c, "holds"))] for c in ("C2", "C7", "C8", "C10", "C11")}
    assert any("norms over the neurons" in t for t in titles["C2"]), titles["C2"]  # w_sig/w_opp/w_perp spread
    assert any("growth of ‖w_sig‖" in t for t in titles["C2"])  # the rate fit
    assert any("noise/drift against the batch" in t for t in titles["C7"])  # C7 log-log
    assert any("Spearman" in t for t in titles["C8"])  # the scatter
    assert any("log-log slope 1.3" in t for t in titles["C10"])  # fitted slope with its CI
    assert any("at each d" in t for t in titles["C10"])  # n(m) per rung, not swallowed by the ladder
    assert not any(t.startswith("m tried") for t in titles["C10"]), titles["C10"]
    assert any(t.startswith("T1 eta over logd") for t in titles["C11"])


def test_odd_series_are_skipped_not_fatal() -> None:
    logs: list[str] = []
    plots_for("C1", {"series": S.odd_series(), "stats": {"x": "odd"}, "thresholds": None}, logs.append)
    assert logs, "odd shapes should be reported"
    assert plots_for("C3", {"series": [1, 2, 3]}, logs.append) == []
    assert any("series of type list" in m for m in logs)
    assert plots_for("C3", {}, logs.append) == []


def test_ids_are_unique_per_prefix() -> None:
    a = plots_for("C3", S.verdict("C3", "holds"), id_prefix="a-")[0].svg
    b = plots_for("C3", S.verdict("C3", "holds"), id_prefix="b-")[0].svg
    assert set(re.findall(r'id="([^"]+)"', a)).isdisjoint(re.findall(r'id="([^"]+)"', b))
    assert 'url(#a-' in a or 'href="#a-' in a


def test_clean_svg() -> None:
    raw = ('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/x.dtd">\n'
           '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><metadata>'
           '<a href="http://x"/></metadata><g id="g1" clip-path="url(#c1)"><use xlink:href="#m1"/></g></svg>')
    out = clean_svg(raw, "q-")
    assert "http" not in out and 'id="q-g1"' in out and "url(#q-c1)" in out and 'href="#q-m1"' in out
