"""C1 `phase1_linearization` — features are found while the loss is still linear.

Paper anchor: Section 4.1, Lemma 4.1 (phase one: the logistic loss is within o(1) of its
first-order proxy h0(γ) = 2 log 2 - γ until the features are found). docs/SPEC.md id: C1.

Claim (docs/SPEC.md §3, finite-d reading): `T1 ≤ T2`, and for every `t ≤ T1`,
`max_x |h'(γ_t(x)) + 1| ≤ ζ` (minibatch, every step; test set, every snapshot). A run
coupled to it (same init, same batches) with the proxy `h0` stays close:
`max_k ‖w_k - w_k^0‖ / ‖w_k^0‖ ≤ ζ` for `t ≤ T1`.

Per seed (the main run is variant 0, its proxy `simulator.config.proxy_variant(main)`,
i.e. `linear`, or `linear_frozen_a` in the first_layer_only regime):

* `T1` = first step with `S_t ≥ 1 - ζ`, `T2` = first step with batch `max|h'+1| ≥ ζ`
  (both measured, `Trajectory.T1` / `T2`);
* (a) `T1 ≤ T2`;
* (b) `batch_max_dev[t] ≤ ζ` for every step `t ≤ T1`;
* (c) `test_max_dev ≤ ζ` at every snapshot with step `≤ T1`;
* (d) `max_k ‖w_k - w_k^0‖ / ‖w_k^0‖ ≤ ζ` at every snapshot with step `≤ T1`, exact from
  the snapshots' full `W`;
* (d') the same distance per step `t ≤ T1`, bounded below from the recorded arrays.

Decisions (where the specification, docs/SPEC.md, is silent; taken with the lead):

* `T2 = -1` ("the batch never deviates by ζ") counts as `T2 = ∞`, so (a) holds.
* `T1` never reached but `T2` reached: `T1` lies beyond the recorded steps, hence after `T2`:
  the loss left its linear regime before the features were found, a failure of (a) (and of
  (b), since the batch deviation reached ζ at `T2`); (b)–(d') are read over every recorded
  step and snapshot, all of which are `≤ T1`. This includes a `T1` beyond the coupled run's
  window (`c1_proxy_window` linearized predictions) with `T2` inside it.
* Neither `T1` nor `T2` reached: unevaluable ('na'), never 'pass' — the linear regime lasted
  the whole recorded window and the features were not found in it, so the order of the two
  cannot be read (a phase one longer than its prediction is C2's failure, not C1's).
* `T1_median` is over the seeds that reached `T1` (a `T1` beyond the run is censored).
* `CLAIM.variants = ("linear",)`: the proxy of the main run. In the first_layer_only
  regime the proxy is `linear_frozen_a` (`proxy_variant("frozen_a")`), for another loss its
  own proxy (`squared_linear`, …); the check always reads
  `proxy_variant(traj.config.variants[0])` and is inconclusive when it is absent. `max|h'+1|`
  is read as the deviation `|h'(γ)/h'(0) - 1|` of the main run's loss (docs/SPEC.md §2).
* Per step only the signal-plane coordinates `w_i, w_j` and `‖w_perp‖` are recorded, so
  (d') uses the lower bound
  `‖w - w^0‖² ≥ Σ_{c∈{i,j}} (w_c - w^0_c)² + (‖w_perp‖ - ‖w^0_perp‖)²` (reverse triangle
  inequality on the perpendicular part). A lower bound can only reveal a violation that
  the snapshots missed, never invent one, so it counts in the verdict as well; the exact
  distance is the one at the snapshots. Both are reported.
* The test-set max deviation is read at every snapshot with step `≤ T1` (the snapshot grid
  is the only place the test set is evaluated).
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
from simulator.config import VARIANTS, proxy_variant
from simulator.trajectory import Trajectory

ID = "C1"


applies = xor_plane_missing


def proxy_distance_snapshots(traj: Trajectory, main: str, proxy: str) -> np.ndarray:
    """Exact max_k ‖w_k - w_k^0‖ / ‖w_k^0‖ at each snapshot (S, R), from the full snap_W."""
    W, W0 = traj.snap("snap_W", main), traj.snap("snap_W", proxy)  # (S, R, p, d)
    out = np.zeros(W.shape[:2])
    for k in range(W.shape[0]):  # one snapshot at a time: snap_W is the trajectory's largest array
        w, w0 = W[k].astype(np.float64), W0[k].astype(np.float64)
        out[k] = _safe_ratio(np.linalg.norm(w - w0, axis=-1), np.linalg.norm(w0, axis=-1)).max(-1)
    return out


def proxy_distance_steps(traj: Trajectory, main: str, proxy: str) -> np.ndarray:
    """Lower bound on max_k ‖w_k - w_k^0‖ / ‖w_k^0‖ per step (T, R), from the recorded arrays."""
    wc = traj.series("w_coords", main)[..., :2].astype(np.float64)  # (T, R, p, 2): w_i, w_j
    wc0 = traj.series("w_coords", proxy)[..., :2].astype(np.float64)
    perp, perp0 = traj.w_perp(main), traj.w_perp(proxy)
    num = np.sqrt(((wc - wc0) ** 2).sum(-1) + (perp - perp0) ** 2)
    return _safe_ratio(num, traj.w_norm(proxy)).max(-1)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den, with 0/0 = 0 and x/0 = ∞ for x > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den > 0, out, np.where(num > 0, np.inf, 0.0))


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


# ------------------------------------------------------------------------------ the check
def _seed_outcome(
    seed: int,
    t1: int,
    t2: int,
    batch_dev: np.ndarray,
    snap_steps: np.ndarray,
    test_dev: np.ndarray,
    dist_snap: np.ndarray,
    dist_step: np.ndarray,
    z: float,
) -> dict[str, Any]:
    """One seed's record. Arrays are this seed's: batch_dev/dist_step (T,), test_dev/dist_snap (S,)."""
    rec: dict[str, Any] = {"seed": seed, "T1": int(t1), "T2": int(t2)}
    if t1 < 0 and t2 < 0:
        why = "neither T1 nor T2 reached: S_t < 1-ζ and batch max|h'+1| < ζ at every recorded step"
        return {**rec, "outcome": "na", "why": why}
    # T1 not reached but T2 reached: T1 lies beyond every recorded step and snapshot, so all of them
    # are "≤ T1", and T1 > T2.
    last = t1 if t1 >= 0 else len(batch_dev) - 1
    early = snap_steps <= (t1 if t1 >= 0 else math.inf)
    rec.update(
        max_batch_dev=float(batch_dev[: last + 1].max()),
        max_test_dev=float(test_dev[early].max()) if early.any() else 0.0,
        max_proxy_dist_snap=float(dist_snap[early].max()) if early.any() else 0.0,
        max_proxy_dist_step_lb=float(dist_step[: last + 1].max()),
        snapshots_checked=int(early.sum()),
    )
    problems = []
    if t1 < 0:
        problems.append(
            f"T1 > T2 = {t2}: T1 not reached in the {len(batch_dev)} recorded steps "
            "(the loss left its linear regime before the features were found)"
        )
    elif t2 >= 0 and t1 > t2:
        problems.append(f"T1 = {t1} > T2 = {t2}")
    if rec["max_batch_dev"] > z:
        t_bad = int(np.argmax(batch_dev[: last + 1] > z))
        problems.append(f"batch max|h'+1| = {rec['max_batch_dev']:.3g} > ζ = {z:.3g} (first at t = {t_bad} ≤ T1)")
    if rec["max_test_dev"] > z:
        problems.append(f"test max|h'+1| = {rec['max_test_dev']:.3g} > ζ at a snapshot ≤ T1")
    if rec["max_proxy_dist_snap"] > z:
        problems.append(f"proxy distance {rec['max_proxy_dist_snap']:.3g} > ζ at a snapshot ≤ T1")
    if rec["max_proxy_dist_step_lb"] > z:
        problems.append(f"proxy distance ≥ {rec['max_proxy_dist_step_lb']:.3g} > ζ at a step ≤ T1")
    return seed_outcome(rec, problems)


def check(traj: Trajectory) -> Verdict:
    """C1 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    why = xor_plane_missing(cfg)
    if why:
        return not_applicable(ID, why)
    main = cfg.variants[0]
    proxy = proxy_variant(main)
    if proxy not in cfg.variants:
        return Verdict(
            ID,
            "inconclusive",
            f"the coupled proxy run '{proxy}' was not run with '{main}' (variants {list(cfg.variants)})",
        )
    z = traj.zeta
    t1s, t2s = traj.T1(main), traj.T2(main)
    batch_dev = traj.series("batch_max_dev", main).astype(np.float64)  # (T, R)
    test_dev = traj.snap("test_max_dev", main).astype(np.float64)  # (S, R)
    snap_steps = traj.snap_steps
    dist_snap = proxy_distance_snapshots(traj, main, proxy)
    dist_step = proxy_distance_steps(traj, main, proxy)
    per_seed = [
        _seed_outcome(
            s,
            int(t1s[r]),
            int(t2s[r]),
            batch_dev[:, r],
            snap_steps,
            test_dev[:, r],
            dist_snap[:, r],
            dist_step[:, r],
            z,
        )
        for r, s in enumerate(traj.seeds)
    ]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "T1_median": _median([p["T1"] for p in ev if p["T1"] >= 0]),  # a T1 beyond the run is censored
        "T2_median": _median([math.inf if p["T2"] < 0 else p["T2"] for p in ev]),
        "max_batch_dev_to_T1": max((p["max_batch_dev"] for p in ev), default=math.nan),
        "max_test_dev_to_T1": max((p["max_test_dev"] for p in ev), default=math.nan),
        "max_proxy_dist_snap_to_T1": max((p["max_proxy_dist_snap"] for p in ev), default=math.nan),
        "max_proxy_dist_step_lb_to_T1": max((p["max_proxy_dist_step_lb"] for p in ev), default=math.nan),
    }
    thresholds = {"zeta": z, "T1_le_T2": True, "proxy": proxy, "trained_layers": VARIANTS[main].layers}
    steps = np.arange(traj.steps)
    t1 = {"T1 (median)": stats["T1_median"]}
    series = {
        "batch_max_dev": over_seeds(
            "batch max |h'+1| (phase one is linear while ≤ ζ)",
            steps,
            batch_dev,
            traj.seeds,
            "step t",
            "max |h'(γ)+1| on the minibatch",
            {"ζ": z},
            {**t1, "T2 (median)": stats["T2_median"]},
        ),
        "proxy_distance": over_seeds(
            "distance to the proxy run, per step (lower bound)",
            steps,
            dist_step,
            traj.seeds,
            "step t",
            "max_k ‖w_k - w_k^0‖/‖w_k^0‖ (per-step lower bound)",
            {"ζ": z},
            t1,
        ),
        "proxy_distance_snapshots": over_seeds(
            "distance to the proxy run at the snapshots (exact)",
            snap_steps,
            dist_snap,
            traj.seeds,
            "snapshot step",
            "max_k ‖w_k - w_k^0‖/‖w_k^0‖ (exact)",
            {"ζ": z},
            t1,
        ),
    }
    return verdict_from_seeds(
        ID, per_seed, stats, thresholds, series, what="T1 ≤ T2, max|h'+1| ≤ ζ and proxy distance ≤ ζ up to T1"
    )


def violation(traj: Trajectory) -> np.ndarray:
    """C1's violation statistic per seed (R,): the check's batch max|h'+1| up to T1 (clause (b), failing
    when > ζ); NaN where the seed is unevaluable or the check is not defined."""
    return per_seed_values(check(traj), "max_batch_dev", traj.seeds)


CLAIM = Claim(
    id=ID,
    slug="phase1_linearization",
    title="Phase one is linear: features are found before the loss leaves its first-order proxy",
    anchor="Sec. 4.1, Lemma 4.1",
    statement=(
        "T1 ≤ T2, and for every t ≤ T1 max_x |h'(γ_t(x)) + 1| ≤ ζ (minibatch, every step; test set, "
        "every snapshot); the coupled run with the proxy h0 (same init, same batches) stays close: "
        "max_k ‖w_k - w_k^0‖ / ‖w_k^0‖ ≤ ζ for t ≤ T1."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("max|h'+1| up to T1", "max_batch_dev_to_T1", "<=", "zeta"),
        KeyStat("test max|h'+1| up to T1", "max_test_dev_to_T1", "<=", "zeta"),
        KeyStat("proxy distance (snapshots)", "max_proxy_dist_snap_to_T1", "<=", "zeta"),
        KeyStat("proxy distance (per step, lower bound)", "max_proxy_dist_step_lb_to_T1", "<=", "zeta"),
    ),
    variants=("linear",),
    decisions=(
        "T2 never reached counts as ∞; T1 never reached -> fail when T2 was reached (T1 > T2), else na; "
        "proxy = proxy_variant(main) "
        "(linear_frozen_a in first_layer_only); proxy distance exact on snapshots ≤ T1 and, per step, "
        "a lower bound from the signal-plane coordinates and ‖w_perp‖ (counts in the verdict too)."
    ),
    applies=applies,
    violation=violation,
    violation_clause="(b) batch max|h'+1| up to T1 ≤ ζ",
)
