"""C2 signal_finding on hand-built ladders whose verdict is known by construction.

Each rung: every neuron has a = θ > 0 (so μ̂_sig = μ̂+), ‖w_perp‖ = θ, and
‖w_sig‖_t = s0 · g^t, ‖w_opp‖_t = o0 · (1 - ρ)^t with ρ = c η/√(2π), the linearized rate
of the data law (c = 1 boolean, 2/π gaussian). With g = 1 + ρ the fitted rate equals the
prediction exactly; with s0 = θ/√d the neurons become signal-heavy (‖w_sig‖ ≥ θ/ζ) close to
the predicted T1.

The drift constant c itself is checked by Monte Carlo on the registered data laws' samplers.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lemmas.base import THRESHOLDS
from lemmas.c02_signal_finding import CLAIM, DRIFT_CONSTANTS, check, grown_share, rate_ratios, t1_prediction
from simulator import RunConfig, data, paper, parity3
from simulator.laws import get_law
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
    law: str = "boolean",
    c: float | None = None,
):
    """A trajectory of one rung of data law `law`; it grows at c·η/√(2π) per step times `growth`
    (c: the law's drift constant unless given)."""
    c = DRIFT_CONSTANTS.get(law, 1.0) if c is None else c
    T = int(steps_factor * t1_prediction(d, ETA, c))
    cfg = RunConfig(d=d, p=P, m=8, eta=ETA, theta=THETA, steps=T, seeds=seeds, seed=seed, device="cpu", data=law)
    rho = c * ETA / math.sqrt(2 * math.pi)
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
    fit, pred, ratio = rate_ratios(
        traj.w_sig()[:, 0], traj.w_perp()[:, 0], traj.a()[:, 0], t1, THETA, ETA, traj.zeta, 1.0
    )
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


# ---------------------------------------------------------------- the drift constant per data law

MC_ROWS = 400_000


def _law_rows(law: str, d: int, rows: int = MC_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """rows samples (x (rows, d), y (rows,)) of a registered law, label on (0, 1), float64."""
    keys = data.seed_keys([12345], data.STREAM_TEST, torch.device("cpu"))
    x, y = get_law(law).sample(keys, 0, rows, d, (0, 1), torch.float64)
    return x[0].numpy(), y[0].numpy()


@pytest.mark.parametrize("law", sorted(DRIFT_CONSTANTS))
def test_drift_constant_by_monte_carlo(law):
    # c = E[y u²], u = ⟨x, μ̂+⟩ = (x_0 - x_1)/√2. Tolerance: 5 standard errors of the sample mean
    # (sd of y·u² ≤ √3 for both laws; a false alarm has probability < 1e-6, and the draw is seeded).
    x, y = _law_rows(law, 2)
    u = (x[:, 0] - x[:, 1]) / math.sqrt(2)
    v = (x[:, 0] + x[:, 1]) / math.sqrt(2)
    z = y * u**2
    se = z.std() / math.sqrt(len(z))
    assert abs(z.mean() - DRIFT_CONSTANTS[law]) <= 5 * se, (law, z.mean(), se)
    assert abs(np.mean(y * v**2) + DRIFT_CONSTANTS[law]) <= 5 * se  # the opposite direction: -c
    assert abs(np.mean(y * u * v)) <= 5 * se  # no first-order coupling of w_opp into w_sig
    assert DRIFT_CONSTANTS["gaussian"] == pytest.approx(2 / math.pi, abs=1e-15)


@pytest.mark.parametrize("law", sorted(DRIFT_CONSTANTS))
def test_first_order_drift_by_monte_carlo(law):
    # The whole population drift of one neuron w = s μ̂+ + w_perp (w_perp a random direction on the
    # other d - 2 coordinates, norm 1) along μ̂+, E[y u 1[w·x > 0]], against its first order
    # s·c/(√(2π)‖w_perp‖). Antithetic form ½E[y u (1[su + z > 0] - 1[-su + z > 0])] (u -> -u leaves y
    # unchanged), whose variance is O(s). Tolerance 10%: ≥ 4 standard errors here, and above the
    # O(s²) and (hypercube) O(1/d) corrections.
    d, s = 32, 0.1
    x, y = _law_rows(law, d)
    rng = np.random.default_rng(0)
    w_perp = np.zeros(d)
    w_perp[2:] = rng.standard_normal(d - 2)
    w_perp /= np.linalg.norm(w_perp)
    u, z = (x[:, 0] - x[:, 1]) / math.sqrt(2), x @ w_perp
    terms = 0.5 * y * u * ((s * u + z > 0).astype(float) - (-s * u + z > 0).astype(float))
    predicted = s * DRIFT_CONSTANTS[law] / math.sqrt(2 * math.pi)
    se = terms.std() / math.sqrt(len(terms))
    assert abs(terms.mean() - predicted) <= 0.1 * predicted, (law, terms.mean(), predicted, se)
    assert 0.1 * predicted >= 4 * se


def test_gaussian_rung_holds_at_its_own_rate_and_fails_at_the_hypercube_rate():
    v = check({16: rung(16, law="gaussian"), 32: rung(32, law="gaussian")})
    assert v.status == "holds", v.summary()
    assert v.thresholds["drift_constant"] == pytest.approx(2 / math.pi)
    assert v.stats["d16_rate_ratio"] == pytest.approx(1.0, abs=1e-6)
    # Gaussian data growing at the hypercube's rate (c = 1): ≈ 1/(2/π) = 1.57× the Gaussian prediction
    v = check({16: rung(16, law="gaussian", c=1.0), 32: rung(32, law="gaussian", c=1.0)})
    assert v.status == "fails" and "growth rate" in v.reason
    rho = ETA / math.sqrt(2 * math.pi)
    assert v.stats["d16_rate_ratio"] == pytest.approx(math.log1p(rho) / math.log1p(2 / math.pi * rho), rel=1e-9)


def test_law_without_drift_constant_decides_only_the_share():
    v = check({16: rung(16, law="my_law", c=1.0)})
    assert v.status == "inconclusive"
    assert "no derived drift constant" in v.reason
    assert math.isnan(v.thresholds["drift_constant"]) and math.isnan(v.stats["d16_rate_ratio"])
    # the share is still decided: a growing opposite component fails whatever the law
    v = check({16: rung(16, law="my_law", c=1.0, opp_factor=1.01)})
    assert v.status == "fails" and "grew w_sig and shrank w_opp" in v.reason


def test_grown_share_leaves_out_components_that_start_at_zero():
    # neuron 0: both components > 0, grew/shrank; neuron 1: w_opp(0) = 0 and grows (noise) -> judged on
    # w_sig only; neuron 2: both 0 at t = 0 -> in neither part; neuron 3: w_sig(0) = 0 -> judged on w_opp
    w_sig = np.array([[1.0, 1.0, 0.0, 0.0], [2.0, 2.0, 0.5, 0.3]])
    w_opp = np.array([[1.0, 0.0, 0.0, 1.0], [0.5, 0.2, 0.4, 2.0]])
    share, sig_out, opp_out = grown_share(w_sig, w_opp, 1)
    assert (share, sig_out, opp_out) == (pytest.approx(2 / 3), 2, 2)  # neuron 3's w_opp grew: it fails
    assert math.isnan(grown_share(np.zeros((2, 3)), np.zeros((2, 3)), 1)[0])


def test_neurons_starting_at_zero_do_not_fail_the_share():
    # sparse_finders-like: half of the neurons start with w_i = w_j = 0 and pick up a small plane component
    traj = rung(16)
    w = traj.arrays["w_coords"]
    w[0, :, :, 2:] = 0.0
    w[1:, :, :, 2:] = 1e-3 * THETA
    v = check({16: traj})
    assert v.stats["d16_share_grown"] == 1.0 and v.stats["d16_opp_excluded"] == 2.0
    assert v.per_seed[0]["d16_sig_excluded"] == 2
