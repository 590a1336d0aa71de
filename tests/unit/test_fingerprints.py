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

The bits depend on the CPU as well: torch's vectorized kernels (the Gaussian sampler's log, sin and
cos, the GEMMs' summation order) differ between instruction sets and vendors, so the pins are kept
per platform (`platform()`: CPU vendor and torch's CPU capability). On a platform without pins
the tests skip, saying so; `python -m tests.unit.test_fingerprints` prints this platform's
values to pin (only from a commit whose streams are known to be unchanged).
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
import torch

import simulator
from simulator import data

F64 = torch.float64
CPU = torch.device("cpu")

AMD_AVX2 = {  # an AMD EPYC
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


INTEL_AVX512 = {  # pinned 2026-12-05 from commit 98c8b3c (the streams of AMD_AVX2's commit, unchanged)
    "data/boolean/0-1/float32": "26506df2b54901378038a57c",
    "data/boolean/0-1/float64": "b1cd856bc47e05893151abc6",
    "data/boolean/3-1-7/float32": "617b8d9e78f9634645558a9a",
    "data/boolean/3-1-7/float64": "7c17e14a41a2362dcffd6688",
    "data/gaussian/0-1/float32": "656d9c8912d798832b28828d",
    "data/gaussian/0-1/float64": "ca5785e0f3f72f676f2bd455",
    "data/gaussian/2-5-11/float32": "c565735df61e8a6d432bafa3",
    "data/gaussian/2-5-11/float64": "8c20eb42d930406e14b41a45",
    "run/first_layer_only/16/0": "46313d0a5f35d1ecc51434ef",
    "run/first_layer_only/16/5": "043a70c912ae01304637bbf3",
    "run/first_layer_only/32/0": "6563d3e2e62db472ed16d43b",
    "run/first_layer_only/32/5": "67ea82aac7fcfce538b27cf0",
    "run/gaussian/16/0": "5e58a58167122880899e0066",
    "run/gaussian/16/5": "1b1e0d4a4f97870f159fe31f",
    "run/gaussian/32/0": "6da28a83484b421c8e5ff5c4",
    "run/gaussian/32/5": "c2a51f6f46c6df8dfce252d3",
    "run/large_init/16/0": "ff4d0d7bc5dc13df4cddaa6f",
    "run/large_init/16/5": "b43c15564def819adfef5282",
    "run/large_init/32/0": "226375f3e2d5808824f56db4",
    "run/large_init/32/5": "d6668ed334d0e8c0b5251ec1",
    "run/paper/16/0": "150c56c762b457bcdf54ba2d",
    "run/paper/16/5": "6db95e8d1c73b06ca29cd8d9",
    "run/paper/32/0": "27907e64b0d1fe36bef9f860",
    "run/paper/32/5": "db449e2490fce8045e8a1d67",
    "run/parity3/16/0": "0dd3c18da4d87fee9e3de48a",
    "run/parity3/16/5": "3a8d56469ddccdb56f8bde30",
    "run/parity3/32/0": "3c4a6556480a4ea96722dad1",
    "run/parity3/32/5": "91298ffe6a14e294ee70ad8b",
    "run/small_batch/16/0": "6f82ba5cd5b740ea2238e203",
    "run/small_batch/16/5": "7f7627cef6e084bb7ee66100",
    "run/small_batch/32/0": "780b495f3a2f64b89f7a8aab",
    "run/small_batch/32/5": "a877e0443de0bb882b97de0f",
    "run/sparse_finders/16/0": "c9a034ac2cf6b2c4e504e8ca",
    "run/sparse_finders/16/5": "0868b4cc3167810fbd374d57",
    "run/sparse_finders/32/0": "0ff4526dc9a708d2eb9a4004",
    "run/sparse_finders/32/5": "029fa8d8454a7c05c645b899",
    "run32/gaussian/32": "5444689b09ca8fa2de7ff619",
    "run32/paper/32": "6998a2adbeacdfd860433d84",
    "run32/parity3/32": "820992a9e208ea8b6da7dc2b",
    "run32/small_batch/32": "1f5c40dbdf63cc9132070455",
}


def platform() -> str:
    """The CPU vendor and torch's CPU capability, e.g. "AuthenticAMD/AVX2": what the pins depend on."""
    vendor = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            vendor = next((line.split(":")[1].strip() for line in f if line.startswith("vendor_id")), vendor)
    except OSError:
        pass
    return f"{vendor}/{torch.backends.cpu.get_cpu_capability()}"


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
RUN32 = ("paper", "gaussian", "parity3", "small_batch")


def sample_digest(law: str, lc: tuple[int, ...], dt: torch.dtype) -> str:
    x, y = data.batch(law, 7, 3, 300, 70, lc, dt, "cpu", data_offset=0)
    x2, y2 = data.batch(law, 7, 3, 300, 70, lc, dt, "cpu", data_offset=2)
    tx, ty = data.test_rows(law, 1_000_003, 100, 257, 70, lc, dt, CPU)
    return digest(x, y, x2, y2, tx, ty)


def run64_digest(name: str, d: int, chunk: int, **kw: object) -> str:
    cfg = getattr(simulator, name)(
        d, seeds=2, seed=3, dtype="float64", device="cpu", steps=6, test_size=500, snapshots=3, chunk_rows=chunk, **kw
    )
    return run_digest(simulator.run(cfg))


def run32_digest(name: str) -> str:
    cfg = getattr(simulator, name)(
        32, seeds=2, seed=5, dtype="float32", device="cpu", steps=8, test_size=700, snapshots=3
    )
    return run_digest(simulator.run(cfg))


def current() -> dict[str, str]:
    """Every pinned quantity as this platform computes it."""
    out = {data_key(*c): sample_digest(*c) for c in DATA_CASES}
    out |= {f"run/{n}/{d}/{c}": run64_digest(n, d, c) for n in REGIMES for d in (16, 32) for c in (5, 0)}
    return out | {f"run32/{n}/32": run32_digest(n) for n in RUN32}


PINS = {"AuthenticAMD/AVX2": AMD_AVX2, "GenuineIntel/AVX512": INTEL_AVX512}
PINNED = PINS.get(platform(), {})
pinned = pytest.mark.skipif(
    not PINNED, reason=f"no fingerprints pinned for this platform ({platform()}; pinned: {', '.join(PINS)})"
)


def test_every_pin_is_checked() -> None:
    """The cases below cover exactly the pinned keys on every platform (a pin without a test would check
    nothing)."""
    keys = (
        {data_key(*c) for c in DATA_CASES}
        | {f"run/{n}/{d}/{c}" for n in REGIMES for d in (16, 32) for c in (5, 0)}
        | {f"run32/{n}/32" for n in RUN32}
    )
    assert all(set(pins) == keys for pins in PINS.values())


@pinned
@pytest.mark.parametrize("law, lc, dt", DATA_CASES, ids=[data_key(*c) for c in DATA_CASES])
def test_samples_are_pinned(law: str, lc: tuple[int, ...], dt: torch.dtype) -> None:
    assert sample_digest(law, lc, dt) == PINNED[data_key(law, lc, dt)]


@pinned
@pytest.mark.parametrize("name", REGIMES)
def test_float64_runs_are_pinned(name: str) -> None:
    for d in (16, 32):
        for chunk in (5, 0):
            assert run64_digest(name, d, chunk) == PINNED[f"run/{name}/{d}/{chunk}"], (name, d, chunk)


@pinned
@pytest.mark.parametrize("name", RUN32)
def test_float32_runs_are_pinned(name: str) -> None:
    assert run32_digest(name) == PINNED[f"run32/{name}/32"]


@pinned
def test_label_noise_zero_is_pinned() -> None:
    """label_noise = 0 draws no flips: the pinned run, bit for bit."""
    assert run64_digest("paper", 16, 5, label_noise=0.0) == PINNED["run/paper/16/5"]


if __name__ == "__main__":  # this platform's values, to pin under PINS (see the module docstring)
    torch.set_num_threads(1)
    print(f"# {platform()}")
    for key, value in sorted(current().items()):
        print(f'    "{key}": "{value}",')
    sys.exit(0)
