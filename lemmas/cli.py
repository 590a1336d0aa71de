"""`python -m lemmas`: certify one claim on one example, or list what can be certified.

    python -m lemmas list
    python -m lemmas check C4 --regime paper --d 64 --seeds 16
    python -m lemmas check C2 --regime gaussian --ladder 16,32,64 --seeds 8
    python -m lemmas check C3 --regime label_noise --d 32 --import ./conftest.py
    python -m lemmas check C1 --regime paper --d 64 --set theta=0.05
    python -m lemmas boundary C1 --regime paper --knob theta --range 1e-3:1 --d 32 --d 64 --d 128
    python -m lemmas plan --profile certify -o plan.json [--dry-run] [-- PYTEST_ARGS]

`check` simulates what the claim reads (through the trajectory cache, so a second call is
instant), prints the verdict, every statistic against its threshold, and where each
trajectory it read is cached. Exit status: 0 holds, 1 fails, 3 inconclusive, 4 undecided, 2 bad input.
`boundary` bisects a knob (a RunConfig field set on the regime's config) for the value where the
claim's verdict flips, at each d, and writes the result as JSON where the report reads it
(lemmas/boundary.py). Exit status: 0 located at every d, 1 not located at some d, 2 bad input.
`plan` lists the runs the certification of a profile asks for next and the cache lacks, as jobs
for `python -m simulator sweep` (lemmas/runplan.py). Exit status: 0 planned, 2 bad input or
the certification could not be planned.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

EXIT = {"holds": 0, "fails": 1, "inconclusive": 3, "undecided": 4}


class UsageError(ValueError):
    """Bad input to the command line, said before any simulation starts."""


def _add_imports(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="FILE|MODULE",
        help="load this Python file or module first (it registers regimes); repeatable",
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m lemmas",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The claims, regimes and the verdict rule are specified in docs/SPEC.md. A regime of your own: "
        "register it with @simulator.regime('name') in a file and pass that file with --import.",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="{check,list,boundary,plan}")

    ls = sub.add_parser("list", help="the registered claims (what each reads), regimes and profiles")
    _add_imports(ls)
    ls.add_argument("--json", action="store_true", help="print the listing as JSON")

    ck = sub.add_parser(
        "check",
        help="certify one claim on one example and print the verdict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulate what CLAIM reads for one example, through the trajectory cache, and print the "
        "verdict with its statistics against their thresholds.\n"
        "Exit status: 0 holds, 1 fails, 3 inconclusive, 4 undecided, 2 bad input.",
    )
    ck.add_argument("claim", metavar="CLAIM", help="claim id, e.g. C4 (python -m lemmas list shows them)")
    ck.add_argument("--regime", default="paper", help="registered regime (default: paper)")
    ck.add_argument(
        "--d", type=int, default=None, help="input dimension of a per-run claim (default: the profile's smallest d)"
    )
    ck.add_argument("--width", type=int, default=1, help="p = width · ⌈1/ψ⌉ (default 1)")
    ck.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    ck.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=(
            "seeds of the example's first batch (default: the profile's, for this kind of claim); a w.h.p. "
            "claim adds batches of 8 until the sequential rule decides, up to 64 seeds (docs/SPEC.md §3.12)"
        ),
    )
    ck.add_argument(
        "--batch",
        default="",
        metavar="m",
        help="batch size passed to the regime as m: 'd' or an integer (regimes that take m)",
    )
    ck.add_argument(
        "--ladder",
        default=None,
        metavar="D1,D2,…",
        help="d-ladder of a ladder or batch-grid claim (C2, C10, C11, Q1; default: the profile's)",
    )
    ck.add_argument(
        "--profile", default="quick", help="where the defaults of --d, --seeds and --ladder come from (default: quick)"
    )
    ck.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="trajectory cache (default: $XORCERT_CACHE, else ./.xorcert-cache)",
    )
    _add_imports(ck)
    ck.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="set a RunConfig field on the regime's config (a knob of lemmas.boundary, e.g. theta=0.05); repeatable",
    )
    ck.add_argument("--json", action="store_true", help="print the verdict as JSON")

    bd = sub.add_parser(
        "boundary",
        help="bisect a knob for the value where a claim's verdict flips, at one or more d",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Bisect KNOB over [LO, HI] (geometric) at each --d for the value where CLAIM's verdict flips, "
        "with a decided verdict at each probe; fit how the boundary scales with d. Progress on stderr, the "
        "result as JSON in REPORT_DIR/boundaries/ (the report draws it).\n"
        "Exit status: 0 located at every d, 1 not located at some d, 2 bad input.",
    )
    bd.add_argument("claim", metavar="CLAIM", help="a per-run claim id, e.g. C1 or C7")
    bd.add_argument("--regime", default="paper", help="registered regime (default: paper)")
    bd.add_argument("--knob", required=True, help="RunConfig field to bisect: " + ", ".join(_knob_names()))
    bd.add_argument("--range", dest="knob_range", required=True, metavar="LO:HI", help="the knob's range, e.g. 1e-3:1")
    bd.add_argument("--d", dest="ds", type=int, action="append", required=True, help="input dimension; repeatable")
    bd.add_argument("--seeds", type=int, default=8, help="seeds per probe (default 8)")
    bd.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    bd.add_argument("--width", type=int, default=1, help="p = width · ⌈1/ψ⌉ (default 1)")
    bd.add_argument("--batch", default="", metavar="m", help="batch size passed to the regime as m: 'd' or an integer")
    bd.add_argument("--rel-tol", type=float, default=None, help="stop when HI/LO ≤ 1 + this (default: Thresholds)")
    bd.add_argument("--max-probes", type=int, default=None, help="probes per d at most (default: Thresholds)")
    bd.add_argument(
        "--report-dir",
        default="reports/out",
        metavar="DIR",
        help="the result goes to DIR/boundaries/CLAIM-REGIME-KNOB.json (default reports/out, the report's dir)",
    )
    bd.add_argument("--cache-dir", default=None, metavar="DIR", help="trajectory cache (default: $XORCERT_CACHE)")
    _add_imports(bd)
    bd.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_plan(sub)
    return ap


def _add_plan(sub: Any) -> None:
    from lemmas.plan import PROFILES

    pl = sub.add_parser(
        "plan",
        help="list the runs a certification will ask for, as jobs for `python -m simulator sweep`",
        description="Run the certification of --profile in plan mode (pytest, reading the cache only) and "
        "write the runs it asks for and the cache lacks, with their cost, split into jobs of balanced "
        "cost. One plan is one round of the adaptive certification: sweep it, then plan again until "
        "the plan is empty; then `pytest --hypothesis-profile P --xorcert-cache DIR --require-cached` "
        "only reads. Arguments after `--` go to pytest (default: --xorcert; give the same test paths "
        "and options as the certification, e.g. -- tests/claims). "
        "Exit status: 0 planned (also when nothing is left to run), 2 bad input or not plannable.",
    )
    fixed = [name for name, prof in PROFILES.items() if prof.derandomize]  # a plan lists what a rerun will draw
    pl.add_argument("--profile", default="quick", choices=fixed, help="hypothesis profile (default quick)")
    pl.add_argument("--regimes", default=None, metavar="A,B", help="only these regimes (as pytest --regimes)")
    pl.add_argument("--claims", default=None, metavar="C1,C9", help="only these claims (as pytest --claims)")
    pl.add_argument("--cache-dir", default=None, metavar="DIR", help="trajectory cache (default: $XORCERT_CACHE)")
    pl.add_argument("--jobs", type=int, default=64, help="split the runs into at most this many jobs (default 64)")
    pl.add_argument("-o", "--output", type=Path, default=Path("plan.json"), help="the plan file (default plan.json)")
    pl.add_argument("--dry-run", action="store_true", help="print the totals only; write no file")
    pl.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARGS", help="after --: arguments for pytest")


def _knob_names() -> list[str]:
    from lemmas.boundary import KNOBS

    return [f"{k.name} {k.allowed()}" for k in KNOBS.values()]


def parse_overrides(items: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """--set KNOB=VALUE pairs → Example.overrides, each checked against the knob's allowed values."""
    from lemmas.boundary import BoundaryError, knob

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: must be KNOB=VALUE, e.g. theta=0.05")
        try:
            k = knob(name.strip())
            value = float(text)
        except BoundaryError as e:
            raise UsageError(str(e).replace("--knob", "--set")) from None
        except ValueError:
            raise UsageError(f"--set {item!r}: the value must be a number; {name} takes {k.allowed()}") from None
        if not k.admits(value):
            raise UsageError(
                f"--set {item!r}: {k.name} must be in {k.allowed()}" + (" (an integer)" if k.integer else "")
            )
        out[k.name] = int(value) if k.integer else value
    return tuple(sorted(out.items()))


def load_imports(imports: Sequence[str]) -> None:
    """Import each FILE (by path) or MODULE (by name), so its regimes are registered."""
    for i, spec in enumerate(imports):
        path = Path(spec)
        try:
            if spec.endswith(".py") or path.exists():
                if not path.is_file():
                    raise UsageError(f"--import {spec}: no such file")
                mod_spec = importlib.util.spec_from_file_location(f"_xorcert_import_{i}", path)
                if mod_spec is None or mod_spec.loader is None:
                    raise UsageError(f"--import {spec}: not a Python file")
                module = importlib.util.module_from_spec(mod_spec)
                sys.modules[mod_spec.name] = module
                mod_spec.loader.exec_module(module)
            else:
                importlib.import_module(spec)
        except UsageError:
            raise
        except Exception as e:  # noqa: BLE001 - reported with the file that raised it
            raise UsageError(f"--import {spec} failed: {type(e).__name__}: {e}") from e


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"{what} = {text!r}: must be comma-separated integers, e.g. 16,32,64") from None
    if not values:
        raise UsageError(f"{what} is empty: give comma-separated integers, e.g. 16,32,64")
    return values


def example_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(claim, Example) from the command line, validated before any simulation."""
    from lemmas.base import registry
    from lemmas.plan import PROFILES, Example, base_config
    from simulator import registered_regimes

    claims = registry()
    if args.claim not in claims:
        raise UsageError(f"claim {args.claim!r} is not registered; the claims are {', '.join(claims)}")
    regimes = registered_regimes()
    if args.regime not in regimes:
        raise UsageError(
            f"--regime {args.regime!r} is not registered; the regimes are {', '.join(regimes)} "
            "(a regime of your own: --import the file that registers it)"
        )
    if args.profile not in PROFILES:
        raise UsageError(f"--profile {args.profile!r}: choose one of {', '.join(PROFILES)}")
    claim, prof = claims[args.claim], PROFILES[args.profile]
    family = claim.needs in ("ladder", "batch_grid")
    if args.batch and args.batch != "d":
        try:
            if int(args.batch) < 1:
                raise ValueError
        except ValueError:
            raise UsageError(f"--batch {args.batch!r}: must be 'd' or an integer ≥ 1") from None
    for name, value, lo in (
        ("--width", args.width, 1),
        ("--seed", args.seed, 0),
        ("--seeds", args.seeds, 1),
        ("--d", args.d, 3),
    ):
        if value is not None and value < lo:
            raise UsageError(f"{name} = {value}: must be an integer ≥ {lo}")
    if family:
        if args.d is not None and args.ladder is None:
            raise UsageError(f"{args.claim} reads a d-ladder: give --ladder D1,D2,… instead of --d")
        ladder = (
            _ints(args.ladder, "--ladder")
            if args.ladder is not None
            else (prof.c10_ladders if claim.needs == "batch_grid" else prof.ladders_for(args.regime))[0]
        )
        if len(ladder) < 2 or any(a >= b for a, b in zip(ladder, ladder[1:])):
            raise UsageError(f"--ladder {list(ladder)}: needs at least two increasing dimensions")
        seeds = args.seeds or (prof.c10_seeds if claim.needs == "batch_grid" else prof.ladder_seeds_for(args.regime))
        ex = Example(args.regime, ladder[0], args.width, args.seed, seeds, args.batch, tuple(ladder))
    else:
        if args.ladder is not None:
            raise UsageError(f"{args.claim} reads one run per example: give --d, not --ladder")
        d = args.d if args.d is not None else prof.ds_for(args.regime)[0]
        ex = Example(args.regime, d, args.width, args.seed, args.seeds or prof.seeds, args.batch)
    if args.overrides:
        ex = replace(ex, overrides=parse_overrides(args.overrides))
    try:
        for d in ex.ladder or (ex.d,):  # the regime's configs are built (and validated) before any run
            base_config(ex, d=d)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{ex.describe()}: {e}") from e
    return claim, ex


def _recording_getter(cache: Any, used: list[tuple[Any, str]]) -> Any:
    def get(cfg: Any) -> Any:
        t0 = time.perf_counter()
        fetched = cache.fetch(cfg)
        how = f"simulated in {time.perf_counter() - t0:.1f} s" if fetched.computed else "read from the cache"
        used.append((cfg, f"{fetched.path or 'not stored'} ({how})"))
        return fetched.trajectory

    return get


def cmd_check(args: argparse.Namespace) -> int:
    from lemmas.plan import evaluate
    from simulator.cache import TrajectoryCache, default_root

    load_imports(args.imports)
    claim, ex = example_from_args(args)
    cache = TrajectoryCache(Path(args.cache_dir) if args.cache_dir else default_root())
    used: list[tuple[Any, str]] = []
    print(f"{claim.id} {claim.title} — {ex.describe()}", file=sys.stderr)
    verdict = evaluate(claim, ex, _recording_getter(cache, used))
    if args.json:
        print(
            json.dumps(
                {"example": ex.to_dict(), "verdict": verdict.to_dict(), "trajectories": [where for _, where in used]},
                indent=1,
            )
        )
        return EXIT[verdict.status]
    print(f"{claim.id} {verdict.status.upper()}: {verdict.reason}")
    from reports.keystats import measure_all

    for m in measure_all(claim.key_stats, verdict.to_dict()):
        print(f"  key: {m.describe()}")
    names = sorted(set(verdict.stats) | set(verdict.thresholds))
    if names:
        width = max(len(n) for n in names)
        print(f"  {'statistic':<{width}}  {'measured':>12}  threshold")
        for n in names:
            measured = _fmt(verdict.stats[n]) if n in verdict.stats else ""
            thr = _fmt(verdict.thresholds[n]) if n in verdict.thresholds else ""
            print(f"  {n:<{width}}  {measured:>12}  {thr}")
    for cfg, where in used:
        print(
            f"  trajectory d={cfg.d} m={cfg.m} steps={cfg.steps} seeds={cfg.seed}..{cfg.seed + cfg.seeds - 1}: {where}"
        )
    return EXIT[verdict.status]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def cmd_list(args: argparse.Namespace) -> int:
    from lemmas.base import registry
    from lemmas.plan import PROFILES
    from simulator import registered_regimes

    load_imports(args.imports)
    claims, regimes = registry(), registered_regimes()
    reads = {
        "run": "one run (all seeds of one example)",
        "ladder": "one run per d of a ladder",
        "gradient": "three one-step runs (batch sizes m, d, 64·m) and the per-run bundle (phase one)",
        "batch_grid": "a grid of batch sizes per d",
        "width_family": "one run per width p = k·⌈1/ψ⌉ at one d",
        "eta_family": "one run per step size η = k·ψ (horizon T/k) at one d",
    }
    if args.json:
        print(
            json.dumps(
                {
                    "claims": {
                        c.id: {
                            "title": c.title,
                            "anchor": c.anchor,
                            "needs": c.needs,
                            "variants": list(c.variants),
                            "horizon": c.horizon,
                        }
                        for c in claims.values()
                    },
                    "regimes": {r.name: {"description": r.description, "origin": r.origin} for r in regimes.values()},
                    "profiles": list(PROFILES),
                },
                indent=1,
            )
        )
        return 0
    print("claims (id, title, paper anchor; what each reads):")
    for c in claims.values():
        extra = f" + coupled {', '.join(c.variants)}" if c.variants else ""
        if c.horizon == "phases":
            extra += ", up to T1, T_ε and T_L (the runs stop there)"
        print(f"  {c.id:<4} {c.title} [{c.anchor}]\n       reads {reads.get(c.needs, c.needs)}{extra}")
    print("regimes (name: description; where registered):")
    for r in regimes.values():
        print(f"  {r.name:<17} {r.description} ({r.origin})")
    print("profiles: " + ", ".join(f"{p.name} (d ∈ {list(p.ds)}, {p.seeds} seeds)" for p in PROFILES.values()))
    return 0


def cmd_boundary(args: argparse.Namespace) -> int:
    import shlex

    from lemmas.boundary import THRESHOLDS, knob, locate, merged, parse_range
    from reports.files import BOUNDARY_DIR, read_json, write_json_atomic
    from simulator.cache import TrajectoryCache, default_root

    load_imports(args.imports)
    lo, hi = parse_range(args.knob_range, knob(args.knob))
    cache = TrajectoryCache(Path(args.cache_dir) if args.cache_dir else default_root())
    result = locate(
        args.claim,
        args.regime,
        args.knob,
        (lo, hi),
        args.ds,
        seeds=args.seeds,
        seed=args.seed,
        width=args.width,
        batch=args.batch,
        get=cache,
        rel_tol=THRESHOLDS.boundary_rel_tol if args.rel_tol is None else args.rel_tol,
        max_probes=THRESHOLDS.boundary_max_probes if args.max_probes is None else args.max_probes,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        command=shlex.join(["python", "-m", "lemmas", *args.argv]),
    )
    path = Path(args.report_dir) / BOUNDARY_DIR / f"{args.claim}-{args.regime}-{args.knob}.json"
    try:
        earlier = read_json(path) if path.exists() else None
    except (OSError, ValueError):
        earlier = None  # an unreadable earlier file is replaced
    data = merged(result, earlier if isinstance(earlier, dict) else None)
    write_json_atomic(path, data)
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        print("\n".join(result.describe()))
        if len(data["brackets"]) > len(result.brackets):
            s = data["scaling"]
            print(
                f"  with the earlier d of {path.name}: {[b['d'] for b in data['brackets']]}"
                + (f"; boundary ∝ d^{s['slope']:.3g} ({s['note']})" if s else "")
            )
    print(f"boundary: {path}", file=sys.stderr)
    return 0 if result.located else 1


def cmd_plan(args: argparse.Namespace) -> int:
    """`plan`: check the options, run the certification in plan mode, write (or print) the plan."""
    from lemmas.runplan import PlanningFailed, Throughput, build_plan, describe, requested_runs
    from reports.files import write_json_atomic
    from simulator.cache import TrajectoryCache, default_root

    if args.jobs < 1:
        raise UsageError(f"--jobs must be ≥ 1, got {args.jobs}")
    out = Path(args.output)
    if not args.dry_run and out.parent.exists() and not out.parent.is_dir():
        raise UsageError(f"--output {out}: {out.parent} is not a folder")
    cache = TrajectoryCache((Path(args.cache_dir) if args.cache_dir else default_root()).resolve())
    pytest_args = ["--hypothesis-profile", args.profile]
    for opt in ("regimes", "claims"):
        if getattr(args, opt):
            pytest_args += [f"--{opt}", getattr(args, opt)]
    pytest_args += list(args.pytest_args) or ["--xorcert"]
    print(f"plan: running the {args.profile} certification in plan mode over {cache.root} …", file=sys.stderr)
    try:
        requests = requested_runs(pytest_args, cache.root)
    except PlanningFailed as e:
        raise UsageError(str(e)) from e
    about = {"profile": args.profile, "pytest_args": pytest_args, "cache_dir": str(cache.root)}
    plan = build_plan(requests, cache, args.jobs, Throughput.from_cache(cache), about)
    print(describe(plan))
    if not args.dry_run:
        try:
            write_json_atomic(out, plan)
        except OSError as e:
            raise UsageError(f"--output {out}: cannot write it ({e})") from e
        print(
            f"plan: {out}"
            + (f"; next: python -m simulator sweep {out} --cache-dir {cache.root}" if plan["runs"] else "")
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from lemmas.base import ClaimRegistryError
    from lemmas.boundary import BoundaryError
    from simulator import RegimeError

    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"check": cmd_check, "list": cmd_list, "boundary": cmd_boundary, "plan": cmd_plan}
    try:
        return commands[args.command](args)
    except (UsageError, BoundaryError, ClaimRegistryError, RegimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
