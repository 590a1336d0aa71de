"""The measured statistics a verdict turns on, each against its threshold, with its slack.

A `KeyStat` names a statistic of `Verdict.stats` and the threshold(s) of
`Verdict.thresholds` it is compared with. Names may contain `{d}`: the statistic is then
read on every rung of a d-ladder (C2's `d64_T1_over_pred` against `t1_band`, or against
the rung's own `d64_rate_band`) and the worst rung is shown. The first key statistic of a
claim is the one the terminal summary prints; the report shows them all.

Slack is the signed distance to the threshold in units of the threshold (positive:
inside, negative: violated): `(thr - v)/|thr|` for `≤`, `(v - thr)/|thr|` for `≥`, and
`min(v - lo, hi - v)/(hi - lo)` for a band.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .files import num


@dataclass(frozen=True)
class KeyStat:
    label: str
    stat: str  # key in Verdict.stats, may contain {d}
    op: str  # "<=", "<", ">=", ">", "in"
    threshold: str | tuple[str, str]  # key in Verdict.thresholds (a [lo, hi] pair for "in"), or two keys


KEY_STATS: dict[str, tuple[KeyStat, ...]] = {
    "C1": (KeyStat("max|h'+1| up to T1", "max_batch_dev_to_T1", "<=", "zeta"),
           KeyStat("test max|h'+1| up to T1", "max_test_dev_to_T1", "<=", "zeta"),
           KeyStat("proxy distance (snapshots)", "max_proxy_dist_snap_to_T1", "<=", "zeta"),
           KeyStat("proxy distance (per step, lower bound)", "max_proxy_dist_step_lb_to_T1", "<=", "zeta")),
    "C2": (KeyStat("T1 / linearized prediction", "d{d}_T1_over_pred", "in", "t1_band"),
           KeyStat("growth rate / prediction", "d{d}_rate_ratio", "in", "d{d}_rate_band"),
           KeyStat("share with w_sig grown, w_opp shrunk", "d{d}_share_grown", ">=", "d{d}_share_min")),
    "C3": (KeyStat("min S_t after T1 (worst seed)", "min_S_after_T1", ">=", "S_min"),),
    "C4": (KeyStat("max|f-f̃| / max|γ̃|", "max_gap_over_max_margin", "<=", "gap_over_max_margin_max"),
           KeyStat("sign agreement", "min_sign_agree", ">=", "sign_agree_min")),
    "C5": (KeyStat("R_T (worst seed)", "R_T_max", "<=", "R_T_max"),
           KeyStat("largest rise of R after T2", "max_rise", "<=", "rise_max")),
    "C6": (KeyStat("max_k|a²-‖w‖²| / max a²", "max_balance_ratio", "<=", "balance_max"),
           KeyStat("identity residual", "max_identity_residual", "<=", "identity_rtol")),
    "C7": (KeyStat("median noise/drift", "ratio_median", "<=", "ratio_max"),
           KeyStat("batch gain (m=d vs regime)", "gain", ">=", "batch_gain")),
    "C8": (KeyStat("Spearman(first heavy step, final |a|)", "spearman_median", "<=", "spearman_max"),
           KeyStat("finders' mass share", "finder_share_median", ">=", "finder_share_min"),
           KeyStat("finders' share, frozen a", "finder_share_frozen_median", "<", "finder_share_frozen_max")),
    "C9": (KeyStat("upper 95% bound of the test error (worst seed)", "final_error_hi_max", "<", "eps"),),
    "C10": (KeyStat("log-log slope of n*(d)", "slope", "in", ("slope_lo", "slope_hi")),),
    "C11": (KeyStat("T1·η/log d, worst ratio to median", "q_worst_ratio_median", "<=", "factor"),),
}

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


def _threshold(thresholds: Mapping[str, Any], key: str | tuple[str, str], d: str | None
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


def key_stats(claim: str) -> tuple[KeyStat, ...]:
    return KEY_STATS.get(claim, (FALLBACK,))


def measure_all(claim: str, verdict: Mapping[str, Any]) -> list[Measured]:
    """Every key statistic of the claim that the verdict measured."""
    out = [measure(ks, verdict) for ks in key_stats(claim)]
    present = [m for m in out if m.value is not None]
    if not present:
        fb = measure(FALLBACK, verdict)
        return [fb] if fb.value is not None else out[:1]
    return present


def worst(claim: str, verdicts: Sequence[Mapping[str, Any]]) -> Measured | None:
    """The claim's first key statistic on the example where it is closest to (or furthest past) its threshold."""
    ks = key_stats(claim)[0]
    ms = [measure(ks, v) for v in verdicts]
    ms = [m for m in ms if m.value is not None]
    if not ms:
        ms = [measure(FALLBACK, v) for v in verdicts]
        ms = [m for m in ms if m.value is not None]
    return min(ms, key=_rank) if ms else None
