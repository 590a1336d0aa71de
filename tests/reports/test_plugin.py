"""The plugin end to end, in subprocess pytest runs of a fake certification module (no simulation).

The fake module attaches `xorcert_verdict` records exactly as tests/claims/test_certify.py
does (one pytest item per (cid, regime)); verdicts carry no series, so rendering is fast.
"""

from __future__ import annotations

import json
import shutil
import pytest

from reports import certificate as certmod
from tests.reports import synthetic as S

FAKE_MODULE = '''
import json, os
import pytest

RECORDS = json.load(open(os.path.join(os.path.dirname(__file__), "records.json")))


@pytest.mark.parametrize(("cid", "regime"), [tuple(k.split("-", 1)) for k in RECORDS], ids=list(RECORDS))
def test_claim(cid, regime, record_property):
    records = RECORDS[f"{cid}-{regime}"]
    for r in records:
        record_property("xorcert_verdict", r)
    if os.environ.get("FAKE_INTERRUPT") == f"{cid}-{regime}":
        raise KeyboardInterrupt
    flips = [r for r in records if r["verdict"]["status"] != r["expected"]]
    assert not flips, f"{cid} in {regime} flipped"


def test_unrelated():
    pass
'''

# Stand-ins for the real `lemmas` and `simulator` (which import torch: seconds per run) that the
# plugin reads the specification and the claim metadata from; the subprocess finds them first on
# sys.path. One test (the interrupted run) runs against the real packages.
STUB_LEMMAS_BASE = '''
from dataclasses import dataclass


class _Thresholds:
    def to_dict(self):
        return {"delta": 0.1, "confidence": 0.95, "eps": 0.01, "zeta": "1/log(d)"}


THRESHOLDS = _Thresholds()


@dataclass
class _Claim:
    id: str
    slug: str = "stub"
    title: str = "A stub claim"
    anchor: str = "Sec. 0"
    statement: str = "A stub statement."
    decisions: str = ""
    needs: str = "run"


def registry():
    return {f"C{i}": _Claim(f"C{i}") for i in range(1, 12)}
'''
STUB_SIMULATOR = '''
__version__ = "0.1.0"
REGIME_CONSTRUCTORS = dict.fromkeys(["paper", "small_batch", "gaussian", "first_layer_only", "large_init",
                                     "parity3", "sparse_finders"])
'''

CELLS = [("C1", "paper", "holds"), ("C2", "paper", "holds"), ("C3", "paper", "holds"), ("C3", "gaussian", "holds"),
         ("C4", "paper", "holds"), ("C5", "gaussian", "fails"), ("C6", "paper", "holds"),
         ("C9", "parity3", "fails"), ("C10", "paper", "inconclusive")]


def fake_records(conflict: bool = False) -> dict[str, list[dict]]:
    out = {}
    for cid, regime, status in CELLS:
        out[f"{cid}-{regime}"] = [S.record(cid, regime, status, expected=status, d=d, series={}) for d in (32, 64)]
    if conflict:
        out["C3-gaussian"][1] = S.record("C3", "gaussian", "fails", expected="fails", d=32, seed=1, fails=3,
                                         series={})  # the same d as example 0, another seed
    return out


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS",
                "FAKE_INTERRUPT"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_fake=FAKE_MODULE)
    (pytester.path / "records.json").write_text(json.dumps(fake_records()))
    for pkg, files in (("lemmas", {"__init__.py": "", "base.py": STUB_LEMMAS_BASE}),
                       ("simulator", {"__init__.py": STUB_SIMULATOR})):
        (pytester.path / pkg).mkdir()
        for name, text in files.items():
            (pytester.path / pkg / name).write_text(text)
    return pytester


def unstub(p: pytest.Pytester) -> None:
    """Use the real lemmas and simulator packages from here on."""
    for pkg in ("lemmas", "simulator"):
        shutil.rmtree(p.path / pkg)


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest_subprocess("-p", "reports.plugin", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                  *args, timeout=120)


def cert_of(p: pytest.Pytester, out: str) -> dict:
    return certmod.load(p.path / out / "certificate.json")


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
    assert "verdicts against" in out and "9 new" in out
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
    assert table["profiles"]["quick"] == {c: {r: s for cc, r, s in CELLS if cc == c}
                                          for c in dict.fromkeys(c for c, _, _ in CELLS)}
    res = run(fake, "--baseline", "bl.json", "--report-dir", "out")
    res.stdout.fnmatch_lines(["verdicts against bl.json (profile quick): 0 flipped, 0 new, 0 not run, 9 unchanged"])

    (fake.path / "records.json").write_text(json.dumps(fake_records(conflict=True)))
    res = run(fake, "--update-baseline", "--baseline", "bl2.json", "--no-report")
    assert res.ret != 0
    res.stdout.fnmatch_lines(["refusing to update the baseline*", "  C3 in gaussian (*): 1 holds, 1 fails*",
                              "    example 0: d=32*holds", "    example 1: d=32*seed=1*fails"])
    assert not (fake.path / "bl2.json").exists() and not (fake.path / "reports").exists()


def test_interrupted_run_is_written_and_marked_incomplete(fake: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    unstub(fake)
    monkeypatch.setenv("FAKE_INTERRUPT", "C3-paper")
    res = run(fake)  # the default --report-dir: reports/out/ under the rootdir
    assert res.ret == pytest.ExitCode.INTERRUPTED
    cert = cert_of(fake, "reports/out")
    assert cert["complete"] is False and cert["run"]["exitstatus"] == 2
    assert any("interrupted" in r for r in cert["incomplete_reasons"])
    assert {e["claim"] for e in cert["entries"]} == {"C1", "C2"}  # what it had when it stopped
    assert "INCOMPLETE" in (fake.path / "reports" / "out" / "index.html").read_text()
    assert "certificate INCOMPLETE" in res.stdout.str()
    from lemmas.base import THRESHOLDS
    from simulator import __version__

    assert cert["spec"]["package_version"] == __version__  # the real specification, not the stub's
    assert cert["spec"]["thresholds"] == json.loads(json.dumps(THRESHOLDS.to_dict()))
    assert cert["claims"]["C4"]["anchor"] and len(cert["claims"]) == 11


def test_no_verdicts_no_files(fake: pytest.Pytester) -> None:
    res = run(fake, "-k", "unrelated")
    assert res.ret == 0 and "xorcert certificate" not in res.stdout.str()
    assert not (fake.path / "reports").exists()  # nothing to certify: nothing written
