"""Data laws: the registered samplers of (x, y) that the minibatches and the test set are drawn from.

A data law is a function

    sample(keys, row0, rows, d, label_coords, dtype) -> (X, y)

of `keys`, an int64 tensor (R,) of counter-based keys (one per stream: a seed's key at one
step, or the test set's key), and a row range [row0, row0 + rows). It returns X (R, rows, d)
and y (R, rows) of `dtype` on the keys' device. Contract (docs/SPEC.md §5): row r of stream k
is a pure function of (keys[k], r, d, label_coords) — draw it from `simulator.data.words(keys,
row0, rows, per_row)` (the words of rows [row0, row0+rows) by their absolute counter), from
the built-in row samplers `data.boolean_rows` / `data.gaussian_rows`, and from independent
key domains `data.subkeys(keys, k)`, k ≥ 2 (k = 1 is the label flips') — so that chunked and
unchunked batches, a seed of a batched run and the single run of that seed, and CPU and CUDA
draw the same samples.

Laws are registered with the `@simulator.data_law("name")` decorator or through the entry
point group `xorcert.data_laws` (loaded on the first `registered_laws()`); the built-in
`boolean` and `gaussian` laws (simulator.data) are registered the same way, first.
`RunConfig.data` names a law; a run whose law is not registered is refused before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .registry import Registry, RegistryError

ENTRY_POINT_GROUP = "xorcert.data_laws"
HOW_TO_REGISTER = (
    'Register one with the @simulator.data_law("name") decorator on a function '
    "(keys, row0, rows, d, label_coords, dtype) -> (X, y), or through the entry point group "
    f"'{ENTRY_POINT_GROUP}' of an installed package"
)
Sampler = Callable[[torch.Tensor, int, int, int, tuple, torch.dtype], tuple[torch.Tensor, torch.Tensor]]


class DataLawError(RegistryError):
    """A data law could not be registered or loaded, or returned samples of the wrong shape."""


@dataclass(frozen=True)
class DataLaw:
    """A registered data law: its sampler (see the module docstring), a description and where it came from."""

    name: str
    sample: Sampler
    description: str
    origin: str  # module.qualname of the sampler, or the entry point it came from


def _make(name: str, fn: Sampler, origin: str, description: str | None = None) -> DataLaw:
    return DataLaw(name, fn, description or (fn.__doc__ or "").strip().split("\n")[0], origin)


_REGISTRY: Registry[DataLaw] = Registry("data law", ENTRY_POINT_GROUP, _make, lambda law: law.sample, DataLawError)


def data_law(name: str, *, description: str | None = None) -> Callable[[Sampler], Sampler]:
    """Decorator: register a sampler as data law `name`; returns it unchanged.

    Raises ValueError for a name that is not identifier-like, DataLawError when another
    function already holds the name."""

    def register(fn: Sampler) -> Sampler:
        _REGISTRY.add(name, fn, description=description)
        return fn

    return register


def registered_laws() -> dict[str, DataLaw]:
    """The registered data laws by name, in registration order (built-ins first); loads the entry points once."""
    return _REGISTRY.all()


def get_law(name: str) -> DataLaw:
    """The law registered as `name`; ValueError listing the registered laws when there is none."""
    law = registered_laws().get(name)
    if law is None:
        raise _REGISTRY.unknown(name, HOW_TO_REGISTER)
    return law


def draw(
    law: DataLaw, keys: torch.Tensor, row0: int, rows: int, d: int, label_coords: tuple[int, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """law.sample(...), with its result checked: X (R, rows, d) and y (R, rows), DataLawError otherwise."""
    x, y = law.sample(keys, row0, rows, d, label_coords, dtype)
    R = keys.numel()
    if (
        not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor))
        or tuple(x.shape) != (R, rows, d)
        or tuple(y.shape) != (R, rows)
    ):
        shapes = [tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__ for v in (x, y)]
        raise DataLawError(
            f"data law {law.name!r} ({law.origin}) returned X, y of shapes {shapes[0]}, {shapes[1]}; "
            f"expected tensors ({R}, {rows}, {d}) and ({R}, {rows})"
        )
    return x, y
