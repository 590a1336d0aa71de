"""Run configuration: every knob of one SGD run, its validation, and the paper's hyper-parameters.

A `RunConfig` is frozen and hashable; it is validated on construction, so a bad value
raises `ValueError` naming the field, the value and the allowed range before any work
starts. `paper_hyper` computes the paper's hyper-parameters from d (docs/SPEC.md §1),
from which the regimes of simulator.regimes build their configs:

    ψ = log(d)^(-C),  p = ⌈1/ψ⌉,  m = ⌈d/ψ⌉,  η = ψ,  θ = ψ/√p,  T = ⌈κ log(d)/η⌉.

The data law and the regime are names: a data law must be registered when a run starts
(simulator.laws), while a config naming any regime loads anywhere, so that a trajectory
of a user regime reads back in a process that never registered it (docs/SPEC.md §5).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from .registry import is_name

INITS = ("sphere", "sparse_finders", "gaussian")
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda")
CUSTOM = "custom"  # the regime name of a config built by hand rather than by a registered regime
MAX_LABEL_NOISE = 0.5  # label_noise is in [0, MAX_LABEL_NOISE): at 1/2 the labels carry no signal
LOSS_NAMES = ("logistic", "squared", "exponential")  # the losses of simulator.losses (docs/SPEC.md §1)


class Variant(NamedTuple):
    """What a variant trains: its loss, whether it steps with the loss's first-order proxy, its layers."""

    loss: str  # a name of LOSS_NAMES: h
    proxy: bool  # True: the step uses h0(γ) = h(0) + h'(0) γ (the records still read h)
    layers: str  # "both", or "first": the second layer stays at its initial value


# A variant is one (loss, proxy or not, trained layers); the variants of one run share the
# initial weights and every minibatch (coupled runs, docs/SPEC.md C1 and C8). Names: the loss
# ("logistic" is left out of every name but its own), then "linear" for the proxy, then
# "frozen_a" for a frozen second layer.
VARIANTS = {
    "logistic": Variant("logistic", False, "both"),  # the real run: h(γ) = 2 log(1 + e^-γ)
    "linear": Variant("logistic", True, "both"),  # its first-order proxy h0(γ) = 2 log 2 - γ
    "frozen_a": Variant("logistic", False, "first"),  # second layer frozen at initialization
    "linear_frozen_a": Variant("logistic", True, "first"),  # the proxy of a frozen-a run (C1 in first_layer_only)
    "squared": Variant("squared", False, "both"),  # h(γ) = (1 - γ)²
    "squared_linear": Variant("squared", True, "both"),  # h0(γ) = 1 - 2γ
    "squared_frozen_a": Variant("squared", False, "first"),
    "squared_linear_frozen_a": Variant("squared", True, "first"),
    "exponential": Variant("exponential", False, "both"),  # h(γ) = e^-γ
    "exponential_linear": Variant("exponential", True, "both"),  # h0(γ) = 1 - γ
    "exponential_frozen_a": Variant("exponential", False, "first"),
    "exponential_linear_frozen_a": Variant("exponential", True, "first"),
}


def variant_named(loss: str, proxy: bool, layers: str) -> str:
    """The name of the variant (loss, proxy, layers)."""
    return next(name for name, v in VARIANTS.items() if v == (loss, proxy, layers))


def proxy_variant(main: str) -> str:
    """The first-order-proxy twin of a variant: same loss linearized, same trained layers."""
    v = VARIANTS[main]
    return variant_named(v.loss, True, v.layers)


def frozen_variant(main: str) -> str:
    """The frozen-second-layer twin of a variant: same loss (proxy or not), first layer trained only."""
    v = VARIANTS[main]
    return variant_named(v.loss, v.proxy, "first")


MAX_SEEDS = 4096
# Upper bounds of the size fields. They refuse, before any work, values no run can finish
# (`--steps 1e20`, or `--C 50`, whose regime formulas give p ≈ 10^22), and keep every count
# derived from a config an exact machine integer. What fits them but not the machine is
# refused by simulator.memory.check_memory.
MAX_D = 2**31  # one neuron's weights are 8 GiB in float32 at 2^31 (the paper regime's m ≤ 10^9 needs d < 4.2·10^6)
MAX_P = 2**20  # the paper regime's p = ⌈log(d)^2⌉ is at most 462 (d ≤ 2^31): room for width sweeps
MAX_M = 10**9  # rows of one step; the paper regime's m = ⌈d·log(d)^2⌉ is 4.9·10^4 at d = 1024
MAX_STEPS = 10**9  # the step loop is Python-level (≥ 10 µs a step: ≥ 3 hours); the paper regime's T ≤ 1.2·10^5
MAX_TEST_SIZE = 10**8  # evaluated at every snapshot; its Clopper–Pearson interval is ±10^-4 wide at 10^8
MAX_SNAPSHOTS = 10**6  # each keeps W (seeds · p · d numbers) and evaluates the whole test set
# The range of every integer field of RunConfig: [lo, hi].
INT_RANGES = {
    "d": (3, MAX_D),
    "p": (1, MAX_P),
    "m": (1, MAX_M),
    "steps": (1, MAX_STEPS),
    "seed": (0, 2**62),
    "seeds": (1, MAX_SEEDS),
    "test_size": (1, MAX_TEST_SIZE),
    "test_seed": (0, 2**62),
    "snapshots": (2, MAX_SNAPSHOTS),
    "chunk_rows": (0, MAX_M),
    "data_offset": (0, 2**20),
    "stop_step": (0, MAX_STEPS),
}


def zeta(d: int) -> float:
    """ζ(d) = 1/log(d): the project's finite-d stand-in for the paper's o(1) (docs/SPEC.md §2)."""
    return 1.0 / math.log(d)


@dataclass(frozen=True)
class RunConfig:
    """One SGD run of docs/SPEC.md §1, possibly for several seeds and coupled variants.

    Seeds `seed, seed+1, …, seed+seeds-1` run as one stacked computation; seed `s`
    of a batched run is the same run as `seeds=1, seed=s`.
    """

    d: int  # input dimension
    p: int  # width
    m: int  # minibatch size (fresh samples every step)
    eta: float  # step size η
    theta: float  # init scale θ: ‖w_k‖ = |a_k| = θ at t = 0
    steps: int  # horizon T (number of SGD steps)
    label_coords: tuple[int, ...] = (0, 1)  # y = -Π x_c over these coordinates; first two = the pair (i, j)
    data: str = "boolean"  # registered data law: "boolean" x ~ Unif{±1}^d; "gaussian" x ~ N(0, I_d), y = -Π sign(x_c)
    label_noise: float = 0.0  # ρ: each fresh training label flipped with probability ρ; test labels stay clean
    weight_decay: float = 0.0  # λ: W ← W - η(g_w + λW), a ← a - rη(g_a + λa); 0 = none
    lr_ratio: float = 1.0  # r: the second layer steps with r·η
    variants: tuple[str, ...] = ("logistic",)  # names in VARIANTS (loss, proxy, layers); the first is the main run
    init: str = "sphere"  # "sphere", "gaussian" (w ~ N(0, θ²/d I)), or "sparse_finders" (see finder_fraction)
    finder_fraction: float = 0.125  # sparse_finders: only ⌈p·finder_fraction⌉ neurons see the signal plane (stratified)
    dtype: str = "float32"
    device: str = "auto"
    seed: int = 0
    seeds: int = 1  # R: number of seeds run together
    test_size: int = 20_000  # fixed test set for the snapshots' metrics
    test_seed: int = 1_000_003  # the test set's own seed
    snapshots: int = 50  # uniform snapshot grid size (plus log-spaced steps and the last)
    chunk_rows: int = 0  # rows of a batch processed at once; 0 = automatic
    data_offset: int = 0  # minibatch stream: configs differing only here share the init, not the batches
    stop_error: float = 0.0  # > 0: stop at the first snapshot where every seed's main test error ≤ this
    stop_step: int = 0  # > 0: stop at the first snapshot at or after this step (the grid stays that of `steps`)
    stop_phases: float = 0.0  # ε > 0: stop once every seed's main run has passed T1, T_ε and T_L (simulator.phases)
    regime: str = CUSTOM  # the registered regime this config was built from (docs/SPEC.md §4, §5)
    regime_params: tuple[tuple[str, Any], ...] = field(default=())  # what the constructor was given

    def __post_init__(self) -> None:
        _validate(self)

    # ----- derived -----
    @property
    def pair(self) -> tuple[int, int]:
        return (self.label_coords[0], self.label_coords[1])

    @property
    def samples(self) -> int:
        """n = m · T, the sample count of the run."""
        return self.m * self.steps

    @property
    def zeta(self) -> float:
        return zeta(self.d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["label_coords"] = list(self.label_coords)
        out["variants"] = list(self.variants)
        out["regime_params"] = [list(kv) for kv in self.regime_params]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"RunConfig: unknown field(s) {sorted(unknown)}; known fields are {sorted(known)}")
        d = dict(d)
        for name in ("label_coords", "variants"):
            if name in d:
                d[name] = tuple(d[name])
        if "regime_params" in d:
            d["regime_params"] = tuple((str(k), v) for k, v in d["regime_params"])
        return cls(**d)


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ValueError(f"RunConfig.{name} = {value!r} is not allowed: {allowed}")


def _int_problem(v: Any, lo: int, hi: int) -> str | None:
    """Why v is not an integer in [lo, hi], as "must be …" (None when it is one)."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        return f"must be an integer ≥ {lo} (allowed range [{lo}, {hi}])"
    if v > hi:
        return f"must be ≤ {hi} (allowed range [{lo}, {hi}])"
    return None


def _int(cfg: RunConfig, name: str) -> None:
    problem = _int_problem(getattr(cfg, name), *INT_RANGES[name])
    if problem:
        _fail(name, getattr(cfg, name), problem)


def _positive_float(cfg: RunConfig, name: str, allow_zero: bool = False) -> None:
    v = getattr(cfg, name)
    ok = (
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and math.isfinite(v)
        and (v >= 0 if allow_zero else v > 0)
    )
    if not ok:
        _fail(name, v, "must be a finite number " + ("≥ 0" if allow_zero else "> 0"))


def _below(cfg: RunConfig, name: str, hi: float, note: str) -> None:
    """A number in [0, hi); `note` is appended to the error after the range."""
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < hi):
        _fail(name, v, f"must be a number in [0, {hi}){note}")


def _choice(cfg: RunConfig, name: str, allowed: tuple[str, ...]) -> None:
    v = getattr(cfg, name)
    if v not in allowed:
        _fail(name, v, f"must be one of {list(allowed)}")


def _validate(cfg: RunConfig) -> None:
    for name in INT_RANGES:
        _int(cfg, name)
    _positive_float(cfg, "eta")
    _positive_float(cfg, "theta")
    _positive_float(cfg, "weight_decay", allow_zero=True)
    _positive_float(cfg, "lr_ratio")
    _below(cfg, "stop_error", 1, " (0 = run the whole horizon)")
    _below(cfg, "stop_phases", 1, ": the test error ε of T_ε (0 = run the whole horizon)")
    _below(cfg, "label_noise", MAX_LABEL_NOISE, "")
    for name in ("data", "regime"):
        if not is_name(getattr(cfg, name)):
            _fail(name, getattr(cfg, name), "must be a non-empty identifier-like string ([A-Za-z_][A-Za-z0-9_.-]*)")
    _choice(cfg, "init", INITS)
    _choice(cfg, "dtype", DTYPES)
    _choice(cfg, "device", DEVICES)
    lc = cfg.label_coords
    if (
        not isinstance(lc, tuple)
        or len(lc) not in (2, 3)
        or not all(isinstance(c, int) and not isinstance(c, bool) for c in lc)
    ):
        _fail("label_coords", lc, "must be a tuple of 2 or 3 distinct integer coordinates in [0, d-1]")
    if len(set(lc)) != len(lc) or not all(0 <= c < cfg.d for c in lc):
        _fail("label_coords", lc, f"must be 2 or 3 distinct coordinates in [0, {cfg.d - 1}] (d = {cfg.d})")
    v = cfg.variants
    if not isinstance(v, tuple) or not v or len(set(v)) != len(v) or not all(x in VARIANTS for x in v):
        _fail("variants", v, f"must be a non-empty tuple of distinct names from {list(VARIANTS)}")
    f = cfg.finder_fraction
    if not (isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1):
        _fail("finder_fraction", f, "must be a number in (0, 1]")
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            _fail("device", cfg.device, "CUDA was asked for but torch sees no CUDA device; use 'cpu' or 'auto'")


# ---------------------------------------------------------------------------
# The paper's hyper-parameters (docs/SPEC.md §1)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperHyper:
    """The paper regime's hyper-parameters for one d (Theorem 3.1)."""

    d: int
    C: float
    kappa: float
    psi: float
    p: int
    m: int
    eta: float
    theta: float
    steps: int


def paper_hyper(d: int, C: float = 2.0, kappa: float = 12.0, p: int | None = None) -> PaperHyper:
    problem = _int_problem(d, *INT_RANGES["d"])
    if problem:
        raise ValueError(f"d = {d!r} is not allowed: {problem}")
    if not (isinstance(C, (int, float)) and math.isfinite(C) and C > 0):
        raise ValueError(f"C = {C!r} is not allowed: must be a finite number > 0")
    if not (isinstance(kappa, (int, float)) and math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa = {kappa!r} is not allowed: must be a finite number > 0")
    if p is not None and (isinstance(p, bool) or not isinstance(p, int) or p < 1):
        raise ValueError(f"p = {p!r} is not allowed: must be an integer ≥ 1")
    _check_growth(d, C, kappa, derive_p=p is None)
    psi = math.log(d) ** (-C)
    p = math.ceil(1 / psi) if p is None else p
    m = math.ceil(d / psi)
    eta = psi
    return PaperHyper(
        d, float(C), float(kappa), psi, p, m, eta, psi / math.sqrt(p), math.ceil(kappa * math.log(d) / eta)
    )


def _check_growth(d: int, C: float, kappa: float, derive_p: bool) -> None:
    """Refuse d, C, kappa whose p = ⌈1/ψ⌉, m = ⌈d/ψ⌉ or T = ⌈κ log(d)/ψ⌉ (ψ = log(d)^-C) exceed RunConfig's ranges.

    Computed in log space, log(1/ψ) = C·log(log d), so that no C overflows; the message gives the
    largest C allowed at this d (or, when no C > 0 fits, the bound on d or kappa).
    """
    log_d = math.log(d)
    log_l = math.log(log_d)  # > 0 for d ≥ 3
    limits = [
        ("m", "⌈d·log(d)^C⌉", MAX_M, log_d),
        ("steps", "⌈kappa·log(d)^(1+C)⌉", MAX_STEPS, math.log(kappa * log_d)),
    ]
    if derive_p:
        limits.insert(0, ("p", "⌈log(d)^C⌉", MAX_P, 0.0))
    for name, formula, top, base in limits:
        room = math.log(top) - base  # the largest log(1/ψ) that keeps this quantity ≤ top
        if C * log_l <= room:
            continue
        given = f"d = {d}, C = {C!r}" + (f", kappa = {kappa!r}" if name == "steps" else "")
        if room > 0:
            c_max = math.floor(room / log_l * 1000) / 1000
            fix = f"at this d{' and kappa' if name == 'steps' else ''}, C must be in (0, {c_max}]"
            if name == "steps":
                fix += f", or at this C, kappa in (0, {MAX_STEPS / math.exp((1 + C) * log_l):.4g}]"
        elif name == "m":
            fix = f"no C > 0 fits: d must be in [3, {MAX_M})"
        else:
            fix = f"no C > 0 fits: kappa must be in (0, {MAX_STEPS / log_d:.4g})"
        raise ValueError(
            f"{given} are not allowed together: the regime's {name} = {formula} ≈ "
            f"10^{(base + C * log_l) / math.log(10):.1f} must be ≤ {top}; {fix}"
        )
