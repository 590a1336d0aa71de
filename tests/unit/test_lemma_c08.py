"""C8 amplification on hand-built trajectories whose verdict is known by construction.

Every neuron has a > 0 along the run, ‖w_perp‖ = 1, ‖w_opp‖ = 0 and ‖w_sig‖ jumping from
0 to 10 at its own step t_k (so it is signal-heavy from t_k on, ζ(8) ≈ 0.48); the final |a|
comes from the last snapshot's snap_a. At T neuron k covers cluster k mod 4 (its final a has
the cluster's label as sign, its signal-plane direction points to the cluster): in the
sparse_finders configs (p = 16, finder_fraction = 1/4) the finders are neurons 0 … 3, one per
cluster, and every cluster is covered by four neurons (uniform share 1/4 everywhere).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c08_amplification import (
    CLAIM,
    check,
    cluster_amplification,
    cluster_shares,
    compared_gain,
    first_heavy_steps,
    rank_correlation,
)
from lemmas.report import Scatter
from simulator import RunConfig, first_layer_only, paper, parity3, sparse_finders
from simulator.population import CLUSTER_LABELS, CLUSTERS
from tests.support.synthetic import make_trajectory

D, P, R, T = 8, 16, 4, 20
CLUSTER_OF = np.arange(P) % 4  # the cluster neuron k covers at T


def final_plane(clusters: np.ndarray) -> np.ndarray:
    """(p, 2): w at (i, j) at T pointing to each neuron's cluster, (c_i, c_j)/√2."""
    return np.array([CLUSTERS[c] for c in clusters], dtype=float) / math.sqrt(2)


def build(
    t_heavy,
    a_final,
    *,
    sparse: bool = False,
    variants=("logistic", "frozen_a"),
    norms_main=None,
    norms_frozen=None,
    clusters_main=CLUSTER_OF,
    err: float = 0.0,
    snapshots: bool = True,
):
    """t_heavy: (p,) first signal-heavy step (≥ T: never); a_final: (p,) |a| at T of the main run;
    norms_*: (p,) ‖w_perp‖ at T of each run (default 1); the frozen run keeps |a| = 1."""
    V = len(variants)
    cfg = RunConfig(
        d=D,
        p=P,
        m=4,
        eta=0.1,
        theta=0.1,
        steps=T,
        seeds=R,
        variants=variants,
        device="cpu",
        test_size=1000,
        init="sparse_finders" if sparse else "sphere",
        finder_fraction=0.25,
    )
    t = np.arange(T)[:, None, None, None]
    s = np.where(t >= np.asarray(t_heavy)[None, None, None, :], 10.0, 0.0)
    s = np.broadcast_to(s, (T, R, V, P))
    w_coords = np.stack([s / math.sqrt(2), -s / math.sqrt(2)], axis=-1)  # ⟨w, μ̂+⟩ = s, ⟨w, μ̂-⟩ = 0
    snap = [0, T] if snapshots else []
    S = len(snap)
    snap_a = np.ones((S, R, V, P))
    snap_W = np.zeros((S, R, V, P, D))
    snap_W[..., 2] = 1.0
    if S:
        for v, clusters in enumerate((clusters_main, CLUSTER_OF)[:V]):
            sign = np.array([CLUSTER_LABELS[c] for c in clusters])
            snap_a[-1, :, v] = sign * (np.asarray(a_final) if v == 0 else 1.0)
            snap_W[-1, :, v, :, :2] = final_plane(clusters)
            norms = norms_main if v == 0 else norms_frozen
            if norms is not None:
                snap_W[-1, :, v, :, 2] = norms
    return make_trajectory(
        cfg,
        T=T,
        snap_steps=snap,
        a=1.0,
        w_perp=1.0,
        w_coords=w_coords,
        snap_a=snap_a,
        snap_W=snap_W,
        test_err_count=np.full((S, R, V), err * cfg.test_size),
    )


EARLY_FIRST = np.arange(P) + 1  # neuron k becomes signal-heavy at step k+1
BIG_FOR_EARLY = np.linspace(5.0, 1.0, P)  # … and the early ones end with the largest |a|


def test_early_finders_amplified_holds():
    v = check(build(EARLY_FIRST, BIG_FOR_EARLY))
    assert v.status == "holds", v.summary()
    assert v.stats["spearman_median"] == pytest.approx(-1.0)
    json.dumps(v.to_dict())
    (scatter,) = [m for m in v.series["amplification"].marks if isinstance(m, Scatter)]
    assert len(scatter.x) == R * P


def test_late_finders_amplified_fails():
    v = check(build(EARLY_FIRST, BIG_FOR_EARLY[::-1]))
    assert v.status == "fails"
    assert v.stats["spearman_median"] == pytest.approx(1.0)


def test_trained_second_layer_ending_constant_fails_with_rho_zero():
    v = check(build(EARLY_FIRST, np.ones(P)))
    assert v.status == "fails"
    assert v.stats["spearman_median"] == 0.0
    assert "no amplification" in v.reason


def test_frozen_second_layer_is_not_defined():
    """A frozen main run has |a| = θ by construction: C8 is undefined there, not failed by fiat."""
    v = check(build(EARLY_FIRST, np.ones(P), variants=("frozen_a",)))
    assert v.status == "inconclusive" and "not defined here" in v.reason and "joint training" in v.reason
    v = check(build(EARLY_FIRST, np.ones(P), sparse=True, variants=("frozen_a", "logistic")))
    assert v.status == "inconclusive" and "not defined here" in v.reason


def test_all_tied_or_never_heavy_is_inconclusive():
    assert check(build(np.full(P, 3), BIG_FOR_EARLY)).status == "inconclusive"
    v = check(build(np.full(P, T + 5), BIG_FOR_EARLY))  # never signal-heavy: all censored at T
    assert v.status == "inconclusive"


def test_censored_neurons_rank_last():
    heavy = np.zeros((5, 3), dtype=bool)
    heavy[2, 0] = True
    heavy[4, 1] = True
    assert first_heavy_steps(heavy).tolist() == [2, 4, 5]
    assert rank_correlation(np.array([2, 4, 5]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert rank_correlation(np.array([2, 4, 5]), np.array([1.0, 1.0, 1.0])) == 0.0
    assert math.isnan(rank_correlation(np.array([5, 5, 5]), np.array([3.0, 2.0, 1.0])))


# ----- (b): sparse_finders --------------------------------------------------------------

FINDER_NORMS = np.array([10.0] * 4 + [1.0] * (P - 4))  # ‖w_perp‖ at T: the finders' is 10


def sparse(**kw):
    base = dict(sparse=True, norms_main=FINDER_NORMS, norms_frozen=np.ones(P))
    base.update(kw)
    return build(EARLY_FIRST, BIG_FOR_EARLY, **base)


def expected_shares(a_abs: np.ndarray, perp: np.ndarray) -> tuple[float, np.ndarray]:
    """Whole-network and per-cluster finders' share by hand: mass |a|·√(1 + ‖w_perp‖²) (plane part 1)."""
    mass = a_abs * np.sqrt(1 + perp**2)
    per = np.array([mass[[c]].sum() / mass[c::4].sum() for c in range(4)])
    return mass[:4].sum() / mass.sum(), per


def test_sparse_finders_carry_every_cluster_holds():
    v = check(sparse())
    assert v.status == "holds", v.summary()
    glob, per = expected_shares(BIG_FOR_EARLY, FINDER_NORMS)
    assert v.stats["finder_share_median"] == pytest.approx(glob) and v.stats["finder_share_frozen_median"] == 0.25
    for c in range(4):
        assert v.stats[f"cluster_share{c}_median"] == pytest.approx(per[c])
        assert v.stats[f"cluster_share_frozen{c}_median"] == pytest.approx(0.25)
    assert v.stats["cluster_gain_min_median"] == pytest.approx((per / 0.25).min())  # A_c/A_c(frozen) = share_c/0.25
    assert v.thresholds["finder_share_min"] == pytest.approx(0.75)  # max(1/2, 3 × 1/4)
    assert v.per_seed[0]["cluster_uniform"] == [0.25] * 4
    json.dumps(v.to_dict())


def test_sparse_finders_fail_when_frozen_run_concentrates_too():
    v = check(sparse(norms_frozen=FINDER_NORMS))
    assert v.status == "fails" and "frozen_a run" in v.reason


def test_sparse_finders_fail_when_not_learning():
    v = check(sparse(err=0.2))
    assert v.status == "fails" and "test error" in v.reason


def test_sparse_finders_fail_when_finders_hold_little_mass():
    v = check(sparse(norms_main=np.ones(P)))
    assert v.status == "fails" and "finders hold" in v.reason


def test_sparse_finders_fail_when_one_cluster_is_not_amplified():
    """The whole-network shares pass, but the finder of cluster (-1, -1) is outgrown by its
    cluster's non-finders: its share there is below the frozen run's, and (b) fails on it alone."""
    norms = FINDER_NORMS.copy()
    norms[3] = 1.0  # finder 3 (cluster 3) not amplified
    norms[[7, 11, 15]] = 10.0  # … and the non-finders of cluster 3 are
    norms[[0, 1, 2]] = 60.0  # the other finders lift the whole-network share above 3u
    glob, per = expected_shares(BIG_FOR_EARLY, norms)
    assert glob > 0.75 and per[3] < 0.25 and (per[:3] > 0.25).all()
    v = check(sparse(norms_main=norms))
    assert v.status == "fails", v.summary()
    why = v.per_seed[0]["why"]
    assert why.startswith("cluster (-1, -1): finders' amplification") and "finders hold" not in why


def test_sparse_finders_fail_when_a_cluster_has_no_finder_at_T():
    """A finder that ends on another cluster leaves its own with share 0 ≤ the frozen run's."""
    clusters = CLUSTER_OF.copy()
    clusters[3] = 0  # finder 3 ends covering (1, -1)
    v = check(sparse(clusters_main=clusters))
    assert v.status == "fails" and "cluster (-1, -1): finders' amplification (share/uniform share) 0.00" in v.reason
    assert math.isnan(cluster_shares(np.ones((1, 4)), np.array([[0, 0, 1, 1]]), 2)[1][0, 2])


def test_cluster_covered_by_finders_alone_in_both_runs_is_not_compared():
    """In both runs only finder 3 covers (-1, -1) (u_c = 1 twice): A_c = 1 = 1 carries no comparison,
    and the cluster is left out of the clause instead of failing it."""
    clusters = CLUSTER_OF.copy()
    clusters[[7, 11, 15]] = 2  # the non-finders of (-1, -1) end on (1, 1) in the main run …
    traj = sparse(clusters_main=clusters)
    snap_W, snap_a = traj.arrays["snap_W"].copy(), traj.arrays["snap_a"].copy()
    snap_W[-1, :, 1, :, :2] = final_plane(clusters)  # … and in the frozen run
    snap_a[-1, :, 1] = [CLUSTER_LABELS[c] for c in clusters]
    arrays = {k: traj.arrays[k] for k in ("a", "w_perp", "w_coords", "test_err_count")}
    v = check(make_trajectory(traj.config, T=T, snap_steps=[0, T], snap_W=snap_W, snap_a=snap_a, **arrays))
    assert v.status == "holds", v.summary()
    rec = v.per_seed[0]
    assert rec["cluster_uniform"][3] == 1.0 == rec["cluster_uniform_frozen"][3]
    assert rec["cluster_amplification"][3] == 1.0 == rec["cluster_amplification_frozen"][3]


def test_cluster_amplification_and_gain_by_hand():
    share = np.array([[0.9, 1.0, 0.0, 1.0], [0.3, 1.0, 0.0, 0.5]])
    uniform = np.array([[0.1, 1.0, 0.0, 0.2], [0.1, 1.0, math.nan, 0.0]])
    amp = cluster_amplification(share, uniform)
    np.testing.assert_allclose(amp, [[9.0, 1.0, 0.0, 5.0], [3.0, 1.0, 0.0, 0.0]])
    assert compared_gain(amp, uniform, {0, 1, 2, 3}) == pytest.approx({0: 3.0, 2: 0.0, 3: math.inf})
    assert compared_gain(amp, uniform, {0}) == pytest.approx({0: 3.0})


def test_cluster_shares_by_hand():
    mass = np.array([[4.0, 1.0, 2.0, 3.0, 6.0, 5.0]])
    cluster = np.array([[0, 2, 0, 2, -1, 1]])  # neuron 4 covers nothing, cluster 3 nobody
    share, uniform = cluster_shares(mass, cluster, 2)  # finders 0 (cluster 0) and 1 (cluster 2)
    np.testing.assert_allclose(share[0], [4 / 6, 0.0, 1 / 4, 0.0])
    np.testing.assert_allclose(uniform[0], [0.5, 0.0, 0.5, math.nan])


def test_sparse_finders_without_frozen_run_is_inconclusive():
    v = check(sparse(variants=("logistic",)))
    assert v.status == "inconclusive"


def test_claim_record():
    assert CLAIM.id == "C8" and CLAIM.needs == "run" and CLAIM.variants == ("frozen_a",)
    assert CLAIM.applies(paper(16)) is None and CLAIM.applies(sparse_finders(16)) is None
    assert "joint training" in (CLAIM.applies(first_layer_only(16)) or "")
    assert CLAIM.applies(parity3(16))


def test_per_cluster_clause_skips_clusters_without_a_placed_finder():
    """finder_fraction 1/16 of p = 16: one finder, on cluster (1,-1); the other clusters have none to amplify."""
    traj = sparse()
    traj = make_trajectory(
        traj.config.replace(finder_fraction=1 / 16),
        T=T,
        snap_steps=[0, T],
        **{k: traj.arrays[k] for k in ("a", "w_perp", "w_coords", "snap_a", "snap_W", "test_err_count")},
    )
    v = check(traj)
    assert v.stats["finders"] == 1.0
    assert all("cluster (-1, 1)" not in s.get("why", "") for s in v.per_seed)
    assert v.stats["cluster_share1_median"] == 0.0 == v.stats["cluster_share_frozen1_median"]
