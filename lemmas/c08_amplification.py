"""C8 `amplification` — Glasgow (2023), abstract, Remark 4.3, Mechanism 2 (docs/SPEC.md §3, id C8).

Claim, in words: joint training of both layers amplifies the neurons that find the
feature first, so that a small fraction of finders suffices. (a) The step at which a
neuron becomes signal-heavy is negatively rank-correlated with its final |a|; (b) in the
sparse_finders regime, where only the first n_f = ⌈p·finder_fraction⌉ neurons start with a
signal-plane component, placed stratified over the four clusters, the network still learns
(test error ≤ ε at T), the finders hold at least half of the output mass |a|·‖w‖ at T and
at least 3× their uniform share, while in the coupled first-layer-only run (the main run's
frozen twin, `frozen_a` for the logistic loss: same loss, same init, same batches) they hold
less than 2× their uniform share; and in every cluster the finders are more amplified
(their share of that cluster's mass over their head-count share) with joint training than
with the second layer frozen.

The check (`needs = "run"`, CLAIM.variants = ("frozen_a",): it reads a frozen twin), per seed:

(a) t_k = first step at which neuron k of the main run is signal-heavy
    (Trajectory.signal_heavy; never -> censored at T, i.e. ranked last, tied with the other
    censored neurons); |a_k(T)| from the last snapshot (its `snap_a`; the last recorded a
    where a run has no snapshot). Spearman ρ(t, |a(T)|) ≤ THRESHOLDS.c8_spearman_max.
(b) only where traj.config.init == "sparse_finders": finders = neurons 0 … n_f - 1
    (simulator.data.init_params; finder k covers cluster k mod 4); uniform share u = n_f/p;
    the output mass at T is |a|·‖w‖ from the last snapshot's snap_a and snap_W. Passes when
    the main run's final test error ≤ ε (THRESHOLDS.eps), the finders' share of the main
    run's mass ≥ max(THRESHOLDS.c8_finder_mass, THRESHOLDS.c8_finder_uniform_factor·u),
    their share in the frozen twin < THRESHOLDS.c8_frozen_uniform_factor·u, and, per cluster
    c the init placed a finder on (all four in the regime), A_c(main) > A_c(frozen twin).
    A_c = share_c/u_c, share_c = the finders' part of the mass of the neurons that cover c at
    T, u_c = (finders covering c)/(neurons covering c): the mean mass of c's finders over the
    mean mass of c's neurons, 1 without amplification, 0 where no finder covers c. A neuron
    covers c (simulator.data.covered_cluster) when sign a_k = y_c and its signal-plane
    direction is on c's side of the diagonal of that sign: the neurons that add to the clean
    margin γ̃_c. A cluster that finders alone cover in both runs (u_c = 1 twice, A_c = 1 = 1)
    offers nothing to compare and is left out.

A seed passes when (a) and, in sparse_finders, (b) pass; fails when one of them fails;
'na' otherwise. The shared w.h.p. rule makes the verdict.

Decisions (the specification, docs/SPEC.md, is silent):
- C8 is defined only where the main run trains its second layer. The claim is that JOINT
  training amplifies the early finders through the growth of their |a| (abstract, Remark
  4.3: with the first layer trained alone the non-signal components may grow as fast as the
  signal); where a is frozen (first_layer_only, or any run whose main variant is a frozen-a
  one) |a_k| = θ for every k by construction: there is nothing to rank in (a), and (b)'s
  contrast would compare the frozen run with itself. `applies` says so and the cell is
  inconclusive, not failed by fiat. Ranking by the output mass θ‖w‖ instead would credit the
  first layer's own growth to an amplification the run cannot have. What a frozen second
  layer does to the finders is measured where the claim puts it: (b)'s frozen twin.
- A constant final |a| in a run that trains a carries no amplification: ρ := 0, (a) fails.
- All neurons becoming signal-heavy at the same step (or none ever doing so) leaves
  nothing to rank: (a) is 'na'.
- "Reaches error ≤ ε by T" in (b) is the plain test error at the last snapshot (20 000
  test points by default), not the upper end of a confidence interval: the statistical
  certification of the error is C9's business; here it only says the sparse network
  still learns.
- (b)'s whole-network thresholds use u = n_f/p. The per-cluster comparison needs no
  threshold of its own: it is the direction joint > frozen, cluster by cluster (margin
  balance gives every cluster about a quarter of the mass whoever carries it, so a cluster
  whose finders were not amplified would be hidden by the others in the whole-network
  share). It compares A_c, not share_c: in a frozen run the margin balance can steer every
  non-finder of a sign to the other cluster of that sign, leaving a cluster to its finders
  alone (share_c = 1 with no amplification at all, measured at d = 32), where the share
  cannot tell joint from frozen and the head-count-corrected A_c can. The whole-network
  thresholds are not applied per cluster: u_c exceeds 1/3 where few neurons cover c, and
  3·u_c is then out of reach of any share.
- A user's sparse_finders config with fewer than four finders leaves a cluster without one:
  the per-cluster clause skips it (no finder placed there to amplify) instead of failing by
  construction; the whole-network clauses still read every cluster's mass.
- (b) reads the main run's frozen twin, `simulator.config.frozen_variant(main)`
  ("frozen_a" for the logistic loss, "squared_frozen_a" for the squared loss, …); a
  sparse_finders trajectory without that twin makes (b) 'na'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from lemmas.base import THRESHOLDS, Claim, Verdict, not_applicable, verdict_from_seeds, xor_plane_missing
from lemmas.report import Curve, HLine, KeyStat, Panel, Scatter, VLine
from simulator import data
from simulator.config import VARIANTS, RunConfig, frozen_variant
from simulator.population import CLUSTERS
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


def n_finders(traj: Trajectory) -> int:
    """n_f = ⌈p·finder_fraction⌉, the finders being neurons 0 … n_f-1 (simulator.data.init_params)."""
    return data.n_finders(traj.config.p, traj.config.finder_fraction)


def final_mass_and_cluster(traj: Trajectory, variant: str | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At the last snapshot: output mass |a_k|·‖w_k‖ and the cluster neuron k covers (R, p) each
    (index into population.CLUSTERS, -1 for no signal-plane component; data.covered_cluster)."""
    a = traj.snap("snap_a", variant)[-1].astype(np.float64)
    W = traj.snap("snap_W", variant)[-1].astype(np.float64)
    i, j = traj.config.pair
    return np.abs(a) * np.linalg.norm(W, axis=-1), data.covered_cluster(W[..., i], W[..., j], a)


def finder_share(mass: np.ndarray, nf: int) -> np.ndarray:
    """Finders' share of the output mass, mass (…, p) -> (…)."""
    tot = mass.sum(-1)
    return np.where(tot > 0, mass[..., :nf].sum(-1) / np.where(tot > 0, tot, 1.0), 0.0)


def cluster_shares(mass: np.ndarray, cluster: np.ndarray, nf: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster c (population.CLUSTERS order): the finders' share of the mass of the neurons that
    cover c, 0 where none does, and their uniform share u_c = (finders covering c)/(neurons covering c),
    NaN where none does. mass, cluster (R, p) -> two (R, 4)."""
    finder = np.arange(mass.shape[-1]) < nf
    share, uniform = [], []
    for c in range(len(CLUSTERS)):
        on_c = cluster == c
        tot = np.where(on_c, mass, 0.0).sum(-1)
        share.append(np.where(tot > 0, np.where(on_c & finder, mass, 0.0).sum(-1) / np.where(tot > 0, tot, 1.0), 0.0))
        n = on_c.sum(-1)
        uniform.append(np.where(n > 0, (on_c & finder).sum(-1) / np.maximum(n, 1), math.nan))
    return np.stack(share, -1), np.stack(uniform, -1)


def cluster_amplification(share: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """A_c = share_c / u_c: the mean mass of the finders covering c over the mean mass of all the
    neurons covering c (1: no amplification); 0 where no finder covers c."""
    ok = np.nan_to_num(uniform) > 0
    return np.where(ok, share / np.where(ok, uniform, 1.0), 0.0)


def compared_gain(amp: np.ndarray, uniform: np.ndarray, placed: set[int]) -> dict[int, float]:
    """A_c(joint)/A_c(frozen) for every cluster c the per-cluster clause compares: those the init placed a
    finder on, less those that finders alone cover in both runs (u_c = 1 twice: nothing to compare).
    amp, uniform (2, 4): joint, frozen. A_c(frozen) = 0 gives +inf where A_c(joint) > 0, else 0."""
    out = {}
    for c in sorted(placed):
        if uniform[0, c] == 1 and uniform[1, c] == 1:
            continue
        am, af = float(amp[0, c]), float(amp[1, c])
        out[c] = am / af if af > 0 else (math.inf if am > 0 else 0.0)
    return out


def _part_a(t_heavy: np.ndarray, a_fin: np.ndarray) -> tuple[str, float, str]:
    rho = rank_correlation(t_heavy, a_fin)
    if math.isnan(rho):
        return "na", rho, "every neuron becomes signal-heavy at the same step (or never): nothing to rank"
    if rho <= THRESHOLDS.c8_spearman_max:
        return "pass", rho, ""
    extra = " (final |a| constant: no amplification)" if rho == 0.0 else ""
    return (
        "fail",
        rho,
        f"Spearman(first signal-heavy step, final |a|) = {rho:.2f} > {THRESHOLDS.c8_spearman_max}{extra}",
    )


def _part_b(
    err: float, share_main: float, share_frozen: float, gain: dict[int, float], amp: np.ndarray, u: float, frozen: str
) -> tuple[str, str]:
    """gain: A_c(joint)/A_c(frozen) of the compared clusters (compared_gain); amp (2, 4): A_c of both runs."""
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
    for c, g in gain.items():
        if not g > 1:
            whys.append(
                f"cluster {CLUSTERS[c]}: finders' amplification (share/uniform share) {amp[0, c]:.2f} "
                f"with joint training, {amp[1, c]:.2f} with {frozen}"
            )
    return ("fail", "; ".join(whys)) if whys else ("pass", "")


def snapshot_mass(traj: Trajectory, variant: str | int = 0) -> np.ndarray:
    """Output mass |a_k|·‖w_k‖ at every snapshot (S, R, p)."""
    W = traj.snap("snap_W", variant).astype(np.float64)
    return np.abs(traj.snap("snap_a", variant).astype(np.float64)) * np.linalg.norm(W, axis=-1)


def _sparse_evidence(traj: Trajectory, frozen: str, nf: int) -> dict[str, np.ndarray] | None:
    """What (b) reads, or None without snapshots or without the frozen twin: the finders' share at
    every snapshot (S, R) and per cluster at T (R, 4) of both runs, the uniform shares (R, 4), the error."""
    if not len(traj.snap_steps) or frozen not in traj.config.variants:
        return None
    out = {"error": traj.test_error()[-1]}
    for key, v in (("main", 0), ("frozen", frozen)):
        out[f"share_t_{key}"] = finder_share(snapshot_mass(traj, v), nf)
        out[f"cluster_{key}"], out[f"uniform_{key}"] = cluster_shares(*final_mass_and_cluster(traj, v), nf)
    return out


def check(traj: Trajectory) -> Verdict:
    cfg = traj.config
    why = applies(cfg)
    if why is not None:
        return not_applicable("C8", why)
    heavy = traj.signal_heavy()  # (T, R, p)
    a_fin = final_a(traj)
    sparse = cfg.init == "sparse_finders"
    frozen = frozen_variant(cfg.variants[0])
    nf = n_finders(traj)
    u = nf / cfg.p
    ev = _sparse_evidence(traj, frozen, nf) if sparse else None
    placed = {int(c) for c in data.finder_clusters(nf)}
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
            if ev is None:
                out_b, why_b = "na", f"no snapshot or no coupled {frozen} run to compare with"
                rec.update(finder_share=math.nan, finder_share_frozen=math.nan, final_error=math.nan)
            else:
                sm, sf = float(ev["share_t_main"][-1, r]), float(ev["share_t_frozen"][-1, r])
                by_cluster = np.stack([ev["cluster_main"][r], ev["cluster_frozen"][r]])
                uniform = np.stack([ev["uniform_main"][r], ev["uniform_frozen"][r]])
                amp = cluster_amplification(by_cluster, uniform)
                gain = compared_gain(amp, uniform, placed)
                out_b, why_b = _part_b(float(ev["error"][r]), sm, sf, gain, amp, u, frozen)
                rec.update(
                    final_error=float(ev["error"][r]),
                    finder_share=sm,
                    finder_share_frozen=sf,
                    cluster_share=by_cluster[0].tolist(),
                    cluster_share_frozen=by_cluster[1].tolist(),
                    cluster_uniform=uniform[0].tolist(),
                    cluster_uniform_frozen=uniform[1].tolist(),
                    cluster_amplification=amp[0].tolist(),
                    cluster_amplification_frozen=amp[1].tolist(),
                    cluster_gain_min=min(gain.values()) if gain else math.nan,
                )
            rec["b"] = out_b
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
    series = _amplification_panels(traj, per_seed, np.concatenate(t_all), np.concatenate(a_all))
    if sparse:
        stats.update(_sparse_stats(per_seed, nf, u))
        thresholds.update(
            eps=THRESHOLDS.eps,
            finder_share_min=max(THRESHOLDS.c8_finder_mass, THRESHOLDS.c8_finder_uniform_factor * u),
            finder_share_frozen_max=THRESHOLDS.c8_frozen_uniform_factor * u,
            cluster_gain_min=1.0,
        )
        if ev is not None:
            series.update(_sparse_panels(traj, ev, thresholds))
    return verdict_from_seeds(
        "C8",
        per_seed,
        stats,
        thresholds,
        series,
        what="early finders are amplified" + (" and carry every cluster of the sparse network" if sparse else ""),
    )


def _sparse_stats(per_seed: list[dict[str, Any]], nf: int, u: float) -> dict[str, float]:
    def med(key: str) -> float:
        v = [s[key] for s in per_seed if key in s and not math.isnan(s[key])]  # +inf: a gain over a frozen 0
        return float(np.median(v)) if v else math.nan

    out = {
        "finder_share_median": med("finder_share"),
        "finder_share_frozen_median": med("finder_share_frozen"),
        "final_error_median": med("final_error"),
        "cluster_gain_min_median": med("cluster_gain_min"),
        "uniform_share": u,
        "finders": float(nf),
    }
    for c in range(len(CLUSTERS)):
        for key in ("cluster_share", "cluster_share_frozen", "cluster_amplification", "cluster_amplification_frozen"):
            v = [s[key][c] for s in per_seed if key in s]
            out[f"{key}{c}_median"] = float(np.median(v)) if v else math.nan
    return out


def _amplification_panels(
    traj: Trajectory, per_seed: list[dict[str, Any]], t_cat: np.ndarray, a_cat: np.ndarray
) -> dict[str, Panel]:
    rhos = [s["spearman"] for s in per_seed if math.isfinite(s["spearman"])]
    rho = float(np.median(rhos)) if rhos else math.nan
    step = max(1, math.ceil(len(t_cat) / MAX_SCATTER))
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
    return series


def _sparse_panels(traj: Trajectory, ev: dict[str, np.ndarray], thresholds: dict[str, Any]) -> dict[str, Panel]:
    snaps = traj.snap_steps.astype(float).tolist()
    clusters = [float(c) for c in range(len(CLUSTERS))]
    return {
        "finder_share": Panel(
            "finders' share of the output mass |a|·‖w‖",
            (
                Curve(snaps, np.median(ev["share_t_main"], axis=1).tolist(), "finders' share (median)", "line", 0),
                Curve(
                    snaps,
                    np.median(ev["share_t_frozen"], axis=1).tolist(),
                    "finders' share, frozen-a run (median)",
                    "line",
                    1,
                ),
                HLine(thresholds["finder_share_min"], "finder share min"),
                HLine(thresholds["finder_share_frozen_max"], "finder share frozen max"),
            ),
            "snapshot step",
            "share of the output mass",
        ),
        "finder_share_by_cluster": Panel(
            "finders' share of each cluster's mass at T (neurons covering the cluster): "
            + ", ".join(f"{k} = {c}" for k, c in enumerate(CLUSTERS)),
            (
                Curve(clusters, np.median(ev["cluster_main"], axis=0).tolist(), "joint (median)", "line", 0, True),
                Curve(clusters, np.median(ev["cluster_frozen"], axis=0).tolist(), "frozen a (median)", "line", 1, True),
                Curve(
                    clusters,
                    np.nanmedian(ev["uniform_main"], axis=0).tolist(),
                    "uniform share, joint (median)",
                    "line",
                    2,
                    True,
                ),
            ),
            "cluster",
            "finders' share of the cluster's mass",
        ),
    }


def applies(cfg: RunConfig) -> str | None:
    if VARIANTS[cfg.variants[0]].layers != "both":
        return (
            "the claim is that joint training amplifies the early finders through the growth of their |a|; "
            "with the second layer frozen |a_k| = θ for every neuron by construction, so there is no "
            "amplification to rank (what a frozen a does to the finders is (b)'s frozen-a twin in sparse_finders)"
        )
    return xor_plane_missing(cfg)


CLAIM = Claim(
    id="C8",
    slug="amplification",
    title="Amplification: joint training boosts the neurons that find the feature first",
    anchor="Glasgow (2023), abstract, Remark 4.3, Mechanism 2",
    statement=(
        "(a) The step at which a neuron becomes signal-heavy is negatively rank-correlated with its final |a| "
        "(Spearman ≤ -0.5); (b) in sparse_finders (finders stratified over the four clusters) the network "
        "reaches test error ≤ ε by T, the finders hold ≥ 1/2 of the output mass at T and ≥ 3× their uniform "
        "share, while in the coupled frozen-a run they hold < 2× their uniform share, and in every cluster "
        "they are more amplified (share of the cluster's mass / head-count share) with joint training than "
        "with a frozen."
    ),
    check=check,
    needs="run",
    key_stats=(
        KeyStat("Spearman(first heavy step, final |a|)", "spearman_median", "<=", "spearman_max"),
        KeyStat("finders' mass share", "finder_share_median", ">=", "finder_share_min"),
        KeyStat("finders' share, frozen a", "finder_share_frozen_median", "<", "finder_share_frozen_max"),
        KeyStat(
            "least per-cluster amplification, joint / frozen a", "cluster_gain_min_median", ">", "cluster_gain_min"
        ),
    ),
    variants=("frozen_a",),  # the role: the main run's frozen twin (frozen_variant(main), frozen_a for logistic)
    decisions=(
        "defined only where the main run trains a (a frozen a has |a| = θ by construction: nothing to "
        "rank, no contrast; inconclusive, not failed); never signal-heavy -> censored at T (ranked last); "
        "constant final |a| of a trained a -> ρ = 0, fails; all first-heavy steps tied -> na; final |a| "
        "and mass from the last snapshot; (b) only where init = sparse_finders, plain final test error (not "
        "the CI: that is C9), finders = first ⌈p·finder_fraction⌉ neurons, finder k placed on cluster k mod 4; "
        "a neuron covers cluster c when sign a = y_c and its signal-plane direction is on c's side of the "
        "diagonal of that sign; per cluster only the direction A_c(joint) > A_c(frozen) is required, A_c = "
        "share_c/u_c (clusters covered by finders alone in both runs left out); "
        "the frozen comparison is the main run's frozen twin of the same loss (frozen_a for the logistic loss)."
    ),
    applies=applies,
)
