"""Registered regimes and data laws (docs/SPEC.md §5): the decorators, the entry points, and a user data law end to end.

The user law of this module, `correlated_xor`, is the researcher's pattern: defined and
registered here, with the decorator, from the public helpers of simulator.data. Each test
that registers something else works on a copy of the registry (`fresh` fixtures), so the
registries the rest of the suite sees are untouched.
"""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import simulator
from simulator import RunConfig, Trajectory, data, laws, regimes
from simulator.cache import TrajectoryCache, law_code
from simulator.registry import Registry

F64 = torch.float64
CPU = torch.device("cpu")
COPY_PROB = 0.9


@simulator.data_law("correlated_xor")
def correlated_xor(
    keys: torch.Tensor, row0: int, rows: int, d: int, label_coords: tuple[int, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ Unif{±1}^d except that coordinate 2 copies coordinate 0 with probability 0.9; y = -x_0 x_1."""
    x = data.boolean_rows(keys, row0, rows, d, dtype).clone()
    u = (data.words(data.subkeys(keys, 7), row0, rows, 1)[:, :, 0] >> 11) & ((1 << 53) - 1)
    copy = u < round(COPY_PROB * 2.0**53)
    x[:, :, 2] = torch.where(copy, x[:, :, 0], x[:, :, 2])
    return x, data.labels(x, label_coords, "boolean")


def user_config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = dict(
        d=10,
        p=6,
        m=50,
        eta=0.6,
        theta=0.8,
        steps=6,
        dtype="float64",
        device="cpu",
        test_size=300,
        snapshots=3,
        data="correlated_xor",
    )
    base.update(overrides)
    return RunConfig(**base)


def rel_err(x: Any, ref: Any) -> float:
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert x.shape == ref.shape
    scale = float(np.abs(ref).max())
    return float(np.abs(x - ref).max()) / scale if scale > 0 else float(np.abs(x - ref).max())


def fresh(mp: pytest.MonkeyPatch, reg: Registry) -> Registry:
    """Let the test change a copy of reg's contents (restored by monkeypatch), entry points not yet loaded."""
    mp.setattr(reg, "_records", dict(reg._records))
    mp.setattr(reg, "_origins", dict(reg._origins))
    mp.setattr(reg, "_entry_points_loaded", False)
    return reg


@pytest.fixture
def regs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    yield fresh(monkeypatch, regimes._REGISTRY)


@pytest.fixture
def law_regs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    yield fresh(monkeypatch, laws._REGISTRY)


def fake_entry_points(mp: pytest.MonkeyPatch, group: str, *eps: tuple[str, str]) -> None:
    """importlib.metadata.entry_points(group=group) returns these (name, value) entry points."""
    real = importlib.metadata.entry_points
    made = [importlib.metadata.EntryPoint(name=n, value=v, group=group) for n, v in eps]
    mp.setattr(importlib.metadata, "entry_points", lambda **kw: made if kw.get("group") == group else real(**kw))


# ----------------------------------------------------------------------------------- regimes


def test_user_regime_is_built_and_stamped(regs: Registry) -> None:
    """A regime built on paper(...) is identified as the user's: its name, and its own keyword arguments
    merged with what paper recorded; RunConfig fields given stay in the config only."""

    @simulator.regime("noisy_paper", description="paper with label noise")
    def noisy_paper(d: int, rho: float = 0.1, **kw: Any) -> RunConfig:
        return simulator.paper(d, label_noise=rho, **kw)

    cfg = simulator.build_regime("noisy_paper", 16, rho=0.2, seeds=3, C=2.5)
    assert cfg.regime == "noisy_paper" and cfg.label_noise == 0.2 and cfg.seeds == 3
    assert dict(cfg.regime_params) == {"rho": 0.2, "C": 2.5, "kappa": 12.0}
    reg = simulator.registered_regimes()["noisy_paper"]
    assert reg.description == "paper with label noise" and reg.batch_twin is None
    assert reg.origin.endswith("test_user_regime_is_built_and_stamped.<locals>.noisy_paper")
    assert list(simulator.registered_regimes())[-1] == "noisy_paper"  # after the built-ins
    assert noisy_paper(16).regime == "paper"  # the decorator returns the function unchanged


def test_user_regime_config_loads_where_it_was_never_registered(regs: Registry, tmp_path: Path) -> None:
    """A trajectory of a user regime reads back in a process that does not know the regime."""
    simulator.regime("scratch")(lambda d, **kw: RunConfig(d=d, p=3, m=8, eta=0.1, theta=0.1, steps=2, **kw))
    cfg = simulator.build_regime("scratch", 6, device="cpu", test_size=32, snapshots=2)
    traj = simulator.run(cfg)
    traj.save(tmp_path / "t.npz")
    del regs._records["scratch"]
    assert "scratch" not in simulator.registered_regimes()
    back = Trajectory.load(tmp_path / "t.npz")
    assert back.config == cfg and back.config.regime == "scratch"


def test_same_function_twice_is_one_entry(regs: Registry) -> None:
    def mine(d: int, **kw: Any) -> RunConfig:
        return simulator.paper(d, **kw)

    simulator.regime("mine")(mine)
    simulator.regime("mine")(mine)
    assert list(simulator.registered_regimes()).count("mine") == 1


def test_reloaded_function_replaces_its_old_copy(regs: Registry) -> None:
    """A function of the same module and qualified name (a reloaded module, a re-run notebook cell) replaces
    the old copy in place; two different lambdas do not."""

    def make() -> Any:
        def again(d: int, **kw: Any) -> RunConfig:
            return simulator.paper(d, **kw)

        return again

    first, second = make(), make()
    simulator.regime("again")(first)
    simulator.regime("again")(second)
    assert simulator.registered_regimes()["again"].build is second
    simulator.regime("lam")(lambda d, **kw: simulator.paper(d, **kw))
    with pytest.raises(simulator.RegimeError, match="regime 'lam' is already registered"):
        simulator.regime("lam")(lambda d, **kw: simulator.large_init(d, **kw))


def test_taken_name_names_both_origins(regs: Registry) -> None:
    with pytest.raises(
        simulator.RegimeError,
        match=r"regime 'paper' is already registered from "
        r"simulator\.regimes\.paper; cannot register .*\.other",
    ):

        @simulator.regime("paper")
        def other(d: int, **kw: Any) -> RunConfig:
            return simulator.paper(d, **kw)


@pytest.mark.parametrize("name", ["", "9x", "two words", "a/b", None, 3, "custom"])
def test_bad_regime_names(regs: Registry, name: Any) -> None:
    with pytest.raises(ValueError, match=rf"regime name = {__import__('re').escape(repr(name))} is not allowed"):
        simulator.regime(name)(lambda d, **kw: simulator.paper(d, **kw))


def test_regime_errors_name_the_regime_and_the_cause(regs: Registry) -> None:
    simulator.regime("boom")(lambda d, **kw: 1 / 0)
    simulator.regime("wrong_type")(lambda d, **kw: {"d": d})
    with pytest.raises(
        simulator.RegimeError,
        match=r"^regime 'boom' at d=64 with \{'x': 1\} raised ZeroDivisionError: division by zero$",
    ):
        simulator.build_regime("boom", 64, x=1)
    with pytest.raises(
        simulator.RegimeError, match=r"regime 'wrong_type' \(.*\) returned builtins\.dict, not a RunConfig"
    ):
        simulator.build_regime("wrong_type", 64)
    simulator.regime("takes_note")(lambda d, note=None, **kw: simulator.paper(d, **kw))
    with pytest.raises(
        simulator.RegimeError,
        match=r"regime 'takes_note': parameter note = \{1, 2\} cannot be "
        r"recorded in regime_params: must be a JSON scalar",
    ):
        simulator.build_regime("takes_note", 16, note={1, 2})
    with pytest.raises(simulator.RegimeError, match=r"parameter note = \[1\] cannot be recorded"):
        simulator.build_regime("takes_note", 16, note=[1])  # a list would make the config unhashable
    cfg = simulator.build_regime("takes_note", 16, note="v2")
    assert dict(cfg.regime_params)["note"] == "v2" and hash(cfg) == hash(RunConfig.from_dict(cfg.to_dict()))
    with pytest.raises(
        ValueError,
        match=r"regime 'nope' is not registered; registered: paper, .*boom, wrong_type, "
        r"takes_note\. "
        r"Register one with the @simulator\.regime.*xorcert\.regimes",
    ):
        simulator.build_regime("nope", 64)


def test_entry_points_register_functions_and_modules(
    regs: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry point naming a function registers it under the entry point's name; one naming a module
    registers what the module's import registers; both after the built-ins, loaded once."""
    (tmp_path / "xc_plugin_fn.py").write_text(
        textwrap.dedent('''
        import simulator
        def plug(d, **kw):
            """A plugged-in regime."""
            return simulator.paper(d, p=4, **kw)
    ''')
    )
    (tmp_path / "xc_plugin_mod.py").write_text(
        textwrap.dedent("""
        import simulator
        @simulator.regime("from_module", batch_twin="paper")
        def from_module(d, **kw):
            return simulator.paper(d, **kw)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("xc_plugin_fn", "xc_plugin_mod"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    fake_entry_points(monkeypatch, "xorcert.regimes", ("plugged", "xc_plugin_fn:plug"), ("mod", "xc_plugin_mod"))
    names = list(simulator.registered_regimes())
    assert names[:7] == [
        "paper",
        "small_batch",
        "gaussian",
        "first_layer_only",
        "large_init",
        "parity3",
        "sparse_finders",
    ]
    assert names[-2:] == ["plugged", "from_module"]
    reg = simulator.registered_regimes()["plugged"]
    assert reg.origin == "entry point plugged = xc_plugin_fn:plug (group xorcert.regimes)"
    assert reg.description == "A plugged-in regime."
    assert simulator.registered_regimes()["from_module"].batch_twin == "paper"
    cfg = simulator.build_regime("plugged", 16)
    assert cfg.regime == "plugged" and cfg.p == 4


def test_failing_entry_point_names_itself_and_the_error(regs: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, "xorcert.regimes", ("broken", "xc_no_such_module_anywhere:fn"))
    with pytest.raises(
        simulator.RegimeError,
        match=r"entry point broken = xc_no_such_module_anywhere:fn "
        r"\(group xorcert\.regimes\) failed to import: "
        r"ModuleNotFoundError: No module named",
    ):
        simulator.registered_regimes()
    with pytest.raises(simulator.RegimeError, match="entry point broken"):  # raised again, not swallowed
        simulator.build_regime("paper", 16)


# ----------------------------------------------------------------------------------- data laws


def test_builtin_laws_are_registered_first() -> None:
    got = simulator.registered_laws()
    assert list(got)[:2] == ["boolean", "gaussian"]
    assert got["boolean"].sample is data.boolean_sample and got["gaussian"].sample is data.gaussian_sample
    assert got["correlated_xor"].origin == f"{__name__}.correlated_xor"


def test_failing_law_entry_point(law_regs: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, "xorcert.data_laws", ("bad_law", "xc_missing_law_module:law"))
    with pytest.raises(
        simulator.DataLawError,
        match=r"entry point bad_law = xc_missing_law_module:law "
        r"\(group xorcert\.data_laws\) failed to import",
    ):
        simulator.registered_laws()


def test_law_with_wrong_shapes_is_refused(law_regs: Registry) -> None:
    simulator.data_law("flat")(lambda keys, row0, rows, d, lc, dtype: (torch.zeros(rows, d), torch.zeros(rows)))
    with pytest.raises(
        simulator.DataLawError,
        match=r"data law 'flat' .* returned X, y of shapes \(5, 10\), \(5,\); "
        r"expected tensors \(1, 5, 10\) and \(1, 5\)",
    ):  # the test set, first
        simulator.run(user_config(data="flat", seeds=2, m=5, test_size=5))


def test_user_law_rows_are_chunk_and_seed_invariant() -> None:
    """The determinism contract holds for the user law: rows by chunks = whole, stacked keys = single keys."""
    k = data.step_keys(data.seed_keys([3, 4, 5], data.STREAM_BATCH, CPU), 2)
    whole = correlated_xor(k, 0, 41, 12, (0, 1), F64)
    parts = [correlated_xor(k, r0, c, 12, (0, 1), F64) for r0, c in ((0, 5), (5, 1), (6, 35))]
    for i in (0, 1):
        assert torch.equal(torch.cat([p[i] for p in parts], dim=1), whole[i])
    for r in range(3):
        single = correlated_xor(k[r : r + 1], 0, 41, 12, (0, 1), F64)
        assert torch.equal(single[0][0], whole[0][r]) and torch.equal(single[1][0], whole[1][r])


def test_user_law_reaches_the_engine_batches() -> None:
    """The engine's minibatches are the user law's: replayed through data.batch they have coordinate 2 equal
    to coordinate 0 about 95% of the time (0.9 + 0.1/2), and the engine's recorded batch loss and error are theirs."""
    cfg = user_config(m=400, steps=3)
    traj = simulator.run(cfg)
    agree = []
    for t in range(cfg.steps):
        x, y = data.batch("correlated_xor", cfg.seed, t, cfg.m, cfg.d, cfg.label_coords, F64)
        agree.append(float((x[:, 2] == x[:, 0]).to(F64).mean()))
        if t == 0:  # the state before step 0 is snapshot 0
            W = torch.from_numpy(traj.arrays["snap_W"][0, 0, 0])
            a = torch.from_numpy(traj.arrays["snap_a"][0, 0, 0])
            f = torch.relu(x @ W.T) @ a / cfg.p
            assert traj.arrays["batch_err"][0, 0, 0] == pytest.approx(float(((y * f) <= 0).to(F64).mean()), abs=1e-15)
            loss = float((2 * torch.nn.functional.softplus(-y * f)).mean())
            assert traj.arrays["batch_loss"][0, 0, 0] == pytest.approx(loss, rel=1e-12)
    assert abs(np.mean(agree) - 0.95) < 5 * np.sqrt(0.95 * 0.05 / (cfg.m * cfg.steps))
    x_bool, _ = data.batch("boolean", cfg.seed, 0, cfg.m, cfg.d, cfg.label_coords, F64)
    x0, _ = data.batch("correlated_xor", cfg.seed, 0, cfg.m, cfg.d, cfg.label_coords, F64)
    assert torch.equal(x_bool[:, [0, 1, 3]], x0[:, [0, 1, 3]])  # built on the Boolean rows of the same keys
    assert not torch.equal(x_bool[:, 2], x0[:, 2])


def test_user_law_reaches_the_test_set() -> None:
    """The snapshots' test error is measured on the user law's test set (recomputed here from its rows)."""
    cfg = user_config()
    traj = simulator.run(cfg)
    x, y = data.test_rows("correlated_xor", cfg.test_seed, 0, cfg.test_size, cfg.d, cfg.label_coords, F64, CPU)
    assert float((x[:, 2] == x[:, 0]).to(F64).mean()) > 0.9
    for s in range(len(traj.arrays["snap_steps"])):
        W = torch.from_numpy(traj.arrays["snap_W"][s, 0, 0])
        a = torch.from_numpy(traj.arrays["snap_a"][s, 0, 0])
        f = torch.relu(x @ W.T) @ a / cfg.p
        assert traj.arrays["test_err_count"][s, 0, 0] == int(((y * f) <= 0).sum())


def test_user_law_run_is_chunk_and_seed_invariant() -> None:
    """A run of the user law: chunk_rows changes only the order of a sum; seed s of a batched run is the
    single run of seed s."""
    base = simulator.run(user_config(seed=5, seeds=2))
    for chunk in (7, 1):
        other = simulator.run(user_config(seed=5, seeds=2, chunk_rows=chunk))
        for k in ("snap_W", "snap_a", "batch_loss", "g_w_norm2", "test_err_count"):
            assert rel_err(other.arrays[k], base.arrays[k]) <= 1e-12, (chunk, k)
    for r, seed in enumerate((5, 6)):
        single = simulator.run(user_config(seed=seed, seeds=1))
        for k in ("snap_W", "snap_a", "batch_loss", "g_w_norm2", "test_err_count"):
            assert rel_err(single.arrays[k][:, 0], base.arrays[k][:, r]) <= 1e-12, (seed, k)


def test_user_law_keys_the_cache_by_its_code(tmp_path: Path) -> None:
    """The cache key of a user law's run includes its module's code; built-in laws are in the code version."""
    assert law_code("boolean") is None and law_code("gaussian") is None
    assert isinstance(law_code("correlated_xor"), str)
    cache = TrajectoryCache(tmp_path, version="1+x")
    assert cache.key(user_config()) != cache.key(user_config(data="boolean"))


def test_unregistered_law_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A config may name any law (it loads anywhere), but a run of an unregistered one is refused before the
    initialization is drawn, by the engine and by the memory check, listing the registered laws."""
    cfg = user_config(data="laplace")
    monkeypatch.setattr(data, "init_params", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(
        ValueError,
        match=r"data law 'laplace' is not registered; registered: boolean, gaussian, "
        r".*@simulator\.data_law",
    ):
        simulator.run(cfg)
    from simulator.memory import check_memory

    with pytest.raises(ValueError, match=r"data law 'laplace' is not registered"):
        check_memory(cfg)


def test_a_claim_gives_its_verdict_on_a_user_law(regs: Registry) -> None:
    """The user law through the whole plan: a regime on it, the certification's run, C6's verdict (the
    layer-balance identity is a property of the update, so it must hold whatever the inputs), and C9's
    (holds or fails: the network's error is defined for any law)."""
    from lemmas import certify
    from lemmas.plan import Example

    @simulator.regime("on_correlated_xor")
    def on_correlated_xor(d: int, **kw: Any) -> RunConfig:
        return simulator.paper(d, **{"data": "correlated_xor", **kw})

    seen: list[RunConfig] = []

    def get(cfg: RunConfig) -> Trajectory:
        seen.append(cfg)
        return simulator.run(cfg)

    ex = Example("on_correlated_xor", d=8, seeds=2)
    c6 = certify("C6", ex, cache=get)
    assert c6.status == "holds", c6.summary()
    assert seen and all(c.data == "correlated_xor" and c.regime == "on_correlated_xor" for c in seen)
    c9 = certify("C9", ex, cache=get)
    assert c9.status in ("holds", "fails"), c9.summary()


def test_a_user_regime_on_another_loss_gets_that_loss_s_twins(regs: Registry) -> None:
    """A regime that picks the squared loss and weight decay (`simulator.paper(d, variants=("squared",), …)`):
    the plan couples its main run with the squared loss's frozen twin (the bundle, C8) and proxy (C1), never
    with the logistic ones, and C6 certifies the restated identity on it."""
    from lemmas import certify
    from lemmas.plan import Example, bundle, proxy_run

    @simulator.regime("squared_decay")
    def squared_decay(d: int, **kw: Any) -> RunConfig:
        return simulator.paper(d, **{"variants": ("squared",), "weight_decay": 1e-2, **kw})

    ex = Example("squared_decay", d=8, seeds=2)
    assert bundle(ex).variants == ("squared", "squared_frozen_a")
    assert proxy_run(ex).variants == ("squared", "squared_linear")
    assert bundle(ex).weight_decay == proxy_run(ex).weight_decay == 1e-2
    seen: list[RunConfig] = []

    def get(cfg: RunConfig) -> Trajectory:
        seen.append(cfg)
        return simulator.run(cfg)

    c6 = certify("C6", ex, cache=get)
    assert {c.variants for c in seen} == {("squared", "squared_frozen_a")}  # every batch of seeds
    assert c6.stats["max_identity_residual"] <= c6.thresholds["identity_rtol"], c6.summary()
    assert c6.thresholds["weight_decay"] == 1e-2
