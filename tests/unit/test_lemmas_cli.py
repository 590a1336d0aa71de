"""`python -m lemmas`: list, check, and bad input refused before any simulation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lemmas.base import registry
from lemmas.cli import main


def test_list_names_every_claim_and_regime(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"C{i} " in out for i in range(1, 16))
    assert all(r in out for r in ("paper", "small_batch", "parity3", "sparse_finders"))
    assert ("a grid of batch sizes" in out) == (
        "Q1" in registry()
    )  # what Q1 reads (registered once the package is installed)
    c11 = out[out.index("  C11 ") :].splitlines()[1]
    assert "up to T1, T_ε and T_L" in c11  # C11's runs stop past its phases
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["claims"]
    assert {c for c, v in listed.items() if v["horizon"] == "phases"} == {"C2", "C10", "C11"}


def test_check_prints_the_verdict_statistics_and_where_the_run_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "C6", "--regime", "paper", "--d", "8", "--seeds", "2", "--cache-dir", str(tmp_path)]
    code = main(argv)
    out = capsys.readouterr().out
    assert out.startswith("C6 HOLDS") and code == 0
    assert "key: max_k|a²-‖w‖²| / max a² = " in out  # the claim's key statistic against its threshold
    assert "max_balance_ratio" in out and "simulated in" in out and str(tmp_path) in out
    assert main(argv) == 0 and "read from the cache" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["check", "C99"], "claim 'C99' is not registered"),
        (["check", "C3", "--regime", "nosuch"], "--regime 'nosuch' is not registered"),
        (["check", "C3", "--ladder", "16,32"], "give --d, not --ladder"),
        (["check", "C2", "--d", "16"], "give --ladder"),
        (["check", "C2", "--ladder", "32,16"], "at least two increasing"),
        (["check", "C2", "--ladder", "16,x"], "comma-separated integers"),
        (["check", "C3", "--seeds", "0"], "--seeds = 0: must be an integer ≥ 1"),
        (["check", "C3", "--d", "2"], "--d = 2"),
        (["check", "C3", "--batch", "-3"], "--batch '-3'"),
        (["check", "C3", "--profile", "huge"], "--profile 'huge'"),
        (["check", "C3", "--d", "10000000000"], "d = 10000000000 is not allowed"),  # the regime validates it
        (["check", "C3", "--import", "no/such/file.py"], "no such file"),
        (["list", "--import", "no_such_module_xyz"], "No module named"),
    ],
)
def test_bad_input_is_one_error_line_naming_it(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[0] == "check":
        argv = [*argv, "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err, err
    assert not (tmp_path / "cache").exists()  # refused before any simulation


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "lemmas", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_regime_of_ones_own_through_import(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        textwrap.dedent('''
        import simulator

        @simulator.regime("tiny_noisy")
        def tiny_noisy(d, **kw):
            """The paper regime with 10% label noise."""
            return simulator.paper(d, **{"label_noise": 0.1, **kw})

        @simulator.regime("broken")
        def broken(d, **kw):
            raise RuntimeError("this regime is broken")

        @simulator.regime("not_a_config")
        def not_a_config(d, **kw):
            return {"d": d}
    ''')
    )
    listed = _run(tmp_path, "list", "--import", "mine.py")
    assert listed.returncode == 0 and "tiny_noisy" in listed.stdout and "label noise" in listed.stdout
    ran = _run(
        tmp_path,
        "check",
        "C6",
        "--regime",
        "tiny_noisy",
        "--d",
        "8",
        "--seeds",
        "2",
        "--import",
        "mine.py",
        "--cache-dir",
        "cache",
    )
    assert ran.returncode == 0 and ran.stdout.startswith("C6 HOLDS"), ran.stdout + ran.stderr
    for name, says in (("broken", "this regime is broken"), ("not_a_config", "dict")):
        bad = _run(tmp_path, "check", "C6", "--regime", name, "--d", "8", "--import", "mine.py", "--cache-dir", "c2")
        assert bad.returncode == 2 and name in bad.stderr and says in bad.stderr, bad.stderr
    assert not (tmp_path / "c2").exists()


def test_an_import_that_raises_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("raise ImportError('half-written file')\n")
    done = _run(tmp_path, "list", "--import", "bad.py")
    assert done.returncode == 2 and "--import bad.py failed: ImportError: half-written file" in done.stderr
