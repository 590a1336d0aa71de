"""The plugin end to end, in subprocess pytest runs of a fake certification module (no simulation;
tests/support/fake_run.py)."""

from __future__ import annotations

import json

import pytest

from reports import certificate as certmod
from tests.support.fake_run import CELLS, TRENDS, cert_of, fake_records, fake_trends, run, unstub


def test_xdist_workers_end_up_in_the_controllers_certificate(fake: pytest.Pytester) -> None:
    """Two workers, one certificate on the controller; and two shards merge to exactly that certificate."""
    res = run(fake, "-p", "xdist", "-n", "2", "--report-dir", "whole")
    assert res.ret == 0, res.stdout.str()
    cert = cert_of(fake, "whole")
    assert cert["complete"] is True and cert["incomplete_reasons"] == []
    assert len(cert["entries"]) == 2 * len(CELLS)
    assert sorted(cert["run"]["workers"]) == ["gw0", "gw1"]
    assert {(e["claim"], e["regime"]) for e in cert["entries"]} == {(c, r) for c, r, _ in CELLS}
    assert all(e["device"] == "cpu" for e in cert["entries"])
    assert [e["index"] for e in cert["entries"][:2]] == [0, 1]
    assert (fake.path / "whole" / "index.html").exists()
    assert not list((fake.path / "whole").glob(".*.tmp"))
    out = res.stdout.str()
    assert "xorcert certificate (hypothesis profile" in out
    for cid, regime, status in CELLS:
        res.stdout.re_match_lines([rf"^{cid}\s+{regime}\s+{status}\s+2\s+8\s.*"])
    assert "verdicts against" in out and "11 new" in out  # 9 cells, 2 trend items
    last = [line for line in res.stdout.lines if line.strip()][-1]
    assert last.startswith("xorcert report: ") and last.endswith("index.html")

    assert run(fake, "-k", "paper", "--report-dir", "a").ret == 0
    assert run(fake, "-k", "not paper", "--report-dir", "b").ret == 0
    a, b = cert_of(fake, "a"), cert_of(fake, "b")
    assert a["complete"] and b["complete"] and a["entries"] and b["entries"]
    merged = certmod.merge([a, b], ["a", "b"])
    assert certmod.canonical(merged) == certmod.canonical(cert)


def test_update_baseline_round_trip(fake: pytest.Pytester) -> None:
    res = run(fake, "--update-baseline", "--baseline", "bl.json", "--report-dir", "out")
    assert res.ret == 0, res.stdout.str()
    res.stdout.fnmatch_lines(["baseline updated: 9 cell(s) of profile 'quick' written to *bl.json"])
    table = json.loads((fake.path / "bl.json").read_text())
    assert table["schema"] == 2
    trend = {(c, r): t for c, r, t in TRENDS}
    assert table["profiles"]["quick"] == {
        c: {
            r: s if (c, r) not in trend else {"d=32": s, "d=64": s, "trend": trend[c, r]}
            for cc, r, s in CELLS
            if cc == c
        }
        for c in dict.fromkeys(c for c, _, _ in CELLS)
    }
    res = run(fake, "--baseline", "bl.json", "--report-dir", "out")
    res.stdout.fnmatch_lines(["verdicts against bl.json (profile quick): 0 flipped, 0 new, 0 not run, 11 unchanged"])

    (fake.path / "records.json").write_text(json.dumps(fake_records(conflict=True)))
    res = run(fake, "--update-baseline", "--baseline", "bl2.json", "--no-report")
    assert res.ret != 0
    res.stdout.fnmatch_lines(
        [
            "refusing to update the baseline*",
            "  C3 in gaussian (*): 1 holds, 1 fails*",
            "    example 0: d=32*holds",
            "    example 1: d=32*seed=1*fails",
        ]
    )
    assert not (fake.path / "bl2.json").exists() and not (fake.path / "reports").exists()


def test_interrupted_run_is_written_and_marked_incomplete(
    fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    unstub(fake)
    monkeypatch.setenv("FAKE_INTERRUPT", "C3-paper")
    res = run(fake)  # the default --report-dir: reports/out/ under the rootdir
    assert res.ret == pytest.ExitCode.INTERRUPTED
    cert = cert_of(fake, "reports/out/incomplete")  # beside the (here: no) last complete run's files
    assert cert["complete"] is False and cert["run"]["exitstatus"] == 2
    assert any("interrupted" in r for r in cert["incomplete_reasons"])
    assert {e["claim"] for e in cert["entries"]} == {"C1", "C2"}  # what it had when it stopped
    assert "INCOMPLETE" in (fake.path / "reports" / "out" / "incomplete" / "index.html").read_text()
    assert not (fake.path / "reports" / "out" / "certificate.json").exists()
    assert "certificate INCOMPLETE" in res.stdout.str()
    from lemmas.base import THRESHOLDS, registry
    from simulator import __version__

    assert cert["spec"]["package_version"] == __version__  # the real specification, not the stub's
    assert cert["spec"]["thresholds"] == json.loads(json.dumps(THRESHOLDS.to_dict()))
    assert cert["claims"]["C4"]["anchor"] and len(cert["claims"]) == len(registry())


def test_no_verdicts_no_files(fake: pytest.Pytester) -> None:
    res = run(fake, "-k", "unrelated")
    assert res.ret == 0 and "xorcert certificate" not in res.stdout.str()
    assert not (fake.path / "reports").exists()  # nothing to certify: nothing written


def test_trend_items_reach_the_certificate_the_report_and_the_gate(fake: pytest.Pytester) -> None:
    """A trend item's record is the certificate's `trends`; the report draws it beside its cell and in the
    trends section; a trend that differs from the baseline's is a flip that fails the run."""
    assert run(fake, "--update-baseline", "--baseline", "bl.json", "--report-dir", "out").ret == 0
    cert = cert_of(fake, "out")
    assert [(t["claim"], t["regime"], t["trend"]["status"], t["outcome"]) for t in cert["trends"]] == [
        (c, r, t, "passed") for c, r, t in TRENDS
    ]
    assert cert["complete"] and not any("trend" in nid for nid in cert["items"])  # not cells of the matrix
    page = (fake.path / "out" / "index.html").read_text()
    assert 'id="trends"' in page and 'id="trend-C4-paper"' in page and 'data-trend="persists"' in page
    assert "violation ∝ d^-1.00" in page

    table = json.loads((fake.path / "bl.json").read_text())
    table["profiles"]["quick"]["C3"]["paper"]["trend"] = "persists"  # C3 measures vanishes
    (fake.path / "bl.json").write_text(json.dumps(table))
    (fake.path / "trends.json").write_text(json.dumps(fake_trends({"C3-paper": "persists", "C4-paper": "persists"})))
    res = run(fake, "--baseline", "bl.json", "--report-dir", "out2")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["*FLIP C3   paper trend*expected persists*measured vanishes*", "*1 failed*"])
    assert 'data-trend="vanishes"' in (fake.path / "out2" / "index.html").read_text()
