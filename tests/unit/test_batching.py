"""Batching over seeds, row chunks and coupled variants changes nothing; runs are deterministic.

* seed s0 + r of a batched run (seed = s0, seeds = R) is the single run seed = s0 + r;
* the row chunking of a minibatch (`chunk_rows`) only reorders a sum;
* coupled variants share the initial weights and every minibatch: each variant inside
  a coupled run equals the same variant run alone;
* the same config run twice gives bit-identical arrays.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import RunConfig
from simulator.config import VARIANTS

SNAPSHOT_KEYS = ("snap_W", "snap_a")


def tiny_config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = dict(
        d=10, p=6, m=50, eta=0.5, theta=0.7, steps=8, dtype="float64", device="cpu", test_size=64, snapshots=5
    )
    base.update(overrides)
    return RunConfig(**base)


def rel_err(x: np.ndarray, ref: np.ndarray) -> float:
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert x.shape == ref.shape, (x.shape, ref.shape)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    err = float(np.abs(x - ref).max()) if ref.size else 0.0
    return err / scale if scale > 0 else err


def per_seed(traj: simulator.Trajectory, r: int) -> dict[str, np.ndarray]:
    """Seed index r of every array (axis 1 of all but snap_steps)."""
    return {k: (v if k == "snap_steps" else v[:, r]) for k, v in traj.arrays.items()}


def per_variant(traj: simulator.Trajectory, v: int) -> dict[str, np.ndarray]:
    """Variant index v of every array (axis 2 of all but snap_steps)."""
    return {k: (v_ if k == "snap_steps" else v_[:, :, v]) for k, v_ in traj.arrays.items()}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray], rtol: float) -> None:
    assert set(got) == set(want)
    np.testing.assert_array_equal(got["snap_steps"], want["snap_steps"])
    bad = {k: rel_err(got[k], want[k]) for k in want}
    bad = {k: e for k, e in bad.items() if not e <= rtol}
    assert not bad, f"relative differences above {rtol:g}: {bad}"


# ------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_batched_seeds_equal_single_runs(dtype: str, rtol: float) -> None:
    """Seed r of (seed = 5, seeds = 3) equals the run (seed = 5 + r, seeds = 1): every array,
    per-step records, snapshots and test-set metrics."""
    cfg = tiny_config(dtype=dtype, seed=5, seeds=3, variants=("logistic", "linear"))
    batched = simulator.run(cfg)
    assert batched.seeds == [5, 6, 7]
    for r in range(3):
        single = simulator.run(cfg.replace(seed=5 + r, seeds=1))
        assert_same(per_seed(batched, r), per_seed(single, 0), rtol)


def test_batched_seeds_gaussian_parity3() -> None:
    """The seed-batching property also holds for Gaussian data with three label coordinates."""
    cfg = tiny_config(seed=2, seeds=2, data="gaussian", label_coords=(4, 0, 9))
    batched = simulator.run(cfg)
    for r in range(2):
        assert_same(per_seed(batched, r), per_seed(simulator.run(cfg.replace(seed=2 + r, seeds=1)), 0), 1e-12)


def test_different_seeds_differ() -> None:
    """Seeds are not copies of each other (init and batches both depend on the seed)."""
    traj = simulator.run(tiny_config(seeds=2))
    assert not np.allclose(traj.arrays["snap_W"][0, 0], traj.arrays["snap_W"][0, 1])
    assert not np.allclose(traj.arrays["g_a"][:, 0], traj.arrays["g_a"][:, 1])


# ------------------------------------------------------------------------- chunks


@pytest.mark.parametrize(
    "chunk_rows,data", [(1, "boolean"), (7, "boolean"), (49, "boolean"), (1000, "boolean"), (13, "gaussian")]
)
def test_chunked_equals_unchunked(chunk_rows: int, data: str) -> None:
    """Any chunk_rows (dividing m or not, ≥ m, 1) gives the unchunked run to float64 rounding."""
    cfg = tiny_config(data=data, seeds=2, variants=("logistic", "frozen_a"), steps=4)
    whole = simulator.run(cfg.replace(chunk_rows=cfg.m))
    chunked = simulator.run(cfg.replace(chunk_rows=chunk_rows))
    assert chunked.meta["chunk_rows"] == min(chunk_rows, cfg.m)
    assert_same(chunked.arrays, whole.arrays, 1e-12)


def test_chunked_equals_unchunked_explicit_batches() -> None:
    """Chunking also applies to explicit batches, with the same result."""
    cfg = tiny_config(steps=3)
    rng = np.random.default_rng(0)
    batches = [(x, -x[:, 0] * x[:, 1]) for x in (rng.choice([-1.0, 1.0], size=(cfg.m, cfg.d)) for _ in range(3))]
    whole = simulator.run(cfg, batches=batches)
    chunked = simulator.run(cfg.replace(chunk_rows=9), batches=batches)
    assert_same(chunked.arrays, whole.arrays, 1e-12)


def test_explicit_generated_batches_equal_generator() -> None:
    """Feeding `data.batch`'s minibatches explicitly reproduces the generated run."""
    import torch

    from simulator import data

    cfg = tiny_config(steps=4, seed=3)
    gen = simulator.run(cfg)
    batches = [data.batch(cfg.data, 3, t, cfg.m, cfg.d, cfg.label_coords, torch.float64) for t in range(4)]
    assert_same(simulator.run(cfg, batches=batches).arrays, gen.arrays, 0.0)


@pytest.mark.skipif("data_offset" not in {f.name for f in fields(RunConfig)}, reason="no data_offset field")
def test_data_offset_shares_init_not_batches() -> None:
    """Configs differing only in data_offset start from the same weights but draw other minibatches."""
    cfg = tiny_config(steps=2, seeds=2)
    base, other = simulator.run(cfg), simulator.run(cfg.replace(data_offset=1))
    np.testing.assert_array_equal(other.arrays["snap_W"][0], base.arrays["snap_W"][0])
    np.testing.assert_array_equal(other.arrays["snap_a"][0], base.arrays["snap_a"][0])
    assert not np.allclose(other.arrays["g_a"][0], base.arrays["g_a"][0])


# ------------------------------------------------------------------------- coupled variants


@pytest.fixture(scope="module")
def coupled() -> simulator.Trajectory:
    return simulator.run(tiny_config(seeds=2, variants=tuple(VARIANTS)))


def test_coupled_variants_share_init(coupled: simulator.Trajectory) -> None:
    """Every variant of a coupled run starts from the same W and a (step 0 identical)."""
    A = coupled.arrays
    for v in range(1, len(coupled.config.variants)):
        for k in ("snap_W", "snap_a"):
            np.testing.assert_array_equal(A[k][0, :, v], A[k][0, :, 0])
        for k in ("a", "w_coords", "w_perp"):
            np.testing.assert_array_equal(A[k][0, :, v], A[k][0, :, 0])


def test_coupled_variants_share_batches(coupled: simulator.Trajectory) -> None:
    """Same batch: at step 0 (same state) the 0-1 error and cluster margins of every variant agree, so do
    the loss and deviation of every variant of one loss (a proxy records the loss it linearizes), and the
    logistic and frozen_a gradients (same loss, same state) are equal (to GEMM rounding)."""
    A = coupled.arrays
    names = coupled.config.variants
    for k in ("batch_loss", "batch_err", "batch_margin", "batch_max_dev"):
        for v in range(1, len(names)):
            same_loss = names.index(VARIANTS[names[v]].loss)  # the plain variant of v's loss
            ref = same_loss if k in ("batch_loss", "batch_max_dev") else 0
            assert rel_err(A[k][0, :, v], A[k][0, :, ref]) <= 1e-12, (k, names[v])
    lo, fa = coupled.vi("logistic"), coupled.vi("frozen_a")
    for k in ("g_a", "g_w_norm2", "g_w_coords", "g_sig_m2"):
        assert rel_err(A[k][0, :, fa], A[k][0, :, lo]) <= 1e-12, k


def test_coupled_variants_diverge_after_step_0(coupled: simulator.Trajectory) -> None:
    """The variants are genuinely different runs after the first step."""
    A = coupled.arrays
    for v in range(1, len(coupled.config.variants)):
        assert not np.allclose(A["snap_W"][-1, :, v], A["snap_W"][-1, :, 0])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_alone_equals_variant_inside_coupled_run(coupled: simulator.Trajectory, variant: str) -> None:
    """A variant run alone equals the same variant inside the coupled run (float64, to rounding)."""
    alone = simulator.run(coupled.config.replace(variants=(variant,)))
    assert_same(per_variant(alone, 0), per_variant(coupled, coupled.vi(variant)), 1e-12)


def test_variant_order_does_not_matter() -> None:
    """Reordering the coupled variants only permutes the variant axis."""
    cfg = tiny_config(variants=("logistic", "linear", "frozen_a"), steps=4)
    fwd = simulator.run(cfg)
    rev = simulator.run(cfg.replace(variants=("frozen_a", "linear", "logistic")))
    for name in cfg.variants:
        assert_same(per_variant(rev, rev.vi(name)), per_variant(fwd, fwd.vi(name)), 1e-12)


# ------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),
        dict(dtype="float32"),
        dict(data="gaussian", chunk_rows=7),
        dict(init="sparse_finders", seeds=3),
        dict(variants=tuple(VARIANTS), label_coords=(0, 1, 2)),
    ],
    ids=["float64", "float32", "gaussian-chunked", "sparse-finders", "coupled-parity3"],
)
def test_same_config_twice_is_bit_identical(overrides: dict[str, Any]) -> None:
    """Determinism: the same config run twice gives np.array_equal arrays (and the same keys, dtypes)."""
    cfg = tiny_config(**{"seeds": 2, **overrides})
    one, two = simulator.run(cfg), simulator.run(cfg)
    assert one.config == two.config
    assert set(one.arrays) == set(two.arrays)
    for k in one.arrays:
        assert one.arrays[k].dtype == two.arrays[k].dtype, k
        assert np.array_equal(one.arrays[k], two.arrays[k]), k
