"""A fake certification for the plugin tests: a test module that attaches `xorcert_verdict` records
exactly as tests/claims/test_certify.py does (one pytest item per (cid, regime)), run in a
subprocess pytest (no simulation; verdicts carry no series, so rendering is fast).

Faults are injected through the environment of that run, each naming a cell "CID-REGIME" (or
"all"): FAKE_INTERRUPT raises KeyboardInterrupt in it, FAKE_ERROR raises RuntimeError before any verdict,
FAKE_SIGTERM sends SIGTERM to the pytest process, FAKE_FOUND attaches a hunt counterexample
(`xorcert_counterexample`) and fails the item, and FAKE_BREAK="CELL:PATH" turns PATH into
something no file can be written to (a file where a folder was, a folder where a file was).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports import certificate as certmod
from tests.support import certificates as S

FAKE_MODULE = """
import json, os, shutil, signal, time
import pytest

RECORDS = json.load(open(os.path.join(os.path.dirname(__file__), "records.json")))


def fault(var, cid, regime):
    return os.environ.get(var) in (f"{cid}-{regime}", "all")


@pytest.mark.parametrize(("cid", "regime"), [tuple(k.split("-", 1)) for k in RECORDS], ids=list(RECORDS))
def test_claim(cid, regime, record_property):
    if fault("FAKE_ERROR", cid, regime):
        raise RuntimeError("injected error")
    records = RECORDS[f"{cid}-{regime}"]
    for r in records:
        record_property("xorcert_verdict", r)
    if fault("FAKE_INTERRUPT", cid, regime):
        raise KeyboardInterrupt
    if fault("FAKE_SIGTERM", cid, regime):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    cell, _, target = os.environ.get("FAKE_BREAK", "").partition(":")
    if cell == f"{cid}-{regime}":
        if os.path.isdir(target):
            shutil.rmtree(target)
            open(target, "w").close()
        else:
            os.unlink(target)
            os.mkdir(target)
    if fault("FAKE_FOUND", cid, regime):  # a search profile's minimal counterexample (lemmas.hunt)
        found = {"claim": cid, "regime": regime, "example": records[0]["example"], "describe": "d=32 seed=0",
                 "status": "fails", "reason": "injected", "slack": -0.5, "command": records[0]["reproduce"]}
        record_property("xorcert_counterexample", found)
        raise AssertionError(f"{cid} in {regime} fails on d=32 seed=0")
    flips = [r for r in records if r["verdict"]["status"] != r["expected"]]
    assert not flips, f"{cid} in {regime} flipped"


TRENDS = json.load(open(os.path.join(os.path.dirname(__file__), "trends.json")))


@pytest.mark.parametrize(("cid", "regime"), [tuple(k.split("-", 1)) for k in TRENDS], ids=list(TRENDS))
def test_trend(cid, regime, record_property):
    record = TRENDS[f"{cid}-{regime}"]
    record_property("xorcert_trend", record)
    assert record["expected"] in (None, record["trend"]["status"]), f"{cid} in {regime}: the trend flipped"


test_trend.xorcert_trend = True


def test_unrelated():
    pass
"""

# The fake run's trend items: (claim, regime, trend status), each with its per-run cell in CELLS.
TRENDS = [("C3", "paper", "vanishes"), ("C4", "paper", "persists")]

# Stand-ins for the real `lemmas` and `simulator` (which import torch: seconds per run) that the
# plugin reads the specification and the claim metadata from; the subprocess finds them first on
# sys.path. The stub `lemmas` holds the real dependency-free modules that `reports` imports
# (LEMMAS_COPIED). One test (the interrupted run) runs against the real packages.
STUB_LEMMAS_BASE = """
from dataclasses import dataclass


class _Thresholds:
    def to_dict(self):
        return {"delta": 0.1, "confidence": 0.95, "eps": 0.01, "zeta": "1/log(d)"}


THRESHOLDS = _Thresholds()
Thresholds = _Thresholds
HOLDS, FAILS, INCONCLUSIVE, UNDECIDED = "holds", "fails", "inconclusive", "undecided"


class Verdict:
    pass


@dataclass
class _Claim:
    id: str
    slug: str = "stub"
    title: str = "A stub claim"
    anchor: str = "Sec. 0"
    statement: str = "A stub statement."
    decisions: str = ""
    needs: str = "run"
    key_stats: tuple = ()


def registry():
    return {f"C{i}": _Claim(f"C{i}") for i in range(1, 12)}
"""
STUB_SIMULATOR = """
__version__ = "0.1.0"
def registered_regimes():
    return dict.fromkeys(["paper", "small_batch", "gaussian", "first_layer_only", "large_init", "parity3",
                          "sparse_finders"])
"""

LEMMAS_COPIED = ("plain.py", "report.py", "proof.py", "sequential.py")

CELLS = [
    ("C1", "paper", "holds"),
    ("C2", "paper", "holds"),
    ("C3", "paper", "holds"),
    ("C3", "gaussian", "holds"),
    ("C4", "paper", "holds"),
    ("C5", "gaussian", "fails"),
    ("C6", "paper", "holds"),
    ("C9", "parity3", "fails"),
    ("C10", "paper", "inconclusive"),
]


def fake_records(conflict: bool = False) -> dict[str, list[dict]]:
    out = {}
    for cid, regime, status in CELLS:
        out[f"{cid}-{regime}"] = [S.record(cid, regime, status, expected=status, d=d, series={}) for d in (32, 64)]
    if conflict:
        out["C3-gaussian"][1] = S.record(
            "C3", "gaussian", "fails", expected="fails", d=32, seed=1, fails=3, series={}
        )  # the same d as example 0, another seed
    return out


def fake_trends(expected: dict[str, str] | None = None) -> dict[str, dict]:
    """The trend items' records (lemmas.certification.test_trend's), each expecting `expected[CID-REGIME]`."""
    from lemmas.trends import fit_trend

    out = {}
    for cid, regime, status in TRENDS:
        ds = (16, 32, 64, 128)
        slope = -1.0 if status == "vanishes" else 0.0
        tv = fit_trend({d: [0.9 * d**slope, d**slope, 1.1 * d**slope] for d in ds}, claim=cid, regime=regime)
        assert tv.status == status
        out[f"{cid}-{regime}"] = {
            "claim": cid,
            "regime": regime,
            "profile": "quick",
            "expected": (expected or {}).get(f"{cid}-{regime}"),
            "seconds": 0.1,
            "trend": {k: v for k, v in tv.to_dict().items() if k != "series"},
            "reproduce": f"python -m lemmas.trends --profile quick --claim {cid} --regime {regime}",
        }
    return out


def make_fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The fake certification module, its records and the stub packages in pytester's folder."""
    for var in (
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
        "PYTEST_ADDOPTS",
        "FAKE_INTERRUPT",
        "FAKE_ERROR",
        "FAKE_SIGTERM",
        "FAKE_BREAK",
    ):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_fake=FAKE_MODULE)
    (pytester.path / "records.json").write_text(json.dumps(fake_records()))
    (pytester.path / "trends.json").write_text(json.dumps(fake_trends()))
    real = Path(__file__).resolve().parents[2] / "lemmas"
    copied = {name: (real / name).read_text(encoding="utf-8") for name in LEMMAS_COPIED}
    for pkg, files in (
        ("lemmas", {"__init__.py": "", "base.py": STUB_LEMMAS_BASE, **copied}),
        ("simulator", {"__init__.py": STUB_SIMULATOR}),
    ):
        (pytester.path / pkg).mkdir()
        for name, text in files.items():
            (pytester.path / pkg / name).write_text(text)
    return pytester


def unstub(p: pytest.Pytester) -> None:
    """Use the real lemmas and simulator packages from here on."""
    for pkg in ("lemmas", "simulator"):
        shutil.rmtree(p.path / pkg)


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest_subprocess(
        "-p",
        "no:xorcert",
        "-p",
        "reports.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        *args,
        timeout=120,
    )


def cert_of(p: pytest.Pytester, out: str) -> dict:
    return certmod.load(p.path / out / "certificate.json")
