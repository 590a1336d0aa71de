"""The worked example of the README ("Check your own change"), run as a new user would: from a
folder outside the checkout, with the installed package only, and a cache of its own."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "label_noise"
CLAIMS = "C3,C9"  # two claims that read the same run: one simulation per regime


def clean_env(cache: Path) -> dict[str, str]:
    """The environment of a new shell: no pytest/xdist state of this session, no checkout on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "HYPOTHESIS")) and k not in ("PYTHONPATH", "COV_CORE_SOURCE")
    }
    env["XORCERT_CACHE"] = str(cache)
    return env


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], dict]:
    work = tmp_path_factory.mktemp("my-change")
    shutil.copytree(EXAMPLE, work, dirs_exist_ok=True)
    env = clean_env(work.parent / "cache")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--xorcert",
            "--regimes",
            "paper,label_noise",
            "--claims",
            CLAIMS,
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    cert_path = work / "reports" / "out" / "certificate.json"
    cert = json.loads(cert_path.read_text()) if cert_path.exists() else {}
    return work, proc, cert


def test_the_example_certifies_both_regimes_from_outside_the_checkout(example_run) -> None:
    work, proc, cert = example_run
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert not str(work).startswith(str(EXAMPLE.parents[2]))
    cells = {(e["claim"], e["regime"]) for e in cert["entries"]}
    assert cells == {(c, r) for c in CLAIMS.split(",") for r in ("paper", "label_noise")}
    assert all(e["expected"] is None for e in cert["entries"])  # no baseline in this folder: every cell is new
    assert "label_noise" in out and "new" in out


def test_the_report_puts_the_new_column_beside_paper(example_run) -> None:
    work, proc, cert = example_run
    html = (work / "reports" / "out" / "index.html").read_text()
    header = html[html.index("data-regime") if "data-regime" in html else 0 :]
    assert "label_noise" in html
    order = [r for r in cert["regimes"] if r in ("paper", "label_noise")]
    assert order == ["paper", "label_noise"], cert["regimes"]
    assert header.index("paper") < header.index("label_noise")
    stored = {e["regime"]: e["verdict"]["status"] for e in cert["entries"] if e["claim"] == "C9"}
    if stored["paper"] != stored["label_noise"]:
        assert "differs from paper" in html


def test_the_reproduce_command_works_outside_the_checkout(example_run) -> None:
    work, proc, cert = example_run
    entry = next(e for e in cert["entries"] if e["regime"] == "label_noise" and e["claim"] == "C9")
    args = shlex.split(entry["reproduce"])
    assert args[:3] == ["python", "-m", "lemmas"] and "--import" in args
    done = subprocess.run(
        [sys.executable, *args[1:]],
        cwd=work,
        env=clean_env(work.parent / "cache"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    status = entry["verdict"]["status"]
    assert done.returncode == {"holds": 0, "fails": 1, "inconclusive": 3}[status], done.stdout + done.stderr
    assert done.stdout.startswith(f"C9 {status.upper()}")
    assert "read from the cache" in done.stdout  # the certification's run, not a new simulation
