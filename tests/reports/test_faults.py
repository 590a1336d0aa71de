"""Fault table of the records around the cache: baselines, certificates, reports, their commands.

Each row names a fault, what the user must get, and is asserted: the exit status, what the
terminal says, which files must survive byte for byte, which must be written. The plugin rows
run the fake certification (tests/support/fake_run.py) in a subprocess pytest with the fault
injected; the command rows call `python -m reports` in-process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reports import plugin
from reports.__main__ import main as reports_main
from reports.files import write_json_atomic, write_text_atomic
from tests.support import certificates as S
from tests.support.fake_run import run

ROOT = Path(__file__).resolve().parents[2]
USAGE, INTERRUPTED, FAILED = int(pytest.ExitCode.USAGE_ERROR), int(pytest.ExitCode.INTERRUPTED), 1
OUT = "reports/out"
LAST_COMPLETE = (f"{OUT}/certificate.json", f"{OUT}/index.html")
INCOMPLETE = (f"{OUT}/incomplete/certificate.json", f"{OUT}/incomplete/index.html")


def write(rel: str, text: str) -> Callable[[pytest.Pytester], None]:
    def setup(p: pytest.Pytester) -> None:
        (p.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (p.path / rel).write_text(text)

    return setup


def complete_run(p: pytest.Pytester) -> None:
    res = run(p)
    assert res.ret == 0 and json.loads((p.path / LAST_COMPLETE[0]).read_text())["complete"], res.stdout.str()


def baseline_of_schema(schema: int) -> str:
    cells = {f"C{i}": {r: "holds" for r in S.REGIMES} for i in range(1, 12)}
    return json.dumps({"schema": schema, "profiles": {"quick": cells, "certify": cells}})


@dataclass(frozen=True)
class Fault:
    name: str
    expected: str
    exit: int
    says: tuple[str, ...]  # fnmatch patterns, in order, in stdout + stderr
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[pytest.Pytester], None] | None = None
    kept: tuple[str, ...] = ()  # files that must be byte-identical after the run
    written: tuple[str, ...] = ()  # files that must exist after the run
    absent: tuple[str, ...] = ()  # files that must not exist after the run


PLUGIN_FAULTS = [
    Fault(
        "--update-baseline over a baseline of schema 3",
        "refused before any test; the file unchanged",
        USAGE,
        (
            "*--baseline: *bl.json: baseline schema 3 is not supported; this version reads schemas 1, 2; "
            "--update-baseline never overwrites a baseline it cannot read*",
        ),
        args=("--update-baseline", "--baseline", "bl.json"),
        setup=write("bl.json", baseline_of_schema(3)),
        kept=("bl.json",),
        absent=LAST_COMPLETE,
    ),
    Fault(
        "the gate with a baseline of schema 99",
        "the same loader refuses it, naming file and versions",
        USAGE,
        ("*--baseline: *bl.json: baseline schema 99 is not supported; this version reads schemas 1, 2*",),
        args=("--baseline", "bl.json"),
        setup=write("bl.json", baseline_of_schema(99)),
        kept=("bl.json",),
    ),
    Fault(
        "--baseline naming a missing file",
        "says the file is missing",
        USAGE,
        ("*--baseline: *nosuch.json: baseline file not found; give an existing baseline, or --update-baseline*",),
        args=("--baseline", "nosuch.json"),
    ),
    Fault(
        "--baseline with invalid JSON",
        "names the file",
        USAGE,
        ("*--baseline: *bl.json: *not valid JSON*",),
        args=("--baseline", "bl.json"),
        setup=write("bl.json", '{"schema": 2, "profiles": {'),
        kept=("bl.json",),
    ),
    Fault(
        "a baseline cell with an unknown status",
        "a schema error naming the cell, not a flip",
        USAGE,
        ("*--baseline: *bl.json: quick/C1/paper: unknown status 'hold' (expected one of holds, fails, *undecided)*",),
        args=("--baseline", "bl.json"),
        setup=write("bl.json", '{"schema": 2, "profiles": {"quick": {"C1": {"paper": "hold"}}}}'),
    ),
    Fault(
        "an interrupted run (SIGINT)",
        "the last complete certificate and report kept; the partial beside them",
        INTERRUPTED,
        (
            "*certificate: */reports/out/incomplete/certificate.json (INCOMPLETE, 4 examples)*",
            "*report: */reports/out/incomplete/index.html*",
            "*last complete run's certificate and report are kept: */reports/out/certificate.json*",
        ),
        env={"FAKE_INTERRUPT": "C3-paper"},
        setup=complete_run,
        kept=LAST_COMPLETE,
        written=INCOMPLETE,
    ),
    Fault(
        "every item erroring",
        "the last complete certificate and report kept",
        FAILED,
        (
            "*certificate INCOMPLETE: no verdict from *",
            "*certificate: */reports/out/incomplete/certificate.json (INCOMPLETE, 0 examples)*",
            "*last complete run's certificate and report are kept*",
        ),
        env={"FAKE_ERROR": "all"},
        setup=complete_run,
        kept=LAST_COMPLETE,
        written=INCOMPLETE,
    ),
    Fault(
        "a run cancelled by SIGTERM",
        "an incomplete certificate, as SIGINT leaves; the complete one kept",
        INTERRUPTED,
        (
            "*certificate INCOMPLETE: terminated by SIGTERM*",
            "*certificate: */reports/out/incomplete/certificate.json (INCOMPLETE, 4 examples)*",
        ),
        env={"FAKE_SIGTERM": "C3-paper"},
        setup=complete_run,
        kept=LAST_COMPLETE,
        written=INCOMPLETE,
    ),
    Fault(
        "--report-dir is a file",
        "refused before any test",
        USAGE,
        ("*--report-dir */rd: */rd is a file, not a folder (choose a writable folder, or --no-report)*",),
        args=("--report-dir", "rd"),
        setup=write("rd", "x"),
        kept=("rd",),
    ),
    Fault(
        "--report-dir under a file",
        "refused before any test",
        USAGE,
        ("*--report-dir */rd/sub: */rd is a file, not a folder*",),
        args=("--report-dir", "rd/sub"),
        setup=write("rd", "x"),
        kept=("rd",),
    ),
    Fault(
        "--report-dir made unwritable during the run",
        "exit non-zero naming the path",
        FAILED,
        (
            "*xorcert: writing the certificate */rd/certificate.json failed: *",
            "*xorcert: writing the report */rd/index.html failed: *",
        ),
        args=("--report-dir", "rd"),
        env={"FAKE_BREAK": "C3-paper:rd"},
        setup=write("rd/keep", ""),
    ),
    Fault(
        "the baseline cannot be written at the end",
        "certificate and report written first; a red line, exit 1",
        FAILED,
        (
            "*xorcert: could not write the baseline */bl.json: *; it is unchanged, and this run's verdicts "
            "are in its certificate*",
        ),
        args=("--update-baseline", "--baseline", "bl.json", "--report-dir", "rd"),
        env={"FAKE_BREAK": "C3-paper:bl.json"},
        setup=write("bl.json", '{"schema": 2, "profiles": {}}'),
        written=("rd/certificate.json", "rd/index.html"),
    ),
    Fault(
        "--update-baseline into a folder that is a file",
        "refused before any test",
        USAGE,
        ("*--update-baseline: cannot write */f/bl.json: */f is a file, not a folder*",),
        args=("--update-baseline", "--baseline", "f/bl.json"),
        setup=write("f", "x"),
        kept=("f",),
    ),
]


@pytest.mark.parametrize("fault", PLUGIN_FAULTS, ids=[f.name for f in PLUGIN_FAULTS])
def test_plugin_fault(fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: Fault) -> None:
    if fault.setup is not None:
        fault.setup(fake)
    before = {rel: (fake.path / rel).read_bytes() for rel in fault.kept}
    for k, v in fault.env.items():
        monkeypatch.setenv(k, v)
    res = run(fake, *fault.args)
    text = res.stdout.lines + res.stderr.lines
    assert res.ret == fault.exit, "\n".join(text)
    pytest.LineMatcher(text).fnmatch_lines(list(fault.says))
    assert not any("Traceback" in line or "INTERNALERROR" in line for line in text), "\n".join(text)
    for rel, data in before.items():
        assert (fake.path / rel).read_bytes() == data, f"{rel} changed ({fault.expected})"
    for rel in fault.written:
        assert (fake.path / rel).is_file(), f"{rel} not written ({fault.expected})"
    for rel in fault.absent:
        assert not (fake.path / rel).exists(), f"{rel} written ({fault.expected})"
    if res.ret == USAGE:  # refused before any test: nothing ran, nothing written
        assert "collected" not in res.stdout.str() and not (fake.path / OUT).exists()


def test_a_read_only_folder_is_named_before_any_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root writes into a chmod-0555 folder, so the read-only file system is injected where the probe writes."""

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    assert plugin.writable_dir_problem(tmp_path / "a" / "b") is None
    monkeypatch.setattr(plugin.tempfile, "TemporaryFile", read_only)
    assert (
        plugin.writable_dir_problem(tmp_path / "a" / "b") == f"cannot create files in {tmp_path}: Read-only file system"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("--hypothesis-profile", "nosuch"),
            "ERROR: --hypothesis-profile 'nosuch' is not a profile of xorcert; "
            "choose one of quick, certify, certify-gpu, certify-large, hunt",
        ),
        (
            ("--baseline", "{tmp}/bl.json"),
            "ERROR: --baseline: {tmp}/bl.json: baseline schema 99 is not supported; this version reads schemas 1, 2",
        ),
    ],
    ids=["unknown hypothesis profile", "the certification's own gate, schema 99"],
)
def test_repository_suite_refuses_bad_options(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    """The real suite (root conftest, tests/claims): one line, before collection, no report written."""
    (tmp_path / "bl.json").write_text(baseline_of_schema(99))
    argv = [a.format(tmp=tmp_path) for a in args]
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "--co",
            "-q",
            "--report-dir",
            str(tmp_path / "out"),
            *argv,
            "tests/claims",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )
    lines = (res.stdout + res.stderr).strip().splitlines()
    assert res.returncode == USAGE and lines == [says.format(tmp=tmp_path)], res.stdout + res.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ python -m reports
def _cert(tmp_path: Path, name: str, mutate: Callable[[dict], None] | None = None) -> str:
    cert = S.certificate()
    if mutate is not None:
        mutate(cert)
    write_json_atomic(tmp_path / name, cert)
    return str(tmp_path / name)


COMMAND_FAULTS = [
    (
        "merging the same shard twice",
        lambda t: ["merge", _cert(t, "a.json"), _cert(t, "a.json"), "-o", str(t / "m.json")],
        "error: refusing to merge: {t}/a.json and {t}/a.json are the same shard (the run of 2026-01-01T00:00:00); "
        "give each shard once",
    ),
    (
        "merging a certificate whose entries are not mappings",
        lambda t: [
            "merge",
            _cert(t, "a.json"),
            _cert(t, "b.json", lambda c: c["entries"].__setitem__(0, [1, 2])),
            "-o",
            str(t / "m.json"),
        ],
        "error: {t}/b.json: entries[0] is not a mapping (found list: [1, 2])",
    ),
    (
        "diffing a certificate whose verdict is not a mapping",
        lambda t: ["diff", _cert(t, "a.json"), _cert(t, "b.json", lambda c: c["entries"][1].__setitem__("verdict", 3))],
        "error: {t}/b.json: entries[1]['verdict'] is not a mapping",
    ),
    (
        "diffing a certificate whose items are not mappings",
        lambda t: ["diff", _cert(t, "a.json", lambda c: c["items"].__setitem__("x", "y")), _cert(t, "b.json")],
        "error: {t}/a.json: items['x'] is not a mapping",
    ),
    (
        "diffing against a baseline of schema 99",
        lambda t: ["diff", str(t / "bl.json"), _cert(t, "b.json")],
        "error: {t}/bl.json: baseline schema 99 is not supported; this version reads schemas 1, 2",
    ),
    (
        "building with a missing --baseline",
        lambda t: ["build", _cert(t, "a.json"), "-o", str(t / "i.html"), "--baseline", str(t / "nosuch.json")],
        "error: {t}/nosuch.json: baseline file not found",
    ),
]


@pytest.mark.parametrize(("argv", "says"), [c[1:] for c in COMMAND_FAULTS], ids=[c[0] for c in COMMAND_FAULTS])
def test_reports_command_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv, says: str) -> None:
    (tmp_path / "bl.json").write_text(baseline_of_schema(99))
    assert reports_main(argv(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [says.format(t=tmp_path)]
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "i.html").exists()


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_report_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = write_text_atomic(tmp_path / "index.html", "<html></html>")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
