"""What each certification profile draws: the sizes behind the hypothesis profiles.

The hypothesis profiles of the same names (registered in the root conftest.py) say how
many examples and how to search; these say from which values (always cheapest first, so
hypothesis' shrinking towards the first element is also a speed-up).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Profile:
    name: str
    ds: tuple[int, ...]  # d of a per-run example
    widths: tuple[int, ...]  # p = width · ⌈1/ψ⌉
    seeds: int  # seeds per example (the binomial rule's n)
    max_seed: int  # the base seed is drawn from [0, max_seed]
    ladders: tuple[tuple[int, ...], ...]  # d-ladders for C2 and C11
    c10_ladders: tuple[tuple[int, ...], ...]  # d-ladders for C10 (span ≥ 16×)
    c10_seeds: int
    small_batch_ms: tuple[str, ...]  # the small_batch regime's batch sizes: "d" or an integer
    small_batch_ds: tuple[int, ...]  # d of small_batch examples (its horizons are long)


PROFILES = {
    "quick": Profile("quick", ds=(32, 64), widths=(1,), seeds=8, max_seed=0,
                     ladders=((16, 32, 64),), c10_ladders=((8, 16, 32, 64, 128),), c10_seeds=4,
                     small_batch_ms=("d", "4"), small_batch_ds=(32,)),
    "certify": Profile("certify", ds=(64, 128, 256, 512), widths=(1, 2), seeds=16, max_seed=10_000,
                       ladders=((64, 128, 256, 512, 1024),), c10_ladders=((16, 32, 64, 128, 256),), c10_seeds=8,
                       small_batch_ms=("d", "4", "1"), small_batch_ds=(64, 128)),
    "hunt": Profile("hunt", ds=(16, 32, 64, 128), widths=(1, 2, 4), seeds=8, max_seed=1_000_000,
                    ladders=((16, 32, 64), (32, 64, 128)), c10_ladders=((8, 16, 32, 64, 128),), c10_seeds=4,
                    small_batch_ms=("d", "4"), small_batch_ds=(16, 32)),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"--hypothesis-profile {name!r}: xorcert knows {sorted(PROFILES)}")
    p = PROFILES[name]
    if name == "certify" and torch.cuda.is_available():  # larger d when a GPU is present
        p = Profile(**{**p.__dict__, "ds": p.ds + (1024, 2048), "ladders": ((64, 128, 256, 512, 1024, 2048, 4096),)})
    return p
