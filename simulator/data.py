"""Samplers for the XOR setting, generated on the device from a counter-based generator.

Every random number is a pure function of (seed, stream, step, row, word): a splitmix64
hash of a counter. Hence

* a batch is the same whatever row chunks it is generated in (chunked = unchunked),
* seed s of a batched run draws exactly what a single run of seed s draws,
* CPU and CUDA draw the same samples,

and nothing is kept between steps. ±1 signs come from unpacking the bits of random
64-bit words (one word gives 64 coordinates; ~10× faster than `randint`); Gaussian
coordinates come from Box–Muller on the two 32-bit halves of a word.

Data laws (CLAIMS.md §1, §4): Boolean `x ~ Unif{±1}^d`, `y = -Π_c x_c`; Gaussian
`x ~ N(0, I_d)`, `y = -Π_c sign(x_c)`, over the label coordinates `c` (two for XOR,
three for parity-3).
"""

from __future__ import annotations

import math

import torch

_MASK = (1 << 64) - 1


def _s64(v: int) -> int:
    """An unsigned 64-bit constant as the signed int64 torch stores."""
    v &= _MASK
    return v - (1 << 64) if v >= 1 << 63 else v


GOLDEN = _s64(0x9E3779B97F4A7C15)
_M1 = _s64(0xBF58476D1CE4E5B9)
_M2 = _s64(0x94D049BB133111EB)

# Streams: independent key domains of one seed.
STREAM_BATCH = 1
STREAM_INIT_W = 2
STREAM_INIT_A = 3
STREAM_TEST = 4


def _mix(z: torch.Tensor) -> torch.Tensor:
    """splitmix64 finalizer on int64 tensors (wrapping arithmetic; logical shifts by masking)."""
    z = (z ^ ((z >> 30) & ((1 << 34) - 1))) * _M1
    z = (z ^ ((z >> 27) & ((1 << 37) - 1))) * _M2
    return z ^ ((z >> 31) & ((1 << 33) - 1))


def _mix_int(z: int) -> int:
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return _s64(z ^ (z >> 31))


def stream_key(seed: int, stream: int) -> int:
    """The key of one (seed, stream): a 64-bit hash, as a signed int."""
    return _mix_int(_mix_int(seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) + stream * 0xD1B54A32D192ED03)


def step_keys(keys: torch.Tensor, step: int) -> torch.Tensor:
    """Per-step keys (R,) from per-seed keys (R,) int64, on the device, without a host sync."""
    return _mix(keys + _s64((step + 1) * GOLDEN))


def words(keys: torch.Tensor, row0: int, rows: int, per_row: int) -> torch.Tensor:
    """Random 64-bit words (R, rows, per_row) for rows [row0, row0+rows) of the keyed streams."""
    dev = keys.device
    ctr = torch.arange(row0 * per_row + 1, (row0 + rows) * per_row + 1, dtype=torch.int64, device=dev)
    z = keys.view(-1, 1) + ctr.view(1, -1) * GOLDEN
    return _mix(z).view(keys.numel(), rows, per_row)


_LUT_CACHE: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def _sign_lut(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(256, 8) table: byte b -> the eight signs 2·bit_k(b) - 1, k = 0..7."""
    key = (dtype, device)
    lut = _LUT_CACHE.get(key)
    if lut is None:
        b = torch.arange(256, dtype=torch.int64).view(-1, 1)
        bits = (b >> torch.arange(8, dtype=torch.int64).view(1, -1)) & 1
        lut = (2 * bits - 1).to(dtype=dtype, device=device)
        _LUT_CACHE[key] = lut
    return lut


def boolean_rows(keys: torch.Tensor, row0: int, rows: int, d: int, dtype: torch.dtype,
                 buf: torch.Tensor | None = None) -> torch.Tensor:
    """±1 coordinates (R, rows, d) for rows [row0, row0+rows) of the keyed streams.

    `buf`, a flat tensor of at least R·rows·64·⌈d/64⌉ elements, is reused when given
    (no allocation in the step loop).
    """
    per_row = (d + 63) // 64
    R = keys.numel()
    n = R * rows * per_row * 64
    w = words(keys, row0, rows, per_row)  # (R, rows, per_row) int64
    idx = w.view(torch.uint8).reshape(-1).to(torch.int32)  # little-endian bytes: bit k of byte b
    full = torch.empty(n, dtype=dtype, device=keys.device) if buf is None else buf[:n]
    torch.index_select(_sign_lut(dtype, keys.device), 0, idx, out=full.view(-1, 8))
    full = full.view(R, rows, per_row * 64)
    return full if per_row * 64 == d else full[:, :, :d]


def gaussian_rows(keys: torch.Tensor, row0: int, rows: int, d: int, dtype: torch.dtype) -> torch.Tensor:
    """N(0, 1) coordinates (R, rows, d) by Box–Muller on the two 32-bit halves of each word."""
    per_row = (d + 1) // 2
    w = words(keys, row0, rows, per_row)
    lo = (w & 0xFFFFFFFF) >> 8  # 24 random bits each, exactly representable in float32
    hi = (w >> 40) & 0xFFFFFF
    work = torch.float64 if dtype == torch.float64 else torch.float32
    u1 = (lo.to(work) + 0.5) * 2.0**-24
    u2 = (hi.to(work) + 0.5) * 2.0**-24
    r = torch.sqrt(-2.0 * torch.log(u1))
    ang = (2.0 * math.pi) * u2
    z = torch.stack((r * torch.cos(ang), r * torch.sin(ang)), dim=-1).view(keys.numel(), rows, 2 * per_row)
    return z[:, :, :d].to(dtype)


def sample_rows(law: str, keys: torch.Tensor, row0: int, rows: int, d: int, dtype: torch.dtype) -> torch.Tensor:
    if law == "boolean":
        return boolean_rows(keys, row0, rows, d, dtype)
    if law == "gaussian":
        return gaussian_rows(keys, row0, rows, d, dtype)
    raise ValueError(f"data = {law!r} is not allowed: must be 'boolean' or 'gaussian'")


def labels(x: torch.Tensor, label_coords: tuple[int, ...], law: str) -> torch.Tensor:
    """y = -Π_c x_c (Boolean) or -Π_c sign(x_c) (Gaussian), shape x.shape[:-1]."""
    cols = x[..., list(label_coords)]
    if law == "gaussian":
        cols = torch.sign(cols)
    return -torch.prod(cols, dim=-1)


def seed_keys(seeds: list[int], stream: int, device: torch.device) -> torch.Tensor:
    return torch.tensor([stream_key(s, stream) for s in seeds], dtype=torch.int64, device=device)


def batch(law: str, seed: int, step: int, m: int, d: int, label_coords: tuple[int, ...],
          dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch (X (m, d), y (m,)) that seed `seed` sees at `step`: for outside replays."""
    dev = torch.device(device)
    k = step_keys(seed_keys([seed], STREAM_BATCH, dev), step)
    x = sample_rows(law, k, 0, m, d, dtype)[0]
    return x, labels(x, label_coords, law)


def test_rows(law: str, test_seed: int, row0: int, rows: int, d: int, label_coords: tuple[int, ...],
              dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows [row0, row0+rows) of the fixed test set (the same for every seed of a run)."""
    k = seed_keys([test_seed], STREAM_TEST, device)
    x = sample_rows(law, k, row0, rows, d, dtype)[0]
    return x, labels(x, label_coords, law)


def init_params(seeds: list[int], p: int, d: int, theta: float, init: str, finder_fraction: float,
                pair: tuple[int, int], dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial (W (R, p, d), a (R, p)): w_k = θ u_k, u_k uniform on S^{d-1}; a_k = θ ε_k.

    `sparse_finders`: only the first ⌈p·finder_fraction⌉ neurons keep their signal-plane
    coordinates; the others are projected onto the perpendicular subspace and rescaled to θ.
    """
    kw = seed_keys(seeds, STREAM_INIT_W, device)
    g = gaussian_rows(kw, 0, p, d, torch.float64)  # (R, p, d), drawn in float64 for every dtype
    if init == "sparse_finders":
        n_find = math.ceil(p * finder_fraction)
        g[:, n_find:, list(pair)] = 0.0
        if d <= 2:
            raise ValueError("sparse_finders needs d > 2")
    W = theta * g / g.norm(dim=-1, keepdim=True)
    ka = seed_keys(seeds, STREAM_INIT_A, device)
    eps = boolean_rows(ka, 0, 1, p, torch.float64)[:, 0, :]  # (R, p) fair signs
    a = theta * eps
    return W.to(dtype), a.to(dtype)
