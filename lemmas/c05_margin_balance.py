"""C5 `margin_balance` — SGD balances the four clusters' clean margins.

Paper anchor: Section 4.1.1, Mechanism 3 (the logistic loss weighs the cluster with the
smallest margin most, so after phase one the cluster margins equalise). docs/SPEC.md id: C5.

Claim (docs/SPEC.md §3): the ratio `R_t = max_c γ̃_c / min_c γ̃_c` never rises by more than a
factor `1 + ζ` after `T2`, and `R_T ≤ 1 + ζ`.

Per seed:

* `T2` = first step with batch `max|h'+1| ≥ ζ` (`Trajectory.T2`);
* `R_t` from the clean cluster margins: per step `Trajectory.clean_margins` (exact on the
  hypercube); on Gaussian data, where per-step clean margins are not exact, from the
  snapshots' `test_clean_margin` (quadrant means, docs/SPEC.md §4);
* no rise: for all `T2 ≤ s ≤ t`: `R_t ≤ (1 + ζ)·R_s`, i.e. `R_t ≤ (1 + ζ)·min_{T2≤s≤t} R_s`;
* balance at the end: `R_T ≤ 1 + ζ`.

Decisions (taken with the lead where the specification, docs/SPEC.md, is silent):

* "Never rises by more than a factor 1+ζ" is read cumulatively (against the running
  minimum since T2, not step to step), so a slow drift upwards also counts as a rise.
* `R_t = +∞` when `min_c γ̃_c ≤ 0` (some cluster is not yet correctly classified by the
  clean network). A rise *from* ∞ is no rise; a rise *to* ∞ (from a finite running
  minimum) is one.
* `R_T` is the ratio at the final state T, read from the last snapshot's
  `test_clean_margin` (exact on the hypercube, since f̃ is constant on a cluster); the
  final state also takes part in the no-rise test.
* `T2` never reached (the loss stays linear up to T): the no-rise part is vacuous, but
  `R_T ≤ 1 + ζ` is a statement at T that does not depend on T2 and is still checked: the
  seed fails when `R_T > 1 + ζ`, and is 'na' (never 'pass') otherwise. The lead's first
  reading ("T2 never reached -> na") would make the first_layer_only mutant
  unevaluable: with `a` frozen at θ the network stays tiny, T2 is never reached at d = 32
  or 64, and the clusters end unbalanced (R_T from 1.35 to ∞); a failure to balance
  by T is exactly what the claim denies, so it is recorded as one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import (
    Claim,
    Verdict,
    not_applicable,
    per_seed_values,
    seed_outcome,
    verdict_from_seeds,
    xor_plane_missing,
)
from lemmas.report import KeyStat
from lemmas.series import over_seeds
from simulator.trajectory import Trajectory

ID = "C5"


applies = xor_plane_missing


def margin_ratio(margins: np.ndarray) -> np.ndarray:
    """R = max_c γ̃_c / min_c γ̃_c over the last axis (4 clusters); +∞ where min_c γ̃_c ≤ 0."""
    margins = margins.astype(np.float64)
    lo, hi = margins.min(-1), margins.max(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = hi / lo
    return np.where(lo > 0, r, np.inf)


def ratio_series(traj: Trajectory, variant: str | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(steps, R) with R (len(steps), R): per step on the hypercube, at the snapshots otherwise;
    the final state T (last snapshot) appended when it is not already there."""
    snap_R = margin_ratio(traj.snap("test_clean_margin", variant))  # (S, R)
    snap_steps = traj.snap_steps.astype(np.int64)
    if traj.config.data == "boolean":
        steps = np.arange(traj.steps)
        R = margin_ratio(traj.clean_margins(variant))
        if len(snap_steps) and snap_steps[-1] == traj.steps:
            steps = np.append(steps, traj.steps)
            R = np.concatenate([R, snap_R[-1:]], axis=0)
        return steps, R
    return snap_steps, snap_R


def rise_factor(R: np.ndarray) -> np.ndarray:
    """R_t / min_{s ≤ t} R_s along axis 0 (1 where both are ∞: a rise from ∞ is no rise)."""
    run_min = np.minimum.accumulate(R, axis=0)
    with np.errstate(invalid="ignore"):
        f = R / run_min
    return np.where(np.isinf(run_min), 1.0, f)


# ------------------------------------------------------------------------------ the check
def _seed_outcome(seed: int, t2: int, steps: np.ndarray, R: np.ndarray, z: float) -> dict[str, Any]:
    """One seed's record from its ratio series R (len(steps),)."""
    if t2 < 0:
        r_T = float(R[-1])
        rec: dict[str, Any] = {"seed": seed, "T2": -1, "R_T": r_T}
        if not r_T <= 1 + z:
            return {
                **rec,
                "outcome": "fail",
                "why": f"R_T = {r_T:.4g} > 1+ζ = {1 + z:.3g} (T2 never reached: the clusters were never balanced)",
            }
        return {
            **rec,
            "outcome": "na",
            "why": "T2 not reached: the loss stayed linear (batch max|h'+1| < ζ) up to T, and R_T ≤ 1+ζ",
        }
    sel = steps >= t2
    if not sel.any():
        return {"seed": seed, "T2": t2, "outcome": "na", "why": f"no clean-margin reading at or after T2 = {t2}"}
    after, t_after = R[sel], steps[sel]
    rise = rise_factor(after)
    rec = {
        "seed": seed,
        "T2": t2,
        "R_T": float(after[-1]),
        "R_at_T2": float(after[0]),
        "min_R_after_T2": float(after.min()),
        "max_rise": float(rise.max()),
    }
    problems = []
    if rise.max() > 1 + z:
        k = int(np.argmax(rise > 1 + z))
        rec["first_rise"] = int(t_after[k])
        prev = float(np.minimum.accumulate(after)[k])
        problems.append(
            f"R rises by {rise[k]:.3g} > 1+ζ = {1 + z:.3g} at t = {int(t_after[k])} "
            f"(R = {after[k]:.4g} after a minimum of {prev:.4g} since T2 = {t2})"
        )
    if not after[-1] <= 1 + z:
        problems.append(f"R_T = {after[-1]:.4g} > 1+ζ = {1 + z:.3g}")
    return seed_outcome(rec, problems)


def check(traj: Trajectory) -> Verdict:
    """C5 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    z = traj.zeta
    t2s = traj.T2(0)
    steps, R = ratio_series(traj, 0)
    per_seed = [_seed_outcome(s, int(t2s[r]), steps, R[:, r], z) for r, s in enumerate(traj.seeds)]
    t2_all = [math.inf if t < 0 else float(t) for t in t2s]  # never reached counts as ∞
    R_T = [p["R_T"] for p in per_seed if "R_T" in p]
    stats = {
        "T2_median": float(np.median(t2_all)),
        "seeds_without_T2": float(sum(t < 0 for t in t2s)),
        "R_T_median": float(np.median(R_T)) if R_T else math.nan,
        "R_T_max": max(R_T, default=math.nan),
        "max_rise": max((p["max_rise"] for p in per_seed if "max_rise" in p), default=math.nan),
    }
    thresholds = {"R_T_max": 1 + z, "rise_max": 1 + z, "zeta": z}
    series = {
        "R": over_seeds(
            "ratio of the clean cluster margins R_t",
            steps,
            R,
            traj.seeds,
            "step t" if cfg.data == "boolean" else "snapshot step",
            "R_t = max_c γ̃_c / min_c γ̃_c (∞ while min ≤ 0)",
            {"1+ζ": 1 + z},
            {"T2 (median)": stats["T2_median"]},
            log_y=True,
        )
    }
    return verdict_from_seeds(
        ID, per_seed, stats, thresholds, series, what="R_t never rises by more than 1+ζ after T2 and R_T ≤ 1+ζ"
    )


def violation(traj: Trajectory) -> np.ndarray:
    """C5's violation statistic per seed (R,): R_T - 1 (the balance-at-the-end clause, failing when > ζ;
    the no-rise clause is not in it); NaN where the seed is unevaluable or the check is not defined."""
    return per_seed_values(check(traj), "R_T", traj.seeds) - 1.0


CLAIM = Claim(
    id=ID,
    slug="margin_balance",
    title="SGD balances the four clusters' clean margins after the loss leaves its linear phase",
    anchor="Sec. 4.1.1, Mechanism 3",
    statement=(
        "R_t = max_c γ̃_c / min_c γ̃_c never rises by more than a factor 1 + ζ after T2 "
        "(R_t ≤ (1+ζ)·R_s for all T2 ≤ s ≤ t), and R_T ≤ 1 + ζ."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("R_T (worst seed)", "R_T_max", "<=", "R_T_max"),
        KeyStat("largest rise of R after T2", "max_rise", "<=", "rise_max"),
    ),
    variants=(),
    decisions=(
        "cumulative reading of 'rise' (against the running minimum since T2); R = ∞ while min_c γ̃_c ≤ 0, "
        "a rise from ∞ is none, a rise to ∞ is one; R_T from the last snapshot; T2 never reached: fail if "
        "R_T > 1+ζ, else na; "
        "Gaussian data: snapshots' quadrant-mean clean margins."
    ),
    applies=applies,
    violation=violation,
    violation_clause="R_T - 1 ≤ ζ (not the no-rise clause)",
)
