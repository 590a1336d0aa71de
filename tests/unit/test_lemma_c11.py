"""C11 phase_lengths on hand-built ladders whose verdict is known by construction.

On every rung each neuron has a > 0, ‖w_perp‖ = 1 and ‖w_sig‖ jumping from 0 to 10 at
the step T1 we choose per seed (so S_t jumps from 0 to 1 there); the test error drops to 0
at the snapshot T_ε and the test loss to 0 at the snapshot T_L (so T_L, read between
snapshots, is that snapshot: the interpolation needs a positive loss below ζ).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.c02_signal_finding import t1_prediction
from lemmas.c11_phase_lengths import CLAIM, check, decide, log_exponent, mean_interval, t_loss_crossing
from simulator import RunConfig, large_init, parity3
from tests.support.synthetic import make_trajectory

P, R, ETA = 2, 3, 0.1
JITTER = (0.97, 1.0, 1.03)  # per-seed factors on the phase lengths: a nondegenerate interval


def rung(
    d: int,
    t1: list[int | None],
    t_loss: list[int | None] | None = None,
    t_eps: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    loss_curve: bool = False,
):
    """Per seed: T1 (None: never signal-heavy) and T_L (None: loss never ≤ ζ). loss_curve: the test loss
    decays as exp(-(t - T1)/50) after T1 instead of dropping from 1 to 0 at T_L."""
    reached = [x for x in list(t1) + list(t_loss or []) if x is not None]
    T = steps or 2 * max(reached or [100]) + 200
    cfg = RunConfig(d=d, p=P, m=4, eta=ETA, theta=0.1, steps=T, seeds=R, seed=seed, device="cpu", test_size=100)
    t = np.arange(T)[:, None]
    onset = np.asarray([x if x is not None else T + 1 for x in t1])
    s = np.broadcast_to(np.where(t >= onset, 10.0, 0.0)[:, :, None, None], (T, R, 1, P))
    extra = {x for x in (t_loss or []) if x} | ({t_eps} if t_eps else set())
    snaps = sorted(set(np.linspace(0, T, 51).round().astype(int).tolist()) | extra)
    steps_arr = np.asarray(snaps)[:, None]
    err = np.where(steps_arr >= (t_eps if t_eps is not None else T + 1), 0.0, 50.0)
    if loss_curve:
        loss = np.exp(-np.maximum(steps_arr - onset, 0) / 50.0)
    else:
        tl = np.asarray([x if x is not None else T + 1 for x in (t_loss or [None] * R)])
        loss = np.where(steps_arr >= tl, 0.0, 1.0)
    return make_trajectory(
        cfg,
        T=T,
        snap_steps=snaps,
        a=1.0,
        w_perp=1.0,
        w_coords=np.stack([s / math.sqrt(2), -s / math.sqrt(2)], axis=-1),
        test_err_count=np.broadcast_to(err[:, :, None], (len(snaps), R, 1)),
        test_loss=loss[:, :, None],
    )


def phase1(d: int, c: float = 2.0) -> float:
    """A phase-one length with exactly the predicted d-dependence: c(½ log d + log log d)/η."""
    return c * (0.5 * math.log(d) + math.log(math.log(d))) / ETA


def ladder(ds, t1_of, phase2_of=lambda d: 10 * math.log(math.log(d)) / ETA, jitter=JITTER):
    """Rungs with T1 = t1_of(d) and T_L = T1 + phase2_of(d), each times a per-seed factor."""
    out = {}
    for d in ds:
        t1 = [round(t1_of(d) * j) for j in jitter]
        out[d] = rung(d, t1, [a + round(phase2_of(d) * j) for a, j in zip(t1, jitter)])
    return out


def test_predicted_growth_holds():
    v = check(ladder((16, 32, 64), phase1))
    assert v.status == "holds", v.summary()
    for key in ("phase1", "phase2"):
        assert abs(v.stats[f"{key}_exponent"]) < 0.05
        assert -0.5 <= v.stats[f"{key}_exponent_lo"] <= v.stats[f"{key}_exponent_hi"] <= 0.5
    assert v.stats["d32_phase1"] == pytest.approx(2.0, rel=0.02)
    assert v.stats["d64_phase2"] == pytest.approx(10.0, rel=0.02)
    assert all(s["outcome"] == "pass" for s in v.per_seed)
    json.dumps(v.to_dict())
    assert set(v.series) == {"phase1", "phase2"}


def test_phase_one_proportional_to_sqrt_d_log_d_fails():
    # the case: T1·η ∝ √d·log d was accepted by "within a factor 2 of the median" on a 16× ladder;
    # here on the quick ladder {16, 32, 64} (4×): exponent ≈ 1.8
    v = check(ladder((16, 32, 64), lambda d: 0.5 * math.sqrt(d) * math.log(d) / ETA))
    assert v.status == "fails" and "phase one" in v.reason
    assert v.stats["phase1_exponent"] == pytest.approx(1.78, abs=0.05)
    assert v.stats["phase1_exponent_lo"] > 0.5


def test_phase_one_proportional_to_d_fails_on_a_narrow_ladder():
    # T1 ∝ d held the old factor-2 test on {16, 32, 64}; its exponent of log d is ≈ 2.5
    v = check(ladder((16, 32, 64), lambda d: 2.0 * d))
    assert v.status == "fails" and v.stats["phase1_exponent_lo"] > 0.5


def test_phase_one_constant_fails():
    v = check(ladder((16, 32, 64), lambda d: 40.0))  # Θ(1/η): exponent ≈ -0.93
    assert v.status == "fails" and v.stats["phase1_exponent_hi"] < -0.5


def test_phase_two_constant_fails_and_log_d_is_indistinguishable():
    v = check(ladder((16, 32, 64), phase1, phase2_of=lambda d: 100.0))  # Θ(1/η): exponent ≈ -0.83
    assert v.status == "fails" and "phase two" in v.reason and v.stats["phase2_exponent_hi"] < -0.5
    # Θ(log d/η) instead of Θ(log log d/η): exponent ≈ 0.18, inside the band. A documented limit of a
    # finite ladder, not a bug: the two cannot be told apart over {16, 32, 64}.
    v = check(ladder((16, 32, 64), phase1, phase2_of=lambda d: 10 * math.log(d) / ETA))
    assert v.status == "holds" and v.stats["phase2_exponent"] == pytest.approx(0.18, abs=0.02)


def test_noisy_seeds_leave_it_undecided():
    # one seed's phase one grows 4× faster than predicted over the ladder, another's 4× slower: mean
    # exponent 0, but the interval over three seeds is far wider than the band
    lad = {}
    for d, js in zip((16, 32, 64), ((0.5, 1.0, 2.0), (1.0, 1.0, 1.0), (2.0, 1.0, 0.5))):
        t1 = [round(phase1(d) * j) for j in js]
        lad[d] = rung(d, t1, [a + round(10 * math.log(math.log(d)) / ETA) for a in t1])
    v = check(lad)
    assert v.status == "inconclusive" and "cannot decide" in v.reason
    assert v.stats["phase1_exponent_lo"] < -0.5 < 0.5 < v.stats["phase1_exponent_hi"]


def test_phase_of_length_zero_fails():
    v = check({d: rung(d, [0, 0, 0], [50, 50, 50]) for d in (16, 32)})
    assert v.status == "fails" and "length ≤ 0" in v.reason
    lad = ladder((16, 32, 64), phase1)
    lad[32] = rung(32, [round(phase1(32))] * R, [round(phase1(32))] * R)  # T_L = T1: no tuning phase
    v = check(lad)
    assert v.status == "fails" and "phase two has length ≤ 0" in v.reason


def test_missing_boundaries():
    # T1 never reached at d = 32 on every seed: phase one (and two) unevaluable
    lad = ladder((16, 32, 64), phase1)
    lad[32] = rung(32, [None] * R, [None] * R, steps=300)
    v = check(lad)
    assert v.status == "inconclusive" and "T1 never reached" in v.reason
    # T_L missing on one seed of three: that seed is left out (named), the other two decide
    lad = ladder((16, 32, 64), phase1, jitter=(1.0, 1.0, 1.0))
    t1 = [round(phase1(64))] * R
    lad[64] = rung(64, t1, [None] + [a + round(10 * math.log(math.log(64)) / ETA) for a in t1[1:]])
    v = check(lad)
    assert v.status == "holds", v.summary()
    assert v.stats["phase2_seeds_unevaluable"] == 1.0 and "1 seed(s) without T1 or T_L" in v.reason
    assert v.per_seed[0]["outcome"] == "na"


def test_single_rung_is_inconclusive():
    v = check({32: rung(32, [round(phase1(32))] * R, [round(phase1(32)) + 100] * R)})
    assert v.status == "inconclusive" and "one rung" in v.reason


def test_t_loss_between_snapshots():
    # loss exp(-(t - T1)/50) after T1 = 100: it crosses ζ(64) = 1/log 64 at T1 + 50 log log 64 = 171.2…,
    # between the snapshots; the log-linear interpolation of an exponential decay is exact
    traj = rung(64, [100] * R, loss_curve=True, steps=600)
    expected = 100 + 50 * math.log(math.log(64))
    assert t_loss_crossing(traj) == pytest.approx([expected] * R, abs=1e-9)
    assert expected not in traj.snap_steps


def test_t1_over_prediction_uses_the_law():
    v = check(ladder((16, 32), phase1))
    assert v.stats["d16_T1_over_pred"] == pytest.approx(round(phase1(16)) / t1_prediction(16, ETA, 1.0), rel=1e-9)


def test_exponent_and_interval_helpers():
    assert log_exponent([16, 32, 64], np.log([16, 32, 64]) ** 1.5) == pytest.approx(1.5)
    mean, lo, hi = mean_interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t_{0.975, 2}
    assert decide(-0.2, 0.3) == "holds" and decide(0.6, 0.9) == "fails" and decide(-0.9, -0.6) == "fails"
    assert decide(0.2, 0.7) == "inconclusive"


def test_ladder_needs_same_seeds():
    with pytest.raises(ValueError, match="same seeds"):
        check({16: rung(16, [50] * R), 32: rung(32, [60] * R, seed=5)})


def test_claim_record():
    assert CLAIM.id == "C11" and CLAIM.needs == "ladder" and CLAIM.horizon == "phases"
    assert CLAIM.applies(large_init(16)) is None and CLAIM.applies(parity3(16))
