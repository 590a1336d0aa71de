"""pytest plugin of the certification (installed as the `pytest11` entry point `xorcert`).

Any repository that installs xorcert gets, without copying a conftest:

* the hypothesis profiles of lemmas/plan.py `PROFILES` (select with --hypothesis-profile NAME);
* the fixtures `xorcert_profile`, `trajectory_cache` and `trajectories` (get(cfg) -> Trajectory,
  computed once per content key across all workers, in $XORCERT_CACHE or .xorcert-cache under
  the rootdir);
* the parametrization of the certification test (one item per claim × registered regime) and of
  its trend test (one item per claim with a violation statistic × the profile's trend regimes);
* the options below, and the certificate, report and baseline gate of reports.plugin.

Options:

  --xorcert              also collect the certification from the installed package (where no
                         test module of the rootdir imports `lemmas.certification.test_claim`)
  --regimes A,B          certify only these registered regimes (a user regime's column then
                         stands beside `paper` in the report)
  --claims C1,C9         certify only these claims
  --strict-baseline      a verdict the baseline has no entry for fails the run (default: reported as new)
  --xorcert-cache DIR    the trajectory cache (default $XORCERT_CACHE, else .xorcert-cache under the rootdir)
  --require-cached       only read the cache: a run that would simulate fails its item, naming the missing keys
  --shard I/N            run the I-th of N shards of the items (1 ≤ I ≤ N), each writing its own
                         certificate; `python -m reports merge` joins them (the family N of the gate is
                         counted over all shards)
  --xorcert-plan PATH    plan instead of certify: read the cache only and write to PATH the runs the
                         certification asks for next and the cache lacks (`python -m lemmas plan` runs this)

Regimes registered in a conftest.py (`@simulator.regime("name")`) or through the
`xorcert.regimes` entry point group are certified like the built-in ones. Nothing here imports
torch until a certification test asks for a trajectory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from lemmas.hunt import profile_settings
from lemmas.plan import DEFAULT_PROFILE, PROFILES, Profile

pytest_plugins = ["reports.plugin"]  # certificate, HTML report and the baseline gate

for _p in PROFILES.values():
    settings.register_profile(_p.name, profile_settings(_p))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xorcert-certification", "xorcert certification: which claims and regimes")
    group.addoption(
        "--xorcert",
        dest="xorcert_collect",
        action="store_true",
        default=False,
        help="also collect the certification (every claim × regime) from the installed package",
    )
    group.addoption(
        "--regimes",
        dest="xorcert_regimes",
        default=None,
        metavar="A,B",
        help="certify only these registered regimes (python -m lemmas list shows them)",
    )
    group.addoption("--claims", dest="xorcert_claims", default=None, metavar="C1,C9", help="certify only these claims")
    group.addoption(
        "--xorcert-cache",
        dest="xorcert_cache",
        default=None,
        metavar="DIR",
        help="the trajectory cache (default: $XORCERT_CACHE, else .xorcert-cache under the rootdir)",
    )
    group.addoption(
        "--require-cached",
        dest="xorcert_require_cached",
        action="store_true",
        default=False,
        help="only read the trajectory cache: an item that would simulate fails, naming the missing keys "
        "(after `python -m simulator sweep`)",
    )
    group.addoption(
        "--shard",
        dest="xorcert_shard",
        default=None,
        metavar="I/N",
        help="run only the I-th of N shards of the collected items (merge the shards' certificates with "
        "`python -m reports merge`)",
    )
    group.addoption(
        "--xorcert-plan",
        dest="xorcert_plan",
        default=None,
        metavar="PATH",
        help="plan, don't certify: write the runs the certification asks for and the cache lacks to PATH "
        "(used by `python -m lemmas plan`)",
    )
    group.addoption(
        "--strict-baseline",
        dest="xorcert_strict_baseline",
        action="store_true",
        default=False,
        help="fail on a verdict the baseline does not know (default: report it as new)",
    )


def _names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def selected_regimes(config: pytest.Config) -> list[str]:
    from simulator import registered_regimes

    known = list(registered_regimes())
    return _names(config.getoption("xorcert_regimes", default=None)) or known


def selected_claims(config: pytest.Config) -> list[str]:
    from lemmas.base import registry

    known = list(registry())
    return _names(config.getoption("xorcert_claims", default=None)) or known


def certify_profile(config: pytest.Config) -> Profile:
    return PROFILES[config.getoption("hypothesis_profile", default=None) or DEFAULT_PROFILE]


@pytest.hookimpl(tryfirst=True)  # before hypothesis' own plugin loads the profile (an internal error there)
def pytest_configure(config: pytest.Config) -> None:
    """Refuse a bad profile, regime or claim name before any test runs; add the certification module."""
    name = config.getoption("hypothesis_profile", default=None)
    if name is not None and name not in PROFILES:
        raise pytest.UsageError(
            f"--hypothesis-profile {name!r} is not a profile of xorcert; choose one of {', '.join(PROFILES)}"
        )
    for option, known_fn, what in (
        ("xorcert_regimes", _known_regimes, "regime"),
        ("xorcert_claims", _known_claims, "claim"),
    ):
        asked = _names(config.getoption(option, default=None))
        if asked is None:
            continue
        if not asked:
            raise pytest.UsageError(f"--{what}s is empty; give a comma-separated list of names")
        known = known_fn()
        unknown = [a for a in asked if a not in known]
        if unknown:
            raise pytest.UsageError(
                f"--{what}s: unknown {what}(s) {', '.join(unknown)}; registered: {', '.join(known)}"
            )
    shard(config)  # a malformed --shard is refused here
    if config.getoption("xorcert_plan", default=None) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(PlanCollector(Path(config.getoption("xorcert_plan"))), "xorcert-plan")
    if config.getoption("xorcert_collect", default=False) or config.getoption("xorcert_regimes", default=None):
        prof = certify_profile(config)  # a certification run: its regimes must build (no simulation yet)
        for regime in selected_regimes(config):
            _check_builds(regime, prof)
    if config.getoption("xorcert_collect", default=False):
        from lemmas import certification

        path = str(Path(certification.__file__).resolve())
        if path not in config.args:
            config.args.append(path)


def _known_regimes() -> list[str]:
    from simulator import RegimeError, registered_regimes

    try:
        return list(registered_regimes())
    except RegimeError as e:
        raise pytest.UsageError(str(e)) from e


def _known_claims() -> list[str]:
    from lemmas.base import ClaimRegistryError, registry

    try:
        return list(registry())
    except ClaimRegistryError as e:
        raise pytest.UsageError(str(e)) from e


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """(claim, regime) items of the certification test; those the active profile's baseline expects
    to fail are strict xfails."""
    if getattr(metafunc.function, "xorcert_trend", False):
        _parametrize_trends(metafunc)
    if not getattr(metafunc.function, "xorcert_certification", False):
        return
    from lemmas.base import FAILS
    from lemmas.certification import KnownFailure, expected_table
    from reports.baseline import expected_statuses

    prof = certify_profile(metafunc.config)
    table = expected_table(metafunc.config).get(prof.name, {})
    regimes = selected_regimes(metafunc.config)
    for regime in regimes:  # a regime that cannot build its config stops the run before any simulation
        _check_builds(regime, prof)
    params = []
    for cid in selected_claims(metafunc.config):
        for regime in regimes:
            marks = []
            if expected_statuses(table.get(cid, {}).get(regime)) == {FAILS}:
                marks.append(
                    pytest.mark.xfail(
                        raises=KnownFailure,
                        strict=True,
                        reason=f"{cid} fails in {regime} (baseline, profile {prof.name})",
                    )
                )
            params.append(pytest.param(cid, regime, marks=marks, id=f"{cid}-{regime}"))
    metafunc.parametrize(("cid", "regime"), params)


def _parametrize_trends(metafunc: pytest.Metafunc) -> None:
    """(claim, regime) trend items: the selected claims with a violation statistic × the selected regimes of
    the profile's `trend_regimes` (none where the profile has no trend ladder)."""
    from lemmas.trends import trend_claims

    prof = certify_profile(metafunc.config)
    claims = set(selected_claims(metafunc.config))
    regimes = set(selected_regimes(metafunc.config))
    params = [
        pytest.param(c.id, r, id=f"{c.id}-{r}-trend")
        for c in trend_claims()
        if c.id in claims
        for r in (prof.trend_regimes if prof.trend_ladder else ())
        if r in regimes
    ]
    metafunc.parametrize(("cid", "regime"), params)


DECISIONS = pytest.StashKey[int]()  # the run's decisions: the family of the gate's family-wise error


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselects: a trend test with no trend item to run (a profile without a trend ladder, or --claims/
    --regimes that select none) rather than showing a skipped empty parameter set; in plan mode every item
    but the certification's, each (claim, regime) once; under --shard I/N all but every N-th item from the
    I-th. Counts the run's decisions (certification items × the profile's most examples per item), the N of
    `lemmas.plan.confirm`, before the shards are dealt: a shard decides as the whole run would."""
    prof = certify_profile(config)
    drop: list[pytest.Item] = []
    plan_mode = planning(config)
    seen: set[tuple[bool, str]] = set()
    for it in items:
        fn = getattr(it, "function", None)
        trend = bool(getattr(fn, "xorcert_trend", False))
        if trend and not isinstance(getattr(getattr(it, "callspec", None), "params", {}).get("cid"), str):
            drop.append(it)  # the empty parametrization
        elif plan_mode:
            kind = (trend, getattr(getattr(it, "callspec", None), "id", ""))
            if not (trend or getattr(fn, "xorcert_certification", False)) or kind in seen:
                drop.append(it)
            seen.add(kind)
    gone = set(map(id, drop))
    kept = [it for it in items if id(it) not in gone]
    cells = sum(getattr(getattr(it, "function", None), "xorcert_certification", False) for it in kept)
    config.stash[DECISIONS] = max(1, cells * max(prof.max_examples, prof.ladder_examples))
    which = shard(config)
    if which is not None:
        i, n = which
        drop += [it for k, it in enumerate(kept) if k % n != i - 1]
    if drop:
        config.hook.pytest_deselected(items=drop)
        gone = set(map(id, drop))
        items[:] = [it for it in items if id(it) not in gone]


def shard(config: pytest.Config) -> tuple[int, int] | None:
    """(I, N) of --shard I/N (None without it); a usage error unless 1 ≤ I ≤ N."""
    text = config.getoption("xorcert_shard", default=None)
    if text is None:
        return None
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {text!r}: expected I/N with integers, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise pytest.UsageError(f"--shard {text!r}: need 1 ≤ I ≤ N, e.g. 1/4 … 4/4")
    return i, n


MISSING_PROPERTY = "xorcert_missing"  # plan mode: the runs an example asked for that the cache lacks


class PlanCollector:
    """Plan mode, on the controller: gathers the runs the items asked for and the cache lacks, and writes
    them to the --xorcert-plan path at the end of the session ({"requests": [{key, config, by}]})."""

    def __init__(self, path: Path):
        self.path = path
        self.requests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name != MISSING_PROPERTY or not isinstance(value, dict):
                continue
            for key, cfg in zip(value["keys"], value["configs"]):
                entry = self.requests.setdefault(key, {"key": key, "config": cfg, "by": []})
                if value["item"] not in entry["by"]:
                    entry["by"].append(value["item"])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from reports.files import write_json_atomic

        write_json_atomic(self.path, {"schema": "xorcert-requests/1", "requests": list(self.requests.values())})


def _check_builds(regime: str, prof: Profile) -> None:
    """Build the regime's config at the profile's smallest d (no simulation); a function that raises
    or returns something else than a RunConfig is a usage error naming the regime."""
    from lemmas.plan import Example, base_config

    batches = prof.batches_for(regime)
    ex = Example(regime, prof.ds_for(regime)[0], seeds=prof.seeds, batch=batches[0] if batches else "")
    try:
        base_config(ex)
    except Exception as e:  # noqa: BLE001 - reported with the regime that raised it
        raise pytest.UsageError(f"regime {regime!r} cannot build its config ({ex.describe()}): {e}") from e


@pytest.fixture(scope="session")
def xorcert_profile(pytestconfig: pytest.Config) -> Profile:
    """The active certification profile (--hypothesis-profile, default quick)."""
    return certify_profile(pytestconfig)


@pytest.fixture(scope="session")
def trajectory_cache(pytestconfig: pytest.Config) -> Any:
    """The trajectory cache: $XORCERT_CACHE, else .xorcert-cache under the rootdir. Sets torch's
    threads to this worker's share of the cores."""
    import torch

    from simulator.cache import TrajectoryCache, default_root

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    given = pytestconfig.getoption("xorcert_cache", default=None)
    root = Path(given) if given else default_root()
    return TrajectoryCache(root if root.is_absolute() else pytestconfig.rootpath / root)


def planning(config: pytest.Config) -> bool:
    """--xorcert-plan: the items record the runs they lack instead of deciding."""
    return bool(config.getoption("xorcert_plan", default=None))


def reads_only(config: pytest.Config) -> bool:
    """--require-cached or --xorcert-plan: the certification reads the cache and never simulates."""
    return bool(config.getoption("xorcert_require_cached", default=False)) or planning(config)


@pytest.fixture(scope="session")
def trajectories(trajectory_cache: Any, pytestconfig: pytest.Config) -> Callable[[Any], Any]:
    """get(cfg) -> Trajectory, computed once per content key across all workers (read-only, raising
    simulator.cache.NotCached for a missing run, under --require-cached and --xorcert-plan)."""
    return trajectory_cache.require if reads_only(pytestconfig) else trajectory_cache.get_or_run
