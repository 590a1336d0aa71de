"""The HTML report: parses, is self-contained, and shows every claim, regime, flip and counterexample."""

from __future__ import annotations

import re

import pytest

from reports.html import render_report
from tests.support import certificates as S
from tests.support.html_page import Collect, parse

BASELINE = {
    "schema": 1,
    "profiles": {
        "quick": {
            "C4": {"large_init": "holds"},
            "C9": {"gaussian": "fails"},
            "C2": {"gaussian": "holds"},
            "C1": {"paper": "holds"},
        }
    },
}


def assert_self_contained(html: str, page: Collect) -> None:
    assert "http:" not in html and "https:" not in html
    assert "@import" not in html
    assert not re.search(r"url\((?!#)", html), "CSS/SVG url() to something outside the page"
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            v = attrs.get(name)
            if v is not None:
                assert v.startswith("#") or v.startswith("data:"), f"<{tag} {name}={v!r}> points outside the page"


@pytest.fixture(scope="module")
def full_page() -> tuple[str, Collect]:
    prev = S.certificate()
    prev["entries"][0]["verdict"]["stats"]["max_batch_dev_to_T1"] = 0.2  # a statistic that moved by 50%
    html = render_report(
        S.certificate(),
        baseline=BASELINE,
        previous=prev,
        baseline_name="baseline.json",
        previous_name="old.json",
        with_plots=False,
    )
    return html, parse(html)


def test_matrix_has_every_claim_and_regime(full_page: tuple[str, Collect]) -> None:
    html, page = full_page
    assert any(tag == "table" and a.get("id") == "matrix" for tag, a in page.tags)
    cells = {
        (a.get("data-claim"), a.get("data-regime")): a.get("data-status")
        for tag, a in page.tags
        if tag == "td" and a.get("data-claim")
    }
    assert set(cells) == {(c, r) for c in S.CLAIMS for r in S.REGIMES}
    assert cells[("C9", "gaussian")] == "fails" and cells[("C1", "parity3")] == "inconclusive"
    assert cells[("C5", "small_batch")] == "mixed" and cells[("C3", "paper")] == "holds"
    assert cells[("C2", "sparse_finders")] == "not run"
    for c in S.CLAIMS:
        assert f'id="{c}"' in html and S.CLAIM_META[c]["statement"] in html


def test_regression_and_counterexamples(full_page: tuple[str, Collect]) -> None:
    html, page = full_page
    text = " ".join(page.text)
    assert "FLIPPED" in text and 'id="baseline-diff"' in html
    flip_row = html.index("FLIPPED")
    assert (
        html.index("large_init", flip_row)
        < html.index("cell(s) without an expected verdict")
        < html.index("cell(s) expected but not run")
    )  # flips come first
    assert 'id="moved-stats"' in html and "max_batch_dev_to_T1" in html  # moved beyond its 10% tolerance
    assert "pytest &#34;tests/claims/test_certify.py::test_claim[C4-large_init]&#34; --hypothesis-profile quick" in html
    assert "python -m lemmas check C4 --regime large_init --d 32" in html  # the entry's own reproduce command
    assert "VerdictFlip: flipped" in html  # the failing item's message
    assert text.index("flip") < text.index("known failure")


def test_page_is_self_contained_with_plots() -> None:
    records = {
        k: v for k, v in S.all_kinds_records().items() if any(s in k for s in ("C2-paper", "C9-gaussian", "C10-paper"))
    }
    notes: list[str] = []
    html = render_report(S.certificate(records), baseline=BASELINE, log=notes.append)
    page = parse(html)
    assert_self_contained(html, page)
    assert sum(tag == "svg" for tag, _ in page.tags) >= 6
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate element ids"
    assert not notes, notes


def test_incomplete_and_odd_series_still_render() -> None:
    records = {
        "t::test_claim[C1-paper]": [S.record("C1", "paper", "holds", series=S.odd_series())],
        "t::test_claim[C7-paper]": [
            S.record("C7", "paper", "holds", series={"quantile_levels": [0.5], "weird": {"x": 1}})
        ],
        "t::test_claim[C3-gaussian]": [S.record("C3", "gaussian", "holds")],
    }
    records["t::test_claim[C3-gaussian]"][0]["verdict"] = {"status": "holds"}  # a verdict with almost nothing
    cert = S.certificate(records, complete=False)
    cert["items"]["t::test_claim[C8-paper]"] = {
        "claim": "C8",
        "regime": "paper",
        "outcome": "error",
        "message": "RuntimeError: simulation crashed",
        "examples": 0,
    }
    notes: list[str] = []
    html = render_report(cert, baseline=None, log=notes.append)
    page = parse(html)
    assert_self_contained(html, page)
    assert "INCOMPLETE" in html and "interrupted" in html
    assert "simulation crashed" in html and 'data-status="error"' in html
    assert notes and 'id="notes"' in html
