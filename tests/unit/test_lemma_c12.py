"""C12 loss bound on hand-built networks whose test losses are known, and its interval rule.

The networks are exact XOR solutions on the pair (0, 1) at d = 8: two neurons ±s(e_0 - e_1) with
a = +s and two ±s(e_0 + e_1) with a = -s give f(x) = (s²/4)(|x_0 - x_1| - |x_0 + x_1|), so every
test point has the margin γ = s²/2 (s_plus, s_minus for the two label classes when they differ).
The recorded test loss of a snapshot is the mean of `point_losses` there, so the consistency
check passes unless a test breaks it; `point_losses` itself is checked against the engine.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from lemmas.base import THRESHOLDS
from lemmas.c12_loss_bound import CLAIM, check, loss_bound, point_losses, time_bound, upper_bound
from simulator import RunConfig, engine, first_layer_only, gaussian, paper, parity3
from tests.support.synthetic import make_trajectory

D, P, R = 8, 4, 4
L_MAX = 1 / math.log(D)  # c = 1


def xor_net(s_plus: float, s_minus: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """W (4, D), a (4,): margin s_plus²/2 on the label +1 clusters, s_minus²/2 on the -1 clusters."""
    s_minus = s_plus if s_minus is None else s_minus
    W = np.zeros((P, D))
    W[0, :2], W[1, :2] = s_plus * np.array([1, -1]), s_plus * np.array([-1, 1])
    W[2, :2], W[3, :2] = s_minus * np.array([1, 1]), s_minus * np.array([-1, -1])
    return W, np.array([s_plus, s_plus, -s_minus, -s_minus])


def config(steps: int = 20, eta: float | None = None, test_size: int = 2000, regime: str = "custom") -> RunConfig:
    """A custom config whose t_max = ⌈12 log 8/η⌉ is 10 steps unless η is given."""
    eta = THRESHOLDS.c12_time_constant * math.log(D) / 10 if eta is None else eta
    return RunConfig(
        d=D, p=P, m=4, eta=eta, theta=0.1, steps=steps, seeds=R, device="cpu", test_size=test_size, regime=regime
    )


def build(
    cfg: RunConfig,
    snaps: list[int],
    nets: list[tuple[np.ndarray, np.ndarray]],
    *,
    loss_offset: float = 0.0,
    batch_loss: np.ndarray | None = None,
):
    """A trajectory whose snapshot k holds nets[k] for every seed, its recorded test loss the true mean;
    the minibatch loss per step is `batch_loss` (default: decreasing, so the last steps score best)."""
    W = np.stack([n[0] for n in nets])[:, None, None]  # (S, 1, 1, p, d)
    a = np.stack([n[1] for n in nets])[:, None, None]
    loss = np.array([point_losses(cfg, w, aa).mean() for w, aa in nets]) + loss_offset
    batch = np.linspace(1.0, 0.1, cfg.steps) if batch_loss is None else np.asarray(batch_loss, dtype=float)
    return make_trajectory(
        cfg,
        T=cfg.steps,
        snap_steps=snaps,
        snap_W=W,
        snap_a=a,
        test_loss=loss[:, None, None],
        test_err_count=0.0,
        batch_loss=batch[:, None, None],
    )


def test_constants_and_the_paper_horizon():
    assert loss_bound(64) == pytest.approx(1 / math.log(64))  # c = 1: L_max = ζ(d)
    for d in (32, 64, 128):
        cfg = paper(d)
        assert time_bound(cfg) == cfg.steps  # C = κ = 12: t_max is the paper horizon T


def test_low_loss_by_t_max_holds():
    cfg = config()
    v = check(build(cfg, [0, 5, 10, 20], [xor_net(0.1), xor_net(2), xor_net(4), xor_net(4)]))
    assert v.status == "holds", v.summary()
    assert all(p["t_star"] == 10 for p in v.per_seed)  # snapshot 20 > t_max = 10 is not a candidate
    assert v.stats["loss_median"] == pytest.approx(2 * math.log1p(math.exp(-8.0)), rel=1e-9)  # γ = 4²/2
    assert v.thresholds["L_max"] == pytest.approx(L_MAX) and v.thresholds["t_max"] == 10
    json.dumps(v.to_dict())


def test_low_loss_only_after_t_max_fails():
    cfg = config()
    v = check(build(cfg, [0, 5, 10, 20], [xor_net(0.1), xor_net(1), xor_net(1), xor_net(4)]))
    assert v.status == "fails"  # γ = 1/2 up to t_max: h = 2 log(1 + e^-1/2) = 0.95 > ζ(8) = 0.48
    assert "upper bound" in v.per_seed[0]["why"] and all(p["t_star"] <= 10 for p in v.per_seed)


def test_the_minibatch_loss_not_the_test_loss_chooses_the_snapshots():
    """A dip at snapshot 5 (loss low there, high at 10): it counts when the minibatch loss finds it, and
    not when the minibatch loss is least elsewhere — the test set never chooses what it then tests."""
    cfg = config()
    nets = [xor_net(0.1), xor_net(4), xor_net(1), xor_net(1)]
    dip = np.ones(cfg.steps)
    dip[5] = 0.01
    found = check(build(cfg, [0, 5, 10, 20], nets, batch_loss=dip))
    assert found.status == "holds" and found.per_seed[0]["candidates"] == [5, 10]
    assert found.per_seed[0]["t_star"] == 5
    early = np.ones(cfg.steps)
    early[0] = 0.01
    missed = check(build(cfg, [0, 5, 10, 20], nets, batch_loss=early))
    assert missed.status == "fails" and missed.per_seed[0]["candidates"] == [0, 10]
    assert missed.per_seed[0]["first_point_below"] == 5  # reported: the test loss was below L_max at 5


def test_the_final_snapshot_is_scored_by_the_last_step():
    cfg = config(steps=10)
    nets = [xor_net(0.1), xor_net(1), xor_net(4)]
    v = check(build(cfg, [0, 5, 10], nets, batch_loss=np.r_[np.ones(9), 0.01]))
    assert v.status == "holds" and v.per_seed[0]["candidates"] == [10]  # one candidate: bounded at level 1 - α


def test_a_run_that_ends_before_t_max_without_passing_is_inconclusive():
    cfg = config(steps=6)
    v = check(build(cfg, [0, 3, 6], [xor_net(0.1), xor_net(1), xor_net(1)]))
    assert v.status == "inconclusive"
    assert "last snapshot is at step 6 < t_max = 10" in v.reason


def test_the_interval_not_the_point_estimate_decides():
    """Unequal margins on the two label classes spread the per-point losses: with few test points the
    mean is below L_max but the Bonferroni upper bound is not; with many points it is."""
    net = xor_net(0.95, 3.0)  # γ = 0.45 on +1 points (h ≈ 0.97), 4.5 on -1 points (h ≈ 0.022)
    small, big = config(test_size=40), config(test_size=20_000)
    h_small = point_losses(small, *net)
    k = 2  # the candidates: the last snapshot ≤ t_max (10) and the least minibatch loss's (also 10 here)
    U = upper_bound(h_small.mean(), h_small.std(ddof=1), len(h_small), 1 - 0.05 / k)
    assert h_small.mean() < L_MAX < U, (h_small.mean(), U)
    nets = [xor_net(0.1), net, net]
    assert check(build(small, [0, 5, 10], nets)).status == "fails"
    h_big = point_losses(big, *net)
    if h_big.mean() < L_MAX:  # the class frequencies of 20 000 points are within 1% of 1/2
        assert check(build(big, [0, 5, 10], nets)).status == "holds"


def test_a_recorded_loss_that_is_not_the_network_s_raises():
    cfg = config()
    traj = build(cfg, [0, 5, 10, 20], [xor_net(0.1), xor_net(2), xor_net(4), xor_net(4)], loss_offset=0.01)
    with pytest.raises(ValueError, match="recomputed test loss"):
        check(traj)


def test_point_losses_are_the_engine_s_test_loss():
    """The engine's recorded test loss is the mean of point_losses at every snapshot (float32 run)."""
    cfg = RunConfig(d=D, p=P, m=16, eta=0.5, theta=0.3, steps=6, seeds=2, device="cpu", test_size=500, snapshots=3)
    traj = engine.run(cfg)
    for s in range(len(traj.snap_steps)):
        for r in range(cfg.seeds):
            h = point_losses(cfg, traj.snap("snap_W")[s, r], traj.snap("snap_a")[s, r])
            assert h.mean() == pytest.approx(float(traj.snap("test_loss")[s, r]), rel=1e-6)


def test_the_one_sided_bound_covers_at_its_level():
    """Monte Carlo (float64): for a skewed bounded law (h of a Gaussian margin, like a trained net's losses)
    the CLT bound with n = 2000 covers the mean with probability 0.95 ± 0.01 (4000 repetitions)."""
    rng = np.random.default_rng(1)
    mu = float(np.mean(2 * np.log1p(np.exp(-rng.normal(3, 1.5, size=2_000_000)))))
    n, reps, level = 2000, 4000, 0.95
    x = 2 * np.log1p(np.exp(-rng.normal(3, 1.5, size=(reps, n))))
    U = x.mean(1) + norm.ppf(level) * x.std(1, ddof=1) / math.sqrt(n)
    assert abs(np.mean(U >= mu) - level) < 0.01


def test_choosing_by_an_independent_estimate_keeps_the_level():
    """Monte Carlo (float64): 5 snapshots whose population loss sits exactly at L_max. The rule of C12
    (the last snapshot and the one whose independent estimate — a fresh sample of 385 points, as a
    minibatch — is least, each bounded at level 1 - α/2) passes in at most α = 5% of 2000 repetitions
    (+ 3 binomial standard errors)."""
    rng = np.random.default_rng(2)
    n, k, reps, alpha = 1000, 5, 2000, 0.05
    scale = L_MAX / np.mean(2 * np.log1p(np.exp(-rng.normal(1.5, 1.5, size=2_000_000))))

    def draw(size):  # h of Gaussian margins, rescaled to mean L_max: right-skewed like a net's losses
        return scale * 2 * np.log1p(np.exp(-rng.normal(1.5, 1.5, size=size)))

    test = draw((reps, k, n))
    pick = draw((reps, k, 385)).mean(2).argmin(1)
    U = test.mean(2) + norm.ppf(1 - alpha / 2) * test.std(2, ddof=1) / math.sqrt(n)
    passed = (U[np.arange(reps), pick] < L_MAX) | (U[:, -1] < L_MAX)
    assert np.mean(passed) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_defined_in_every_regime():
    assert all(CLAIM.applies(b(16)) is None for b in (paper, parity3, gaussian, first_layer_only))


def test_claim_record():
    assert CLAIM.id == "C12" and CLAIM.slug == "loss_bound" and CLAIM.needs == "run" and CLAIM.horizon == "T"
