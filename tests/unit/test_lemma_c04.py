"""C4 clean approximation on hand-built trajectories whose verdict is known by construction.

T1 is set through the per-step arrays (every neuron signal-heavy from step T1 on, as in
test_lemma_c03: ‖w_perp‖ = 1, ‖w_opp‖ = 0, ‖w_sig‖ = 10 from T1 on, so heavy at ζ and at ζ/2);
`start` delays the phase-two start: between T1 and it ‖w_sig‖ = 1.05/ζ (heavy at ζ, not at
ζ/2). The test-set quantities at the snapshots are set directly: clean cluster margins
(1, 2, 3, 4) (max |γ̃| = 4, min = 1), the gap max|f - f̃| and the sign agreement.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lemmas.base import THRESHOLDS
from lemmas.c04_clean_approximation import CLAIM, check, every_step_to, gap_ratios, phase_two_start, seed_outcomes
from lemmas.plan import Example, bundle, check_seeds, every_step_prefix, linearized_t1, with_prefix_snapshots
from simulator import RunConfig, large_init, parity3
from simulator.cache import TrajectoryCache
from tests.support import panels
from tests.support.synthetic import make_trajectory
from tests.support.violations import assert_violation_agrees

D, P, R, T = 32, 4, 4, 30
SNAPS = [0, 5, 10, 15, 20, 25, T]
Z = 1 / math.log(D)
MARGINS = np.array([1.0, 2.0, 3.0, 4.0])


def build(
    t1: int | None = 10,
    *,
    start: int | None = -1,
    gap: float | np.ndarray = 0.1 * Z * 4,
    agree: float | np.ndarray = 1.0,
    margins: np.ndarray = MARGINS,
    regime: str = "custom",
    label_coords=(0, 1),
    data: str = "boolean",
):
    """gap / agree: a value for every snapshot, or (S,) or (S, R) arrays; start: the phase-two start
    (-1: T1 itself, None: never)."""
    cfg = RunConfig(
        d=D,
        p=P,
        m=4,
        eta=0.1,
        theta=0.1,
        steps=T,
        seeds=R,
        device="cpu",
        test_size=1000,
        regime=regime,
        label_coords=label_coords,
        data=data,
    )
    never = T + 1
    t1_ = never if t1 is None else t1
    start_ = never if start is None else (t1_ if start == -1 else start)
    steps = np.arange(T)
    sig = np.where(steps >= start_, 10.0, np.where(steps >= t1_, 1.05 / Z, 0.0))
    s = sig[:, None, None, None] * np.ones((1, R, 1, P))
    w_coords = np.zeros((T, R, 1, P, len(label_coords)))
    w_coords[..., 0], w_coords[..., 1] = s / math.sqrt(2), -s / math.sqrt(2)
    S = len(SNAPS)

    def per_snap(x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        return np.broadcast_to(x, (S, R))[:, :, None]

    return make_trajectory(
        cfg,
        T=T,
        snap_steps=SNAPS,
        a=1.0,
        w_perp=1.0,
        w_coords=w_coords,
        test_clean_gap=per_snap(gap),
        test_sign_agree=per_snap(agree),
        test_clean_margin=np.broadcast_to(margins, (S, R, 1, 4)),
    )


def test_close_to_clean_network_holds():
    v = check(build())
    assert v.status == "holds", v.summary()
    assert v.stats["max_gap_over_max_margin"] == pytest.approx(0.1 * Z)
    assert v.stats["max_gap_over_min_margin"] == pytest.approx(0.4 * Z)  # reported, not compared
    assert v.thresholds["gap_over_max_margin_max"] == pytest.approx(Z)
    json.dumps(v.to_dict())
    assert set(v.series) == {"gap_over_max_margin", "gap_over_min_margin", "sign_agree"}
    assert list(panels.median(v.series["gap_over_max_margin"]).x) == [float(s) for s in SNAPS]


def test_large_gap_after_T1_fails():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[3] = 1.5 * Z * 4  # snapshot step 15 ≥ T1
    v = check(build(gap=gap))
    assert v.status == "fails"
    assert all(p["first_violation"] == 15 for p in v.per_seed)


def test_gap_before_T1_is_not_part_of_the_claim():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[1] = 10.0  # snapshot step 5 < T1 = 10
    assert check(build(gap=gap)).status == "holds"


def test_gap_ratio_to_min_margin_is_reported_only():
    v = check(build(gap=0.9 * Z * 4))  # ≤ ζ·max|γ̃| but 3.6·ζ·min|γ̃|
    assert v.status == "holds"
    assert v.stats["max_gap_over_min_margin"] == pytest.approx(3.6 * Z)


def test_sign_disagreement_after_T1_fails():
    agree = np.ones(len(SNAPS))
    agree[-1] = 1 - 1.5 * Z
    v = check(build(agree=agree))
    assert v.status == "fails"
    assert v.stats["min_sign_agree"] == pytest.approx(1 - 1.5 * Z)


def test_zero_margins():
    assert check(build(gap=0.0, margins=np.zeros(4))).status == "holds"  # f = f̃ = 0: ratio 0
    v = check(build(gap=0.1, margins=np.zeros(4)))  # a gap over nothing: ratio ∞
    assert v.status == "fails"
    assert v.stats["max_gap_over_max_margin"] == math.inf
    json.dumps(v.to_dict())  # ∞ is serialisable (as a string)


def test_gap_ratios_uses_absolute_margins():
    traj = build(margins=np.array([-8.0, 2.0, 3.0, 4.0]), gap=1.0)
    r_max, r_min = gap_ratios(traj)
    np.testing.assert_allclose(r_max, 1 / 8)
    np.testing.assert_allclose(r_min, 1 / 2)


def test_one_failing_seed_of_four_still_holds():
    gap = np.full((len(SNAPS), R), 0.1 * Z * 4)
    gap[-1, 2] = 2 * Z * 4
    v = check(build(gap=gap))
    assert v.status == "holds"
    assert [p["outcome"] for p in v.per_seed] == ["pass", "pass", "fail", "pass"]


def test_phase_two_starts_where_the_network_is_signal_heavy_at_half_zeta():
    traj = build(10, start=20)
    np.testing.assert_array_equal(traj.T1(), 10)
    np.testing.assert_array_equal(phase_two_start(traj), 20)
    np.testing.assert_array_equal(phase_two_start(build(10)), 10)  # ‖w_sig‖ = 10 is heavy at ζ/2 at once
    v = check(traj)
    assert v.stats["phase_two_start_median"] == 20 and v.stats["transient_steps_median"] == 10
    assert v.thresholds["hypothesis_factor"] == 0.5
    assert panels.vlines(v.series["gap_over_max_margin"]) == {"T1 (median)": 10, "phase-two start (median)": 20}


def test_gap_in_the_transient_is_reported_not_judged():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[2] = 2 * Z * 4  # snapshot step 10 = T1, before the phase-two start 20
    gap[3] = 1.5 * Z * 4  # step 15, still in the transient
    v = check(build(10, start=20, gap=gap))
    assert v.status == "holds", v.summary()
    assert v.stats["transient_max_gap_over_max_margin"] == pytest.approx(2 * Z)
    assert v.stats["max_gap_over_max_margin"] == pytest.approx(0.1 * Z)
    assert all(p["transient_snapshots"] == 2 and p["snapshots_checked"] == 3 for p in v.per_seed)
    # the same gaps read from T1 on (the reading before the phase-two start was defined) fail
    assert all(p["outcome"] == "fail" for p in seed_outcomes(build(10, start=20, gap=gap), np.full(R, 10)))


def test_gap_from_the_phase_two_start_on_fails():
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[4] = 1.5 * Z * 4  # snapshot step 20 = the phase-two start
    v = check(build(10, start=20, gap=gap))
    assert v.status == "fails"
    assert all(p["first_violation"] == 20 for p in v.per_seed)
    assert "phase two from 20, T1 = 10" in v.per_seed[0]["why"]


def test_sign_disagreement_in_the_transient_is_reported_not_judged():
    agree = np.ones(len(SNAPS))
    agree[3] = 1 - 1.5 * Z  # step 15 < phase-two start 20
    v = check(build(10, start=20, agree=agree))
    assert v.status == "holds"
    assert v.stats["transient_min_sign_agree"] == pytest.approx(1 - 1.5 * Z) and v.stats["min_sign_agree"] == 1.0


def test_phase_two_never_starting_is_inconclusive():
    v = check(build(10, start=None))  # signal-heavy at ζ from T1 on, never at ζ/2
    assert v.status == "inconclusive"
    assert "phase two never starts" in v.reason
    assert all(p["outcome"] == "na" and p["transient_snapshots"] == 5 for p in v.per_seed)  # 10, 15, 20, 25, T


def test_never_found_is_inconclusive():
    v = check(build(None))
    assert v.status == "inconclusive"
    assert "T1 not reached" in v.reason


def test_gaussian_data_reads_the_same_snapshot_fields():
    assert check(build(data="gaussian")).status == "holds"


def test_parity3_is_not_applicable():
    assert CLAIM.applies(parity3(16)) is not None and CLAIM.applies(large_init(16)) is None
    v = check(build(regime="parity3", label_coords=(0, 1, 2)))
    assert v.status == "inconclusive" and "not defined" in v.reason


def test_claim_record():
    assert CLAIM.id == "C4" and CLAIM.slug == "clean_approximation" and CLAIM.needs == "run"


def test_phase_two_never_starts_before_T1():
    """Signal-heavy at ζ/2 implies signal-heavy at ζ (ζ/2·‖w_sig‖ ≥ m ⇒ ζ·‖w_sig‖ ≥ m), so S_t(ζ/2) ≤ S_t(ζ),
    and S_t(ζ/2) ≥ 1 - ζ/2 ⇒ S_t(ζ) ≥ 1 - ζ: the phase-two start is never before T1 (random growing
    signal components, 64 seeds)."""
    rng = np.random.default_rng(0)
    seeds, steps = 64, 200
    cfg = RunConfig(d=D, p=P, m=4, eta=0.1, theta=0.1, steps=steps, seeds=seeds, device="cpu", test_size=1000)
    sig = 0.1 * np.exp(np.cumsum(rng.uniform(0, 0.06, (steps, seeds, 1, P)), axis=0))  # ⟨w, μ̂+⟩ (a > 0)
    opp = rng.normal(0, 0.3, (1, seeds, 1, P))  # ⟨w, μ̂-⟩
    w_coords = np.stack([sig + opp, -sig + opp], axis=-1) / math.sqrt(2)
    traj = make_trajectory(
        cfg, a=rng.uniform(0.5, 2, (1, seeds, 1, P)), w_coords=w_coords, w_perp=rng.uniform(0.2, 1, (1, seeds, 1, P))
    )
    z = traj.zeta
    assert (traj.S(0, z / 2) <= traj.S(0, z) + 1e-12).all()
    t1, start = traj.T1(), phase_two_start(traj)
    assert (t1 >= 0).sum() > seeds // 2 and (start >= 0).sum() > seeds // 4  # the property is exercised
    assert ((start < 0) | (start >= t1) & (t1 >= 0)).all()
    assert (start > t1).any()


def test_every_step_to_is_the_contiguous_start_of_the_grid():
    assert every_step_to(np.array([0, 1, 2, 3, 10, 20])) == 3
    assert every_step_to(np.array([0, 1, 2])) == 2
    assert every_step_to(np.array([0, 5, 10])) == 0 and every_step_to(np.array([5, 10])) == -1
    v = check(build(10, start=20))  # SNAPS = 0, 5, …: only step 0 is read at every step
    assert v.stats["every_step_to"] == 0 and v.stats["seeds_start_between_snapshots"] == R
    assert not any(p["start_read_at_every_step"] for p in v.per_seed)


def test_plan_reads_c4_with_a_snapshot_at_every_step_of_its_prefix(tmp_path):
    """Through the plan (lemmas.plan.check_seeds, what evaluate does per batch of seeds; tiny real runs): the
    whole run, then its every-step prefix, whose records are the whole run's, bit for bit; C4 reads the
    prefix's snapshots, then the run's own."""
    seen: list[RunConfig] = []
    cache = TrajectoryCache(tmp_path)

    def get(cfg: RunConfig):
        seen.append(cfg)
        return cache.get_or_run(cfg)

    ex = Example("paper", d=8, seeds=2)
    v = check_seeds(CLAIM, ex, get)
    whole_cfg, prefix_cfg = seen
    assert whole_cfg == bundle(ex) and prefix_cfg == every_step_prefix(whole_cfg, THRESHOLDS.c4_every_step_window)
    end = math.ceil(THRESHOLDS.c4_every_step_window * linearized_t1(whole_cfg))
    assert prefix_cfg.steps == min(whole_cfg.steps, end) and prefix_cfg.snapshots == prefix_cfg.steps + 1
    assert prefix_cfg.variants == whole_cfg.variants == ("logistic", "frozen_a")
    whole, prefix = get(whole_cfg), get(prefix_cfg)
    for name in ("a", "w_coords", "w_perp", "batch_max_dev"):  # the same steps, bit for bit
        np.testing.assert_array_equal(prefix.arrays[name], whole.arrays[name][: prefix_cfg.steps])
    merged = with_prefix_snapshots(whole, prefix)
    steps = merged.snap_steps
    assert list(steps[: prefix_cfg.steps + 1]) == list(range(prefix_cfg.steps + 1))
    assert list(steps[prefix_cfg.steps + 1 :]) == [s for s in whole.snap_steps if s > prefix_cfg.steps]
    assert len(merged.arrays["snap_W"]) == len(steps)
    for k, s in enumerate(whole.snap_steps):  # the whole run's own snapshots, where both have one, agree
        j = int(np.flatnonzero(steps == s)[0])
        for name in ("test_clean_gap", "snap_W"):
            np.testing.assert_array_equal(merged.arrays[name][j], whole.arrays[name][k])
    assert v.stats["every_step_to"] >= prefix_cfg.steps  # the run's own grid may go on at every step
    assert v.to_dict() == check(merged).to_dict()


def test_a_prefix_of_another_run_is_refused():
    a, b = build(10), build(10)
    b.config = b.config.replace(seed=5)
    with pytest.raises(ValueError, match="not a prefix"):
        with_prefix_snapshots(a, b)


@pytest.mark.parametrize("scale", [0.1, 0.9, 1.5])
def test_violation_is_the_gap_clause(scale):
    """C4's violation statistic is the gap clause max|f-f̃|/max|γ̃| from the phase-two start: with full sign
    agreement it is the claim (≤ ζ ⇔ pass); it equals the reported per-seed maximum."""
    gap = np.full(len(SNAPS), 0.1 * Z * 4)
    gap[3] = scale * Z * 4
    stat = assert_violation_agrees(CLAIM, build(gap=gap), clause_is_claim=True)
    assert stat == pytest.approx(max(scale, 0.1) * Z)
    assert np.isnan(CLAIM.violation(build(None))).all()  # T1 never reached: unevaluable
