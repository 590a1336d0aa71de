"""`python -m simulator`: run and show, every field an option, clean errors, Ctrl-C, the progress bar."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from simulator import RunConfig, Trajectory, engine, paper, small_batch
from simulator.cli import ProgressBar, build_parser, config_from_args, format_progress, main
from tests.support.tiny_run import TINY_ARGS

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args], capture_output=True, text=True, env=ENV, timeout=120, **kw
    )


def call(argv: list[str]) -> int:
    """main() in-process; argparse's own errors (SystemExit) count as their exit status."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


def no_files_but(folder: Path, *names: str) -> bool:
    return sorted(p.name for p in folder.iterdir()) == sorted(names)


# ----------------------------------------------------------------------------- run and show
def test_run_then_show(tmp_path, capsys):
    out = tmp_path / "run.npz"
    res = cli(
        "run",
        "--regime",
        "paper",
        "--d",
        "16",
        "--steps",
        "30",
        "--seeds",
        "2",
        "--device",
        "cpu",
        "--test-size",
        "2000",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "100.0%" in res.stderr and "steps/s" in res.stderr and str(out) in res.stdout
    traj = Trajectory.load(out)
    assert traj.config == paper(16, steps=30, seeds=2, device="cpu", test_size=2000)
    assert no_files_but(tmp_path, "run.npz")

    assert call(["show", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in (
        "regime      paper",
        "d 16",
        "p 8",
        "m 123",
        "steps 30",
        "variants    logistic",
        "seed 0, variant logistic",
        "seed 1, variant logistic",
        "final test loss",
        "clean cluster margins",
        "95% CI [",
        "Clopper-Pearson",
        "run time",
        "on cpu",
    ):
        assert needle in text, needle
    assert text.count("T1 (S_t >= 1 - zeta)") == 2 and text.count("T2 (max |h'+1| >= zeta)") == 2
    fin = traj.final()
    assert f"{fin['error'][1]:.4f}   95% CI [{fin['error_lo'][1]:.4f}, {fin['error_hi'][1]:.4f}]" in text
    t1 = traj.T1()[0]
    assert ("not reached" if t1 < 0 else f"{t1} (of 30)") in text.split("seed 1")[0]


def test_cache_option_reuses_the_run(tmp_path, capsys):
    cache_dir, a, b = tmp_path / "c", tmp_path / "a.npz", tmp_path / "b.npz"
    assert call(["run", *TINY_ARGS, "--cache", "--cache-dir", str(cache_dir), "--out", str(a)]) == 0
    assert "cache hit" not in capsys.readouterr().err
    assert call(["run", *TINY_ARGS, "--cache", "--cache-dir", str(cache_dir), "--out", str(b)]) == 0
    assert "cache hit" in capsys.readouterr().err
    assert a.read_bytes() == b.read_bytes()
    assert len(list(cache_dir.glob("*.npz"))) == 1


def test_regime_constructor_parameters_reach_the_constructor():
    parser = build_parser()
    cfg = config_from_args(
        parser.parse_args(["run", "--regime", "small_batch", "--d", "16", "--m", "32", "--C", "1.5", "--seeds", "3"])
    )
    assert cfg == small_batch(16, m=32, C=1.5, seeds=3)
    cfg = config_from_args(
        parser.parse_args(
            [
                "run",
                "--d",
                "16",
                "--p",
                "12",
                "--kappa",
                "3",
                "--label-coords",
                "2",
                "5",
                "--variants",
                "logistic",
                "linear",
            ]
        )
    )
    assert cfg == paper(16, p=12, kappa=3.0, label_coords=(2, 5), variants=("logistic", "linear"))
    assert math.isclose(cfg.theta, cfg.eta / math.sqrt(12))  # θ = ψ/√p follows p
    cfg = config_from_args(parser.parse_args(["run", *TINY_ARGS, "--regime-params", "note=x", "k=2"]))
    assert cfg.regime == "custom" and dict(cfg.regime_params) == {"note": "x", "k": 2}


# ----------------------------------------------------------------------------- help and bad input
def test_knob_options_reach_the_config(capsys):
    """--weight-decay, --lr-ratio, --init gaussian and a loss's --variants build the regime's config with them,
    and --help gives each one's range and default."""
    cfg = config_from_args(
        build_parser().parse_args(
            [
                "run",
                "--d",
                "16",
                "--weight-decay",
                "1e-3",
                "--lr-ratio",
                "0.5",
                "--init",
                "gaussian",
                "--variants",
                "squared",
                "squared_frozen_a",
            ]
        )
    )
    assert cfg == paper(16, weight_decay=1e-3, lr_ratio=0.5, init="gaussian", variants=("squared", "squared_frozen_a"))
    assert call(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in (
        "--weight-decay X weight decay lambda",
        "(finite number >= 0; 0 = none) (default: 0.0)",
        "--lr-ratio X step ratio r of the second layer",
        "(finite number > 0; 1 = the same step) (default: 1.0)",
        "'gaussian' (w_k ~ N(0, theta^2/d I_d))",
        "'squared_linear' (squared, first-order proxy h0, both layers trained)",
    ):
        assert needle in text, needle


def test_help_mentions_every_field(capsys):
    assert call(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for f in fields(RunConfig):
        assert f"--{f.name.replace('_', '-')}" in text, f.name
    for opt in ("--C", "--kappa", "--out", "--cache", "--no-cache", "--quiet", "custom", "float64", "sparse_finders"):
        assert opt in text, opt
    run_parser = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    by_dest = {a.dest: a for a in run_parser._actions}
    for f in fields(RunConfig):
        if f.name != "regime":
            assert not by_dest[f.name].help.startswith("RunConfig."), f"--help does not explain {f.name}"


@pytest.mark.parametrize(
    "args, names",
    [
        (["--d", "2"], "d = 2"),
        (["--d", "16", "--eta", "-1"], "eta"),
        (["--d", "16", "--seeds", "0"], "seeds"),
        (["--d", "16", "--label-coords", "0", "99"], "label_coords"),
        (["--d", "16", "--C", "-1"], "C = -1"),
        (["--regime", "custom", "--d", "8", "--p", "4"], "--m --eta --theta --steps"),
        (["--d", "16", "--variants", "bogus"], "--variants"),
        (["--d", "sixteen"], "--d"),
        (["--steps", "10"], "--d"),
        (["--d", "16", "--weight-decay", "-0.1"], "RunConfig.weight_decay = -0.1"),
        (["--d", "16", "--lr-ratio", "0"], "RunConfig.lr_ratio = 0.0"),
        (["--d", "16", "--init", "normal"], "--init"),
    ],
)
def test_bad_values_exit_2_naming_the_parameter(tmp_path, capsys, monkeypatch, args, names):
    monkeypatch.setattr(engine, "run", lambda *a, **k: pytest.fail("work started before validation"))
    out = tmp_path / "x.npz"
    assert call(["run", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and names in err
    assert not out.exists()


def test_show_names_the_knobs_and_the_loss_deviation(tmp_path, capsys):
    out = tmp_path / "k.npz"
    knobs = ["--variants", "squared", "logistic", "--weight-decay", "0.01", "--lr-ratio", "2"]
    assert call(["run", *TINY_ARGS, *knobs, "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    assert call(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "weight decay 0.01" in text and "lr ratio 2 (second layer)" in text
    squared, logistic = text.split("variant logistic:")
    assert "T2 (max |h'/h'(0)-1| >= zeta) " in squared and "T2 (max |h'+1| >= zeta)" in logistic


def test_show_damaged_or_missing_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert call(["show", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err
    assert call(["show", str(tmp_path / "missing.npz")]) == 2
    assert "error:" in capsys.readouterr().err


def test_diverged_run_exits_1_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert call(["run", *TINY_ARGS, "--eta", "1e8", "--theta", "1", "--steps", "50", "--out", str(out)]) == 1
    assert "diverged" in capsys.readouterr().err
    assert no_files_but(tmp_path)


# ----------------------------------------------------------------------------- Ctrl-C
def test_sigint_mid_run_leaves_no_file(tmp_path):
    out = tmp_path / "long.npz"
    # A shell without job control starts background jobs with SIGINT ignored, and children inherit it:
    # give the child the default disposition, as Ctrl-C in a terminal would find it.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "run",
            "--regime",
            "paper",
            "--d",
            "16",
            "--steps",
            "200000",
            "--test-size",
            "256",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = []
        while not any(line.startswith("[") for line in lines):  # the first progress line: the run is on
            line = proc.stderr.readline()
            assert line, f"exited early: {proc.poll()} {''.join(lines)}"
            lines.append(line)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert no_files_but(tmp_path)


def test_interrupt_through_the_cache_writes_nothing(tmp_path, capsys, monkeypatch):
    def interrupted(cfg, progress=None, **kw):
        progress(0, cfg.steps)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run", interrupted)
    cache_dir, out = tmp_path / "c", tmp_path / "x.npz"
    assert call(["run", *TINY_ARGS, "--cache", "--cache-dir", str(cache_dir), "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not list(cache_dir.glob("*.npz")) and not list(cache_dir.glob("*.json"))


# ----------------------------------------------------------------------------- progress bar
class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_bar_on_a_terminal():
    stream, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(stream, tty=True, clock=clock)
    for step in range(0, 1001, 100):
        bar(step, 1000)
        clock.t += 1.0
    text = stream.getvalue()
    assert text.count("\r") == 11 and text.endswith("\n") and text.count("\n") == 1
    last = text.split("\r")[-1]
    assert "100.0%" in last and "step 1000/1000" in last and "100 steps/s" in last and "ETA 0:00" in last
    assert "ETA 0:09" in text.split("\r")[2]  # after 100 steps in 1 s: 900 left at 100 steps/s


def test_progress_bar_in_a_log_prints_occasional_lines():
    stream, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(stream, tty=False, clock=clock)
    steps = sorted(set(np.round(np.linspace(0, 5000, 75)).astype(int).tolist()))
    for step in steps:
        bar(step, 5000)
        clock.t += 0.01
    lines = stream.getvalue().splitlines()
    assert 5 <= len(lines) <= 13 and "\r" not in stream.getvalue()
    assert lines[0].startswith("[") and "step 0/5000" in lines[0] and "step 5000/5000" in lines[-1]


def test_format_progress():
    line = format_progress(250, 1000, 50.0)
    assert "25.0%" in line and "step 250/1000" in line and "50 steps/s" in line and "ETA 0:15" in line
    assert "-- steps/s" in format_progress(0, 10, None)
