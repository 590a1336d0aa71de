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
generated on the device in row chunks (same samples whatever the chunking, see data.py).

The run is three parts: a `Workspace` allocated once (simulator/workspace.py: every buffer
and view the step writes into), a `Recorder` (simulator/recorder.py: per-step records,
snapshots, divergence, the finished Trajectory), and `step` below. No host–device
synchronisation happens between snapshots. simulator/reference.py is the same step written
the plain way, by autograd.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from . import data, laws, losses
from .config import RunConfig
from .recorder import Recorder, SimulationDiverged
from .trajectory import Trajectory
from .workspace import Block, Chunk, Workspace

__all__ = ["SimulationDiverged", "resolve_device", "run", "step"]

KEY_BLOCK = 256  # step keys are derived this many steps at a time


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


@dataclass
class _Batch:
    """Where one step's rows come from: explicit (x, y), the words drawn for a block of steps
    (word ≥ 0, keys then only for label flips), or the generator's keys."""

    keys: torch.Tensor | None = None
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    word: int = -1


def _per_seed(
    M, v, R: int, n: int, d: int, where: str, names: tuple[str, str, str], dt: torch.dtype, dev: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """A matrix (n, d) and vector (n,) shared by the R seeds, or given per seed ((R, n, d), (R, n)), as the latter.

    `names`: the matrix's, the vector's and n's names in the error."""
    M = torch.as_tensor(M, dtype=dt, device=dev)
    v = torch.as_tensor(v, dtype=dt, device=dev)
    if M.dim() == 2:
        M, v = M.unsqueeze(0).expand(R, -1, -1), v.unsqueeze(0).expand(R, -1)
    if tuple(M.shape) != (R, n, d) or tuple(v.shape) != (R, n):
        Mn, vn, nn = names
        raise ValueError(
            f"{where}: {Mn} has shape {tuple(M.shape)} and {vn} {tuple(v.shape)}; expected "
            f"{Mn} ({nn}, d) = ({n}, {d}) or (R, {nn}, d) with R = {R}, and {vn} to match"
        )
    return M, v


def _explicit(batches: Iterable, cfg: RunConfig, dt: torch.dtype, dev: torch.device) -> Iterator[_Batch]:
    """The given (X, y) of every step, X (m, d) or (R, m, d), checked against cfg."""
    R, m, d = cfg.seeds, cfg.m, cfg.d
    items = iter(batches)
    for t in range(cfg.steps):
        try:
            x, y = next(items)
        except StopIteration:
            raise ValueError(f"batches ran out at step {t}; the config asks for steps = {cfg.steps}") from None
        x, y = _per_seed(x, y, R, m, d, f"batches[{t}]", ("X", "y", "m"), dt, dev)
        yield _Batch(x=x, y=y)


def _generated(cfg: RunConfig, ws: Workspace, seeds: list[int], dev: torch.device) -> Iterator[_Batch]:
    """The keys of every step's generated batch; with a step sampler, the words of KEY_BLOCK steps at once."""
    T, words = cfg.steps, ws.step_sampler
    batch_keys = data.seed_keys(seeds, data.batch_stream(cfg.data_offset), dev)
    for t in range(T):
        s = t % KEY_BLOCK
        if s == 0:
            key_block = data.step_keys_range(batch_keys, t, min(T, t + KEY_BLOCK))  # (≤ KEY_BLOCK, R)
            if words is not None:
                words.draw_steps(key_block, cfg.m)
        if words is None:
            yield _Batch(keys=key_block[s])
        else:  # the step's keys are read only to flip labels
            yield _Batch(keys=key_block[s] if ws.rho > 0 else batch_keys, word=s)


def _parameters(
    cfg: RunConfig, init: tuple[torch.Tensor, torch.Tensor] | None, dt: torch.dtype, dev: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """W (R, B, d) and a (R, B): every variant v of a seed starts from the seed's (W0, a0) in neurons [v·p, (v+1)·p)."""
    R, p, d, V = cfg.seeds, cfg.p, cfg.d, len(cfg.variants)
    if init is None:
        seeds = [cfg.seed + r for r in range(R)]
        W0, a0 = data.init_params(seeds, p, d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, dt, dev)
    else:
        W0, a0 = _per_seed(init[0], init[1], R, p, d, "init", ("W", "a", "p"), dt, dev)
    return W0.repeat(1, V, 1).contiguous(), a0.repeat(1, V).contiguous()


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
    W, a = _parameters(cfg, init, dt, dev)  # (R, B, d), (R, B)
    ws = Workspace(cfg, W, a, sampled=batches is None and law.sample is data.boolean_sample)
    recorder = Recorder(cfg, dt, dev, ws.c_max, t_start)
    sources = _explicit(batches, cfg, dt, dev) if batches is not None else _generated(cfg, ws, recorder.seeds, dev)
    for t in range(cfg.steps):
        if recorder.is_snapshot(t):
            recorder.check_finite(t, W, a)
            recorder.snapshot(t, W, a)
            if progress is not None:
                progress(t, cfg.steps)
            if recorder.may_stop(t):
                traj = recorder.finished(t)
                traj.meta["stopped_early"] = True
                return traj
        step(ws, law, next(sources), recorder.slot(t))
        recorder.stepped(t)
    recorder.check_finite(cfg.steps, W, a)
    recorder.snapshot(cfg.steps, W, a)
    if progress is not None:
        progress(cfg.steps, cfg.steps)
    return recorder.finished(cfg.steps)


def step(ws: Workspace, law: laws.DataLaw, src: _Batch, st: dict[str, torch.Tensor]) -> None:
    """One SGD step of ws.W (R, B, d) and ws.a (R, B) on the batch `src`; its records into `st`."""
    torch.mul(ws.a_col, ws.blocks, out=ws.a_over_p)  # (R, B, V)
    ws.G_aug.zero_()
    first_block = True
    for ch in ws.chunks:
        _forward_backward(ws, law, src, ch)
        if ch.block is not None:  # batch statistics of the block's rows
            _block_stats(st, first_block, ch.block, ws.T_pq, ws.sampled, ws.groups)
            first_block = False
    _update(ws, st)


def _chunk_rows(ws: Workspace, law: laws.DataLaw, src: _Batch, ch: Chunk) -> torch.Tensor:
    """Write the chunk's rows into ch.x (and, generated, the label columns); return its labels y (R, c)."""
    if src.x is not None:
        assert src.y is not None
        ch.x.copy_(src.x[:, ch.r0 : ch.r0 + ch.c])
        y = src.y[:, ch.r0 : ch.r0 + ch.c]
    elif src.word >= 0:
        assert ws.step_sampler is not None
        ws.step_sampler.fill_step(src.word)  # the batch of one small chunk, from the block's words
    elif ws.sampler is not None:
        assert src.keys is not None
        ws.sampler(src.keys, ch.r0, ch.c)  # writes x (and the signs up to dx) into xa
    else:
        assert src.keys is not None
        xs, y = laws.draw(law, src.keys, ch.r0, ch.c, ws.d, ws.label_coords, ch.x.dtype)
        ch.x.copy_(xs)
        y = y.to(ch.x.dtype)
    if not ws.xl_view:
        torch.index_select(ch.x, 2, ws.coords_t, out=ch.xl)  # (R, c, K) the label coordinates, (x_i, x_j) first
    if ch.copy_xij:
        ch.xij.copy_(ch.xl_ij)
    if ws.s2_from_y:  # ±1 rows: y = -x_i x_j in one op, exactly
        y = torch.addcmul(ws.zero, ch.xl_cols[0], ch.xl_cols[1], value=-1.0, out=ch.y)  # (R, c)
    elif ws.sampler is not None:
        y = data.labels_from_columns(ch.xl_cols, "boolean", out=ch.y)  # (R, c)
    if ws.rho > 0 and src.keys is not None:  # training labels flipped with probability ρ (test labels stay clean)
        y = y * data.label_flips(src.keys, ch.r0, ch.c, ws.rho, ch.x.dtype)
    return y


def _forward_backward(ws: Workspace, law: laws.DataLaw, src: _Batch, ch: Chunk) -> None:
    """Add the chunk's rows to ws.G_aug = Σ_x D [x | c s2], D = c(x) 1[z > 0]; margins and s(γ) into the block."""
    y = _chunk_rows(ws, law, src, ch)
    h = torch.bmm(ch.x, ws.W_t, out=ch.z).relu_()  # (R, c, B) relu(z), z = X Wᵀ
    f = torch.bmm(h, ws.a_over_p)  # (R, c, V): f(x) = (1/p) Σ_k a_k relu(z_k) per variant
    g = torch.mul(f, ch.y_col if y is ch.y else y.unsqueeze(-1), out=ch.gam)  # γ = y f
    hp = losses.step_slopes(g, ch.th, ws.groups)  # h'(γ) (h'(0) for a proxy); s(γ) into th
    coef = hp.mul_(y.unsqueeze(-1))  # (R, c, V): c(x) = h'(γ) y
    torch.sign(h, out=ch.D)  # 1[z > 0] (h = relu(z) ≥ 0)
    coef_v = coef.unsqueeze(-1)  # (R, c, V, 1)
    ch.Dv.mul_(coef_v)  # D = c(x) 1[z > 0]
    # second moments of the signal-direction gradient along μ̂+ and μ̂-: Σ_x D² s2 = Σ_x D (c s2),
    # s2 = ((x_i - x_j)², (x_i + x_j)²) / 2 (the 1/2, a² and 1/m are applied in _update), for every variant's c
    if ws.s2_from_y:  # (x_i ∓ x_j)² = 2 ∓ 2 x_i x_j = 2 ± 2y, exactly
        torch.addcmul(ws.two, ch.y_col, ws.two_pm, out=ch.s2)
    else:
        xi, xj = ch.xl_cols[:2]
        torch.sub(xi, xj, out=ch.s2_cols[0])
        torch.add(xi, xj, out=ch.s2_cols[1])
        ch.s2.square_()  # (R, c, 2), twice s2
    torch.mul(coef_v, ch.s2_v, out=ch.E)
    ws.G_aug.baddbmm_(ch.Dt, ch.xg)  # (R, B, dx + 2V): Σ_x D [x | c s2]


def _update(ws: Workspace, st: dict[str, torch.Tensor]) -> None:
    """The gradients from ws.G_aug, the step's records into `st`, then the update of W and a (from the old values)."""
    W, a, G, m = ws.W, ws.a, ws.G, ws.m
    # g_a,k = (1/m) Σ_x c(x) relu(z_k) = (1/m) Σ_x D_k(x) w_k·x = w_k · G_k / m  (relu(z) = 1[z > 0] z)
    ga = torch.sum(torch.mul(W, G, out=ws.WG), -1, out=st["g_a"]).div_(m)  # (R, B): vecdot's own mul and sum
    st["a"].copy_(a)
    torch.index_select(W, 2, ws.coords_t, out=st["w_coords"])
    torch.linalg.vector_norm(torch.mul(W, ws.perp_mask, out=ws.WG), dim=-1, out=st["w_perp"])  # (R, B)
    torch.div(a, m, out=ws.a_m)
    G.mul_(ws.a_m_col)  # g_w (R, B, d)
    torch.sum(torch.mul(G, G, out=ws.WG), -1, out=st["g_w_norm2"])  # ‖g_w‖²
    torch.index_select(G, 2, ws.ij_t, out=st["g_w_coords"])
    # g_sig_m2 = a² / 2m times the diagonal blocks (variant v's neurons, variant v's c) of m2v
    torch.square(a, out=ws.a2).div_(2 * m)
    torch.mul(ws.m2v_diag, ws.a2_v, out=st["g_sig_m2_v"])  # (R, p, 2, V)
    st["loss_err"].div_(m)  # batch_loss, batch_err
    torch.mm(ws.T_pq_flat, ws.pq_to_cluster, out=ws.S_flat)  # (R·(V + 1), 4): Σ_x [γ | 1] per cluster
    torch.div(ws.S_sum, ws.S_count.clamp_(min=1.0), out=st["batch_margin"])  # mean γ per cluster
    if ws.lam > 0:  # weight decay, from the old values: g_w + λW and g_a + λa (skipped at λ = 0)
        G.add_(W, alpha=ws.lam)
        a.addcmul_(torch.add(ga, a, alpha=ws.lam), ws.train_a, value=-ws.eta_a)
    else:
        a.addcmul_(ga, ws.train_a, value=-ws.eta_a)
    W.sub_(G, alpha=ws.eta)


def _block_stats(
    rec: dict[str, torch.Tensor],
    first: bool,
    blk: Block,
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
