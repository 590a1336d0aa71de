"""Step-time benchmark of the engine against a naive PyTorch loop and the two-GEMM floor.

    .venv/bin/python benchmarks/bench_step.py [--quick] [--d 64 256 1024] [--steps N] [--repeats K]
                                              [--root DIR] [--threads N] [--json FILE]

`--root DIR` measures the simulator of another checkout (e.g. the main branch, for before /
after figures of a change); the script itself is this one.

Paper regime (simulator.paper(d), docs/SPEC.md §1), float32, CPU. For each d:

  naive    the loop a researcher usually writes: simulator/reference.py's autograd step
           (the one the engine's oracle test uses, always this checkout's), a DataLoader
           (num_workers=1) over an IterableDataset drawing torch.randint ±1 batches of
           m rows, and the per-step norms ‖w_sig‖, ‖w_opp‖, ‖w_perp‖, a fetched with .cpu()
  engine   simulator.run(cfg) with every per-step record (PER_STEP_FIELDS) on and
           minimal snapshots (snapshots=2 plus the ~24 log-spaced ones, on a 16-point
           test set); "engine+snap" adds the amortised cost of the full recording of a
           real run: snapshot_steps(T, 50) evaluations of the 20 000-point test set over T
           steps, one evaluation timed as the engine makes it (the test set kept in memory
           when the engine keeps it)
  floor    the two GEMMs of a step, Z = X Wᵀ and G = Dᵀ X, on a pre-generated X (m, d)
  gen      batch generation alone, the m rows in the engine's row chunks: through the engine's
           reused workspace (data.BooleanSampler), and "gen(api)" through data.boolean_rows

GFLOP/s counts 4·m·d·p flop per step for every line. Then:

  snapshot share  a real run at d = 64 (simulator.paper(64), the whole horizon T, one seed)
                  with its own recording (the default snapshot grid, 20 000 test points)
                  against the same run with minimal snapshots: the share of the real run's
                  time that the extra snapshots take, (full - minimal) / full
  small batch     small_batch(d, m) with R = 4 seeds, every per-step record on, minimal
                  snapshots, m in {1, 2, 4}, d in {64, 256}: ms per step, the marginal cost
                  (a run of SMALL_STEPS steps minus one of SMALL_STEPS / 10, per step between)
  seeds           R = 16 and 64 seeds at d = 32, batched (cfg.replace(seeds=R)) against the
                  same R runs one after another (seed-steps/s)
  memory          the engine's peak memory at d = 1024 (VmHWM of a fresh subprocess per
                  configuration)

and the targets of the issue "Engine v2" (TARGETS), each marked met or MISSED.

Every figure is the minimum over `--repeats` rounds, and the rounds go round-robin over all
the measurements (a burst of load from other processes then spoils one sample of each, not
every sample of one); all ratios come from this one process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def _code_root() -> Path:
    """The checkout whose simulator is measured: --root DIR, else this one (read before the imports)."""
    if "--root" in sys.argv[:-1]:
        return Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
    return Path(__file__).resolve().parents[1]


ROOT = _code_root()
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset  # noqa: E402

import simulator  # noqa: E402
from simulator import data, population  # noqa: E402
from simulator.trajectory import snapshot_steps  # noqa: E402

try:
    from simulator.recorder import EVAL_ELEMENTS  # noqa: E402
    from simulator.workspace import chunk_rows_for  # noqa: E402
except ImportError:  # --root: a checkout from before the engine was split into parts
    from simulator.engine import EVAL_ELEMENTS, chunk_rows_for  # type: ignore[attr-defined,no-redef]  # noqa: E402


def _reference():
    """simulator/reference.py of this checkout, whatever --root measures: the naive loop is one yardstick."""
    path = Path(__file__).resolve().parents[1] / "simulator" / "reference.py"
    spec = importlib.util.spec_from_file_location("xorcert_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


reference = _reference()

# Steps timed per sample (engine, naive) at each d; --steps overrides both.
ENGINE_STEPS = {32: 400, 64: 1000, 256: 100, 1024: 8}
NAIVE_STEPS = {32: 100, 64: 100, 256: 20, 1024: 3}
QUICK_DIV = 4
SMALL_STEPS = 3000  # steps of the long small-batch run (the short one runs a tenth)
SMALL_GRID = [(d, m) for d in (64, 256) for m in (1, 2, 4)]  # C10's grid: (d, m), R = 4 seeds
TARGETS = {  # the issue "Engine v2"
    "floor": {64: 3.0, 256: 1.6, 1024: 1.25},  # engine / two-GEMM floor time, every record on: at most
    "speedup_naive": 20.0,  # engine / naive steps/s, at every d: at least
    "batched_64": 5.0,  # batched R = 64 / sequential seed-steps/s: at least
    "peak_mib_1024": 300.0,  # engine peak memory at d = 1024: at most
    "snapshot_share_64": 0.15,  # the snapshots' share of a real run at d = 64: at most
    "small_batch_ms": 0.1,  # ms per step at every (d, m) of SMALL_GRID, R = 4: at most
}


def flop_per_step(cfg) -> float:
    return 4.0 * cfg.m * cfg.d * cfg.p


def bench_cfg(cfg, steps: int):
    """Every per-step record on; the minimal snapshot grid, on a 16-point test set."""
    return cfg.replace(steps=steps, snapshots=2, test_size=16, device="cpu")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------
# (1) the naive loop
# ---------------------------------------------------------------------------


class XorStream(IterableDataset):
    """Fresh ±1 minibatches of m rows, y = -x_0 x_1."""

    def __init__(self, m: int, d: int, seed: int):
        self.m, self.d, self.seed = m, d, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        while True:
            x = 2 * torch.randint(0, 2, (self.m, self.d), generator=g).float() - 1
            yield x, -x[:, 0] * x[:, 1]


class Naive:
    """The naive loop; one sample = `steps` steps after two untimed ones, on a DataLoader started
    for the sample and shut down after it: its worker runs alongside the timed steps, and its
    prefetching cannot steal a core from the measurement that comes next."""

    def __init__(self, cfg, steps: int):
        torch.manual_seed(0)
        self.cfg, self.steps = cfg, steps
        u = torch.randn(cfg.p, cfg.d)
        self.W = cfg.theta * u / u.norm(dim=1, keepdim=True)  # (p, d) on the sphere of radius θ
        self.a = cfg.theta * (2 * torch.randint(0, 2, (cfg.p,)) - 1).float()  # (p,) ±θ
        self.update = reference.Update(eta=cfg.eta)
        self.log: list = []

    def step(self, loader) -> None:
        x, y = next(loader)
        step = reference.sgd_step(self.W, self.a, x, y, self.update)
        self.W, self.a = step.W, step.a
        w, a = step.W, step.a  # the per-step norms a researcher logs
        plus, minus = (w[:, 0] - w[:, 1]) / math.sqrt(2), (w[:, 0] + w[:, 1]) / math.sqrt(2)
        pos = a >= 0
        self.log.append(
            (
                torch.where(pos, plus, minus).abs().cpu(),
                torch.where(pos, minus, plus).abs().cpu(),
                w[:, 2:].norm(dim=1).cpu(),
                a.cpu(),
                step.loss.cpu(),
            )
        )

    def sample(self) -> float:
        loader = iter(DataLoader(XorStream(self.cfg.m, self.cfg.d, seed=0), batch_size=None, num_workers=1))
        try:
            self.step(loader)
            self.step(loader)
            t = timed(lambda: [self.step(loader) for _ in range(self.steps)]) / self.steps  # noqa: F821 - del below
        finally:
            del loader  # the last reference: the iterator shuts its worker down now
        self.log.clear()
        return t


# ---------------------------------------------------------------------------
# (2) the engine, (3) the floor and the generator
# ---------------------------------------------------------------------------


class Engine:
    def __init__(self, cfg, steps: int):
        self.cfg, self.steps = bench_cfg(cfg, steps), steps
        simulator.run(self.cfg.replace(steps=2))  # warm-up

    def sample(self) -> float:
        return timed(lambda: simulator.run(self.cfg)) / self.steps


class Snapshot:
    """One snapshot's test-set evaluation (20 000 points by default) at the initial weights, as the
    engine makes it: its chunking, and its test set kept in memory (population.TestSet) where the
    measured code has one."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.W, self.a = data.init_params(
            [cfg.seed],
            cfg.p,
            cfg.d,
            cfg.theta,
            cfg.init,
            cfg.finder_fraction,
            cfg.pair,
            torch.float32,
            torch.device("cpu"),
        )
        self.rows = max(64, min(4096, EVAL_ELEMENTS // cfg.d))
        test_set = getattr(population, "TestSet", None)
        self.kw = {"test": test_set(cfg, torch.float32, torch.device("cpu"), self.rows)} if test_set else {}
        self.sample()

    def sample(self) -> float:
        return timed(lambda: population.evaluate(self.W, self.a, 1, self.cfg, chunk_rows=self.rows, **self.kw))


class RealRun:
    """simulator.run of the paper regime at d over the whole horizon T, with the run's own recording
    (the default snapshot grid on the 20 000-point test set) or minimal snapshots (snapshots=2,
    which still adds the ~24 log-spaced steps, on a 16-point test set)."""

    def __init__(self, d: int, full: bool):
        cfg = simulator.paper(d, device="cpu")
        self.cfg = cfg if full else cfg.replace(snapshots=2, test_size=16)
        self.snapshots = len(snapshot_steps(cfg.steps, self.cfg.snapshots))
        simulator.run(self.cfg.replace(steps=2))

    def sample(self) -> float:
        return timed(lambda: simulator.run(self.cfg))


class SmallBatch:
    """small_batch(d, m) with R = 4 seeds, every per-step record on and minimal snapshots, for `steps`
    steps: the long and the short run of the marginal per-step cost."""

    def __init__(self, d: int, m: int, steps: int):
        base = simulator.small_batch(d, m=m, seeds=4, device="cpu")
        self.cfg = base.replace(steps=steps, snapshots=2, test_size=16)
        simulator.run(self.cfg.replace(steps=5))

    def sample(self) -> float:
        return timed(lambda: simulator.run(self.cfg))


class Floor:
    """Z = X Wᵀ and G = Dᵀ X on a pre-generated X (m, d): the two GEMMs of a step, nothing else."""

    def __init__(self, cfg):
        m, d, p = cfg.m, cfg.d, cfg.p
        self.X = 2 * torch.randint(0, 2, (m, d)).float() - 1
        self.W, self.D = torch.randn(p, d), torch.randn(m, p)
        self.Z, self.G = torch.empty(m, p), torch.empty(p, d)
        self.sample()

    def gemms(self) -> None:
        torch.mm(self.X, self.W.t(), out=self.Z)
        torch.mm(self.D.t(), self.X, out=self.G)

    def sample(self) -> float:
        return min(timed(self.gemms) for _ in range(3))


class Gen:
    """The m rows of a step in the engine's row chunks: through the engine's reused sampler
    workspace (data.BooleanSampler), or (api) through data.boolean_rows call by call."""

    def __init__(self, cfg, api: bool):
        self.cfg, self.api, self.c = cfg, api, chunk_rows_for(cfg)
        self.keys = data.step_keys(data.seed_keys([cfg.seed], data.STREAM_BATCH, torch.device("cpu")), 7)
        self.buf = torch.empty(self.c * 8 * ((cfg.d + 7) // 8))
        self.sampler = data.BooleanSampler(1, self.c, cfg.d, torch.float32, torch.device("cpu"), out=self.buf)
        self.sample()

    def gen(self) -> None:
        for r0 in range(0, self.cfg.m, self.c):
            rows = min(self.c, self.cfg.m - r0)
            if self.api:
                data.boolean_rows(self.keys, r0, rows, self.cfg.d, torch.float32, self.buf)
            else:
                self.sampler(self.keys, r0, rows)

    def sample(self) -> float:
        return min(timed(self.gen) for _ in range(2))


class Seeds:
    """R seeds at once (cfg.replace(seeds=R)) or the same R runs one after another: seconds per seed-step."""

    def __init__(self, d: int, R: int, steps: int, batched: bool):
        self.cfg, self.R, self.steps, self.batched = bench_cfg(simulator.paper(d), steps), R, steps, batched
        simulator.run(self.cfg.replace(seeds=R if batched else 1, steps=2))

    def run(self) -> None:
        if self.batched:
            simulator.run(self.cfg.replace(seeds=self.R))
        else:
            for s in range(self.R):
                simulator.run(self.cfg.replace(seed=s))

    def sample(self) -> float:
        return timed(self.run) / (self.R * self.steps)


# ---------------------------------------------------------------------------
# peak memory
# ---------------------------------------------------------------------------

# The child imports only the simulator (not this script's DataLoader / nn imports), so that its
# high-water mark is the engine's: torch itself, then the run.
_PEAK_CHILD = r"""
import json, resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])

def vm_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

import torch, simulator
try:
    from simulator.workspace import chunk_rows_for
except ImportError:
    from simulator.engine import chunk_rows_for
d, steps, mode = (int(v) for v in sys.argv[2:5])
base = vm_kib("VmRSS")
cfg = simulator.paper(d, device="cpu")
if mode == 0:  # minimal snapshots, as timed
    cfg = cfg.replace(steps=steps, snapshots=2, test_size=16)
elif mode == 1:  # full recording: the default snapshot grid and 20 000-point test set
    cfg = cfg.replace(steps=steps)
else:  # the full horizon T and full recording, the batch cut to one chunk of rows
    cfg = cfg.replace(m=chunk_rows_for(cfg))
simulator.run(cfg)
print(json.dumps({"base_kib": base, "hwm_kib": vm_kib("VmHWM"),
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_memory(d: int, steps: int, mode: int) -> dict:
    """VmHWM of a fresh process that runs one configuration (mode: see _PEAK_CHILD).

    Mode 2 keeps every per-step record and snapshot of the full horizon and the same
    workspace, but not the per-row block buffers of the real batch, R·m·(2V+3) floats.
    """
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(ROOT), str(d), str(steps), str(mode)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------


def code_commit(root: Path) -> str:
    """The checkout's HEAD commit (short), '+' if its simulator has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "simulator"], capture_output=True, text=True
        )
        return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")
    except OSError:
        return "?"


def machine() -> dict:
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "load": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    ap.add_argument("--d", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--steps", type=int, default=0, help="steps per timed sample (default: per-d table)")
    ap.add_argument("--repeats", type=int, default=0, help="rounds of samples; the minimum of each figure is kept")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    ap.add_argument("--no-batched", action="store_true", help="skip the batched-seeds comparison")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument(
        "--full-horizon-memory",
        action="store_true",
        help="also measure the peak memory of a full-horizon run (T steps, batch cut to one chunk)",
    )
    ap.add_argument("--no-small", action="store_true", help="skip the small-batch steps")
    ap.add_argument("--no-share", action="store_true", help="skip the snapshot share of a real run at d = 64")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    ap.add_argument("--root", type=str, default="", help="measure the simulator of this checkout (default: this one)")
    ap.add_argument("--json", type=str, default="", help="also write the figures to this file")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)

    def n_steps(table: dict, d: int) -> int:
        if args.steps:
            return args.steps
        n = table.get(d, max(2, int(table[1024] * (1024 / d) ** 2)))
        return max(2, n // QUICK_DIV) if quick else n

    mach = machine()
    print(
        f"# xorcert bench_step  {time.strftime('%Y-%m-%d %H:%M')}  {mach['cpu']}, {mach['cores']} cores, "
        f"torch {mach['torch']} ({mach['capability']}), {mach['threads']} threads, "
        f"load {mach['load'][0]:.2f}",
        flush=True,
    )
    print(f"# command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    print(f"# simulator: {Path(simulator.__file__).parent} at {code_commit(ROOT)}")
    print(
        f"# paper regime, float32; each figure the minimum over {repeats} round-robin rounds; "
        "GFLOP/s at 4·m·d·p flop/step",
        flush=True,
    )

    # ---- set up every measurement, then sample them round-robin ----
    cfgs = {d: simulator.paper(d, device="cpu") for d in args.d}
    probes: dict[tuple, object] = {}
    for d, cfg in cfgs.items():
        probes[(d, "floor(GEMMs)")] = Floor(cfg)
        probes[(d, "gen")] = Gen(cfg, api=False)
        probes[(d, "gen(api)")] = Gen(cfg, api=True)
        probes[(d, "engine")] = Engine(cfg, n_steps(ENGINE_STEPS, d))
        probes[(d, "snapshot")] = Snapshot(cfg)
        if not args.no_naive:
            probes[(d, "naive")] = Naive(cfg, n_steps(NAIVE_STEPS, d))
    d_s = 64  # the snapshot share of a real run
    if not args.no_share:
        probes[("share", "full")] = RealRun(d_s, full=True)
        probes[("share", "minimal")] = RealRun(d_s, full=False)
    n_small = max(20, SMALL_STEPS // QUICK_DIV) if quick else SMALL_STEPS
    if not args.no_small:
        for d, m in SMALL_GRID:
            probes[("small", d, m, "long")] = SmallBatch(d, m, n_small)
            probes[("small", d, m, "short")] = SmallBatch(d, m, n_small // 10)
    d_b = 32
    n_b = n_steps(ENGINE_STEPS, d_b)
    if not args.no_batched:
        for R in (16, 64):
            probes[("seeds", R, "batched")] = Seeds(d_b, R, n_b, batched=True)
            probes[("seeds", R, "sequential")] = Seeds(d_b, R, n_b, batched=False)
    best = {k: math.inf for k in probes}
    for r in range(repeats):
        for k, probe in probes.items():
            best[k] = min(best[k], probe.sample())
        print(f"#   round {r + 1}/{repeats} done, load {os.getloadavg()[0]:.2f}", flush=True)

    # ---- per-d table ----
    res: dict = {"machine": mach, "argv": sys.argv, "repeats": repeats, "d": {}}
    print(f"{'d':>5} {'p':>3} {'m':>6} {'line':<12} {'steps/s':>10} {'ms/step':>9} {'GFLOP/s':>8} {'vs floor':>9}")
    for d, cfg in cfgs.items():
        fl = flop_per_step(cfg)
        t_floor, t_eng, t_snap = best[(d, "floor(GEMMs)")], best[(d, "engine")], best[(d, "snapshot")]
        n_snap = len(snapshot_steps(cfg.steps, cfg.snapshots))
        lines = {
            "naive": best.get((d, "naive"), math.nan),
            "engine": t_eng,
            "engine+snap": t_eng + n_snap * t_snap / cfg.steps,
            "floor(GEMMs)": t_floor,
            "gen": best[(d, "gen")],
            "gen(api)": best[(d, "gen(api)")],
        }
        for name, t in lines.items():
            print(
                f"{d:>5} {cfg.p:>3} {cfg.m:>6} {name:<12} {1 / t:>10.1f} {1e3 * t:>9.3f} {fl / t / 1e9:>8.1f} "
                f"{t / t_floor:>8.2f}x"
            )
        row = {
            "p": cfg.p,
            "m": cfg.m,
            "chunk_rows": chunk_rows_for(cfg),
            **lines,
            "snapshot_s": t_snap,
            "snapshots_full_run": n_snap,
            "T": cfg.steps,
            "speedup_vs_naive": lines["naive"] / t_eng,
            "engine_over_floor": t_eng / t_floor,
        }
        print(
            f"      engine vs naive {row['speedup_vs_naive']:.1f}x, engine / floor {t_eng / t_floor:.2f}, "
            f"gen / floor {lines['gen'] / t_floor:.2f}; one 20k-point snapshot {1e3 * t_snap:.1f} ms, "
            f"{n_snap} of them over T = {cfg.steps} steps (+{100 * (lines['engine+snap'] / t_eng - 1):.1f}%)"
        )
        res["d"][d] = row

    if not args.no_share:
        full, minimal = best[("share", "full")], best[("share", "minimal")]
        n_full, n_min = probes[("share", "full")].snapshots, probes[("share", "minimal")].snapshots  # type: ignore[attr-defined]
        share = (full - minimal) / full
        T_s = simulator.paper(d_s).steps
        print(f"\n# snapshot share of a real run at d = {d_s} (paper regime, T = {T_s} steps, one seed)")
        print(
            f"  full recording ({n_full} snapshots, 20 000 test points) {full:8.3f} s   minimal ({n_min} snapshots, "
            f"16 points) {minimal:8.3f} s   share {100 * share:5.1f}%   "
            f"({1e3 * (full - minimal) / max(1, n_full - n_min):.2f} ms per extra snapshot)"
        )
        res["snapshot_share"] = {"full_s": full, "minimal_s": minimal, "share": share, "snapshots": n_full}

    if not args.no_small:
        print(
            f"\n# small batches (small_batch(d, m), R = 4 seeds, every record on): ms per step, marginal over "
            f"{n_small - n_small // 10} steps"
        )
        res["small_batch"] = {}
        for d, m in SMALL_GRID:
            long, short = best[("small", d, m, "long")], best[("small", d, m, "short")]
            ms = 1e3 * (long - short) / (n_small - n_small // 10)
            print(
                f"  d = {d:>3}, m = {m}: {ms:7.4f} ms/step   (whole run of {n_small} steps: {1e3 * long / n_small:.4f})"
            )
            res["small_batch"][f"{d},{m}"] = ms

    if not args.no_batched:
        print(f"\n# batched seeds at d = {d_b} (paper regime), {n_b} steps: seed-steps/s")
        res["batched"] = {}
        for R in (16, 64):
            b, s = 1 / best[("seeds", R, "batched")], 1 / best[("seeds", R, "sequential")]
            print(f"  R = {R:>2}: batched {b:>10.0f}   sequential {s:>10.0f}   ratio {b / s:.1f}x")
            res["batched"][R] = {"batched": b, "sequential": s, "ratio": b / s}

    if not args.no_memory:
        d_m = 1024
        n_m = 2 if quick else 8
        print(f"\n# peak memory of the engine at d = {d_m} (fresh subprocess each, VmHWM)")
        res["memory"] = {}
        modes = [("minimal snapshots", 0), ("full recording, 20k test set", 1)]
        if args.full_horizon_memory:
            modes.append(("full horizon T, full recording", 2))
        for label, mode in modes:
            pk = peak_memory(d_m, n_m, mode)
            steps_txt = f"{n_m} steps" if mode < 2 else f"T = {simulator.paper(d_m).steps} steps, m = one chunk"
            print(
                f"  {label:<32} peak {pk['hwm_kib'] / 1024:7.1f} MiB  "
                f"(after imports {pk['base_kib'] / 1024:6.1f} MiB), "
                f"{steps_txt}"
            )
            res["memory"][label] = pk
        cfg = simulator.paper(d_m)
        S = len(snapshot_steps(cfg.steps, cfg.snapshots))
        rec_mib = 4 * cfg.steps * cfg.p * 12 / 2**20  # the per-step records at the full horizon (float32)
        snap_mib = 4 * S * cfg.p * (cfg.d + 1) / 2**20
        print(
            f"  (a full-horizon run holds ≈ {rec_mib:.1f} MiB of per-step records and {snap_mib:.1f} MiB of "
            f"snapshots ({S}); ru_maxrss is not used: it keeps the parent's size across exec)"
        )

    # ---- targets ----
    print('\n# targets (issue "Engine v2")')
    checks = []
    for d, limit in TARGETS["floor"].items():
        if d in res["d"]:
            v = res["d"][d]["engine_over_floor"]
            checks.append((f"engine <= {limit}x GEMM floor at d = {d}", v, v <= limit))
    for d in res["d"]:
        if not args.no_naive:
            v = res["d"][d]["speedup_vs_naive"]
            lim = TARGETS["speedup_naive"]
            checks.append((f"engine >= {lim:.0f}x naive at d = {d}", v, v >= lim))
    if "batched" in res:
        v = res["batched"][64]["ratio"]
        checks.append((f"batched R = 64 >= {TARGETS['batched_64']:.0f}x sequential", v, v >= TARGETS["batched_64"]))
    if "memory" in res:
        v = max(pk["hwm_kib"] for pk in res["memory"].values()) / 1024
        checks.append(
            (f"peak memory at d = 1024 <= {TARGETS['peak_mib_1024']:.0f} MiB", v, v <= TARGETS["peak_mib_1024"])
        )
    if "snapshot_share" in res:
        v = res["snapshot_share"]["share"]
        lim = TARGETS["snapshot_share_64"]
        checks.append((f"snapshots <= {100 * lim:.0f}% of a real run at d = {d_s}", 100 * v, v <= lim))
    if "small_batch" in res:
        (worst, v) = max(res["small_batch"].items(), key=lambda kv: kv[1])
        lim = TARGETS["small_batch_ms"]
        dw, mw = worst.split(",")
        checks.append((f"small batch <= {lim} ms/step (worst: d = {dw}, m = {mw})", v, v <= lim))
    for name, val, ok in checks:
        print(f"  {'met   ' if ok else 'MISSED'}  {name:<52} {val:8.3f}")
    res["checks"] = [{"target": n, "value": v, "met": ok} for n, v, ok in checks]
    print(f"# load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
