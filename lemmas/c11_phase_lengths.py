"""C11 `phase_lengths` — Glasgow (2023), proof of Theorem 3.1 (docs/SPEC.md §3, id C11).

Claim, in words: the two phases of the dynamics have the lengths the proof gives them:
phase one (finding the feature) lasts Θ(log d / η), phase two (tuning, until the loss
is small) Θ(log log d / η). On a finite d-ladder Θ(·) is read as "the normalized length
stays within a factor 2 of its median over the ladder".

The check (`needs = "ladder"`: d -> Trajectory of one regime with the same seeds), per seed:

- q_d = T1_d · η_d / log d on every rung (T1 the measured first step with S_t ≥ 1 - ζ,
  η_d the rung's own step size), and every q_d within a factor THRESHOLDS.c11_factor = 2
  of the median of q over the rungs: median/2 ≤ q_d ≤ 2·median. T1 missing on a rung
  -> 'na' for that seed.
- Phase two, reported: (T_ε − T1)·η with T_ε the first snapshot step with test error
  ≤ ε (THRESHOLDS.eps), and (T_L − T1)·η / log log d with T_L the first snapshot step with
  test loss ≤ ζ(d). These are statistics only — no effect on the verdict — unless every
  rung has d ≥ THRESHOLDS.c11_verdict_min_d = 1024; then each of the two must also be
  within the same factor 2 of its median over the rungs (T_ε or T_L missing -> 'na').

Decisions (the specification, docs/SPEC.md, is silent):
- A finite ladder cannot see a constant: Θ(log d/η) is read as stability of the
  normalized length across the ladder, with the rung's own η (so a ladder with another
  η schedule is judged on what it ran); C2 compares T1 with its absolute prediction.
- A normalized length ≤ 0 (T1 = 0, or the error/loss target reached before T1) is not a
  phase of length Θ(·): it fails the factor test (stated explicitly, since a median of
  0 would otherwise contain 0).
- A ladder of a single rung says nothing about scaling: every seed 'na' (inconclusive).
- T_ε and T_L are read on the snapshot grid (resolution ≤ T/50 steps).
- The seeds of the ladder must be the same on every rung (ValueError otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, verdict_from_seeds
from lemmas.report import Curve, HLine, KeyStat, Panel
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

MAX_SEED_SERIES = 8


def first_snapshot_step(traj: Trajectory, mask: np.ndarray) -> np.ndarray:
    """Step of the first snapshot where mask (S, R) holds, per seed; -1 where never."""
    hit = mask.any(axis=0)
    return np.where(hit, traj.snap_steps[mask.argmax(axis=0)], -1)


def t_eps(traj: Trajectory) -> np.ndarray:
    """T_ε: first snapshot step with test error ≤ ε, per seed (-1: never)."""
    return first_snapshot_step(traj, traj.test_error() <= THRESHOLDS.eps)


def t_loss(traj: Trajectory) -> np.ndarray:
    """T_L: first snapshot step with test loss ≤ ζ(d), per seed (-1: never)."""
    return first_snapshot_step(traj, traj.snap("test_loss") <= traj.zeta)


def within_factor(values: dict[int, float], factor: float) -> tuple[bool, float, float]:
    """(all within factor of the median and > 0, the median, the worst ratio max(q/med, med/q))."""
    v = np.asarray(list(values.values()), dtype=float)
    med = float(np.median(v))
    if med <= 0 or np.any(v <= 0):
        return False, med, math.inf
    worst = float(np.max(np.maximum(v / med, med / v)))
    return worst <= factor, med, worst


def _rung_values(d: int, traj: Trajectory) -> dict[str, np.ndarray]:
    eta = float(traj.config.eta)
    t1, te, tl = traj.T1(), t_eps(traj), t_loss(traj)
    nan = np.nan
    return {
        "T1": t1,
        "T_eps": te,
        "T_L": tl,
        "q": np.where(t1 >= 0, t1 * eta / math.log(d), nan),
        "phase2_eps": np.where((t1 >= 0) & (te >= 0), (te - t1) * eta, nan),
        "phase2_loss": np.where((t1 >= 0) & (tl >= 0), (tl - t1) * eta / math.log(math.log(d)), nan),
    }


def _seed_outcome(r: int, rungs: dict[int, dict[str, np.ndarray]], verdict_phase2: bool) -> dict[str, Any]:
    factor = THRESHOLDS.c11_factor
    rec: dict[str, Any] = {}
    for d, v in rungs.items():
        for key in ("T1", "q", "phase2_eps", "phase2_loss"):
            rec[f"d{d}_{key}"] = float(v[key][r]) if key != "T1" else int(v[key][r])
    if len(rungs) < 2:
        return {**rec, "outcome": "na", "why": "a ladder of one rung says nothing about the scaling in d"}
    missing = [d for d, v in rungs.items() if v["T1"][r] < 0]
    if missing:
        return {**rec, "outcome": "na", "why": f"T1 not reached at d = {missing}"}
    keys = ["q"] + (["phase2_eps", "phase2_loss"] if verdict_phase2 else [])
    labels = {"q": "T1·η/log d", "phase2_eps": "(T_ε−T1)·η", "phase2_loss": "(T_L−T1)·η/log log d"}
    whys, na = [], []
    for key in keys:
        vals = {d: float(v[key][r]) for d, v in rungs.items()}
        if any(not math.isfinite(x) for x in vals.values()):
            na.append(
                f"{labels[key]} missing (target not reached) at d = "
                f"{[d for d, x in vals.items() if not math.isfinite(x)]}"
            )
            continue
        ok, med, worst = within_factor(vals, factor)
        rec[f"{key}_median"], rec[f"{key}_worst_ratio"] = med, worst
        if not ok:
            shown = ", ".join(f"d={d}: {x:.3g}" for d, x in vals.items())
            whys.append(f"{labels[key]} not within a factor {factor} of its median {med:.3g} ({shown})")
    if whys:
        return {**rec, "outcome": "fail", "why": "; ".join(whys)}
    if na:
        return {**rec, "outcome": "na", "why": "; ".join(na)}
    return {**rec, "outcome": "pass"}


def _common_seeds(ladder: Mapping[int, Trajectory]) -> list[int]:
    seeds = [list(t.seeds) for t in ladder.values()]
    if any(s != seeds[0] for s in seeds):
        raise ValueError(
            f"C11: the rungs of a ladder must hold the same seeds; got { {d: t.seeds for d, t in ladder.items()} }"
        )
    return seeds[0]


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else math.nan


def check(ladder: Mapping[int, Trajectory]) -> Verdict:
    if not ladder:
        raise ValueError("C11: the ladder is empty; give d -> Trajectory for at least two d")
    ladder = dict(sorted(ladder.items()))
    seeds = _common_seeds(ladder)
    rungs = {d: _rung_values(d, traj) for d, traj in ladder.items()}
    verdict_phase2 = min(ladder) >= THRESHOLDS.c11_verdict_min_d
    per_seed = [{"seed": s, **_seed_outcome(r, rungs, verdict_phase2)} for r, s in enumerate(seeds)]
    stats: dict[str, float] = {}
    ds = [float(d) for d in ladder]
    series: dict[str, Panel] = {}
    for key, name, label in (
        ("q", "T1_eta_over_logd", "T1·η/log d"),
        ("phase2_eps", "phase2_eps_eta", "(T_ε−T1)·η"),
        ("phase2_loss", "phase2_loss_eta_over_loglogd", "(T_L−T1)·η/log log d"),
    ):
        meds = [_nanmedian(v[key]) for v in rungs.values()]
        for d, m in zip(ladder, meds):
            stats[f"d{d}_{name}"] = m
        marks: list[Any] = [Curve(ds, meds, "median over seeds", "median", markers=True)]
        if key == "q":
            marks[:0] = [
                Curve(ds, [float(v["q"][i]) for v in rungs.values()], f"seed {s}", "seed", markers=True)
                for i, s in enumerate(seeds[:MAX_SEED_SERIES])
            ]
            med = _nanmedian(np.asarray(meds, dtype=float))
            if math.isfinite(med):
                f = THRESHOLDS.c11_factor
                marks += [
                    HLine(med, "median over the ladder", "reference"),
                    HLine(med * f, f"×{f:g} band"),
                    HLine(med / f),
                ]
        title = f"{label} against d" + (
            f" (within a factor {THRESHOLDS.c11_factor:g} of its median)"
            if key == "q"
            else ""
            if verdict_phase2
            else " (reported)"
        )
        series[name] = Panel(
            title, tuple(marks), "d", label, x_scale="log2", y_scale="linear" if key == "q" else "auto"
        )
    worst = [s["q_worst_ratio"] for s in per_seed if "q_worst_ratio" in s]
    stats["q_worst_ratio_median"] = float(np.median(worst)) if worst else math.nan
    stats["phase2_in_verdict"] = float(verdict_phase2)
    thresholds = {
        "factor": THRESHOLDS.c11_factor,
        "verdict_min_d": THRESHOLDS.c11_verdict_min_d,
        "eps": THRESHOLDS.eps,
        **{f"d{d}_zeta": THRESHOLDS.zeta(d) for d in ladder},
    }
    what = "T1·η/log d within a factor 2 of its median over the ladder"
    if verdict_phase2:
        what += ", and the phase-two lengths too"
    return verdict_from_seeds("C11", per_seed, stats, thresholds, series, what=what)


def applies(cfg: RunConfig) -> str | None:
    if len(cfg.label_coords) != 2:
        return (
            "T1 reads the XOR signal plane μ̂± (signal-heavy mass), which is not the feature of a label on "
            "three coordinates"
        )
    return None


CLAIM = Claim(
    id="C11",
    slug="phase_lengths",
    title="Phase lengths: phase one Θ(log d/η), phase two Θ(log log d/η)",
    anchor="Glasgow (2023), proof of Theorem 3.1",
    statement=(
        "Across the d-ladder, T1·η/log d stays within a factor 2 of its median. Reported without a verdict "
        "below d = 1024: (T_ε − T1)·η and (T_L − T1)·η/log log d, T_L the first snapshot with test loss ≤ ζ."
    ),
    check=check,
    needs="ladder",
    horizon="phases",  # reads T1 (C11: T1, T_ε, T_L) and the steps before it, never the rest of the horizon
    key_stats=(KeyStat("T1·η/log d, worst ratio to median", "q_worst_ratio_median", "<=", "factor"),),
    variants=(),
    decisions=(
        "T1 missing on a rung -> na; the rung's own η; normalized length ≤ 0 fails; one rung -> na; "
        "phase-two lengths on the snapshot grid, in the verdict (same factor 2) only when every rung has "
        "d ≥ 1024."
    ),
    applies=applies,
)
