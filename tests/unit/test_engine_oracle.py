"""The engine's manual gradients and updates against an independent float64 autograd oracle.

The oracle is written from docs/SPEC.md §1 alone, in plain PyTorch autograd, one seed and
one variant at a time:

    f(x) = (1/p) Σ_k a_k relu(w_k · x),   γ = y f(x),   L = mean_x h(γ(x)),
    h(γ) = 2 log(1 + e^-γ) (logistic) or h0(γ) = 2 log 2 - γ (linear proxy),
    a ← a - η p ∂L/∂a (not for frozen_a),   W ← W - η p ∂L/∂W   (both from the old values).

The engine runs every variant and seed stacked in one computation with hand-written
gradients; here it is driven step by step (a snapshot at every step) and compared with
the oracle on its parameters, its recorded gradients (g_a, ‖g_w‖², g_w at (i, j)), the
second moments of the per-sample signal gradient, and its batch statistics — on
explicit batches and on the generated ones, replayed through `data.batch`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, data
from simulator.config import VARIANTS

F64 = torch.float64
TOL = 1e-10  # relative, float64

# (loss, second layer trained) per variant, restated from docs/SPEC.md §1/§4 rather than read from the engine.
ORACLE_VARIANTS = {
    "logistic": ("logistic", True),
    "linear": ("linear", True),
    "frozen_a": ("logistic", False),
    "linear_frozen_a": ("linear", False),
}
ALL_VARIANTS = tuple(v for v in ORACLE_VARIANTS if v in VARIANTS)


def tiny_config(**overrides: Any) -> RunConfig:
    """Small float64 CPU config with a snapshot at every step."""
    base: dict[str, Any] = dict(
        d=10, p=6, m=50, eta=0.7, theta=1.0, steps=5, dtype="float64", device="cpu", test_size=64
    )
    base.update(overrides)
    base.setdefault("snapshots", base["steps"] + 1)
    return RunConfig(**base)


def rel_err(x: Any, ref: Any) -> float:
    """max |x - ref| / max |ref| (the absolute error where ref is identically 0)."""
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert x.shape == ref.shape, (x.shape, ref.shape)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    err = float(np.abs(x - ref).max()) if ref.size else 0.0
    return err / scale if scale > 0 else err


# ----------------------------------------------------------------------------------- oracle


def loss_fn(kind: str, gamma: torch.Tensor) -> torch.Tensor:
    """Per-sample loss h(γ) of docs/SPEC.md §1."""
    if kind == "logistic":
        return 2.0 * torch.log1p(torch.exp(-gamma))
    return 2.0 * math.log(2.0) - gamma


def network(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """f(x) = (1/p) Σ_k a_k relu(w_k · x) for the rows of X."""
    return torch.relu(X @ W.T) @ a / a.shape[0]


def oracle_step(
    W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor, eta: float, variant: str, pair: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """One SGD step by autograd: new (W, a), the mean-field gradients, and the batch statistics."""
    kind, train_a = ORACLE_VARIANTS[variant]
    p = a.shape[0]
    W = W.detach().clone().requires_grad_(True)
    a = a.detach().clone().requires_grad_(True)
    gamma = y * network(W, a, X)
    L = loss_fn(kind, gamma).mean()
    dW, da = torch.autograd.grad(L, (W, a))
    g_w, g_a = p * dW, p * da
    # per-sample gradients of the variant's own loss, for the signal-direction second moments:
    # one copy of W per sample, so one backward pass of Σ_x h(γ(x)) gives every ∂h(γ(x))/∂W
    W_rep = W.detach().expand(X.shape[0], -1, -1).clone().requires_grad_(True)  # (m, p, d)
    f_rep = (torch.relu(torch.einsum("mpd,md->mp", W_rep, X)) * a.detach()).sum(-1) / p
    (per_sample,) = torch.autograd.grad(loss_fn(kind, y * f_rep).sum(), W_rep)  # (m, p, d)
    i, j = pair
    s_plus = (per_sample[..., i] - per_sample[..., j]) / math.sqrt(2.0) * p  # along μ̂+ = (e_i - e_j)/√2
    s_minus = (per_sample[..., i] + per_sample[..., j]) / math.sqrt(2.0) * p  # along μ̂- = (e_i + e_j)/√2
    # logistic quantities at these margins (recorded for every variant)
    g = gamma.detach().clone().requires_grad_(True)
    (hprime,) = torch.autograd.grad(loss_fn("logistic", g).sum(), g)
    gd = gamma.detach()
    xi, xj = X[:, i], X[:, j]
    clusters = [(xi > 0) & (xj <= 0), (xi <= 0) & (xj > 0), (xi > 0) & (xj > 0), (xi <= 0) & (xj <= 0)]
    margin = torch.stack([gd[c].mean() if bool(c.any()) else torch.zeros((), dtype=F64) for c in clusters])
    return {
        "W": (W - eta * g_w).detach(),
        "a": (a - eta * g_a).detach() if train_a else a.detach(),
        "g_a": g_a,
        "g_w": g_w,
        "g_sig_m2": torch.stack((s_plus.square().mean(0), s_minus.square().mean(0)), dim=-1),
        "batch_loss": loss_fn("logistic", gd).mean(),
        "batch_err": (gd <= 0).to(F64).mean(),
        "batch_max_dev": (hprime + 1).abs().max(),
        "batch_margin": margin,
    }


def oracle_run(
    cfg: RunConfig, W0: torch.Tensor, a0: torch.Tensor, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, np.ndarray]:
    """The oracle's version of every array the engine records (per-step and snapshots), one seed."""
    i, j = cfg.pair
    coords = list(cfg.label_coords)
    perp = [c for c in range(cfg.d) if c not in (i, j)]
    out: dict[str, list[list[Any]]] = {
        k: []
        for k in (
            "a",
            "w_coords",
            "w_perp",
            "g_a",
            "g_w_norm2",
            "g_w_coords",
            "g_sig_m2",
            "batch_loss",
            "batch_err",
            "batch_max_dev",
            "batch_margin",
            "snap_W",
            "snap_a",
        )
    }
    states = [(W0.to(F64), a0.to(F64)) for _ in cfg.variants]
    for t in range(cfg.steps + 1):
        out["snap_W"].append([s[0].numpy() for s in states])
        out["snap_a"].append([s[1].numpy() for s in states])
        if t == cfg.steps:
            break
        X, y = (b.to(F64) for b in batches[t])
        rows: dict[str, list[Any]] = {k: [] for k in out if not k.startswith("snap")}
        for v, variant in enumerate(cfg.variants):
            W, a = states[v]
            o = oracle_step(W, a, X, y, cfg.eta, variant, cfg.pair)
            rows["a"].append(a.numpy())
            rows["w_coords"].append(W[:, coords].numpy())
            rows["w_perp"].append(W[:, perp].norm(dim=-1).numpy())
            rows["g_a"].append(o["g_a"].numpy())
            rows["g_w_norm2"].append(o["g_w"].square().sum(-1).numpy())
            rows["g_w_coords"].append(o["g_w"][:, [i, j]].numpy())
            for k in ("g_sig_m2", "batch_loss", "batch_err", "batch_max_dev", "batch_margin"):
                rows[k].append(o[k].numpy())
            states[v] = (o["W"], o["a"])
        for k, v in rows.items():
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}  # (T or T+1, V, ...)


def assert_matches_oracle(traj: simulator.Trajectory, r: int, ref: dict[str, np.ndarray], tol: float = TOL) -> None:
    """Seed r of the engine's trajectory equals the oracle's arrays, field by field."""
    assert list(traj.arrays["snap_steps"]) == list(range(traj.config.steps + 1))
    errors = {k: rel_err(traj.arrays[k][:, r], ref[k]) for k in ref}
    bad = {k: e for k, e in errors.items() if not e <= tol}
    assert not bad, f"seed index {r}: relative error above {tol:g}: {bad}"


# ----------------------------------------------------------------------------------- tests


def test_oracle_covers_every_variant() -> None:
    """The oracle restates every variant the engine offers, with the same (loss, layers): a new
    variant must be added to ORACLE_VARIANTS (and so gets its oracle test) before this passes."""
    assert set(VARIANTS) <= set(ORACLE_VARIANTS), f"no oracle for {sorted(set(VARIANTS) - set(ORACLE_VARIANTS))}"
    for name in VARIANTS:
        kind, train_a = ORACLE_VARIANTS[name]
        assert VARIANTS[name] == (kind, "both" if train_a else "first"), name


def _explicit_inputs(cfg: RunConfig, R: int, per_seed: bool, gen_seed: int = 0):
    g = torch.Generator().manual_seed(gen_seed)
    shape = (R,) if per_seed else ()
    W0 = torch.randn(*shape, cfg.p, cfg.d, generator=g, dtype=F64)
    W0 = cfg.theta * W0 / W0.norm(dim=-1, keepdim=True)
    a0 = cfg.theta * (2.0 * torch.randint(0, 2, (*shape, cfg.p), generator=g) - 1).to(F64)
    batches = []
    for _ in range(cfg.steps):
        X = (2.0 * torch.randint(0, 2, (*shape, cfg.m, cfg.d), generator=g) - 1).to(F64)
        batches.append((X, -X[..., 0] * X[..., 1]))
    return W0, a0, batches


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_explicit_batches_single_variant(variant: str) -> None:
    """Each variant alone, explicit init and batches: parameters, gradients and batch statistics
    equal the autograd oracle at every step to 1e-10 (float64)."""
    cfg = tiny_config(variants=(variant,))
    W0, a0, batches = _explicit_inputs(cfg, 1, per_seed=False)
    traj = simulator.run(cfg, init=(W0, a0), batches=batches)
    assert_matches_oracle(traj, 0, oracle_run(cfg, W0, a0, batches))


def test_explicit_batches_batched_seeds_coupled_variants() -> None:
    """R = 3 seeds with their own init and batches ((R, p, d), (R, m, d)), all variants coupled:
    every seed and variant equals its own oracle run."""
    cfg = tiny_config(variants=ALL_VARIANTS, seeds=3)
    W0, a0, batches = _explicit_inputs(cfg, 3, per_seed=True, gen_seed=1)
    traj = simulator.run(cfg, init=(W0, a0), batches=batches)
    for r in range(3):
        ref = oracle_run(cfg, W0[r], a0[r], [(X[r], y[r]) for X, y in batches])
        assert_matches_oracle(traj, r, ref)


def test_explicit_shared_batches_broadcast_over_seeds() -> None:
    """An (m, d) batch and a (p, d) init are shared by every seed: all seeds equal the same oracle run."""
    cfg = tiny_config(variants=("logistic", "linear"), seeds=2)
    W0, a0, batches = _explicit_inputs(cfg, 1, per_seed=False, gen_seed=2)
    traj = simulator.run(cfg, init=(W0, a0), batches=batches)
    ref = oracle_run(cfg, W0, a0, batches)
    for r in range(2):
        assert_matches_oracle(traj, r, ref)


def test_explicit_real_valued_batches_and_labels() -> None:
    """Gradients do not rely on ±1 inputs or labels: Gaussian X and arbitrary real y still match."""
    cfg = tiny_config(variants=ALL_VARIANTS, m=23)
    g = torch.Generator().manual_seed(3)
    W0 = cfg.theta * torch.randn(cfg.p, cfg.d, generator=g, dtype=F64)
    a0 = cfg.theta * torch.randn(cfg.p, generator=g, dtype=F64)
    batches = [
        (torch.randn(cfg.m, cfg.d, generator=g, dtype=F64), torch.randn(cfg.m, generator=g, dtype=F64))
        for _ in range(cfg.steps)
    ]
    traj = simulator.run(cfg, init=(W0, a0), batches=batches)
    ref = oracle_run(cfg, W0, a0, batches)
    ref.pop("batch_margin")  # cluster means are only defined for the label's ±1 convention on (x_i, x_j)
    assert_matches_oracle(traj, 0, ref)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),
        dict(chunk_rows=7),  # chunks of 7 rows: 50 = 7·7 + 1
        dict(data="gaussian", chunk_rows=16),
        dict(label_coords=(3, 1, 7)),  # parity-3, pair (i, j) = (3, 1)
        dict(d=70, m=20, chunk_rows=3),  # two 64-bit words per row
        dict(label_noise=0.3),  # flipped training labels: the loss and every record see the flipped y
        dict(label_noise=0.45, data="gaussian", chunk_rows=7),
    ],
    ids=[
        "boolean",
        "chunked-7",
        "gaussian-chunked",
        "parity3-pair31",
        "d70-chunked",
        "label-noise",
        "label-noise-gaussian-chunked",
    ],
)
def test_generated_batches_replayed_through_data_batch(overrides: dict[str, Any]) -> None:
    """Generated minibatches: `data.batch(law, seed, step, …)` returns exactly the batch the engine
    used for that seed and step (with label noise, the flipped training labels) — replaying it in the
    oracle reproduces every seed and variant."""
    cfg = tiny_config(variants=ALL_VARIANTS, seed=11, seeds=2, **overrides)
    traj = simulator.run(cfg)
    for r, seed in enumerate(traj.seeds):
        batches = [
            data.batch(cfg.data, seed, t, cfg.m, cfg.d, cfg.label_coords, F64, "cpu", label_noise=cfg.label_noise)
            for t in range(cfg.steps)
        ]
        if cfg.label_noise > 0:  # some labels are flipped, and only those differ from the clean law
            clean = [
                data.batch(cfg.data, seed, t, cfg.m, cfg.d, cfg.label_coords, F64, "cpu") for t in range(cfg.steps)
            ]
            flipped = sum(int((y != yc).sum()) for (_, y), (_, yc) in zip(batches, clean))
            assert 0 < flipped < cfg.m * cfg.steps
            assert all(
                torch.equal(x, xc) and torch.equal(y.abs(), yc.abs()) for (x, y), (xc, yc) in zip(batches, clean)
            )
        W0 = torch.from_numpy(traj.arrays["snap_W"][0, r, 0])
        a0 = torch.from_numpy(traj.arrays["snap_a"][0, r, 0])
        assert_matches_oracle(traj, r, oracle_run(cfg, W0, a0, batches))


def test_generated_init_is_data_init_params() -> None:
    """The engine's step-0 state is `data.init_params` for the run's seeds, for every variant."""
    cfg = tiny_config(variants=ALL_VARIANTS, seed=4, seeds=3, steps=1)
    traj = simulator.run(cfg)
    W, a = data.init_params(
        traj.seeds, cfg.p, cfg.d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, F64, torch.device("cpu")
    )
    for v in range(len(cfg.variants)):
        np.testing.assert_array_equal(traj.arrays["snap_W"][0, :, v], W.numpy())
        np.testing.assert_array_equal(traj.arrays["snap_a"][0, :, v], a.numpy())


def test_float32_engine_close_to_float64_oracle() -> None:
    """The float32 path computes the same step (to float32 accuracy) as the float64 oracle."""
    cfg = tiny_config(variants=ALL_VARIANTS, dtype="float32", chunk_rows=9)
    traj = simulator.run(cfg)
    batches = [data.batch(cfg.data, cfg.seed, t, cfg.m, cfg.d, cfg.label_coords, F64, "cpu") for t in range(cfg.steps)]
    W0 = torch.from_numpy(traj.arrays["snap_W"][0, 0, 0]).to(F64)
    a0 = torch.from_numpy(traj.arrays["snap_a"][0, 0, 0]).to(F64)
    ref = oracle_run(cfg, W0, a0, batches)
    ref.pop("batch_err")  # a margin within float32 rounding of 0 may flip; checked in float64 above
    assert_matches_oracle(traj, 0, ref, tol=1e-4)
