"""pytest plugin: collect the verdicts of a certification run, write the certificate and the report.

Loaded by the certification plugin `lemmas.pytest_plugin` (the pytest11 entry point `xorcert`). Options:

  --report-dir DIR       where certificate.json and index.html go (default: reports/out/ under the rootdir)
  --baseline PATH        expected verdicts (default: reports/baseline.json under the rootdir); the
                         certification test reads the same file
  --update-baseline      write the run's verdicts into the baseline (per d where they depend on it; refused
                         when examples disagree at the same d)
  --previous-certificate PATH|none
                         compare statistics with this certificate (default: the one already in the
                         report dir, when it has the same profile and specification)
  --no-report            write neither certificate nor HTML (the terminal summary still shows)

How the verdicts travel: the certification test attaches every example's record to its
report (`record_property("xorcert_verdict", record)`, builtin types only); under xdist
the reports go from the workers to the controller, where `pytest_runtest_logreport`
collects them. On the workers this plugin only adds, per report, which worker and device
ran the item (`xorcert_worker`) and, for items parametrized by `cid` and `regime`, which
cell they certify (`xorcert_item`), so an item that errors before any verdict is still
known. Files are written only on the controller (`not hasattr(config, "workerinput")`),
in `pytest_sessionfinish`, atomically; an interrupted (SIGINT, SIGTERM) or cut-short run
still writes what it has, marked incomplete with the reasons, into `incomplete/` under the
report dir, so the last complete certificate and report are never replaced by a partial one.

Nothing recorded is lost: the baseline, the report dir and (with --update-baseline) the
baseline's folder are checked before the first test runs (a UsageError names the file and
what is wrong); at the end the certificate and report are written before the baseline, and
a write that still fails is a red line with its path and a failed run.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import baseline as baseline_mod
from . import certificate as certmod
from .diff import baseline_diff, certificate_diff, format_diff
from .files import write_json_atomic, write_text_atomic
from .summary import HEADER, cell_lines

VERDICT_PROPERTY = "xorcert_verdict"
COUNTEREXAMPLE_PROPERTY = "xorcert_counterexample"  # a search profile's minimal counterexample (lemmas.hunt)
TREND_PROPERTY = "xorcert_trend"  # a trend item's record (lemmas.certification.test_trend)
WORKER_PROPERTY = "xorcert_worker"
ITEM_PROPERTY = "xorcert_item"
CERTIFICATE_NAME = "certificate.json"
REPORT_NAME = "index.html"
INCOMPLETE_DIR = "incomplete"  # an incomplete run's certificate and report, beside the last complete ones
RECORDER_NAME = "xorcert-recorder"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xorcert", "xorcert reports: certificate, HTML report, regression gate")
    group.addoption(
        "--report-dir",
        dest="xorcert_report_dir",
        default=None,
        metavar="DIR",
        help="write certificate.json and index.html here (default: reports/out/ under the rootdir)",
    )
    group.addoption(
        "--baseline",
        dest="xorcert_baseline",
        default=None,
        metavar="PATH",
        help="expected verdicts per profile, claim and regime (default: reports/baseline.json "
        "under the rootdir); the certification test compares with it",
    )
    group.addoption(
        "--update-baseline",
        dest="xorcert_update_baseline",
        action="store_true",
        default=False,
        help="write this run's verdicts into the baseline (per profile, claim and regime the status "
        "all examples share, or one per d where the verdict depends on d; refused, listing "
        "them, where examples disagree at the same d)",
    )
    group.addoption(
        "--previous-certificate",
        dest="xorcert_previous",
        default=None,
        metavar="PATH",
        help="compare the statistics with this certificate ('none': do not; default: the "
        "certificate already in the report dir, when profile and specification match)",
    )
    group.addoption(
        "--no-report",
        dest="xorcert_no_report",
        action="store_true",
        default=False,
        help="write neither certificate.json nor index.html",
    )


# ------------------------------------------------------------------------------ state
@dataclass
class Collector:
    """What the controller gathered during the session."""

    started: float = field(default_factory=time.time)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    trends: dict[str, dict[str, Any]] = field(default_factory=dict)  # trend items: nodeid -> record and outcome
    finished: set[str] = field(default_factory=set)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (line, colour) for the terminal
    report_path: Path | None = None
    profile: str | None = None


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def baseline_path(config: pytest.Config) -> Path:
    """The resolved --baseline (an absolute path)."""
    opt = config.getoption("xorcert_baseline", default=None)
    if opt:
        return (Path(config.invocation_params.dir) / opt).resolve()
    return config.rootpath / "reports" / "baseline.json"


def report_dir(config: pytest.Config) -> Path:
    opt = config.getoption("xorcert_report_dir", default=None)
    if opt:
        return (Path(config.invocation_params.dir) / opt).resolve()
    return config.rootpath / "reports" / "out"


def writable_dir_problem(path: Path) -> str | None:
    """Why files cannot be created in the folder `path` (made on demand), or None when they can."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe):  # unnamed where the OS allows: leaves nothing behind
            pass
    except OSError as e:
        return f"cannot create files in {probe}: {e.strerror or e}"
    return None


def checked_baseline(config: pytest.Config, explicit: bool) -> dict[str, Any]:
    """The baseline, loaded before any test runs; every reason it cannot serve is a UsageError. A missing
    file is an error only when `explicit` (given as --baseline) and no --update-baseline is to create it."""
    path, update = baseline_path(config), bool(config.getoption("xorcert_update_baseline", default=False))
    try:
        base = baseline_mod.load(path, missing_ok=update or not explicit)
    except baseline_mod.BaselineError as e:
        hint = (
            "; --update-baseline never overwrites a baseline it cannot read: repair, move or delete it first"
            if update and path.exists()
            else "; give an existing baseline, or --update-baseline to record a new one"
            if not path.exists()
            else ""
        )
        raise pytest.UsageError(f"--baseline: {e}{hint}") from None
    problem = writable_dir_problem(path.parent) if update else None
    if problem:
        raise pytest.UsageError(f"--update-baseline: cannot write {path}: {problem}")
    return base


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Resolve once, so the certification test (lemmas/certification.py reads
    # config.option.xorcert_baseline) and this plugin agree on the file, on every worker.
    explicit = bool(config.getoption("xorcert_baseline", default=None))
    config.option.xorcert_baseline = str(baseline_path(config))
    if is_worker(config):
        return
    base = checked_baseline(config, explicit)
    if not config.getoption("xorcert_no_report", default=False):
        problem = writable_dir_problem(report_dir(config))
        if problem:
            raise pytest.UsageError(
                f"--report-dir {report_dir(config)}: {problem} (choose a writable folder, or --no-report)"
            )
    config.pluginmanager.register(Recorder(config, base), RECORDER_NAME)


# ------------------------------------------------------------------------------ workers (and single process)
def _device() -> str:
    torch = sys.modules.get("torch")
    if torch is None:
        return "cpu"
    try:
        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(torch.cuda.current_device())})"
    except Exception:  # noqa: BLE001 - a broken CUDA setup must not break the report
        return "cpu"
    return "cpu"


def _worker_info() -> dict[str, Any]:
    torch = sys.modules.get("torch")
    threads = None
    if torch is not None:
        try:
            threads = int(torch.get_num_threads())
        except Exception:  # noqa: BLE001
            threads = None
    return {
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "device": _device(),
        "torch_threads": threads,
        "pid": os.getpid(),
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    rep = yield
    params = getattr(getattr(item, "callspec", None), "params", {}) or {}
    if "cid" in params and "regime" in params:
        cell = {"claim": str(params["cid"]), "regime": str(params["regime"])}
        if getattr(getattr(item, "function", None), "xorcert_trend", False):
            cell["trend"] = True
        rep.user_properties.append((ITEM_PROPERTY, cell))
    if rep.when == "call" and any(name == VERDICT_PROPERTY for name, _ in rep.user_properties):
        rep.user_properties.append((WORKER_PROPERTY, _worker_info()))
    return rep


# ------------------------------------------------------------------------------ controller
def _crash_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)[:4000]
    text = report.longreprtext or ""
    return text[-4000:]


def _incomplete_reasons(session: pytest.Session, exitstatus: int, col: Collector) -> list[str]:
    reasons = []
    if int(exitstatus) not in (int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)):
        try:
            name = pytest.ExitCode(int(exitstatus)).name.lower().replace("_", " ")
        except ValueError:
            name = "unknown"
        reasons.append(f"the run ended with exit status {int(exitstatus)} ({name})")
    for attr in ("shouldstop", "shouldfail"):
        why = getattr(session, attr, False)
        if why:
            reasons.append(f"stopped early: {why}")
    collected = int(getattr(session, "testscollected", 0) or 0)  # counted after deselection
    ran = len(col.finished)
    if collected and ran < collected:
        reasons.append(f"{collected - ran} of {collected} collected tests did not finish")
    for nodeid, item in col.trends.items():
        if "trend" not in item and item.get("outcome") not in ("skipped",):
            reasons.append(f"no trend from {nodeid} ({item.get('outcome')}): {(item.get('message') or '')[:200]}")
    for nodeid, item in col.items.items():
        if not col.records.get(nodeid) and item.get("outcome") not in ("skipped",):
            reasons.append(
                f"no verdict from {nodeid} ({item.get('outcome')}): "
                f"{(item.get('message') or '').splitlines()[0] if item.get('message') else ''}"
            )
    return reasons


def _entries(col: Collector) -> list[dict[str, Any]]:
    out = []
    for nodeid, records in col.records.items():
        device = (col.workers.get(nodeid) or {}).get("device", "unknown")
        out.extend(certmod.entry_from_record(r, nodeid, i, device) for i, r in enumerate(records))
    return out


def _safe(what: str, fn: Any, col: Collector) -> Any:
    """Run fn(); on failure log a red summary line instead of breaking the session."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the report must never take the test session down
        col.summary.append((f"xorcert: {what} failed: {type(e).__name__}: {e}", "red"))
        return None


def build_certificate(session: pytest.Session, exitstatus: int, col: Collector) -> dict[str, Any]:
    config = session.config
    reasons = _incomplete_reasons(session, exitstatus, col)
    items = {k: {kk: vv for kk, vv in v.items() if kk != "duration_s"} for k, v in sorted(col.items.items())}
    run = {
        "date": certmod.now_iso(),
        "command": list(config.invocation_params.args),
        "cwd": str(config.invocation_params.dir),
        "exitstatus": int(exitstatus),
        "duration_s": round(time.time() - col.started, 3),
        "workers": sorted({w.get("worker", "main") for w in col.workers.values()}),
        "items": {
            k: {"duration_s": round(float(v.get("duration_s", 0.0)), 3), **(col.workers.get(k) or {})}
            for k, v in sorted(col.items.items())
        },
    }
    spec = _safe("reading the specification", certmod.current_spec, col) or {"package": "xorcert"}
    claims = _safe("reading the claim registry", certmod.current_claims, col) or {}
    regimes = _safe("reading the regimes", certmod.current_regimes, col) or []
    asked = [r.strip() for r in (config.getoption("xorcert_regimes", default=None) or "").split(",") if r.strip()]
    if asked:  # a run limited by --regimes: its certificate's columns are those regimes
        regimes = [r for r in regimes if r in asked]
    profile = config.getoption("hypothesis_profile", default=None)
    entries = _entries(col)
    profiles = {e.get("profile") for e in entries if e.get("profile")}
    return certmod.build(
        entries,
        spec=spec,
        env=certmod.environment(config.rootpath),
        run=run,
        items=items,
        claims=claims,
        regimes=regimes,
        profile=(profiles.pop() if len(profiles) == 1 else None) if profiles else profile,
        complete=not reasons,
        incomplete_reasons=reasons,
        trends=col.trends.values(),
    )


def _previous(config: pytest.Config, out: Path, cert: dict[str, Any], col: Collector) -> tuple[dict | None, str]:
    opt = config.getoption("xorcert_previous", default=None)
    if opt and opt.lower() == "none":
        return None, ""
    path = (Path(config.invocation_params.dir) / opt).resolve() if opt else out / CERTIFICATE_NAME
    if not path.exists():
        if opt:
            col.summary.append((f"xorcert: previous certificate {path} not found", "yellow"))
        return None, ""
    try:
        prev = certmod.load(path)
    except (ValueError, OSError) as e:
        col.summary.append((f"xorcert: previous certificate not read: {e}", "yellow"))
        return None, ""
    if not opt and (prev.get("profile") != cert.get("profile") or prev.get("spec") != cert.get("spec")):
        return None, ""  # the default comparison is only with a run of the same sweep
    return prev, str(path)


def _update_baseline(
    session: pytest.Session, cert: dict[str, Any], base: dict | None, path: Path, col: Collector
) -> None:
    if not cert["complete"] and int(cert["run"].get("exitstatus", 0)) not in (0, 1):
        col.summary.append(
            (
                f"xorcert: refusing to update the baseline from an incomplete run "
                f"({'; '.join(cert['incomplete_reasons'][:3])})",
                "red",
            )
        )
        _fail(session)
        return
    try:
        new, n = baseline_mod.updated(base, cert)
    except baseline_mod.BaselineConflict as e:
        col.summary.extend((line, "red") for line in str(e).splitlines())
        _fail(session)
        return
    try:
        write_json_atomic(path, new)
    except OSError as e:
        col.summary.append(
            (
                f"xorcert: could not write the baseline {path}: {e}; it is unchanged, and this "
                f"run's verdicts are in its certificate",
                "red",
            )
        )
        _fail(session)
        return
    short = [
        nid
        for nid, it in cert["items"].items()  # a flip stops hypothesis at that example
        if it.get("outcome") == "failed" and " flipped: " in str(it.get("message", ""))
    ]
    col.summary.append((f"baseline updated: {n} cell(s) of profile {cert['profile']!r} written to {path}", "green"))
    if short:
        col.summary.append(
            (
                f"  {len(short)} item(s) stopped at an example that flipped: their cell holds the "
                f"examples run so far; run again to confirm the rest",
                "yellow",
            )
        )


def _fail(session: pytest.Session) -> None:
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _rel(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------ the controller's recorder
class Recorder:
    """Registered on the controller only: gathers the verdicts and writes the files at the end.

    While it is registered, SIGTERM (how CI and batch systems cancel a job) interrupts the run
    as SIGINT does, so a cancelled run still leaves its incomplete certificate."""

    def __init__(self, config: pytest.Config, baseline: dict[str, Any]) -> None:
        self.config = config
        self.baseline = baseline
        self.col = Collector()
        self.terminated = False
        self._sigterm: Any = None
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.terminated = True
        raise KeyboardInterrupt("SIGTERM")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        col, nodeid = self.col, report.nodeid
        if report.when == "teardown":
            col.finished.add(nodeid)
        props = list(report.user_properties or [])
        records = [v for name, v in props if name == VERDICT_PROPERTY and isinstance(v, dict)]
        if len(records) > len(col.records.get(nodeid, [])):
            col.records[nodeid] = records
        for name, v in props:
            if name == WORKER_PROPERTY and isinstance(v, dict):
                col.workers[nodeid] = v
        cell = next((v for name, v in props if name == ITEM_PROPERTY and isinstance(v, dict)), None)
        if cell is not None and cell.get("trend"):
            self._trend_report(report, props, cell)
            return
        if records and cell is None:
            cell = {"claim": records[0].get("claim"), "regime": records[0].get("regime")}
        item = col.items.get(nodeid)
        if item is None and cell is None:
            return  # not a certification item
        if item is None:
            item = col.items[nodeid] = {
                "claim": None,
                "regime": None,
                "outcome": "running",
                "examples": 0,
                "message": "",
                "reproduce": [],
                "duration_s": 0.0,
            }
        if cell is not None:
            item["claim"], item["regime"] = cell.get("claim"), cell.get("regime")
        item["examples"] = len(col.records.get(nodeid, []))
        found = next((v for name, v in props if name == COUNTEREXAMPLE_PROPERTY and isinstance(v, dict)), None)
        if found is not None:
            item["counterexample"] = found
        item["reproduce"] = [r["reproduce"] for r in col.records.get(nodeid, []) if isinstance(r.get("reproduce"), str)]
        item["duration_s"] = float(item.get("duration_s", 0.0)) + float(getattr(report, "duration", 0.0) or 0.0)
        _record_outcome(item, report)

    def _trend_report(self, report: pytest.TestReport, props: list[tuple[str, Any]], cell: dict[str, Any]) -> None:
        item = self.col.trends.setdefault(
            report.nodeid, {"claim": cell.get("claim"), "regime": cell.get("regime"), "nodeid": report.nodeid}
        )
        record = next((v for name, v in props if name == TREND_PROPERTY and isinstance(v, dict)), None)
        if record is not None:
            item.update(record)
        _record_outcome(item, report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config, col = self.config, self.col
        if not col.records and not col.items and not col.trends:
            if config.getoption("xorcert_update_baseline", default=False):
                col.summary.append(
                    ("xorcert: --update-baseline: no verdicts were recorded; baseline unchanged", "yellow")
                )
            return
        cert = build_certificate(session, exitstatus, col)
        if self.terminated:
            cert["incomplete_reasons"].insert(0, "terminated by SIGTERM")
        col.profile = cert.get("profile")
        out, base, bpath = report_dir(config), self.baseline, baseline_path(config)
        bdiff = baseline_diff(cert, base, against=f"{_rel(bpath, config)} (profile {cert.get('profile')})")
        prev, prev_name = _previous(config, out, cert, col)
        pdiff = certificate_diff(prev, cert, against=f"previous certificate {prev_name}") if prev else None

        col.summary.append((HEADER, "bold"))
        col.summary.extend(cell_lines(cert))
        col.summary.extend((line, "red" if "FLIP" in line else "") for line in format_diff(bdiff, limit=20))
        if pdiff is not None and (pdiff.flips or pdiff.moves):
            col.summary.extend((line, "yellow") for line in format_diff(pdiff, limit=20))
        if not cert["complete"]:
            col.summary.append(("certificate INCOMPLETE: " + "; ".join(cert["incomplete_reasons"][:5]), "red"))
        if config.getoption("xorcert_no_report", default=False):
            col.summary.append(("xorcert: --no-report: certificate and HTML not written", ""))
        else:
            self._write_report(session, cert, out, bdiff.against, prev, prev_name)
        if config.getoption("xorcert_update_baseline", default=False):  # after the run's own record is safe
            _update_baseline(session, cert, base, bpath, col)

    def _write_report(
        self,
        session: pytest.Session,
        cert: dict[str, Any],
        out: Path,
        baseline_name: str,
        prev: dict | None,
        prev_name: str,
    ) -> None:
        """certificate.json and index.html into `out`; an incomplete run's into `out/incomplete/`, so the
        last complete run's files are never replaced by a cut-short one. A write that fails fails the run."""
        col = self.col
        where = out if cert["complete"] else out / INCOMPLETE_DIR
        cpath = _safe(
            f"writing the certificate {where / CERTIFICATE_NAME}",
            lambda: write_json_atomic(where / CERTIFICATE_NAME, cert),
            col,
        )
        if cpath is not None:
            state = "complete" if cert["complete"] else "INCOMPLETE"
            col.summary.append((f"certificate: {cpath} ({state}, {len(cert['entries'])} examples)", ""))

        def render() -> Path:
            from .html import load_boundaries, render_report

            return write_text_atomic(
                where / REPORT_NAME,
                render_report(
                    cert,
                    baseline=self.baseline,
                    previous=prev,
                    baseline_name=baseline_name,
                    previous_name=prev_name,
                    boundaries=load_boundaries(out, lambda m: col.summary.append((f"xorcert: {m}", "yellow"))),
                ),
            )

        rpath = _safe(f"writing the report {where / REPORT_NAME}", render, col)
        if rpath is not None:
            col.report_path = rpath
            col.summary.append((f"report: {rpath}", "bold"))
        if cpath is None or rpath is None:
            _fail(session)
        if not cert["complete"]:
            kept = out / CERTIFICATE_NAME
            col.summary.append(
                (
                    f"the last complete run's certificate and report are kept: {kept}, {out / REPORT_NAME}"
                    if kept.exists()
                    else f"no complete run has written to {out} yet",
                    "yellow",
                )
            )

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self.col.summary:
            return
        profile = self.col.profile or config.getoption("hypothesis_profile", default=None) or "default"
        terminalreporter.write_sep("=", f"xorcert certificate (hypothesis profile {profile})")
        for line, colour in self.col.summary:
            terminalreporter.write_line(line, **({colour: True} if colour else {}))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The very last line of the run: where the report is (after pytest's own summary line)."""
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
        if self.col.report_path is not None:
            tr = config.pluginmanager.get_plugin("terminalreporter")
            if tr is not None:
                tr.write_line(f"xorcert report: {self.col.report_path}", bold=True)


def _record_outcome(item: dict[str, Any], report: pytest.TestReport) -> None:
    wasxfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if wasxfail:
            item["outcome"] = "xfailed" if report.skipped else "xpassed"
            item["message"] = str(getattr(report, "wasxfail", ""))[:4000]
        else:
            item["outcome"] = report.outcome
    elif report.failed:
        item["outcome"] = "error"
    elif report.skipped and report.when == "setup":
        item["outcome"] = "xfailed" if wasxfail else "skipped"
        lr = report.longrepr
        item["message"] = str(lr[-1] if isinstance(lr, tuple) else report.longreprtext)[:2000]
    if report.failed:
        item["message"] = _crash_message(report)
