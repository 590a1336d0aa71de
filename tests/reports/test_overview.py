"""The overview figure of a paper-regime run: built from the certificate's verdict series, T1/T2 marked."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from lemmas.series import over_seeds
from reports.html import render_report
from reports.overview import overview, overview_figure
from simulator import Trajectory
from tests.support import certificates as S


def _entry(claim: str, series: dict[str, Any], d: int = 16, regime: str = "paper") -> dict[str, Any]:
    rec = S.record("C3" if claim not in S.STATS else claim, regime, "holds", d=d)
    rec["claim"] = claim
    rec["verdict"] = {**rec["verdict"], "claim": claim, "series": {k: p.to_dict() for k, p in series.items()}}
    return rec


def _fake_records() -> dict[str, list[dict[str, Any]]]:
    t = np.arange(100)
    seeds = [0, 1]
    S_t = np.stack([np.clip(t / 40, 0, 1)] * 2, axis=1)
    dev = np.stack([np.exp((t - 60) / 20)] * 2, axis=1)
    err = np.stack([np.maximum(0.5 - t / 80, 0.001)] * 2, axis=1)
    times = {"T1 (median)": 40.0, "T2 (median)": 60.0}
    return {
        "t::test_claim[C3-paper]": [
            _entry("C3", {"S": over_seeds("S", t, S_t, seeds, "step t", "S", {"1-ζ": 0.64}, {"T1 (median)": 40.0})}),
            _entry("C3", {"S": over_seeds("S at 32", t, S_t, seeds, "step t", "S")}, d=32),
        ],
        "t::test_claim[C1-paper]": [
            _entry("C1", {"batch_max_dev": over_seeds("dev", t, dev, seeds, "step t", "dev", {"ζ": 0.36}, times)})
        ],
        "t::test_claim[C9-paper]": [
            _entry("C9", {"test_error": over_seeds("err", t, err, seeds, "step", "err", {"ε": 0.01}, log_y=True)})
        ],
        "t::test_claim[C3-gaussian]": [_entry("C3", {}, regime="gaussian")],
    }


def test_overview_from_fake_series() -> None:
    ov = overview(S.certificate(_fake_records()))
    assert ov is not None and ov.d == 16  # the smallest d with a C3 or C9 example
    assert [r.claim for r in ov.rows] == ["C3", "C1", "C9"]
    assert ov.times == {"T1": 40.0, "T2": 60.0}
    assert ov.missing and "C2" in ov.missing[0]  # no norms panel: said, not drawn
    plot = overview_figure(ov)
    assert plot.svg.startswith("<svg") and "http" not in plot.svg.split(">", 1)[1]


def test_report_shows_the_overview_section() -> None:
    html = render_report(S.certificate(_fake_records()))
    sec = html[html.index('<section id="overview">') : html.index('<section id="proof">')]
    assert "d = 16" in sec and "T1 = 40" in sec and "T2 = 60" in sec and "<svg" in sec
    assert "not drawn: first-layer norms" in sec


def test_no_paper_run_no_overview() -> None:
    recs = {k: v for k, v in _fake_records().items() if "gaussian" in k}
    assert overview(S.certificate(recs)) is None
    assert '<section id="overview">' not in render_report(S.certificate(recs), with_plots=False)


@pytest.fixture(scope="module")
def paper16() -> Trajectory:
    import torch

    import simulator

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation
    try:
        return simulator.run(simulator.paper(16, seeds=1, device="cpu"))
    finally:
        torch.set_num_threads(before)


def test_overview_of_a_simulated_run(paper16: Trajectory) -> None:
    """C2, C3 and C9 on a real d = 16 paper run: the figure has S_t, the norms and the error, and T1 is the run's."""
    from lemmas.base import registry

    claims = registry()
    recs = {}
    for c in ("C3", "C9"):
        v = claims[c].check(paper16)
        recs[f"t::test_claim[{c}-paper]"] = [
            {**S.record("C3", "paper", "holds", d=16), "claim": c, "verdict": v.to_dict()}
        ]
    v2 = claims["C2"].check({16: paper16})
    recs["t::test_claim[C2-paper]"] = [{**S.record("C2", "paper", "holds", d=16), "verdict": v2.to_dict()}]
    start = time.perf_counter()
    ov = overview(S.certificate(recs))
    assert ov is not None and [r.claim for r in ov.rows] == ["C3", "C2", "C9"]
    assert ov.times["T1"] == pytest.approx(float(np.median(paper16.T1())))
    overview_figure(ov)
    assert time.perf_counter() - start < 10


def test_old_certificate_without_panels_renders() -> None:
    """Series older than lemmas.report's panels (plain lists): no overview, the rest of the report drawn."""
    rec = S.record("C3", "paper", "holds", d=16, series={"S": [0.1, 0.5, 1.0]})
    cert = S.certificate({"t::test_claim[C3-paper]": [rec]})
    assert overview(cert) is None
    html = render_report(cert, with_plots=False)
    assert '<section id="overview">' not in html and 'id="proof-paper"' in html
