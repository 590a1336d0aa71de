"""`reports` (loaded by the plugin in every pytest run) never imports torch, the simulator or lemmas.base."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reports_import_no_heavy_modules() -> None:
    code = (
        "import sys, reports.plugin, reports.html, reports.plots, reports.summary, reports.keystats, "
        "reports.__main__\n"
        "heavy = sorted(m for m in ('torch', 'simulator', 'lemmas.base', 'lemmas.series') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
