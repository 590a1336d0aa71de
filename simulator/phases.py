"""When a run has passed its phase boundaries: the claim-aware horizon of `RunConfig.stop_phases`.

C2 reads a run up to T1 and C11 up to T1, T_ε and T_L (docs/SPEC.md §2); nothing they
read lies beyond. A run with `stop_phases = ε > 0` watches, for every seed's main run,

    T1   the first recorded step with S_t ≥ 1 - ζ         (read at every snapshot, from the steps since the last)
    T_ε  the first snapshot with test error ≤ ε
    T_L  the first snapshot with test loss ≤ ζ

with the same arithmetic as `Trajectory.T1` and the claims' snapshot readings, and stops at
the first snapshot at or after (1 + STOP_MARGIN) × t*, t* the step by which every seed has
passed all three. A seed that never passes one runs the whole horizon, so a claim reads
the same T1, T_ε and T_L (and the same censoring) on a stopped run as on the full one.
"""

from __future__ import annotations

import math

import numpy as np

from .config import RunConfig, zeta
from .trajectory import signal_heavy_mass

STOP_MARGIN = 0.1  # the run goes on for a tenth of the time its last phase boundary took


class PhaseWatch:
    """Per seed, the first T1, T_ε and T_L of the main run seen so far (-1: not yet)."""

    def __init__(self, cfg: RunConfig):
        self.eps, self.z, self.n_test = float(cfg.stop_phases), zeta(cfg.d), cfg.test_size
        self.t1 = np.full(cfg.seeds, -1)
        self.t_eps = np.full(cfg.seeds, -1)
        self.t_loss = np.full(cfg.seeds, -1)
        self.steps_read = 0  # the steps [0, steps_read) have been read
        self.stop_at: int | None = None  # the first step the run may stop at, once every seed has passed all three

    def read_steps(self, a: np.ndarray, w_coords: np.ndarray, w_perp: np.ndarray) -> None:
        """The main run's records of the next steps: a (t, R, p), w_coords (t, R, p, K), w_perp (t, R, p)."""
        if a.shape[0] == 0:
            return
        found = signal_heavy_mass(a, w_coords, w_perp, self.z) >= 1 - self.z  # (t, R)
        first = np.where(found.any(0), self.steps_read + found.argmax(0), -1)
        self.t1 = np.where(self.t1 < 0, first, self.t1)
        self.steps_read += a.shape[0]

    def read_snapshot(self, t: int, err_count: np.ndarray, loss: np.ndarray) -> bool:
        """The main run's test error count and test loss (R,) at snapshot t; True when the run may stop at t."""
        self.t_eps = np.where((self.t_eps < 0) & (err_count / self.n_test <= self.eps), t, self.t_eps)
        self.t_loss = np.where((self.t_loss < 0) & (loss <= self.z), t, self.t_loss)
        if self.stop_at is None:
            passed = np.stack((self.t1, self.t_eps, self.t_loss))  # (3, R)
            if (passed >= 0).all():
                self.stop_at = math.ceil((1 + STOP_MARGIN) * int(passed.max()))
        return self.stop_at is not None and t >= self.stop_at
