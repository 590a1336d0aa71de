"""Replays of a config's own minibatches with the label moved: the broken settings of the mutants.

The x of every step are exactly the generator's (simulator.data.batch, seed by seed), so up to
the point where the label moves the replay is the healthy run, bit for bit; only y changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from simulator import RunConfig, data


def relabelled_batches(cfg: RunConfig, pair_at: Callable[[int], tuple[int, int]]) -> Iterator:
    """cfg's minibatches (R, m, d) for t < cfg.steps, labelled y = -x_i x_j with (i, j) = pair_at(t)."""
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    for t in range(cfg.steps):
        X = torch.stack([data.batch(cfg.data, s, t, cfg.m, cfg.d, cfg.label_coords)[0] for s in seeds])
        i, j = pair_at(t)
        yield X, -X[:, :, i] * X[:, :, j]


def wrong_pair_batches(cfg: RunConfig, pair: tuple[int, int] = (2, 3)) -> Iterator:
    """cfg's minibatches labelled on `pair` throughout, while cfg (μ̂±, the test set) says cfg.pair."""
    return relabelled_batches(cfg, lambda t: pair)
