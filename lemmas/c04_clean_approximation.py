"""C4 `clean_approximation` — from T1 on the network is close to its clean approximation.

Paper anchor: Section 4.1.1 (the clean network f̃, which keeps only each neuron's signal
component, approximates f once the network is signal-heavy). docs/SPEC.md id: C4.

Claim (docs/SPEC.md §3): from `T1` on, on the test set `max_x |f(x) - f̃(x)| ≤ ζ · max_c |γ̃_c|`,
and `sign f = sign f̃` on at least `1 - ζ` of the test points; the ratio to `min_c |γ̃_c|`
is reported too (it need not be small while the clusters are unbalanced).
`f̃(x) = (1/p) Σ_k a_k relu(w_sig,k · x)`, `γ̃_c = y_c f̃(c)` the clean cluster margins
(population.py: `test_clean_gap` = max|f - f̃|, `test_sign_agree`, `test_clean_margin`).

Per seed: `T1` = first step with `S_t ≥ 1 - ζ`; at every snapshot with step `≥ T1`:
`gap / max_c |γ̃_c| ≤ ζ` and `sign agreement ≥ 1 - ζ`.

Decisions (where the specification, docs/SPEC.md, is silent):

* The test set is only evaluated at the snapshots, so "from T1 on" means every snapshot
  with step ≥ T1 (the uniform grid, the log-spaced steps and the last, T).
* `T1` never reached: 'na'.
* A snapshot where `max_c |γ̃_c| = 0` and the gap is 0 has ratio 0 (f = f̃ = 0); with a
  positive gap the ratio is ∞ (a failure).
* Reported per seed: the largest `gap / max_c |γ̃_c|` and `gap / min_c |γ̃_c|` over the
  snapshots from T1 on, the least sign agreement, and the first snapshot that violates.
* On Gaussian data `γ̃_c` is the quadrant mean of the clean margin (docs/SPEC.md §4), as
  recorded in `test_clean_margin`.
* The gap is the maximum over the whole test set (population.py), so it grows slowly
  with the test-set size (the leftover `w_perp·x` is sub-Gaussian: its maximum over n
  points is ≈ √(2 log n)·‖w_perp‖); the first snapshots after T1, where S_t has only
  just reached 1 - ζ, are where it is largest. This is the reading of the specification, kept
  as is; the report shows the ratio over all snapshots.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import Claim, Verdict, not_applicable, verdict_from_seeds, xor_plane_missing
from lemmas.report import KeyStat
from lemmas.series import over_seeds
from simulator.trajectory import Trajectory

ID = "C4"


applies = xor_plane_missing


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0/0 = 0 and x/0 = ∞ for x > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den > 0, out, np.where(num > 0, np.inf, 0.0))


def gap_ratios(traj: Trajectory, variant: str | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(max|f - f̃| / max_c |γ̃_c|, max|f - f̃| / min_c |γ̃_c|) at every snapshot (S, R)."""
    gap = traj.snap("test_clean_gap", variant).astype(np.float64)  # (S, R)
    cm = np.abs(traj.snap("test_clean_margin", variant).astype(np.float64))  # (S, R, 4)
    return _ratio(gap, cm.max(-1)), _ratio(gap, cm.min(-1))


# ------------------------------------------------------------------------------ the check
def _seed_outcome(
    seed: int, t1: int, snap_steps: np.ndarray, r_max: np.ndarray, r_min: np.ndarray, agree: np.ndarray, z: float
) -> dict[str, Any]:
    """One seed's record; r_max, r_min, agree: this seed's values at the snapshots (S,)."""
    if t1 < 0:
        return {"seed": seed, "T1": -1, "outcome": "na", "why": "T1 not reached: S_t < 1-ζ at every recorded step"}
    sel = snap_steps >= t1
    if not sel.any():
        return {"seed": seed, "T1": t1, "outcome": "na", "why": f"no snapshot at or after T1 = {t1}"}
    rec: dict[str, Any] = {
        "seed": seed,
        "T1": t1,
        "snapshots_checked": int(sel.sum()),
        "max_gap_over_max_margin": float(r_max[sel].max()),
        "max_gap_over_min_margin": float(r_min[sel].max()),
        "min_sign_agree": float(agree[sel].min()),
    }
    bad = sel & ((r_max > z) | (agree < 1 - z))
    if bad.any():
        k = int(np.argmax(bad))
        return {
            **rec,
            "outcome": "fail",
            "first_violation": int(snap_steps[k]),
            "why": (
                f"at snapshot t = {int(snap_steps[k])} (T1 = {t1}): max|f-f̃|/max|γ̃| = {r_max[k]:.3g}, "
                f"sign agreement {agree[k]:.4g} (need ≤ ζ = {z:.3g} and ≥ 1-ζ); "
                f"{int(bad.sum())}/{int(sel.sum())} snapshots violate"
            ),
        }
    return {**rec, "outcome": "pass"}


def check(traj: Trajectory) -> Verdict:
    """C4 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    z = traj.zeta
    t1s = traj.T1(0)
    snap_steps = traj.snap_steps
    r_max, r_min = gap_ratios(traj, 0)
    agree = traj.snap("test_sign_agree", 0).astype(np.float64)
    per_seed = [
        _seed_outcome(s, int(t1s[r]), snap_steps, r_max[:, r], r_min[:, r], agree[:, r], z)
        for r, s in enumerate(traj.seeds)
    ]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "T1_median": float(np.median([p["T1"] for p in ev])) if ev else math.nan,
        "max_gap_over_max_margin": max((p["max_gap_over_max_margin"] for p in ev), default=math.nan),
        "max_gap_over_min_margin": max((p["max_gap_over_min_margin"] for p in ev), default=math.nan),
        "min_sign_agree": min((p["min_sign_agree"] for p in ev), default=math.nan),
        "final_gap_over_max_margin_median": float(np.median(r_max[-1])),
    }
    thresholds = {"gap_over_max_margin_max": z, "sign_agree_min": 1 - z, "zeta": z}
    vl = {"T1 (median)": stats["T1_median"]}
    series = {
        "gap_over_max_margin": over_seeds(
            "gap to the clean network over the largest clean margin",
            snap_steps,
            r_max,
            traj.seeds,
            "snapshot step",
            "max|f - f̃| / max_c|γ̃_c|",
            {"ζ": z},
            vl,
        ),
        "gap_over_min_margin": over_seeds(
            "gap to the clean network over the smallest clean margin (reported)",
            snap_steps,
            r_min,
            traj.seeds,
            "snapshot step",
            "max|f - f̃| / min_c|γ̃_c| (reported)",
            {},
            vl,
        ),
        "sign_agree": over_seeds(
            "sign agreement of f and f̃ on the test set",
            snap_steps,
            agree,
            traj.seeds,
            "snapshot step",
            "share of test points with sign f = sign f̃",
            {"1-ζ": 1 - z},
            vl,
        ),
    }
    return verdict_from_seeds(
        ID,
        per_seed,
        stats,
        thresholds,
        series,
        what="max|f-f̃| ≤ ζ·max|γ̃| and sign agreement ≥ 1-ζ at every snapshot from T1",
    )


CLAIM = Claim(
    id=ID,
    slug="clean_approximation",
    title="From T1 on the network is close to its clean (signal-only) approximation",
    anchor="Sec. 4.1.1",
    statement=(
        "From T1 on, on the test set max_x |f(x) - f̃(x)| ≤ ζ · max_c |γ̃_c| and sign f = sign f̃ on at "
        "least 1 - ζ of the points; the ratio to min_c |γ̃_c| is reported."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("max|f-f̃| / max|γ̃|", "max_gap_over_max_margin", "<=", "gap_over_max_margin_max"),
        KeyStat("sign agreement", "min_sign_agree", ">=", "sign_agree_min"),
    ),
    variants=(),
    decisions="every snapshot with step ≥ T1 is checked; T1 never reached -> na; 0/0 ratio = 0, x/0 = ∞.",
    applies=applies,
)
