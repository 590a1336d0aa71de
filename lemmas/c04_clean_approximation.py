"""C4 `clean_approximation` — in phase two the network is close to its clean approximation.

Paper anchor: Section 4.1.1 (the clean network f̃, which keeps only each neuron's signal
component, approximates f while the network is signal-heavy). docs/SPEC.md id: C4.

Claim (docs/SPEC.md §3): from the start of phase two on, on the test set
`max_x |f(x) - f̃(x)| ≤ ζ · max_c |γ̃_c|`, and `sign f = sign f̃` on at least `1 - ζ` of the test
points; the ratio to `min_c |γ̃_c|` is reported too (it need not be small while the clusters are
unbalanced). `f̃(x) = (1/p) Σ_k a_k relu(w_sig,k · x)`, `γ̃_c = y_c f̃(c)` the clean cluster margins
(population.py: `test_clean_gap` = max|f - f̃|, `test_sign_agree`, `test_clean_margin`).

Phase two of the check (`phase_two_start`). In the paper the clean approximation is a
consequence of the signal-heavy hypothesis (Def. 4.2): one parameter bounds both a heavy
neuron's non-signal part and the output mass of the other neurons, and |f - f̃| is of the
order of that parameter times the clean margins, with a constant the paper does not give.
`T1` is the first step where the hypothesis holds at parameter ζ itself (docs/SPEC.md §2), so
at `T1` the gap is of the order of the tolerance ζ it is compared with: right after `T1`,
`1 - S_t ≈ ζ` and the test-set maximum of |f - f̃| is near ζ·max|γ̃| by construction (measured
in the paper regime at d = 32 on a snapshot at every step: 0.22–0.57·max|γ̃| between T1 and
the phase-two start, against ζ = 0.29), and a verdict read from `T1` turns on how far after
`T1` the first snapshot falls. The check therefore starts phase two at the first step where
the network is signal-heavy at `f·ζ`, `f = c4_hypothesis_factor = 1/2` (`S_t ≥ 1 - ζ/2` with
every neuron's test `‖w_sig‖ ≥ max(‖w_opp‖, ‖w_perp‖)/(ζ/2)`, i.e. `Trajectory.T1` at ζ/2): the
tolerance ζ is then twice the hypothesis' parameter. Both parts of the hypothesis are
tightened, because both feed the gap (the other neurons' outputs, and each heavy neuron's own
`w_opp·x + w_perp·x`). The phase-two start is never before `T1` (heavy at ζ/2 implies heavy
at ζ). The transient `[T1, phase-two start)` is reported (its largest ratio, least sign
agreement, its length in steps, and a mark on the plots), not judged.

Per seed: pass when at every snapshot with step ≥ the phase-two start
`gap / max_c |γ̃_c| ≤ ζ` and `sign agreement ≥ 1 - ζ`.

Decisions (where the specification, docs/SPEC.md, is silent):

* The test set is only evaluated at the snapshots, so "from the phase-two start on" means
  every snapshot with step ≥ it; a sparser grid can only miss violations. In the paper and
  first_layer_only regimes the ratio is largest at the phase-two start and decays after it,
  so the verdict turns on the steps right after the start. In the paper regime at d = 32 the
  ratio there is at most 0.21 against ζ = 0.29 (a snapshot at every step) and any grid gives
  the same outcomes; in first_layer_only it is 0.29–0.32 at the start itself and below ζ 1–3
  steps later, so the default grid (a snapshot every 10 steps there) passes seeds that fail
  at every step. The phase-two start alone does not remove the grid dependence. The
  certification therefore reads C4 with a snapshot at every step of the run's first
  `c4_every_step_window` = 3 linearized T1 predictions √(2π)(½ log d + log 1/ζ)/η
  (`Claim.every_step_window`: the plan adds a prefix run with the same seeds and batches,
  lemmas.plan.every_step_prefix), where T1 and the phase-two start lie, and the run's own
  grid after it. Reported per seed: whether its phase-two start fell in that every-step
  range (`start_read_at_every_step`).
* `T1` never reached: 'na' (nothing to approximate).
* `T1` reached but the network never signal-heavy at ζ/2 up to T (phase two never starts):
  'na' — the claim is conditional on the hypothesis; its transient is still reported.
* A snapshot where `max_c |γ̃_c| = 0` and the gap is 0 has ratio 0 (f = f̃ = 0); with a
  positive gap the ratio is ∞ (a failure).
* Reported per seed: the largest `gap / max_c |γ̃_c|` and `gap / min_c |γ̃_c|` over the
  snapshots from the phase-two start, the least sign agreement, the first snapshot that
  violates, and the same two quantities over the transient.
* On Gaussian data `γ̃_c` is the quadrant mean of the clean margin (docs/SPEC.md §4), as
  recorded in `test_clean_margin`.
* The gap is the maximum over the whole test set (population.py), so it grows slowly with the
  test-set size (the leftover `w_perp·x` is sub-Gaussian: its maximum over n points is
  ≈ √(2 log n)·‖w_perp‖).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import (
    THRESHOLDS,
    Claim,
    Verdict,
    not_applicable,
    per_seed_values,
    verdict_from_seeds,
    xor_plane_missing,
)
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


def phase_two_start(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """Per seed, the first step where the network is signal-heavy at fζ, f = c4_hypothesis_factor:
    `S_t(fζ) ≥ 1 - fζ` with the per-neuron test at fζ too (`Trajectory.T1` at fζ); -1 where never (R,).
    It is never before T1 (signal-heavy at fζ implies signal-heavy at ζ)."""
    return traj.T1(variant, z=THRESHOLDS.c4_hypothesis_factor * traj.zeta)


# ------------------------------------------------------------------------------ the check
def every_step_to(snap_steps: np.ndarray) -> int:
    """The last step s such that every step of [0, s] has a snapshot (-1 if step 0 has none)."""
    contiguous = snap_steps == np.arange(len(snap_steps))
    return int(np.argmin(contiguous)) - 1 if not contiguous.all() else len(snap_steps) - 1


def _seed_outcome(
    seed: int,
    t1: int,
    start: int,
    snap_steps: np.ndarray,
    r_max: np.ndarray,
    r_min: np.ndarray,
    agree: np.ndarray,
    z: float,
) -> dict[str, Any]:
    """One seed's record; r_max, r_min, agree: this seed's values at the snapshots (S,)."""
    if t1 < 0:
        return {"seed": seed, "T1": -1, "outcome": "na", "why": "T1 not reached: S_t < 1-ζ at every recorded step"}
    transient = (snap_steps >= t1) & (snap_steps < (start if start >= 0 else math.inf))
    rec: dict[str, Any] = {
        "seed": seed,
        "T1": t1,
        "phase_two_start": start,
        "transient_snapshots": int(transient.sum()),
        "transient_max_gap_over_max_margin": float(r_max[transient].max()) if transient.any() else math.nan,
        "transient_min_sign_agree": float(agree[transient].min()) if transient.any() else math.nan,
    }
    if start < 0:
        return {
            **rec,
            "outcome": "na",
            "why": (
                f"phase two never starts: the network is not signal-heavy at {THRESHOLDS.c4_hypothesis_factor:g}·ζ "
                f"at any step after T1 = {t1}"
            ),
        }
    sel = snap_steps >= start
    if not sel.any():
        return {**rec, "outcome": "na", "why": f"no snapshot at or after the phase-two start {start}"}
    rec.update(
        start_read_at_every_step=bool(start <= every_step_to(snap_steps)),
        transient_steps=start - t1,
        snapshots_checked=int(sel.sum()),
        max_gap_over_max_margin=float(r_max[sel].max()),
        max_gap_over_min_margin=float(r_min[sel].max()),
        min_sign_agree=float(agree[sel].min()),
    )
    bad = sel & ((r_max > z) | (agree < 1 - z))
    if bad.any():
        k = int(np.argmax(bad))
        return {
            **rec,
            "outcome": "fail",
            "first_violation": int(snap_steps[k]),
            "why": (
                f"at snapshot t = {int(snap_steps[k])} (phase two from {start}, T1 = {t1}): "
                f"max|f-f̃|/max|γ̃| = {r_max[k]:.3g}, sign agreement {agree[k]:.4g} (need ≤ ζ = {z:.3g} and ≥ 1-ζ); "
                f"{int(bad.sum())}/{int(sel.sum())} snapshots violate"
            ),
        }
    return {**rec, "outcome": "pass"}


def seed_outcomes(traj: Trajectory, starts: np.ndarray) -> list[dict[str, Any]]:
    """Per-seed records of the check with phase two starting at `starts` (R,) (the check: `phase_two_start`)."""
    t1s = traj.T1(0)
    r_max, r_min = gap_ratios(traj, 0)
    agree = traj.snap("test_sign_agree", 0).astype(np.float64)
    return [
        _seed_outcome(s, int(t1s[r]), int(starts[r]), traj.snap_steps, r_max[:, r], r_min[:, r], agree[:, r], traj.zeta)
        for r, s in enumerate(traj.seeds)
    ]


def _max(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def check(traj: Trajectory) -> Verdict:
    """C4 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    z = traj.zeta
    snap_steps = traj.snap_steps
    per_seed = seed_outcomes(traj, phase_two_start(traj, 0))
    r_max, r_min = gap_ratios(traj, 0)
    agree = traj.snap("test_sign_agree", 0).astype(np.float64)
    ev = [p for p in per_seed if p["outcome"] != "na"]
    found = [p for p in per_seed if p["T1"] >= 0]
    stats = {
        "T1_median": _median([p["T1"] for p in ev]),
        "phase_two_start_median": _median([p["phase_two_start"] for p in ev]),
        "transient_steps_median": _median([p["transient_steps"] for p in ev]),
        "every_step_to": float(every_step_to(snap_steps)),  # the test set read at every step up to here
        "seeds_start_between_snapshots": float(sum(not p["start_read_at_every_step"] for p in ev)),
        "max_gap_over_max_margin": _max([p["max_gap_over_max_margin"] for p in ev]),
        "max_gap_over_min_margin": _max([p["max_gap_over_min_margin"] for p in ev]),
        "min_sign_agree": min((p["min_sign_agree"] for p in ev), default=math.nan),
        # [T1, phase-two start): reported, not in the verdict
        "transient_max_gap_over_max_margin": _max([p["transient_max_gap_over_max_margin"] for p in found]),
        "transient_min_sign_agree": -_max([-p["transient_min_sign_agree"] for p in found]),
        "final_gap_over_max_margin_median": float(np.median(r_max[-1])),
    }
    thresholds = {
        "gap_over_max_margin_max": z,
        "sign_agree_min": 1 - z,
        "zeta": z,
        "hypothesis_factor": THRESHOLDS.c4_hypothesis_factor,
    }
    vl = {"T1 (median)": stats["T1_median"], "phase-two start (median)": stats["phase_two_start_median"]}
    series = {
        "gap_over_max_margin": over_seeds(
            "gap to the clean network over the largest clean margin (checked from the phase-two start)",
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
            "sign agreement of f and f̃ on the test set (checked from the phase-two start)",
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
        what="max|f-f̃| ≤ ζ·max|γ̃| and sign agreement ≥ 1-ζ at every snapshot from the phase-two start",
    )


def violation(traj: Trajectory) -> np.ndarray:
    """C4's violation statistic per seed (R,): the check's largest max|f - f̃| / max_c|γ̃_c| over the
    snapshots from the phase-two start (the gap clause, failing when > ζ; the sign-agreement clause is
    not in it); NaN where the seed is unevaluable or the check is not defined."""
    return per_seed_values(check(traj), "max_gap_over_max_margin", traj.seeds)


CLAIM = Claim(
    id=ID,
    slug="clean_approximation",
    title="In phase two the network is close to its clean (signal-only) approximation",
    anchor="Sec. 4.1.1",
    statement=(
        "From the start of phase two (the first step where the network is signal-heavy at ζ/2) on, on the "
        "test set max_x |f(x) - f̃(x)| ≤ ζ · max_c |γ̃_c| and sign f = sign f̃ on at least 1 - ζ of the points; "
        "the ratio to min_c |γ̃_c| and the transient from T1 to the phase-two start are reported."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("max|f-f̃| / max|γ̃|", "max_gap_over_max_margin", "<=", "gap_over_max_margin_max"),
        KeyStat("sign agreement", "min_sign_agree", ">=", "sign_agree_min"),
    ),
    variants=(),
    decisions=(
        "every snapshot from the phase-two start (first step signal-heavy at ζ/2) is checked; the transient "
        "[T1, phase-two start) is reported, not judged; T1 never reached, or phase two never started -> na; "
        "0/0 ratio = 0, x/0 = ∞."
    ),
    applies=applies,
    every_step_window=THRESHOLDS.c4_every_step_window,
    violation=violation,
    violation_clause="max|f-f̃| / max|γ̃| from the phase-two start ≤ ζ (not the sign agreement)",
)
