"""The snapshot evaluation (population.evaluate over a TestSet) against the per-row reference, bit for bit.

The recorded verdict baselines hold the test-set metrics of runs whose test set was regenerated
at every snapshot and whose clean network f̃ was computed per row. `reference_evaluate` below is
that computation, kept here verbatim; the evaluation the engine runs now (a kept test set, f̃
looked up by cluster on the hypercube) must return exactly the same bytes for every metric:
with several row chunks and a ragged last one, several seeds and coupled variants, both
dtypes, one and two torch threads, on and off the hypercube, kept and regenerated (in groups).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import simulator
from simulator import data, population, recorder
from simulator.population import cluster_index, signal_projection

CPU = torch.device("cpu")


def logistic_loss(gamma: torch.Tensor) -> torch.Tensor:
    """h(γ) = 2 log(1 + e^{-γ}), as the per-row evaluation computed it."""
    return 2.0 * torch.nn.functional.softplus(-gamma)


@torch.no_grad()
def reference_evaluate(W: torch.Tensor, a: torch.Tensor, V: int, cfg, chunk_rows: int) -> dict[str, torch.Tensor]:
    """The per-row evaluation: test set regenerated chunk by chunk, f̃ computed for every row."""
    R, B, d = W.shape
    p = B // V
    dev, dt = W.device, W.dtype
    i, j = cfg.pair
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
        loss += logistic_loss(gamma).sum(1).to(torch.float64)
        max_dev = torch.maximum(max_dev, torch.tanh(gamma / 2).abs().amax(1))
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


def params(cfg, V: int, dt: torch.dtype, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """W (R, V·p, d), a (R, V·p): the run's initialization, per variant perturbed (so the variants
    differ), with some neurons dead on half of the cube and some a_k exactly 0."""
    W0, a0 = data.init_params(
        [cfg.seed + r for r in range(cfg.seeds)], cfg.p, cfg.d, cfg.theta, "sphere", 0.0, cfg.pair, torch.float64, CPU
    )
    g = torch.Generator().manual_seed(cfg.d * 31 + V)
    W = W0.repeat(1, V, 1) + scale * torch.randn(cfg.seeds, V * cfg.p, cfg.d, generator=g, dtype=torch.float64)
    a = a0.repeat(1, V) + scale * torch.randn(cfg.seeds, V * cfg.p, generator=g, dtype=torch.float64)
    W[:, 0, :] = 0.0
    W[:, 1, cfg.pair[0]] = 5.0
    a[:, 2] = 0.0
    return W.to(dt), a.to(dt)


def assert_same_bytes(got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> None:
    assert set(got) == set(ref) == set(population.TEST_FIELDS)
    for k in ref:
        g, r = got[k].numpy(), ref[k].numpy()
        assert g.dtype == r.dtype and g.shape == r.shape, k
        assert g.tobytes() == r.tobytes(), (k, np.abs(g - r).max())


CASES = [
    # (regime, d, seeds, variants, test_size, chunk_rows)
    ("paper", 16, 1, ("logistic",), 1000, 256),
    ("paper", 17, 1, ("logistic", "linear"), 600, 256),
    ("large_init", 12, 4, ("logistic",), 700, 128),
    ("paper", 20, 3, ("logistic", "linear"), 1337, 300),
    ("paper", 70, 2, ("logistic", "frozen_a", "linear"), 900, 128),
    ("parity3", 24, 2, ("logistic",), 777, 200),
    ("gaussian", 18, 2, ("logistic", "linear"), 800, 256),
    ("paper", 64, 4, ("logistic",), 20_000, recorder.eval_rows_for(64)),
]
# two threads split the elementwise ops of a chunk of R·c·V ≥ 32 768 entries (torch's grain size)
THREADED = [("paper", 32, 4, ("logistic", "linear"), 9000, recorder.eval_rows_for(32))]
RUNS = [(c, dt, 1) for c in CASES for dt in (torch.float32, torch.float64)] + [(c, torch.float32, 2) for c in THREADED]


@pytest.mark.parametrize(
    "case, dt, threads",
    RUNS,
    ids=[f"{c[0]}-d{c[1]}-R{c[2]}-V{len(c[3])}-n{c[4]}-{str(dt)[6:]}-{th}thr" for c, dt, th in RUNS],
)
def test_evaluate_matches_the_per_row_reference(case, dt: torch.dtype, threads: int) -> None:
    regime, d, R, variants, n, rows = case
    cfg = getattr(simulator, regime)(d, seeds=R, variants=variants, test_size=n, device="cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        kept = population.TestSet(cfg, dt, CPU, rows)
        regenerated = population.TestSet(cfg, dt, CPU, rows, keep_bytes=0)
        assert kept.kept is not None and regenerated.kept is None
        for scale in (0.0, 0.05, 1.0):
            W, a = params(cfg, len(variants), dt, scale)
            ref = reference_evaluate(W, a, len(variants), cfg, rows)
            assert_same_bytes(population.evaluate(W, a, len(variants), cfg, test=kept), ref)
            assert_same_bytes(population.evaluate(W, a, len(variants), cfg, test=regenerated), ref)
            assert_same_bytes(population.evaluate(W, a, len(variants), cfg, chunk_rows=rows), ref)
    finally:
        torch.set_num_threads(before)


def test_clusters_are_looked_up_on_the_hypercube_only() -> None:
    """Boolean rows are on the hypercube (f̃ is a lookup by cluster); Gaussian rows are not."""
    for regime, cube in (("paper", True), ("parity3", True), ("gaussian", False)):
        cfg = getattr(simulator, regime)(12, test_size=300)
        ts = population.TestSet(cfg, torch.float32, CPU, 128)
        assert ts.kept is not None and len(ts.kept) == 3
        assert all((c.cluster is not None) == cube for c in ts.kept)
        assert sum(int(c.count.sum()) for c in ts.kept) == 300


def test_a_test_set_over_the_budget_is_regenerated_and_the_same() -> None:
    """keep_bytes below nbytes(): nothing kept, and each pass yields the chunks a kept set holds."""
    cfg = simulator.paper(40, test_size=500)
    kept = population.TestSet(cfg, torch.float64, CPU, 192)
    assert kept.nbytes() > 500 * 40 * 8
    regen = population.TestSet(cfg, torch.float64, CPU, 192, keep_bytes=kept.nbytes() - 1)
    assert regen.kept is None
    for _ in range(2):
        got = list(regen.chunks())
        assert len(got) == len(kept.kept or []) == 3
        for g, k in zip(got, kept.kept or [], strict=True):
            for name in ("x", "y", "onehot", "count", "cluster"):
                assert torch.equal(getattr(g, name), getattr(k, name)), name


@pytest.mark.parametrize("group", [1, 2, 3])
def test_a_regenerated_test_set_in_groups_of_chunks_gives_the_same_bytes(group: int, monkeypatch) -> None:
    """A regenerated test set is reduced in groups of `group` chunks (the last group shorter, the last
    chunk ragged): the same metrics as the per-row reference."""
    cfg = simulator.paper(20, seeds=2, variants=("logistic", "linear"), test_size=1100, device="cpu")
    rows = 128  # 9 chunks, the last of 76 rows
    monkeypatch.setattr(population, "GROUP_ELEMENTS", group * cfg.seeds * rows * 2)
    regen = population.TestSet(cfg, torch.float32, CPU, rows, keep_bytes=0)
    W, a = params(cfg, 2, torch.float32, 0.05)
    for _ in range(2):  # the workspaces are reused from one snapshot to the next
        assert_same_bytes(population.evaluate(W, a, 2, cfg, test=regen), reference_evaluate(W, a, 2, cfg, rows))
