"""C2 signal_finding on hand-built ladders whose verdict is known by construction.

Each rung: every neuron has a = θ > 0 (so μ̂_sig = μ̂+), ‖w_perp‖ = θ, and
‖w_sig‖_t = s0 · g^t, ‖w_opp‖_t = o0 · (1 - ρ)^t with ρ = η/√(2π), the linearized rate.
With g = 1 + ρ the fitted rate equals the prediction exactly; with s0 = θ/√d the neurons
become signal-heavy (‖w_sig‖ ≥ θ/ζ) close to the predicted T1.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c02_signal_finding import CLAIM, check, rate_ratios, t1_prediction
from simulator import RunConfig, paper, parity3
from tests.support import panels
from tests.support.synthetic import make_trajectory

ETA, THETA, P, R = 0.1, 0.05, 4, 4


def rung(
    d: int,
    growth: float = 1.0,
    s0: float | None = None,
    opp_factor: float | None = None,
    a_scale: float = 1.0,
    steps_factor: float = 2.0,
    seeds: int = R,
    seed: int = 0,
):
    """A trajectory of one rung; growth = fitted rate / predicted rate, per step log-factor."""
    T = int(steps_factor * t1_prediction(d, ETA))
    cfg = RunConfig(d=d, p=P, m=8, eta=ETA, theta=THETA, steps=T, seeds=seeds, seed=seed, device="cpu")
    rho = ETA / math.sqrt(2 * math.pi)
    t = np.arange(T, dtype=float)[:, None, None, None]
    s = (THETA / math.sqrt(d) if s0 is None else s0) * np.exp(growth * math.log1p(rho) * t)
    o = THETA * 0.5 * ((1 - rho) if opp_factor is None else opp_factor) ** t
    s, o = np.broadcast_to(s, (T, seeds, 1, P)), np.broadcast_to(o, (T, seeds, 1, P))
    wi, wj = (s + o) / math.sqrt(2), (o - s) / math.sqrt(2)  # ⟨w, μ̂+⟩ = s, ⟨w, μ̂-⟩ = o
    return make_trajectory(
        cfg, T=T, snap_steps=[0, T], a=a_scale * THETA, w_perp=THETA, w_coords=np.stack([wi, wj], axis=-1)
    )


def test_exact_linearized_growth_holds():
    v = check({16: rung(16), 32: rung(32)})
    assert v.status == "holds", v.summary()
    for d in (16, 32):
        assert v.stats[f"d{d}_rate_ratio"] == pytest.approx(1.0, abs=1e-6)
        assert v.stats[f"d{d}_share_grown"] == 1.0
        lo, hi = THRESHOLDS.c2_t1_band
        assert lo <= v.stats[f"d{d}_T1_over_pred"] <= hi
    json.dumps(v.to_dict())  # serialisable for the report
    assert set(v.series) == {"d16_norms", "d16_growth", "d32_norms", "d32_growth"}
    norms = v.series["d16_norms"]
    assert (
        len(panels.bands(norms)) == 3 and all(len(b.x) <= 200 for b in panels.bands(norms)) and norms.y_scale == "log"
    )
    assert {c.role for c in v.series["d32_growth"].marks} == {"median", "fit", "reference"}
    assert all(panels.round_trips(p) for p in v.series.values())


def test_rate_ratios_exact():
    traj = rung(16)
    t1 = int(traj.T1()[0])
    fit, pred, ratio = rate_ratios(traj.w_sig()[:, 0], traj.w_perp()[:, 0], traj.a()[:, 0], t1, THETA, ETA, traj.zeta)
    assert np.allclose(ratio, 1.0) and np.allclose(pred, math.log1p(ETA / math.sqrt(2 * math.pi)))


def test_too_fast_growth_fails_rate():
    # 1.6× the linearized rate: T1 ≈ 0.6 × prediction (inside the band) but the rate is off by > ζ
    v = check({16: rung(16, growth=1.6), 32: rung(32, growth=1.6)})
    assert v.status == "fails"
    assert "growth rate" in v.reason


def test_growing_opposite_component_fails_share():
    v = check({16: rung(16, opp_factor=1.01)})
    assert v.status == "fails"
    assert "grew w_sig and shrank w_opp" in v.reason


def test_phase_one_too_long_fails_band():
    # the signal starts at θ/d² instead of θ/√d: T1 far beyond 1.5 × prediction (rate still exact)
    v = check({16: rung(16, s0=THETA / 16**2, steps_factor=4.0)})
    assert v.status == "fails"
    assert v.stats["d16_rate_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert "outside [0.5, 1.5]" in v.reason


def test_one_bad_rung_fails_the_seed():
    v = check({16: rung(16), 32: rung(32, growth=1.6)})
    assert v.status == "fails"
    assert all(s["outcome"] == "fail" for s in v.per_seed)


def test_t1_never_reached_short_horizon_is_inconclusive():
    # horizon 1.2 × prediction < 1.5 × prediction and T1 not reached: nothing to conclude
    v = check({16: rung(16, s0=THETA / 16**2, steps_factor=1.2)})
    assert v.status == "inconclusive"
    assert "T1 not reached" in v.reason


def test_t1_never_reached_past_the_band_fails():
    # no signal growth at all, horizon 2 × prediction: T1 > T > 1.5 × prediction is a definite failure
    v = check({16: rung(16, growth=0.0, steps_factor=2.0)})
    assert v.status == "fails"
    assert "T1 not reached" in v.reason


def test_no_neuron_at_initial_size_is_inconclusive():
    # |a| = 2θ: no step has |a| within (1 ± ζ)θ, so no rate fit (the other parts pass)
    v = check({16: rung(16, a_scale=2.0, growth=2.0)})
    assert v.status == "inconclusive"
    assert "steps at initial size" in v.reason


def test_ladder_needs_same_seeds_and_a_rung():
    with pytest.raises(ValueError, match="same seeds"):
        check({16: rung(16), 32: rung(32, seed=7)})
    with pytest.raises(ValueError, match="empty"):
        check({})


def test_claim_record():
    assert CLAIM.id == "C2" and CLAIM.needs == "ladder" and CLAIM.variants == ()
    assert CLAIM.applies(paper(16)) is None and CLAIM.applies(parity3(16))
