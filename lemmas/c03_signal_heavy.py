"""C3 `signal_heavy` — the signal-heavy inductive hypothesis persists.

Paper anchor: Definition 4.2 and Section 4.1.1 (once the network is signal-heavy it stays
so for the rest of training). docs/SPEC.md id: C3.

Claim (docs/SPEC.md §3): once `S_t ≥ 1 - ζ` it stays so for every later step up to `T`.
`S_t` is the share of the output mass `|a_k|·‖w_k‖` held by signal-heavy neurons,
`‖w_sig‖ ≥ max(‖w_opp‖, ‖w_perp‖)/ζ` (docs/SPEC.md §2, `Trajectory.S`).

Per seed: `T1` = first step with `S_t ≥ 1 - ζ`; the seed passes when `S_t ≥ 1 - ζ` for
every recorded step `t ∈ [T1, T)` and at the final state `t = T`.

Decisions (where the specification, docs/SPEC.md, is silent):

* "every later step up to T": the per-step records hold the state before each of the
  steps 0 … T-1; the state at T (after the last step) is read from the last snapshot's
  full `W`, `a` and counts as well.
* `T1` never reached: 'na' (nothing to persist), never 'pass'.
* Reported per seed: the least `S_t` from `T1` on, its margin over `1 - ζ`, and the
  first step where it dropped below (if it did).
* The designated broken setting (tests/mutants/test_mutant_c03.py): at d = 32 neither
  large_init (θ = 1) nor the proxy loss throughout breaks C3 (S_t only rises after T1
  there too, its least value after T1 is at T1 itself), so the mutant is a
  non-stationary target — the same run with the label moved to another pair of
  coordinates after T1, where S_t (read in the original signal plane) collapses to 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import Claim, Verdict, not_applicable, per_seed_values, verdict_from_seeds, xor_plane_missing
from lemmas.report import KeyStat
from lemmas.series import over_seeds
from simulator.trajectory import Trajectory

ID = "C3"


applies = xor_plane_missing


def signal_heavy_mass(W: np.ndarray, a: np.ndarray, pair: tuple[int, int], z: float) -> np.ndarray:
    """S from full weights W (..., p, d) and a (..., p): the same quantity as Trajectory.S."""
    W, a = W.astype(np.float64), a.astype(np.float64)
    i, j = pair
    sigma = np.where(a >= 0, -1.0, 1.0)
    sig = np.abs(W[..., i] + sigma * W[..., j]) / math.sqrt(2)
    opp = np.abs(W[..., i] - sigma * W[..., j]) / math.sqrt(2)
    norm = np.linalg.norm(W, axis=-1)
    perp = np.sqrt(np.maximum(norm**2 - W[..., i] ** 2 - W[..., j] ** 2, 0.0))
    mass = np.abs(a) * norm
    heavy = sig * z >= np.maximum(opp, perp)
    tot = mass.sum(-1)
    return np.where(tot > 0, (mass * heavy).sum(-1) / np.where(tot > 0, tot, 1.0), 0.0)


def s_with_final(traj: Trajectory, variant: str | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(steps, S) over the recorded steps and, when the last snapshot is the state after them, T."""
    S = traj.S(variant)  # (T, R)
    steps = np.arange(traj.steps)
    if len(traj.snap_steps) and int(traj.snap_steps[-1]) == traj.steps:
        S_T = signal_heavy_mass(
            traj.snap("snap_W", variant)[-1], traj.snap("snap_a", variant)[-1], traj.config.pair, traj.zeta
        )
        S = np.concatenate([S, S_T[None]], axis=0)
        steps = np.append(steps, traj.steps)
    return steps, S


# ------------------------------------------------------------------------------ the check
def _seed_outcome(seed: int, steps: np.ndarray, S: np.ndarray, z: float) -> dict[str, Any]:
    """One seed's record from its S series (len(steps),)."""
    reached = S >= 1 - z
    if not reached.any():
        return {
            "seed": seed,
            "T1": -1,
            "outcome": "na",
            "why": "T1 not reached: S_t < 1-ζ at every recorded step",
            "max_S": float(S.max()),
        }
    k1 = int(np.argmax(reached))
    after = S[k1:]
    rec: dict[str, Any] = {
        "seed": seed,
        "T1": int(steps[k1]),
        "min_S_after_T1": float(after.min()),
        "margin": float(after.min() - (1 - z)),
        "S_final": float(S[-1]),
    }
    below = after < 1 - z
    if below.any():
        k = k1 + int(np.argmax(below))
        return {
            **rec,
            "outcome": "fail",
            "first_drop": int(steps[k]),
            "why": f"S_t = {S[k]:.3g} < 1-ζ = {1 - z:.3g} at t = {int(steps[k])} > T1 = {int(steps[k1])} "
            f"(min {after.min():.3g}, {int(below.sum())} steps below)",
        }
    return {**rec, "outcome": "pass"}


def check(traj: Trajectory) -> Verdict:
    """C3 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    z = traj.zeta
    steps, S = s_with_final(traj, 0)
    per_seed = [_seed_outcome(s, steps, S[:, r], z) for r, s in enumerate(traj.seeds)]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "T1_median": float(np.median([p["T1"] for p in ev])) if ev else math.nan,
        "min_S_after_T1": min((p["min_S_after_T1"] for p in ev), default=math.nan),
        "min_margin": min((p["margin"] for p in ev), default=math.nan),
        "S_final_median": float(np.median(S[-1])),
    }
    thresholds = {"S_min": 1 - z, "zeta": z}
    series = {
        "S": over_seeds(
            "signal-heavy mass S_t (stays ≥ 1-ζ from T1 on)",
            steps,
            S,
            traj.seeds,
            "step t",
            "signal-heavy mass S_t",
            {"1-ζ": 1 - z},
            {"T1 (median)": stats["T1_median"]},
        )
    }
    return verdict_from_seeds(ID, per_seed, stats, thresholds, series, what="S_t ≥ 1-ζ at every step from T1 to T")


def violation(traj: Trajectory) -> np.ndarray:
    """C3's violation statistic per seed (R,): 1 - the least S_t from T1 to T (the whole claim: the seed
    fails exactly when it is > ζ); NaN where T1 is not reached or the check is not defined."""
    return 1.0 - per_seed_values(check(traj), "min_S_after_T1", traj.seeds)


CLAIM = Claim(
    id=ID,
    slug="signal_heavy",
    title="Signal-heavy inductive hypothesis: once found, the features hold the output mass",
    anchor="Def. 4.2, Sec. 4.1.1",
    statement="Once S_t ≥ 1 - ζ (first at T1), S_t ≥ 1 - ζ for every later step up to T.",
    check=check,
    needs="run",
    key_stats=(KeyStat("min S_t after T1 (worst seed)", "min_S_after_T1", ">=", "S_min"),),
    variants=(),
    decisions=("the state at T (after the last step) is read from the last snapshot; T1 never reached -> na."),
    applies=applies,
    violation=violation,
    violation_clause="the whole claim: 1 - min S_t over [T1, T] ≤ ζ",
)
