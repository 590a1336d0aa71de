"""Test-set metrics of the network at a snapshot, and the Clopper–Pearson interval.

The test set is fixed for a run (its own seed, `RunConfig.test_seed`) and regenerated
in row chunks at every snapshot rather than stored, so memory stays bounded.

Per (seed, variant): 0-1 error count, mean loss `h(γ)` and `max |h'(γ)/h'(0) - 1|` of the
variant's loss (for a proxy variant, of the loss it linearizes; `max |h'(γ)+1|` for the
logistic loss), the clean network `f̃(x) = (1/p) Σ a_k relu(w_sig,k · x)` (docs/SPEC.md §2)
through `max |f - f̃|` and the share of points where `sign f = sign f̃`, and the mean margin
of `f` and of `f̃` in each of the four clusters of `(x_i, x_j)` (a quadrant for Gaussian
data). On the hypercube `f̃` is constant on a cluster, so its cluster mean is exactly
the clean cluster margin `γ̃_c`.
"""

from __future__ import annotations

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


@torch.no_grad()
def evaluate(W: torch.Tensor, a: torch.Tensor, V: int, cfg, chunk_rows: int = 4096) -> dict[str, torch.Tensor]:
    """Test-set metrics for parameters W (R, V·p, d), a (R, V·p); results on W's device.

    Returns tensors of shape (R, V) (or (R, V, 4) for the cluster margins).
    """
    R, B, d = W.shape
    p = B // V
    dev, dt = W.device, W.dtype
    i, j = cfg.pair
    groups = losses.loss_groups([VARIANTS[v].loss for v in cfg.variants], [False] * V, dev)
    s_sig, sigma = signal_projection(W[:, :, i], W[:, :, j], a)  # (R, B)
    err = torch.zeros(R, V, dtype=torch.float64, device=dev)
    loss = torch.zeros(R, V, dtype=torch.float64, device=dev)
    max_dev = torch.zeros(R, V, dtype=dt, device=dev)
    gap = torch.zeros(R, V, dtype=dt, device=dev)
    agree = torch.zeros(R, V, dtype=torch.float64, device=dev)
    msum = torch.zeros(R, V, 4, dtype=torch.float64, device=dev)
    csum = torch.zeros(R, V, 4, dtype=torch.float64, device=dev)
    count = torch.zeros(4, dtype=torch.float64, device=dev)
    n = cfg.test_size
    for r0 in range(0, n, chunk_rows):
        rows = min(chunk_rows, n - r0)
        x, y = data.test_rows(cfg.data, cfg.test_seed, r0, rows, d, cfg.label_coords, dt, dev)
        z = torch.matmul(x, W.transpose(1, 2))  # (R, c, B)
        f = (torch.relu(z) * a.unsqueeze(1)).view(R, rows, V, p).sum(-1) / p  # (R, c, V)
        u = (x[:, i].view(1, -1, 1) + sigma.unsqueeze(1) * x[:, j].view(1, -1, 1)) / np.sqrt(2.0)  # (R, c, B)
        zc = s_sig.unsqueeze(1) * u  # w_sig · x
        fc = (torch.relu(zc) * a.unsqueeze(1)).view(R, rows, V, p).sum(-1) / p
        gamma = y.view(1, -1, 1) * f
        err += (gamma <= 0).sum(1).to(torch.float64)
        loss += losses.by_loss(gamma, groups, lambda loss_fn, g: loss_fn.h(g)).sum(1).to(torch.float64)
        max_dev = torch.maximum(max_dev, losses.by_loss(gamma, groups, lambda loss_fn, g: loss_fn.deviation(g)).amax(1))
        gap = torch.maximum(gap, (f - fc).abs().amax(1))
        agree += (torch.sign(f) == torch.sign(fc)).sum(1).to(torch.float64)
        onehot = torch.nn.functional.one_hot(cluster_index(x[:, i], x[:, j]), 4).to(dt)  # (c, 4)
        count += onehot.sum(0).to(torch.float64)
        msum += torch.einsum("rcv,ck->rvk", gamma, onehot).to(torch.float64)
        csum += torch.einsum("rcv,ck->rvk", y.view(1, -1, 1) * fc, onehot).to(torch.float64)
    cnt = count.clamp(min=1.0)
    return {
        "test_err_count": err,
        "test_loss": loss / n,
        "test_max_dev": max_dev.to(torch.float64),
        "test_clean_gap": gap.to(torch.float64),
        "test_sign_agree": agree / n,
        "test_margin": msum / cnt,
        "test_clean_margin": csum / cnt,
    }


def clopper_pearson(k: np.ndarray | int, n: int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided (1 - alpha) Clopper–Pearson interval for a binomial proportion k/n."""
    from scipy.stats import beta

    k = np.asarray(k, dtype=float)
    lo = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return lo, hi
