"""User regimes stand beside paper with their differences marked; cells the baseline does not know are new."""

from __future__ import annotations

import re

from reports import certificate as certmod
from reports.diff import baseline_diff, format_diff
from reports.html import render_report
from reports.summary import cell_lines
from tests.support import certificates as S
from tests.support.html_page import parse

BASELINE = {"schema": 1, "profiles": {"quick": {c: {"paper": "holds"} for c in S.CLAIMS}}}
DIFFERS = "label_noise differs from paper: C3 (holds → fails), C7 (holds → inconclusive), C9 (holds → fails)"


def user_cert() -> dict:
    return S.certificate(S.user_regime_records())


def test_user_regimes_come_from_the_certificate() -> None:
    cert = user_cert()
    assert cert["builtin_regimes"] == list(certmod.BUILTIN_REGIMES)
    assert certmod.user_regimes(cert) == [S.USER_REGIME]
    assert certmod.matrix_regimes(cert)[:3] == ["paper", S.USER_REGIME, "small_batch"]
    cert["builtin_regimes"] = [*S.REGIMES, S.USER_REGIME]  # a certificate that calls it built in
    assert certmod.user_regimes(cert) == [] and certmod.paper_differences(cert) == {}
    del cert["builtin_regimes"]  # older certificates: the built-in list of this code
    assert certmod.user_regimes(cert) == [S.USER_REGIME]
    diffs = certmod.paper_differences(cert)[S.USER_REGIME]
    assert certmod.describe_differences(S.USER_REGIME, diffs) == DIFFERS


def test_html_sets_the_user_regime_beside_paper_and_marks_differences() -> None:
    html = render_report(user_cert(), baseline=BASELINE, with_plots=False)
    page = parse(html)
    heads = [a for tag, a in page.tags if tag == "th" and "data-user-regime" in a]
    assert [a["data-user-regime"] for a in heads] == [S.USER_REGIME]
    header = html[html.index("<thead><tr><th>claim</th>") :]
    header = header[: header.index("</tr>")]
    assert header.index(">paper<") < header.index(S.USER_REGIME) < header.index("small_batch")
    cells = {(a["data-claim"], a["data-regime"]): a for tag, a in page.tags if tag == "td" and a.get("data-claim")}
    assert cells[("C3", S.USER_REGIME)]["data-differs"] == "holds → fails"
    assert cells[("C7", S.USER_REGIME)]["data-differs"] == "holds → inconclusive"
    assert "data-differs" not in cells[("C1", S.USER_REGIME)] and "data-differs" not in cells[("C3", "paper")]
    assert DIFFERS in " ".join(page.text)
    assert 'id="paper-differences"' in html


def test_new_cells_show_their_verdict_and_are_no_flip() -> None:
    cert = user_cert()
    for baseline in (BASELINE, None):
        html = render_report(cert, baseline=baseline, with_plots=False)
        page = parse(html)
        cells = {(a["data-claim"], a["data-regime"]): a for tag, a in page.tags if tag == "td" and a.get("data-claim")}
        new = cells[("C3", S.USER_REGIME)]
        assert new.get("data-new") == "1" and new["data-status"] == "fails"
        assert "flip" not in new["class"].split() and "new" in new["class"].split()
        assert "fails" not in new["class"].split()  # a new cell is never red
        assert cells[("C2", "gaussian")].get("data-new") == "1"
        assert "data-new" not in cells[("C3", "paper")]
        assert "FLIPPED" not in html
    html = render_report(cert, baseline=BASELINE, with_plots=False)
    assert ">new failure</span>" in html and ">failure</span>" not in html  # in the counterexamples, never red
    diff = baseline_diff(cert, BASELINE)
    kinds = {(c.claim, c.regime): c.kind for c in diff.cells}
    assert kinds[("C3", S.USER_REGIME)] == "new" and kinds[("C2", "gaussian")] == "new" and not diff.flips
    lines = format_diff(diff)
    assert any(re.search(r"new\s+C3\s+label_noise", line) for line in lines)
    assert not any("FLIP" in line for line in lines)


def test_terminal_summary_tags_new_cells_and_user_regime_differences() -> None:
    lines = cell_lines(user_cert())
    text = [line for line, _ in lines]
    c3 = [i for i, line in enumerate(text) if line.startswith("C3 ")]
    assert [text[i].split()[1] for i in c3[:2]] == ["paper", S.USER_REGIME]  # the user regime right after paper
    line, colour = lines[c3[1]]
    assert "fails new ≠paper" in line and colour == "cyan"  # a new cell is never red
    assert lines[c3[0]][1] == "green"
    gaussian = next((line, colour) for line, colour in lines if line.startswith("C2 ") and "gaussian" in line)
    assert "new" in gaussian[0] and gaussian[1] == "cyan"
    assert (DIFFERS, "yellow") in lines


def test_entries_carry_their_reproduce_command() -> None:
    cert = user_cert()
    assert all(e["reproduce"].startswith("python -m lemmas check ") for e in cert["entries"])
    html = render_report(cert, baseline=None, with_plots=False)
    assert "python -m lemmas check C9 --regime label_noise --d 32 --width 1 --seed 0 --seeds 4" in html
    old = S.certificate(S.user_regime_records())
    for e in old["entries"]:
        del e["reproduce"]  # older certificates: the command is built from the example
    assert "python -m lemmas check" not in render_report(old, baseline=None, with_plots=False)


def test_merged_shards_keep_the_builtin_regimes() -> None:
    records = S.user_regime_records()
    paper = {k: v for k, v in records.items() if "paper" in k}
    user = {k: v for k, v in records.items() if "paper" not in k}
    merged = certmod.merge([S.certificate(paper), S.certificate(user)], ["a.json", "b.json"])
    assert merged["builtin_regimes"] == list(certmod.BUILTIN_REGIMES)
    assert certmod.describe_differences(S.USER_REGIME, certmod.paper_differences(merged)[S.USER_REGIME]) == DIFFERS


def test_a_user_regime_without_paper_is_not_compared() -> None:
    """Run alone (--regimes label_noise), a user regime's line says it was not compared, never "as in paper"."""
    cert = S.certificate(records=S.user_regime_records())
    cert["entries"] = [e for e in cert["entries"] if e["regime"] != "paper"]
    diffs = certmod.paper_differences(cert)
    assert diffs[S.USER_REGIME] is None
    assert "not compared with paper" in certmod.describe_differences(S.USER_REGIME, diffs[S.USER_REGIME])
