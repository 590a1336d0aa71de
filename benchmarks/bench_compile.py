"""Does torch.compile pay for the step? A bare fused SGD step, eager against compiled.

    .venv/bin/python benchmarks/bench_compile.py [--threads N]

The step is the paper regime's update with the logistic loss on both layers and three per-step
records (the norms ‖w_k‖, |a_k| and the least margin), one seed, on a pre-generated batch: no
batch generation, no recorder, none of the engine's seed batching. It is an upper bound on what
compiling the engine's step could give: the engine's step also draws the batch and keeps every
per-step record of docs/SPEC.md §2. Sizes are simulator.paper(d)'s; "floor" is the two GEMMs
Z = X Wᵀ and G = Dᵀ X alone. Each figure is the minimum of 5 timings of n steps, from one process.
"""

from __future__ import annotations

import argparse
import time

import torch

from simulator import paper


def step(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, a: torch.Tensor, eta: float):  # type: ignore[no-untyped-def]
    Z = X @ W.T  # (m, p)
    H = torch.relu(Z)
    f = H @ a  # (m,)
    g = -y * torch.sigmoid(-y * f) / X.shape[0]  # ∂ℓ/∂f averaged over the batch
    D = (g[:, None] * a[None, :]) * (Z > 0)  # (m, p)
    W2 = W - eta * (D.T @ X)  # (p, d)
    a2 = a - eta * (H.T @ g)  # (p,)
    return W2, a2, (W2.norm(dim=1), a2.abs(), (y * f).min())


def floor(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, a: torch.Tensor, eta: float):  # type: ignore[no-untyped-def]
    return X @ W.T, y[:, None].expand(-1, W.shape[0]).T @ X


def ms_per_step(fn, args: tuple, n: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(10):
        fn(*args)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn(*args)
        best = min(best, (time.perf_counter() - t) / n * 1e3)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {args.threads} threads; ms per step, minimum of 5 timings")
    for d, n in ((64, 2000), (256, 300)):
        cfg = paper(d)
        gen = torch.Generator().manual_seed(0)
        X = torch.randint(0, 2, (cfg.m, d), generator=gen).float() * 2 - 1
        y = -X[:, 0] * X[:, 1]
        W = torch.randn(cfg.p, d, generator=gen) * cfg.theta / d**0.5
        a = torch.full((cfg.p,), cfg.theta)
        inputs = (X, y, W, a, cfg.eta)
        t0 = time.perf_counter()
        compiled = torch.compile(step, dynamic=False)
        compiled(*inputs)
        compile_s = time.perf_counter() - t0
        f, e, c = ms_per_step(floor, inputs, n), ms_per_step(step, inputs, n), ms_per_step(compiled, inputs, n)
        print(
            f"d = {d:4d} (p = {cfg.p}, m = {cfg.m}): floor {f:.3f}  eager {e:.3f} ({e / f:.2f}x floor)  "
            f"compiled {c:.3f} ({c / f:.2f}x floor, {e / c:.2f}x eager; compiling took {compile_s:.1f} s)"
        )


if __name__ == "__main__":
    main()
