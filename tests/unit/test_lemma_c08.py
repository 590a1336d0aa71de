"""C8 amplification on hand-built trajectories whose verdict is known by construction.

Every neuron has a > 0, ‖w_perp‖ = 1, ‖w_opp‖ = 0 and ‖w_sig‖ jumping from 0 to 10 at
its own step t_k (so it is signal-heavy from t_k on, ζ(8) ≈ 0.48); the final |a| comes
from the last snapshot's snap_a. In the sparse_finders configs the finders are
neurons 0 and 1 (p = 8, finder_fraction = 0.25: uniform share 1/4).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c08_amplification import CLAIM, check, first_heavy_steps, rank_correlation
from lemmas.report import Scatter
from simulator import RunConfig, first_layer_only, parity3
from tests.support.synthetic import make_trajectory

D, P, R, T = 8, 8, 4, 20


def build(
    t_heavy,
    a_final,
    *,
    sparse: bool = False,
    variants=("logistic", "frozen_a"),
    norms_main=None,
    norms_frozen=None,
    a_frozen=None,
    err: float = 0.0,
    snapshots: bool = True,
):
    """t_heavy: (p,) first signal-heavy step (≥ T: never); a_final: (p,) |a| at T of the main run."""
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
        snap_a[-1, :, 0] = a_final
        if V > 1:
            snap_a[-1, :, 1] = 1.0 if a_frozen is None else a_frozen
        if norms_main is not None:
            snap_W[-1, :, 0, :, 2] = norms_main
        if norms_frozen is not None and V > 1:
            snap_W[-1, :, 1, :, 2] = norms_frozen
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


def test_frozen_second_layer_fails_with_rho_zero():
    v = check(build(EARLY_FIRST, np.ones(P), variants=("frozen_a",)))
    assert v.status == "fails"
    assert v.stats["spearman_median"] == 0.0
    assert "second layer frozen" in v.reason


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

FINDER_NORMS = np.array([10.0, 10.0] + [1.0] * (P - 2))  # finders carry 200/206 of the mass


def sparse(**kw):
    base = dict(sparse=True, norms_main=FINDER_NORMS, norms_frozen=np.ones(P))
    base.update(kw)
    return build(EARLY_FIRST, BIG_FOR_EARLY, **base)


def test_sparse_finders_carry_the_network_holds():
    # mass |a|·‖w‖: finders 5·10 + 4.43·10 against 14.6 for the six others -> share ≈ 0.87
    v = check(sparse())
    assert v.status == "holds", v.summary()
    assert v.stats["finder_share_median"] == pytest.approx(0.866, abs=1e-3) and v.stats[
        "finder_share_frozen_median"
    ] == pytest.approx(0.25)
    assert v.thresholds["finder_share_min"] == pytest.approx(0.75)  # max(1/2, 3 × 1/4)


def test_sparse_finders_fail_when_frozen_run_concentrates_too():
    v = check(sparse(norms_frozen=FINDER_NORMS))
    assert v.status == "fails" and "frozen_a run" in v.reason


def test_sparse_finders_fail_when_not_learning():
    v = check(sparse(err=0.2))
    assert v.status == "fails" and "test error" in v.reason


def test_sparse_finders_fail_when_finders_hold_little_mass():
    v = check(sparse(norms_main=np.ones(P)))
    assert v.status == "fails" and "finders hold" in v.reason


def test_sparse_finders_without_frozen_run_is_inconclusive():
    v = check(sparse(variants=("logistic",)))
    assert v.status == "inconclusive"


def test_claim_record():
    assert CLAIM.id == "C8" and CLAIM.needs == "run" and CLAIM.variants == ("frozen_a",)
    assert CLAIM.applies(first_layer_only(16)) is None and CLAIM.applies(parity3(16))
