"""Everything one SGD step of simulator/engine.py writes into, allocated once per run.

Shapes: R seeds, V variants, p neurons, B = V·p neurons per seed, d inputs, c rows of a
chunk, m_blk rows of a block. The step reads a batch in chunks of rows (`chunk_rows_for`)
and reduces the per-row results (margins, clusters) of a block of rows at once; every
chunk and block has its views made here, so the step loop only indexes and writes.

A chunk's rows live in xa (R, c, ws): x in columns [0, d), then (Boolean) the ≤ 7 further
generated signs up to dx = 8⌈d/8⌉, then E = c_v(x) s2(x) (2V columns) from dx on, so that
one GEMM Dᵀ xa gives both the first-layer gradient and the second moments of g_sig.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import data, losses
from .config import VARIANTS, RunConfig

CHUNK_ELEMENTS = 1 << 21  # elements of X per chunk when chunk_rows = 0 (8 MiB in float32)
STAT_ELEMENTS = 1 << 16  # seed-rows of per-row results kept before they are reduced to batch statistics

# Clusters of population.CLUSTERS, (1,-1), (-1,1), (1,1), (-1,-1) ("1" meaning > 0), from p = 1[x > 0]:
# p_i (1 - p_j), (1 - p_i) p_j, p_i p_j, (1 - p_i)(1 - p_j); each is [p_i p_j, p_i, p_j, 1] times a
# column of PQ_TO_CLUSTER, so the per-cluster sums come from four plain sums.
PQ_TO_CLUSTER = ((-1.0, -1.0, 1.0, 1.0), (1.0, 0.0, 0.0, -1.0), (0.0, 1.0, 0.0, -1.0), (0.0, 0.0, 0.0, 1.0))


def chunk_rows_for(cfg: RunConfig) -> int:
    if cfg.chunk_rows:
        return min(cfg.chunk_rows, cfg.m)
    return max(1, min(cfg.m, CHUNK_ELEMENTS // (cfg.seeds * cfg.d)))


def block_rows_for(cfg: RunConfig) -> int:
    """Rows of a block: the whole batch unless it is very large, and a whole number of chunks."""
    c = chunk_rows_for(cfg)
    return min(cfg.m, max(c, (STAT_ELEMENTS // cfg.seeds) // c * c))


@dataclass
class Block:
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


@dataclass
class Chunk:
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
    xl: torch.Tensor  # (R, c, K) the label coordinates, (x_i, x_j) first
    y: torch.Tensor  # (R, c) the labels of the generated rows
    block: Block | None  # the block's views on its last chunk
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


class Workspace:
    """The buffers and views of one run's steps, for the parameters W (R, B, d) and a (R, B).

    W and a are updated in place by the step, so their views here stay valid. `sampled`: the
    rows come from the built-in Boolean law, drawn in place into the chunk rows.
    """

    def __init__(self, cfg: RunConfig, W: torch.Tensor, a: torch.Tensor, sampled: bool) -> None:
        R, B, d = W.shape
        V, m = len(cfg.variants), cfg.m
        p = B // V
        dt, dev = W.dtype, W.device
        i, j = cfg.pair
        coords = list(cfg.label_coords)
        K = len(coords)
        self.W, self.a, self.m, self.d = W, a, m, d
        self.eta = float(cfg.eta)
        self.eta_a = self.eta * float(cfg.lr_ratio)  # the second layer's step rη (= η exactly at r = 1)
        self.lam = float(cfg.weight_decay)
        self.rho = float(cfg.label_noise)
        self.label_coords = cfg.label_coords
        self.groups = losses.loss_groups(
            [VARIANTS[v].loss for v in cfg.variants], [VARIANTS[v].proxy for v in cfg.variants], dev
        )  # the variant columns by loss
        train_a = torch.tensor([VARIANTS[v].layers == "both" for v in cfg.variants], dtype=dt, device=dev)
        self.train_a = train_a.repeat_interleave(p).view(1, B)  # (1, B) 1 where a is trained
        self.perp_mask = torch.ones(d, dtype=dt, device=dev)  # 0 at i and j
        self.perp_mask[[i, j]] = 0.0

        # ---- the two GEMMs ----
        self.c_max = c_max = chunk_rows_for(cfg)
        dx = 8 * ((d + 7) // 8)
        ws = dx + 16 * ((2 * V + 15) // 16)  # row stride of xa: a multiple of 16 elements (aligned rows)
        xa_flat = torch.zeros(R * c_max * ws, dtype=dt, device=dev)
        self.G_aug = torch.empty(R, B, dx + 2 * V, dtype=dt, device=dev)  # Dᵀ xa, summed over the chunks
        self.G = self.G_aug[:, :, :d]  # (R, B, d) Σ_x D(x) x, then g_w
        m2v = self.G_aug[:, :, dx:]  # (R, B, 2V) Σ_x D(x) c_v(x) s2(x) for every variant v
        self.m2v_diag = m2v.view(R, V, p, V, 2).diagonal(dim1=1, dim2=3)  # (R, p, 2, V): g_sig_m2's blocks
        z_flat = torch.empty(R * c_max * B, dtype=dt, device=dev)  # z = X Wᵀ, then relu(z), of a chunk
        D_flat = torch.empty(R * c_max * B, dtype=dt, device=dev)  # D = c(x) 1[z > 0] of a chunk

        # ---- per-row results of a block, reduced to the batch statistics once per block ----
        m_blk = block_rows_for(cfg)
        gam1 = torch.ones(R, m_blk, V + 1, dtype=dt, device=dev)  # [γ(x) per variant | 1]
        gam = gam1[:, :, :V]  # the margins γ(x)
        th = torch.empty(R, m_blk, V, dtype=dt, device=dev)  # s(γ) = 1 - h'(γ)/h'(0)
        xij = torch.empty(R, m_blk, 2, dtype=dt, device=dev)  # (x_i, x_j) of each row: clusters, s2
        pq = torch.ones(R, 4, m_blk, dtype=dt, device=dev)  # rows p_i p_j, p_i, p_j, 1 with p = 1[x > 0]
        self.T_pq = torch.empty(R, V + 1, 4, dtype=dt, device=dev)  # Σ_x [γ | 1] ⊗ [p_i p_j, p_i, p_j, 1]
        self.T_pq_flat = self.T_pq.view(R * (V + 1), 4)
        self.pq_to_cluster = torch.tensor(PQ_TO_CLUSTER, dtype=dt, device=dev)  # (4, 4)
        self.S_flat = torch.empty(R * (V + 1), 4, dtype=dt, device=dev)  # T_pq per cluster
        self.S_sum = self.S_flat.view(R, V + 1, 4)[:, :V]  # Σ_x γ per cluster
        self.S_count = self.S_flat.view(R, V + 1, 4)[:, V:]  # rows per cluster

        # ---- rows and labels ----
        self.sampled = sampled
        self.xl_view = coords == list(range(coords[0], coords[0] + K))  # consecutive columns: the rows' own view
        xl_flat = torch.empty(0 if self.xl_view else R * c_max * K, dtype=dt, device=dev)  # else a copy
        self.coords_t = torch.tensor(coords, device=dev)
        self.ij_t = torch.tensor([i, j], device=dev)
        self.s2_from_y = sampled and K == 2  # ±1 rows, y = -x_i x_j: s2 = (2 + 2y, 2 - 2y)
        self.two_pm = torch.tensor([2.0, -2.0], dtype=dt, device=dev)
        self.zero = torch.tensor(0.0, dtype=dt, device=dev)
        self.two = torch.tensor(2.0, dtype=dt, device=dev)
        s2_flat = torch.empty(R * c_max * 2, dtype=dt, device=dev)  # (x_i ∓ x_j)² of a chunk
        y_flat = torch.empty(R * c_max, dtype=dt, device=dev)  # the labels of a generated chunk
        # the built-in Boolean law is drawn in place into xa (the same samples as law.sample)
        self.sampler = data.BooleanSampler(R, c_max, d, dt, dev, out=xa_flat, row_stride=ws) if sampled else None

        # ---- the update ----
        self.blocks = (torch.arange(B, device=dev).view(B, 1) // p == torch.arange(V, device=dev)).to(dt) / p
        self.a_over_p = torch.empty(R, B, V, dtype=dt, device=dev)  # a_k / p in the column of k's variant
        self.a_col = a.unsqueeze(-1)  # (R, B, 1)
        self.W_t = W.transpose(1, 2)  # (R, d, B)
        self.a2 = torch.empty(R, B, dtype=dt, device=dev)  # a² / 2m
        self.a2_v = self.a2.view(R, V, p).permute(0, 2, 1).unsqueeze(2)  # (R, p, 1, V)
        self.WG = torch.empty(R, B, d, dtype=dt, device=dev)  # w ⊙ g, w ⊙ mask, g ⊙ g of the records
        self.a_m = torch.empty(R, B, dtype=dt, device=dev)  # a / m
        self.a_m_col = self.a_m.unsqueeze(-1)  # (R, B, 1)

        self.chunks: list[Chunk] = []
        for r0 in range(0, m, c_max):
            c = min(c_max, m - r0)
            xa = xa_flat[: R * c * ws].view(R, c, ws)
            x = xa[:, :, :d]
            b0 = r0 % m_blk  # where the chunk's rows sit in the block buffers
            block_end = b0 + c if (r0 + c == m or b0 + c == m_blk) else 0  # > 0: the block's rows, on its last chunk
            xl = x[:, :, coords[0] : coords[0] + K] if self.xl_view else xl_flat[: R * c * K].view(R, c, K)
            alone = b0 == 0 and block_end == c  # the block is this chunk: its stats read (x_i, x_j) from xl
            self.chunks.append(
                Chunk(
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
                    xl=xl,
                    y=y_flat[: R * c].view(R, c),
                    block=Block(block_end, gam1, th, xl[:, :, :2] if alone else xij, pq) if block_end else None,
                    copy_xij=not alone,
                )
            )
        # a batch of one small chunk: the words of a block of steps are drawn at once
        small = self.sampler is not None and len(self.chunks) == 1 and self.sampler.small_steps(m)
        self.step_sampler = self.sampler if small else None
