"""What a run of simulator/engine.py keeps: per-step records, snapshots, divergence, the finished Trajectory.

The step writes its records (PER_STEP_FIELDS) into one of L slots of a staging ring whose
views are made once, so the step indexes no record; the ring is copied into the record
arrays every L steps and before they are read. At a snapshot step the recorder checks that
everything recorded since the last check is finite, keeps W and a, evaluates the test set,
and says whether the run may stop there (stop_step, stop_error, stop_phases).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import phases, population
from .config import RunConfig
from .trajectory import PER_STEP_FIELDS, Trajectory, expected_shapes, snapshot_steps

STAGE_STEPS = 64  # steps of per-step records staged before they are copied into the record arrays
EVAL_ELEMENTS = 1 << 18  # test-set entries generated at once at a snapshot (bounds the peak memory)


def eval_rows_for(d: int) -> int:
    """Test-set rows generated and evaluated at once at a snapshot."""
    return max(64, min(4096, EVAL_ELEMENTS // d))


class SimulationDiverged(RuntimeError):
    """A NaN or inf appeared in the parameters; `trajectory` holds what was recorded before."""

    def __init__(self, step: int, variant: str, seed: int, trajectory: Trajectory):
        super().__init__(
            f"non-finite value at step {step} in variant '{variant}' (seed {seed}); "
            f"the trajectory up to step {step} is kept on this exception (.trajectory)"
        )
        self.step, self.variant, self.seed, self.trajectory = step, variant, seed, trajectory


class Recorder:
    """The records of a run of cfg with parameters of shapes W (R, B, d), a (R, B) on dt, dev.

    `chunk_rows` goes into the trajectory's meta."""

    def __init__(self, cfg: RunConfig, dt: torch.dtype, dev: torch.device, chunk_rows: int, t_start: float) -> None:
        self.t_start = t_start  # perf_counter() at the start of the run
        self.cfg, self.dev, self.chunk_rows = cfg, dev, chunk_rows
        R, V, p, d, T = cfg.seeds, len(cfg.variants), cfg.p, cfg.d, cfg.steps
        B, K = V * p, len(cfg.label_coords)
        self.R, self.V, self.p, self.B = R, V, p, B
        self.seeds = [cfg.seed + r for r in range(R)]
        # device buffers of every step, written by index: no sync
        self.rec = {
            "a": torch.empty(T, R, B, dtype=dt, device=dev),
            "w_coords": torch.empty(T, R, B, K, dtype=dt, device=dev),
            "w_perp": torch.empty(T, R, B, dtype=dt, device=dev),
            "g_a": torch.empty(T, R, B, dtype=dt, device=dev),
            "g_w_norm2": torch.empty(T, R, B, dtype=dt, device=dev),
            "g_w_coords": torch.empty(T, R, B, 2, dtype=dt, device=dev),
            "g_sig_m2": torch.empty(T, R, B, 2, dtype=dt, device=dev),
            "batch_loss": torch.empty(T, R, V, dtype=dt, device=dev),
            "batch_err": torch.empty(T, R, V, dtype=dt, device=dev),
            "batch_margin": torch.empty(T, R, V, 4, dtype=dt, device=dev),
            "batch_max_dev": torch.empty(T, R, V, dtype=dt, device=dev),
        }
        assert set(self.rec) == set(PER_STEP_FIELDS)
        self.L = L = max(1, min(STAGE_STEPS, T))
        self.stage = {k: torch.empty((L,) + tuple(v.shape[1:]), dtype=dt, device=dev) for k, v in self.rec.items()}
        loss_err = torch.empty(L, 2, R, V, dtype=dt, device=dev)  # batch_loss and batch_err side by side
        self.stage["batch_loss"], self.stage["batch_err"] = loss_err[:, 0], loss_err[:, 1]
        self.slots = []  # per slot: the step's record views
        for sl in range(L):
            st = {k: v[sl] for k, v in self.stage.items()}
            st["loss_err"] = loss_err[sl]  # (2, R, V)
            st["g_sig_m2_v"] = st["g_sig_m2"].view(R, V, p, 2).permute(0, 2, 3, 1)  # (R, p, 2, V)
            self.slots.append(st)
        self.flushed = 0  # rec holds the steps [0, flushed); the later ones done so far are in the ring
        self.checked = 0  # the records of steps [0, checked) are known to be finite

        self.snaps = snapshot_steps(T, cfg.snapshots)
        self.snap_W_all = torch.empty(len(self.snaps), R, B, d, dtype=dt, device=dev)  # filled as they are taken
        self.snap_a: list[torch.Tensor] = []
        self.snap_test: list[dict[str, torch.Tensor]] = []
        self.test_set = population.TestSet(cfg, dt, dev, eval_rows_for(d))  # kept in memory when it fits KEEP_BYTES
        self.watch = phases.PhaseWatch(cfg) if cfg.stop_phases > 0 else None

    def slot(self, t: int) -> dict[str, torch.Tensor]:
        """Step t's record views."""
        return self.slots[t % self.L]

    def stepped(self, t: int) -> None:
        """Step t's records are written."""
        if (t + 1) % self.L == 0:
            self.flush(t + 1)

    def flush(self, t_end: int) -> None:
        """Copy the records of the steps [flushed, t_end) from the ring into rec (they lie in one run of slots)."""
        t0 = self.flushed
        if t_end > t0:
            s0 = t0 % self.L
            for k, v in self.stage.items():
                self.rec[k][t0:t_end].copy_(v[s0 : s0 + t_end - t0])
            self.flushed = t_end

    def is_snapshot(self, t: int) -> bool:
        return len(self.snap_a) < len(self.snaps) and self.snaps[len(self.snap_a)] == t

    def check_finite(self, t: int, W: torch.Tensor, a: torch.Tensor) -> None:
        """Raise at the first step ≤ t whose state (recorded, or current at t) is non-finite.

        Only the steps recorded since the last check are read: the earlier ones passed it."""
        self.flush(t)
        R, V, p, B = self.R, self.V, self.p, self.B
        t0, n = self.checked, t - self.checked
        new = [v[t0:t].reshape(-1) for v in self.rec.values()] + [W.view(-1), a.view(-1)]
        if bool(torch.isfinite(torch.cat(new)).all()):
            self.checked = t
            return  # all finite (one pass); otherwise find the first non-finite step, seed and neuron
        bad = torch.zeros(n, R, B, dtype=torch.bool, device=self.dev)
        for name, v in self.rec.items() if n > 0 else ():
            if PER_STEP_FIELDS[name] == "neuron":
                bad |= ~torch.isfinite(v[t0:t].reshape(n, R, B, -1)).all(-1)
            else:  # per variant: blame every neuron of that variant
                ok = torch.isfinite(v[t0:t].reshape(n, R, V, -1)).all(-1)
                bad |= ~ok.repeat_interleave(p, dim=-1)
        if bool(bad.any()):
            t_bad, r, k = [int(x) for x in torch.nonzero(bad)[0]]  # lexicographic: earliest step first
            t_bad += t0
        else:
            now = ~(torch.isfinite(W).all(-1) & torch.isfinite(a))  # (R, B)
            if not bool(now.any()):
                self.checked = t
                return
            t_bad = t
            r, k = [int(x) for x in torch.nonzero(now)[0]]
        self.diverged(t_bad, r, k // p)

    def diverged(self, t: int, r: int, v: int) -> None:
        """Raise SimulationDiverged at step t (seed index r, variant index v) with the records before t."""
        raise SimulationDiverged(t, self.cfg.variants[v], self.seeds[r], self.finished(t, keep_last=False))

    def snapshot(self, t: int, W: torch.Tensor, a: torch.Tensor) -> None:
        """Keep the state at t and its test-set metrics; a non-finite metric is a divergence at t."""
        R, V = self.R, self.V
        metrics = population.evaluate(W, a, V, self.cfg, test=self.test_set)
        bad = ~torch.isfinite(torch.cat([v.reshape(R, V, -1) for v in metrics.values()], -1)).all(-1)  # (R, V)
        if bool(bad.any()):
            r, v = [int(x) for x in torch.nonzero(bad)[0]]
            self.diverged(t, r, v)
        self.snap_W_all[len(self.snap_a)].copy_(W)
        self.snap_a.append(a.clone())
        self.snap_test.append(metrics)

    def may_stop(self, t: int) -> bool:
        """After the snapshot at t: past stop_step, every seed's main run at test error ≤ stop_error, or
        (stop_phases) every seed's main run past T1, T_ε and T_L by the watch's margin."""
        cfg = self.cfg
        if 0 < cfg.stop_step <= t:
            return True
        err = self.snap_test[-1]["test_err_count"][:, 0]
        if cfg.stop_error > 0 and bool((err <= cfg.stop_error * cfg.test_size).all()):
            return True
        return self.watch is not None and self._phases_passed(t)

    def _phases_passed(self, t: int) -> bool:
        """Show the watch the main run's steps since the last snapshot and the snapshot at t; may it stop?"""
        assert self.watch is not None
        s = slice(self.watch.steps_read, t)
        main = [self.rec[k][s, :, : self.p].cpu().numpy() for k in ("a", "w_coords", "w_perp")]  # main run's neurons
        self.watch.read_steps(*main)
        test = self.snap_test[-1]
        return self.watch.read_snapshot(
            t, test["test_err_count"][:, 0].cpu().numpy(), test["test_loss"][:, 0].cpu().numpy()
        )

    def finished(self, t_end: int, keep_last: bool = True) -> Trajectory:
        """Move everything recorded for steps [0, t_end) to the host as a Trajectory.

        The snapshots kept are those at steps ≤ t_end (< t_end when `keep_last` is False:
        a diverged state is not kept)."""
        cfg, R, V, p = self.cfg, self.R, self.V, self.p
        self.flush(t_end)
        arrays = {}
        for k, v in self.rec.items():
            tail = (V, p) + tuple(v.shape[3:]) if PER_STEP_FIELDS[k] == "neuron" else tuple(v.shape[2:])
            arrays[k] = v[:t_end].cpu().numpy().reshape((t_end, R) + tail)
        taken = self.snaps[: len(self.snap_a)]
        ns = sum(1 for s in taken if s < t_end or (keep_last and s == t_end))
        empty = expected_shapes(cfg, t_end, 0)
        arrays["snap_steps"] = np.asarray(self.snaps[:ns], dtype=np.int64)
        arrays["snap_W"] = (
            self.snap_W_all[:ns].cpu().numpy().reshape(ns, R, V, p, cfg.d) if ns else np.zeros(empty["snap_W"])
        )
        arrays["snap_a"] = (
            torch.stack(self.snap_a[:ns]).cpu().numpy().reshape(ns, R, V, p) if ns else np.zeros(empty["snap_a"])
        )
        for key in population.TEST_FIELDS:
            arrays[key] = (
                torch.stack([s[key] for s in self.snap_test[:ns]]).cpu().numpy() if ns else np.zeros(empty[key])
            )
        meta = {
            "device": str(self.dev),
            "wall_time_s": time.perf_counter() - self.t_start,
            "steps_done": t_end,
            "chunk_rows": self.chunk_rows,
        }
        return Trajectory.build(cfg, arrays, meta)
