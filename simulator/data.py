"""Samplers for the XOR setting, generated on the device from a counter-based generator.

Every random number is a pure function of (seed, stream, step, row, word): a splitmix64
hash of a counter. Hence

* a batch is the same whatever row chunks it is generated in (chunked = unchunked),
* seed s of a batched run draws exactly what a single run of seed s draws,
* CPU and CUDA draw the same samples,

and nothing is kept between steps. ±1 signs come from unpacking the bits of random
64-bit words (one word gives 64 coordinates; ~10× faster than `randint`); Gaussian
coordinates come from Box–Muller on the two 32-bit halves of a word.

Data laws (docs/SPEC.md §1, §4), registered in simulator.laws: Boolean `x ~ Unif{±1}^d`,
`y = -Π_c x_c`; Gaussian `x ~ N(0, I_d)`, `y = -Π_c sign(x_c)`, over the label coordinates
`c` (two for XOR, three for parity-3). Label noise (`label_flips`) flips training labels
from an independent key domain of the same streams (`subkeys`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import torch

from .laws import data_law, draw, get_law

_MASK = (1 << 64) - 1


def _s64(v: int) -> int:
    """An unsigned 64-bit constant as the signed int64 torch stores."""
    v &= _MASK
    return v - (1 << 64) if v >= 1 << 63 else v


GOLDEN = _s64(0x9E3779B97F4A7C15)
_M1 = _s64(0xBF58476D1CE4E5B9)
_M2 = _s64(0x94D049BB133111EB)

# the same constants as numpy uint64 scalars, for the host path of BooleanSampler
_U_M1, _U_M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)

# Streams: independent key domains of one seed.
STREAM_BATCH = 1
STREAM_INIT_W = 2
STREAM_INIT_A = 3
STREAM_TEST = 4
KEY_LABEL_NOISE = 1  # the subkeys domain of the label flips (simulator.data.label_flips)


def batch_stream(data_offset: int) -> int:
    """The minibatch stream of RunConfig.data_offset (0 = the default stream)."""
    return STREAM_BATCH + 16 * data_offset


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


def step_keys_range(keys: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
    """step_keys(keys, t) for t in [t0, t1) at once: (t1 - t0, R)."""
    steps = torch.arange(t0 + 1, t1 + 1, dtype=torch.int64, device=keys.device).view(-1, 1)
    return _mix(keys.view(1, -1) + steps * GOLDEN)


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


def _sign_lut_packed(device: torch.device) -> torch.Tensor:
    """(256,) int64 table: byte b -> its eight int8 signs packed in one 64-bit word.

    A 1-d lookup of 8-byte elements is ~6× faster than the (256, 8) row lookup; the int8
    signs are then widened to the float dtype by one conversion copy.
    """
    return _sign_lut(torch.int8, device).view(torch.int64).view(256)


class _Views(TypedDict, total=False):
    """BooleanSampler's workspace views for one chunk size: tensors, and on the CPU numpy views of the words."""

    z: torch.Tensor
    t: torch.Tensor
    ctr: torch.Tensor
    bytes: torch.Tensor
    idx: torch.Tensor
    signs: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    x: torch.Tensor
    zn: np.ndarray  # host only: uint64 views of z, t and ctr
    tn: np.ndarray
    ctrn: np.ndarray
    bytesn: np.ndarray  # host, small chunks only: numpy views of the bytes and of dst as (R, rows, bpr, 8)
    dstn: np.ndarray


class BooleanSampler:
    """`boolean_rows` with a preallocated workspace, for a loop over row chunks.

    A chunk of `rows` rows of R keyed streams costs one counter add, the splitmix64
    rounds in place (numpy uint64 on the CPU: logical shifts, so no masks), a byte →
    int32 copy of the ⌈d/8⌉ bytes a row uses, one table lookup byte → eight int8 signs
    and one widening copy to the float dtype; nothing is allocated per chunk. Bit k of
    byte b of a row's words is coordinate 8b + k, exactly as in `words` + unpacking.
    On the CPU a chunk of at most SMALL_BYTES bytes takes one numpy lookup instead: byte →
    its eight signs in the float dtype, straight into the destination (numpy's per-call
    cost is a fraction of torch's, which is what a small chunk costs).
    """

    SMALL_BYTES = 1 << 14  # covers the d = 64 paper batch (8.9 KB); larger chunks: hardware-dependent

    def __init__(
        self,
        R: int,
        rows: int,
        d: int,
        dtype: torch.dtype,
        device: torch.device,
        out: torch.Tensor | None = None,
        row_stride: int = 0,
    ):
        self.R, self.rows, self.d = R, rows, d
        self.per_row = (d + 63) // 64  # 64-bit words per row
        self.bpr = (d + 7) // 8  # bytes of those words the row uses
        self.stride = row_stride or 8 * self.bpr  # elements from one row of `out` to the next
        if self.stride < 8 * self.bpr:
            raise ValueError(f"row_stride = {row_stride} is below the 8·⌈d/8⌉ = {8 * self.bpr} entries a row fills")
        nw = rows * self.per_row
        self.ctr = torch.arange(1, nw + 1, dtype=torch.int64, device=device) * GOLDEN  # (nw,) counter·golden
        self.z = torch.empty(R * nw, dtype=torch.int64, device=device)  # words, flat
        self.t = torch.empty_like(self.z)
        self.idx = torch.empty(R * rows * self.bpr, dtype=torch.int32, device=device)  # byte values
        self.signs = torch.empty(R * rows * self.bpr, dtype=torch.int64, device=device)  # 8 int8 signs each
        n_out = R * rows * self.stride
        if out is None:
            out = torch.empty(n_out, dtype=dtype, device=device)
        elif out.numel() < n_out:
            raise ValueError(f"buf has {out.numel()} elements; {n_out} are needed for R·rows·8·⌈d/8⌉")
        self.out = out.view(-1)
        self.lut = _sign_lut_packed(device)
        self.host = device.type == "cpu"
        self.lutn = _sign_lut(dtype, device).numpy() if self.host else np.empty(0)  # (256, 8) in dtype
        self._views: dict[int, _Views] = {}
        self._step_bytes = np.empty((0, R, 0, 0), dtype=np.uint8)  # draw_steps: (S, R, rows, bpr)
        self._step_rows = 0

    def _views_for(self, rows: int) -> _Views:
        """The workspace views for a chunk of `rows` rows (made once per chunk size)."""
        v = self._views.get(rows)
        if v is None:
            R, nw, bpr = self.R, rows * self.per_row, self.bpr
            z = self.z[: R * nw].view(R, nw)
            dst = self.out[: R * rows * self.stride].view(R, rows, self.stride)[:, :, : bpr * 8]
            v = {
                "z": z,
                "t": self.t[: R * nw].view(R, nw),
                "ctr": self.ctr[:nw],
                "bytes": z.view(torch.uint8).view(R, rows, self.per_row * 8)[:, :, :bpr],  # little-endian
                "idx": self.idx[: R * rows * bpr].view(R, rows, bpr),
                "signs": self.signs[: R * rows * bpr],
                "src": self.signs[: R * rows * bpr].view(torch.int8).view(R, rows, bpr * 8),
                "dst": dst,
                "x": dst if bpr * 8 == self.d else dst[:, :, : self.d],
            }
            if self.host:
                v.update(
                    {
                        "zn": z.numpy().view(np.uint64),
                        "tn": v["t"].numpy().view(np.uint64),
                        "ctrn": v["ctr"].numpy().view(np.uint64),
                    }
                )
                if R * rows * bpr <= self.SMALL_BYTES:
                    dstn = dst.numpy().view()
                    dstn.shape = (R, rows, bpr, 8)  # a view of dst (setting .shape never copies)
                    v.update({"bytesn": v["bytes"].numpy(), "dstn": dstn})
            self._views[rows] = v
        return v

    def __call__(self, keys: torch.Tensor, row0: int, rows: int) -> torch.Tensor:
        """±1 coordinates (R, rows, d) for rows [row0, row0+rows): a view of `out`, whose rows are
        `row_stride` apart (the engine keeps extra columns of its own after the 8·⌈d/8⌉ written)."""
        if rows > self.rows or keys.numel() != self.R:
            raise ValueError(
                f"sampler holds {self.rows} rows of {self.R} streams; asked for {rows} rows of {keys.numel()}"
            )
        v = self._views_for(rows)
        # word w of row r has counter (row0 + r)·per_row + w + 1; z = key + counter·golden, then mixed
        offset = row0 * self.per_row * GOLDEN
        if self.host:  # numpy uint64: wrapping arithmetic and logical shifts
            zn, tn = v["zn"], v["tn"]
            np.add(v["ctrn"], (keys.numpy().view(np.uint64) + np.uint64(offset & _MASK)).reshape(-1, 1), out=zn)
            for ushift, umult in ((_U30, _U_M1), (_U27, _U_M2), (_U31, None)):
                np.right_shift(zn, ushift, out=tn)
                np.bitwise_xor(zn, tn, out=zn)
                if umult is not None:
                    np.multiply(zn, umult, out=zn)
        else:  # int64 torch: wrapping arithmetic; arithmetic shift + mask = logical shift
            z, t = v["z"], v["t"]
            torch.add(v["ctr"], (keys + _s64(offset)).view(-1, 1), out=z)
            for shift, mask, mult in ((30, (1 << 34) - 1, _M1), (27, (1 << 37) - 1, _M2), (31, (1 << 33) - 1, None)):
                torch.bitwise_right_shift(z, shift, out=t)
                z.bitwise_xor_(t.bitwise_and_(mask))
                if mult is not None:
                    z.mul_(mult)
        if "bytesn" in v:
            np.take(self.lutn, v["bytesn"], axis=0, out=v["dstn"], mode="clip")  # byte → 8 signs, in dtype
        else:
            v["idx"].copy_(v["bytes"])
            torch.index_select(self.lut, 0, v["idx"].view(-1), out=v["signs"])
            v["dst"].copy_(v["src"])  # int8 ±1 → dtype
        return v["x"]

    def small_steps(self, rows: int) -> bool:
        """Whether `draw_steps`/`fill_step` serve chunks of `rows` rows: on the CPU, at most SMALL_BYTES bytes."""
        return self.host and rows <= self.rows and self.R * rows * self.bpr <= self.SMALL_BYTES

    def draw_steps(self, keys: torch.Tensor, rows: int) -> None:
        """Mix the words of rows [0, rows) of S steps at once, from the steps' keys (S, R) (see
        `small_steps`); `fill_step(s)` then writes step s's rows as `self(keys[s], 0, rows)` would."""
        S, R = keys.shape[0], self.R
        if keys.shape[1] != R:
            raise ValueError(f"sampler holds {R} streams; keys of {keys.shape[1]} given")
        kn = keys.numpy().view(np.uint64).reshape(S, R, 1)
        zn = np.add(self._views_for(rows)["ctrn"], kn)  # (S, R, nw): key + counter·golden
        tn = np.empty_like(zn)
        for ushift, umult in ((_U30, _U_M1), (_U27, _U_M2), (_U31, None)):
            np.right_shift(zn, ushift, out=tn)
            np.bitwise_xor(zn, tn, out=zn)
            if umult is not None:
                np.multiply(zn, umult, out=zn)
        self._step_bytes = zn.view(np.uint8).reshape(S, R, rows, self.per_row * 8)[:, :, :, : self.bpr]
        self._step_rows = rows

    def fill_step(self, s: int) -> torch.Tensor:
        """Step s's rows (of the last `draw_steps`), ±1 (R, rows, d) in `out` as `__call__` writes them."""
        v = self._views_for(self._step_rows)
        np.take(self.lutn, self._step_bytes[s], axis=0, out=v["dstn"], mode="clip")
        return v["x"]


def boolean_rows(
    keys: torch.Tensor, row0: int, rows: int, d: int, dtype: torch.dtype, buf: torch.Tensor | None = None
) -> torch.Tensor:
    """±1 coordinates (R, rows, d) for rows [row0, row0+rows) of the keyed streams.

    `buf`, a flat tensor of at least R·rows·8·⌈d/8⌉ elements, receives the rows when
    given (R·rows·64·⌈d/64⌉ is always enough). For a loop over chunks use BooleanSampler.
    """
    return BooleanSampler(keys.numel(), rows, d, dtype, keys.device, out=buf)(keys, row0, rows)


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


@data_law("boolean", description="x ~ Unif{±1}^d, y = -Π_c x_c")
def boolean_sample(
    keys: torch.Tensor, row0: int, rows: int, d: int, label_coords: tuple[int, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Boolean law (docs/SPEC.md §1): x ~ Unif{±1}^d, y = -Π_c x_c. The engine draws it in place
    with a BooleanSampler (the same samples)."""
    x = boolean_rows(keys, row0, rows, d, dtype)
    return x, labels(x, label_coords, "boolean")


@data_law("gaussian", description="x ~ N(0, I_d), y = -Π_c sign(x_c)")
def gaussian_sample(
    keys: torch.Tensor, row0: int, rows: int, d: int, label_coords: tuple[int, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian law (docs/SPEC.md §4): x ~ N(0, I_d), y = -Π_c sign(x_c)."""
    x = gaussian_rows(keys, row0, rows, d, dtype)
    return x, labels(x, label_coords, "gaussian")


def labels(x: torch.Tensor, label_coords: tuple[int, ...], law: str) -> torch.Tensor:
    """y = -Π_c x_c (Boolean) or -Π_c sign(x_c) (Gaussian), shape x.shape[:-1]."""
    return labels_from_columns([x[..., c] for c in label_coords], law)


def labels_from_columns(cols: Sequence[torch.Tensor], law: str, out: torch.Tensor | None = None) -> torch.Tensor:
    """`labels` from the label coordinates' columns x_c (each of shape x.shape[:-1]), into `out` if given."""
    if law == "gaussian":
        cols = [torch.sign(c) for c in cols]
    if out is not None:
        y = torch.neg(cols[0], out=out)
        for c in cols[1:]:
            y.mul_(c)
        return y
    y = -cols[0]
    for c in cols[1:]:
        y = y * c
    return y


def seed_keys(seeds: list[int], stream: int, device: torch.device) -> torch.Tensor:
    return torch.tensor([stream_key(s, stream) for s in seeds], dtype=torch.int64, device=device)


def subkeys(keys: torch.Tensor, domain: int) -> torch.Tensor:
    """Keys of an independent domain `domain` ≥ 1 of the same streams (R,): for a second draw per row
    (a data law's extra randomness, the label flips) that shares no counter with the rows' own words.
    Domain KEY_LABEL_NOISE = 1 is the label flips'; a data law draws from the others."""
    return _mix(keys + _s64(domain * 0xD1B54A32D192ED03))


def label_flips(keys: torch.Tensor, row0: int, rows: int, rho: float, dtype: torch.dtype) -> torch.Tensor:
    """(R, rows) factors -1 (flipped, with probability ρ) or +1, for rows [row0, row0+rows) of the keyed streams.

    Row r flips when the top 53 bits of word r of `subkeys(keys, KEY_LABEL_NOISE)` are below
    round(ρ·2^53), so the flips depend on (key, row) alone, like the rows themselves."""
    w = words(subkeys(keys, KEY_LABEL_NOISE), row0, rows, 1)[:, :, 0]
    u = (w >> 11) & ((1 << 53) - 1)  # logical shift: 53 uniform bits
    flip = u < round(rho * 2.0**53)
    return 1.0 - 2.0 * flip.to(dtype)


def batch(
    law: str,
    seed: int,
    step: int,
    m: int,
    d: int,
    label_coords: tuple[int, ...],
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    data_offset: int = 0,
    label_noise: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch (X (m, d), y (m,)) that seed `seed` sees at `step`: for outside replays.

    `data_offset` and `label_noise` are RunConfig's (the run's minibatch stream; y is then the
    training label, flipped where the run flips it)."""
    dev = torch.device(device)
    k = step_keys(seed_keys([seed], batch_stream(data_offset), dev), step)
    x, y = draw(get_law(law), k, 0, m, d, label_coords, dtype)
    if label_noise > 0:
        y = y * label_flips(k, 0, m, label_noise, dtype)
    return x[0], y[0]


def test_rows(
    law: str,
    test_seed: int,
    row0: int,
    rows: int,
    d: int,
    label_coords: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows [row0, row0+rows) of the fixed test set (the same for every seed of a run)."""
    k = seed_keys([test_seed], STREAM_TEST, device)
    x, y = draw(get_law(law), k, row0, rows, d, label_coords, dtype)
    return x[0], y[0]


def n_finders(p: int, finder_fraction: float) -> int:
    """The number of finders of the sparse_finders init, n_f = ⌈p·finder_fraction⌉."""
    return math.ceil(p * finder_fraction)


def finder_clusters(n_find: int) -> np.ndarray:
    """The cluster each finder covers at initialization: finder k covers CLUSTERS[k mod 4]
    (simulator.population order), so that every cluster has ⌊n_f/4⌋ or ⌈n_f/4⌉ finders."""
    return np.arange(n_find) % 4


def covered_cluster(wi: np.ndarray, wj: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The cluster (index into population.CLUSTERS) a neuron covers; -1 where w has no signal component.

    Neuron k covers cluster c = (c_i, c_j) when its second-layer sign is the cluster's label,
    sign a_k = y_c, and its signal-plane direction points to c along the diagonal of that sign,
    μ̂_sig = (e_i + σ e_j)/√2 with σ = -1 for a ≥ 0, +1 for a < 0 (the diagonal on which a
    neuron of that sign grows; docs/SPEC.md §2): sign⟨w_k, μ̂_sig⟩ = sign⟨c, μ̂_sig⟩ = c_i.
    These are exactly the neurons that add to c's clean margin γ̃_c. a ≥ 0 covers (1,-1) or
    (-1,1) (label +1); a < 0 covers (1,1) or (-1,-1) (label -1).
    """
    sigma = np.where(a >= 0, -1.0, 1.0)
    z = wi + sigma * wj  # √2·⟨w, μ̂_sig⟩
    c = np.where(a >= 0, np.where(z > 0, 0, 1), np.where(z > 0, 2, 3))
    return np.where(z == 0, -1, c)


def init_params(
    seeds: list[int],
    p: int,
    d: int,
    theta: float,
    init: str,
    finder_fraction: float,
    pair: tuple[int, int],
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial (W (R, p, d), a (R, p)): w_k = θ u_k, u_k uniform on S^{d-1}; a_k = θ ε_k.

    `sparse_finders`: neurons 0 … n_f - 1, n_f = ⌈p·finder_fraction⌉, are the finders, placed
    stratified over the four clusters: finder k covers cluster c = CLUSTERS[k mod 4]
    (`finder_clusters`, `covered_cluster`). Its sign is set to the cluster's label,
    a_k = θ y_c, and where its sphere direction points away from c along the diagonal
    μ̂_sig of that sign, ⟨u_k, μ̂_sig⟩ c_i < 0, the component along μ̂_sig is reflected,
    (u_i, u_j) → (-σ u_j, -σ u_i): the finder's direction is uniform on the half-sphere of
    its cluster, ‖w_k‖ = θ. The non-finders k ≥ n_f keep the sphere draw's sign ε_k and its
    direction projected onto the perpendicular subspace (coordinates i, j zeroed) and
    rescaled to θ: no signal-plane component. Every cluster has ⌊n_f/4⌋ or ⌈n_f/4⌉ finders
    (the sparse_finders regime takes p large enough for two each).
    `gaussian`: w_k = θ g_k/√d ~ N(0, θ²/d I_d), from the same Gaussian draw g_k that the
    sphere normalizes (so ‖w_k‖ ≈ θ only on average); a_k = θ ε_k as for the others.
    """
    kw = seed_keys(seeds, STREAM_INIT_W, device)
    g = gaussian_rows(kw, 0, p, d, torch.float64)  # (R, p, d), drawn in float64 for every dtype
    ka = seed_keys(seeds, STREAM_INIT_A, device)
    eps = boolean_rows(ka, 0, 1, p, torch.float64)[:, 0, :]  # (R, p) fair signs
    if init == "sparse_finders":
        if d <= 2:
            raise ValueError("sparse_finders needs d > 2")
        g, eps = _place_finders(g, eps, n_finders(p, finder_fraction), pair)
    if init == "gaussian":
        W = g * (theta / math.sqrt(d))
    else:
        W = theta * g / g.norm(dim=-1, keepdim=True)
    a = theta * eps
    return W.to(dtype), a.to(dtype)


def _place_finders(
    g: torch.Tensor, eps: torch.Tensor, n_find: int, pair: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sparse_finders draw from the sphere's (g (R, p, d), ε (R, p)): see init_params."""
    from .population import CLUSTER_LABELS, CLUSTERS

    i, j = pair
    g, eps = g.clone(), eps.clone()
    c = finder_clusters(n_find)
    y = torch.tensor([CLUSTER_LABELS[k] for k in c], dtype=g.dtype, device=g.device)
    ci = torch.tensor([float(CLUSTERS[k][0]) for k in c], dtype=g.dtype, device=g.device)
    sigma = -y  # μ̂_sig = (e_i + σ e_j)/√2, σ = -1 for a > 0
    gi, gj = g[:, :n_find, i], g[:, :n_find, j]
    away = (gi + sigma * gj) * ci < 0
    g[:, :n_find, i], g[:, :n_find, j] = (
        torch.where(away, -sigma * gj, gi),
        torch.where(away, -sigma * gi, gj),
    )
    eps[:, :n_find] = y
    g[:, n_find:, [i, j]] = 0.0
    return g, eps
