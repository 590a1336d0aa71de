"""The engine's manual gradients and updates against an independent float64 autograd oracle.

The oracle is simulator.reference, the step written from docs/SPEC.md §1 alone in plain
PyTorch autograd (no code shared with the engine or simulator.losses), one seed and one
variant at a time:

    f(x) = (1/p) Σ_k a_k relu(w_k · x),   γ = y f(x),   L = mean_x ℓ(γ(x)),
    ℓ = h for a plain variant, ℓ = h0, h0(γ) = h(0) + h'(0) γ, for a proxy variant, where
    h(γ) = 2 log(1 + e^-γ) (logistic), (1 - γ)² (squared) or e^-γ (exponential),
    g_a = p ∂L/∂a,  g_w = p ∂L/∂W,
    a ← a - rη (g_a + λa) (not for a frozen second layer),   W ← W - η (g_w + λW)   (from the old values).

h(0) and h'(0) of the proxy, h'(γ) of the deviation |h'(γ)/h'(0) - 1| are taken by
autograd from h itself. The engine runs every variant and seed stacked in one computation
with hand-written gradients; here it is driven step by step (a snapshot at every step) and
compared with the oracle on its parameters, its recorded gradients (g_a, ‖g_w‖², g_w at
(i, j)), the second moments of the per-sample signal gradient, its batch statistics and the
test-set loss, deviation and error at every snapshot — on explicit batches and on the
generated ones, replayed through `data.batch` and `data.test_rows`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, data, reference
from simulator.config import VARIANTS, frozen_variant, proxy_variant
from simulator.reference import deviation, h, network, step_loss

F64 = torch.float64
TOL = 1e-10  # relative, float64

# (loss, proxy, second layer trained) per variant, restated from docs/SPEC.md §1 rather than read from the engine.
ORACLE_VARIANTS = {
    "logistic": ("logistic", False, True),
    "linear": ("logistic", True, True),
    "frozen_a": ("logistic", False, False),
    "linear_frozen_a": ("logistic", True, False),
    "squared": ("squared", False, True),
    "squared_linear": ("squared", True, True),
    "squared_frozen_a": ("squared", False, False),
    "squared_linear_frozen_a": ("squared", True, False),
    "exponential": ("exponential", False, True),
    "exponential_linear": ("exponential", True, True),
    "exponential_frozen_a": ("exponential", False, False),
    "exponential_linear_frozen_a": ("exponential", True, False),
}
ALL_VARIANTS = tuple(v for v in ORACLE_VARIANTS if v in VARIANTS)
# The knobs of the update and of the data, alone and together (the oracle cases below).
KNOBS: dict[str, dict[str, Any]] = {
    "weight-decay": dict(weight_decay=0.3),
    "lr-ratio": dict(lr_ratio=2.5),
    "lr-ratio-small": dict(lr_ratio=0.2),
    "gaussian-init": dict(init="gaussian"),
    "label-noise": dict(label_noise=0.3),
    "combined": dict(weight_decay=0.15, lr_ratio=0.5, init="gaussian", label_noise=0.2, chunk_rows=7),
}


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


def oracle_step(
    W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor, cfg: RunConfig, variant: str
) -> dict[str, torch.Tensor]:
    """One SGD step by autograd (simulator.reference): new (W, a), the mean-field gradients, the batch statistics."""
    loss, proxy, train_a = ORACLE_VARIANTS[variant]
    update = reference.Update(cfg.eta, cfg.lr_ratio, cfg.weight_decay, loss, proxy, train_a)
    step = reference.sgd_step(W, a, X, y, update)
    p = a.shape[0]
    # per-sample gradients of the variant's own step loss, for the signal-direction second moments:
    # one copy of W per sample, so one backward pass of Σ_x ℓ(γ(x)) gives every ∂ℓ(γ(x))/∂W
    W_rep = W.detach().expand(X.shape[0], -1, -1).clone().requires_grad_(True)  # (m, p, d)
    f_rep = (torch.relu(torch.einsum("mpd,md->mp", W_rep, X)) * a.detach()).sum(-1) / p
    (per_sample,) = torch.autograd.grad(step_loss(loss, proxy, y * f_rep).sum(), W_rep)  # (m, p, d)
    i, j = cfg.pair
    s_plus = (per_sample[..., i] - per_sample[..., j]) / math.sqrt(2.0) * p  # along μ̂+ = (e_i - e_j)/√2
    s_minus = (per_sample[..., i] + per_sample[..., j]) / math.sqrt(2.0) * p  # along μ̂- = (e_i + e_j)/√2
    gd = y * network(W, a, X)
    xi, xj = X[:, i], X[:, j]
    clusters = [(xi > 0) & (xj <= 0), (xi <= 0) & (xj > 0), (xi > 0) & (xj > 0), (xi <= 0) & (xj <= 0)]
    margin = torch.stack([gd[c].mean() if bool(c.any()) else torch.zeros((), dtype=F64) for c in clusters])
    return {
        "W": step.W,
        "a": step.a,
        "g_a": step.g_a,
        "g_w": step.g_w,
        "g_sig_m2": torch.stack((s_plus.square().mean(0), s_minus.square().mean(0)), dim=-1),
        # batch statistics of the loss h itself (a proxy's: of the loss it linearizes)
        "batch_loss": h(loss, gd).mean(),
        "batch_err": (gd <= 0).to(F64).mean(),
        "batch_max_dev": deviation(loss, gd).max(),
        "batch_margin": margin,
    }


def oracle_test_metrics(W: torch.Tensor, a: torch.Tensor, cfg: RunConfig, variant: str) -> dict[str, np.ndarray]:
    """Test-set error count, mean h and max |h'/h'(0) - 1| of the variant's loss, on the run's clean test set."""
    loss = ORACLE_VARIANTS[variant][0]
    X, y = data.test_rows(cfg.data, cfg.test_seed, 0, cfg.test_size, cfg.d, cfg.label_coords, F64, torch.device("cpu"))
    gamma = y * network(W, a, X)
    return {
        "test_err_count": (gamma <= 0).sum().to(F64).numpy(),
        "test_loss": h(loss, gamma).mean().numpy(),
        "test_max_dev": deviation(loss, gamma).max().numpy(),
    }


def oracle_run(
    cfg: RunConfig, W0: torch.Tensor, a0: torch.Tensor, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, np.ndarray]:
    """The oracle's version of every array the engine records (per-step and snapshots), one seed."""
    i, j = cfg.pair
    coords = list(cfg.label_coords)
    perp = [c for c in range(cfg.d) if c not in (i, j)]
    per_step = (
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
    )
    snapshot = ("snap_W", "snap_a", "test_err_count", "test_loss", "test_max_dev")
    out: dict[str, list[list[Any]]] = {k: [] for k in per_step + snapshot}
    states = [(W0.to(F64), a0.to(F64)) for _ in cfg.variants]
    for t in range(cfg.steps + 1):
        out["snap_W"].append([s[0].numpy() for s in states])
        out["snap_a"].append([s[1].numpy() for s in states])
        tests = [oracle_test_metrics(W, a, cfg, v) for (W, a), v in zip(states, cfg.variants)]
        for k in ("test_err_count", "test_loss", "test_max_dev"):
            out[k].append([m[k] for m in tests])
        if t == cfg.steps:
            break
        X, y = (b.to(F64) for b in batches[t])
        rows: dict[str, list[Any]] = {k: [] for k in per_step}
        for v, variant in enumerate(cfg.variants):
            W, a = states[v]
            o = oracle_step(W, a, X, y, cfg, variant)
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


def match_errors(traj: simulator.Trajectory, r: int, ref: dict[str, np.ndarray]) -> dict[str, float]:
    """Relative error of seed r of the engine's trajectory against the oracle's arrays, field by field."""
    assert list(traj.arrays["snap_steps"]) == list(range(traj.config.steps + 1))
    return {k: rel_err(traj.arrays[k][:, r], ref[k]) for k in ref}


def assert_matches_oracle(traj: simulator.Trajectory, r: int, ref: dict[str, np.ndarray], tol: float = TOL) -> None:
    """Seed r of the engine's trajectory equals the oracle's arrays, field by field."""
    errors = match_errors(traj, r, ref)
    bad = {k: e for k, e in errors.items() if not e <= tol}
    assert not bad, f"seed index {r}: relative error above {tol:g}: {bad}"


def replayed_batches(cfg: RunConfig, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The generated minibatches (with their flipped labels) of one seed of cfg, through `data.batch`."""
    return [
        data.batch(cfg.data, seed, t, cfg.m, cfg.d, cfg.label_coords, F64, "cpu", label_noise=cfg.label_noise)
        for t in range(cfg.steps)
    ]


def replayed_oracle(traj: simulator.Trajectory, r: int) -> dict[str, np.ndarray]:
    """The oracle run of seed index r of a generated run, from the engine's step-0 state (its init is tested apart)."""
    cfg = traj.config
    W0 = torch.from_numpy(traj.arrays["snap_W"][0, r, 0]).to(F64)
    a0 = torch.from_numpy(traj.arrays["snap_a"][0, r, 0]).to(F64)
    return oracle_run(cfg, W0, a0, replayed_batches(cfg, traj.seeds[r]))


# ----------------------------------------------------------------------------------- tests


def test_oracle_covers_every_variant() -> None:
    """The oracle restates every variant the engine offers, with the same (loss, proxy, layers): a new
    variant must be added to ORACLE_VARIANTS (and so gets its oracle tests) before this passes; its
    proxy and frozen twins are the variants of the same loss."""
    assert set(VARIANTS) <= set(ORACLE_VARIANTS), f"no oracle for {sorted(set(VARIANTS) - set(ORACLE_VARIANTS))}"
    for name in VARIANTS:
        loss, proxy, train_a = ORACLE_VARIANTS[name]
        assert tuple(VARIANTS[name]) == (loss, proxy, "both" if train_a else "first"), name
        assert ORACLE_VARIANTS[proxy_variant(name)] == (loss, True, train_a), name
        assert ORACLE_VARIANTS[frozen_variant(name)] == (loss, proxy, False), name
    assert ALL_VARIANTS == tuple(VARIANTS)


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


def assert_real_valued_run_matches(cfg: RunConfig, gen_seed: int, scale: float) -> None:
    """Explicit Gaussian init (standard deviation `scale`), Gaussian X and real y: the run equals the oracle's."""
    g = torch.Generator().manual_seed(gen_seed)
    W0 = scale * torch.randn(cfg.p, cfg.d, generator=g, dtype=F64)
    a0 = scale * torch.randn(cfg.p, generator=g, dtype=F64)
    batches = [
        (torch.randn(cfg.m, cfg.d, generator=g, dtype=F64), torch.randn(cfg.m, generator=g, dtype=F64))
        for _ in range(cfg.steps)
    ]
    traj = simulator.run(cfg, init=(W0, a0), batches=batches)
    ref = oracle_run(cfg, W0, a0, batches)
    ref.pop("batch_margin")  # cluster means are only defined for the label's ±1 convention on (x_i, x_j)
    assert_matches_oracle(traj, 0, ref)


def test_explicit_real_valued_batches_and_labels() -> None:
    """Gradients do not rely on ±1 inputs or labels: Gaussian X and arbitrary real y still match."""
    cfg = tiny_config(variants=ALL_VARIANTS, m=23)
    assert_real_valued_run_matches(cfg, gen_seed=3, scale=cfg.theta)


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
        batches = replayed_batches(cfg, seed)
        if cfg.label_noise > 0:  # some labels are flipped, and only those differ from the clean law
            clean = [
                data.batch(cfg.data, seed, t, cfg.m, cfg.d, cfg.label_coords, F64, "cpu") for t in range(cfg.steps)
            ]
            flipped = sum(int((y != yc).sum()) for (_, y), (_, yc) in zip(batches, clean))
            assert 0 < flipped < cfg.m * cfg.steps
            assert all(
                torch.equal(x, xc) and torch.equal(y.abs(), yc.abs()) for (x, y), (xc, yc) in zip(batches, clean)
            )
        assert_matches_oracle(traj, r, replayed_oracle(traj, r))


LOSSES = ("logistic", "squared", "exponential")


def variants_of(loss: str) -> tuple[str, ...]:
    """The four variants of one loss: plain, proxy, frozen second layer, frozen proxy (main first)."""
    return tuple(v for v, (name, _, _) in ORACLE_VARIANTS.items() if name == loss)


@pytest.mark.parametrize("knobs", list(KNOBS), ids=list(KNOBS))
@pytest.mark.parametrize("loss", LOSSES)
def test_knobs_per_loss_match_the_oracle(loss: str, knobs: str) -> None:
    """Every loss with its proxy, frozen and frozen-proxy twins coupled (one loss in the run), under each
    knob — weight decay, a second-layer step ratio, the Gaussian init, label noise, and all of them with
    chunking — equals the autograd oracle, seed by seed, to 1e-10: parameters, gradients, batch
    statistics and test-set metrics."""
    cfg = tiny_config(variants=variants_of(loss), seed=3, seeds=2, **KNOBS[knobs])
    traj = simulator.run(cfg)
    for r in range(cfg.seeds):
        assert_matches_oracle(traj, r, replayed_oracle(traj, r))


@pytest.mark.parametrize("knobs", list(KNOBS), ids=list(KNOBS))
def test_knobs_with_every_variant_coupled_match_the_oracle(knobs: str) -> None:
    """All variants of all losses in one run (the engine applies each loss to its own columns) under each
    knob: every seed and variant equals its own oracle run."""
    cfg = tiny_config(variants=ALL_VARIANTS, seed=8, seeds=2, **KNOBS[knobs])
    traj = simulator.run(cfg)
    for r in range(cfg.seeds):
        assert_matches_oracle(traj, r, replayed_oracle(traj, r))


@pytest.mark.parametrize("loss", LOSSES)
def test_knobs_on_explicit_batches_match_the_oracle(loss: str) -> None:
    """Explicit init and real-valued batches, weight decay and a step ratio together, a loss's variants coupled."""
    cfg = tiny_config(variants=variants_of(loss), m=23, weight_decay=0.4, lr_ratio=1.7)
    assert_real_valued_run_matches(cfg, gen_seed=5, scale=0.5)


def test_knobs_change_the_run() -> None:
    """Each knob changes the trajectory it is set on (the knob cases above test something): every
    per-step record but the step-0 state, once the knob has acted, differs from the run without it."""
    base = simulator.run(tiny_config(variants=ALL_VARIANTS))
    for name in ("weight-decay", "lr-ratio", "gaussian-init", "label-noise"):
        other = simulator.run(tiny_config(variants=ALL_VARIANTS, **KNOBS[name]))
        assert not np.allclose(other.arrays["snap_W"][-1], base.arrays["snap_W"][-1]), name


def test_gaussian_init_follows_the_spec() -> None:
    """init = "gaussian": w_k = θ g_k/√d ~ N(0, θ²/d I_d) from the same Gaussian draw g_k the sphere init
    normalizes (so the two are equal up to each row's norm), and a_k = θ ε_k equal to the sphere's."""
    seeds, p, d, theta = list(range(40)), 50, 30, 0.7
    cpu = torch.device("cpu")
    Wg, ag = data.init_params(seeds, p, d, theta, "gaussian", 0.125, (0, 1), F64, cpu)
    Ws, as_ = data.init_params(seeds, p, d, theta, "sphere", 0.125, (0, 1), F64, cpu)
    torch.testing.assert_close(theta * Wg / Wg.norm(dim=-1, keepdim=True), Ws, rtol=1e-14, atol=0)
    assert torch.equal(ag, as_) and torch.equal(ag.abs(), torch.full_like(ag, theta))
    z = (Wg * math.sqrt(d) / theta).flatten()  # 60 000 draws of N(0, 1)
    n = z.numel()
    assert abs(float(z.mean())) < 5 / math.sqrt(n)
    assert abs(float(z.var()) - 1) < 5 * math.sqrt(2 / n)
    assert abs(float((z**4).mean()) - 3) < 5 * math.sqrt(96 / n)  # the fourth moment of N(0, 1)
    row2 = (Wg.square().sum(-1) / theta**2).flatten()  # ‖w_k‖²/θ² ~ χ²_d / d: not identically 1
    assert float(row2.std()) > 0.5 * math.sqrt(2 / d)


@pytest.mark.parametrize("init", ["sphere", "sparse_finders", "gaussian"])
def test_generated_init_is_data_init_params(init: str) -> None:
    """The engine's step-0 state is `data.init_params` for the run's seeds, for every variant."""
    cfg = tiny_config(variants=ALL_VARIANTS, seed=4, seeds=3, steps=1, init=init)
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
    for k in ("batch_err", "test_err_count"):
        ref.pop(k)  # a margin within float32 rounding of 0 may flip; checked in float64 above
    assert_matches_oracle(traj, 0, ref, tol=1e-4)
