"""Bad input is rejected up front, with a message that names the field, the value and what is allowed.

`RunConfig` validates on construction; the regime constructors validate d (and their own
knobs) before computing ψ = log(d)^-C; `simulator.run` validates explicit init and batches.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import RunConfig
from simulator.config import MAX_SEEDS, VARIANTS

VALID: dict[str, Any] = dict(d=10, p=4, m=8, eta=0.1, theta=0.2, steps=3, device="cpu", test_size=16)
FIELDS = {f.name for f in fields(RunConfig)}
NAN, INF = float("nan"), float("inf")


def make(**changes: Any) -> RunConfig:
    return RunConfig(**{**VALID, **changes})


def assert_rejected(field: str, value: Any, allowed: str, **extra: Any) -> None:
    """RunConfig(field=value) raises ValueError naming the field, the value and the allowed range."""
    with pytest.raises(ValueError) as info:
        make(**{field: value}, **extra)
    msg = str(info.value)
    assert f"RunConfig.{field}" in msg, msg
    assert repr(value) in msg, msg
    assert allowed in msg, msg


def test_valid_config_is_accepted() -> None:
    """The base of every case below is itself valid (so each case tests exactly one bad field)."""
    cfg = make()
    assert cfg.d == 10 and cfg.samples == 8 * 3


# (field, bad value, a fragment of the allowed range the message must give)
BAD_VALUES = [
    ("d", 2, "≥ 3"),
    ("d", 0, "≥ 3"),
    ("d", -7, "≥ 3"),
    ("d", 10.0, "integer"),
    ("d", True, "integer"),
    ("d", "10", "integer"),
    ("p", 0, "≥ 1"),
    ("p", -1, "≥ 1"),
    ("p", 2.5, "integer"),
    ("m", 0, "≥ 1"),
    ("m", -3, "≥ 1"),
    ("steps", 0, "≥ 1"),
    ("steps", -1, "≥ 1"),
    ("eta", 0.0, "> 0"),
    ("eta", -0.1, "> 0"),
    ("eta", NAN, "finite"),
    ("eta", INF, "finite"),
    ("eta", -INF, "finite"),
    ("eta", "0.1", "number"),
    ("eta", True, "number"),
    ("theta", 0.0, "> 0"),
    ("theta", -1.0, "> 0"),
    ("theta", NAN, "finite"),
    ("theta", INF, "finite"),
    ("label_coords", (0, 0), "distinct"),
    ("label_coords", (1, 2, 1), "distinct"),
    ("label_coords", (0, 10), "[0, 9]"),
    ("label_coords", (-1, 3), "[0, 9]"),
    ("label_coords", (0, 1, 99), "[0, 9]"),
    ("label_coords", (0,), "2 or 3"),
    ("label_coords", (0, 1, 2, 3), "2 or 3"),
    ("label_coords", (0, 1.0), "integer"),
    ("label_coords", [0, 1], "tuple"),
    ("data", "", "identifier-like"),
    ("data", "two words", "identifier-like"),
    ("data", 3, "identifier-like"),
    ("init", "xavier", "'sphere'"),
    ("init", "normal", "'gaussian'"),
    ("init", "Gaussian", "['sphere', 'sparse_finders', 'gaussian']"),
    ("weight_decay", -1e-3, "finite number ≥ 0"),
    ("weight_decay", -INF, "finite number ≥ 0"),
    ("weight_decay", INF, "finite number ≥ 0"),
    ("weight_decay", NAN, "finite number ≥ 0"),
    ("weight_decay", "0.1", "finite number ≥ 0"),
    ("weight_decay", True, "finite number ≥ 0"),
    ("weight_decay", None, "finite number ≥ 0"),
    ("lr_ratio", 0.0, "finite number > 0"),
    ("lr_ratio", -2.0, "finite number > 0"),
    ("lr_ratio", INF, "finite number > 0"),
    ("lr_ratio", NAN, "finite number > 0"),
    ("lr_ratio", "2", "finite number > 0"),
    ("lr_ratio", False, "finite number > 0"),
    ("variants", ("squared", "huber"), "exponential_linear_frozen_a"),
    ("dtype", "float16", "['float32', 'float64']"),
    ("device", "tpu", "'cpu'"),
    ("variants", ("logistic", "bogus"), "logistic"),
    ("variants", (), "non-empty"),
    ("variants", ("linear", "linear"), "distinct"),
    ("variants", "logistic", "tuple"),
    ("seeds", 0, f"[1, {MAX_SEEDS}]"),
    ("seeds", MAX_SEEDS + 1, f"[1, {MAX_SEEDS}]"),
    ("seeds", -2, f"[1, {MAX_SEEDS}]"),
    ("seed", -1, "[0, "),
    ("seed", 2**63, "[0, "),
    ("test_size", 0, "≥ 1"),
    ("snapshots", 1, "≥ 2"),
    ("chunk_rows", -1, "≥ 0"),
    ("finder_fraction", 0.0, "(0, 1]"),
    ("finder_fraction", 1.5, "(0, 1]"),
    ("finder_fraction", NAN, "(0, 1]"),
    ("regime", "", "identifier-like"),
    ("regime", "9lives", "identifier-like"),
    ("regime", None, "identifier-like"),
    ("label_noise", 0.5, "[0, 0.5)"),
    ("label_noise", -0.01, "[0, 0.5)"),
    ("label_noise", NAN, "[0, 0.5)"),
    ("label_noise", True, "[0, 0.5)"),
    ("label_noise", "0.1", "[0, 0.5)"),
    ("label_noise", INF, "[0, 0.5)"),
]
if "stop_error" in FIELDS:
    BAD_VALUES += [("stop_error", -0.1, "[0, 1)"), ("stop_error", 1.0, "[0, 1)"), ("stop_error", NAN, "[0, 1)")]
if "data_offset" in FIELDS:
    BAD_VALUES += [("data_offset", -1, "[0, ")]


@pytest.mark.parametrize("field,value,allowed", BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES])
def test_bad_value_is_rejected_with_a_clear_message(field: str, value: Any, allowed: str) -> None:
    """Each invalid value raises ValueError whose message names the field, the value and the allowed range."""
    assert field in FIELDS
    assert_rejected(field, value, allowed)


def test_label_coords_range_follows_d() -> None:
    """The label coordinates' range is [0, d-1] of the config's own d (valid at d = 12, not at d = 10)."""
    assert make(d=12, label_coords=(10, 11)).pair == (10, 11)
    assert_rejected("label_coords", (10, 11), "[0, 9]")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: device='cuda' is then valid")
def test_cuda_requested_without_cuda() -> None:
    """device='cuda' without a CUDA device fails at construction, saying what to use instead."""
    assert_rejected("device", "cuda", "'cpu'")


def test_unknown_field_in_from_dict() -> None:
    """A stored config with a field this version does not know is rejected by name."""
    d = make().to_dict()
    d["batch"] = 3
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['batch'\]"):
        RunConfig.from_dict(d)


def test_boundary_values_are_accepted() -> None:
    """The edges of every allowed range are valid (the rules are not stricter than they say)."""
    make(
        d=3,
        p=1,
        m=1,
        steps=1,
        seeds=MAX_SEEDS,
        seed=0,
        snapshots=2,
        chunk_rows=0,
        finder_fraction=1.0,
        label_coords=(2, 0, 1),
        test_size=1,
    )
    make(eta=1e-300, theta=1e300, variants=tuple(VARIANTS), weight_decay=0.0, lr_ratio=1e-300, init="gaussian")
    make(weight_decay=1e300, lr_ratio=1e300)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.one_of(st.floats(max_value=-1e-300), st.sampled_from([NAN, INF, -INF])))
def test_any_negative_or_non_finite_weight_decay_is_rejected(lam: float) -> None:
    """λ < 0, NaN and ±inf are rejected; λ = 0 (and -0.0) is the run without weight decay."""
    with pytest.raises(ValueError, match=r"RunConfig\.weight_decay = .* finite number ≥ 0"):
        make(weight_decay=lam)
    assert make(weight_decay=-0.0).weight_decay == 0


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.one_of(st.floats(max_value=0.0), st.sampled_from([NAN, INF])))
def test_any_non_positive_or_non_finite_lr_ratio_is_rejected(r: float) -> None:
    """r ≤ 0, NaN and inf are rejected (r = 0 would freeze the second layer: that is a frozen_a variant)."""
    with pytest.raises(ValueError, match=r"RunConfig\.lr_ratio = .* finite number > 0"):
        make(lr_ratio=r)


def test_knobs_are_in_the_stored_config() -> None:
    """weight_decay, lr_ratio, init and the variants (hence the loss) are fields of the stored config."""
    cfg = make(weight_decay=1e-3, lr_ratio=0.5, init="gaussian", variants=("squared", "squared_linear"))
    stored = cfg.to_dict()
    assert stored["weight_decay"] == 1e-3 and stored["lr_ratio"] == 0.5 and stored["init"] == "gaussian"
    assert stored["variants"] == ["squared", "squared_linear"]
    assert RunConfig.from_dict(stored) == cfg
    defaults = make().to_dict()
    assert defaults["weight_decay"] == 0.0 and defaults["lr_ratio"] == 1.0


# ----------------------------------------------------------------------------- hypothesis


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(max_value=2))
def test_any_d_below_3_is_rejected(d: int) -> None:
    """Every integer d ≤ 2 is rejected, however negative."""
    assert_rejected("d", d, "≥ 3")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.one_of(st.floats(max_value=0.0), st.sampled_from([NAN, INF, -INF])))
def test_any_non_positive_or_non_finite_eta_is_rejected(eta: float) -> None:
    """η ≤ 0 (including -0.0 and tiny negatives), NaN and ±inf are all rejected."""
    with pytest.raises(ValueError, match=r"RunConfig\.eta = .* finite number > 0"):
        make(eta=eta)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.one_of(st.floats(max_value=0.0), st.sampled_from([NAN, INF])))
def test_any_non_positive_or_non_finite_theta_is_rejected(theta: float) -> None:
    """θ ≤ 0, NaN and inf are all rejected."""
    with pytest.raises(ValueError, match=r"RunConfig\.theta = .* finite number > 0"):
        make(theta=theta)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SEEDS + 1)))
def test_any_seed_count_out_of_range_is_rejected(seeds: int) -> None:
    """seeds outside [1, MAX_SEEDS] is rejected, with the range in the message."""
    assert_rejected("seeds", seeds, f"[1, {MAX_SEEDS}]")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(d=st.integers(3, 12), coords=st.lists(st.integers(-3, 15), min_size=2, max_size=3))
def test_label_coords_accepted_iff_distinct_and_in_range(d: int, coords: list[int]) -> None:
    """label_coords is valid exactly when its 2 or 3 entries are distinct and in [0, d-1]."""
    lc = tuple(coords)
    ok = len(set(lc)) == len(lc) and all(0 <= c < d for c in lc)
    if ok:
        assert make(d=d, label_coords=lc).label_coords == lc
    else:
        with pytest.raises(ValueError, match=r"RunConfig\.label_coords"):
            make(d=d, label_coords=lc)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    d=st.integers(3, 10**6),
    p=st.integers(1, 10**4),
    m=st.integers(1, 10**6),
    eta=st.floats(1e-6, 1e3),
    theta=st.floats(1e-6, 1e3),
    steps=st.integers(1, 10**6),
)
def test_valid_values_are_accepted_and_round_trip(d: int, p: int, m: int, eta: float, theta: float, steps: int) -> None:
    """Any in-range values build a config, and its dict form rebuilds an equal config."""
    cfg = make(d=d, p=p, m=m, eta=eta, theta=theta, steps=steps)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


# ----------------------------------------------------------------------------- regimes

REGIMES = ("paper", "small_batch", "gaussian", "first_layer_only", "large_init", "parity3", "sparse_finders")


def test_builtin_regimes_are_registered_first_in_spec_order() -> None:
    """The seven regimes of docs/SPEC.md §4 are registered, first and in that order, each as its constructor."""
    regs = simulator.registered_regimes()
    assert tuple(regs)[: len(REGIMES)] == REGIMES
    for name in REGIMES:
        assert regs[name].build is getattr(simulator, name) and regs[name].origin == f"simulator.regimes.{name}"
    assert regs["small_batch"].batch_twin == "paper"
    assert all(regs[n].batch_twin is None for n in REGIMES if n != "small_batch")


@pytest.mark.parametrize("name", REGIMES)
@pytest.mark.parametrize("d", [2, 1, 0, -4, 8.0, True, "16"])
def test_regime_constructors_reject_bad_d(name: str, d: Any) -> None:
    """paper(d), small_batch(d), … reject d that is not an integer ≥ 3, naming d and its value."""
    with pytest.raises(ValueError) as info:
        getattr(simulator, name)(d)
    msg = str(info.value)
    assert re.search(r"\bd\b", msg) and repr(d) in msg and "≥ 3" in msg, msg


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(max_value=2), st.sampled_from(REGIMES))
def test_regime_by_name_rejects_any_d_below_3(d: int, name: str) -> None:
    """simulator.build_regime(name, d) validates d before computing log(d) (no ZeroDivisionError at d = 1)."""
    with pytest.raises(ValueError, match=rf"d = {d} is not allowed"):
        simulator.build_regime(name, d)


@pytest.mark.parametrize("name", REGIMES)
def test_regime_constructors_pass_the_knobs_through(name: str) -> None:
    """Every built-in regime takes the new knobs as overrides (paper(d, weight_decay=1e-3), …), by function and
    by name, and still rejects a bad one by field."""
    knobs = dict(weight_decay=1e-3, lr_ratio=2.0, init="gaussian", variants=("exponential",))
    cfg = getattr(simulator, name)(16, **knobs)
    assert (cfg.weight_decay, cfg.lr_ratio, cfg.init, cfg.variants) == tuple(knobs.values())
    assert simulator.build_regime(name, 16, **knobs) == cfg
    with pytest.raises(ValueError, match=r"RunConfig\.weight_decay = -1"):
        simulator.build_regime(name, 16, weight_decay=-1)


@pytest.mark.parametrize("name", REGIMES)
def test_regime_constructors_accept_small_valid_d(name: str) -> None:
    """Every regime builds a valid config at the smallest d, recording its regime name."""
    cfg = getattr(simulator, name)(3, device="cpu")
    assert cfg.regime == name and cfg.d == 3
    assert simulator.build_regime(name, 3, device="cpu") == cfg  # the stamp changes nothing of a built-in's config


def test_unknown_regime_name() -> None:
    """An unknown regime name is rejected with the list of registered ones and how to register one."""
    with pytest.raises(
        ValueError,
        match=r"regime 'papr' is not registered; registered: paper, small_batch, .*"
        r"@simulator\.regime",
    ):
        simulator.build_regime("papr", 16)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(C=0.0), "C"),
        (dict(C=NAN), "C"),
        (dict(C=-1.0), "C"),
        (dict(kappa=0.0), "kappa"),
        (dict(kappa=INF), "kappa"),
        (dict(p=0), "p"),
        (dict(p=1.5), "p"),
    ],
)
def test_paper_regime_rejects_bad_knobs(kwargs: dict[str, Any], name: str) -> None:
    """The regime's own knobs (C, κ, p) are validated too, by name and value."""
    with pytest.raises(ValueError) as info:
        simulator.paper(16, **kwargs)
    msg = str(info.value)
    assert msg.startswith(f"{name} = ") and repr(kwargs[name]) in msg, msg


@pytest.mark.parametrize("m", [0, -1, 2.0])
def test_small_batch_rejects_bad_m(m: Any) -> None:
    """small_batch's own batch size is validated by name and value."""
    with pytest.raises(ValueError, match=rf"m = {re.escape(repr(m))} is not allowed: must be an integer ≥ 1"):
        simulator.small_batch(16, m=m)


def test_paper_regime_values() -> None:
    """The paper regime's hyper-parameters follow docs/SPEC.md §1 at d = 64."""
    cfg = simulator.paper(64)
    psi = math.log(64) ** -2
    assert cfg.p == math.ceil(1 / psi) and cfg.m == math.ceil(64 / psi)
    assert cfg.eta == pytest.approx(psi) and cfg.theta == pytest.approx(psi / math.sqrt(cfg.p))
    assert cfg.steps == math.ceil(12 * math.log(64) / psi)


# ----------------------------------------------------------------------------- run() inputs


def test_run_rejects_wrong_init_shape() -> None:
    """An explicit init of the wrong shape is rejected before any step, with the expected shape."""
    cfg = make()
    with pytest.raises(ValueError, match=r"init: W has shape .*expected W \(p, d\) = \(4, 10\)"):
        simulator.run(cfg, init=(np.zeros((4, 9)), np.ones(4)))


def test_run_rejects_wrong_batch_shape() -> None:
    """An explicit batch of the wrong shape is rejected, naming the step and the expected shape."""
    cfg = make()
    with pytest.raises(ValueError, match=r"batches\[0\]: X has shape .*expected X \(m, d\) = \(8, 10\)"):
        simulator.run(cfg, batches=[(np.ones((7, 10)), np.ones(7))] * 3)


def test_run_rejects_too_few_batches() -> None:
    """Fewer explicit batches than steps is an error at the step that has none (not a short run)."""
    cfg = make()
    with pytest.raises(ValueError, match=r"batches ran out at step 2; the config asks for steps = 3"):
        simulator.run(cfg, batches=[(np.ones((8, 10)), np.ones(8))] * 2)
