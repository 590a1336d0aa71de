"""What a run records, its named accessors (docs/SPEC.md §2), and the `.npz` file format.

Per step t (the state *before* update t, and the statistics of step t's minibatch at
that state), for every seed r, variant v and neuron k (size O(T·p)):

    a              a_k                                   (T, R, V, p)
    w_coords       w_k at the label coordinates (i, j[, l])  (T, R, V, p, K)
    w_perp         ‖w_perp,k‖ (all coordinates but i, j)  (T, R, V, p)
    g_a, g_w_norm2 the step's gradients g_a,k and ‖g_w,k‖² (T, R, V, p)
    g_w_coords     g_w,k at (i, j)                        (T, R, V, p, 2)
    g_sig_m2       batch second moment of the per-sample gradient along μ̂+ and μ̂-  (T, R, V, p, 2)
    batch_loss, batch_err, batch_max_dev   loss h, 0-1 error, max |h'(γ)/h'(0) - 1|   (T, R, V)
    batch_margin   mean margin γ per cluster              (T, R, V, 4)

At the snapshots (`snap_steps`: a uniform grid, log-spaced steps, and the last, T):
full `snap_W` (S, R, V, p, d), `snap_a`, and the test-set metrics of population.py.

h is the variant's loss (simulator.losses); |h'(γ)/h'(0) - 1| is |h'(γ) + 1| for the logistic
loss. The loss and deviation recorded for a proxy variant (`linear`, `squared_linear`, …) are
those of the loss it linearizes at the proxy run's margins (the quantities C1 compares), not
of the proxy h0.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import RunConfig, zeta
from .files import atomic_write

FORMAT_VERSION = 1
PER_STEP_FIELDS = {
    "a": "neuron",
    "w_coords": "neuron",
    "w_perp": "neuron",
    "g_a": "neuron",
    "g_w_norm2": "neuron",
    "g_w_coords": "neuron",
    "g_sig_m2": "neuron",
    "batch_loss": "variant",
    "batch_err": "variant",
    "batch_margin": "variant",
    "batch_max_dev": "variant",
}
LOG_SNAPSHOTS = 24
# Types of the meta fields that readers use (a hand-edited header must not crash them).
META_TYPES: dict[str, type | tuple[type, ...]] = {
    "steps_done": int,
    "stopped_early": bool,
    "wall_time_s": (int, float),
    "device": str,
}


class TrajectoryFileError(ValueError):
    """A trajectory file that cannot be trusted: damaged, truncated, or from another version."""


def snapshot_steps(T: int, uniform: int = 50) -> list[int]:
    """Snapshot steps in [0, T]: `uniform` evenly spaced, ~24 log-spaced, and the last (T)."""
    grid = set(np.unique(np.round(np.linspace(0, T, max(uniform, 2))).astype(int)).tolist())
    grid |= set(np.unique(np.round(np.geomspace(1, T, LOG_SNAPSHOTS)).astype(int)).tolist())
    grid |= {0, T}
    return sorted(g for g in grid if 0 <= g <= T)


def _package_version() -> str:
    from . import __version__

    return __version__


@dataclass
class Trajectory:
    """The record of one (batched, coupled) run; accessors are vectorised over seeds."""

    config: RunConfig
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- construction / io
    @classmethod
    def build(cls, cfg: RunConfig, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Trajectory:
        import torch

        meta = {
            "format_version": FORMAT_VERSION,
            "package_version": _package_version(),
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            **meta,
        }
        return cls(cfg, arrays, meta)

    def save(self, path: str | os.PathLike) -> Path:
        """Write one .npz atomically (simulator.files.atomic_write: the old file or the new one, never a part)."""
        header = json.dumps({"config": self.config.to_dict(), "meta": self.meta}, sort_keys=True)
        return atomic_write(
            path,
            lambda fh: np.savez(
                fh,
                __header__=np.frombuffer(header.encode(), dtype=np.uint8),
                # mypy checks **arrays against savez's `allow_pickle: bool` too; no trajectory field has that name
                **self.arrays,  # type: ignore[arg-type]
            ),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectory:
        """Read a file written by `save`; anything damaged or foreign raises TrajectoryFileError.

        A file that cannot be opened (missing, a folder, no permission) raises the OSError of `open`.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":  # what np.savez writes first: a zip member header
                raise TrajectoryFileError(f"{path}: not a trajectory file (not an .npz archive: empty, or other data)")
            fh.seek(0)
            try:
                with np.load(fh, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            except Exception as e:  # zipfile/numpy raise many kinds on damaged bytes (BadZipFile, …)
                raise TrajectoryFileError(
                    f"{path}: not a readable trajectory file ({type(e).__name__}: {e}); "
                    "it is damaged or truncated: delete it and re-run"
                ) from e
        if "__header__" not in arrays:
            raise TrajectoryFileError(f"{path}: no header; not a trajectory file written by xorcert")
        try:
            header = json.loads(arrays.pop("__header__").tobytes().decode())
            meta, cfg = header["meta"], RunConfig.from_dict(header["config"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise TrajectoryFileError(f"{path}: damaged header ({e})") from e
        if not isinstance(meta, dict):
            raise TrajectoryFileError(f"{path}: damaged header (its meta is a {type(meta).__name__}, not a mapping)")
        fv, pv = meta.get("format_version"), meta.get("package_version")
        if fv != FORMAT_VERSION or pv != _package_version():
            raise TrajectoryFileError(
                f"{path}: written by xorcert {pv} (format {fv}); this is xorcert {_package_version()} "
                f"(format {FORMAT_VERSION}). Trajectories are not converted between versions: re-run it."
            )
        bad = sorted(k for k, t in META_TYPES.items() if k in meta and not isinstance(meta[k], t))
        if bad:
            raise TrajectoryFileError(f"{path}: damaged header (meta {', '.join(f'{k} = {meta[k]!r}' for k in bad)})")
        problems = shape_problems(cfg, arrays) or length_problems(cfg, arrays, meta)
        if problems:
            raise TrajectoryFileError(f"{path}: {'; '.join(problems)} (for the stored config)")
        return cls(cfg, arrays, meta)

    # ---------------------------------------------------------------- shapes and variants
    @property
    def steps(self) -> int:
        """Number of recorded steps (cfg.steps for a completed run)."""
        return self.arrays["a"].shape[0]

    @property
    def complete(self) -> bool:
        """A whole run: every step to cfg.steps and its last snapshot, or a run stopped early by a stop rule
        (stop_error, stop_phases, stop_step)."""
        snaps = self.arrays["snap_steps"]
        return bool(self.meta.get("stopped_early")) or (
            self.steps == self.config.steps and snaps.size > 0 and int(snaps[-1]) == self.steps
        )

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + r for r in range(self.config.seeds)]

    @property
    def zeta(self) -> float:
        return zeta(self.config.d)

    def vi(self, variant: str | int = 0) -> int:
        """Index of a variant, by name or position (0 = the main run)."""
        if isinstance(variant, int):
            if not 0 <= variant < len(self.config.variants):
                raise ValueError(f"variant index {variant} out of range [0, {len(self.config.variants) - 1}]")
            return variant
        if variant not in self.config.variants:
            raise ValueError(f"variant {variant!r} was not run; this trajectory has {list(self.config.variants)}")
        return self.config.variants.index(variant)

    def series(self, name: str, variant: str | int = 0) -> np.ndarray:
        """A recorded per-step array for one variant: (T, R, p, …) or (T, R, …)."""
        return self.arrays[name][:, :, self.vi(variant)]

    # ---------------------------------------------------------------- docs/SPEC.md §2, per step
    def a(self, variant: str | int = 0) -> np.ndarray:
        return self.series("a", variant)

    def sigma(self, variant: str | int = 0) -> np.ndarray:
        """σ_k with μ̂_sig = (e_i + σ e_j)/√2: σ = -1 (μ̂+) if a_k ≥ 0, else +1 (μ̂-)."""
        return np.where(self.a(variant) >= 0, -1.0, 1.0)

    def _plane(self, variant: str | int) -> tuple[np.ndarray, np.ndarray]:
        """(⟨w, μ̂_sig⟩, ⟨w, μ̂_opp⟩) per step and neuron."""
        wc = self.series("w_coords", variant).astype(np.float64)
        wi, wj, s = wc[..., 0], wc[..., 1], self.sigma(variant)
        return (wi + s * wj) / math.sqrt(2), (wi - s * wj) / math.sqrt(2)

    def w_sig(self, variant: str | int = 0) -> np.ndarray:
        """‖w_sig,k‖ (T, R, p)."""
        return np.abs(self._plane(variant)[0])

    def w_opp(self, variant: str | int = 0) -> np.ndarray:
        return np.abs(self._plane(variant)[1])

    def w_perp(self, variant: str | int = 0) -> np.ndarray:
        return self.series("w_perp", variant).astype(np.float64)

    def w_norm(self, variant: str | int = 0) -> np.ndarray:
        sig, opp = self._plane(variant)
        return np.sqrt(sig**2 + opp**2 + self.w_perp(variant) ** 2)

    def mass(self, variant: str | int = 0) -> np.ndarray:
        """Output mass |a_k|·‖w_k‖ (T, R, p)."""
        return np.abs(self.a(variant)) * self.w_norm(variant)

    def signal_heavy(self, variant: str | int = 0, z: float | None = None) -> np.ndarray:
        """‖w_sig‖ ≥ max(‖w_opp‖, ‖w_perp‖)/ζ, per step and neuron (bool)."""
        z = self.zeta if z is None else z
        return self.w_sig(variant) * z >= np.maximum(self.w_opp(variant), self.w_perp(variant))

    def S(self, variant: str | int = 0, z: float | None = None) -> np.ndarray:
        """Signal-heavy mass S_t: share of the output mass held by signal-heavy neurons (T, R)."""
        z = self.zeta if z is None else z
        return signal_heavy_mass(self.a(variant), self.series("w_coords", variant), self.w_perp(variant), z)

    def T1(self, variant: str | int = 0, z: float | None = None) -> np.ndarray:
        """First step with S_t ≥ 1 - ζ, per seed; -1 where never reached (R,)."""
        z = self.zeta if z is None else z
        return _first(self.S(variant, z) >= 1 - z)

    def T2(self, variant: str | int = 0, z: float | None = None) -> np.ndarray:
        """First step with max_x |h'(γ)/h'(0) - 1| ≥ ζ (|h'(γ)+1| for the logistic loss) on that step's
        minibatch, per seed; -1 where never (R,)."""
        z = self.zeta if z is None else z
        return _first(self.series("batch_max_dev", variant) >= z)

    def g_sig_mean(self, variant: str | int = 0) -> np.ndarray:
        """Batch mean of the per-sample gradient along μ̂_sig, ⟨g_w, μ̂_sig⟩ (T, R, p)."""
        g = self.series("g_w_coords", variant).astype(np.float64)
        return (g[..., 0] + self.sigma(variant) * g[..., 1]) / math.sqrt(2)

    def g_sig_m2(self, variant: str | int = 0) -> np.ndarray:
        """Batch second moment of the per-sample gradient along μ̂_sig (T, R, p)."""
        m2 = self.series("g_sig_m2", variant).astype(np.float64)
        return np.where(self.a(variant) >= 0, m2[..., 0], m2[..., 1])

    def layer_gap(self, variant: str | int = 0) -> np.ndarray:
        """a_k² - ‖w_k‖² (T, R, p)."""
        return self.a(variant).astype(np.float64) ** 2 - self.w_norm(variant) ** 2

    def clean_margins(self, variant: str | int = 0) -> np.ndarray:
        """Clean cluster margins γ̃_c per step (T, R, 4), exact on the hypercube.

        γ̃_c = y_c (1/p) Σ_k a_k relu(⟨w_k, μ̂_sig⟩⟨c, μ̂_sig⟩), clusters in population.CLUSTERS order.
        For Gaussian data use the test-set estimate `test_clean_margin` at the snapshots.
        """
        if self.config.data != "boolean":
            raise ValueError(
                "per-step clean margins are exact only on the hypercube; "
                "for Gaussian data read the snapshots' test_clean_margin"
            )
        from .population import CLUSTER_LABELS, CLUSTERS

        s = self._plane(variant)[0]
        a, sig = self.a(variant).astype(np.float64), self.sigma(variant)
        out = []
        for (ci, cj), yc in zip(CLUSTERS, CLUSTER_LABELS):
            u = (ci + sig * cj) / math.sqrt(2)
            out.append(yc * (a * np.maximum(s * u, 0)).mean(-1))
        return np.stack(out, axis=-1)

    # ---------------------------------------------------------------- snapshots
    @property
    def snap_steps(self) -> np.ndarray:
        return self.arrays["snap_steps"]

    def snap(self, name: str, variant: str | int = 0) -> np.ndarray:
        """A snapshot array for one variant: (S, R, …)."""
        return self.arrays[name][:, :, self.vi(variant)]

    def test_error(self, variant: str | int = 0) -> np.ndarray:
        """Test 0-1 error at each snapshot (S, R)."""
        return self.snap("test_err_count", variant) / self.config.test_size

    def test_error_ci(self, variant: str | int = 0, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """(1 - alpha) Clopper–Pearson interval of the test error at each snapshot."""
        from .population import clopper_pearson

        return clopper_pearson(self.snap("test_err_count", variant), self.config.test_size, alpha)

    def final(self, variant: str | int = 0) -> dict[str, np.ndarray]:
        """Test-set metrics at the last snapshot, per seed."""
        lo, hi = self.test_error_ci(variant)
        return {
            "error": self.test_error(variant)[-1],
            "error_lo": lo[-1],
            "error_hi": hi[-1],
            "loss": self.snap("test_loss", variant)[-1],
            "clean_margin": self.snap("test_clean_margin", variant)[-1],
            "margin": self.snap("test_margin", variant)[-1],
        }


def expected_shapes(cfg: RunConfig, T: int, S: int) -> dict[str, tuple[int, ...]]:
    """The shape of every array of a trajectory of cfg with T recorded steps and S snapshots."""
    from .population import TEST_FIELDS

    R, V, p, d, K = cfg.seeds, len(cfg.variants), cfg.p, cfg.d, len(cfg.label_coords)
    tails = {"w_coords": (K,), "g_w_coords": (2,), "g_sig_m2": (2,), "batch_margin": (4,)}
    out = {
        k: ((T, R, V, p) if kind == "neuron" else (T, R, V)) + tails.get(k, ()) for k, kind in PER_STEP_FIELDS.items()
    }
    out.update({"snap_steps": (S,), "snap_W": (S, R, V, p, d), "snap_a": (S, R, V, p)})
    out.update({k: (S, R, V, 4) if "margin" in k else (S, R, V) for k in TEST_FIELDS})
    return out


def shape_problems(cfg: RunConfig, arrays: dict[str, np.ndarray]) -> list[str]:
    """What is missing or mis-shaped in `arrays` for a trajectory of cfg (empty when all is well)."""
    names = expected_shapes(cfg, 0, 0)
    missing = sorted(k for k in names if k not in arrays)
    if missing:
        return [f"missing arrays {missing}"]
    want = expected_shapes(cfg, arrays["a"].shape[0], arrays["snap_steps"].shape[0])
    return [f"{k} has shape {arrays[k].shape}, expected {s}" for k, s in want.items() if arrays[k].shape != s]


def length_problems(cfg: RunConfig, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> list[str]:
    """How the recorded steps and snapshots contradict cfg and meta (empty when they agree).

    A run records the steps [0, t) and the snapshots of snapshot_steps(cfg.steps, cfg.snapshots)
    up to t: t = cfg.steps for a complete run; t < cfg.steps for a run stopped early at its snapshot
    t (meta["stopped_early"]), which keeps that snapshot; any t ≤ cfg.steps for the partial record of
    a diverged run, which keeps the snapshots before t (the state at t is not finite). meta["steps_done"],
    when present, is t.
    """
    t = arrays["a"].shape[0]
    if meta.get("steps_done", t) != t:
        return [f"{t} steps are recorded, but its meta says steps_done = {meta['steps_done']}"]
    if t > cfg.steps:
        return [f"{t} steps are recorded, more than the config's steps = {cfg.steps}"]
    grid = snapshot_steps(cfg.steps, cfg.snapshots)
    got = arrays["snap_steps"].tolist()
    upto, before = [s for s in grid if s <= t], [s for s in grid if s < t]
    if meta.get("stopped_early"):
        rule = cfg.stop_error > 0 or cfg.stop_phases > 0 or 0 < cfg.stop_step <= t
        if rule and t < cfg.steps and t in grid and got == upto:
            return []
        return [
            f"a run stopped early must stop at a snapshot step before {cfg.steps} by a stop rule (stop_error > 0, "
            f"stop_phases > 0, or stop_step ≤ that step), and keep the snapshots up to it; this one has {t} steps, "
            f"stop_error = {cfg.stop_error}, stop_phases = {cfg.stop_phases}, stop_step = {cfg.stop_step} and "
            f"snapshot steps {_brief(got)}"
        ]
    if got in (upto, before):
        return []
    return [
        f"snapshot steps {_brief(got)} are not those of a run of {cfg.steps} steps with snapshots = "
        f"{cfg.snapshots} that recorded {t} steps: expected {_brief(upto)}"
    ]


def signal_heavy_mass(a: np.ndarray, w_coords: np.ndarray, w_perp: np.ndarray, z: float) -> np.ndarray:
    """S_t (docs/SPEC.md §2) from per-step records a (…, p), w_coords (…, p, K ≥ 2), w_perp (…, p): the
    share of the output mass |a_k|·‖w_k‖ held by neurons with ‖w_sig‖ ≥ max(‖w_opp‖, ‖w_perp‖)/ζ; (…)."""
    wc = w_coords.astype(np.float64)
    s = np.where(a >= 0, -1.0, 1.0)  # σ: μ̂_sig = (e_i + σ e_j)/√2
    sig = (wc[..., 0] + s * wc[..., 1]) / math.sqrt(2)
    opp = (wc[..., 0] - s * wc[..., 1]) / math.sqrt(2)
    perp = w_perp.astype(np.float64)
    mass = np.abs(a) * np.sqrt(sig**2 + opp**2 + perp**2)
    heavy = np.abs(sig) * z >= np.maximum(np.abs(opp), perp)
    tot = mass.sum(-1)
    return np.where(tot > 0, (mass * heavy).sum(-1) / np.where(tot > 0, tot, 1), 0.0)


def _brief(steps: list[int]) -> str:
    """A list of steps, its middle elided when long."""
    if len(steps) <= 8:
        return str(steps)
    return f"[{', '.join(map(str, steps[:4]))}, …, {', '.join(map(str, steps[-3:]))}]"


def _first(mask: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 0, or -1 where there is none."""
    if mask.shape[0] == 0:  # nothing recorded (a run stopped or diverged at step 0)
        return np.full(mask.shape[1:], -1)
    return np.where(mask.any(axis=0), mask.argmax(axis=0), -1)
