"""C9 `main_theorem` — at the horizon T the network has population error below ε.

Paper anchor: Theorem 3.1 (with n = d·polylog(d) samples, minibatch SGD on the two-layer
ReLU network reaches population 0-1 error o(1) w.h.p.). docs/SPEC.md id: C9.

Claim (docs/SPEC.md §3): in the paper regime, at `T` the population 0-1 error is below
`ε = 0.01`: the upper end of a 95% Clopper–Pearson interval on a fresh test set of at least
20 000 points is below ε; the population loss at `T` is reported.

Per seed: pass when `traj.final()["error_hi"] < THRESHOLDS.eps` (the last snapshot, T),
fail otherwise; 'na' when the test set is smaller than `THRESHOLDS.c9_min_test`.

Decisions (where the specification, docs/SPEC.md, is silent):

* "Fresh test set": the run's fixed test set (its own seed `test_seed`, independent of every
  minibatch stream and of the init), evaluated only at the snapshots; its size is
  `test_size` for every seed.
* The claim is read at T: a run whose last snapshot is not at its horizon (stopped early
  with `stop_error`) is 'na' for every seed — its error at T was never measured.
* Defined in every regime (parity-3 included: the error of the network is meaningful for
  any label); outside the paper regime a failure is a finding about that regime.
* Reported: the final test error, its Clopper–Pearson interval and the final test loss
  (mean h(γ) on the test set, the population-loss estimate), per seed and as medians.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, verdict_from_seeds
from lemmas.report import KeyStat
from lemmas.series import over_seeds, seed_bands
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

ID = "C9"


def applies(cfg: RunConfig) -> str | None:
    return None  # the network's error is meaningful for any label


def _seed_outcome(seed: int, err: float, lo: float, hi: float, loss: float, eps: float) -> dict[str, Any]:
    rec: dict[str, Any] = {"seed": seed, "error": err, "error_lo": lo, "error_hi": hi, "loss": loss}
    if hi < eps:
        return {**rec, "outcome": "pass"}
    return {
        **rec,
        "outcome": "fail",
        "why": f"test error {err:.4g} (95% CI [{lo:.4g}, {hi:.4g}]) at T: upper end ≥ ε = {eps:g}",
    }


def check(traj: Trajectory) -> Verdict:
    """C9 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    eps = THRESHOLDS.eps
    thresholds: dict[str, Any] = {"eps": eps, "min_test": THRESHOLDS.c9_min_test, "confidence": THRESHOLDS.confidence}
    snap_steps = traj.snap_steps
    na_why = None
    if cfg.test_size < THRESHOLDS.c9_min_test:
        na_why = f"test set of {cfg.test_size} points < {THRESHOLDS.c9_min_test}"
    elif not len(snap_steps) or int(snap_steps[-1]) != cfg.steps:
        last = int(snap_steps[-1]) if len(snap_steps) else None
        na_why = f"the last snapshot is at step {last}, not at the horizon T = {cfg.steps}"
    alpha = 1 - THRESHOLDS.confidence
    lo, hi = traj.test_error_ci(0, alpha)  # (S, R)
    err = traj.test_error(0)
    loss = traj.snap("test_loss", 0).astype(np.float64)
    per_seed: list[dict[str, Any]]
    if na_why:
        per_seed = [{"seed": s, "outcome": "na", "why": na_why} for s in traj.seeds]
    else:
        per_seed = [
            _seed_outcome(s, float(err[-1, r]), float(lo[-1, r]), float(hi[-1, r]), float(loss[-1, r]), eps)
            for r, s in enumerate(traj.seeds)
        ]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "final_error_median": float(np.median([p["error"] for p in ev])) if ev else math.nan,
        "final_error_hi_max": max((p["error_hi"] for p in ev), default=math.nan),
        "final_loss_median": float(np.median([p["loss"] for p in ev])) if ev else math.nan,
        "final_loss_max": max((p["loss"] for p in ev), default=math.nan),
        "samples": float(cfg.samples),
    }
    series = {
        "test_error": over_seeds(
            "test 0-1 error with its 95% Clopper–Pearson interval per seed",
            snap_steps,
            err,
            traj.seeds,
            "snapshot step",
            "test 0-1 error (95% Clopper–Pearson)",
            {"ε": eps},
            log_y=True,
            extra=seed_bands(snap_steps, lo, hi, traj.seeds),
        ),
        "test_loss": over_seeds(
            "test loss (the population-loss estimate)",
            snap_steps,
            loss,
            traj.seeds,
            "snapshot step",
            "test loss h(γ)",
            log_y=True,
        ),
    }
    return verdict_from_seeds(
        ID,
        per_seed,
        stats,
        thresholds,
        series,
        what=f"upper 95% Clopper–Pearson bound of the test error at T < ε = {eps:g}",
    )


CLAIM = Claim(
    id=ID,
    slug="main_theorem",
    title="Main theorem: population 0-1 error below ε at the horizon T",
    anchor="Theorem 3.1",
    statement=(
        "At T the population 0-1 error is below ε = 0.01: the upper end of a 95% Clopper–Pearson interval "
        "on a test set of at least 20 000 points is below ε; the population loss at T is reported."
    ),
    check=check,
    needs="run",
    key_stats=(KeyStat("upper 95% bound of the test error (worst seed)", "final_error_hi_max", "<", "eps"),),
    variants=(),
    decisions=(
        "per seed, the last snapshot must be at the horizon (else na); test set < c9_min_test -> na; "
        "defined in every regime."
    ),
    applies=applies,
)
