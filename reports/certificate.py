"""The certificate: every claim × regime × hypothesis example of a run, as versioned JSON.

Layout (schema `xorcert-certificate`, version `SCHEMA_VERSION`)::

    {"schema": "xorcert-certificate", "schema_version": 1,
     "spec":    {"package": "xorcert", "package_version": "0.1.0", "thresholds": THRESHOLDS.to_dict()},
     "profile": "quick",
     "env":     {"git_commit", "git_dirty", "python", "platform", "torch", "numpy", "hypothesis", ...},
     "complete": true, "incomplete_reasons": [],
     "claims":  {"C1": {"slug", "title", "anchor", "statement", "decisions", "needs",
                        "key_stats": [KeyStat.to_dict(), ...]}, ...},
     "regimes": ["paper", "small_batch", ...],
     "builtin_regimes": ["paper", "small_batch", ...],
     "items":   {nodeid: {"claim", "regime", "outcome", "examples", "message", "reproduce",
                          "counterexample" (a search profile's minimal one, lemmas.hunt.Found)}},
     "entries": [{"claim", "regime", "profile", "nodeid", "index", "example", "expected",
                  "seconds", "device", "reproduce", "verdict": Verdict.to_dict(),
                  "confirmation" (only where the decision contradicted the record:
                  {"first", "decisions", "confirmed", "unconfirmed"})}, ...],
     "trends":  [{"claim", "regime", "profile", "nodeid", "expected", "outcome", "message",
                  "seconds", "reproduce", "trend": TrendVerdict.to_dict()}, ...],
     "run":     {"date", "command", "exitstatus", "duration_s", "workers", "items": {nodeid: {...}}}}

`claims[id]["key_stats"]` are the statistics the claim's verdict turns on (lemmas.report.KeyStat),
which the report and the terminal summary show. `builtin_regimes` lists the regimes that
ship with xorcert; any other regime of `regimes` is a user regime (the report sets it
beside `paper`); certificates without the field read as `BUILTIN_REGIMES`. An entry's
`expected` is None where the baseline knows no verdict for it (a new cell), and its
`reproduce` is the command that evaluates the example alone (absent in older certificates).
`trends` are the trend items (lemmas.trends: a claim's violation over a d-ladder), one per
(claim, regime), in claim order; absent in certificates of runs without trend items.

`spec` is what makes two certificates comparable: certificates of different specs
(thresholds or package version) are never merged. `run` is everything that differs
between two executions of the same sweep (dates, timings, worker ids, shard layout); the
rest — `canonical(cert)` — is the certificate proper, so a merge of the shards of a sweep
equals the certificate of the whole sweep run at once. Entries are kept in a canonical
order (claim, regime, node id, example index), independent of the order xdist ran them.

Only the controller builds certificates; this module imports nothing from pytest and
never simulates (the plugin hands it the records the workers attached to their reports).
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.metadata
import math
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lemmas.plain import STATUSES, num, sanitize

from .files import read_json

SCHEMA = "xorcert-certificate"
SCHEMA_VERSION = 1
TREND_STATUSES = ("vanishes", "persists", "undecided")  # lemmas.trends.TREND_STATUSES (which imports torch)
BUILTIN_REGIMES = (
    "paper",
    "small_batch",
    "gaussian",
    "first_layer_only",
    "large_init",
    "parity3",
    "sparse_finders",
)  # the regimes that ship with xorcert; others are users'
VOLATILE = ("run",)  # top-level keys that differ between executions of one sweep
ENTRY_IDENTITY = ("claim", "regime", "profile", "nodeid", "index", "example", "expected", "verdict")


class CertificateError(ValueError):
    """A file that is not a certificate this code can read."""


class MergeError(ValueError):
    """Certificates that cannot be merged (different specifications, profiles, or clashing shards)."""


# ------------------------------------------------------------------------------ building
def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def claim_order(cid: str) -> tuple[int, int, str]:
    """C2 before C10, every claim before an open question (Q1): by the id's letters, then its number."""
    m = re.fullmatch(r"([A-Za-z]*)(\d*)", cid or "")
    letters, number = (m.group(1), m.group(2)) if m else (cid or "", "")
    return (0 if letters == "C" else 1, int(number) if number else 10**6, cid or "")


def git_commit(root: str | Path | None = None) -> tuple[str, bool | None]:
    """(HEAD commit or 'unknown', whether tracked files differ from it or None if unknown)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown", None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip(), (bool(dirty.stdout.strip()) if dirty.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment(root: str | Path | None = None) -> dict[str, Any]:
    """Where the run happened: git commit, interpreter, platform, library versions."""
    commit, dirty = git_commit(root)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _dist_version("torch"),
        "numpy": _dist_version("numpy"),
        "hypothesis": _dist_version("hypothesis"),
        "pytest": _dist_version("pytest"),
        "scipy": _dist_version("scipy"),
    }


def current_spec() -> dict[str, Any]:
    """The specification of this checkout: package version and the thresholds table."""
    from lemmas.base import THRESHOLDS
    from simulator import __version__

    return sanitize({"package": "xorcert", "package_version": __version__, "thresholds": THRESHOLDS.to_dict()})


def current_claims() -> dict[str, dict[str, Any]]:
    """Claim metadata from the registry (what the report prints above each claim's evidence)."""
    from lemmas.base import registry

    return {
        cid: {
            "slug": c.slug,
            "title": c.title,
            "anchor": c.anchor,
            "statement": c.statement,
            "decisions": c.decisions,
            "needs": c.needs,
            "key_stats": [k.to_dict() for k in c.key_stats],
        }
        for cid, c in registry().items()
    }


def current_regimes() -> list[str]:
    """The registered regimes, built-in ones first (the simulator's registry)."""
    from simulator import registered_regimes

    return list(registered_regimes())


def entry_from_record(record: Mapping[str, Any], nodeid: str, index: int, device: str = "unknown") -> dict[str, Any]:
    """One certificate entry from the `xorcert_verdict` record a test attached (builtin types)."""
    verdict = dict(record.get("verdict") or {})
    entry = {
        "claim": record.get("claim") or verdict.get("claim"),
        "regime": record.get("regime"),
        "profile": record.get("profile"),
        "nodeid": nodeid,
        "index": index,
        "example": record.get("example") or {},
        "expected": record.get("expected"),
        "seconds": record.get("seconds"),
        "device": record.get("device", device),
        "verdict": verdict,
    }
    if record.get("reproduce"):
        entry["reproduce"] = str(record["reproduce"])
    if isinstance(record.get("confirmation"), Mapping):  # a contradiction of the record, decided again
        entry["confirmation"] = dict(record["confirmation"])
    return sanitize(entry)


def unconfirmed(entry: Mapping[str, Any]) -> bool:
    """The entry contradicted its record per example but not at the family level (lemmas.plan.confirm)."""
    return bool((entry.get("confirmation") or {}).get("unconfirmed"))


def build(
    entries: Iterable[Mapping[str, Any]],
    *,
    spec: Mapping[str, Any],
    env: Mapping[str, Any],
    run: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]] | None = None,
    claims: Mapping[str, Any] | None = None,
    regimes: Sequence[str] = (),
    profile: str | None = None,
    complete: bool = True,
    incomplete_reasons: Sequence[str] = (),
    builtin_regimes: Sequence[str] = BUILTIN_REGIMES,
    trends: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Assemble a certificate; entries and trends are put in canonical order."""
    entries = [dict(e) for e in entries]
    profiles = sorted({e["profile"] for e in entries if e.get("profile")})
    if profile is None:
        profile = profiles[0] if len(profiles) == 1 else (None if not profiles else "+".join(profiles))
    regime_list = list(dict.fromkeys([*regimes, *(e["regime"] for e in entries if e.get("regime"))]))
    cert = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "spec": dict(spec),
        "profile": profile,
        "env": dict(env),
        "complete": bool(complete),
        "incomplete_reasons": list(incomplete_reasons),
        "claims": dict(claims or {}),
        "regimes": regime_list,
        "builtin_regimes": list(builtin_regimes),
        "items": dict(items or {}),
        "entries": sort_entries(entries, regime_list),
        "run": dict(run),
    }
    trend_list = [dict(t) for t in trends]
    if trend_list:
        cert["trends"] = sort_entries(trend_list, regime_list)
    return sanitize(cert)


def sort_entries(entries: Iterable[Mapping[str, Any]], regimes: Sequence[str]) -> list[Mapping[str, Any]]:
    rank: dict[str | None, int] = {r: i for i, r in enumerate(regimes)}
    return sorted(
        entries,
        key=lambda e: (
            claim_order(e.get("claim") or ""),
            rank.get(e.get("regime"), len(rank)),
            e.get("regime") or "",
            e.get("nodeid") or "",
            int(e.get("index") or 0),
        ),
    )


# ------------------------------------------------------------------------------ reading
def validate(cert: Any, where: str = "certificate") -> dict[str, Any]:
    """Check the schema and the keys the rest of the code reads; return cert."""
    if not isinstance(cert, dict) or cert.get("schema") != SCHEMA:
        raise CertificateError(f"{where}: not an xorcert certificate (schema {SCHEMA!r} expected)")
    version = cert.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CertificateError(f"{where}: schema_version {version!r}; this code reads version {SCHEMA_VERSION}")
    for key, kind in (("spec", dict), ("entries", list), ("items", dict), ("claims", dict), ("regimes", list)):
        if not isinstance(cert.get(key), kind):
            raise CertificateError(f"{where}: '{key}' missing or not a {kind.__name__}")
    for i, e in enumerate(cert["entries"]):
        if not isinstance(e, dict):
            raise CertificateError(f"{where}: entries[{i}] is not a mapping (found {type(e).__name__}: {str(e)[:80]})")
        bad = next((k for k in ("verdict", "example") if not isinstance(e.get(k, {}), dict)), None)
        if bad is not None:
            raise CertificateError(f"{where}: entries[{i}]['{bad}'] is not a mapping")
    for key in ("items", "claims"):
        bad = next((k for k, v in cert[key].items() if not isinstance(v, dict)), None)
        if bad is not None:
            raise CertificateError(f"{where}: {key}[{bad!r}] is not a mapping")
    if not isinstance(cert.get("run", {}), dict):
        raise CertificateError(f"{where}: 'run' is not a mapping")
    if not isinstance(cert.get("trends", []), list) or not all(isinstance(t, dict) for t in cert.get("trends", [])):
        raise CertificateError(f"{where}: 'trends' is not a list of mappings")
    return cert


def load(path: str | Path) -> dict[str, Any]:
    return validate(read_json(path), str(path))


def canonical(cert: Mapping[str, Any]) -> dict[str, Any]:
    """The certificate proper: without what differs between executions of one sweep (`run`)."""
    out = {k: copy.deepcopy(v) for k, v in cert.items() if k not in VOLATILE}
    return out


# ------------------------------------------------------------------------------ merging
def _spec_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    out = []
    if a.get("package_version") != b.get("package_version"):
        out.append(f"package version {a.get('package_version')!r} vs {b.get('package_version')!r}")
    ta, tb = a.get("thresholds") or {}, b.get("thresholds") or {}
    for k in sorted(set(ta) | set(tb)):
        if ta.get(k) != tb.get(k):
            out.append(f"threshold {k}: {ta.get(k, '(absent)')!r} vs {tb.get(k, '(absent)')!r}")
    for k in sorted((set(a) | set(b)) - {"package_version", "thresholds"}):
        if a.get(k) != b.get(k):
            out.append(f"spec {k}: {a.get(k)!r} vs {b.get(k)!r}")
    return out


def _identity(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ENTRY_IDENTITY}


def merge(certs: Sequence[Mapping[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Merge the certificates of shards of one sweep (same spec and profile) into one.

    Raises MergeError, naming the files, for different specifications (package version,
    thresholds), different profiles, the same shard given twice (equal `run` records), or shards
    that ran the same item to different verdicts. An item run in several shards with the same
    verdicts is kept once.
    """
    if not certs:
        raise MergeError("nothing to merge: give at least one certificate")
    names = list(names) if names is not None else [f"certificate #{i + 1}" for i in range(len(certs))]
    for c, n in zip(certs, names):
        validate(c, n)
    for i, (c, n) in enumerate(zip(certs, names)):
        twin = next((m for d, m in zip(certs[:i], names) if d.get("run") == c.get("run")), None)
        if twin is not None:
            raise MergeError(
                f"refusing to merge: {twin} and {n} are the same shard (the run of "
                f"{(c.get('run') or {}).get('date', '?')}); give each shard once"
            )
    first, fname = certs[0], names[0]
    for c, n in zip(certs[1:], names[1:]):
        diff = _spec_difference(first["spec"], c["spec"])
        if diff:
            raise MergeError(
                f"refusing to merge certificates of different specifications: {fname} and {n} differ "
                f"in " + "; ".join(diff) + ". Rerun both shards on one checkout."
            )
        if c.get("profile") != first.get("profile"):
            raise MergeError(
                f"refusing to merge certificates of different profiles: {fname} is "
                f"{first.get('profile')!r}, {n} is {c.get('profile')!r} (not shards of one sweep)"
            )

    by_item: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    items: dict[str, dict[str, Any]] = {}
    for c, n in zip(certs, names):
        grouped: dict[str, list[dict[str, Any]]] = {}
        for e in c["entries"]:
            grouped.setdefault(e.get("nodeid") or "", []).append(e)
        for nodeid in list(c["items"]) + [k for k in grouped if k not in c["items"]]:
            rows = grouped.get(nodeid, [])
            if nodeid in by_item:
                seen_in, seen = by_item[nodeid]
                if [_identity(e) for e in seen] != [_identity(e) for e in rows] or items.get(nodeid, {}).get(
                    "outcome"
                ) != c["items"].get(nodeid, {}).get("outcome"):
                    raise MergeError(
                        f"refusing to merge: {seen_in} and {n} both ran {nodeid} with different "
                        f"results; shards of one sweep must not overlap"
                    )
                continue
            by_item[nodeid] = (n, rows)
            if nodeid in c["items"]:
                items[nodeid] = c["items"][nodeid]

    env = _merge_env([c.get("env") or {} for c in certs])
    claims: dict[str, Any] = {}
    for c in certs:
        for cid, meta in c["claims"].items():
            claims.setdefault(cid, meta)
    regimes = list(dict.fromkeys(r for c in certs for r in c["regimes"]))
    reasons = [f"{n}: {r}" for c, n in zip(certs, names) for r in c.get("incomplete_reasons", [])]
    run = {"date": now_iso(), "merged_from": [{"name": n, **(c.get("run") or {})} for c, n in zip(certs, names)]}
    entries = [e for _, rows in by_item.values() for e in rows]
    items = {k: items[k] for k in sorted(items)}
    trend_by_node: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for c, n in zip(certs, names):
        for t in c.get("trends", []):
            shard = trend_by_node.get(t.get("nodeid") or "")
            if shard is not None and shard[1].get("trend") != t.get("trend"):
                raise MergeError(
                    f"refusing to merge: {shard[0]} and {n} both ran {t.get('nodeid')} with different "
                    f"results; shards of one sweep must not overlap"
                )
            trend_by_node[t.get("nodeid") or ""] = (n, t)
    return build(
        entries,
        spec=first["spec"],
        env=env,
        run=run,
        items=items,
        claims=dict(sorted(claims.items(), key=lambda kv: claim_order(kv[0]))),
        regimes=regimes,
        profile=first.get("profile"),
        complete=all(bool(c.get("complete")) for c in certs),
        incomplete_reasons=reasons,
        builtin_regimes=list(dict.fromkeys(r for c in certs for r in builtin_regimes(c))),
        trends=[t for _, t in trend_by_node.values()],
    )


def _merge_env(envs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Keys equal in all shards keep their value; keys that differ hold the list of distinct values."""
    out: dict[str, Any] = {}
    for k in dict.fromkeys(k for e in envs for k in e):
        distinct: list[Any] = []
        for v in (e.get(k) for e in envs):
            if v not in distinct:
                distinct.append(v)
        out[k] = distinct[0] if len(distinct) == 1 else distinct
    return out


def env_conflicts(cert: Mapping[str, Any]) -> list[str]:
    """Environment keys of a merged certificate whose shards disagreed (e.g. two git commits)."""
    return [k for k, v in (cert.get("env") or {}).items() if isinstance(v, list)]


# ------------------------------------------------------------------------------ cells
@dataclass
class Cell:
    """What a run says about one claim in one regime, over its examples."""

    claim: str
    regime: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] | None = None
    nodeid: str | None = None

    @property
    def statuses(self) -> list[str]:
        return [str((e.get("verdict") or {}).get("status", "inconclusive")) for e in self.entries]

    @property
    def counts(self) -> dict[str, int]:
        s = self.statuses
        return {k: s.count(k) for k in STATUSES if s.count(k)}

    @property
    def status(self) -> str:
        """holds / fails / inconclusive / undecided when all examples agree; mixed; error (no verdict); not run."""
        s = set(self.statuses)
        if not s:
            return "error" if self.item and self.item.get("outcome") in ("failed", "error") else "not run"
        return s.pop() if len(s) == 1 else "mixed"

    @property
    def new(self) -> bool:
        """Some example has no expected verdict: the baseline does not know (all of) this cell."""
        return any(e.get("expected") is None for e in self.entries)

    @property
    def expected(self) -> str | None:
        exp = {e.get("expected") for e in self.entries}
        return exp.pop() if len(exp) == 1 else None

    @property
    def seeds(self) -> int:
        return sum(
            len((e.get("verdict") or {}).get("per_seed") or []) or int(num((e.get("example") or {}).get("seeds")) or 0)
            for e in self.entries
        )

    def seed_outcomes(self) -> tuple[int, int, int]:
        """(failing, evaluated, unevaluable) seeds, pooled over the examples."""
        fails = passes = na = 0
        for e in self.entries:
            for s in (e.get("verdict") or {}).get("per_seed") or []:
                o = s.get("outcome") if isinstance(s, dict) else None
                fails += o == "fail"
                passes += o == "pass"
                na += o == "na"
        return fails, fails + passes, na

    def fail_rate(self, confidence: float = 0.95) -> tuple[float, float, float] | None:
        """(observed rate, Clopper–Pearson interval) of failing seeds, or None with none evaluated."""
        k, n, _ = self.seed_outcomes()
        if n == 0:
            return None
        lo, hi = clopper_pearson(k, n, confidence)
        return k / n, lo, hi

    def decision(self) -> str:
        """The sequential rule's figures over the examples (lemmas.sequential): seeds used, power at δ₁, the
        seeds an undecided example still needs; '' for a cell of another rule."""
        stats = [(e.get("verdict") or {}).get("stats") or {} for e in self.entries]
        stats = [s for s in stats if "seeds_run" in s and "power_at_delta1" in s]
        if not stats:
            return ""
        used = sorted({int(num(s.get("seeds_run")) or 0) for s in stats})
        seeds = f"{used[0]}" if len(used) == 1 else f"{used[0]}–{used[-1]}"
        text = f"{seeds} seeds, power {num(stats[0].get('power_at_delta1')) or 0:.2f} at δ₁"
        more = max(int(num(s.get("more_seeds")) or 0) for s in stats)
        return text + (f"; +{more} seeds could decide" if more else "")

    @property
    def seconds(self) -> float:
        return sum(num(e.get("seconds")) or 0.0 for e in self.entries)


@dataclass(frozen=True)
class FamilyWise:
    """Holm's rule over every decided example of a run (lemmas.sequential.holm on the attained errors)."""

    alpha: float
    decided: int  # examples decided holds or fails by the sequential rule
    undecided: int
    confirmed: int  # decisions that stand with a family-wise error ≤ alpha
    error_sum: float  # Σ attained errors: a bound on the expected number of wrong decisions
    confirmed_at: frozenset[tuple[str, str, int]]  # (claim, regime, example index)


def family_wise(cs: Mapping[tuple[str, str], Cell], alpha: float) -> FamilyWise:
    from lemmas.sequential import holm

    keys: list[tuple[str, str, int]] = []
    errors: list[float] = []
    undecided = 0
    for (cid, regime), cell in cs.items():
        for e in cell.entries:
            v = e.get("verdict") or {}
            err = num((v.get("stats") or {}).get("attained_error"))
            undecided += v.get("status") == "undecided" and "seeds_run" in (v.get("stats") or {})
            if err is not None and math.isfinite(err):
                keys.append((cid, regime, int(num(e.get("index")) or 0)))
                errors.append(err)
    ok = holm(errors, alpha)
    return FamilyWise(
        alpha, len(errors), undecided, sum(ok), float(sum(errors)), frozenset(k for k, c in zip(keys, ok) if c)
    )


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper–Pearson interval for k successes in n trials (scipy's exact binomial interval)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def describe_example(ex: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in ex.items() if k != "regime" and v not in ("", [], None)]
    return " ".join(parts)


def cells(cert: Mapping[str, Any]) -> dict[tuple[str, str], Cell]:
    """(claim, regime) -> Cell for every cell with entries or a certification item, in matrix order."""
    out: dict[tuple[str, str], Cell] = {}
    for e in cert.get("entries", []):
        key = (e.get("claim") or "?", e.get("regime") or "?")
        cell = out.setdefault(key, Cell(*key))
        cell.entries.append(e)
        cell.nodeid = cell.nodeid or e.get("nodeid")
    for nodeid, item in (cert.get("items") or {}).items():
        if item.get("claim") and item.get("regime"):
            cell = out.setdefault((item["claim"], item["regime"]), Cell(item["claim"], item["regime"]))
            cell.item, cell.nodeid = item, cell.nodeid or nodeid
    regimes = list(cert.get("regimes") or [])
    rank = {r: i for i, r in enumerate(regimes)}
    return dict(sorted(out.items(), key=lambda kv: (claim_order(kv[0][0]), rank.get(kv[0][1], len(rank)), kv[0][1])))


@dataclass(frozen=True)
class Difference:
    """A claim whose verdict in a user regime differs from its verdict in `paper`."""

    claim: str
    regime: str
    paper: str
    status: str

    def describe(self) -> str:
        return f"{self.claim} ({self.paper} → {self.status})"


def paper_differences(
    cert: Mapping[str, Any], cs: Mapping[tuple[str, str], Cell] | None = None
) -> dict[str, list[Difference] | None]:
    """User regime -> the claims whose verdict there differs from the one in `paper` (both cells run);
    None for a user regime that shares no run claim with `paper` (nothing was compared)."""
    cs = cells(cert) if cs is None else cs
    out: dict[str, list[Difference] | None] = {}
    for regime in user_regimes(cert):
        rows, compared = [], 0
        for (cid, r), cell in cs.items():
            base = cs.get((cid, "paper"))
            if r != regime or base is None or "not run" in (cell.status, base.status):
                continue
            compared += 1
            if cell.status != base.status:
                rows.append(Difference(cid, regime, base.status, cell.status))
        out[regime] = rows if compared else None
    return out


def describe_differences(regime: str, diffs: Sequence[Difference] | None) -> str:
    """One line: "label_noise differs from paper: C3 (holds → fails), …"."""
    if diffs is None:
        return f"{regime}: not compared with paper (no claim was run in both; add paper to --regimes)"
    if not diffs:
        return f"{regime}: every verdict run in both is as in paper"
    return f"{regime} differs from paper: " + ", ".join(d.describe() for d in diffs)


def claim_ids(cert: Mapping[str, Any]) -> list[str]:
    """Every claim of the certificate (metadata or entries), in order."""
    ids = set(cert.get("claims") or {}) | {e.get("claim") for e in cert.get("entries", []) if e.get("claim")}
    return sorted(ids, key=claim_order)


def regime_ids(cert: Mapping[str, Any]) -> list[str]:
    return list(
        dict.fromkeys(
            [*(cert.get("regimes") or []), *(e.get("regime") for e in cert.get("entries", []) if e.get("regime"))]
        )
    )


def builtin_regimes(cert: Mapping[str, Any]) -> list[str]:
    """The certificate's built-in regimes (`BUILTIN_REGIMES` when it does not say)."""
    raw = cert.get("builtin_regimes")
    return [str(r) for r in raw] if isinstance(raw, list) else list(BUILTIN_REGIMES)


def user_regimes(cert: Mapping[str, Any]) -> list[str]:
    """The certificate's regimes that are not built in, in its order."""
    builtin = set(builtin_regimes(cert))
    return [r for r in regime_ids(cert) if r not in builtin]


def matrix_regimes(cert: Mapping[str, Any]) -> list[str]:
    """The regimes in matrix order: `paper`, the user regimes right beside it, then the other built-ins."""
    ids, users = regime_ids(cert), user_regimes(cert)
    head = [r for r in ids if r == "paper"]
    return [*head, *users, *(r for r in ids if r not in users and r not in head)]


def confidence(cert: Mapping[str, Any]) -> float:
    return num(((cert.get("spec") or {}).get("thresholds") or {}).get("confidence")) or 0.95


def family_alpha(cert: Mapping[str, Any]) -> float:
    return num(((cert.get("spec") or {}).get("thresholds") or {}).get("seq_family_alpha")) or 0.05


def trends(cert: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(claim, regime) -> the trend item's record, for the run's trend items (those that gave a trend)."""
    return {(t.get("claim") or "?", t.get("regime") or "?"): t for t in cert.get("trends", []) if t.get("trend")}


def trend_status(record: Mapping[str, Any] | None) -> str | None:
    return ((record or {}).get("trend") or {}).get("status")
