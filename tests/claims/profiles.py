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
    wide_max_d: int  # widths > 1 are drawn only at d ≤ this (a run's cost grows like width · d²·polylog d)
    seeds: int  # seeds per example (the binomial rule's n)
    max_seed: int  # the base seed is drawn from [0, max_seed]
    ladders: tuple[tuple[int, ...], ...]  # d-ladders for C2 and C11 (every regime but paper)
    paper_ladders: tuple[tuple[int, ...], ...]  # d-ladders for C2 and C11 in the paper regime
    ladder_seeds: int  # seeds of a ladder example (one run per rung, full horizon each)
    ladder_examples: int  # hypothesis examples per ladder or batch-grid item (C2, C10, C11: the top rung dominates)
    c10_ladders: tuple[tuple[int, ...], ...]  # d-ladders for C10 (span ≥ 16×)
    c10_seeds: int
    small_batch_ms: tuple[str, ...]  # the small_batch regime's batch sizes: "d" or an integer
    small_batch_ds: tuple[int, ...]  # d of small_batch examples (its horizons are long)


PROFILES = {
    "quick": Profile("quick", ds=(32, 64), widths=(1,), wide_max_d=64, seeds=8, max_seed=0,
                     ladders=((16, 32, 64),), paper_ladders=((16, 32, 64),), ladder_seeds=8, ladder_examples=1,
                     c10_ladders=((8, 16, 32, 64, 128),), c10_seeds=4,
                     small_batch_ms=("d", "4"), small_batch_ds=(32,)),
    # Sized for a 2-core CPU (README, "Verdicts: certify profile"): a run costs ~4·n·d·p flop for n = m·T samples, i.e.
    # grows like d²·polylog d (d = 128: 0.05 TFLOP per seed and variant over the paper horizon, d = 1024: 40),
    # so d = 1024 is reached by the paper regime's ladder (4 seeds, one example) and the other regimes'
    # ladders stop at 256. small_batch runs at m = d only: at m = 4 its horizon is n/4 ≥ 2.4·10⁵ steps from
    # d = 64 on, and the O(T·seeds·p) per-step records of 16 seeds no longer fit in 24 GiB (quick covers m = 4
    # at d = 32).
    "certify": Profile("certify", ds=(64, 128), widths=(1, 2), wide_max_d=128, seeds=16, max_seed=10_000,
                       ladders=((64, 128, 256),), paper_ladders=((64, 128, 256, 512, 1024),), ladder_seeds=4,
                       ladder_examples=1, c10_ladders=((16, 32, 64, 128, 256),), c10_seeds=4,
                       small_batch_ms=("d",), small_batch_ds=(64, 128)),
    "hunt": Profile("hunt", ds=(16, 32, 64, 128), widths=(1, 2, 4), wide_max_d=128, seeds=8, max_seed=1_000_000,
                    ladders=((16, 32, 64), (32, 64, 128)), paper_ladders=((16, 32, 64), (32, 64, 128)),
                    ladder_seeds=8, ladder_examples=40, c10_ladders=((8, 16, 32, 64, 128),), c10_seeds=4,
                    small_batch_ms=("d", "4"), small_batch_ds=(16, 32)),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"--hypothesis-profile {name!r}: xorcert knows {sorted(PROFILES)}")
    p = PROFILES[name]
    if name == "certify" and torch.cuda.is_available():  # larger d when a GPU is present
        p = Profile(**{**p.__dict__, "ds": p.ds + (256, 512, 1024), "wide_max_d": 1024,
                       "ladders": ((64, 128, 256, 512, 1024),),
                       "paper_ladders": ((64, 128, 256, 512, 1024, 2048, 4096),)})
    return p
