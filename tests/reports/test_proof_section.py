"""The report's "proof's structure" section: a graph per regime, coloured by verdict, and the statements."""

from __future__ import annotations

import re

from reports.html import render_report
from reports.proofview import proof_views, regime_statuses
from tests.support import certificates as S
from tests.support.html_page import parse


def _section(html: str) -> str:
    start = html.index('<section id="proof">')
    return html[start : html.index("</section>", start)]


def test_section_draws_every_regime_and_states_every_reading() -> None:
    cert = S.certificate(S.user_regime_records(), regimes=[*S.REGIMES, S.USER_REGIME])
    html = render_report(cert, with_plots=False)
    parse(html)  # well-formed
    sec = _section(html)
    assert 'id="proof-paper"' in sec and f'id="proof-{S.USER_REGIME}"' in sec
    assert 'id="proof-gaussian"' in sec  # one cell is enough for a regime to be drawn
    assert sec.count('<svg role="img" class="proof-graph"') == 3
    assert 'data-node="C3" data-status="fails"' in sec  # coloured by verdict
    # label_noise: C3 fails, C4 and C5 still hold, C9 fails with its premises holding, C10 holds although C9 fails
    noise = sec[sec.index(f'id="proof-{S.USER_REGIME}"') :]
    assert "C4 holds although C3 fails: a step it does not need here." in noise
    assert "C9 fails although its premises (C4, C5) hold." in noise
    assert "C10 holds although C9 fails" in noise
    assert "C12 cannot be read: it is not run here." in noise  # the fake certificate has no C12
    paper = sec[sec.index('id="proof-paper"') : sec.index(f'id="proof-{S.USER_REGIME}"')]
    assert "C9 holds with its premises (C4, C5)." in paper and "although" not in paper
    assert "C1 → T1" in sec and "Sec. 4.1, Lemma 4.1" in sec  # the edge table with anchors
    assert not re.search(r"https?:", sec)


def test_mixed_cells_combine_and_unknown_statuses_are_noted() -> None:
    recs = {
        "t::test_claim[C5-paper]": [S.record("C5", "paper", "holds"), S.record("C5", "paper", "fails", fails=2, d=64)],
        "t::test_claim[C4-paper]": [S.record("C4", "paper", "inconclusive"), S.record("C4", "paper", "holds", d=64)],
    }
    cert = S.certificate(recs)
    cert["entries"].append({**cert["entries"][0], "verdict": {**cert["entries"][0]["verdict"], "status": "weird"}})
    notes: list[str] = []
    st = regime_statuses(cert, notes.append)
    assert st == {"paper": {"C5": "fails", "C4": "holds"}}
    assert notes and "weird" in notes[0]
    (view,) = proof_views(cert)
    assert view.regime == "paper" and not view.although


def test_certificate_without_entries_renders_the_section() -> None:
    html = render_report(S.certificate({}), with_plots=False)
    assert "No verdict to read against the proof." in _section(html)


def test_no_box_hides_an_edge() -> None:
    """An edge that skips columns (C3 → C5 past C4, T1 → C11) runs below every box of the columns it passes;
    the others join neighbouring columns, where no box stands between them."""
    from lemmas.proof import PROOF
    from reports.proofview import BOX_H, _lanes, _layout

    pos = _layout(PROOF)
    lanes = _lanes(pos, PROOF)
    assert {("C3", "C5"), ("T1", "C11"), ("C4", "C9"), ("C4", "C12")} <= set(lanes)
    for e in PROOF.edges:
        x0, x1 = pos[e.premise][0], pos[e.conclusion][0]
        passed = [y for x, y in pos.values() if x0 < x < x1]
        if passed:
            assert lanes[(e.premise, e.conclusion)] > max(passed) + BOX_H, e
        else:
            assert (e.premise, e.conclusion) not in lanes
