"""The report in a real browser: headless Chromium loads it from file:// with no console errors.

Skipped where no Chromium is installed (.ci/run installs Debian's `chromium` when it can).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reports.html import render_report
from tests.support import certificates as S

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


@pytest.mark.skipif(
    browser() is None,
    reason=f"no Chromium installed (looked for {', '.join(BROWSERS)}); "
    "`apt-get install -y chromium` enables this check",
)
def test_report_loads_in_headless_chromium(tmp_path: Path) -> None:
    records = {
        k: v
        for k, v in S.all_kinds_records().items()
        if any(s in k for s in ("C2-paper", "C4-large_init", "C9-gaussian"))
    }
    page = tmp_path / "index.html"
    page.write_text(render_report(S.certificate(records), baseline={"schema": 1, "profiles": {}}))
    shot = tmp_path / "shot.png"
    exe = browser()
    assert exe is not None

    def chromium(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )

    res = chromium(f"--screenshot={shot}", "--window-size=1400,3000")
    assert shot.exists() and shot.stat().st_size > 10_000, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = chromium("--dump-dom")
    assert 'id="matrix"' in dom.stdout and "C4" in dom.stdout, dom.stderr[-2000:]
    console = [line for line in (res.stderr + dom.stderr).splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert "net::ERR" not in res.stderr + dom.stderr  # nothing was fetched
