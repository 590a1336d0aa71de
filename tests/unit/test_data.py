"""The samplers and the initialization of data.py against the laws of docs/SPEC.md §1 and §4.

Statistical checks use fixed keys (the generator is counter-based, so they are
deterministic) and tolerances of about 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import simulator
from simulator import data, registered_laws

CPU = torch.device("cpu")
F64 = torch.float64


def keys(seeds: list[int], stream: int = data.STREAM_BATCH, step: int = 0) -> torch.Tensor:
    return data.step_keys(data.seed_keys(seeds, stream, CPU), step)


# ----------------------------------------------------------------------------- Boolean


def test_boolean_samples_are_signs_with_mean_zero() -> None:
    """x ~ Unif{±1}^d: every entry is ±1; coordinate means ≈ 0; coordinates uncorrelated."""
    n, d = 4000, 70  # d > 64: two words per row
    x = data.boolean_rows(keys([0]), 0, n, d, F64)[0].numpy()
    assert x.shape == (n, d)
    assert set(np.unique(x)) == {-1.0, 1.0}
    se = 1 / math.sqrt(n)
    assert np.abs(x.mean(0)).max() < 5 * se
    assert abs(x.mean()) < 5 * se / math.sqrt(d)
    C = x.T @ x / n
    np.testing.assert_array_equal(np.diag(C), np.ones(d))
    assert np.abs(C - np.eye(d)).max() < 5 * se


def test_boolean_label_is_minus_xor() -> None:
    """y = -x_i x_j for the label pair; both labels appear about equally; all four clusters occur."""
    x, y = data.batch("boolean", 3, 5, 2000, 16, (4, 9), F64)
    x, y = x.numpy(), y.numpy()
    np.testing.assert_array_equal(y, -x[:, 4] * x[:, 9])
    assert abs(y.mean()) < 5 / math.sqrt(2000)
    clusters = {(a, b) for a, b in zip(x[:, 4], x[:, 9])}
    assert clusters == {(1, 1), (1, -1), (-1, 1), (-1, -1)}


def test_parity3_label() -> None:
    """y = -x_i x_j x_l when three label coordinates are given (Boolean and Gaussian)."""
    x, y = data.batch("boolean", 1, 0, 500, 12, (0, 1, 7), F64)
    np.testing.assert_array_equal(y.numpy(), -(x[:, 0] * x[:, 1] * x[:, 7]).numpy())
    x, y = data.batch("gaussian", 1, 0, 500, 12, (2, 5, 11), F64)
    np.testing.assert_array_equal(y.numpy(), -torch.sign(x[:, 2] * x[:, 5] * x[:, 11]).numpy())


def test_boolean_dtypes_agree() -> None:
    """float32 and float64 batches are the same signs."""
    x32, y32 = data.batch("boolean", 7, 2, 100, 20, (0, 1), torch.float32)
    x64, y64 = data.batch("boolean", 7, 2, 100, 20, (0, 1), F64)
    assert x32.dtype == torch.float32 and x64.dtype == F64
    np.testing.assert_array_equal(x32.numpy(), x64.numpy())
    np.testing.assert_array_equal(y32.numpy(), y64.numpy())


# ----------------------------------------------------------------------------- Gaussian


def test_gaussian_moments() -> None:
    """x ~ N(0, I_d): mean 0, covariance I, third moment 0, fourth moment 3 (per coordinate, pooled)."""
    n, d = 20000, 9  # odd d: the last Box–Muller pair is cut
    z = data.gaussian_rows(keys([2]), 0, n, d, F64)[0].numpy()
    assert z.shape == (n, d) and np.isfinite(z).all()
    N = n * d
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert np.abs(z.mean(0)).max() < 5 / math.sqrt(n)
    C = z.T @ z / n
    assert np.abs(np.diag(C) - 1).max() < 5 * math.sqrt(2 / n)
    assert np.abs(C - np.diag(np.diag(C))).max() < 5 / math.sqrt(n)
    assert abs((z**3).mean()) < 5 * math.sqrt(15 / N)
    assert abs((z**4).mean() - 3) < 5 * math.sqrt(96 / N)
    # Box–Muller pairs (coordinates 2k, 2k+1) are independent, not merely uncorrelated
    assert abs((z[:, 0] ** 2 * z[:, 1] ** 2).mean() - 1) < 5 * math.sqrt(8 / n)


def test_gaussian_label_and_quadrants() -> None:
    """y = -sign(x_i) sign(x_j), and each quadrant of (x_i, x_j) holds about a quarter of the points."""
    x, y = data.batch("gaussian", 0, 3, 4000, 6, (1, 3), F64)
    x, y = x.numpy(), y.numpy()
    np.testing.assert_array_equal(y, -np.sign(x[:, 1]) * np.sign(x[:, 3]))
    assert set(np.unique(y)) == {-1.0, 1.0}
    q = (x[:, 1] > 0) * 2 + (x[:, 3] > 0)
    assert np.abs(np.bincount(q, minlength=4) / 4000 - 0.25).max() < 5 * math.sqrt(0.1875 / 4000)


def test_gaussian_float32_is_rounded_float64() -> None:
    """The float32 Gaussian sampler draws the same numbers (to float32 accuracy)."""
    k = keys([5])
    z32 = data.gaussian_rows(k, 0, 50, 7, torch.float32)[0].numpy().astype(np.float64)
    z64 = data.gaussian_rows(k, 0, 50, 7, F64)[0].numpy()
    np.testing.assert_allclose(z32, z64, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- chunking, keys


@pytest.mark.parametrize("sampler", ["boolean", "gaussian"])
@pytest.mark.parametrize("d", [3, 64, 65, 130])
def test_rows_are_chunk_invariant(sampler: str, d: int) -> None:
    """Rows [r0, r0 + c) of a stream (X and y of the registered law) are the same whatever chunks they are
    generated in."""
    k = keys([0, 1, 2])
    sample = registered_laws()[sampler].sample
    whole = sample(k, 0, 37, d, (0, 2), F64)
    parts = [sample(k, r0, c, d, (0, 2), F64) for r0, c in [(0, 1), (1, 12), (13, 5), (18, 19)]]
    for i in (0, 1):
        np.testing.assert_array_equal(torch.cat([part[i] for part in parts], dim=1).numpy(), whole[i].numpy())
        np.testing.assert_array_equal(sample(k, 20, 3, d, (0, 2), F64)[i].numpy(), whole[i][:, 20:23].numpy())


def test_boolean_rows_with_a_reused_buffer() -> None:
    """The engine's reused buffer gives the same rows as fresh allocation, chunk after chunk."""
    k = keys([4, 5])
    d, c = 70, 6
    buf = torch.empty(2 * c * 64 * 2, dtype=F64)
    whole = data.boolean_rows(k, 0, 17, d, F64)
    for r0 in range(0, 17, c):
        rows = min(c, 17 - r0)
        np.testing.assert_array_equal(
            data.boolean_rows(k, r0, rows, d, F64, buf).numpy(), whole[:, r0 : r0 + rows].numpy()
        )


def test_batched_keys_equal_single_keys() -> None:
    """Stacking seeds draws, for each seed, exactly what that seed draws alone."""
    both = data.boolean_rows(keys([10, 11]), 0, 20, 30, F64)
    for r, s in enumerate([10, 11]):
        np.testing.assert_array_equal(both[r].numpy(), data.boolean_rows(keys([s]), 0, 20, 30, F64)[0].numpy())


def test_batch_depends_on_seed_and_step() -> None:
    """Different seeds, different steps, and different streams give different samples."""
    x00 = data.batch("boolean", 0, 0, 64, 32, (0, 1))[0]
    assert not torch.equal(x00, data.batch("boolean", 1, 0, 64, 32, (0, 1))[0])
    assert not torch.equal(x00, data.batch("boolean", 0, 1, 64, 32, (0, 1))[0])
    assert torch.equal(x00, data.batch("boolean", 0, 0, 64, 32, (0, 1))[0])
    test_x, _ = data.test_rows("boolean", 0, 0, 64, 32, (0, 1), torch.float32, CPU)
    assert not torch.equal(x00, test_x)


def test_bits_are_not_reused_across_coordinates_or_rows() -> None:
    """Consecutive rows and the two words of a row are not shifted copies of each other."""
    x = data.boolean_rows(keys([0]), 0, 200, 128, F64)[0].numpy()
    assert abs((x[1:] * x[:-1]).mean()) < 5 / math.sqrt(199 * 128)
    assert abs((x[:, :64] * x[:, 64:]).mean()) < 5 / math.sqrt(200 * 64)


def test_unknown_law() -> None:
    """An unknown data law is rejected by name, with the registered laws."""
    with pytest.raises(ValueError, match=r"data law 'laplace' is not registered; registered: boolean, gaussian"):
        data.batch("laplace", 0, 0, 1, 3, (0, 1), F64)
    with pytest.raises(ValueError, match=r"data law 'laplace' is not registered"):
        data.test_rows("laplace", 0, 0, 1, 3, (0, 1), F64, CPU)


# ----------------------------------------------------------------------------- initialization


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sphere_init_norms(dtype: torch.dtype) -> None:
    """w_k = θ u_k with ‖u_k‖ = 1 and a_k = θ ε_k: ‖w_k‖ = |a_k| = θ, signs of both kinds."""
    theta = 0.37
    W, a = data.init_params([0, 1, 2], 16, 11, theta, "sphere", 0.125, (0, 1), dtype, CPU)
    assert W.shape == (3, 16, 11) and a.shape == (3, 16) and W.dtype == dtype and a.dtype == dtype
    tol = 1e-12 if dtype == F64 else 1e-6
    np.testing.assert_allclose(W.double().norm(dim=-1).numpy(), theta, rtol=tol)
    np.testing.assert_allclose(a.double().abs().numpy(), theta, rtol=tol)
    assert (a > 0).any() and (a < 0).any()


def test_sphere_init_is_uniform_on_the_sphere() -> None:
    """Directions u_k: mean ≈ 0 and E[u uᵀ] ≈ I/d (isotropy); signs ε_k fair."""
    n, d = 4000, 5
    W, a = data.init_params(list(range(4)), n // 4, d, 1.0, "sphere", 0.125, (0, 1), F64, CPU)
    u = W.reshape(-1, d).numpy()
    assert np.abs(u.mean(0)).max() < 5 / math.sqrt(n * d)
    M = u.T @ u / n
    assert np.abs(M - np.eye(d) / d).max() < 5 * math.sqrt(2 / (d * d * n))
    assert abs(a.numpy().mean()) < 5 / math.sqrt(n)


def test_init_is_per_seed() -> None:
    """Seed s of a batched init is the init of seed s alone."""
    W, a = data.init_params([3, 4], 6, 9, 0.5, "sphere", 0.125, (0, 1), F64, CPU)
    W4, a4 = data.init_params([4], 6, 9, 0.5, "sphere", 0.125, (0, 1), F64, CPU)
    np.testing.assert_array_equal(W[1].numpy(), W4[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), a4[0].numpy())


def sparse_init(seeds: list[int], p: int, d: int = 12, pair: tuple[int, int] = (2, 5), f: float = 0.125):
    W, a = data.init_params(seeds, p, d, 0.25, "sparse_finders", f, pair, F64, CPU)
    return W.numpy(), a.numpy()


@pytest.mark.parametrize("p", [1, 7, 8, 9, 24, 64, 71])
def test_sparse_finders_are_stratified_over_the_clusters(p: int) -> None:
    """Finder k = 0 … ⌈p/8⌉-1 covers cluster k mod 4 (sign a = y_c, signal-plane direction on c's side):
    each cluster has ⌊n_f/4⌋ or ⌈n_f/4⌉ finders (two each at p = 64); every ‖w_k‖ = |a_k| = θ."""
    pair, n_f = (2, 5), math.ceil(p / 8)
    W, a = sparse_init([0, 1, 2], p, pair=pair)
    covered = data.covered_cluster(W[..., pair[0]], W[..., pair[1]], a)
    assert (covered[:, :n_f] == np.arange(n_f) % 4).all()
    for c in range(4):
        assert ((covered == c).sum(-1) == len(range(c, n_f, 4))).all()
    if p == 64:
        assert ((covered[..., None] == np.arange(4)).sum(1) == 2).all()
    np.testing.assert_allclose(np.linalg.norm(W, axis=-1), 0.25, rtol=1e-12)
    np.testing.assert_allclose(np.abs(a), 0.25, rtol=1e-12)


@pytest.mark.parametrize("p", [1, 8, 9, 64])
def test_sparse_non_finders_have_no_signal_plane_component(p: int) -> None:
    """Neurons k ≥ ⌈p/8⌉ have w_k at (i, j) exactly 0 (they cover no cluster); the finders do not."""
    pair, n_f = (2, 5), math.ceil(p / 8)
    W, a = sparse_init([0, 1], p, pair=pair)
    assert (W[:, n_f:][..., list(pair)] == 0).all()
    assert (data.covered_cluster(W[..., 2], W[..., 5], a)[:, n_f:] == -1).all()
    assert (np.abs(W[:, :n_f][..., list(pair)]).sum(-1) > 0).all()


def test_sparse_finders_placement_is_per_seed_and_deterministic() -> None:
    """The same seeds give the same init; seed s of a batch is seed s alone."""
    W, a = sparse_init([3, 4], 64)
    W2, a2 = sparse_init([3, 4], 64)
    W4, a4 = sparse_init([4], 64)
    np.testing.assert_array_equal(W, W2)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(W[1], W4[0])
    np.testing.assert_array_equal(a[1], a4[0])
    assert not np.array_equal(W[0], W[1])


def test_sparse_finders_are_the_sphere_draw_placed_on_their_cluster() -> None:
    """From the sphere init of the same seed: a finder's coordinates off (i, j) are unchanged, its
    (u_i, u_j) is the sphere's or its reflection (-σ u_j, -σ u_i) (σ = -1 for a > 0), its a is θ y_c;
    a non-finder keeps its sphere sign and its direction off (i, j), renormalised."""
    i, j = pair = (0, 1)
    Ws, as_ = (x.numpy() for x in data.init_params([0], 16, 10, 1.0, "sphere", 0.125, pair, F64, CPU))
    Wf, af = (x.numpy() for x in data.init_params([0], 16, 10, 1.0, "sparse_finders", 0.125, pair, F64, CPU))
    assert af[0, :2].tolist() == [1.0, 1.0]  # clusters (1,-1), (-1,1): label +1
    np.testing.assert_array_equal(af[0, 2:], as_[0, 2:])
    np.testing.assert_array_equal(Wf[0, :2, 2:], Ws[0, :2, 2:])
    for k in range(2):
        sig = -1.0  # a > 0
        kept, reflected = Ws[0, k, [i, j]], -sig * Ws[0, k, [j, i]]
        assert np.array_equal(Wf[0, k, [i, j]], kept) or np.array_equal(Wf[0, k, [i, j]], reflected)
    perp = Ws[0, 2:, 2:]
    np.testing.assert_allclose(Wf[0, 2:, 2:], perp / np.linalg.norm(perp, axis=-1, keepdims=True), rtol=1e-12)


def test_sparse_finder_direction_is_uniform_on_its_half_sphere() -> None:
    """Monte Carlo over 2 000 seeds (d = 5, finder 0 on cluster (1,-1)): ⟨u, μ̂+⟩ > 0 always; |⟨u, μ̂+⟩|
    has the sphere's law of |u_1|, E|u_1| = Γ(d/2)/(√π Γ((d+1)/2)) = 3/8 at d = 5 (tolerance 5 standard
    errors); the opposite component and the other coordinates keep mean 0."""
    n, d = 2000, 5
    W, a = data.init_params(list(range(n)), 4, d, 1.0, "sparse_finders", 0.25, (0, 1), F64, CPU)
    u = W[:, 0].numpy()  # finder 0: cluster (1,-1), a > 0, μ̂+ = (e_0 - e_1)/√2
    z_sig, z_opp = (u[:, 0] - u[:, 1]) / math.sqrt(2), (u[:, 0] + u[:, 1]) / math.sqrt(2)
    assert (z_sig > 0).all() and (a[:, 0] > 0).all()
    se = math.sqrt(1 / d) / math.sqrt(n)
    assert abs(z_sig.mean() - math.gamma(d / 2) / (math.sqrt(math.pi) * math.gamma((d + 1) / 2))) < 5 * se
    assert abs(z_opp.mean()) < 5 * se and np.abs(u[:, 2:].mean(0)).max() < 5 * se


def test_sparse_finders_regime_keeps_two_finders_per_cluster() -> None:
    """sparse_finders widens p to ⌈8/finder_fraction⌉ = 64 where the paper's width gives fewer than 8 finders;
    a wider p is kept; θ = ψ/√p follows the width; finders_per_cluster is recorded and validated."""
    cfg = simulator.sparse_finders(32)
    assert cfg.p == 64 and data.n_finders(cfg.p, cfg.finder_fraction) == 8
    assert cfg.theta == pytest.approx(simulator.paper(32, p=64).theta)
    assert dict(cfg.regime_params)["finders_per_cluster"] == 2
    assert simulator.sparse_finders(32, p=100).p == 100
    assert simulator.sparse_finders(32, p=13, finder_fraction=0.25).p == 32
    assert simulator.sparse_finders(32, finders_per_cluster=3).p == 96
    with pytest.raises(ValueError, match="finders_per_cluster"):
        simulator.sparse_finders(32, finders_per_cluster=0)
