"""C7 gradient_concentration on hand-built trajectories (verdicts known by construction), and the
population drift formula against Monte Carlo.

Every neuron has a ≥ 0 (signal direction μ̂+ = (e_i - e_j)/√2), so a gradient
g_w = (g/√2, -g/√2) at (i, j) has signal coordinate g, and the recorded second moment
g_sig_m2[..., 0] is the batch second moment along μ̂+. At t = 0 every neuron has
(w_i, w_j) = (0.1, 0), ‖w_perp‖ = 0.1, a = 0.1 (the neurons in `zero` have w_i = w_j = 0).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from lemmas.base import THRESHOLDS
from lemmas.c07_gradient_concentration import (
    CLAIM,
    check,
    cube_signal_term,
    gaussian_signal_term,
    linear_signal_drift,
    per_sample_std,
)
from lemmas.plan import Example, bundle, gradient_configs
from simulator import RunConfig, paper, parity3, small_batch
from tests.support import panels
from tests.support.synthetic import make_trajectory

R, P, A, SIGMA, ETA = 4, 5, 0.1, 0.1, 0.1
S0 = 0.1 / math.sqrt(2)  # ⟨w(0), μ̂+⟩ of (w_i, w_j) = (0.1, 0)
DRIFT0 = A * math.sqrt(2) / 4 * erf(S0 / SIGMA)  # the population formula at t = 0 (hypercube)


def cfg(d: int, m: int, **kw) -> RunConfig:
    return RunConfig(d=d, p=P, m=m, eta=ETA, theta=0.1, steps=1, seeds=R, device="cpu", **kw)


def weights(T: int, s_later: float = 0.05, s_last: float = 1.0, zero=()) -> np.ndarray:
    """w_coords (T, R, 1, P, 2): (0.1, 0) at t = 0, then ⟨w, μ̂+⟩ = s_later, and s_last at the last step."""
    w = np.zeros((T, R, 1, P, 2))
    w[0, ..., 0] = 0.1
    for t in range(1, T):
        s = s_last if t == T - 1 else s_later
        w[t, ..., 0], w[t, ..., 1] = s / math.sqrt(2), -s / math.sqrt(2)
    w[:, :, :, list(zero)] = 0.0
    return w


def gradients(mean, std, m: int, gperp=0.0):
    """(g_w_coords, g_sig_m2, g_w_norm2) of batches with signal-gradient mean/std and ‖g_perp‖ = gperp (T, R, P)."""
    mean, std, gperp = (np.asarray(x, dtype=float) for x in (mean, std, gperp))
    m2 = mean**2 + std**2 * ((m - 1) / m if m > 1 else 0.0)  # inverse of the Bessel-corrected estimate
    g = np.stack([mean / math.sqrt(2), -mean / math.sqrt(2)], -1)[:, :, None]
    m2a = np.stack([m2, np.zeros_like(m2)], -1)[:, :, None]
    return g, m2a, (mean**2 + gperp**2)[:, :, None]


def one_step(c: RunConfig, mean, std, a=A, zero=()):
    """A one-step trajectory whose step-0 batch has signal-gradient mean `mean` and per-sample std `std`."""
    mean = np.broadcast_to(np.asarray(mean, dtype=float), (1, R, P))
    std = np.broadcast_to(np.asarray(std, dtype=float), (1, R, P))
    g, m2a, n2 = gradients(mean, std, c.m)
    return make_trajectory(
        c,
        T=1,
        snap_steps=[0, 1],
        a=a,
        w_coords=weights(1, zero=zero),
        w_perp=SIGMA,
        g_w_coords=g,
        g_sig_m2=m2a,
        g_w_norm2=n2,
    )


def phase_one_run(c: RunConfig, T: int = 20, ratio=0.5, gperp=0.0, s_last=1.0, zero=()):
    """The regime's own run: T steps whose per-step median noise/drift (formula drift) is `ratio`
    ((T,) or scalar) and whose ‖g_perp‖ is `gperp`; T1 = T - 1 when s_last ≥ ‖w_perp‖/ζ."""
    w = weights(T, s_last=s_last, zero=zero)
    s = (w[..., 0] - w[..., 1])[:, :, 0] / math.sqrt(2)  # (T, R, P)
    drift = A * cube_signal_term(s, np.full_like(s, SIGMA))
    ratio = np.broadcast_to(np.asarray(ratio, dtype=float).reshape(-1, 1, 1), (T, R, P))
    std = ratio * drift * math.sqrt(c.m)
    g, m2a, n2 = gradients(drift, std, c.m, np.broadcast_to(gperp, (T, R, P)))
    return make_trajectory(
        c.replace(steps=T),
        T=T,
        snap_steps=[0, T],
        a=A,
        w_coords=w,
        w_perp=SIGMA,
        g_w_coords=g,
        g_sig_m2=m2a,
        g_w_norm2=n2,
    )


def runs(d: int, m: int, drift=DRIFT0, std=1.0, reg_mean=None, md_mean=None, traj=None, zero=()):
    """The four runs of C7: regime (m), m = d, drift (64·m, data_offset=1), and the regime's own run."""
    reg_mean = drift if reg_mean is None else reg_mean
    md_mean = drift if md_mean is None else md_mean
    c = cfg(d, m)
    return {
        "regime": one_step(c, reg_mean, std, zero=zero),
        "m_d": one_step(c.replace(m=d), md_mean, std, zero=zero),
        "drift": one_step(c.replace(m=THRESHOLDS.c7_drift_batch_factor * m, data_offset=1), drift, std, zero=zero),
        "trajectory": phase_one_run(c, zero=zero) if traj is None else traj,
    }


# ---------------------------------------------------------------------------------------
# The population drift against Monte Carlo (the module docstring's derivation)
# ---------------------------------------------------------------------------------------


def test_cube_drift_matches_monte_carlo():
    """E[y u 1[w·x > 0]] on the hypercube, d = 64, w_perp spread evenly: within 4 standard errors plus the
    CLT error of w_perp·x (a Rademacher sum over 62 coordinates, Berry–Esseen ≲ 0.4/√62 ≈ 0.05 in Φ, times
    √2/4 · 2 ≈ 0.035 at most: the test allows 0.01, the bias is far smaller for these smooth cases)."""
    rng = np.random.default_rng(1)
    d, n = 64, 400_000
    x = rng.choice([-1.0, 1.0], size=(n, d))
    y = -x[:, 0] * x[:, 1]
    u = (x[:, 0] - x[:, 1]) / math.sqrt(2)
    v = (x[:, 0] + x[:, 1]) / math.sqrt(2)
    perp = np.zeros(d)
    perp[2:] = rng.standard_normal(d - 2)
    perp /= np.linalg.norm(perp)
    for r, o in ((0.05, 0.0), (0.3, 0.2), (1.0, -0.7), (4.0, 0.3)):
        z = x @ perp
        per_sample = y * u * ((r * u + o * v + z) > 0)
        mc, se = per_sample.mean(), per_sample.std() / math.sqrt(n)
        formula = float(cube_signal_term(np.array(r), np.array(1.0)))
        assert abs(mc - formula) <= 4 * se + 0.01, (r, mc, formula)


def test_gaussian_drift_matches_monte_carlo():
    """E[y u Φ((s u + o v)/σ)] for (u, v) ~ N(0, I₂), y = sign(u² - v²): within 4 standard errors (10⁶ draws)."""
    from scipy.stats import norm

    rng = np.random.default_rng(2)
    u, v = rng.standard_normal((2, 1_000_000))
    y = np.sign(u * u - v * v)
    for s, o in ((0.01, 0.0), (0.3, 0.2), (1.0, -0.5), (4.0, 0.1)):
        f = y * u * norm.cdf(s * u + o * v)
        formula = float(gaussian_signal_term(np.array(s), np.array(o), np.array(1.0)))
        assert abs(f.mean() - formula) <= 4 * f.std() / 1000, (s, o, f.mean(), formula)


@pytest.mark.parametrize("bs, bo", [(0.1, 0.05), (1.0, 0.5), (5.0, -2.0), (50.0, 3.0), (3.0, 50.0), (500.0, -40.0)])
def test_gaussian_drift_quadrature_matches_adaptive_quadrature(bs, bo):
    """The pieced Gauss–Legendre rule against scipy's adaptive quadrature (float64, relative 1e-6), also far
    beyond the first-order regime (the end of phase one, where ‖w_perp‖ has collapsed)."""
    from scipy.integrate import quad

    def integrand(phi: float) -> float:
        b = bs * math.cos(phi) + bo * math.sin(phi)
        return math.cos(phi) * (b / (1 + b * b) + math.atan(b))

    zero = math.atan2(bo, bs) + math.pi / 2
    total = 0.0
    for arc in range(4):
        lo, hi = -math.pi / 4 + arc * math.pi / 2, math.pi / 4 + arc * math.pi / 2
        cuts = [c for c in (lo + (zero - lo) % math.pi,) if c < hi]
        total += (-1) ** arc * quad(integrand, lo, hi, points=cuts or None, limit=500, epsrel=1e-12)[0]
    expect = abs(total) / (2 * math.pi) ** 1.5
    got = float(gaussian_signal_term(np.array(bs), np.array(bo), np.array(1.0)))
    assert got == pytest.approx(expect, rel=1e-6)


def test_first_order_limits_are_e_yu2_one_and_two_over_pi():
    """To first order in s/σ (and o/σ) the drift is E[y u²]·|a||s|/(√(2π)σ), E[y u²] = 1 (cube), 2/π (Gaussian)."""
    s, sigma, a = np.array(1e-5), np.array(1.0), np.array(1.0)
    np.testing.assert_allclose(cube_signal_term(s, sigma), linear_signal_drift(a, s, sigma, 1.0), rtol=1e-9)
    for o in (0.0, 1e-5):  # on Gaussian inputs the opposite component enters too: both small
        np.testing.assert_allclose(
            gaussian_signal_term(s, np.array(o), sigma), linear_signal_drift(a, s, sigma, 2 / math.pi), rtol=1e-6
        )
    # far from the first-order regime the linear drift overstates: s/σ = 4 gives ~4.5x on the cube
    assert linear_signal_drift(a, np.array(4.0), sigma, 1.0) / cube_signal_term(np.array(4.0), sigma) > 4


# ---------------------------------------------------------------------------------------
# (a), (b): t = 0
# ---------------------------------------------------------------------------------------


def test_per_sample_std_bessel():
    c = cfg(64, 10)
    t = one_step(c, 0.3, 2.0)
    np.testing.assert_allclose(per_sample_std(t)[0], 2.0)
    assert per_sample_std(one_step(cfg(64, 1), 0.3, 2.0)) is None


def test_holds_when_noise_is_small_and_shrinks_with_the_batch():
    # noise/drift = (1/√1024)/0.1 = 0.3125 at m = 1024; (1/8)/0.1 = 1.25 at m = d = 64: gain 4 = √(1024/64)
    v = check(runs(64, 1024, drift=0.1))
    assert v.status == "holds", v.summary()
    assert v.stats["ratio_median"] == pytest.approx(0.3125, rel=1e-6)
    assert v.stats["ratio_median_m_d"] == pytest.approx(1.25, rel=1e-6)
    assert v.stats["gain"] == pytest.approx(4.0, rel=1e-6)
    assert v.stats["gain_theory"] == pytest.approx(4.0)
    assert v.stats["ratio_median_lo"] <= v.stats["ratio_median"] <= v.stats["ratio_median_hi"]
    assert v.stats["sign_agree_regime"] == 1.0
    assert v.stats["neurons_excluded"] == 0
    assert len(v.per_seed) == R and all(s["outcome"] == "pass" for s in v.per_seed)


def test_drift_formula_is_compared_with_the_measured_drift():
    v = check(runs(64, 1024, drift=DRIFT0))
    assert v.stats["drift_formula_over_measured_t0"] == pytest.approx(1.0, rel=1e-6)


def test_fails_when_the_drift_is_small():
    v = check(runs(64, 1024, drift=0.01))  # ratio 3.125 > 1
    assert v.status == "fails"
    assert "does not concentrate at the regime's batch" in v.reason


def test_fails_when_the_batch_gain_is_small():
    # m = 100: ratio (1/10)/0.2 = 0.5 ≤ 1, but gain √(100/64) = 1.25 < 2
    v = check(runs(64, 100, drift=0.2))
    assert v.status == "fails"
    assert v.stats["ratio_median"] == pytest.approx(0.5, rel=1e-6)
    assert v.stats["gain"] == pytest.approx(1.25, rel=1e-6)
    assert "gain" in v.reason and "does not concentrate" not in v.reason


def test_small_batch_regime_is_degenerate_and_fails():
    v = check(runs(64, 64, drift=0.1))  # regime m = d: the two runs coincide, gain 1
    assert v.status == "fails"
    assert v.stats["gain"] == pytest.approx(1.0)


def test_median_is_pooled_over_neurons_and_seeds():
    # 3 of 4 seeds with tiny drift at every neuron: the pooled median follows them
    drift = np.full((R, P), 0.1)
    drift[1:] = 0.001
    v = check(runs(64, 1024, drift=drift))
    assert v.status == "fails"
    assert v.stats["ratio_median"] == pytest.approx(31.25, rel=1e-6)
    assert [s["t0_ratio_median"] > 1 for s in v.per_seed] == [False, True, True, True]


def test_zero_drift_of_a_signal_plane_neuron_gives_infinite_ratio():
    v = check(runs(64, 1024, drift=0.0))
    assert v.status == "fails"
    assert math.isinf(v.stats["ratio_median"])


def test_neurons_without_a_signal_plane_component_are_left_out_and_counted():
    # neurons 1-4 start with w_i = w_j = 0 and have zero measured drift: the old statistic's median was +∞
    zero = (1, 2, 3, 4)
    drift = np.zeros((R, P))
    drift[:, 0] = 0.1
    v = check(runs(64, 1024, drift=drift, zero=zero))
    assert v.stats["neurons_excluded"] == R * len(zero)
    assert v.stats["neurons_included"] == R
    assert v.stats["ratio_median"] == pytest.approx(0.3125, rel=1e-6)
    assert math.isfinite(v.stats["phase_one_ratio_max"])
    assert all(s["neurons_excluded"] == len(zero) for s in v.per_seed)
    assert v.status == "holds", v.summary()
    assert "16 without a signal-plane component left out" in v.reason


def test_no_signal_plane_neuron_is_inconclusive():
    v = check(runs(64, 1024, drift=0.0, zero=range(P)))
    assert v.status == "inconclusive"
    assert "no signal-plane neuron" in v.reason


def test_below_min_d_is_inconclusive_but_measured():
    v = check(runs(32, 1024, drift=0.1))
    assert v.status == "inconclusive"
    assert "d ≥ 64" in v.reason and "would hold" in v.reason
    assert v.stats["ratio_median"] == pytest.approx(0.3125, rel=1e-6)


def test_batch_of_one_takes_the_std_from_the_drift_batch():
    # m = 1: the batch variance is 0; s comes from the drift batch (64 samples): noise 1, ratio 10
    v = check(runs(64, 1, drift=0.1))
    assert v.stats["s_from_drift_batch"] == 1.0
    assert v.stats["ratio_median"] == pytest.approx(10.0, rel=1e-6)
    assert v.status == "fails"
    assert "m = 1: the batch has no variance information" in v.reason  # (c)'s signal part: no per-step noise


# ---------------------------------------------------------------------------------------
# (c): along phase one
# ---------------------------------------------------------------------------------------


def test_phase_one_statistics_by_construction():
    T, gperp = 20, 0.05
    v = check(runs(64, 1024, drift=0.1, traj=phase_one_run(cfg(64, 1024), T=T, ratio=0.5, gperp=gperp)))
    assert v.status == "holds", v.summary()
    assert v.stats["phase_one_ratio_max"] == pytest.approx(0.5, rel=1e-6)
    # T1 = T - 1: the updates 0 … T-2 displace by √(T-1)·η·gperp, against ‖w_T1‖ = √(1² + 0.1²)
    expect = math.sqrt(T - 1) * ETA * gperp / math.hypot(1.0, SIGMA)
    assert v.stats["phase_one_perp_noise_max"] == pytest.approx(expect, rel=1e-5)
    assert all(s["T1"] == T - 1 and s["t1_reached"] for s in v.per_seed)
    assert set(v.series) >= {"phase_one_noise_over_drift", "phase_one_perp_noise"}


def test_fails_when_the_signal_noise_dominates_later_in_phase_one():
    # the t = 0 parts hold, but at step 10 of phase one the median noise/drift is 3
    ratio = np.full(20, 0.5)
    ratio[10] = 3.0
    v = check(runs(64, 1024, drift=0.1, traj=phase_one_run(cfg(64, 1024), ratio=ratio)))
    assert v.status == "fails"
    assert v.reason.startswith("the signal coordinate does not concentrate along phase one")
    assert v.stats["phase_one_ratio_max"] == pytest.approx(3.0, rel=1e-6)
    assert v.stats["phase_one_ratio_worst_step"] == 10
    assert v.stats["ratio_median"] <= THRESHOLDS.c7_ratio_max and v.stats["gain"] >= THRESHOLDS.c7_batch_gain


def test_fails_when_the_perpendicular_noise_moves_the_neurons():
    # √19·0.1·g/‖w‖ > ζ(64) = 0.24 for g = 1
    v = check(runs(64, 1024, drift=0.1, traj=phase_one_run(cfg(64, 1024), gperp=1.0)))
    assert v.status == "fails"
    assert v.reason.startswith("the perpendicular noise is not small along phase one")
    assert v.stats["phase_one_seeds_failing"] == R
    assert all(s["outcome"] == "fail" for s in v.per_seed)


def test_phase_one_without_t1_reads_the_whole_run():
    v = check(runs(64, 1024, drift=0.1, traj=phase_one_run(cfg(64, 1024), T=12, s_last=0.05)))
    assert v.stats["phase_one_t1_unreached"] == R
    assert all(s["phase_one_end"] == 11 and not s["t1_reached"] for s in v.per_seed)


def test_bad_inputs_raise():
    good = runs(64, 1024)
    with pytest.raises(ValueError, match="missing"):
        check({k: good[k] for k in ("regime", "m_d", "drift")})
    bad = dict(good, drift=one_step(cfg(64, THRESHOLDS.c7_drift_batch_factor * 1024), 0.1, 1.0))
    with pytest.raises(ValueError, match="independent"):
        check(bad)
    bad = dict(good, drift=one_step(cfg(64, 1024, data_offset=1), 0.1, 1.0))
    with pytest.raises(ValueError, match="at least"):
        check(bad)
    bad = dict(good, m_d=one_step(cfg(64, 32), 0.1, 1.0))
    with pytest.raises(ValueError, match="m = d"):
        check(bad)
    bad = dict(good, m_d=one_step(cfg(64, 64), 0.1, 1.0, a=0.2))
    with pytest.raises(ValueError, match="initial weights"):
        check(bad)
    bad = dict(good, trajectory=phase_one_run(cfg(64, 512)))
    with pytest.raises(ValueError, match="regime's own run"):
        check(bad)


def test_plan_reads_the_per_run_bundle_for_phase_one():
    ex = Example("sparse_finders", 32, seeds=2)
    cfgs = gradient_configs(ex)
    assert cfgs["trajectory"] == bundle(ex)  # the run C3–C6, C8, C9 read: no run of C7's own
    assert all(cfgs[k].steps == 1 for k in ("regime", "m_d", "drift"))
    assert cfgs["trajectory"].replace(steps=1, snapshots=2, variants=cfgs["regime"].variants) == cfgs["regime"]


def test_claim_record():
    assert CLAIM.id == "C7" and CLAIM.needs == "gradient"
    assert CLAIM.applies(paper(16)) is None and CLAIM.applies(small_batch(16)) is None
    assert CLAIM.applies(parity3(16))
    v = check(runs(64, 1024, drift=0.1))
    d = v.to_dict()
    assert d["status"] == "holds" and isinstance(d["stats"]["ratio_median"], float)
    assert set(v.series) == {
        "noise_over_drift_by_batch",
        "noise_over_drift_quantiles",
        "phase_one_noise_over_drift",
        "phase_one_perp_noise",
    }
    assert [len(c.y) for c in panels.curves(v.series["noise_over_drift_quantiles"], "line")] == [7, 7]
    assert all(panels.round_trips(p) for p in v.series.values())
