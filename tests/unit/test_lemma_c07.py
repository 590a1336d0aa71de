"""C7 gradient_concentration on hand-built one-step trajectories (verdicts known by construction).

Every neuron has a ≥ 0 (signal direction μ̂+ = (e_i - e_j)/√2), so a gradient
g_w = (g/√2, -g/√2) at (i, j) has signal coordinate g, and the recorded second moment
g_sig_m2[..., 0] is the batch second moment along μ̂+.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c07_gradient_concentration import CLAIM, check, per_sample_std
from simulator import RunConfig, paper, parity3, small_batch
from tests.support import panels
from tests.support.synthetic import make_trajectory

R, P = 4, 5


def cfg(d: int, m: int, **kw) -> RunConfig:
    return RunConfig(d=d, p=P, m=m, eta=0.1, theta=0.1, steps=1, seeds=R, device="cpu", **kw)


def one_step(c: RunConfig, mean, std, a=0.1):
    """A one-step trajectory whose step-0 batch has signal-gradient mean `mean` and per-sample std `std`."""
    mean = np.broadcast_to(np.asarray(mean, dtype=float), (R, P))
    std = np.broadcast_to(np.asarray(std, dtype=float), (R, P))
    m = c.m
    m2 = mean**2 + std**2 * ((m - 1) / m if m > 1 else 0.0)  # inverse of the Bessel-corrected estimate
    g = np.stack([mean / math.sqrt(2), -mean / math.sqrt(2)], -1)[None, :, None]  # (1, R, 1, p, 2)
    m2a = np.stack([m2, np.zeros_like(m2)], -1)[None, :, None]
    w = np.zeros((1, R, 1, P, 2))
    w[..., 0] = 0.1
    return make_trajectory(c, T=1, snap_steps=[0, 1], a=a, w_coords=w, w_perp=0.1, g_w_coords=g, g_sig_m2=m2a)


def runs(d: int, m: int, drift=0.1, std=1.0, reg_mean=None, md_mean=None):
    """The three runs of C7: regime (m), m = d, drift (64·m, data_offset=1)."""
    reg_mean = drift if reg_mean is None else reg_mean
    md_mean = drift if md_mean is None else md_mean
    c = cfg(d, m)
    return {
        "regime": one_step(c, reg_mean, std),
        "m_d": one_step(c.replace(m=d), md_mean, std),
        "drift": one_step(c.replace(m=THRESHOLDS.c7_drift_batch_factor * m, data_offset=1), drift, std),
    }


def test_per_sample_std_bessel():
    c = cfg(64, 10)
    t = one_step(c, 0.3, 2.0)
    np.testing.assert_allclose(per_sample_std(t), 2.0)
    assert per_sample_std(one_step(cfg(64, 1), 0.3, 2.0)) is None


def test_holds_when_noise_is_small_and_shrinks_with_the_batch():
    # noise/drift = (1/√1024)/0.1 = 0.3125 at m = 1024; (1/8)/0.1 = 1.25 at m = d = 64: gain 4 = √(1024/64)
    v = check(runs(64, 1024))
    assert v.status == "holds", v.summary()
    assert v.stats["ratio_median"] == pytest.approx(0.3125, rel=1e-6)
    assert v.stats["ratio_median_m_d"] == pytest.approx(1.25, rel=1e-6)
    assert v.stats["gain"] == pytest.approx(4.0, rel=1e-6)
    assert v.stats["gain_theory"] == pytest.approx(4.0)
    assert v.stats["ratio_median_lo"] <= v.stats["ratio_median"] <= v.stats["ratio_median_hi"]
    assert v.stats["sign_agree_regime"] == 1.0
    assert len(v.per_seed) == R and all(s["outcome"] == "pass" for s in v.per_seed)


def test_fails_when_the_drift_is_small():
    v = check(runs(64, 1024, drift=0.01))  # ratio 3.125 > 1
    assert v.status == "fails"
    assert "does not concentrate" in v.reason


def test_fails_when_the_batch_gain_is_small():
    # m = 100: ratio (1/10)/0.2 = 0.5 ≤ 1, but gain √(100/64) = 1.25 < 2
    v = check(runs(64, 100, drift=0.2))
    assert v.status == "fails"
    assert v.stats["ratio_median"] == pytest.approx(0.5, rel=1e-6)
    assert v.stats["gain"] == pytest.approx(1.25, rel=1e-6)
    assert "gain" in v.reason and "does not concentrate" not in v.reason


def test_small_batch_regime_is_degenerate_and_fails():
    v = check(runs(64, 64))  # regime m = d: the two runs coincide, gain 1
    assert v.status == "fails"
    assert v.stats["gain"] == pytest.approx(1.0)


def test_median_is_pooled_over_neurons_and_seeds():
    # 3 of 4 seeds with tiny drift at every neuron: the pooled median follows them
    drift = np.full((R, P), 0.1)
    drift[1:] = 0.001
    v = check(runs(64, 1024, drift=drift))
    assert v.status == "fails"
    assert v.stats["ratio_median"] == pytest.approx(31.25, rel=1e-6)
    assert sum(s["outcome"] == "fail" for s in v.per_seed) == 3


def test_zero_drift_gives_infinite_ratio():
    v = check(runs(64, 1024, drift=0.0))
    assert v.status == "fails"
    assert math.isinf(v.stats["ratio_median"])


def test_below_min_d_is_inconclusive_but_measured():
    v = check(runs(32, 1024))
    assert v.status == "inconclusive"
    assert "d ≥ 64" in v.reason and "would hold" in v.reason
    assert v.stats["ratio_median"] == pytest.approx(0.3125, rel=1e-6)


def test_batch_of_one_takes_the_std_from_the_drift_batch():
    # m = 1: the batch variance is 0; s comes from the drift batch (64 samples): noise 1, ratio 10
    v = check(runs(64, 1))
    assert v.stats["s_from_drift_batch"] == 1.0
    assert v.stats["ratio_median"] == pytest.approx(10.0, rel=1e-6)
    assert v.status == "fails"


def test_bad_inputs_raise():
    good = runs(64, 1024)
    with pytest.raises(ValueError, match="missing"):
        check({k: good[k] for k in ("regime", "m_d")})
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


def test_claim_record():
    assert CLAIM.id == "C7" and CLAIM.needs == "gradient"
    assert CLAIM.applies(paper(16)) is None and CLAIM.applies(small_batch(16)) is None
    assert CLAIM.applies(parity3(16))
    v = check(runs(64, 1024))
    d = v.to_dict()
    assert d["status"] == "holds" and isinstance(d["stats"]["ratio_median"], float)
    assert set(v.series) == {"noise_over_drift_by_batch", "noise_over_drift_quantiles"}
    assert [len(c.y) for c in panels.curves(v.series["noise_over_drift_quantiles"], "line")] == [7, 7]
    assert all(panels.round_trips(p) for p in v.series.values())
