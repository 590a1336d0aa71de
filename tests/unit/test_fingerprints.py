"""Pinned fingerprints of the samples and of short runs: refactors of the simulator keep them bit-identical.

The project's recorded verdicts were computed from these streams, so every existing config
must draw exactly the same minibatches, test set and initialization, and produce exactly
the same trajectory, after any change of the code (docs/SPEC.md §1 "Seeds and randomness").
The values are sha256 prefixes of the raw arrays (dtype, shape, bytes), computed on the CPU
with one torch thread (set by tests/unit/conftest.py) by the functions below:

* `data/<law>/<label coords>/<dtype>`: a generated minibatch (d = 70: two words a row) on the
  default and an offset stream, and rows [100, 357) of the test set, X and y of each;
* `run/<regime>/<d>/<chunk_rows>`: every array of a 6-step float64 run of the built-in regime
  (2 seeds), with chunks of 5 rows and with the automatic chunking;
* `run32/<regime>/32`: every array of an 8-step float32 run (the dtype of the certification).

A failure here means a change of the random streams or of the arithmetic order, which
invalidates every baseline verdict: revert it, or re-derive the baselines on purpose.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import simulator
from simulator import data

F64 = torch.float64
CPU = torch.device("cpu")

PINNED = {
    "data/boolean/0-1/float32": "26506df2b54901378038a57c",
    "data/boolean/0-1/float64": "b1cd856bc47e05893151abc6",
    "data/boolean/3-1-7/float32": "617b8d9e78f9634645558a9a",
    "data/boolean/3-1-7/float64": "7c17e14a41a2362dcffd6688",
    "data/gaussian/0-1/float32": "0cd71174abef964b0ca2d3c3",
    "data/gaussian/0-1/float64": "ba2b7130a5dabd272977f84a",
    "data/gaussian/2-5-11/float32": "71e6203a814d8b8fc4b29b15",
    "data/gaussian/2-5-11/float64": "eefa76f8ff686e31ddcff2f5",
    "run/first_layer_only/16/0": "fffaea347b32a409773d243c",
    "run/first_layer_only/16/5": "aaf66264c986ffa87115ee02",
    "run/first_layer_only/32/0": "d3f0cc834ab85674db22e701",
    "run/first_layer_only/32/5": "fe4ee8829d7ed7ad45f08cf8",
    "run/gaussian/16/0": "e16dce9a284f06360fe783cc",
    "run/gaussian/16/5": "dc61601008bbae4bc944e4a5",
    "run/gaussian/32/0": "104e6dbc160e1ee932c9ad26",
    "run/gaussian/32/5": "254222b83c5f2e7556ec3b94",
    "run/large_init/16/0": "65e7a382e401fae3a7876f7a",
    "run/large_init/16/5": "db50dd703c4986d1c34c6b3e",
    "run/large_init/32/0": "66667ea24fe480529789997b",
    "run/large_init/32/5": "8539a6f1d1b8a2d257b274e3",
    "run/paper/16/0": "eba8f34ac4219fc2f3de4b76",
    "run/paper/16/5": "e6d6d63a60e75c84e512848d",
    "run/paper/32/0": "29297dcfe5566400052ee8bb",
    "run/paper/32/5": "b71bd9abe4af29a1c62948b3",
    "run/parity3/16/0": "0313eecc974d487562aa9505",
    "run/parity3/16/5": "44b6e5b326ff6fb83709e072",
    "run/parity3/32/0": "1c80688db2a0b740c43d5a19",
    "run/parity3/32/5": "f494468c8a786dff45061c95",
    "run/small_batch/16/0": "c4e90e30e904fbaa28240e7b",
    "run/small_batch/16/5": "267dea02f0946bc5ab359427",
    "run/small_batch/32/0": "e1548eb80aead8884da02918",
    "run/small_batch/32/5": "2fc2e81838dd4aea6e605da2",
    "run/sparse_finders/16/0": "b5d0004c644e4679cbca4a41",
    "run/sparse_finders/16/5": "b99b9edc01cc777df5452f72",
    "run/sparse_finders/32/0": "532a8723814fc10f3ce36483",
    "run/sparse_finders/32/5": "ba8ceaa7a315d2bbcadfb511",
    "run32/gaussian/32": "df8e85eae1457f0740a265d3",
    "run32/paper/32": "85c0d9fd001c0d67fe6e69a4",
    "run32/parity3/32": "7b109c877ac1c21c35e44718",
    "run32/small_batch/32": "5f841356eb8c3e9d500dc840",
}


def digest(*arrays: object) -> str:
    """sha256 prefix of the arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()[:24]


def run_digest(traj: simulator.Trajectory) -> str:
    return digest(*(traj.arrays[k] for k in sorted(traj.arrays)))


def data_key(law: str, lc: tuple[int, ...], dt: torch.dtype) -> str:
    return f"data/{law}/{'-'.join(map(str, lc))}/{str(dt)[6:]}"


DATA_CASES = [
    (law, lc, dt)
    for law, lc in (("boolean", (0, 1)), ("boolean", (3, 1, 7)), ("gaussian", (0, 1)), ("gaussian", (2, 5, 11)))
    for dt in (torch.float32, F64)
]
REGIMES = ("paper", "small_batch", "gaussian", "first_layer_only", "large_init", "parity3", "sparse_finders")


def test_every_pin_is_checked() -> None:
    """The cases below cover exactly the pinned keys (a pin without a test would check nothing)."""
    keys = (
        {data_key(*c) for c in DATA_CASES}
        | {f"run/{n}/{d}/{c}" for n in REGIMES for d in (16, 32) for c in (5, 0)}
        | {f"run32/{n}/32" for n in RUN32}
    )
    assert keys == set(PINNED)


@pytest.mark.parametrize("law, lc, dt", DATA_CASES, ids=[data_key(*c) for c in DATA_CASES])
def test_samples_are_pinned(law: str, lc: tuple[int, ...], dt: torch.dtype) -> None:
    x, y = data.batch(law, 7, 3, 300, 70, lc, dt, "cpu", data_offset=0)
    x2, y2 = data.batch(law, 7, 3, 300, 70, lc, dt, "cpu", data_offset=2)
    tx, ty = data.test_rows(law, 1_000_003, 100, 257, 70, lc, dt, CPU)
    assert digest(x, y, x2, y2, tx, ty) == PINNED[data_key(law, lc, dt)]


@pytest.mark.parametrize("name", REGIMES)
def test_float64_runs_are_pinned(name: str) -> None:
    for d in (16, 32):
        for chunk in (5, 0):
            cfg = getattr(simulator, name)(
                d, seeds=2, seed=3, dtype="float64", device="cpu", steps=6, test_size=500, snapshots=3, chunk_rows=chunk
            )
            assert run_digest(simulator.run(cfg)) == PINNED[f"run/{name}/{d}/{chunk}"], (name, d, chunk)


RUN32 = ("paper", "gaussian", "parity3", "small_batch")


@pytest.mark.parametrize("name", RUN32)
def test_float32_runs_are_pinned(name: str) -> None:
    cfg = getattr(simulator, name)(
        32, seeds=2, seed=5, dtype="float32", device="cpu", steps=8, test_size=700, snapshots=3
    )
    assert run_digest(simulator.run(cfg)) == PINNED[f"run32/{name}/32"]


def test_label_noise_zero_is_pinned() -> None:
    """label_noise = 0 draws no flips: the pinned run, bit for bit."""
    cfg = simulator.paper(
        16,
        seeds=2,
        seed=3,
        dtype="float64",
        device="cpu",
        steps=6,
        test_size=500,
        snapshots=3,
        chunk_rows=5,
        label_noise=0.0,
    )
    assert run_digest(simulator.run(cfg)) == PINNED["run/paper/16/5"]
