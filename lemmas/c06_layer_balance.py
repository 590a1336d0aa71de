"""C6 `layer_balance` — the exact layer-balance identity of the update, hence |a_k| ≈ ‖w_k‖.

Paper anchor: homogeneity of ReLU (relu(z) = 1[z > 0]·z gives w·g_w = a·g_a, so both
layers' squared norms move together). docs/SPEC.md id: C6.

Claim (docs/SPEC.md §3.6): the update `w' = u w - η g_w`, `a' = v a - rη g_a` (weight decay λ,
second-layer step ratio r, u = 1 - ηλ, v = 1 - rηλ; `RunConfig.weight_decay`, `lr_ratio`)
satisfies exactly, per neuron per step (floating-point tolerance),

    a'² - ‖w'‖² = v² a² - u² ‖w‖² - 2η a g_a (r v - u) + η² (r² g_a² - ‖g_w‖²)

(expand both squares and use ⟨w, g_w⟩ = a g_a); at λ = 0, r = 1 it is the paper's
`a'² - ‖w'‖² = a² - ‖w‖² + η² (g_a² - ‖g_w‖²)`. Hence, where the layers start balanced and
step alike, `|a_k| ≈ ‖w_k‖`: `max_k |a_k² - ‖w_k‖²| ≤ ζ · max_k a_k²` up to `T`.

Per seed:

* identity: for every recorded step t and neuron k the relative residual
  `|lhs - rhs| / (v²a² + u²‖w‖² + 2η|a g_a (r v - u)| + η²(r² g_a² + ‖g_w‖²))` (state before
  step t) is at most `THRESHOLDS.c6_identity_rtol[dtype]`; the state after the last recorded
  step is the last snapshot's full `W`, `a`;
* balance: `max_k |a_k² - ‖w_k‖²| ≤ ζ · max_k a_k²` at every recorded step and at T — in the
  verdict only where it is expected (`balance_finding` gives None); otherwise measured and reported (the
  per-seed `max_balance_ratio`, the statistics and the plot) as a finding, outside the verdict.

Decisions (where the specification, docs/SPEC.md, is silent):

* ‖w‖² per step is `w_i² + w_j² + ‖w_perp‖²` from the recorded arrays (exact up to the
  run's rounding).
* The residual is normalised by the size of every term that cancels (the η² terms are
  negligible in a healthy run but dominate the rounding when a gradient is huge; each of
  a'² and ‖w'‖² is at most twice that size): the tolerance is then a statement about
  floating point only, as in tests/unit/test_identities.py.
* The balance is expected when r = 1 and the init is balanced (`sphere`, `sparse_finders`:
  |a_k| = ‖w_k‖ = θ). With r = 1 the identity reads D' = u² D + η²(g_a² - ‖g_w‖²) for
  D = a² - ‖w‖²: weight decay only contracts the imbalance, so the paper's argument stands.
  With r ≠ 1 the cross term -2η a g_a (r - 1) (λ = 0) moves D at first order (what is
  conserved to O(η²) is a²/r - ‖w‖², i.e. |a| ≈ √r ‖w‖), and the Gaussian init starts with
  ‖w_k‖² = θ² χ²_d/d ≠ a_k²: there the balance is a finding, not part of the verdict.
* In the first_layer_only regime `a` is frozen, so the identity does not describe the
  update (with λ = 0, r = 1 the residual is 2η a g_a - η² g_a²; a frozen a is the r = 0 case):
  C6 is defined there and is expected to fail — a finding about the regime, not an
  undefined claim.
* A run that stopped before its horizon (stop_error) is checked up to its last step; its
  last snapshot is the state after that step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemmas.base import THRESHOLDS, Claim, Verdict, per_seed_values, seed_outcome, verdict_from_seeds
from lemmas.report import KeyStat
from lemmas.series import over_seeds
from simulator.config import RunConfig
from simulator.trajectory import Trajectory

ID = "C6"


def applies(cfg: RunConfig) -> str | None:
    return None  # defined for every run, any label included (it is a property of the update)


def states(traj: Trajectory, variant: str | int = 0) -> tuple[np.ndarray, np.ndarray, bool]:
    """(a, ‖w‖²) per state (T or T+1, R, p): the recorded steps, then T from the last snapshot
    when it is the state after them (the bool says whether it was appended)."""
    v = traj.vi(variant)
    A = traj.arrays
    a = A["a"][:, :, v].astype(np.float64)  # (T, R, p)
    wc = A["w_coords"][:, :, v, :, :2].astype(np.float64)  # (T, R, p, 2): w_i, w_j
    w2 = (wc**2).sum(-1) + A["w_perp"][:, :, v].astype(np.float64) ** 2
    snaps = A["snap_steps"]
    if len(snaps) and int(snaps[-1]) == traj.steps:
        a_T = A["snap_a"][-1, :, v].astype(np.float64)
        w2_T = (A["snap_W"][-1, :, v].astype(np.float64) ** 2).sum(-1)
        return np.concatenate([a, a_T[None]]), np.concatenate([w2, w2_T[None]]), True
    return a, w2, False


def identity_terms(
    a: np.ndarray, w2: np.ndarray, ga: np.ndarray, gw2: np.ndarray, eta: float, lam: float, r: float
) -> tuple[np.ndarray, np.ndarray]:
    """(rhs, scale) of the identity a'² - ‖w'‖² = rhs for states a, ‖w‖² and gradients g_a, ‖g_w‖²
    (same shapes), u = 1 - ηλ, v = 1 - rηλ; scale bounds every term that cancels."""
    u, v = 1.0 - eta * lam, 1.0 - r * eta * lam
    cross = 2.0 * eta * a * ga * (r * v - u)  # 0 at λ = 0, r = 1
    rhs = v**2 * a**2 - u**2 * w2 - cross + eta**2 * (r**2 * ga**2 - gw2)
    scale = v**2 * a**2 + u**2 * w2 + np.abs(cross) + eta**2 * (r**2 * ga**2 + gw2)
    return rhs, scale


def identity_residual(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """Relative residual of the identity per step, seed and neuron (T', R, p), T' = the steps
    whose next state is known (all T when the last snapshot is the state at T); η, λ, r of the
    run's config."""
    a, w2, _ = states(traj, variant)
    n = a.shape[0] - 1
    v = traj.vi(variant)
    cfg = traj.config
    ga = traj.arrays["g_a"][:n, :, v].astype(np.float64)
    gw2 = traj.arrays["g_w_norm2"][:n, :, v].astype(np.float64)
    lhs = a[1:] ** 2 - w2[1:]
    rhs, scale = identity_terms(a[:-1], w2[:-1], ga, gw2, float(cfg.eta), float(cfg.weight_decay), float(cfg.lr_ratio))
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.abs(lhs - rhs) / scale
    return np.where(scale > 0, res, np.where(lhs == rhs, 0.0, np.inf))


def balance_finding(cfg: RunConfig) -> str | None:
    """Why |a_k| ≈ ‖w_k‖ is only a finding for this run (not expected); None when it is part of the claim."""
    why = []
    if cfg.lr_ratio != 1:
        why.append(f"lr_ratio r = {cfg.lr_ratio:g} ≠ 1 (a²/r - ‖w‖² is what the update conserves)")
    if cfg.init == "gaussian":
        why.append("the Gaussian init starts with ‖w_k‖ ≠ |a_k|")
    return "; ".join(why) or None


def balance_ratio(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """max_k |a_k² - ‖w_k‖²| / max_k a_k² per state (T or T+1, R)."""
    a, w2, _ = states(traj, variant)
    gap = np.abs(a**2 - w2).max(-1)
    top = (a**2).max(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = gap / top
    return np.where(top > 0, r, np.where(gap > 0, np.inf, 0.0))


# ------------------------------------------------------------------------------ the check
def _seed_outcome(
    seed: int, res: np.ndarray, bal: np.ndarray, rtol: float, z: float, balance_counts: bool
) -> dict[str, Any]:
    """One seed's record: res (T', p) identity residuals, bal (T or T+1,) balance ratios; the balance
    is in the outcome only when `balance_counts`."""
    if res.size == 0 and bal.size == 0:
        return {"seed": seed, "outcome": "na", "why": "no recorded step"}
    rec: dict[str, Any] = {
        "seed": seed,
        "max_identity_residual": float(res.max()) if res.size else 0.0,
        "max_balance_ratio": float(bal.max()),
        "final_balance_ratio": float(bal[-1]),
    }
    if not np.isfinite(res).all() or (balance_counts and not np.isfinite(bal).all()):
        return {**rec, "outcome": "fail", "why": "non-finite residual or balance ratio"}
    problems = []
    if res.size and res.max() > rtol:
        t, k = np.unravel_index(int(np.argmax(res)), res.shape)
        bad_steps = int((res > rtol).any(-1).sum())
        rec["worst_step"], rec["worst_neuron"] = int(t), int(k)
        problems.append(
            f"identity residual {res.max():.3g} > {rtol:g} (step {int(t)}, neuron {int(k)}; "
            f"{bad_steps}/{res.shape[0]} steps over tolerance)"
        )
    if balance_counts and bal.max() > z:
        first = int(np.argmax(bal > z))
        problems.append(f"max_k|a²-‖w‖²|/max a² = {bal.max():.3g} > ζ = {z:.3g} (first at state {first})")
    return seed_outcome(rec, problems)


def check(traj: Trajectory) -> Verdict:
    """C6 on one trajectory (all seeds): see the module docstring."""
    cfg = traj.config
    z = traj.zeta
    rtol = float(THRESHOLDS.c6_identity_rtol[cfg.dtype])
    res = identity_residual(traj, 0)  # (T', R, p)
    bal = balance_ratio(traj, 0)  # (T or T+1, R)
    finding = balance_finding(cfg)
    per_seed = [_seed_outcome(s, res[:, r], bal[:, r], rtol, z, finding is None) for r, s in enumerate(traj.seeds)]
    ev = [p for p in per_seed if p["outcome"] != "na"]
    stats = {
        "max_identity_residual": max((p["max_identity_residual"] for p in ev), default=math.nan),
        "max_balance_ratio": max((p["max_balance_ratio"] for p in ev), default=math.nan),
        "final_balance_ratio_median": float(np.median(bal[-1])) if bal.size else math.nan,
    }
    thresholds: dict[str, Any] = {"identity_rtol": rtol, "dtype": cfg.dtype, "zeta": z}
    if cfg.lr_ratio != 1 or cfg.weight_decay != 0:  # the identity's λ and r (the paper's update: λ = 0, r = 1)
        thresholds["lr_ratio"], thresholds["weight_decay"] = cfg.lr_ratio, cfg.weight_decay
    if finding is None:
        thresholds["balance_max"] = z
    else:
        thresholds["balance_finding_only"] = finding
    states_x = np.arange(bal.shape[0])
    series = {
        "balance_ratio": over_seeds(
            "layer balance |a_k| ≈ ‖w_k‖" + ("" if finding is None else " (a finding: not in the verdict)"),
            states_x,
            bal,
            traj.seeds,
            "step t",
            "max_k |a_k² - ‖w_k‖²| / max_k a_k²",
            {"ζ": z} if finding is None else {},
        ),
        "identity_residual": over_seeds(
            "residual of the layer-balance identity",
            np.arange(res.shape[0]),
            res.max(-1),
            traj.seeds,
            "step t",
            "max_k relative residual of the identity",
            {"tolerance": rtol},
            log_y=True,
        ),
    }
    what = "layer-balance identity to rounding" + (
        " and max_k|a²-‖w‖²| ≤ ζ·max a²" if finding is None else " (balance reported as a finding)"
    )
    return verdict_from_seeds(ID, per_seed, stats, thresholds, series, what=what)


def violation(traj: Trajectory) -> np.ndarray:
    """C6's violation statistic per seed (R,): the layer-balance drift max over states of
    max_k |a_k² - ‖w_k‖²| / max_k a_k² (the balance clause, failing when > ζ where `balance_finding` is
    None; a reported finding elsewhere; not the identity clause); NaN where a seed has no recorded step."""
    return per_seed_values(check(traj), "max_balance_ratio", traj.seeds)


CLAIM = Claim(
    id=ID,
    slug="layer_balance",
    title="Layer balance: a'² - ‖w'‖² moves only by η²(g_a² - ‖g_w‖²), so |a_k| ≈ ‖w_k‖",
    anchor="homogeneity of ReLU",
    statement=(
        "a'² - ‖w'‖² = a² - ‖w‖² + η²(g_a² - ‖g_w‖²) per neuron per step (floating-point tolerance; with "
        "weight decay λ and lr_ratio r: v²a² - u²‖w‖² - 2η a g_a (rv - u) + η²(r²g_a² - ‖g_w‖²), u = 1 - ηλ, "
        "v = 1 - rηλ), and max_k |a_k² - ‖w_k‖²| ≤ ζ · max_k a_k² at every step up to T."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("max_k|a²-‖w‖²| / max a²", "max_balance_ratio", "<=", "balance_max"),
        KeyStat("identity residual", "max_identity_residual", "<=", "identity_rtol"),
    ),
    variants=(),
    decisions=(
        "residual normalised by a² + ‖w‖² + η²(g_a² + ‖g_w‖²) (with λ, r: every term that cancels); the state "
        "after the last step is the last snapshot; defined in every regime (fails by design where a is frozen); "
        "the balance is a reported finding, outside the verdict, when r ≠ 1 or the init is Gaussian."
    ),
    applies=applies,
    violation=violation,
    violation_clause="balance drift max_k|a²-‖w‖²|/max a² ≤ ζ (in the verdict only where balance_finding is None)",
)
