"""The fused online-SGD step of CLAIMS.md §1, batched over seeds and coupled variants.

Network (mean-field): f(x) = (1/p) Σ_k a_k relu(w_k · x). Loss h(γ) = 2 log(1 + e^{-γ}) of
the margin γ = y f(x) (variant `linear`: the proxy h0(γ) = 2 log 2 - γ, h0' ≡ -1).
One step on a fresh batch of m samples, both layers from the old values, gradients
scaled by p:

    c(x)  = h'(γ(x)) y                                     (m,)
    g_a,k = (1/m) Σ_x c(x) relu(w_k · x)                   a ← a - η g_a   (unless frozen)
    g_w,k = (1/m) Σ_x c(x) a_k 1[w_k · x > 0] x            W ← W - η g_w

Shapes: R seeds, V variants, p neurons, B = V·p neurons per seed, d inputs, c rows of
a chunk. W (R, B, d), a (R, B). The V variants of one seed are stacked along the
neuron axis, so they see the same minibatch in the same two GEMMs per chunk:

    Z = X Wᵀ        (R, c, B)   forward
    G += Dᵀ X       (R, B, d)   first-layer gradient, D = c(x) 1[z > 0]

That is 4·m·d·B flop per step; everything else is O(m·B + B·d). The batch is generated
on the device in row chunks that stay in cache (same samples whatever the chunking,
see data.py); no host–device synchronisation happens between snapshots.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from . import data, population
from .config import VARIANTS, RunConfig
from .trajectory import PER_STEP_FIELDS, Trajectory, snapshot_steps

CHUNK_ELEMENTS = 1 << 20  # elements of X per chunk when chunk_rows = 0 (4 MiB in float32)


class SimulationDiverged(RuntimeError):
    """A NaN or inf appeared in the parameters; `trajectory` holds what was recorded before."""

    def __init__(self, step: int, variant: str, seed: int, trajectory: Trajectory):
        super().__init__(f"non-finite value at step {step} in variant '{variant}' (seed {seed}); "
                         f"the trajectory up to step {step} is kept on this exception (.trajectory)")
        self.step, self.variant, self.seed, self.trajectory = step, variant, seed, trajectory


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


@dataclass
class _Batch:
    """Where one step's rows come from: the generator (keys) or an explicit (X, y)."""

    keys: torch.Tensor | None = None
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None


def chunk_rows_for(cfg: RunConfig) -> int:
    if cfg.chunk_rows:
        return min(cfg.chunk_rows, cfg.m)
    return max(1, min(cfg.m, CHUNK_ELEMENTS // (cfg.seeds * cfg.d)))


def _as_batch(item, R: int, m: int, d: int, dt: torch.dtype, dev: torch.device, step: int) -> _Batch:
    x, y = item
    x = torch.as_tensor(x, dtype=dt, device=dev)
    y = torch.as_tensor(y, dtype=dt, device=dev)
    if x.dim() == 2:
        x, y = x.unsqueeze(0).expand(R, -1, -1), y.unsqueeze(0).expand(R, -1)
    if tuple(x.shape) != (R, m, d) or tuple(y.shape) != (R, m):
        raise ValueError(f"batches[{step}]: X has shape {tuple(x.shape)} and y {tuple(y.shape)}; "
                         f"expected X (m, d) = ({m}, {d}) or (R, m, d) with R = {R}, and y to match")
    return _Batch(x=x, y=y)


@torch.no_grad()
def run(cfg: RunConfig, *, init: tuple[torch.Tensor, torch.Tensor] | None = None,
        batches: Iterable | None = None,
        progress: Callable[[int, int], None] | None = None) -> Trajectory:
    """Run cfg.steps steps of SGD for seeds cfg.seed … cfg.seed+cfg.seeds-1 and all cfg.variants.

    `init`: explicit (W (p, d) or (R, p, d), a (p,) or (R, p)) instead of the seeded
    initialization; `batches`: an iterable of explicit (X, y) per step instead of the
    generator. `progress(step, steps)` is called at every snapshot.
    Raises SimulationDiverged (with the partial trajectory) on a non-finite parameter.
    """
    t_start = time.perf_counter()
    dev, dt = resolve_device(cfg.device), _dtype(cfg.dtype)
    R, V, p, d, m, T = cfg.seeds, len(cfg.variants), cfg.p, cfg.d, cfg.m, cfg.steps
    B = V * p
    seeds = [cfg.seed + r for r in range(R)]
    i, j = cfg.pair
    coords = list(cfg.label_coords)
    eta = float(cfg.eta)

    # ---- parameters ------------------------------------------------------------------
    if init is None:
        W0, a0 = data.init_params(seeds, p, d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, dt, dev)
    else:
        W0 = torch.as_tensor(init[0], dtype=dt, device=dev)
        a0 = torch.as_tensor(init[1], dtype=dt, device=dev)
        if W0.dim() == 2:
            W0, a0 = W0.unsqueeze(0).expand(R, -1, -1), a0.unsqueeze(0).expand(R, -1)
        if tuple(W0.shape) != (R, p, d) or tuple(a0.shape) != (R, p):
            raise ValueError(f"init: W has shape {tuple(W0.shape)} and a {tuple(a0.shape)}; expected "
                             f"W (p, d) = ({p}, {d}) or (R, p, d) with R = {R}, and a to match")
    W = W0.repeat(1, V, 1).contiguous()  # (R, B, d): variant v holds neurons [v·p, (v+1)·p)
    a = a0.repeat(1, V).contiguous()  # (R, B)
    linear = torch.tensor([VARIANTS[v][0] == "linear" for v in cfg.variants], device=dev)  # (V,)
    train_a = torch.tensor([VARIANTS[v][1] == "both" for v in cfg.variants], dtype=dt, device=dev)
    train_a = train_a.repeat_interleave(p).view(1, B)
    perp_mask = torch.ones(d, dtype=dt, device=dev)
    perp_mask[[i, j]] = 0.0

    # ---- records (device buffers, written by index: no sync) --------------------------
    K = len(coords)
    rec = {
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
    assert set(rec) == set(PER_STEP_FIELDS)
    snaps = snapshot_steps(T, cfg.snapshots)
    snap_W: list[torch.Tensor] = []
    snap_a: list[torch.Tensor] = []
    snap_test: list[dict[str, torch.Tensor]] = []

    # ---- step workspace ----------------------------------------------------------------
    c_max = chunk_rows_for(cfg)
    G = torch.empty(R, B, d, dtype=dt, device=dev)
    ga = torch.empty(R, B, dtype=dt, device=dev)
    m2 = torch.empty(R, B, 2, dtype=dt, device=dev)
    loss_s = torch.empty(R, V, dtype=dt, device=dev)
    err_s = torch.empty(R, V, dtype=dt, device=dev)
    dev_s = torch.empty(R, V, dtype=dt, device=dev)
    msum = torch.empty(R, V, 4, dtype=dt, device=dev)
    mcnt = torch.empty(R, 1, 4, dtype=dt, device=dev)
    xbuf = torch.empty(R * c_max * 64 * ((d + 63) // 64), dtype=dt, device=dev) if cfg.data == "boolean" else None
    batch_keys = data.seed_keys(seeds, data.STREAM_BATCH, dev)
    batch_iter = iter(batches) if batches is not None else None

    def snapshot(t: int) -> None:
        snap_W.append(W.clone())
        snap_a.append(a.clone())
        snap_test.append(population.evaluate(W, a, V, cfg))

    def finished(t_end: int) -> Trajectory:
        """Move everything recorded for steps [0, t_end) to the host as a Trajectory."""
        arrays = {}
        for k, v in rec.items():
            tail = (V, p) + tuple(v.shape[3:]) if PER_STEP_FIELDS[k] == "neuron" else tuple(v.shape[2:])
            arrays[k] = v[:t_end].cpu().numpy().reshape((t_end, R) + tail)
        ns = min(len(snap_W), sum(1 for s in snaps if s <= t_end))
        arrays["snap_steps"] = np.asarray(snaps[:ns], dtype=np.int64)
        arrays["snap_W"] = torch.stack(snap_W[:ns]).cpu().numpy().reshape(ns, R, V, p, d) if ns else np.zeros((0, R, V, p, d))
        arrays["snap_a"] = torch.stack(snap_a[:ns]).cpu().numpy().reshape(ns, R, V, p) if ns else np.zeros((0, R, V, p))
        for key in population.TEST_FIELDS:
            arrays[key] = torch.stack([s[key] for s in snap_test[:ns]]).cpu().numpy() if ns else np.zeros((0, R, V))
        meta = {"device": str(dev), "wall_time_s": time.perf_counter() - t_start, "steps_done": t_end,
                "chunk_rows": c_max}
        return Trajectory.build(cfg, arrays, meta)

    def check_finite(t: int) -> None:
        """Raise at the first step ≤ t whose state (recorded, or current at t) is non-finite."""
        bad = ~torch.isfinite(rec["a"][:t]) | ~torch.isfinite(rec["w_perp"][:t])
        bad |= ~torch.isfinite(rec["w_coords"][:t]).all(-1)
        if bool(bad.any()):
            t_bad, r, k = [int(x) for x in torch.nonzero(bad)[0]]  # lexicographic: earliest step first
        else:
            now = ~(torch.isfinite(W).all(-1) & torch.isfinite(a))  # (R, B)
            if not bool(now.any()):
                return
            t_bad = t
            r, k = [int(x) for x in torch.nonzero(now)[0]]
        raise SimulationDiverged(t_bad, cfg.variants[k // p], seeds[r], finished(t_bad))

    next_snap = 0
    for t in range(T):
        if next_snap < len(snaps) and snaps[next_snap] == t:
            check_finite(t)
            snapshot(t)
            next_snap += 1
            if progress is not None:
                progress(t, T)
        # ---- the batch ----
        if batch_iter is not None:
            try:
                src = _as_batch(next(batch_iter), R, m, d, dt, dev, t)
            except StopIteration:
                raise ValueError(f"batches ran out at step {t}; the config asks for steps = {T}") from None
        else:
            src = _Batch(keys=data.step_keys(batch_keys, t))
        # ---- forward + backward over row chunks ----
        G.zero_(); ga.zero_(); m2.zero_(); loss_s.zero_(); err_s.zero_(); dev_s.zero_(); msum.zero_(); mcnt.zero_()
        for r0 in range(0, m, c_max):
            c = min(c_max, m - r0)
            if src.keys is not None:
                if cfg.data == "boolean":
                    x = data.boolean_rows(src.keys, r0, c, d, dt, xbuf)
                else:
                    x = data.gaussian_rows(src.keys, r0, c, d, dt)
                y = data.labels(x, cfg.label_coords, cfg.data)  # (R, c)
            else:
                x, y = src.x[:, r0:r0 + c], src.y[:, r0:r0 + c]
            z = torch.bmm(x, W.transpose(1, 2))  # (R, c, B)
            h = torch.relu(z)
            f = (h * a.unsqueeze(1)).view(R, c, V, p).sum(-1).div_(p)  # (R, c, V)
            gamma = y.unsqueeze(-1) * f
            th = torch.tanh(gamma / 2)  # h'(γ) + 1 = tanh(γ/2) for the logistic loss
            hp = torch.where(linear, -1.0, th - 1.0)  # h'(γ)
            coef = (hp * y.unsqueeze(-1)).unsqueeze(-1).expand(R, c, V, p).reshape(R, c, B)
            ga += (coef * h).sum(1)
            D = coef * (z > 0)  # (R, c, B)
            G.baddbmm_(D.transpose(1, 2), x)  # (R, B, d)
            # second moments of the signal-direction gradient, for μ̂+ and μ̂- (a² and 1/m applied below)
            xi, xj = x[:, :, i], x[:, :, j]
            s2 = torch.stack(((xi - xj).square(), (xi + xj).square()), dim=-1).mul_(0.5)  # (R, c, 2)
            m2.baddbmm_(D.square().transpose(1, 2), s2)
            # batch statistics (logistic loss and |h'+1| for every variant: the quantities of the real loss)
            loss_s += population.logistic_loss(gamma).sum(1)
            err_s += (gamma <= 0).sum(1)
            torch.maximum(dev_s, th.abs().amax(1), out=dev_s)
            onehot = torch.nn.functional.one_hot(population.cluster_index(xi, xj), 4).to(dt)  # (R, c, 4)
            msum.baddbmm_(gamma.transpose(1, 2), onehot)
            mcnt += onehot.sum(1, keepdim=True)
        # ---- gradients, records, update ----
        ga.div_(m)
        G.mul_((a / m).unsqueeze(-1))  # g_w (R, B, d)
        rec["a"][t] = a
        rec["w_coords"][t] = W[:, :, coords]
        rec["w_perp"][t] = torch.linalg.vector_norm(W * perp_mask, dim=-1)
        rec["g_a"][t] = ga
        rec["g_w_norm2"][t] = G.square().sum(-1)
        rec["g_w_coords"][t] = G[:, :, [i, j]]
        rec["g_sig_m2"][t] = m2 * (a.square() / m).unsqueeze(-1)
        rec["batch_loss"][t] = loss_s / m
        rec["batch_err"][t] = err_s / m
        rec["batch_margin"][t] = msum / mcnt.clamp(min=1.0)
        rec["batch_max_dev"][t] = dev_s
        a.sub_(eta * ga * train_a)
        W.sub_(G, alpha=eta)
    check_finite(T)
    snapshot(T)
    if progress is not None:
        progress(T, T)
    return finished(T)
