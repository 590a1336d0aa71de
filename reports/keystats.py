"""The measured statistics a verdict turns on, each against its threshold, with its slack.

Each claim names its own key statistics (`lemmas.report.KeyStat`, in `Claim.key_stats`);
the certificate's `claims` section carries them (`claims[id]["key_stats"]`), and
`claim_key_stats` reads them back from there. Names may contain `{d}`: the statistic is
then read on every rung of a d-ladder (C2's `d64_T1_over_pred` against `t1_band`, or
against the rung's own `d64_rate_band`) and the worst rung is shown. The first key
statistic of a claim is the one the terminal summary prints; the report shows them all.
A claim without any (or a certificate that does not carry them) falls back to the share
of failing seeds.

Slack is the signed distance to the threshold in units of the threshold (positive:
inside, negative: violated): `(thr - v)/|thr|` for `≤`, `(v - thr)/|thr|` for `≥`, and
`min(v - lo, hi - v)/(hi - lo)` for a band.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lemmas.plain import num
from lemmas.report import KeyStat

FALLBACK = KeyStat("share of failing seeds", "fail_rate", "<=", "delta")


@dataclass(frozen=True)
class Measured:
    """One key statistic on one verdict."""

    label: str
    value: float | None
    op: str
    threshold: float | tuple[float, float] | None
    slack: float | None  # > 0 inside, < 0 violated, None when unmeasured
    where: str = ""  # the rung for {d} statistics

    def passed(self) -> bool | None:
        return None if self.slack is None else self.slack >= 0 and not (self.op in ("<", ">") and self.slack == 0)

    def describe(self, with_slack: bool = True) -> str:
        v = fmt(self.value)
        if self.threshold is None:
            thr = "?"
        elif isinstance(self.threshold, tuple):
            thr = f"[{fmt(self.threshold[0])}, {fmt(self.threshold[1])}]"
        else:
            thr = fmt(self.threshold)
        op = {"<=": "≤", ">=": "≥", "in": "∈"}.get(self.op, self.op)
        out = f"{self.label}{' (' + self.where + ')' if self.where else ''} = {v} {op} {thr}"
        if with_slack and self.slack is not None and math.isfinite(self.slack):
            t = self.threshold if isinstance(self.threshold, float) else None
            if self.op in ("<=", "<") and t and t > 0 and self.value is not None and self.value / t > 2:
                out += f" ({self.value / t:.3g}× the threshold)"
            else:
                out += f" (slack {self.slack:+.1%})" if abs(self.slack) < 0.1 else f" (slack {self.slack:+.0%})"
        return out


def fmt(v: Any) -> str:
    x = num(v)
    if x is None:
        return "n/a" if v is None else str(v)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x.is_integer() and abs(x) < 1e9:
        return str(int(x))
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}"


def slack(value: float | None, op: str, thr: float | tuple[float, float] | None) -> float | None:
    if value is None or thr is None or math.isnan(value):
        return None
    if op == "in":
        lo, hi = thr  # type: ignore[misc]
        width = abs(hi - lo) or 1.0
        return min(value - lo, hi - value) / width if math.isfinite(value) else -math.inf
    t = float(thr)  # type: ignore[arg-type]
    scale = abs(t) or 1.0
    if op in ("<=", "<"):
        return (t - value) / scale
    return (value - t) / scale


def _threshold(
    thresholds: Mapping[str, Any], key: str | tuple[str, str], d: str | None
) -> float | tuple[float, float] | None:
    def get(k: str) -> Any:
        return thresholds.get(k.replace("{d}", d) if d is not None else k)

    if isinstance(key, tuple):
        lo, hi = num(get(key[0])), num(get(key[1]))
        return (lo, hi) if lo is not None and hi is not None else None
    raw = get(key)
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        lo, hi = num(raw[0]), num(raw[1])
        return (lo, hi) if lo is not None and hi is not None else None
    return num(raw)


def measure(ks: KeyStat, verdict: Mapping[str, Any]) -> Measured:
    """The key statistic on one verdict (the worst rung for {d} statistics)."""
    stats = verdict.get("stats") or {}
    thresholds = verdict.get("thresholds") or {}
    if "{d}" not in ks.stat:
        v = num(stats.get(ks.stat))
        thr = _threshold(thresholds, ks.threshold, None)
        return Measured(ks.label, v, ks.op, thr, slack(v, ks.op, thr))
    pat = re.compile("^" + re.escape(ks.stat).replace(re.escape("{d}"), r"(\d+)") + "$")
    worst: Measured | None = None
    for key, raw in stats.items():
        m = pat.match(key)
        if not m:
            continue
        d = m.group(1)
        v = num(raw)
        thr = _threshold(thresholds, ks.threshold, d)
        cand = Measured(ks.label, v, ks.op, thr, slack(v, ks.op, thr), where=f"d={d}")
        if worst is None or _rank(cand) < _rank(worst):
            worst = cand
    return worst or Measured(ks.label, None, ks.op, None, None)


def _rank(m: Measured) -> float:
    return math.inf if m.slack is None else m.slack


def claim_key_stats(cert: Mapping[str, Any], claim: str) -> tuple[KeyStat, ...]:
    """The claim's key statistics as the certificate's `claims` section carries them (unreadable ones left
    out); the fallback when there are none."""
    meta = (cert.get("claims") or {}).get(claim)
    raw = meta.get("key_stats") if isinstance(meta, Mapping) else None
    out = []
    for d in raw if isinstance(raw, list) else []:
        try:
            out.append(KeyStat.from_dict(d))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out) or (FALLBACK,)


def measure_all(key_stats: Sequence[KeyStat], verdict: Mapping[str, Any]) -> list[Measured]:
    """Every key statistic that the verdict measured (the fallback when it measured none)."""
    out = [measure(ks, verdict) for ks in key_stats]
    present = [m for m in out if m.value is not None]
    if not present:
        fb = measure(FALLBACK, verdict)
        return [fb] if fb.value is not None else out[:1]
    return present


def worst(key_stats: Sequence[KeyStat], verdicts: Sequence[Mapping[str, Any]]) -> Measured | None:
    """The first key statistic on the example where it is closest to (or furthest past) its threshold."""
    ks = key_stats[0] if key_stats else FALLBACK
    ms = [measure(ks, v) for v in verdicts]
    ms = [m for m in ms if m.value is not None]
    if not ms:
        ms = [measure(FALLBACK, v) for v in verdicts]
        ms = [m for m in ms if m.value is not None]
    return min(ms, key=_rank) if ms else None
