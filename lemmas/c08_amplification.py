"""C8 `amplification` — Glasgow (2023), abstract, Remark 4.3, Mechanism 2 (docs/SPEC.md §3, id C8).

Claim, in words: joint training of both layers amplifies the neurons that find the
feature first, so that a small fraction of finders suffices. (a) The step at which a
neuron becomes signal-heavy is negatively rank-correlated with its final |a|; (b) in the
sparse_finders regime, where only the first ⌈p·finder_fraction⌉ neurons start with a
signal-plane component, the network still learns (test error ≤ ε at T), the finders hold
at least half of the output mass |a|·‖w‖ at T and at least 3× their uniform share, while
in the coupled first-layer-only run (the main run's frozen twin, `frozen_a` for the logistic
loss: same loss, same init, same batches) they hold less than 2× their uniform share.

The check (`needs = "run"`, CLAIM.variants = ("frozen_a",): it reads a frozen twin), per seed:

(a) t_k = first step at which neuron k of the main run is signal-heavy
    (Trajectory.signal_heavy; never -> censored at T, i.e. ranked last, tied with the other
    censored neurons); |a_k(T)| from the last snapshot (its `snap_a`; the last recorded a
    where a run has no snapshot). Spearman ρ(t, |a(T)|) ≤ THRESHOLDS.c8_spearman_max.
(b) only where traj.config.init == "sparse_finders": finders = neurons 0 … n_f - 1 with
    n_f = ⌈p·finder_fraction⌉ (simulator.data.init_params); uniform share u = n_f/p;
    the output mass at T is |a|·‖w‖ from the last snapshot's snap_a and snap_W. Passes when
    the main run's final test error ≤ ε (THRESHOLDS.eps), the finders' share of the main
    run's mass ≥ max(THRESHOLDS.c8_finder_mass, THRESHOLDS.c8_finder_uniform_factor·u), and
    their share in the frozen twin < THRESHOLDS.c8_frozen_uniform_factor·u.

A seed passes when (a) and, in sparse_finders, (b) pass; fails when one of them fails;
'na' otherwise. The shared w.h.p. rule makes the verdict.

Decisions (the specification, docs/SPEC.md, is silent):
- A constant final |a| (a frozen second layer: |a_k| = θ for every k) carries no
  amplification at all: ρ := 0, so (a) fails there (first_layer_only), instead of the
  undefined correlation of a constant.
- All neurons becoming signal-heavy at the same step (or none ever doing so) leaves
  nothing to rank: (a) is 'na'.
- "Reaches error ≤ ε by T" in (b) is the plain test error at the last snapshot (20 000
  test points by default), not the upper end of a confidence interval: the statistical
  certification of the error is C9's business; here it only says the sparse network
  still learns.
- In (b) the frozen-a comparison reads the main run's frozen twin,
  `simulator.config.frozen_variant(main)` ("frozen_a" for the logistic loss, "squared_frozen_a"
  for the squared loss, …); where the main run is itself frozen (first_layer_only, or a
  sparse_finders run without joint training), that is the main run. A sparse_finders
  trajectory without that twin makes (b) 'na'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from lemmas.base import THRESHOLDS, Claim, Verdict, verdict_from_seeds
from lemmas.report import Curve, HLine, KeyStat, Panel, Scatter, VLine
from simulator.config import RunConfig, frozen_variant
from simulator.trajectory import Trajectory

MAX_SCATTER = 200


def first_heavy_steps(heavy: np.ndarray) -> np.ndarray:
    """First step at which each neuron is signal-heavy; never -> T (censored, ranked last). heavy (T, p)."""
    T = heavy.shape[0]
    return np.where(heavy.any(axis=0), heavy.argmax(axis=0), T)


def rank_correlation(t_heavy: np.ndarray, a_final: np.ndarray) -> float:
    """Spearman ρ(t, |a(T)|); 0 for a constant |a(T)|; NaN when every t is tied."""
    if np.all(t_heavy == t_heavy[0]):
        return math.nan
    a_abs = np.abs(a_final)
    if np.ptp(a_abs) <= 1e-12 * max(float(np.max(a_abs)), 1e-300):
        return 0.0
    return float(spearmanr(t_heavy, a_abs)[0])


def final_a(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """|a| at the end of the run (R, p): the last snapshot, else the last recorded step."""
    if len(traj.snap_steps):
        return np.abs(traj.snap("snap_a", variant)[-1]).astype(np.float64)
    return np.abs(traj.a(variant)[-1]).astype(np.float64)


def snapshot_mass(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """Output mass |a_k|·‖w_k‖ at every snapshot (S, R, p)."""
    W = traj.snap("snap_W", variant).astype(np.float64)
    return np.abs(traj.snap("snap_a", variant).astype(np.float64)) * np.linalg.norm(W, axis=-1)


def n_finders(traj: Trajectory) -> int:
    """n_f = ⌈p·finder_fraction⌉, the finders being neurons 0 … n_f-1 (simulator.data.init_params)."""
    return math.ceil(traj.config.p * traj.config.finder_fraction)


def finder_share(mass: np.ndarray, nf: int) -> np.ndarray:
    """Finders' share of the output mass, mass (…, p) -> (…)."""
    tot = mass.sum(-1)
    return np.where(tot > 0, mass[..., :nf].sum(-1) / np.where(tot > 0, tot, 1.0), 0.0)


def _part_a(t_heavy: np.ndarray, a_fin: np.ndarray) -> tuple[str, float, str]:
    rho = rank_correlation(t_heavy, a_fin)
    if math.isnan(rho):
        return "na", rho, "every neuron becomes signal-heavy at the same step (or never): nothing to rank"
    if rho <= THRESHOLDS.c8_spearman_max:
        return "pass", rho, ""
    extra = " (final |a| constant: second layer frozen, no amplification)" if rho == 0.0 else ""
    return (
        "fail",
        rho,
        f"Spearman(first signal-heavy step, final |a|) = {rho:.2f} > {THRESHOLDS.c8_spearman_max}{extra}",
    )


def _part_b(err: float, share_main: float, share_frozen: float, u: float, frozen: str) -> tuple[str, str]:
    if not math.isfinite(share_main) or not math.isfinite(share_frozen):
        return "na", f"no snapshot or no coupled {frozen} run to compare with"
    need_main = max(THRESHOLDS.c8_finder_mass, THRESHOLDS.c8_finder_uniform_factor * u)
    whys = []
    if err > THRESHOLDS.eps:
        whys.append(f"final test error {err:.4f} > ε={THRESHOLDS.eps}")
    if share_main < need_main:
        whys.append(f"finders hold {share_main:.2f} of the mass at T (< {need_main:.2f})")
    if share_frozen >= THRESHOLDS.c8_frozen_uniform_factor * u:
        whys.append(
            f"in the {frozen} run the finders hold {share_frozen:.2f} "
            f"(≥ {THRESHOLDS.c8_frozen_uniform_factor}× uniform share {u:.2f})"
        )
    return ("fail", "; ".join(whys)) if whys else ("pass", "")


def check(traj: Trajectory) -> Verdict:
    cfg = traj.config
    heavy = traj.signal_heavy()  # (T, R, p)
    a_fin = final_a(traj)
    sparse = cfg.init == "sparse_finders"
    frozen = frozen_variant(cfg.variants[0])
    has_frozen = frozen in cfg.variants and len(traj.snap_steps) > 0
    nf = n_finders(traj)
    u = nf / cfg.p
    if sparse:
        share_main_t = (
            finder_share(snapshot_mass(traj), nf) if len(traj.snap_steps) else np.full((0, cfg.seeds), np.nan)
        )
        share_frozen_t = finder_share(snapshot_mass(traj, frozen), nf) if has_frozen else None
        err = traj.test_error()[-1] if len(traj.snap_steps) else np.full(cfg.seeds, np.nan)
    per_seed: list[dict[str, Any]] = []
    t_all, a_all = [], []
    for r, seed in enumerate(traj.seeds):
        t_heavy = first_heavy_steps(heavy[:, r])
        t_all.append(t_heavy)
        a_all.append(a_fin[r])
        out_a, rho, why_a = _part_a(t_heavy, a_fin[r])
        rec: dict[str, Any] = {"seed": seed, "spearman": rho, "never_heavy": int((t_heavy == traj.steps).sum())}
        parts, whys = [out_a], [why_a]
        if sparse:
            sm = float(share_main_t[-1, r]) if len(share_main_t) else math.nan
            sf = float(share_frozen_t[-1, r]) if share_frozen_t is not None else math.nan
            out_b, why_b = _part_b(float(err[r]), sm, sf, u, frozen)
            rec.update(final_error=float(err[r]), finder_share=sm, finder_share_frozen=sf, b=out_b)
            parts.append(out_b)
            whys.append(why_b)
        rec["a"] = out_a
        rec["outcome"] = "fail" if "fail" in parts else ("na" if "na" in parts else "pass")
        if rec["outcome"] != "pass":
            rec["why"] = "; ".join(w for w, o in zip(whys, parts) if o != "pass" and w)
        per_seed.append(rec)
    rhos = [s["spearman"] for s in per_seed if math.isfinite(s["spearman"])]
    stats: dict[str, float] = {"spearman_median": float(np.median(rhos)) if rhos else math.nan}
    thresholds: dict[str, Any] = {"spearman_max": THRESHOLDS.c8_spearman_max}
    t_cat, a_cat = np.concatenate(t_all), np.concatenate(a_all)
    step = max(1, math.ceil(len(t_cat) / MAX_SCATTER))
    rho = stats["spearman_median"]
    series: dict[str, Panel] = {
        "amplification": Panel(
            "final |a| against the first signal-heavy step"
            + (f" — Spearman (median over seeds) {rho:.2f}" if math.isfinite(rho) else ""),
            (
                Scatter(t_cat[::step].astype(float).tolist(), a_cat[::step].tolist(), "neurons"),
                VLine(traj.steps, "T (never signal-heavy: censored here)"),
            ),
            "first signal-heavy step",
            "final |a|",
            y_scale="auto",
        )
    }
    if rhos:
        series["spearman_per_seed"] = Panel(
            "Spearman ρ(first signal-heavy step, final |a|) per seed",
            (
                Curve(
                    [float(s["seed"]) for s in per_seed[:8]],
                    [s["spearman"] for s in per_seed[:8]],
                    "ρ",
                    "line",
                    0,
                    markers=True,
                ),
                HLine(THRESHOLDS.c8_spearman_max, "spearman max"),
            ),
            "seed",
            "Spearman ρ",
        )
    if sparse:

        def med(key: str) -> float:
            v = [s[key] for s in per_seed if math.isfinite(s[key])]
            return float(np.median(v)) if v else math.nan

        stats.update(
            finder_share_median=med("finder_share"),
            finder_share_frozen_median=med("finder_share_frozen"),
            final_error_median=med("final_error"),
            uniform_share=u,
            finders=float(nf),
        )
        thresholds.update(
            eps=THRESHOLDS.eps,
            finder_share_min=max(THRESHOLDS.c8_finder_mass, THRESHOLDS.c8_finder_uniform_factor * u),
            finder_share_frozen_max=THRESHOLDS.c8_frozen_uniform_factor * u,
        )
        snaps = traj.snap_steps.astype(float).tolist()
        shares: list[Any] = []
        if len(share_main_t):
            shares.append(Curve(snaps, np.median(share_main_t, axis=1).tolist(), "finders' share (median)", "line", 0))
        if share_frozen_t is not None:
            shares.append(
                Curve(
                    snaps,
                    np.median(share_frozen_t, axis=1).tolist(),
                    "finders' share, frozen-a run (median)",
                    "line",
                    1,
                )
            )
        if shares:
            series["finder_share"] = Panel(
                "finders' share of the output mass |a|·‖w‖",
                (
                    *shares,
                    HLine(thresholds["finder_share_min"], "finder share min"),
                    HLine(thresholds["finder_share_frozen_max"], "finder share frozen max"),
                ),
                "snapshot step",
                "share of the output mass",
            )
    return verdict_from_seeds(
        "C8",
        per_seed,
        stats,
        thresholds,
        series,
        what="early finders are amplified" + (" and carry the sparse network" if sparse else ""),
    )


def applies(cfg: RunConfig) -> str | None:
    if len(cfg.label_coords) != 2:
        return "reads the XOR signal plane μ̂± (signal-heavy), which is not the feature of a label on three coordinates"
    return None


CLAIM = Claim(
    id="C8",
    slug="amplification",
    title="Amplification: joint training boosts the neurons that find the feature first",
    anchor="Glasgow (2023), abstract, Remark 4.3, Mechanism 2",
    statement=(
        "(a) The step at which a neuron becomes signal-heavy is negatively rank-correlated with its final |a| "
        "(Spearman ≤ -0.5); (b) in sparse_finders the network reaches test error ≤ ε by T, the finders hold "
        "≥ 1/2 of the output mass at T and ≥ 3× their uniform share, while in the coupled frozen-a run "
        "they hold < 2× their uniform share."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("Spearman(first heavy step, final |a|)", "spearman_median", "<=", "spearman_max"),
        KeyStat("finders' mass share", "finder_share_median", ">=", "finder_share_min"),
        KeyStat("finders' share, frozen a", "finder_share_frozen_median", "<", "finder_share_frozen_max"),
    ),
    variants=("frozen_a",),  # the role: the main run's frozen twin (frozen_variant(main), frozen_a for logistic)
    decisions=(
        "never signal-heavy -> censored at T (ranked last); constant final |a| (frozen a) -> ρ = 0, fails; "
        "all first-heavy steps tied -> na; final |a| and mass from the last snapshot; (b) only where "
        "init = sparse_finders, plain final test error (not the CI: that is C9), finders = first "
        "⌈p·finder_fraction⌉ neurons; the frozen comparison is the main run's frozen twin of the same loss "
        "(frozen_a for the logistic loss; the main run when it is itself frozen)."
    ),
    applies=applies,
)
