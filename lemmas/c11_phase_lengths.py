"""C11 `phase_lengths` — Glasgow (2023), proof of Theorem 3.1 (docs/SPEC.md §3, id C11).

Claim, in words: the two phases of the dynamics have the lengths the proof gives them:
phase one (finding the feature, t ≤ T1) lasts Θ(log d / η), phase two (tuning, from T1
until the loss is small) Θ(log log d / η).

What the orders mean here. Phase one: C2's linearized prediction is
T1 ≈ √(2π)(½ log d + log(1/ζ))/(c η) (c the data law's drift constant), Θ(log d/η) with ζ =
1/log d. Phase two: once signal-heavy, a neuron's |a| and ‖w_sig‖ grow together at a
d-free rate ∝ η while the loss is linear, so the output climbs from its size at T1,
≈ θ²/ζ² = polylog(d)^-1 in the paper regime (θ = ψ/√p ≈ (log d)^-3), to margins of order
one in Θ(log log d/η) steps: the tuning phase. Driving the logistic loss on from there to
ζ = 1/log d (margins ≈ log(2 log d), where h' ≈ 2e^-γ slows the growth) adds a part that
grows like log d/log log d, which at reachable d acts as a large near-constant offset: in
the paper regime (T_L − T1)·η = 13.6, 15.1, 16.4 at d = 16, 32, 64 (medians of 8 seeds),
≈ 7.8 + 5.7 log log d. Phase two is measured on the test LOSS, through T_L = the step where it
falls to ζ(d): the 0-1 error is no phase-two clock (in the paper regime at d = 32 it is below ε
within 1-19 steps of T1 on six of eight seeds, once even before T1, while the loss needs
(T_L − T1)·η ≈ 15 more: the signs are right long before the margins are tuned).

The finite-d reading (`needs = "ladder"`: d -> Trajectory of one regime with the same seeds).
A ladder cannot see a constant, but it can see how a length grows with d. Each phase gets a
normalized length whose predicted growth with d is none,

    q1(d) = T1·η / (½ log d + log(1/ζ))          (phase one; c and √(2π) are constants)
    q2(d) = (T_L − T1)·η / log log d             (phase two)

(η the rung's own step size), and the claim is that q1 and q2 grow like (log d)^k with k = 0.
Per seed, k is the least-squares slope of log q against log log d over the rungs (the
exponent of log d); seeds are independent, so the exponent of the ladder is the mean of the
per-seed slopes with its Student-t interval at THRESHOLDS.confidence. A phase

    holds  when the interval lies inside THRESHOLDS.c11_exponent_band = (-½, ½),
    fails  when it lies wholly outside it,
    and is undecided (inconclusive, "the ladder cannot decide") otherwise.

The band is halfway to the neighbouring powers of log d: a length Θ(log² d/η) or Θ(1/η)
has k ≈ ±1. The claim holds when both phases hold, fails when either fails, and is
inconclusive otherwise (with the reasons). This is one pooled statistic per phase, decided
directly (as C7 and C10 are); the per-seed outcomes are informational (their own slopes
against the band).

What the test can and cannot tell apart (k of the alternatives on the ladders the
profiles run, {16, 32, 64} and {64, …, 1024}): phase one ∝ √d·log d: k ≈ 1.8 and 2.8;
∝ log² d: 1.1 and 1.2; ∝ 1: −0.9 and −0.85; ∝ log d itself: 0.07 and 0.15. Phase two
∝ 1/η: k ≈ −0.8 and −0.6; ∝ log² d: 1.2 and 1.4; but ∝ log d: 0.18 and 0.4 — log d and
log log d cannot be told apart over these ladders, and the reading does not pretend to.
An additive offset (phase two's above) pulls the exponent towards the Θ(1) value on a
ladder of small d: the paper regime measures −0.35 for phase two on {16, 32, 64}.
Where the init is not small (large_init, θ = 1) the log log d of phase two has no source:
there (T_L − T1)·η = 4.4, 3.3, 3.1 at d = 16, 32, 64 and phase two fails (exponent −1.8).

Reported besides: T1/T1_pred on every rung (C2's absolute prediction with the law's drift
constant; NaN for a law without one), the phase lengths per rung, and (T_ε − T1)·η with
T_ε the first snapshot with test error ≤ ε (no verdict: see above).

Decisions (the specification, docs/SPEC.md, is silent):
- T_L is read between snapshots: the first snapshot j with test loss ≤ ζ and the one before
  it bracket the crossing, and T_L is the log-linear interpolation of the loss between them
  (the loss falls smoothly through ζ), so that the snapshot grid (T/50 apart, up to 10% of
  phase two at d = 1024) does not enter the exponent. A run with stop_phases stops after
  the snapshot T_L of every seed, so both bracketing snapshots are always recorded.
- A seed with T1 (or, for phase two, T_L) missing on some rung is unevaluable for that phase
  ('na', named); more than THRESHOLDS.max_unevaluable of the seeds unevaluable, or fewer
  than two evaluable, leaves the phase inconclusive.
- A phase of length ≤ 0 on some rung (T1 = 0, or T_L ≤ T1) is not a phase of length Θ(·):
  the phase fails, naming the seed.
- A ladder of a single rung says nothing about the scaling: inconclusive.
- The seeds of the ladder must be the same on every rung (ValueError otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE, THRESHOLDS, Claim, Verdict
from lemmas.c02_signal_finding import drift_constant, t1_prediction
from lemmas.report import Curve, KeyStat, Panel
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

MAX_SEED_SERIES = 8
PHASES = {
    "phase1": ("phase one", "T1·η/(½ log d + log(1/ζ))"),
    "phase2": ("phase two", "(T_L−T1)·η/log log d"),
}


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


def t_loss_crossing(traj: Trajectory) -> np.ndarray:
    """T_L between snapshots: log-linear interpolation of the test loss through ζ between the first
    snapshot with loss ≤ ζ and the one before it, per seed (float; NaN where never)."""
    loss, steps, z = traj.snap("test_loss"), traj.snap_steps.astype(float), traj.zeta
    out = np.full(loss.shape[1], np.nan)
    for r in range(loss.shape[1]):
        below = np.flatnonzero(loss[:, r] <= z)
        if not below.size:
            continue
        j = int(below[0])
        out[r] = steps[j]
        hi, lo = float(loss[j - 1, r]) if j > 0 else math.nan, float(loss[j, r])
        if j > 0 and lo > 0 and hi > lo:
            out[r] = steps[j - 1] + (steps[j] - steps[j - 1]) * math.log(hi / z) / math.log(hi / lo)
    return out


def log_exponent(ds: list[int], q: np.ndarray) -> float:
    """Least-squares slope of log q on log log d (the exponent of log d); q (D,) > 0."""
    return float(np.polyfit(np.log(np.log(np.asarray(ds, dtype=float))), np.log(q), 1)[0])


def mean_interval(x: np.ndarray, confidence: float = THRESHOLDS.confidence) -> tuple[float, float, float]:
    """(mean, lo, hi): the Student-t interval of the mean of independent values x (≥ 2 of them)."""
    n, mean = len(x), float(np.mean(x))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def decide(lo: float, hi: float, band: tuple[float, float] = THRESHOLDS.c11_exponent_band) -> str:
    """holds: [lo, hi] inside the band; fails: wholly outside it; inconclusive: it straddles an edge."""
    if band[0] <= lo and hi <= band[1]:
        return HOLDS
    if hi < band[0] or lo > band[1]:
        return FAILS
    return INCONCLUSIVE


def _rung_values(d: int, traj: Trajectory) -> dict[str, np.ndarray]:
    """Per seed on one rung: the phase boundaries and the normalized lengths q1, q2 (NaN where missing)."""
    eta, z = float(traj.config.eta), traj.zeta
    t1, tl = traj.T1().astype(float), t_loss_crossing(traj)
    t1 = np.where(t1 >= 0, t1, np.nan)
    te = t_eps(traj).astype(float)
    te = np.where(te >= 0, te, np.nan)
    c = drift_constant(traj.config.data)
    return {
        "T1": t1,
        "T_L": tl,
        "T_eps": te,
        "T1_over_pred": t1 / t1_prediction(d, eta, c) if c is not None else np.full_like(t1, np.nan),
        "phase1": t1 * eta / (0.5 * math.log(d) + math.log(1 / z)),
        "phase2": (tl - t1) * eta / math.log(math.log(d)),
        "phase2_eps": (te - t1) * eta,
    }


def _phase(key: str, ds: list[int], rungs: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The exponent of one phase over the ladder: per-seed slopes, their interval, and the decision."""
    name, label = PHASES[key]
    boundary = "T1" if key == "phase1" else "T1 or T_L"
    q = np.stack([rungs[d][key] for d in ds])  # (D, R)
    missing = ~np.isfinite(q).all(axis=0)
    nonpositive = ~missing & (q <= 0).any(axis=0)
    ok = ~missing & ~nonpositive
    slopes = np.full(q.shape[1], np.nan)
    if len(ds) >= 2:
        for r in np.flatnonzero(ok):
            slopes[r] = log_exponent(ds, q[:, r])
    k = lo = hi = math.nan
    if len(ds) >= 2 and ok.sum() >= 2:
        k, lo, hi = mean_interval(slopes[ok])
    out: dict[str, Any] = {"slopes": slopes, "missing": missing, "nonpositive": nonpositive, "exponent": k}
    out.update(lo=lo, hi=hi)
    band = THRESHOLDS.c11_exponent_band
    ci = f"exponent of log d in {label} = {k:.2f}, {int(THRESHOLDS.confidence * 100)}% CI [{lo:.2f}, {hi:.2f}]"
    left_out = f" ({int(missing.sum())} seed(s) without {boundary} on some rung left out)" if missing.any() else ""
    if len(ds) < 2:
        out.update(status=INCONCLUSIVE, why=f"{name}: a ladder of one rung says nothing about the scaling in d")
    elif nonpositive.any():
        seeds = np.flatnonzero(nonpositive).tolist()
        out.update(status=FAILS, why=f"{name} has length ≤ 0 on some rung (seed index(es) {seeds})")
    elif ok.sum() < 2 or missing.sum() > THRESHOLDS.max_unevaluable * q.shape[1]:
        out.update(
            status=INCONCLUSIVE,
            why=f"{name}: {int(missing.sum())}/{q.shape[1]} seeds unevaluable ({boundary} never reached on some rung)",
        )
    else:
        status = decide(lo, hi)
        why = {
            HOLDS: f"{name}: {ci} inside [{band[0]}, {band[1]}]",
            FAILS: f"{name}: {ci} outside [{band[0]}, {band[1]}]",
            INCONCLUSIVE: f"{name}: {ci} straddles the band [{band[0]}, {band[1]}]: the ladder cannot decide",
        }[status]
        out.update(status=status, why=why + left_out)
    return out


def _combine(phases: dict[str, dict[str, Any]]) -> tuple[str, str]:
    statuses = [p["status"] for p in phases.values()]
    status = FAILS if FAILS in statuses else HOLDS if all(s == HOLDS for s in statuses) else INCONCLUSIVE
    return status, "; ".join(p["why"] for p in phases.values())


def _per_seed(seeds: list[int], ds: list[int], rungs: dict, phases: dict) -> list[dict[str, Any]]:
    """Informational per-seed records: the phase lengths per rung and the seed's own exponents against the band."""
    lo, hi = THRESHOLDS.c11_exponent_band
    out = []
    for r, seed in enumerate(seeds):
        rec: dict[str, Any] = {"seed": seed}
        for d in ds:
            for key in ("T1", "T_L", "phase1", "phase2", "phase2_eps"):
                rec[f"d{d}_{key}"] = float(rungs[d][key][r])
        outcomes = []
        for key, p in phases.items():
            k = float(p["slopes"][r])
            rec[f"{key}_exponent"] = k
            if p["nonpositive"][r]:
                outcomes.append("fail")
            else:
                outcomes.append("na" if not math.isfinite(k) else "pass" if lo <= k <= hi else "fail")
        rec["outcome"] = "fail" if "fail" in outcomes else "na" if "na" in outcomes else "pass"
        out.append(rec)
    return out


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


def _series(seeds: list[int], ds: list[int], rungs: dict, phases: dict) -> dict[str, Panel]:
    """Per phase: the normalized length against d (per seed, median), and the fitted power of log d."""
    x = [float(d) for d in ds]
    series = {}
    for key, (name, label) in PHASES.items():
        meds = [_nanmedian(rungs[d][key]) for d in ds]
        marks: list[Any] = [
            Curve(x, [float(rungs[d][key][r]) for d in ds], f"seed {s}", "seed", markers=True)
            for r, s in enumerate(seeds[:MAX_SEED_SERIES])
        ]
        marks.append(Curve(x, meds, "median over seeds", "median", markers=True))
        k = phases[key]["exponent"]
        ok = [m for m in meds if math.isfinite(m) and m > 0]
        if math.isfinite(k) and len(ok) == len(meds):
            ll = np.log(np.log(np.asarray(x)))
            level = float(np.mean(np.log(meds)) - k * ll.mean())
            marks.append(Curve(x, np.exp(level + k * ll).tolist(), f"fit: (log d)^{k:.2f}", "fit"))
        title = f"{name}: {label} against d" + (f" — exponent of log d {k:.2f}" if math.isfinite(k) else "")
        series[key] = Panel(title, tuple(marks), "d", label, x_scale="log2", y_scale="auto")
    return series


def check(ladder: Mapping[int, Trajectory]) -> Verdict:
    if not ladder:
        raise ValueError("C11: the ladder is empty; give d -> Trajectory for at least two d")
    ladder = dict(sorted(ladder.items()))
    seeds = _common_seeds(ladder)
    ds = list(ladder)
    rungs = {d: _rung_values(d, traj) for d, traj in ladder.items()}
    phases = {key: _phase(key, ds, rungs) for key in PHASES}
    per_seed = _per_seed(seeds, ds, rungs, phases)
    thresholds: dict[str, Any] = {
        "exponent_band": list(THRESHOLDS.c11_exponent_band),
        "exponent_min": THRESHOLDS.c11_exponent_band[0],
        "exponent_max": THRESHOLDS.c11_exponent_band[1],
        "confidence": THRESHOLDS.confidence,
        "eps": THRESHOLDS.eps,
        **{f"d{d}_zeta": THRESHOLDS.zeta(d) for d in ds},
    }
    stats: dict[str, float] = {}
    for key, p in phases.items():
        stats.update({f"{key}_exponent": p["exponent"], f"{key}_exponent_lo": p["lo"], f"{key}_exponent_hi": p["hi"]})
        stats[f"{key}_seeds_unevaluable"] = float(p["missing"].sum())
    for d in ds:
        v = rungs[d]
        stats[f"d{d}_T1_over_pred"] = _nanmedian(v["T1_over_pred"])
        stats[f"d{d}_phase1"] = _nanmedian(v["phase1"])
        stats[f"d{d}_phase2"] = _nanmedian(v["phase2"])
        stats[f"d{d}_T1_eta"] = _nanmedian(v["T1"] * float(ladder[d].config.eta))
        stats[f"d{d}_TL_minus_T1_eta"] = _nanmedian((v["T_L"] - v["T1"]) * float(ladder[d].config.eta))
        stats[f"d{d}_phase2_eps_eta"] = _nanmedian(v["phase2_eps"])
    status, reason = _combine(phases)
    return Verdict("C11", status, reason, stats, thresholds, per_seed, _series(seeds, ds, rungs, phases))


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
    title="Phase lengths: phase one Θ(log d/η), phase two (tuning, on the loss) Θ(log log d/η)",
    anchor="Glasgow (2023), proof of Theorem 3.1",
    statement=(
        "Across the d-ladder, T1·η/(½ log d + log(1/ζ)) and (T_L − T1)·η/log log d (T_L: test loss ≤ ζ) do not "
        "grow or shrink like a power of log d: the exponent of log d fitted per seed has its 95% interval "
        "(over seeds) inside (−½, ½) for both phases."
    ),
    check=check,
    needs="ladder",
    horizon="phases",  # reads T1 (C11: T1, T_ε, T_L) and the steps before it, never the rest of the horizon
    key_stats=(
        KeyStat("phase one: exponent of log d, upper 95%", "phase1_exponent_hi", "<=", "exponent_max"),
        KeyStat("phase one: exponent of log d, lower 95%", "phase1_exponent_lo", ">=", "exponent_min"),
        KeyStat("phase two: exponent of log d, upper 95%", "phase2_exponent_hi", "<=", "exponent_max"),
        KeyStat("phase two: exponent of log d, lower 95%", "phase2_exponent_lo", ">=", "exponent_min"),
    ),
    variants=(),
    decisions=(
        "lengths normalized by their predicted d-dependence (½ log d + log(1/ζ); log log d); per-seed slope "
        "of log length on log log d, t-interval over seeds; holds inside (−½, ½), fails wholly outside, else "
        "inconclusive; phase two on the test loss (T_L interpolated log-linearly between snapshots), T_ε "
        "reported only; missing boundary -> seed na; length ≤ 0 fails; one rung -> inconclusive."
    ),
    applies=applies,
)
