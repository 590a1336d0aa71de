"""`python -m simulator`: run one configuration to a file, show what a file holds, or sweep a plan.

    python -m simulator run --regime paper --d 256 --seeds 4 --out run.npz
    python -m simulator run --regime custom --d 32 --p 16 --m 64 --eta 0.1 --theta 0.01 --steps 500 --out r.npz
    python -m simulator show run.npz
    python -m simulator sweep plan.json --executor slurm --cache-dir /shared/xorcert-cache --partition gpu

`sweep` computes the runs of a plan (`python -m lemmas plan`) into a cache as a submitit job
array (simulator/sweep.py); it is resumable and exits 1 when a job failed, naming its undone keys.

`run` builds the config with `simulator.build_regime(name, d, …)` (any registered regime,
built-in or the user's: docs/SPEC.md §5) and then applies the overrides; every RunConfig
field has an option, generated from the dataclass. Options that are parameters of the
regime's function (`--p`, `--C`, `--kappa`, and `--m` for small_batch) are passed to it, so
the values derived from them (θ = ψ/√p, T = ⌈n/m⌉) follow. The choices of `--regime` and
`--data` are the registered regimes and data laws. A bad value (out of its range, an --out
or cache folder that cannot be written) is reported before any work (exit 2); Ctrl-C writes no
file (exit 130); a diverged run writes no file (exit 1). A computed run is not dropped
silently: when the cache cannot store it, --out is still written; when --out cannot be
written (exit 1), the error says where the cached copy is. Every error is one line
`error: …` on stderr; warnings are `warning: …` lines.
"""

from __future__ import annotations

import argparse
import decimal
import inspect
import json
import math
import re
import shutil
import sys
import tempfile
import time
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .config import CUSTOM, DEVICES, DTYPES, INITS, INT_RANGES, MAX_LABEL_NOISE, VARIANTS, RunConfig
from .files import atomic_write
from .laws import registered_laws
from .phases import STOP_MARGIN
from .regimes import build_regime, registered
from .registry import RegistryError

if TYPE_CHECKING:
    from .trajectory import Trajectory

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_THREADS = 1024  # more torch threads than cores only adds contention; far more cannot be started
# Fields a regime constructor computes from d (required with --regime custom).
REGIME_DERIVED = ("p", "m", "eta", "theta", "steps")
CHOICES: dict[str, Sequence[str]] = {"init": INITS, "dtype": DTYPES, "device": DEVICES, "variants": tuple(VARIANTS)}


def _range(name: str) -> str:
    lo, hi = INT_RANGES[name]
    return f"[{lo}, {hi}]"


# The meaning and allowed range of each RunConfig field, for --help (docs/SPEC.md §1).
FIELD_HELP = {
    "d": f"input dimension d (integer in {_range('d')}); the regime computes the other hyper-parameters from it",
    "p": f"width p, the number of hidden neurons (integer in {_range('p')}); the paper regime uses p = ceil(1/psi) "
    "with psi = log(d)^-C; with a regime it is passed to the constructor, so theta = psi/sqrt(p) follows",
    "m": f"minibatch size m, fresh samples every step (integer in {_range('m')}); the paper regime uses "
    "m = ceil(d/psi); with --regime small_batch it is passed to the constructor (default m = d, and "
    "T = ceil(n/m) keeps the paper's sample budget n)",
    "eta": "step size eta (finite number > 0); the paper regime uses eta = psi",
    "theta": "initialization scale theta: |w_k| = |a_k| = theta at t = 0 (|w_k| = theta on average with "
    "--init gaussian) (finite number > 0); the paper regime uses theta = psi/sqrt(p)",
    "steps": f"horizon T, the number of SGD steps (integer in {_range('steps')}); the paper regime uses "
    "T = ceil(kappa log(d)/eta)",
    "label_coords": "label coordinates: y = -prod_c x_c over these 2 or 3 distinct coordinates in [0, d-1]; "
    "the first two are the pair (i, j)",
    "data": "data law, one of the registered ones (built in: 'boolean' x ~ Unif{+-1}^d, 'gaussian' x ~ N(0, I_d) "
    "with y = -prod_c sign(x_c))",
    "label_noise": f"label noise rho: each fresh training label is flipped with probability rho; the test set keeps "
    f"the clean labels (number in [0, {MAX_LABEL_NOISE}))",
    "weight_decay": "weight decay lambda on both layers, in the same step from the old values: "
    "W <- W - eta (g_w + lambda W), a <- a - r eta (g_a + lambda a) (a frozen second layer stays put) "
    "(finite number >= 0; 0 = none)",
    "lr_ratio": "step ratio r of the second layer: a steps with r * eta, W with eta (finite number > 0; "
    "1 = the same step)",
    "variants": "coupled variants (same init and minibatches), the first is the main run; the loss is chosen here "
    "(logistic h = 2 log(1 + e^-gamma), squared (1 - gamma)^2, exponential e^-gamma): "
    + ", ".join(
        f"'{name}' ({loss}{', first-order proxy h0' if proxy else ''}, "
        f"{'both layers trained' if layers == 'both' else 'second layer frozen'})"
        for name, (loss, proxy, layers) in VARIANTS.items()
    ),
    "init": "initialization: 'sphere' (w_k = theta u_k, u_k uniform on the sphere), 'gaussian' (w_k ~ "
    "N(0, theta^2/d I_d)), or 'sparse_finders' (only ceil(p * finder_fraction) neurons have a signal-plane "
    "component, finder k placed on cluster k mod 4 with a_k = theta * its label); a_k = theta * (fair sign) "
    "otherwise",
    "finder_fraction": "share of neurons that see the signal plane with --init sparse_finders (number in (0, 1])",
    "dtype": "floating-point type of the computation",
    "device": "where to run: 'auto' = cuda when torch sees a GPU, else cpu",
    "seed": f"first seed; seeds seed, seed+1, ... run together (integer in {_range('seed')})",
    "seeds": f"number of seeds R run as one stacked computation (integer in {_range('seeds')})",
    "test_size": f"size of the fixed test set evaluated at every snapshot (integer in {_range('test_size')})",
    "test_seed": f"seed of the test set (integer in {_range('test_seed')})",
    "snapshots": f"size of the uniform snapshot grid (integer in {_range('snapshots')}; log-spaced steps and the "
    "last are added)",
    "chunk_rows": f"rows of a minibatch processed at once (integer in {_range('chunk_rows')}; 0 = automatic); "
    "does not change the result",
    "data_offset": "minibatch stream index: configs differing only here share the initialization but not the "
    f"batches (integer in {_range('data_offset')})",
    "stop_error": "stop at the first snapshot where every seed's main-run test error is <= this "
    "(number in [0, 1); 0 = run the whole horizon)",
    "stop_step": f"stop at the first snapshot at or after this step; the snapshot grid stays that of --steps "
    f"(integer in {_range('stop_step')}; 0 = run the whole horizon)",
    "stop_phases": "eps > 0: stop once every seed's main run has passed T1 (signal-heavy mass >= 1 - zeta), T_eps "
    f"(test error <= eps) and T_L (test loss <= zeta), at the first snapshot at or after {1 + STOP_MARGIN:g} times the "
    "step by which all have (the horizon C2 and C11 read; number in [0, 1); 0 = run the whole horizon)",
    "regime_params": "what the regime constructor was given, recorded with the run, as KEY=VALUE pairs "
    "(set by the constructor; override only to relabel a run)",
}


# ---------------------------------------------------------------------------------- progress
def _clock(seconds: float) -> str:
    """h:mm:ss (or m:ss) of a duration."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def format_progress(step: int, steps: int, rate: float | None, width: int = 24) -> str:
    """One progress line: bar, percentage, step/T, steps/s and ETA (`rate`: steps per second or None)."""
    frac = step / steps if steps else 1.0
    fill = int(round(width * frac))
    bar = "#" * fill + "." * (width - fill)
    if rate and rate > 0:
        speed, eta = f"{rate:,.0f} steps/s", _clock((steps - step) / rate)
    else:
        speed, eta = "-- steps/s", "--"
    return f"[{bar}] {100 * frac:5.1f}%  step {step}/{steps}  {speed}  ETA {eta}"


class ProgressBar:
    """The engine's `progress(step, steps)` callback, drawn on a stream.

    On a terminal: one line redrawn with `\\r` (at most every `min_interval` s).
    Otherwise (a log file, a pipe): a full line at the start, at every `line_every`
    share of the run or every `line_seconds`, whichever comes first, and at the end.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        min_interval: float = 0.1,
        line_every: float = 0.1,
        line_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream, self.clock = stream, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) if tty is None else tty
        self.min_interval, self.line_every, self.line_seconds = min_interval, line_every, line_seconds
        self._t0: float | None = None
        self._step0 = 0
        self._last_draw = -math.inf
        self._last_frac = -math.inf
        self._open = False  # a \r line is on screen without its newline

    @property
    def started(self) -> bool:
        """Whether the engine has called it (False on a cache hit)."""
        return self._t0 is not None

    def rate(self, step: int) -> float | None:
        """Steps per second since the first call (None before any step has passed)."""
        if self._t0 is None:
            return None
        dt = self.clock() - self._t0
        return (step - self._step0) / dt if dt > 0 and step > self._step0 else None

    def __call__(self, step: int, steps: int) -> None:
        now = self.clock()
        if self._t0 is None:
            self._t0, self._step0 = now, step
        done = step >= steps
        line = format_progress(step, steps, self.rate(step))
        frac = step / steps if steps else 1.0
        if self.tty:
            if done or now - self._last_draw >= self.min_interval:
                self.stream.write("\r" + line + ("\n" if done else ""))
                self._open = not done
                self._last_draw = now
        elif (
            done
            or self._last_draw == -math.inf
            or frac - self._last_frac >= self.line_every
            or now - self._last_draw >= self.line_seconds
        ):
            self.stream.write(line + "\n")
            self._last_draw, self._last_frac = now, frac
        self.stream.flush()

    def close(self) -> None:
        """End an unfinished terminal line (after an interrupt or an error)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


# ---------------------------------------------------------------------------------- parser
def _integer(text: str) -> int:
    """An integer option: digits, or a whole number in scientific notation (1e6); RunConfig checks its range."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}")
    if value.adjusted() > 100:  # int() of 1e1000000000 alone would take minutes
        raise argparse.ArgumentTypeError(f"{text} is far outside every allowed range (see --help)")
    return int(value)


def _key_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE, VALUE read as JSON where it parses (2.0, 12, "x"), else as a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    k, v = text.split("=", 1)
    try:
        value: Any = json.loads(v)
    except ValueError:
        value = v
    return k, value


def _source_comment(name: str) -> str:
    """The trailing comment of a RunConfig field in config.py (help for a field FIELD_HELP lacks)."""
    try:
        src = inspect.getsource(RunConfig)
    except (OSError, TypeError):
        src = ""
    found = re.search(rf"^\s+{re.escape(name)}\s*:[^#\n]*#\s*(.+)$", src, re.MULTILINE)
    return found.group(1).strip() if found else f"RunConfig.{name}"


def _field_kwargs(f: Field, hint: Any) -> dict[str, Any]:
    """argparse keyword arguments for one RunConfig field, from its type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    choices = list(registered_laws()) if f.name == "data" else CHOICES.get(f.name)
    if hint is int:
        kw: dict[str, Any] = {"type": _integer, "metavar": "N"}
    elif hint is float:
        kw = {"type": float, "metavar": "X"}
    elif hint is str:
        kw = {"type": str, "metavar": "NAME"}
    elif origin is tuple and args[-1] is Ellipsis and args[0] in (int, str):
        integers = args[0] is int
        kw = {"type": _integer if integers else args[0], "nargs": "+", "metavar": "I" if integers else "NAME"}
    elif origin is tuple and args[-1] is Ellipsis and typing.get_origin(args[0]) is tuple:
        kw = {"type": _key_value, "nargs": "+", "metavar": "KEY=VALUE"}
    else:
        kw = {"type": json.loads, "metavar": "JSON"}
    if choices is not None:
        kw["choices"] = list(choices)
        if len(choices) <= 8:  # short lists are shown as {a,b,…}; the help text names the others' choices
            kw.pop("metavar", None)
    if f.name == "d":
        default = "required"
    elif f.name in REGIME_DERIVED:
        default = "default: from the regime; required with --regime custom"
    elif f.name == "regime_params":
        default = "default: from the regime"
    else:
        value = f.default_factory() if f.default_factory is not MISSING else f.default
        default = f"default: {' '.join(map(str, value)) if isinstance(value, tuple) else value}"
    kw["help"] = f"{FIELD_HELP.get(f.name) or _source_comment(f.name)} ({default})".replace("%", "%%")
    kw["default"] = None
    kw["dest"] = f.name
    return kw


def build_parser() -> argparse.ArgumentParser:
    """The `python -m simulator` parser with its `run` and `show` subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    sub = parser.add_subparsers(dest="command", metavar="{run,show,sweep}")
    run_p = sub.add_parser(
        "run",
        allow_abbrev=False,
        help="run one configuration and write its trajectory (.npz)",
        description="Run online minibatch SGD for one configuration (all its seeds and variants) and write the "
        "trajectory. The config is the regime's at dimension --d, then every option given overrides "
        "its field. Exit status: 0 done, 1 the run diverged or its trajectory could not be kept, "
        "2 bad input, 130 interrupted (no file).",
    )
    g = run_p.add_argument_group("regime (docs/SPEC.md §4)")
    regimes = registered()
    g.add_argument(
        "--regime",
        choices=[*regimes, CUSTOM],
        default="paper",
        help="registered regime the config is built from: "
        + "; ".join(
            f"'{r.name}' ({r.description})".replace("%", "%%") if r.description else f"'{r.name}'"
            for r in regimes.values()
        )
        + f"; '{CUSTOM}' builds RunConfig from the options alone and needs --p --m --eta --theta "
        "--steps (default: paper)",
    )
    g.add_argument(
        "--C",
        type=float,
        default=None,
        metavar="X",
        help="the regime's constant C: psi = log(d)^-C (finite number > 0, small enough that p, m and "
        "T stay in their ranges; the error names the largest C at this d; default 2.0)",
    )
    g.add_argument(
        "--kappa",
        type=float,
        default=None,
        metavar="X",
        help="the regime's horizon constant: T = ceil(kappa log(d)/eta) (finite number > 0, small enough "
        "that T stays in its range; default 12.0)",
    )
    hints = typing.get_type_hints(RunConfig)
    fg = run_p.add_argument_group("RunConfig fields (override the regime's values)")
    for f in fields(RunConfig):
        if f.name == "regime":
            continue  # the regime field is --regime above
        fg.add_argument(f"--{f.name.replace('_', '-')}", **_field_kwargs(f, hints[f.name]))
    o = run_p.add_argument_group("output and execution")
    o.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="trajectory file to write (.npz, written atomically, mode from the umask); optional with --cache",
    )
    o.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="go through the content-addressed trajectory cache: reuse a stored run or store this one, "
        "then copy it to --out (default: --no-cache, compute and write --out directly)",
    )
    o.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="cache folder (default: $XORCERT_CACHE, else ./.xorcert-cache)",
    )
    o.add_argument(
        "--threads",
        type=_integer,
        default=None,
        metavar="N",
        help=f"torch CPU threads (integer in [1, {MAX_THREADS}]; default: torch's choice)",
    )
    o.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar and no messages on stderr (errors are still printed)",
    )
    show_p = sub.add_parser(
        "show",
        allow_abbrev=False,
        help="summarize trajectory files",
        description="Print a trajectory file's config, and per seed and variant: T1, T2, the "
        "final test error with its 95% Clopper-Pearson interval, the final test "
        "loss, the four clean cluster margins, the run time and device. "
        "Exit status 2 if a file is missing or damaged.",
    )
    show_p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="trajectory .npz files")
    _add_sweep(sub)
    return parser


def _add_sweep(sub: Any) -> None:
    sw = sub.add_parser(
        "sweep",
        allow_abbrev=False,
        help="compute a plan's runs into a cache as a job array (SLURM or local, through submitit)",
        description="Compute the runs of a plan written by `python -m lemmas plan` into the trajectory cache "
        "--cache-dir, as one submitit job array: on SLURM (sbatch) or as subprocesses of this machine "
        "(--executor local). Runs already cached are skipped, so rerunning the same command after a "
        "failure or a kill computes only what is missing. A job publishes each run whole or not at "
        "all, without locks (every key is in one job of the plan: safe on NFS). Progress shows jobs "
        "done / running / failed; a failed job is reported with the end of its stderr and the keys it "
        "left undone. Then `pytest --hypothesis-profile P --xorcert-cache DIR --require-cached` only "
        "reads. Exit status: 0 every run cached, 1 a job failed, 2 bad input (nothing submitted).",
    )
    sw.add_argument("plan", type=Path, help="plan.json from `python -m lemmas plan`")
    sw.add_argument(
        "--cache-dir", type=Path, required=True, help="the trajectory cache to fill (shared with the nodes on SLURM)"
    )
    sw.add_argument(
        "--executor",
        choices=("local", "slurm", "auto"),
        default="auto",
        help="slurm: sbatch job array; local: subprocesses here; auto: SLURM where srun exists, else local",
    )
    sw.add_argument("--partition", default=None, help="SLURM partition")
    sw.add_argument("--gpus-per-task", type=_integer, default=0, help="GPUs per job (SLURM; default 0)")
    sw.add_argument("--cpus-per-task", type=_integer, default=1, help="CPUs and torch threads per job (default 1)")
    sw.add_argument("--timeout-min", type=_integer, default=60, help="time limit per job in minutes (default 60)")
    sw.add_argument(
        "--array-parallelism",
        type=_integer,
        default=0,
        help="at most this many jobs at once (default: SLURM's limit; local: cores / cpus-per-task)",
    )
    sw.add_argument("--mem-gb", type=float, default=None, help="memory per job in GB (default: the cluster's)")
    sw.add_argument("--log-dir", type=Path, default=None, help="submitit's logs (default: CACHE_DIR/sweep-logs)")
    sw.add_argument("--poll", type=float, default=5.0, help="seconds between progress lines (default 5)")


def cmd_sweep(ns: argparse.Namespace) -> int:
    """`sweep`: check the plan, the executor and the cache folder, then run the jobs."""
    from .sweep import PlanError, SweepError, SweepOptions, format_failures, load_plan, sweep

    for name in ("gpus_per_task", "timeout_min", "array_parallelism", "cpus_per_task"):
        low = 1 if name in ("timeout_min", "cpus_per_task") else 0
        if getattr(ns, name) < low:
            return _error(f"--{name.replace('_', '-')} must be ≥ {low}, got {getattr(ns, name)}")
    if ns.mem_gb is not None and not ns.mem_gb > 0:
        return _error(f"--mem-gb must be > 0, got {ns.mem_gb}")
    if not ns.poll > 0:
        return _error(f"--poll must be > 0 seconds, got {ns.poll}")
    opts = SweepOptions(
        executor=ns.executor,
        partition=ns.partition,
        gpus_per_task=ns.gpus_per_task,
        cpus_per_task=ns.cpus_per_task,
        timeout_min=ns.timeout_min,
        array_parallelism=ns.array_parallelism,
        mem_gb=ns.mem_gb,
        log_dir=ns.log_dir,
        poll_s=ns.poll,
    )
    try:
        plan = load_plan(ns.plan)
        # sweep checks the cache folder and the executor before anything is submitted
        outcome = sweep(plan, ns.cache_dir, opts, say=lambda line: print(line, file=sys.stderr, flush=True))
    except (PlanError, SweepError) as e:
        return _error(str(e))
    if outcome.ok:
        print(f"sweep: every run of {ns.plan} is in {ns.cache_dir}", file=sys.stderr)
        return EXIT_OK
    format_failures(outcome)
    print(
        f"error: {len(outcome.failed)} job(s) failed; run the same command again to compute what they left undone",
        file=sys.stderr,
    )
    return EXIT_FAILED


# ---------------------------------------------------------------------------------- run
class UsageError(ValueError):
    """Bad command-line input, reported as `error: …` with exit status 2."""


def config_from_args(ns: argparse.Namespace) -> RunConfig:
    """The RunConfig the options describe; raises ValueError naming the bad parameter."""
    given = {
        f.name: getattr(ns, f.name) for f in fields(RunConfig) if f.name != "regime" and getattr(ns, f.name) is not None
    }
    for name in ("label_coords", "variants"):
        if name in given:
            given[name] = tuple(given[name])
    if "regime_params" in given:
        given["regime_params"] = tuple(sorted(given["regime_params"]))
    ctor_params = {k: v for k, v in (("C", ns.C), ("kappa", ns.kappa)) if v is not None}
    if "d" not in given:
        raise UsageError("--d is required (the input dimension, an integer >= 3)")
    if ns.regime == CUSTOM:
        if ctor_params:
            raise UsageError(f"--{next(iter(ctor_params))} applies to the regime constructors, not to --regime custom")
        missing = [f"--{n}" for n in REGIME_DERIVED if n not in given]
        if missing:
            raise UsageError(f"--regime custom needs {' '.join(missing)} (no regime computes them)")
        return RunConfig(**given, regime=CUSTOM)
    ctor = registered()[ns.regime].build
    takes = {
        n
        for n, prm in inspect.signature(ctor).parameters.items()
        if n != "d" and prm.kind is not inspect.Parameter.VAR_KEYWORD
    }
    for name in list(given):
        if name in takes:
            ctor_params[name] = given.pop(name)
    d = given.pop("d")
    return build_regime(ns.regime, d, **ctor_params, **given)


def _describe(cfg: RunConfig) -> str:
    return (
        f"{cfg.regime} d={cfg.d} p={cfg.p} m={cfg.m} eta={cfg.eta:.4g} theta={cfg.theta:.4g} steps={cfg.steps} "
        f"seeds={cfg.seed}..{cfg.seed + cfg.seeds - 1} variants={','.join(cfg.variants)} "
        f"{cfg.dtype} device={cfg.device}"
    )


def _writable_folder(folder: Path, what: str) -> None:
    """Create folder if needed and make sure a file can be written in it; UsageError names `what` and why not."""
    for f in (folder, *folder.parents):
        if f.exists():
            if not f.is_dir():
                raise UsageError(f"{what}: {f} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise UsageError(f"{what}: cannot write in {folder} ({e.strerror or e})") from None


def _error(msg: str, code: int = EXIT_USAGE) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _warning(message: Warning | str, *_: Any, **__: Any) -> None:
    """warnings.showwarning for the CLI: one `warning: …` line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def cmd_run(ns: argparse.Namespace) -> int:
    """`run`: validate everything, simulate (or read the cache), write --out."""
    from .cache import TrajectoryCache

    try:
        cfg = config_from_args(ns)
        if ns.threads is not None and not 1 <= ns.threads <= MAX_THREADS:
            raise UsageError(f"--threads = {ns.threads} is not allowed: must be an integer in [1, {MAX_THREADS}]")
        if ns.out is None and not ns.cache:
            raise UsageError("nothing would be written: give --out PATH (or --cache)")
        if ns.out is not None:
            if ns.out.is_dir():
                raise UsageError(f"--out {ns.out} is a directory; give a file path")
            _writable_folder(ns.out.parent, f"--out {ns.out}")
        cache = TrajectoryCache(ns.cache_dir) if ns.cache else None
        if cache is not None and ns.out is None and not cache.path_for(cfg).exists():
            _writable_folder(cache.root, f"--cache without --out (cache folder {cache.root})")
    except (ValueError, OSError) as e:
        return _error(f"{e} (see python -m simulator run --help)")
    from . import engine
    from .memory import MemoryBudgetError, check_memory

    if ns.threads is not None:
        import torch

        torch.set_num_threads(ns.threads)
    say = (lambda *_: None) if ns.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    bar = None if ns.quiet else ProgressBar(sys.stderr)
    say(f"xorcert run: {_describe(cfg)}")
    found = None  # what the cache fetched (None without --cache)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning  # the cache's CorruptCacheEntry, CacheNotStored, …
            if cache is not None:
                found = cache.fetch(cfg, progress=bar, notify=say)
                traj = found.trajectory
                if not found.computed:
                    say(f"cache hit: {found.path}")
            else:
                check_memory(cfg)
                traj = engine.run(cfg, progress=bar)
    except MemoryBudgetError as e:
        return _error(f"{e}; nothing was run")
    except KeyboardInterrupt:
        return _error("interrupted; no file written", EXIT_INTERRUPTED)
    except engine.SimulationDiverged as e:
        return _error(f"the run diverged: {e}; no file written", EXIT_FAILED)
    except OSError as e:
        return _error(f"{e}; no file written", EXIT_FAILED)
    finally:
        if bar is not None:
            bar.close()  # after an interrupt, an error, or a run stopped early (which never draws step T)
    stored = found.path if found is not None else None  # the cache entry holding the run
    if ns.out is not None:
        try:
            if stored is not None:  # the same bytes as the entry
                with open(stored, "rb") as src:
                    atomic_write(ns.out, lambda fh: shutil.copyfileobj(src, fh))
            else:
                traj.save(ns.out)
        except OSError as e:
            kept = f"the run is in the cache: {stored}" if stored is not None else "the computed run was not kept"
            return _error(f"could not write --out {ns.out}: {e}; {kept}", EXIT_FAILED)
    elif stored is None:
        return _error("the cache could not store the run and no --out was given: it was not kept", EXIT_FAILED)
    if found is None or found.computed:
        source = f"{traj.meta.get('wall_time_s', float('nan')):.2f} s on {traj.meta.get('device', '?')}"
    elif found.waited_s:
        holder = f"pid {found.holder}" if found.holder else "another process"
        source = f"read from the cache after waiting {found.waited_s:.1f} s for {holder}"
    else:
        source = "read from the cache"
    done = f"wrote {ns.out}" if ns.out is not None else f"in the cache: {stored}"
    print(f"{done} ({cfg.seeds} seed(s) x {len(cfg.variants)} variant(s), {traj.steps} of {cfg.steps} steps, {source})")
    return EXIT_OK


# ---------------------------------------------------------------------------------- show
def _fmt_step(t: int, steps: int) -> str:
    return "not reached" if t < 0 else f"{t} (of {steps})"


def summarize(traj: Trajectory, path: Path | str = "") -> str:
    """The human summary printed by `show`."""
    from .population import CLUSTERS

    cfg, meta = traj.config, traj.meta
    params = ", ".join(f"{k}={v}" for k, v in cfg.regime_params)
    lines = [
        f"{path}: xorcert {meta.get('package_version', '?')} trajectory",
        f"  regime      {cfg.regime}" + (f" ({params})" if params else ""),
        f"  d {cfg.d}   p {cfg.p}   m {cfg.m}   eta {cfg.eta:.6g}   theta {cfg.theta:.6g}   "
        f"steps {cfg.steps}   n = m*T = {cfg.samples}   zeta = 1/log d = {cfg.zeta:.4g}",
        f"  data {cfg.data}   label coords {list(cfg.label_coords)}   init {cfg.init}   dtype {cfg.dtype}"
        + (f"   label noise {cfg.label_noise:g} (training labels only)" if cfg.label_noise else "")
        + (f"   weight decay {cfg.weight_decay:g}" if cfg.weight_decay else "")
        + (f"   lr ratio {cfg.lr_ratio:g} (second layer)" if cfg.lr_ratio != 1 else ""),
        f"  seeds       {cfg.seeds} ({', '.join(map(str, traj.seeds))})",
        f"  variants    {', '.join(cfg.variants)}",
        f"  run time    {meta.get('wall_time_s', float('nan')):.2f} s on {meta.get('device', '?')}"
        f" (requested device {cfg.device})",
    ]
    if meta.get("stopped_early"):
        if 0 < cfg.stop_step <= traj.steps:
            why = f"past stop_step = {cfg.stop_step}"
        elif cfg.stop_error > 0 and bool((traj.test_error()[-1] <= cfg.stop_error).all()):
            why = f"every seed's test error <= stop_error = {cfg.stop_error}"
        else:
            why = f"every seed past T1, T_eps (eps = {cfg.stop_phases}) and T_L, with a margin"
        lines.append(f"  stopped     early at step {traj.steps} of {cfg.steps}: {why}")
    elif not traj.complete:
        lines.append(
            f"  PARTIAL     {traj.steps} of {cfg.steps} steps recorded, without the last snapshot "
            "(a diverged run's record)"
        )
    clusters = "  ".join(f"({ci:+d},{cj:+d})" for ci, cj in CLUSTERS)
    for v in cfg.variants:
        t1, t2, fin = traj.T1(v), traj.T2(v), traj.final(v)
        # the deviation from the linear regime of the variant's loss (docs/SPEC.md §2)
        t2_label = "T2 (max |h'+1| >= zeta)" if VARIANTS[v].loss == "logistic" else "T2 (max |h'/h'(0)-1| >= zeta)"
        for r, seed in enumerate(traj.seeds):
            cm = "  ".join(f"{x:+.4f}" for x in fin["clean_margin"][r])
            lines += [
                f"seed {seed}, variant {v}:",
                f"  T1 (S_t >= 1 - zeta)          {_fmt_step(int(t1[r]), traj.steps)}",
                f"  {t2_label:<30}{_fmt_step(int(t2[r]), traj.steps)}",
                f"  final test error              {fin['error'][r]:.4f}   95% CI [{fin['error_lo'][r]:.4f}, "
                f"{fin['error_hi'][r]:.4f}] (Clopper-Pearson, n = {cfg.test_size})",
                f"  final test loss               {fin['loss'][r]:.4f}",
                f"  clean cluster margins {clusters}",
                f"                        {cm}",
            ]
    return "\n".join(lines)


def cmd_show(ns: argparse.Namespace) -> int:
    """`show`: summarize each file; exit 2 if any is missing or damaged."""
    from .trajectory import Trajectory, TrajectoryFileError

    status = EXIT_OK
    for i, path in enumerate(ns.files):
        try:
            traj = Trajectory.load(path)
        except (TrajectoryFileError, OSError) as e:
            status = _error(f"cannot read {path}: {e}")
            continue
        print(("\n" if i else "") + summarize(traj, path))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m simulator`; returns the exit status."""
    try:
        parser = build_parser()  # loads the registries' entry points for the --regime and --data choices
    except RegistryError as e:
        return _error(str(e))
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return {"run": cmd_run, "show": cmd_show, "sweep": cmd_sweep}[ns.command](ns)
    except KeyboardInterrupt:
        return _error("interrupted; no file written", EXIT_INTERRUPTED)
