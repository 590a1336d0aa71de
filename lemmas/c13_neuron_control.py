"""C13 `neuron_control` — every neuron that carries output mass keeps its signal component dominant.

Paper anchor: Definition 4.2 and Section 4.1.1 ("throughout training, the signal components stay
significantly larger than their counterparts"), the per-neuron half of the signal-heavy inductive
hypothesis. docs/SPEC.md id: C13.

C3 reads the hypothesis through one number, the mass share `S_t` of the signal-heavy neurons:
`S_t ≥ 1 - ζ` still allows a ζ share of the output mass to sit in a few large neurons whose
`‖w_opp‖` or `‖w_perp‖` is out of control. C13 reads it neuron by neuron.

Claim (docs/SPEC.md §3.15): at every step of the window (below) up to and including `T`, every
non-negligible neuron is itself signal-heavy:

    max(‖w_opp,k‖, ‖w_perp,k‖) ≤ ζ ‖w_sig,k‖   (the off-signal ratio r_k ≤ ζ).

*Non-negligible* (threshold `Thresholds.c13_negligible_mass` = 1, in units of ζ): at each step the
neurons are ordered by output mass `|a_k|·‖w_k‖`; the *negligible* ones are the lightest whose
shares sum to at most ζ, the others (the heaviest neurons that together hold at least `1 - ζ` of
the mass) are non-negligible. So the negligible neurons may hold what `S_t ≥ 1 - ζ` already allows
to be off-signal, and C13 holding at a step implies `S_t ≥ 1 - ζ` there: C13 is C3 made per neuron.

*Window* (`Thresholds.c13_window_S` = 1/2): from `T1½`, the first step with `S_t ≥ 1 - ζ/2`, to `T`.
At `T1` the features are only just found: `T1` is the first step where the non-heavy mass falls
to ζ, the neurons cross the signal-heavy threshold one after another, and those crossing it are
of about the same mass as the lightest heavy ones, so the border of the negligible set runs
through neurons whose ratio is ≈ ζ (measured on the healthy paper runs, 8 seeds: the largest ratio
of a non-negligible neuron at `T1` is 0.27–0.30 against ζ = 0.29 at d = 32, 0.17–0.24 against
0.24 at d = 64; from the window's start, 3–27 steps later, to T it is 0.02–0.20 and 0.01–0.09).
The proof's phase two starts once the hypothesis is established; `S_t ≥ 1 - ζ/2` is the stated
point where it is (the issue's suggestion for C4's window). The transient `[T1, T1½)` is reported, not judged.

Per seed: `T1` or `T1½` never reached: 'na' (there is no phase two to read); pass when `r_k ≤ ζ`
for every non-negligible neuron at every recorded step in `[T1½, T)` and at the final state `T`;
fail otherwise (the first violation is named: step, neuron, its mass share, its ratio).

Decisions (where the specification, docs/SPEC.md, is silent):

* "Bounded" is read relative to the neuron's own signal component, with the tolerance ζ of the
  signal-heavy definition (docs/SPEC.md §2) — what the clean approximation f ≈ f̃ needs of each
  neuron (`|relu(w·x) - relu(w_sig·x)| ≤ |w_opp·x| + |w_perp·x|`). The absolute sizes are
  reported, not judged: the largest `‖w_perp,k‖/θ` and `‖w_opp,k‖/θ` over the window among
  non-negligible neurons (on the healthy paper runs they rise to 1–4 θ during phase two while
  `‖w_sig‖` reaches a few hundred θ, and end near 0.1 θ).
* `‖w_sig,k‖ = 0` gives `r_k = +∞` (a failure when the neuron is non-negligible), unless
  `‖w_opp,k‖ = ‖w_perp,k‖ = 0` too (`r_k = 0`). A step with zero total mass has no
  non-negligible neuron.
* Ties in mass are ordered by neuron index (a stable sort); the negligible set is the longest
  prefix of the ascending order whose cumulative share is `≤ ζ`.
* The state at `T` (after the last step) is read from the last snapshot's full `W`, `a`, when the
  last snapshot is at the horizon (as C3 does).
* Signal directions follow the current sign of `a_k` (docs/SPEC.md §2).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, not_applicable, verdict_from_seeds, xor_plane_missing
from lemmas.report import KeyStat
from lemmas.series import over_seeds
from simulator.trajectory import Trajectory

ID = "C13"

applies = xor_plane_missing


def components_from_W(W: np.ndarray, a: np.ndarray, pair: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """(‖w_sig‖, ‖w_opp‖, ‖w_perp‖) from full weights W (..., p, d) and a (..., p), in float64."""
    W, a = W.astype(np.float64), a.astype(np.float64)
    i, j = pair
    sigma = np.where(a >= 0, -1.0, 1.0)
    sig = np.abs(W[..., i] + sigma * W[..., j]) / math.sqrt(2)
    opp = np.abs(W[..., i] - sigma * W[..., j]) / math.sqrt(2)
    norm2 = np.sum(W**2, axis=-1)
    perp = np.sqrt(np.maximum(norm2 - W[..., i] ** 2 - W[..., j] ** 2, 0.0))
    return sig, opp, perp


def off_signal_ratio(sig: np.ndarray, opp: np.ndarray, perp: np.ndarray) -> np.ndarray:
    """r = max(‖w_opp‖, ‖w_perp‖)/‖w_sig‖ elementwise; +∞ where ‖w_sig‖ = 0 < max, 0 where all are 0."""
    off = np.maximum(opp, perp)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = off / sig
    return np.where(sig > 0, r, np.where(off > 0, np.inf, 0.0))


def non_negligible(mass: np.ndarray, negligible_share: float) -> np.ndarray:
    """Along the last axis (neurons): True for the neurons outside the lightest set whose shares of the
    total mass sum to ≤ negligible_share (ties by index); all False where the total mass is 0."""
    tot = mass.sum(-1, keepdims=True)
    share = np.where(tot > 0, mass / np.where(tot > 0, tot, 1.0), 0.0)
    order = np.argsort(share, axis=-1, kind="stable")
    light = np.cumsum(np.take_along_axis(share, order, -1), axis=-1) <= negligible_share
    out = np.empty_like(light)
    np.put_along_axis(out, order, ~light, -1)
    return out & (tot > 0)


def neuron_series(traj: Trajectory) -> dict[str, np.ndarray]:
    """Per step (and the final state T when the last snapshot is at the horizon): steps (T',), and
    (T', R, p) arrays sig, opp, perp, mass of the main run."""
    sig, opp, perp = traj.w_sig(0), traj.w_opp(0), traj.w_perp(0)
    a = traj.a(0).astype(np.float64)
    steps = np.arange(traj.steps)
    if len(traj.snap_steps) and int(traj.snap_steps[-1]) == traj.steps:
        a_T = traj.snap("snap_a", 0)[-1].astype(np.float64)
        sT, oT, pT = components_from_W(traj.snap("snap_W", 0)[-1], a_T, traj.config.pair)
        sig, opp, perp = (np.concatenate([x, y[None]]) for x, y in ((sig, sT), (opp, oT), (perp, pT)))
        a = np.concatenate([a, a_T[None]])
        steps = np.append(steps, traj.steps)
    mass = np.abs(a) * np.sqrt(sig**2 + opp**2 + perp**2)
    return {"steps": steps, "sig": sig, "opp": opp, "perp": perp, "mass": mass}


# ------------------------------------------------------------------------------ the check
def _seed_outcome(seed: int, steps: np.ndarray, one: dict[str, np.ndarray], z: float, theta: float) -> dict[str, Any]:
    """One seed's record from its series `one`: S (T',), and ratio, nn, mass, opp, perp (T', p)."""
    S, ratio, nn, mass, opp, perp = (one[k] for k in ("S", "ratio", "nn", "mass", "opp", "perp"))
    heavy = S >= 1 - z
    if not heavy.any():
        return {
            "seed": seed,
            "outcome": "na",
            "why": "T1 not reached: S_t < 1-ζ at every step",
            "max_S": float(S.max()),
        }
    k1 = int(np.argmax(heavy))
    opened = S >= 1 - THRESHOLDS.c13_window_S * z
    if not opened.any():
        return {
            "seed": seed,
            "T1": int(steps[k1]),
            "outcome": "na",
            "why": f"the window never opens: S_t < 1 - {THRESHOLDS.c13_window_S:g}ζ at every step (max {S.max():.4g})",
        }
    kw = int(np.argmax(opened))
    judged = np.where(nn, ratio, 0.0)  # (T', p): the off-signal ratio of the non-negligible neurons
    worst = judged.max(-1)
    win = worst[kw:]
    transient = float(worst[k1:kw].max()) if kw > k1 else 0.0
    share = mass / np.maximum(mass.sum(-1, keepdims=True), np.finfo(float).tiny)
    rec: dict[str, Any] = {
        "seed": seed,
        "T1": int(steps[k1]),
        "window_start": int(steps[kw]),
        "max_ratio": float(win.max()),
        "transient_max_ratio": transient,
        "max_perp_over_theta": float(np.where(nn, perp, 0.0)[kw:].max() / theta),
        "max_opp_over_theta": float(np.where(nn, opp, 0.0)[kw:].max() / theta),
        "non_negligible_at_T": int(nn[-1].sum()),
    }
    bad = win > z
    if not bad.any():
        return {**rec, "outcome": "pass"}
    t = kw + int(np.argmax(bad))
    k = int(np.argmax(judged[t]))
    return {
        **rec,
        "outcome": "fail",
        "first_violation": int(steps[t]),
        "why": f"neuron {k} at t = {int(steps[t])} holds {share[t, k]:.3g} of the mass with "
        f"max(‖w_opp‖, ‖w_perp‖)/‖w_sig‖ = {ratio[t, k]:.4g} > ζ = {z:.4g} "
        f"(window from t = {int(steps[kw])}; {int(bad.sum())} steps violate)",
    }


def check(traj: Trajectory) -> Verdict:
    """C13 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    z = traj.zeta
    ns = neuron_series(traj)
    steps, sig, opp, perp, mass = ns["steps"], ns["sig"], ns["opp"], ns["perp"], ns["mass"]
    ratio = off_signal_ratio(sig, opp, perp)
    tot = mass.sum(-1)
    S = np.where(tot > 0, (mass * (ratio <= z)).sum(-1) / np.where(tot > 0, tot, 1.0), 0.0)  # (T', R): S_t
    nn = non_negligible(mass, THRESHOLDS.c13_negligible_mass * z)
    arrays = {"S": S, "ratio": ratio, "nn": nn, "mass": mass, "opp": opp, "perp": perp}
    per_seed = [
        _seed_outcome(s, steps, {k: v[:, r] for k, v in arrays.items()}, z, cfg.theta) for r, s in enumerate(traj.seeds)
    ]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "max_ratio": max((p["max_ratio"] for p in ev), default=math.nan),
        "transient_max_ratio": max((p["transient_max_ratio"] for p in ev), default=math.nan),
        "window_start_median": float(np.median([p["window_start"] for p in ev])) if ev else math.nan,
        "max_perp_over_theta": max((p["max_perp_over_theta"] for p in ev), default=math.nan),
        "max_opp_over_theta": max((p["max_opp_over_theta"] for p in ev), default=math.nan),
    }
    thresholds: dict[str, Any] = {
        "ratio_max": z,
        "zeta": z,
        "negligible_mass": THRESHOLDS.c13_negligible_mass * z,
        "window_S": 1 - THRESHOLDS.c13_window_S * z,
    }
    worst = np.where(nn, ratio, 0.0).max(-1)  # (T', R)
    series = {
        "ratio": over_seeds(
            "largest off-signal ratio max(‖w_opp‖, ‖w_perp‖)/‖w_sig‖ among the non-negligible neurons",
            steps,
            np.minimum(worst, 1e6),
            traj.seeds,
            "step t",
            "max_k r_k over non-negligible neurons",
            {"ζ": z},
            {"window start (median)": stats["window_start_median"]},
            log_y=True,
        )
    }
    return verdict_from_seeds(
        ID,
        per_seed,
        stats,
        thresholds,
        series,
        what="every neuron outside the lightest ζ of the mass has max(‖w_opp‖, ‖w_perp‖) ≤ ζ‖w_sig‖ from "
        "S_t ≥ 1-ζ/2 to T",
    )


CLAIM = Claim(
    id=ID,
    slug="neuron_control",
    title="Per-neuron control: every neuron carrying output mass keeps w_opp and w_perp below ζ·‖w_sig‖",
    anchor="Def. 4.2, Sec. 4.1.1",
    statement=(
        "From the first step with S_t ≥ 1 - ζ/2 up to T, every neuron outside the lightest ones holding ≤ ζ of the "
        "output mass has max(‖w_opp‖, ‖w_perp‖) ≤ ζ‖w_sig‖."
    ),
    check=check,
    needs="run",
    key_stats=(KeyStat("largest off-signal ratio of a non-negligible neuron (worst)", "max_ratio", "<=", "ratio_max"),),
    variants=(),
    decisions=(
        "negligible = the lightest neurons holding ≤ ζ of the mass together; window from S_t ≥ 1-ζ/2 (T1's "
        "transient reported); bounded relative to ‖w_sig‖, sizes in θ reported; state at T from the last snapshot."
    ),
    applies=applies,
)
