"""The hunt's minimal counterexamples travel from the item to the certificate and the report."""

from __future__ import annotations

import pytest

from reports.html import hunt_finds, render_report
from tests.support import certificates as S
from tests.support.fake_run import cert_of, run


def test_a_found_counterexample_reaches_the_certificate_and_the_report(
    fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FOUND", "C1-paper")
    res = run(fake, "--report-dir", "out")
    assert res.ret == 1  # the item that found one fails
    cert = cert_of(fake, "out")
    (found,) = hunt_finds(cert)
    assert (found["claim"], found["regime"], found["slack"]) == ("C1", "paper", -0.5)
    html = (fake.path / "out" / "index.html").read_text()
    assert "Counterexamples found by hunt" in html and 'data-hunt-claim="C1"' in html
    assert found["command"] in html


def test_no_section_outside_hunt_and_an_empty_one_in_hunt() -> None:
    cert = S.certificate()
    assert "Counterexamples found by hunt" not in render_report(cert, with_plots=False)
    html = render_report({**cert, "profile": "hunt"}, with_plots=False)
    assert "Counterexamples found by hunt" in html and "The search found no failing example" in html
