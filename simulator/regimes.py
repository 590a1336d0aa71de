"""The regimes of docs/SPEC.md §4, and the registry that lets a researcher add their own (§5).

A regime is a function `fn(d: int, **kw) -> RunConfig` registered under a name:

    @simulator.regime("noisy_labels", description="the paper regime with label noise rho")
    def noisy_labels(d: int, rho: float = 0.1, **kw) -> RunConfig:
        return simulator.paper(d, label_noise=rho, **kw)

    cfg = simulator.build_regime("noisy_labels", 64, rho=0.2, seeds=4)

`build_regime` stamps the config with the regime's name (`RunConfig.regime`) and records
the keyword arguments that are not RunConfig fields in `regime_params` (merged with what
the function recorded there; the fields given are in the config itself; JSON scalars only),
so a regime built on `paper(...)` is still identified as its own. Besides the decorator, the entry
point group `xorcert.regimes` of installed packages is loaded on the first
`registered()`: each entry point names a regime function or a module whose import
registers regimes. The built-in regimes are registered first, in the order of §4.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .config import CUSTOM, PaperHyper, RunConfig, paper_hyper
from .registry import Registry, RegistryError, is_name

ENTRY_POINT_GROUP = "xorcert.regimes"
HOW_TO_REGISTER = (
    'Register one with the @simulator.regime("name") decorator on a function (d, **kw) -> RunConfig, '
    f"or through the entry point group '{ENTRY_POINT_GROUP}' of an installed package"
)
_FIELDS = frozenset(f.name for f in fields(RunConfig))


class RegimeError(RegistryError):
    """A regime could not be registered, loaded or built (the message names the regime and the cause)."""


@dataclass(frozen=True)
class Regime:
    """A registered regime.

    `batch_twin`: the regime whose runs equal this one's once the batch size m and the horizon
    are overridden (small_batch's twin is paper), so that a search over m can share the twin's
    cache entries.
    """

    name: str
    build: Callable[..., RunConfig]  # fn(d, **kw) -> RunConfig
    description: str
    origin: str  # module.qualname of the function, or the entry point it came from
    batch_twin: str | None = None


def _make(
    name: str, fn: Callable[..., RunConfig], origin: str, batch_twin: str | None = None, description: str | None = None
) -> Regime:
    doc = (fn.__doc__ or "").strip().split("\n")[0]
    return Regime(name, fn, description or doc, origin, batch_twin)


_REGISTRY: Registry[Regime] = Registry(
    "regime", ENTRY_POINT_GROUP, _make, lambda r: r.build, RegimeError, reserved=(CUSTOM,)
)


def regime(
    name: str, *, batch_twin: str | None = None, description: str | None = None
) -> Callable[[Callable[..., RunConfig]], Callable[..., RunConfig]]:
    """Decorator: register `fn(d: int, **kw) -> RunConfig` as regime `name`; returns fn unchanged.

    `description` defaults to the first line of fn's docstring. Raises ValueError for a name that
    is not identifier-like (or is "custom", the name of hand-built configs), RegimeError when
    another function already holds the name.
    """
    if batch_twin is not None and not is_name(batch_twin):
        raise ValueError(f"regime {name!r}: batch_twin = {batch_twin!r} is not allowed: must be a regime name or None")

    def register(fn: Callable[..., RunConfig]) -> Callable[..., RunConfig]:
        _REGISTRY.add(name, fn, batch_twin=batch_twin, description=description)
        return fn

    return register


def registered() -> dict[str, Regime]:
    """The registered regimes by name, in registration order (built-ins first); loads the entry points once."""
    return _REGISTRY.all()


def build_regime(name: str, d: int, **kw: Any) -> RunConfig:
    """The config of regime `name` at dimension d, stamped with the regime's name (see the module docstring).

    Raises ValueError for an unknown name (listing the registered ones), RegimeError when the
    regime's function raises or returns something other than a RunConfig.
    """
    reg = registered().get(name)
    if reg is None:
        raise _REGISTRY.unknown(name, HOW_TO_REGISTER)
    try:
        cfg = reg.build(d, **kw)
    except Exception as e:
        raise RegimeError(f"regime {name!r} at d={d!r} with {kw} raised {type(e).__name__}: {e}") from e
    if not isinstance(cfg, RunConfig):
        raise RegimeError(
            f"regime {name!r} ({reg.origin}) returned {type(cfg).__module__}.{type(cfg).__qualname__}, not a RunConfig"
        )
    params = {k: v for k, v in kw.items() if k not in _FIELDS}
    params.update(cfg.regime_params)
    for k, v in params.items():  # stored as JSON with the run, read back equal, and hashable (RunConfig is)
        if not (v is None or isinstance(v, (bool, int, str)) or (isinstance(v, float) and math.isfinite(v))):
            raise RegimeError(
                f"regime {name!r}: parameter {k} = {v!r} cannot be recorded in regime_params: "
                "must be a JSON scalar (a finite number, a string, a bool or None)"
            )
    return cfg.replace(regime=name, regime_params=tuple(sorted(params.items())))


# ---------------------------------------------------------------------------
# The built-in regimes (docs/SPEC.md §4)
# ---------------------------------------------------------------------------


def _from_hyper(h: PaperHyper, regime: str, extra: dict[str, Any], **overrides: Any) -> RunConfig:
    params = {"C": h.C, "kappa": h.kappa, **extra}
    base: dict[str, Any] = dict(
        d=h.d,
        p=h.p,
        m=h.m,
        eta=h.eta,
        theta=h.theta,
        steps=h.steps,
        regime=regime,
        regime_params=tuple(sorted(params.items())),
    )
    base.update(overrides)
    return RunConfig(**base)


@regime("paper")
def paper(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any) -> RunConfig:
    """The paper regime (Theorem 3.1): docs/SPEC.md §1 defaults."""
    return _from_hyper(paper_hyper(d, C, kappa, p), "paper", {}, **overrides)


@regime("small_batch", batch_twin="paper")
def small_batch(
    d: int, m: int | None = None, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any
) -> RunConfig:
    """Batch m (default m = d) with the paper's η, p, θ and the paper's sample budget n: T = ⌈n/m⌉."""
    h = paper_hyper(d, C, kappa, p)
    m = d if m is None else m
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m = {m!r} is not allowed: must be an integer ≥ 1")
    steps = math.ceil(h.m * h.steps / m)
    return _from_hyper(h, "small_batch", {"m": m}, **{"m": m, "steps": steps, **overrides})


@regime("gaussian")
def gaussian(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any) -> RunConfig:
    """x ~ N(0, I_d), y = -sign(x_i x_j); the paper's hyper-parameters (open question 3)."""
    return _from_hyper(paper_hyper(d, C, kappa, p), "gaussian", {}, **{"data": "gaussian", **overrides})


@regime("first_layer_only")
def first_layer_only(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any) -> RunConfig:
    """Second layer frozen at initialization (Remark 4.3)."""
    return _from_hyper(paper_hyper(d, C, kappa, p), "first_layer_only", {}, **{"variants": ("frozen_a",), **overrides})


@regime("large_init")
def large_init(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any) -> RunConfig:
    """θ = 1: a lazy start, where the phase-one linearization should break."""
    return _from_hyper(paper_hyper(d, C, kappa, p), "large_init", {}, **{"theta": 1.0, **overrides})


@regime("parity3")
def parity3(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None, **overrides: Any) -> RunConfig:
    """y = -x_i x_j x_l (open question 2)."""
    return _from_hyper(paper_hyper(d, C, kappa, p), "parity3", {}, **{"label_coords": (0, 1, 2), **overrides})


@regime("sparse_finders")
def sparse_finders(
    d: int,
    C: float = 2.0,
    kappa: float = 12.0,
    p: int | None = None,
    finders_per_cluster: int = 2,
    **overrides: Any,
) -> RunConfig:
    """Only ⌈p/8⌉ neurons start with a signal-plane component, stratified over the clusters (C8).

    The finders are the fraction `finder_fraction` = 1/8 of the neurons (the abstract's
    "small fraction"), placed `finders_per_cluster` (default 2) or more on each of the four
    clusters by simulator.data.init_params. The width is the paper's (or the given p) unless
    p·finder_fraction < 4·finders_per_cluster: then p = ⌈4·finders_per_cluster/finder_fraction⌉
    (64 by default), the smallest width whose fraction holds two finders per cluster, so that
    n_f/p is the fraction itself; θ = ψ/√p follows the width as in the paper regime.
    """
    if isinstance(finders_per_cluster, bool) or not isinstance(finders_per_cluster, int) or finders_per_cluster < 1:
        raise ValueError(f"finders_per_cluster = {finders_per_cluster!r} is not allowed: must be an integer ≥ 1")
    f = overrides.get("finder_fraction", 0.125)
    p_run = paper_hyper(d, C, kappa, p).p
    if isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1:  # else RunConfig rejects it
        p_run = max(p_run, math.ceil(4 * finders_per_cluster / f))
    return _from_hyper(
        paper_hyper(d, C, kappa, p_run),
        "sparse_finders",
        {"finders_per_cluster": finders_per_cluster},
        **{"init": "sparse_finders", "finder_fraction": f, **overrides},
    )
