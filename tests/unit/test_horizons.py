"""Claim-aware horizons: a run with `stop_phases` stops once every seed has passed T1, T_ε and T_L,
and the claims that read only that far (C2, C10, C11) read the same on it as on the whole run; Q1's grid
runs stop (`stop_step`) once no seed can improve its least sample count."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import simulator
from lemmas import plan
from lemmas.base import THRESHOLDS, Claim, Verdict, registry
from lemmas.c11_phase_lengths import t_eps, t_loss
from lemmas.q1_batch_size import CLAIM as Q1
from simulator.cache import TrajectoryCache
from simulator.phases import STOP_MARGIN, PhaseWatch
from simulator.trajectory import PER_STEP_FIELDS, snapshot_steps
from tests.support.synthetic import make_trajectory

EPS = THRESHOLDS.eps
LADDER = (16, 32)


@pytest.fixture(scope="module")
def runs() -> dict[int, tuple[simulator.Trajectory, simulator.Trajectory]]:
    """(whole run, run stopped at its phases) of the paper regime, 3 seeds, on each rung."""
    out = {}
    for d in LADDER:
        cfg = simulator.paper(d, seeds=3, device="cpu")
        out[d] = (simulator.run(cfg), simulator.run(cfg.replace(stop_phases=EPS)))
    return out


def passed_at(traj: simulator.Trajectory) -> int | None:
    """t*: the step by which every seed has passed T1, T_ε and T_L (read as C2 and C11 read them), or None."""
    t = np.stack((traj.T1(), t_eps(traj), t_loss(traj)))
    return int(t.max()) if (t >= 0).all() else None


def test_runs_stop_where_every_seed_has_passed_its_phases(runs) -> None:
    """With every seed past T1, T_ε and T_L, the run stops at the first snapshot at or after (1 + STOP_MARGIN)·t*;
    otherwise (d = 16: two seeds never reach ε in the horizon) it is the whole run."""
    stopped = 0
    for d, (full, stop) in runs.items():
        t_star = passed_at(full)
        if t_star is None:
            assert not stop.meta.get("stopped_early") and stop.steps == full.steps, d
            continue
        want = min(s for s in full.snap_steps.tolist() if s >= math.ceil((1 + STOP_MARGIN) * t_star))
        assert stop.meta.get("stopped_early") and stop.complete and stop.steps == want < full.steps, (d, want)
        stopped += 1
    assert stopped, "no rung stopped early: the test no longer exercises the stop"


def test_stopped_run_is_the_prefix_of_the_whole_run(runs) -> None:
    """Same init and batches: every per-step array and snapshot of the stopped run is bit-identical to the
    whole run's first steps, so its T1, T_ε and T_L are the whole run's."""
    for d, (full, stop) in runs.items():
        ns = len(stop.snap_steps)
        for k, v in stop.arrays.items():
            ref = full.arrays[k][: stop.steps] if k in PER_STEP_FIELDS else full.arrays[k][:ns]
            np.testing.assert_array_equal(v, ref, err_msg=f"d={d} {k}")
        for read in (simulator.Trajectory.T1, t_eps, t_loss):
            np.testing.assert_array_equal(read(stop), read(full))


@pytest.mark.parametrize("cid", ["C2", "C10", "C11"])
def test_phase_claims_read_the_same_on_the_stopped_runs(runs, cid: str) -> None:
    """The verdict, every statistic and every seed's outcome of C2, C10 and C11 are those of the whole runs."""
    claim = registry()[cid]
    assert claim.horizon == "phases"
    full = claim.check({d: r[0] for d, r in runs.items()})
    stop = claim.check({d: r[1] for d, r in runs.items()})
    same = json.dumps([full.status, full.stats, full.per_seed]) == json.dumps([stop.status, stop.stats, stop.per_seed])
    assert same, (full.to_dict(), stop.to_dict())


def test_a_seed_that_never_passes_runs_the_whole_horizon() -> None:
    """A horizon too short for T1, or one that ends after T1 but before T_L, is run whole (not stopped)."""
    cfg = simulator.paper(16, seeds=2, device="cpu")
    for steps in (20, 100):  # at d = 16: T1 ≈ 40 steps, T_L ≈ 150
        run = simulator.run(cfg.replace(steps=steps, stop_phases=EPS))
        assert run.steps == steps and not run.meta.get("stopped_early") and run.complete, steps
        assert ((run.T1() >= 0).all() and (t_loss(run) < 0).any()) if steps == 100 else (run.T1() < 0).all()


def test_watch_reads_t1_across_snapshots() -> None:
    """T1 is the first step over every chunk of steps read, not the first of the last chunk."""
    cfg = simulator.paper(16, seeds=1, device="cpu", stop_phases=EPS)
    w = PhaseWatch(cfg)
    heavy = (np.ones((3, 1, 2)), np.tile([1.0, -1.0, 0.0], (3, 1, 2, 1)), np.zeros((3, 1, 2)))  # S = 1
    light = (np.ones((4, 1, 2)), np.tile([1.0, 1.0, 0.0], (4, 1, 2, 1)), np.ones((4, 1, 2)))  # S = 0
    w.read_steps(*light)
    w.read_steps(*heavy)
    w.read_steps(*light)
    assert w.t1.tolist() == [4] and w.steps_read == 11
    assert not w.read_snapshot(11, np.array([1000.0]), np.array([0.9]))  # T_ε, T_L not yet
    assert not w.read_snapshot(20, np.array([0.0]), np.array([0.0]))  # t* = 20: may stop from 22 on
    assert w.stop_at == math.ceil((1 + STOP_MARGIN) * 20)
    assert w.read_snapshot(22, np.array([5.0]), np.array([0.5]))  # passed stays passed
    assert (w.t_eps.tolist(), w.t_loss.tolist()) == ([20], [20])


def test_stored_whole_run_serves_a_stopped_request(tmp_path) -> None:
    """The cache answers a stop_phases request with the stored whole run of the same config, not a new run."""
    cfg = simulator.paper(16, seeds=1, device="cpu", snapshots=4)
    cache = TrajectoryCache(tmp_path)
    whole = cache.fetch(cfg)
    assert whole.computed
    again = cache.fetch(cfg.replace(stop_phases=EPS))
    assert not again.computed and again.path == whole.path and again.trajectory.steps == cfg.steps
    assert cache.fetch(cfg.replace(steps=cfg.steps - 1, stop_phases=EPS)).computed  # another config: a new run


def test_plan_asks_ladder_claims_for_stopped_runs() -> None:
    """C2 and C11 request their rungs with stop_phases = ε; a claim of the whole horizon gets the whole run."""
    asked: list[simulator.RunConfig] = []

    def get(cfg: simulator.RunConfig) -> simulator.Trajectory:
        asked.append(cfg)
        raise LookupError

    ex = plan.Example(regime="paper", d=16, width=1, seed=0, seeds=2, ladder=LADDER)
    for cid in ("C2", "C11"):
        asked.clear()
        with pytest.raises(LookupError):
            plan.evaluate(registry()[cid], ex, get)
        assert asked and all(c.stop_phases == EPS for c in asked), cid
    whole = Claim("C99", "whole", "t", "a", "s", check=lambda runs: Verdict("C99", "holds", ""), needs="ladder")
    asked.clear()
    with pytest.raises(LookupError):
        plan.evaluate(whole, ex, get)
    assert asked[0].stop_phases == 0


def test_bad_horizon_and_stop_phases_are_refused() -> None:
    with pytest.raises(ValueError, match="Claim.horizon"):
        Claim("C99", "x", "t", "a", "s", check=lambda r: Verdict("C99", "holds", ""), horizon="T1")
    for bad in (-0.1, 1.0, True, "0.1", float("nan")):
        with pytest.raises(ValueError, match=r"RunConfig.stop_phases = .* \[0, 1\)"):
            simulator.paper(16, stop_phases=bad)
    with pytest.raises(ValueError, match=r"RunConfig.stop_step = -1 .*allowed range \[0, "):
        simulator.paper(16, stop_step=-1)


def test_stop_step_stops_at_the_first_snapshot_past_it_on_the_whole_runs_grid() -> None:
    """`stop_step` ends the run at the first snapshot of the `steps` grid at or after it: the whole run's prefix."""
    cfg = simulator.paper(16, seeds=2, device="cpu", steps=200, snapshots=11)
    whole = simulator.run(cfg)
    cut = simulator.run(cfg.replace(stop_step=45))
    at = min(s for s in whole.snap_steps.tolist() if s >= 45)
    assert cut.meta.get("stopped_early") and cut.complete and cut.steps == at < cfg.steps
    assert cut.snap_steps.tolist() == [s for s in whole.snap_steps.tolist() if s <= at]
    for k in ("a", "w_coords", "batch_loss"):
        np.testing.assert_array_equal(cut.arrays[k], whole.arrays[k][:at])
    np.testing.assert_array_equal(cut.arrays["test_err_count"], whole.arrays["test_err_count"][: len(cut.snap_steps)])
    assert simulator.run(cfg.replace(stop_step=cfg.steps)).steps == cfg.steps  # at the horizon: the whole run


def grid_run(cfg: simulator.RunConfig) -> simulator.Trajectory:
    """A stand-in for the engine on Q1's grid runs, with its stop rules: seed s reaches ε after
    n(m) = d·log²d·(1 + |log₂(m/4)|/4)·(1 + s/10) samples (least at m = 4), never at m = 1 for even
    seeds; the error is 0.5 before and 0 after, read on the run's own snapshot grid (p = 1 to stay small)."""

    def t_eps(seed: int) -> int | None:
        if cfg.m == 1 and seed % 2 == 0:
            return None
        n = cfg.d * math.log(cfg.d) ** 2 * (1 + abs(math.log2(cfg.m / 4)) / 4) * (1 + seed / 10)
        return math.ceil(n / cfg.m)

    reach = [t_eps(cfg.seed + r) for r in range(cfg.seeds)]
    grid = snapshot_steps(cfg.steps, cfg.snapshots)
    snaps = []
    for s in grid:
        snaps.append(s)
        done = all(t is not None and t <= s for t in reach)
        if s < cfg.steps and ((cfg.stop_error > 0 and done) or 0 < cfg.stop_step <= s):
            break
    err = np.array([[0.0 if t is not None and s >= t else 0.5 for t in reach] for s in snaps]) * cfg.test_size
    traj = make_trajectory(cfg.replace(p=1), T=snaps[-1], snap_steps=snaps, test_err_count=err[:, :, None])
    traj.meta["stopped_early"] = snaps[-1] < cfg.steps
    return traj


def test_q1_search_stops_settled_runs_without_changing_what_it_reads() -> None:
    """Once every seed has a least n, a grid run stops past n_best/m (stop_step); the search tries the same batch
    sizes and Q1 reads the same n*, arg-min and statistics as on the whole runs, for fewer samples."""
    ex = plan.Example(regime="paper", d=8, seeds=4, ladder=(8, 16, 32, 64, 128))
    asked: dict[str, list[simulator.RunConfig]] = {"cut": [], "whole": []}

    def get(kind: str):
        def run(cfg: simulator.RunConfig) -> simulator.Trajectory:
            cfg = cfg if kind == "cut" else cfg.replace(stop_step=0)
            asked[kind].append(cfg)
            return grid_run(cfg)

        return run

    cut, whole = plan.q1_grid(ex, get("cut")), plan.q1_grid(ex, get("whole"))
    assert {d: list(r) for d, r in cut.items()} == {d: list(r) for d, r in whole.items()}
    assert any(c.stop_step > 0 for c in asked["cut"]), "no grid run was stopped: the test no longer exercises it"
    a, b = Q1.check(cut), Q1.check(whole)
    assert a.status == "holds"
    assert json.dumps([a.status, a.stats, a.per_seed]) == json.dumps([b.status, b.stats, b.per_seed])
    samples = {
        k: sum(t.steps * t.config.m for rows in g.values() for t in rows.values())
        for k, g in (("cut", cut), ("whole", whole))
    }
    assert samples["cut"] < samples["whole"], samples
