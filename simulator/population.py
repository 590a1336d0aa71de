"""Test-set metrics of the network at a snapshot, and the Clopper–Pearson interval.

The test set is fixed for a run (its own seed, `RunConfig.test_seed`) and evaluated in
row chunks (`TestSet`): a run generates it once and keeps it in memory when it fits
`KEEP_BYTES`; a larger one is regenerated chunk by chunk at every snapshot, so memory
stays bounded. Either way a chunk holds the same rows.

Per (seed, variant): 0-1 error count, mean loss `h(γ)` and `max |h'(γ)/h'(0) - 1|` of the
variant's loss (for a proxy variant, of the loss it linearizes; `max |h'(γ)+1|` for the
logistic loss), the clean network `f̃(x) = (1/p) Σ a_k relu(w_sig,k · x)` (docs/SPEC.md §2)
through `max |f - f̃|` and the share of points where `sign f = sign f̃`, and the mean margin
of `f` and of `f̃` in each of the four clusters of `(x_i, x_j)` (a quadrant for Gaussian
data). On the hypercube `f̃` is constant on a cluster, so its cluster mean is exactly
the clean cluster margin `γ̃_c`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from . import data, losses
from .config import VARIANTS

# Cluster order used everywhere: (x_i, x_j) = (1,-1), (-1,1) [label +1], (1,1), (-1,-1) [label -1].
CLUSTERS = ((1, -1), (-1, 1), (1, 1), (-1, -1))
CLUSTER_LABELS = (1.0, 1.0, -1.0, -1.0)
TEST_FIELDS = (
    "test_err_count",
    "test_loss",
    "test_max_dev",
    "test_clean_gap",
    "test_sign_agree",
    "test_margin",
    "test_clean_margin",
)


def cluster_index(xi: torch.Tensor, xj: torch.Tensor) -> torch.Tensor:
    """Index into CLUSTERS of each point, from the signs of its two pair coordinates."""
    pi, pj = xi > 0, xj > 0
    # (1,-1)->0, (-1,1)->1, (1,1)->2, (-1,-1)->3
    return torch.where(pi & ~pj, 0, torch.where(~pi & pj, 1, torch.where(pi & pj, 2, 3)))


def signal_projection(wi: torch.Tensor, wj: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(⟨w, μ̂_sig⟩, σ) per neuron: μ̂_sig = (e_i + σ e_j)/√2 with σ = -1 if a ≥ 0 else +1."""
    sigma = torch.where(a >= 0, -1.0, 1.0).to(wi.dtype)
    return (wi + sigma * wj) / np.sqrt(2.0), sigma


KEEP_BYTES = 64 * 2**20  # a run keeps its test set in memory (generated once) up to this size
GROUP_ELEMENTS = 1 << 20  # per-row results (seeds · rows · variants) of a regenerated test set reduced together


@dataclass
class TestChunk:
    """One row chunk of the test set: its rows and what `evaluate` needs of them besides f.

    `cluster` is set where every row's pair coordinates (x_i, x_j) are ±1 (the hypercube): the
    clean network f̃ then takes one value per cluster and is looked up instead of computed per row.
    """

    x: torch.Tensor  # (c, d) the rows, as data.test_rows returns them
    y: torch.Tensor  # (c,) their labels
    onehot: torch.Tensor  # (c, 4) one-hot of the row's cluster (CLUSTERS order), in the rows' dtype
    count: torch.Tensor  # (4,) float64: rows per cluster
    cluster: torch.Tensor | None  # (c,) int64 index into CLUSTERS, or None off the hypercube


class _Workspace:
    """Buffers for the per-row results of a group of consecutive chunks (c_0, c_1, … rows).

    Two layouts. The block buffers (f, f̃, y, γ, y f̃, sign f, sign f̃) are flat: chunk k's
    (R, c_k, V) block is contiguous and starts at k·S, S being R·c_0·V rounded up to a multiple
    of 64 bytes, so that a block is laid out and aligned like the (R, c, V) tensor of a chunk
    evaluated alone (what the transcendental functions and the cluster-sum GEMM read). The row
    buffers (|f - f̃|, |h'(γ)/h'(0) - 1|, a mask) are (R, V, n): every row of the group contiguous per
    (seed, variant), so the maxima and counts, whose order does not matter, are one fast inner
    reduction. Elementwise ops between the two go through `parts`: the chunks of c_0 rows as one
    (K, R, c_0, V) view, then the last chunk if it is shorter. The padding after each block stays
    zero and is never reduced.
    """

    def __init__(self, sizes: list[int], R: int, V: int, dtype: torch.dtype, device: torch.device) -> None:
        item = torch.empty(0, dtype=dtype).element_size()
        c0, K, n = sizes[0], len(sizes), sum(sizes)
        S = -(-R * c0 * V * item // 64) * 64 // item
        self.full = sum(1 for c in sizes if c == c0)  # the chunks of c_0 rows (all but a shorter last one)
        self.ragged = self.full < K
        self._sizes, self._R, self._V, self._S, self._dev = sizes, R, V, S, device
        self.y_ready = False  # y holds the labels of these very chunks (a kept test set)
        self.fc_index: torch.Tensor | None = None  # (K·S,) f̃ of every row is fc4.view(-1)[fc_index] (kept, cube)
        blk = [torch.zeros(K * S, dtype=dtype, device=device) for _ in range(7)]
        self.f, self.fc, self.y, self.gamma, self.yfc, self.sf, self.sfc = blk
        self.f_blk, self.fc_blk, self.y_blk, self.gamma_blk, self.yfc_blk = (
            self.blocks(b) for b in (self.f, self.fc, self.y, self.gamma, self.yfc)
        )
        self.diff, self.dev = (torch.zeros(R, V, n, dtype=dtype, device=device) for _ in range(2))
        self.mask = torch.zeros(R, V, n, dtype=torch.bool, device=device)
        self.dev_blk = self.row_blocks(self.dev)
        # the pairs (input, output) of the group's elementwise ops, view by view
        self.le_parts = list(zip(self.parts(self.gamma), self.parts(self.mask), strict=True))
        self.sub_parts = list(zip(self.parts(self.f), self.parts(self.fc), self.parts(self.diff), strict=True))
        self.eq_parts = list(zip(self.parts(self.sf), self.parts(self.sfc), self.parts(self.mask), strict=True))

    def blocks(self, buf: torch.Tensor) -> list[torch.Tensor]:
        """The (R, c_k, V) blocks of a flat block buffer."""
        R, V, S = self._R, self._V, self._S
        return [buf[k * S : k * S + R * c * V].view(R, c, V) for k, c in enumerate(self._sizes)]

    def row_blocks(self, buf: torch.Tensor) -> list[torch.Tensor]:
        """The rows of each chunk in a row buffer (R, V, n), as (R, c_k, V) views."""
        offsets = np.cumsum([0, *self._sizes])
        return [buf[:, :, o : o + c].permute(0, 2, 1) for o, c in zip(offsets, self._sizes, strict=False)]

    def parts(self, buf: torch.Tensor) -> list[torch.Tensor]:
        """A buffer as few views as the elementwise ops need: (K, R, c_0, V) over the chunks of c_0 rows,
        then the shorter last chunk (R, c, V) if any."""
        R, V, c0, K = self._R, self._V, self._sizes[0], self.full
        if buf.dim() == 1:  # block buffer
            head = buf[: K * self._S].view(K, self._S)[:, : R * c0 * V].view(K, R, c0, V)
            last = self.blocks(buf)[-1]
        else:  # row buffer (R, V, n)
            head = buf[:, :, : K * c0].view(R, V, K, c0).permute(2, 0, 3, 1)
            last = self.row_blocks(buf)[-1]
        return [head, last] if self.ragged else [head]

    def fill(self, chunks: list[TestChunk]) -> None:
        """Fill in the labels of `chunks` (this group's, kept) and, when all of them are on the hypercube,
        the index of each row's f̃ in fc4 (R, 4, V): r·4V + cluster·V + v (0 in the padding)."""
        for b, ch in zip(self.y_blk, chunks, strict=True):
            b.copy_(ch.y.view(1, -1, 1).expand_as(b))
        self.y_ready = True
        if all(ch.cluster is not None for ch in chunks):
            R, V = self._R, self._V
            idx = torch.zeros_like(self.f, dtype=torch.int64)
            base = torch.arange(R, device=self._dev).view(R, 1, 1) * 4 * V + torch.arange(V, device=self._dev)
            for b, ch in zip(self.blocks(idx), chunks, strict=True):
                assert ch.cluster is not None
                torch.add(base, ch.cluster.view(1, -1, 1) * V, out=b)
            self.fc_index = idx


def kept_bytes(cfg, item: int) -> int:
    """Bytes of cfg's test set kept in memory, entries of `item` bytes: the rows (8⌈d/8⌉ entries
    each, as the Boolean sampler writes them), labels, one-hot clusters and cluster indices, and the
    per-row results of cfg.seeds seeds and cfg's variants (nine buffers, a mask and an index)."""
    per_row = len(cfg.variants) * cfg.seeds * (9 * item + 9)
    return cfg.test_size * ((8 * ((cfg.d + 7) // 8) + 5) * item + 8 + per_row)


class TestSet:
    """The fixed test set of a run (cfg.test_size rows of cfg.data from cfg.test_seed), in row chunks.

    The chunks are rows [r0, r0 + chunk_rows) for r0 = 0, chunk_rows, …; a snapshot's sums are
    taken chunk by chunk and added in that order. When the rows, their per-chunk extras and the
    per-row results of cfg.seeds seeds and cfg's variants take at most `keep_bytes` (`nbytes`), the
    rows are generated once, here, and kept, and all chunks are reduced together; otherwise every
    pass regenerates them and holds one chunk of rows at a time.
    """

    def __init__(
        self, cfg, dtype: torch.dtype, device: torch.device, chunk_rows: int, keep_bytes: int = KEEP_BYTES
    ) -> None:
        self.cfg, self.dtype, self.device = cfg, dtype, device
        self.n, self.d, self.chunk_rows = cfg.test_size, cfg.d, chunk_rows
        self.sizes = [min(chunk_rows, self.n - r0) for r0 in range(0, self.n, chunk_rows)]
        self.kept: list[TestChunk] | None = None
        self.count: torch.Tensor | None = None  # (4,) float64 rows per cluster, when kept
        if self.nbytes() <= keep_bytes:
            self.kept = [self._chunk(k) for k in range(len(self.sizes))]
            self.count = torch.stack([c.count for c in self.kept]).sum(0)
        self._spaces: dict[tuple, _Workspace] = {}

    def nbytes(self) -> int:
        """Bytes of the test set when kept (`kept_bytes`)."""
        return kept_bytes(self.cfg, torch.empty(0, dtype=self.dtype).element_size())

    def _chunk(self, k: int) -> TestChunk:
        cfg = self.cfg
        r0 = k * self.chunk_rows
        rows, d = self.sizes[k], self.d
        x, y = data.test_rows(cfg.data, cfg.test_seed, r0, rows, d, cfg.label_coords, self.dtype, self.device)
        i, j = cfg.pair
        xi, xj = x[:, i], x[:, j]
        cl = cluster_index(xi, xj)
        onehot = torch.nn.functional.one_hot(cl, 4).to(self.dtype)  # (c, 4)
        count = onehot.sum(0).to(torch.float64)
        cube = bool(((xi.abs() == 1) & (xj.abs() == 1)).all())
        return TestChunk(x, y, onehot, count, cl if cube else None)

    def chunks(self) -> Iterator[TestChunk]:
        """The chunks in row order: the kept ones, or each one generated as it is reached."""
        if self.kept is not None:
            yield from self.kept
        else:
            for k in range(len(self.sizes)):
                yield self._chunk(k)

    def groups(self, R: int, V: int) -> Iterator[tuple[_Workspace, Iterator[TestChunk]]]:
        """Consecutive chunks reduced together, in row order, each with its workspace: a kept test set
        is one group (its labels filled in once); a regenerated one goes in groups of at most
        GROUP_ELEMENTS per-row results, its chunks generated as they are reached."""
        K = len(self.sizes)
        per = K if self.kept is not None else max(1, GROUP_ELEMENTS // (R * self.chunk_rows * V))
        for k0 in range(0, K, per):
            sizes = self.sizes[k0 : k0 + per]
            key = (R, V, k0 if self.kept is not None else tuple(sizes))
            ws = self._spaces.get(key)
            if ws is None:
                ws = self._spaces[key] = _Workspace(sizes, R, V, self.dtype, self.device)
                if self.kept is not None:
                    ws.fill(self.kept[k0 : k0 + per])
            if self.kept is not None:
                yield ws, iter(self.kept[k0 : k0 + per])
            else:
                yield ws, (self._chunk(k) for k in range(k0, k0 + len(sizes)))


def _cluster_sums(g: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """torch.einsum("rcv,ck->rvk", g, onehot) for g (R, c, V) contiguous, onehot (c, 4): (R, V, 4).

    The one bmm the einsum makes, called with the operand laid out as the einsum lays it out (a view
    for R = 1 or V = 1, else a contiguous copy (R·V, c)), so the sums are the einsum's, bit for bit,
    without its equation parsing and permutations."""
    R, c, V = g.shape
    if V == 1:
        gt = g.view(1, R, c)
    elif R == 1:
        gt = g.view(c, V).t().unsqueeze(0)  # (1, V, c), strides (V, 1, V)
    else:
        gt = g.permute(0, 2, 1).reshape(1, R * V, c)
    return torch.bmm(gt, onehot.unsqueeze(0)).view(R, V, 4)


def _in_order(parts: list[torch.Tensor]) -> torch.Tensor:
    """0 + parts[0] + parts[1] + … in float64, added in this order (the CPU cumsum adds sequentially;
    a device's may scan in parallel, so there they are added one by one)."""
    s = torch.stack(parts).to(torch.float64)
    if s.device.type == "cpu":
        return s.cumsum(0)[-1]
    acc = torch.zeros_like(s[0])
    for v in s:
        acc += v
    return acc


@torch.no_grad()
def evaluate(
    W: torch.Tensor, a: torch.Tensor, V: int, cfg, chunk_rows: int = 4096, test: TestSet | None = None
) -> dict[str, torch.Tensor]:
    """Test-set metrics for parameters W (R, V·p, d), a (R, V·p); results on W's device.

    `test`: the run's TestSet; without it the test set is generated in chunks of `chunk_rows` rows
    for this call. The sums are taken per chunk and added chunk by chunk in float64, so the metrics
    depend on the chunk size only. Returns tensors of shape (R, V) (or (R, V, 4) for the cluster
    margins).
    """
    R, B, d = W.shape
    p = B // V
    dev, dt = W.device, W.dtype
    if test is None:
        test = TestSet(cfg, dt, dev, chunk_rows, keep_bytes=0)
    i, j = cfg.pair
    groups = losses.loss_groups([VARIANTS[v].loss for v in cfg.variants], [False] * V, dev)
    s_sig, sigma = signal_projection(W[:, :, i], W[:, :, j], a)  # (R, B)
    a_row = a.unsqueeze(1)  # (R, 1, B)
    W_t = W.transpose(1, 2)  # (R, d, B)
    err = torch.zeros(R, V, dtype=torch.float64, device=dev)
    gap = torch.zeros(R, V, dtype=dt, device=dev)
    agree = torch.zeros(R, V, dtype=torch.float64, device=dev)
    count = torch.zeros(4, dtype=torch.float64, device=dev) if test.count is None else test.count
    loss_parts: list[torch.Tensor] = []  # per chunk, in row order: Σ_x h(γ), (R, V)
    dev_parts: list[torch.Tensor] = []  # per group: max |h'(γ)/h'(0) - 1|, (R, V)
    msum_parts: list[torch.Tensor] = []  # Σ_x γ per cluster, (R, V, 4)
    csum_parts: list[torch.Tensor] = []  # Σ_x y f̃ per cluster, (R, V, 4)
    # f̃ at the four cluster points (R, 4, V), by the same arithmetic as per row below: a row of
    # cluster k gets exactly fc4[:, k]
    cx = torch.tensor(CLUSTERS, dtype=dt, device=dev)  # (4, 2)
    u4 = (cx[:, 0].view(1, -1, 1) + sigma.unsqueeze(1) * cx[:, 1].view(1, -1, 1)) / np.sqrt(2.0)  # (R, 4, B)
    fc4 = (torch.relu(s_sig.unsqueeze(1) * u4) * a_row).view(R, 4, V, p).sum(-1) / p
    for ws, chunks in test.groups(R, V):
        onehots = []
        for k, ch in enumerate(chunks):  # f and f̃ of the group's rows, into the workspace's blocks
            x, rows = ch.x, ch.x.shape[0]
            z = torch.bmm(x.unsqueeze(0) if R == 1 else x.expand(R, -1, -1), W_t)  # (R, c, B): matmul's own bmm
            torch.sum(z.relu_().mul_(a_row).view(R, rows, V, p), -1, out=ws.f_blk[k])  # p·f
            if ws.fc_index is not None:
                pass  # looked up for the whole group below
            elif ch.cluster is not None:
                torch.index_select(fc4, 1, ch.cluster, out=ws.fc_blk[k])
            else:
                u = (x[:, i].view(1, -1, 1) + sigma.unsqueeze(1) * x[:, j].view(1, -1, 1)) / np.sqrt(2.0)  # (R, c, B)
                zc = s_sig.unsqueeze(1) * u  # w_sig · x
                torch.sum((torch.relu(zc) * a_row).view(R, rows, V, p), -1, out=ws.fc_blk[k]).div_(p)
            if not ws.y_ready:
                ws.y_blk[k].copy_(ch.y.view(1, -1, 1).expand(R, rows, V))
            if test.count is None:
                count += ch.count
            onehots.append(ch.onehot)
        if ws.fc_index is not None:
            torch.index_select(fc4.view(-1), 0, ws.fc_index, out=ws.fc)
        f = ws.f.div_(p)  # every block's f
        torch.mul(ws.y, f, out=ws.gamma)  # γ = y f
        torch.mul(ws.y, ws.fc, out=ws.yfc)  # y f̃
        for k, onehot in enumerate(onehots):  # per chunk, each (R, c, V) block as a chunk alone
            g = ws.gamma_blk[k]
            loss_parts.append(losses.by_loss(g, groups, lambda loss_fn, x: loss_fn.h(x)).sum(1))
            ws.dev_blk[k].copy_(losses.by_loss(g, groups, lambda loss_fn, x: loss_fn.deviation(x)))
            msum_parts.append(_cluster_sums(g, onehot))
            csum_parts.append(_cluster_sums(ws.yfc_blk[k], onehot))
        dev_parts.append(ws.dev.amax(2))
        # the counts and maxima over the group's rows, in the row buffers (R, V, n)
        for g, m in ws.le_parts:
            torch.le(g, 0, out=m)
        err += ws.mask.sum(2).to(torch.float64)
        for fp, fcp, dp in ws.sub_parts:
            torch.sub(fp, fcp, out=dp)
        gap = torch.maximum(gap, ws.diff.abs_().amax(2))
        torch.sign(f, out=ws.sf)
        torch.sign(ws.fc, out=ws.sfc)
        for sp, scp, m in ws.eq_parts:
            torch.eq(sp, scp, out=m)
        agree += ws.mask.sum(2).to(torch.float64)
    n = cfg.test_size
    cnt = count.clamp(min=1.0)
    return {
        "test_err_count": err,
        "test_loss": _in_order(loss_parts) / n,
        "test_max_dev": torch.stack(dev_parts).amax(0).to(torch.float64),
        "test_clean_gap": gap.to(torch.float64),
        "test_sign_agree": agree / n,
        "test_margin": _in_order(msum_parts) / cnt,
        "test_clean_margin": _in_order(csum_parts) / cnt,
    }


def clopper_pearson(k: np.ndarray | int, n: int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided (1 - alpha) Clopper–Pearson interval for a binomial proportion k/n."""
    from scipy.stats import beta

    k = np.asarray(k, dtype=float)
    lo = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return lo, hi
