"""The samplers and the initialization of data.py against the laws of docs/SPEC.md §1 and §4.

Statistical checks use fixed keys (the generator is counter-based, so they are
deterministic) and tolerances of about 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("p", [1, 7, 8, 9, 24])
def test_sparse_finders_init(p: int) -> None:
    """sparse_finders: neurons k ≥ ⌈p/8⌉ have w_k at (i, j) exactly 0; the finders do not; every
    ‖w_k‖ = |a_k| = θ."""
    pair = (2, 5)
    theta = 0.25
    W, a = data.init_params([0, 1], p, 12, theta, "sparse_finders", 0.125, pair, F64, CPU)
    n_find = math.ceil(p / 8)
    plane = W[:, :, list(pair)].numpy()
    assert (plane[:, n_find:] == 0).all()
    assert (np.abs(plane[:, :n_find]).sum(-1) > 0).all()
    np.testing.assert_allclose(W.norm(dim=-1).numpy(), theta, rtol=1e-12)
    np.testing.assert_allclose(a.abs().numpy(), theta, rtol=1e-12)


def test_sparse_finders_keeps_the_finders_of_the_sphere_init() -> None:
    """The finders are the sphere init's first neurons, unchanged; the rest keep their perpendicular direction."""
    Ws, as_ = data.init_params([0], 16, 10, 1.0, "sphere", 0.125, (0, 1), F64, CPU)
    Wf, af = data.init_params([0], 16, 10, 1.0, "sparse_finders", 0.125, (0, 1), F64, CPU)
    np.testing.assert_array_equal(af.numpy(), as_.numpy())
    np.testing.assert_allclose(Wf[0, :2].numpy(), Ws[0, :2].numpy(), rtol=1e-14)
    perp = Ws[0, 2:, 2:]
    np.testing.assert_allclose(Wf[0, 2:, 2:].numpy(), (perp / perp.norm(dim=-1, keepdim=True)).numpy(), rtol=1e-12)
