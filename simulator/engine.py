"""The fused online-SGD step of docs/SPEC.md §1, batched over seeds and coupled variants.

Network (mean-field): f(x) = (1/p) Σ_k a_k relu(w_k · x). Loss h of the margin γ = y f(x),
the variant's (simulator.losses: logistic, squared, exponential; a proxy variant steps with
h0(γ) = h(0) + h'(0) γ, h0' ≡ h'(0)). One step on a fresh batch of m samples, both layers
from the old values, gradients scaled by p, weight decay λ and second-layer step ratio r:

    c(x)  = h'(γ(x)) y                                     (m,)
    g_a,k = (1/m) Σ_x c(x) relu(w_k · x)                   a ← a - rη (g_a + λa)   (unless frozen)
    g_w,k = (1/m) Σ_x c(x) a_k 1[w_k · x > 0] x            W ← W - η (g_w + λW)

Shapes: R seeds, V variants, p neurons, B = V·p neurons per seed, d inputs, c rows of
a chunk. W (R, B, d), a (R, B). The V variants of one seed are stacked along the
neuron axis, so they see the same minibatch in the same two GEMMs per chunk:

    Z = X Wᵀ        (R, c, B)   forward
    G += Dᵀ X       (R, B, d)   first-layer gradient, D = c(x) 1[z > 0]

That is 4·m·d·B flop per step; everything else is O(m·B + B·d): X carries 2V extra
columns c_v(x) s2(x) so that the second GEMM also sums the second moments of g_sig, and
g_a,k = w_k · G_k / m needs no pass over the rows (relu(z) = 1[z > 0] z). The batch is
generated on the device in row chunks (same samples whatever the chunking, see data.py)
into a workspace allocated once; the per-row results (margins, clusters) of a block of
rows are reduced to the batch statistics at once. No host–device synchronisation happens
between snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from . import data, laws, losses, phases, population
from .config import VARIANTS, RunConfig
from .trajectory import PER_STEP_FIELDS, Trajectory, expected_shapes, snapshot_steps

CHUNK_ELEMENTS = 1 << 21  # elements of X per chunk when chunk_rows = 0 (8 MiB in float32)
EVAL_ELEMENTS = 1 << 18  # test-set entries generated at once at a snapshot (bounds the peak memory)
STAT_ELEMENTS = 1 << 16  # seed-rows of per-row results kept before they are reduced to batch statistics
STAGE_STEPS = 64  # steps of per-step records staged before they are copied into the record arrays


class SimulationDiverged(RuntimeError):
    """A NaN or inf appeared in the parameters; `trajectory` holds what was recorded before."""

    def __init__(self, step: int, variant: str, seed: int, trajectory: Trajectory):
        super().__init__(
            f"non-finite value at step {step} in variant '{variant}' (seed {seed}); "
            f"the trajectory up to step {step} is kept on this exception (.trajectory)"
        )
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


def eval_rows_for(d: int) -> int:
    """Test-set rows generated and evaluated at once at a snapshot."""
    return max(64, min(4096, EVAL_ELEMENTS // d))


@dataclass
class _Chunk:
    """Views of the step workspace for the rows [r0, r0 + c) of a batch."""

    r0: int
    c: int
    x: torch.Tensor  # (R, c, d) the rows
    xg: torch.Tensor  # (R, c, dx + 2V) [x | … | E]: the right operand of the gradient GEMM
    E: torch.Tensor  # (R, c, V, 2) c_v(x) s2(x)
    z: torch.Tensor  # (R, c, B) z = X Wᵀ, then relu(z)
    D: torch.Tensor  # (R, c, B) D = c(x) 1[z > 0]
    gam: torch.Tensor  # (R, c, V) γ(x), in the block buffer
    th: torch.Tensor  # (R, c, V) s(γ) = 1 - h'(γ)/h'(0), in the block buffer
    xij: torch.Tensor  # (R, c, 2) (x_i, x_j), in the block buffer
    s2: torch.Tensor  # (R, c, 2) (x_i - x_j)², (x_i + x_j)²
    block_end: int  # > 0 on the last chunk of a block: the block's row count
    xl: torch.Tensor  # (R, c, K) the label coordinates, (x_i, x_j) first
    y: torch.Tensor  # (R, c) the labels of the generated rows
    block: _Block | None  # the block's views on its last chunk (block_end > 0)
    copy_xij: bool  # (x_i, x_j) go into the block buffer (unless the block is this chunk alone)

    def __post_init__(self) -> None:
        """The further views the step uses, made once."""
        R, c = self.x.shape[:2]
        self.Dv = self.D.view(R, c, self.gam.shape[2], -1)  # (R, c, V, p)
        self.Dt = self.D.transpose(1, 2)  # (R, B, c)
        self.xl_cols = self.xl.unbind(-1)  # K × (R, c)
        self.xl_ij = self.xl[:, :, :2]
        self.s2_cols = self.s2.unbind(-1)  # (x_i - x_j)², (x_i + x_j)²: 2 × (R, c)
        self.s2_v = self.s2.unsqueeze(2)  # (R, c, 1, 2)
        self.y_col = self.y.unsqueeze(-1)  # (R, c, 1)


@dataclass
class _Block:
    """Views of the block buffers for the first n rows of a block (made once)."""

    n: int
    gam1: torch.Tensor  # (R, m_blk, V + 1) [γ | 1]
    th: torch.Tensor  # (R, m_blk, V) s(γ)
    xij: torch.Tensor  # (R, m_blk, 2), or the (R, n, 2) label columns of a block that is one chunk
    pq: torch.Tensor  # (R, 4, m_blk)

    def __post_init__(self) -> None:
        n, V = self.n, self.th.shape[2]
        self.gam = self.gam1[:, :n, :V]  # (R, n, V)
        self.gam1_t = self.gam1[:, :n].transpose(1, 2)  # (R, V + 1, n)
        self.th_n = self.th[:, :n]
        self.xij_t = self.xij[:, :n].transpose(1, 2)  # (R, 2, n)
        pq = self.pq[:, :, :n]
        self.p_ij, self.p_i, self.p_j, self.pp = pq[:, 1:3], pq[:, 1], pq[:, 2], pq[:, 0]
        self.pq_t = pq.transpose(1, 2)  # (R, n, 4)


# Clusters of population.CLUSTERS, (1,-1), (-1,1), (1,1), (-1,-1) ("1" meaning > 0), from p = 1[x > 0]:
# p_i (1 - p_j), (1 - p_i) p_j, p_i p_j, (1 - p_i)(1 - p_j); each is [p_i p_j, p_i, p_j, 1] times a
# column of PQ_TO_CLUSTER, so the per-cluster sums come from four plain sums.
PQ_TO_CLUSTER = ((-1.0, -1.0, 1.0, 1.0), (1.0, 0.0, 0.0, -1.0), (0.0, 1.0, 0.0, -1.0), (0.0, 0.0, 0.0, 1.0))


def _block_stats(
    rec: dict[str, torch.Tensor],
    first: bool,
    blk: _Block,
    T_pq: torch.Tensor,
    signs: bool,
    groups: list[losses.LossGroup],
) -> None:
    """Add the batch statistics of the first blk.n rows of the block buffers to a step's records `rec`.

    batch_loss (each variant's loss h, for a proxy the loss it linearizes) and batch_err get
    sums (divided by m at the end of the step), batch_max_dev the running maximum of |s(γ)|,
    and T_pq (R, V+1, 4) the sums of [γ | 1] ⊗ [p_i p_j, p_i, p_j, 1].
    `signs`: the rows are ±1 (x > 0 is then one comparison).
    """
    gam = blk.gam
    loss = losses.by_loss(gam, groups, lambda loss_fn, g: loss_fn.h(g)).sum(1)  # (R, V)
    if signs:
        torch.gt(blk.xij_t, 0, out=blk.p_ij)  # p = 1[x > 0]
    else:
        torch.clamp(blk.xij_t, min=0, out=blk.p_ij).sign_()  # p = 1[x > 0]
    torch.mul(blk.p_i, blk.p_j, out=blk.pp)
    if first:
        rec["batch_loss"].copy_(loss)
        torch.sum(gam <= 0, 1, dtype=gam.dtype, out=rec["batch_err"])
        torch.amax(blk.th_n.abs(), 1, out=rec["batch_max_dev"])
        torch.bmm(blk.gam1_t, blk.pq_t, out=T_pq)
    else:
        rec["batch_loss"] += loss
        rec["batch_err"] += (gam <= 0).sum(1, dtype=gam.dtype)
        torch.maximum(rec["batch_max_dev"], blk.th_n.abs().amax(1), out=rec["batch_max_dev"])
        T_pq.baddbmm_(blk.gam1_t, blk.pq_t)


def _as_batch(item, R: int, m: int, d: int, dt: torch.dtype, dev: torch.device, step: int) -> _Batch:
    x, y = item
    x = torch.as_tensor(x, dtype=dt, device=dev)
    y = torch.as_tensor(y, dtype=dt, device=dev)
    if x.dim() == 2:
        x, y = x.unsqueeze(0).expand(R, -1, -1), y.unsqueeze(0).expand(R, -1)
    if tuple(x.shape) != (R, m, d) or tuple(y.shape) != (R, m):
        raise ValueError(
            f"batches[{step}]: X has shape {tuple(x.shape)} and y {tuple(y.shape)}; "
            f"expected X (m, d) = ({m}, {d}) or (R, m, d) with R = {R}, and y to match"
        )
    return _Batch(x=x, y=y)


@torch.no_grad()
def run(
    cfg: RunConfig,
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    batches: Iterable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Run cfg.steps steps of SGD for seeds cfg.seed … cfg.seed+cfg.seeds-1 and all cfg.variants.

    `init`: explicit (W (p, d) or (R, p, d), a (p,) or (R, p)) instead of the seeded
    initialization; `batches`: an iterable of explicit (X, y) per step instead of the
    generator (used as given: cfg.label_noise applies to generated labels only).
    `progress(step, steps)` is called at every snapshot. The data law cfg.data must be
    registered (simulator.laws); otherwise ValueError before any work.
    Raises SimulationDiverged (with the partial trajectory) on a non-finite parameter.
    """
    t_start = time.perf_counter()
    law = laws.get_law(cfg.data)  # an unregistered law is refused before any work
    dev, dt = resolve_device(cfg.device), _dtype(cfg.dtype)
    R, V, p, d, m, T = cfg.seeds, len(cfg.variants), cfg.p, cfg.d, cfg.m, cfg.steps
    B = V * p
    seeds = [cfg.seed + r for r in range(R)]
    i, j = cfg.pair
    coords = list(cfg.label_coords)
    eta = float(cfg.eta)
    eta_a = eta * float(cfg.lr_ratio)  # the second layer's step rη (= η exactly at r = 1)
    lam = float(cfg.weight_decay)

    # ---- parameters ------------------------------------------------------------------
    if init is None:
        W0, a0 = data.init_params(seeds, p, d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, dt, dev)
    else:
        W0 = torch.as_tensor(init[0], dtype=dt, device=dev)
        a0 = torch.as_tensor(init[1], dtype=dt, device=dev)
        if W0.dim() == 2:
            W0, a0 = W0.unsqueeze(0).expand(R, -1, -1), a0.unsqueeze(0).expand(R, -1)
        if tuple(W0.shape) != (R, p, d) or tuple(a0.shape) != (R, p):
            raise ValueError(
                f"init: W has shape {tuple(W0.shape)} and a {tuple(a0.shape)}; expected "
                f"W (p, d) = ({p}, {d}) or (R, p, d) with R = {R}, and a to match"
            )
    W = W0.repeat(1, V, 1).contiguous()  # (R, B, d): variant v holds neurons [v·p, (v+1)·p)
    a = a0.repeat(1, V).contiguous()  # (R, B)
    groups = losses.loss_groups(
        [VARIANTS[v].loss for v in cfg.variants], [VARIANTS[v].proxy for v in cfg.variants], dev
    )  # the variant columns by loss
    train_a = torch.tensor([VARIANTS[v].layers == "both" for v in cfg.variants], dtype=dt, device=dev)
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
    # The step writes its records into one of L slots of a staging ring (views made once, so the step
    # indexes no record); the ring is copied into `rec` every L steps and before `rec` is read.
    L = max(1, min(STAGE_STEPS, T))
    stage = {k: torch.empty((L,) + tuple(v.shape[1:]), dtype=dt, device=dev) for k, v in rec.items()}
    loss_err = torch.empty(L, 2, R, V, dtype=dt, device=dev)  # batch_loss and batch_err side by side
    stage["batch_loss"], stage["batch_err"] = loss_err[:, 0], loss_err[:, 1]
    slots = []  # per slot: the step's record views
    for sl in range(L):
        st = {k: v[sl] for k, v in stage.items()}
        st["loss_err"] = loss_err[sl]  # (2, R, V)
        st["g_sig_m2_v"] = st["g_sig_m2"].view(R, V, p, 2).permute(0, 2, 3, 1)  # (R, p, 2, V)
        slots.append(st)
    flushed = [0]  # rec holds the steps [0, flushed[0]); the later ones done so far are in the ring

    def flush(t_end: int) -> None:
        """Copy the records of the steps [flushed, t_end) from the ring into rec (they lie in one run of slots)."""
        t0 = flushed[0]
        if t_end > t0:
            s0 = t0 % L
            for k, v in stage.items():
                rec[k][t0:t_end].copy_(v[s0 : s0 + t_end - t0])
            flushed[0] = t_end

    snaps = snapshot_steps(T, cfg.snapshots)
    snap_W_all = torch.empty(len(snaps), R, B, d, dtype=dt, device=dev)  # filled as the snapshots are taken
    snap_W: list[torch.Tensor] = []  # views of snap_W_all
    snap_a: list[torch.Tensor] = []
    snap_test: list[dict[str, torch.Tensor]] = []

    # ---- step workspace (allocated once; the step loop only writes into it) -------------
    c_max = chunk_rows_for(cfg)
    # A chunk's rows live in xa (R, c, ws): x in columns [0, d), then (Boolean) the ≤ 7 further
    # generated signs up to dx = 8⌈d/8⌉, then E = c_v(x) s2(x) (2V columns) from dx on, so that
    # one GEMM Dᵀ xa gives both the first-layer gradient and the second moments of g_sig.
    dx = 8 * ((d + 7) // 8)
    ws = dx + 16 * ((2 * V + 15) // 16)  # row stride: a multiple of 16 elements (aligned rows)
    xa_flat = torch.zeros(R * c_max * ws, dtype=dt, device=dev)
    G_aug = torch.empty(R, B, dx + 2 * V, dtype=dt, device=dev)  # Dᵀ xa, summed over the chunks
    G = G_aug[:, :, :d]  # (R, B, d) Σ_x D(x) x, then g_w
    m2v = G_aug[:, :, dx:]  # (R, B, 2V) Σ_x D(x) c_v(x) s2(x) for every variant v: g_sig_m2 are its diagonal blocks
    z_flat = torch.empty(R * c_max * B, dtype=dt, device=dev)  # z = X Wᵀ, then relu(z), of a chunk
    D_flat = torch.empty(R * c_max * B, dtype=dt, device=dev)  # D = c(x) 1[z > 0] of a chunk
    # Per-row results of a block of rows (the whole batch unless it is very large), reduced to the
    # batch statistics once per block rather than once per chunk.
    m_blk = min(m, max(c_max, (STAT_ELEMENTS // R) // c_max * c_max))
    gam1 = torch.ones(R, m_blk, V + 1, dtype=dt, device=dev)  # [γ(x) per variant | 1]
    gam = gam1[:, :, :V]  # the margins γ(x)
    th = torch.empty(R, m_blk, V, dtype=dt, device=dev)  # s(γ) = 1 - h'(γ)/h'(0) (tanh(γ/2) for the logistic loss)
    xij = torch.empty(R, m_blk, 2, dtype=dt, device=dev)  # (x_i, x_j) of each row: clusters, s2
    pq = torch.ones(R, 4, m_blk, dtype=dt, device=dev)  # rows p_i p_j, p_i, p_j, 1 with p = 1[x > 0]
    T_pq = torch.empty(R, V + 1, 4, dtype=dt, device=dev)  # Σ_x [γ | 1] ⊗ [p_i p_j, p_i, p_j, 1]
    T_pq_flat = T_pq.view(R * (V + 1), 4)
    pq_to_cluster = torch.tensor(PQ_TO_CLUSTER, dtype=dt, device=dev)  # (4, 4)
    S_flat = torch.empty(R * (V + 1), 4, dtype=dt, device=dev)  # T_pq per cluster: the matmul's own mm
    S_sum, S_count = S_flat.view(R, V + 1, 4)[:, :V], S_flat.view(R, V + 1, 4)[:, V:]
    s2_flat = torch.empty(R * c_max * 2, dtype=dt, device=dev)  # (x_i ∓ x_j)² of a chunk
    sampler_law = batches is None and law.sample is data.boolean_sample
    xl_view = coords == list(range(coords[0], coords[0] + K))  # consecutive columns: the rows' own view
    xl_flat = torch.empty(0 if xl_view else R * c_max * K, dtype=dt, device=dev)  # else a copy, per chunk
    s2_from_y = sampler_law and K == 2  # ±1 rows, y = -x_i x_j: s2 = (2 + 2y, 2 - 2y)
    two_pm = torch.tensor([2.0, -2.0], dtype=dt, device=dev)
    zero, two = torch.tensor(0.0, dtype=dt, device=dev), torch.tensor(2.0, dtype=dt, device=dev)
    y_flat = torch.empty(R * c_max, dtype=dt, device=dev)  # the labels of a generated chunk
    blocks = (torch.arange(B, device=dev).view(B, 1) // p == torch.arange(V, device=dev)).to(dt) / p  # (B, V)
    a_over_p = torch.empty(R, B, V, dtype=dt, device=dev)  # a_k / p in the column of k's variant
    coords_t = torch.tensor(coords, device=dev)
    ij_t = torch.tensor([i, j], device=dev)
    a_col = a.unsqueeze(-1)  # (R, B, 1); W, a and G are updated in place, so their views are made once
    W_t = W.transpose(1, 2)  # (R, d, B)
    a2 = torch.empty(R, B, dtype=dt, device=dev)  # a² / 2m
    WG = torch.empty(R, B, d, dtype=dt, device=dev)  # the products w_k ⊙ g_k, w_k ⊙ mask, g_k ⊙ g_k of the records
    a_m = torch.empty(R, B, dtype=dt, device=dev)  # a / m
    a_m_col = a_m.unsqueeze(-1)  # (R, B, 1)
    a2_v = a2.view(R, V, p).permute(0, 2, 1).unsqueeze(2)  # (R, p, 1, V)
    m2v_diag = m2v.view(R, V, p, V, 2).diagonal(dim1=1, dim2=3)  # (R, p, 2, V): variant v's neurons, v's c
    # the built-in Boolean law is drawn in place into the workspace (the same samples as law.sample)
    sampler = data.BooleanSampler(R, c_max, d, dt, dev, out=xa_flat, row_stride=ws) if sampler_law else None
    rho = float(cfg.label_noise)
    chunks = []  # views of the workspace for each chunk of rows [r0, r0 + c), made once
    for r0 in range(0, m, c_max):
        c = min(c_max, m - r0)
        xa = xa_flat[: R * c * ws].view(R, c, ws)
        x = xa[:, :, :d]
        b0 = r0 % m_blk  # where the chunk's rows sit in the block buffers
        block_end = b0 + c if (r0 + c == m or b0 + c == m_blk) else 0
        xl_c = x[:, :, coords[0] : coords[0] + K] if xl_view else xl_flat[: R * c * K].view(R, c, K)
        alone = b0 == 0 and block_end == c  # the block is this chunk: its stats read (x_i, x_j) from xl
        chunks.append(
            _Chunk(
                r0=r0,
                c=c,
                x=x,
                xg=xa[:, :, : dx + 2 * V],
                E=xa[:, :, dx : dx + 2 * V].view(R, c, V, 2),
                z=z_flat[: R * c * B].view(R, c, B),
                D=D_flat[: R * c * B].view(R, c, B),
                gam=gam[:, b0 : b0 + c],
                th=th[:, b0 : b0 + c],
                xij=xij[:, b0 : b0 + c],
                s2=s2_flat[: R * c * 2].view(R, c, 2),
                block_end=block_end,
                xl=xl_c,
                y=y_flat[: R * c].view(R, c),
                block=_Block(block_end, gam1, th, xl_c[:, :, :2] if alone else xij, pq) if block_end else None,
                copy_xij=not alone,
            )
        )
    batch_keys = data.seed_keys(seeds, data.batch_stream(cfg.data_offset), dev)
    # a batch of one small chunk: the words of a block of steps are drawn at once
    step_sampler = sampler if sampler is not None and len(chunks) == 1 and sampler.small_steps(m) else None
    KEY_BLOCK = 256  # step keys are derived this many steps at a time
    drawn = _Batch(keys=batch_keys)  # a generated batch whose keys the step does not read
    batch_iter = iter(batches) if batches is not None else None
    test_set = population.TestSet(cfg, dt, dev, eval_rows_for(d))  # kept in memory when it fits KEEP_BYTES

    def snapshot(t: int) -> None:
        """Keep the state at t and its test-set metrics; a non-finite metric is a divergence at t."""
        metrics = population.evaluate(W, a, V, cfg, test=test_set)
        bad = ~torch.isfinite(torch.cat([v.reshape(R, V, -1) for v in metrics.values()], -1)).all(-1)  # (R, V)
        if bool(bad.any()):
            r, vi = [int(x) for x in torch.nonzero(bad)[0]]
            raise SimulationDiverged(t, cfg.variants[vi], seeds[r], finished(t, keep_last=False))
        snap_W.append(snap_W_all[len(snap_W)].copy_(W))
        snap_a.append(a.clone())
        snap_test.append(metrics)

    def finished(t_end: int, keep_last: bool = True) -> Trajectory:
        """Move everything recorded for steps [0, t_end) to the host as a Trajectory.

        The snapshots kept are those at steps ≤ t_end (< t_end when `keep_last` is False:
        a diverged state is not kept)."""
        flush(t_end)
        arrays = {}
        for k, v in rec.items():
            tail = (V, p) + tuple(v.shape[3:]) if PER_STEP_FIELDS[k] == "neuron" else tuple(v.shape[2:])
            arrays[k] = v[:t_end].cpu().numpy().reshape((t_end, R) + tail)
        ns = sum(1 for s in snaps[: len(snap_W)] if s < t_end or (keep_last and s == t_end))
        empty = expected_shapes(cfg, t_end, 0)
        arrays["snap_steps"] = np.asarray(snaps[:ns], dtype=np.int64)
        arrays["snap_W"] = snap_W_all[:ns].cpu().numpy().reshape(ns, R, V, p, d) if ns else np.zeros(empty["snap_W"])
        arrays["snap_a"] = (
            torch.stack(snap_a[:ns]).cpu().numpy().reshape(ns, R, V, p) if ns else np.zeros(empty["snap_a"])
        )
        for key in population.TEST_FIELDS:
            arrays[key] = torch.stack([s[key] for s in snap_test[:ns]]).cpu().numpy() if ns else np.zeros(empty[key])
        meta = {
            "device": str(dev),
            "wall_time_s": time.perf_counter() - t_start,
            "steps_done": t_end,
            "chunk_rows": c_max,
        }
        return Trajectory.build(cfg, arrays, meta)

    checked = [0]  # the records of steps [0, checked[0]) are known to be finite

    def check_finite(t: int) -> None:
        """Raise at the first step ≤ t whose state (recorded, or current at t) is non-finite.

        Only the steps recorded since the last check are read: the earlier ones passed it."""
        flush(t)
        t0, n = checked[0], t - checked[0]
        new = [v[t0:t].reshape(-1) for v in rec.values()] + [W.view(-1), a.view(-1)]
        if bool(torch.isfinite(torch.cat(new)).all()):
            checked[0] = t
            return  # all finite (one pass); otherwise find the first non-finite step, seed and neuron
        bad = torch.zeros(n, R, B, dtype=torch.bool, device=dev)
        for name, v in rec.items() if n > 0 else ():
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
                checked[0] = t
                return
            t_bad = t
            r, k = [int(x) for x in torch.nonzero(now)[0]]
        raise SimulationDiverged(t_bad, cfg.variants[k // p], seeds[r], finished(t_bad, keep_last=False))

    watch = phases.PhaseWatch(cfg) if cfg.stop_phases > 0 else None

    def phases_passed(t: int) -> bool:
        """Show the watch the main run's steps since the last snapshot and the snapshot at t; may it stop?"""
        assert watch is not None
        s = slice(watch.steps_read, t)
        main = [rec[k][s, :, :p].cpu().numpy() for k in ("a", "w_coords", "w_perp")]  # the main run's neurons
        watch.read_steps(*main)
        test = snap_test[-1]
        return watch.read_snapshot(t, test["test_err_count"][:, 0].cpu().numpy(), test["test_loss"][:, 0].cpu().numpy())

    next_snap = 0
    for t in range(T):
        if next_snap < len(snaps) and snaps[next_snap] == t:
            check_finite(t)
            snapshot(t)
            next_snap += 1
            if progress is not None:
                progress(t, T)
            stop = (0 < cfg.stop_step <= t) or (
                cfg.stop_error > 0
                and bool((snap_test[-1]["test_err_count"][:, 0] <= cfg.stop_error * cfg.test_size).all())
            )  # past stop_step, or every seed's main run is at test error ≤ stop_error
            if stop or (watch is not None and phases_passed(t)):
                traj = finished(t)
                traj.meta["stopped_early"] = True
                return traj
        # ---- the batch ----
        if batch_iter is not None:
            try:
                src = _as_batch(next(batch_iter), R, m, d, dt, dev, t)
            except StopIteration:
                raise ValueError(f"batches ran out at step {t}; the config asks for steps = {T}") from None
        else:
            if t % KEY_BLOCK == 0:
                key_block = data.step_keys_range(batch_keys, t, min(T, t + KEY_BLOCK))  # (≤ KEY_BLOCK, R)
                if step_sampler is not None:
                    step_sampler.draw_steps(key_block, m)  # the words of the block's batches at once
            # the step's keys, unless the batch comes from the block's words and no label is flipped
            src = _Batch(keys=key_block[t % KEY_BLOCK]) if step_sampler is None or rho > 0 else drawn
        # ---- forward + backward over row chunks ----
        st = slots[t % L]  # this step's records
        torch.mul(a_col, blocks, out=a_over_p)
        G_aug.zero_()
        first_block = True
        for ch in chunks:
            if src.keys is None:
                assert src.x is not None and src.y is not None  # a _Batch has keys or (x, y): _as_batch
                ch.x.copy_(src.x[:, ch.r0 : ch.r0 + ch.c])
                y = src.y[:, ch.r0 : ch.r0 + ch.c]  # (R, c)
            elif step_sampler is not None:
                step_sampler.fill_step(t % KEY_BLOCK)  # the batch of one small chunk, from the block's words
            elif sampler is not None:
                sampler(src.keys, ch.r0, ch.c)  # writes x (and the signs up to dx) into xa
            else:
                xs, y = laws.draw(law, src.keys, ch.r0, ch.c, d, cfg.label_coords, dt)
                ch.x.copy_(xs)
                y = y.to(dt)
            if not xl_view:
                torch.index_select(ch.x, 2, coords_t, out=ch.xl)  # (R, c, K) the label coordinates, (x_i, x_j) first
            if ch.copy_xij:
                ch.xij.copy_(ch.xl_ij)
            if s2_from_y:  # ±1 rows: y = -x_i x_j in one op, exactly
                y = torch.addcmul(zero, ch.xl_cols[0], ch.xl_cols[1], value=-1.0, out=ch.y)  # (R, c)
            elif sampler is not None:
                y = data.labels_from_columns(ch.xl_cols, "boolean", out=ch.y)  # (R, c)
            if rho > 0 and src.keys is not None:  # training labels flipped with probability ρ (test labels stay clean)
                y = y * data.label_flips(src.keys, ch.r0, ch.c, rho, dt)
            h = torch.bmm(ch.x, W_t, out=ch.z).relu_()  # (R, c, B) relu(z), z = X Wᵀ
            f = torch.bmm(h, a_over_p)  # (R, c, V): f(x) = (1/p) Σ_k a_k relu(z_k) per variant
            g = torch.mul(f, ch.y_col if y is ch.y else y.unsqueeze(-1), out=ch.gam)  # γ = y f
            hp = losses.step_slopes(g, ch.th, groups)  # h'(γ) (h'(0) for a proxy); s(γ) into th
            coef = hp.mul_(y.unsqueeze(-1))  # (R, c, V): c(x) = h'(γ) y
            torch.sign(h, out=ch.D)  # 1[z > 0] (h = relu(z) ≥ 0)
            coef_v = coef.unsqueeze(-1)  # (R, c, V, 1)
            ch.Dv.mul_(coef_v)  # D = c(x) 1[z > 0]
            # second moments of the signal-direction gradient along μ̂+ and μ̂-: Σ_x D² s2 = Σ_x D (c s2),
            # s2 = ((x_i - x_j)², (x_i + x_j)²) / 2 (the 1/2, a² and 1/m are applied below), for every variant's c
            if s2_from_y:  # (x_i ∓ x_j)² = 2 ∓ 2 x_i x_j = 2 ± 2y, exactly
                torch.addcmul(two, ch.y_col, two_pm, out=ch.s2)
            else:
                xi, xj = ch.xl_cols[:2]
                torch.sub(xi, xj, out=ch.s2_cols[0])
                torch.add(xi, xj, out=ch.s2_cols[1])
                ch.s2.square_()  # (R, c, 2), twice s2
            torch.mul(coef_v, ch.s2_v, out=ch.E)
            G_aug.baddbmm_(ch.Dt, ch.xg)  # (R, B, dx + 2V): Σ_x D [x | c s2]
            if ch.block is not None:  # batch statistics of the block's rows
                _block_stats(st, first_block, ch.block, T_pq, sampler_law, groups)
                first_block = False
        # ---- gradients, records, update ----
        # g_a,k = (1/m) Σ_x c(x) relu(z_k) = (1/m) Σ_x D_k(x) w_k·x = w_k · G_k / m  (relu(z) = 1[z > 0] z)
        ga = torch.sum(torch.mul(W, G, out=WG), -1, out=st["g_a"]).div_(m)  # (R, B): vecdot's own mul and sum
        st["a"].copy_(a)
        torch.index_select(W, 2, coords_t, out=st["w_coords"])
        torch.linalg.vector_norm(torch.mul(W, perp_mask, out=WG), dim=-1, out=st["w_perp"])  # (R, B)
        torch.div(a, m, out=a_m)
        G.mul_(a_m_col)  # g_w (R, B, d)
        torch.sum(torch.mul(G, G, out=WG), -1, out=st["g_w_norm2"])  # ‖g_w‖²
        torch.index_select(G, 2, ij_t, out=st["g_w_coords"])
        # g_sig_m2 = a² / 2m times the diagonal blocks (variant v's neurons, variant v's c) of m2v
        torch.square(a, out=a2).div_(2 * m)
        torch.mul(m2v_diag, a2_v, out=st["g_sig_m2_v"])  # (R, p, 2, V)
        st["loss_err"].div_(m)  # batch_loss, batch_err
        torch.mm(T_pq_flat, pq_to_cluster, out=S_flat)  # (R·(V + 1), 4): Σ_x [γ | 1] per cluster
        torch.div(S_sum, S_count.clamp_(min=1.0), out=st["batch_margin"])  # mean γ per cluster
        if lam > 0:  # weight decay, from the old values: g_w + λW and g_a + λa (skipped at λ = 0)
            G.add_(W, alpha=lam)
            a.addcmul_(torch.add(ga, a, alpha=lam), train_a, value=-eta_a)
        else:
            a.addcmul_(ga, train_a, value=-eta_a)
        W.sub_(G, alpha=eta)
        if (t + 1) % L == 0:
            flush(t + 1)
    check_finite(T)
    snapshot(T)
    if progress is not None:
        progress(T, T)
    return finished(T)
