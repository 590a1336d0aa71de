"""The certification plugin from a repository of one's own: options, a user regime, new cells.

Each run is a real certification (a subprocess pytest with the installed plugin) of C6 in a
regime registered by the folder's conftest.py, at d = 8 so that it simulates in seconds."""

from __future__ import annotations

import json
import os

import pytest

CONFTEST = '''
import simulator


@simulator.regime("tiny")
def tiny(d, **kw):
    """The paper regime at d = 8, whatever d is asked (a cheap stand-in for a user regime)."""
    return simulator.paper(8, **{"test_size": 2000, "snapshots": 10, **kw})
'''


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> pytest.Pytester:
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XORCERT_CACHE", str(tmp_path_factory.getbasetemp() / "plugin-cache"))
    pytester.makeconftest(CONFTEST)
    return pytester


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest_subprocess("--xorcert", "-p", "no:cacheprovider", *args, timeout=600)


def cert(p: pytest.Pytester) -> dict:
    return json.loads((p.path / "reports" / "out" / "certificate.json").read_text())


def test_a_cell_the_baseline_does_not_know_is_new_not_a_failure(repo: pytest.Pytester) -> None:
    res = run(repo, "--regimes", "tiny", "--claims", "C6")
    res.assert_outcomes(passed=1)
    entry = cert(repo)["entries"][0]
    assert (entry["claim"], entry["regime"], entry["expected"]) == ("C6", "tiny", None)
    assert entry["reproduce"].startswith("python -m lemmas check C6 --regime tiny") and "--import" in entry["reproduce"]
    assert "1 new" in res.stdout.str()


def test_strict_baseline_fails_on_a_new_cell(repo: pytest.Pytester) -> None:
    res = run(repo, "--regimes", "tiny", "--claims", "C6", "--strict-baseline")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*no expected verdict in the baseline for profile 'quick'*--update-baseline*"])


def test_a_recorded_cell_is_gated(repo: pytest.Pytester) -> None:
    run(repo, "--regimes", "tiny", "--claims", "C6", "--update-baseline").assert_outcomes(passed=1)
    path = repo.path / "reports" / "baseline.json"
    base = json.loads(path.read_text())
    assert base["profiles"]["quick"]["C6"]["tiny"] == "holds"
    run(repo, "--regimes", "tiny", "--claims", "C6", "--strict-baseline").assert_outcomes(passed=1)
    base["profiles"]["quick"]["C6"]["tiny"] = "inconclusive"  # a deliberately wrong record: the run must flip
    path.write_text(json.dumps(base))
    res = run(repo, "--regimes", "tiny", "--claims", "C6")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*C6 in tiny flipped: expected inconclusive, measured holds*"])
    base["profiles"]["quick"]["C6"]["tiny"] = "fails"  # a contradicted decision: confirmed at the family level
    path.write_text(json.dumps(base))
    res = run(repo, "--regimes", "tiny", "--claims", "C6")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*C6 in tiny flipped: expected fails, measured holds*", "*over 1 decisions: confirmed*"])
    assert cert(repo)["entries"][0]["confirmation"] == {
        "first": "holds",
        "decisions": 1,
        "confirmed": True,
        "unconfirmed": False,
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--regimes", "tiny,nosuch"), "*--regimes: unknown regime(s) nosuch; registered: paper*tiny*"),
        (("--claims", "C3,C99"), "*--claims: unknown claim(s) C99; registered: C1, C2*"),
        (("--regimes", ","), "*--regimes is empty*"),
        (
            ("--hypothesis-profile", "nosuch"),
            "*not a profile of xorcert; choose one of quick, certify, certify-gpu, certify-large, hunt*",
        ),
    ],
)
def test_bad_options_are_refused_before_any_test(
    repo: pytest.Pytester, args: tuple[str, ...], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XORCERT_CACHE", str(repo.path / "cache"))
    res = run(repo, *args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([says])
    assert not os.path.exists(os.environ["XORCERT_CACHE"])  # nothing simulated


def test_a_conftest_that_takes_a_builtin_name_is_named(repo: pytest.Pytester) -> None:
    repo.makeconftest(
        "import simulator\n\n@simulator.regime('paper')\ndef again(d, **kw):\n    return simulator.paper(d, **kw)\n"
    )
    res = run(repo, "--claims", "C6")
    assert res.ret == pytest.ExitCode.USAGE_ERROR or res.ret == pytest.ExitCode.INTERRUPTED
    assert "regime 'paper'" in res.stderr.str() + res.stdout.str()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("raise RuntimeError('this regime is broken')", "*regime 'bad' cannot build its config*this regime is broken*"),
        ("return {'d': d}", "*regime 'bad' cannot build its config*dict*"),
    ],
    ids=["raises", "wrong type"],
)
def test_a_regime_that_cannot_build_stops_the_run_before_any_simulation(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, body: str, says: str
) -> None:
    monkeypatch.setenv("XORCERT_CACHE", str(repo.path / "cache"))
    repo.makeconftest(f"import simulator\n\n@simulator.regime('bad')\ndef bad(d, **kw):\n    {body}\n")
    res = run(repo, "--regimes", "paper,bad")
    assert res.ret != pytest.ExitCode.OK
    assert not (repo.path / "cache").exists()  # nothing simulated
    from fnmatch import fnmatch

    text = res.stdout.str() + "\n" + res.stderr.str()
    assert any(fnmatch(line, says) for line in text.splitlines()), text[-3000:]
