"""One self-contained HTML report from a certificate (jinja2 template, inline CSS and SVG).

Nothing is fetched when the page is opened: the style is inline, the plots are inline
SVG drawn by matplotlib (no fonts, no scripts from elsewhere), so the page reads offline
and prints. Sections: the claims × regimes matrix (verdict colour, counts, failing-seed
interval; user regimes right beside `paper`, a claim whose verdict there differs from
paper's marked, and one line per user regime listing those; cells the baseline does not
know marked `new`), the regression diff against the baseline (flips first) and, when
given, a previous certificate (flips, then statistics that moved beyond their
tolerance), the overview figure of a paper-regime run (reports.overview), the proof's structure
per regime (reports.proofview), the counterexamples with the command that reproduces each, the minimal
counterexamples a search profile (`hunt`) found (the certificate's `items[...]["counterexample"]`),
the located boundaries (the JSON files of `python -m lemmas boundary` in `boundaries/` beside the
certificate: verdict against the knob per d, the bracket marked, the log-log fit over d), one section per
claim (statement, anchor, thresholds, measured values with their distance to the
threshold — the claim's key statistics, from the certificate's `claims` section — each
example's `reproduce` command, the plots of the verdict series), the thresholds table
and the run's metadata.

Rendering never fails because of one odd series or verdict: the problem is logged and
listed under "Rendering notes", and the rest of the report is drawn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lemmas.plain import NON_FINITE, num
from lemmas.proof import PROOF
from lemmas.report import KeyStat

from . import keystats
from .baseline import expected_trend
from .certificate import (
    Cell,
    cells,
    claim_ids,
    claim_order,
    confidence,
    describe_differences,
    env_conflicts,
    family_alpha,
    family_wise,
    matrix_regimes,
    paper_differences,
    trends,
    unconfirmed,
    user_regimes,
)
from .diff import baseline_diff, certificate_diff, describe_example, tolerance
from .files import BOUNDARY_DIR, read_json
from .overview import Overview, overview, overview_figure
from .plots import Plot, plots_for
from .proofview import proof_views

LOG = logging.getLogger("xorcert.reports")
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
MAX_SEED_ROWS = 32  # per-seed rows shown per example
STATUS_CLASS = {
    "holds": "holds",
    "fails": "fails",
    "inconclusive": "inconclusive",
    "undecided": "undecided",
    "mixed": "mixed",
    "error": "error",
    "not run": "notrun",
}


# ------------------------------------------------------------------------------ view models
@dataclass
class ExampleView:
    index: int
    example: str
    status: str
    expected: str | None
    reason: str
    seconds: float | None
    device: str
    measured: list[keystats.Measured]
    per_seed_columns: list[str]
    per_seed_rows: list[dict[str, Any]]
    per_seed_hidden: int
    stats: list[tuple[str, Any]]
    thresholds: list[tuple[str, Any]]
    reproduce: str = ""

    @property
    def new(self) -> bool:
        return self.expected is None

    @property
    def flipped(self) -> bool:
        return self.expected is not None and self.status != self.expected


@dataclass
class CellView:
    claim: str
    regime: str
    status: str
    css: str
    counts: str
    rate: str
    expected: str | None
    flip: bool
    anchor: str
    nodeid: str | None
    message: str = ""
    new: bool = False  # the baseline knows no verdict for (some example of) this cell
    differs: str = ""  # user regime whose verdict differs from paper's: "holds → fails"
    examples: list[ExampleView] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    plot_example: int | None = None
    open: bool = False


@dataclass
class Counterexample:
    kind: str  # "flip", "failure", "error", "new failure" (no expected verdict), "known failure"
    claim: str
    regime: str
    example: str
    status: str
    expected: str | None
    reason: str
    seed_line: str
    commands: list[str]
    hypothesis: list[str]
    anchor: str


def _fmt(v: Any) -> str:
    """A value for a table cell: numbers to 4 significant digits, containers inline."""
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, str):
        return keystats.fmt(v) if v.strip().lower() in NON_FINITE else v
    if isinstance(v, (int, float)):
        return keystats.fmt(v)
    return str(v)


def _pct(x: Any) -> str:
    f = num(x)
    if f is None or f != f:
        return ""
    return "∞" if f == float("inf") else f"{f:.0%}"


def anchor(claim: str, regime: str | None = None) -> str:
    return f"{claim}-{regime}" if regime else claim


def repro_commands(entry: Mapping[str, Any] | None, nodeid: str | None, profile: str | None) -> list[str]:
    """The entry's own `reproduce` command (`python -m lemmas check …`: the example alone, with the
    installed package), and the pytest command that replays the item."""
    out = []
    own = str((entry or {}).get("reproduce") or "")
    if own:
        out.append(own)
    if nodeid:
        out.append(f'pytest "{nodeid}" --hypothesis-profile {profile or "quick"} -p no:cacheprovider')
    return out


def _per_seed(verdict: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]], int]:
    rows = [r for r in (verdict.get("per_seed") or []) if isinstance(r, dict)]
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    first = [c for c in ("seed", "outcome", "why") if c in cols]
    cols = first + [c for c in cols if c not in first]
    shown = rows[:MAX_SEED_ROWS]
    return cols, [{c: _fmt(r.get(c, "")) for c in cols} for r in shown], len(rows) - len(shown)


def example_view(e: Mapping[str, Any], key_stats: tuple[KeyStat, ...] = (keystats.FALLBACK,)) -> ExampleView:
    v = e.get("verdict") or {}
    cols, rows, hidden = _per_seed(v)
    stats = v.get("stats") if isinstance(v.get("stats"), dict) else {}
    thr = v.get("thresholds") if isinstance(v.get("thresholds"), dict) else {}
    return ExampleView(
        index=int(num(e.get("index")) or 0),
        example=describe_example(e.get("example") or {}),
        status=str(v.get("status", "inconclusive")),
        expected=e.get("expected"),
        reason=str(v.get("reason", "")),
        seconds=num(e.get("seconds")),
        device=str(e.get("device", "")),
        measured=keystats.measure_all(key_stats, v),
        per_seed_columns=cols,
        per_seed_rows=rows,
        per_seed_hidden=hidden,
        stats=[(k, _fmt(x)) for k, x in stats.items()],
        thresholds=[(k, _fmt(x)) for k, x in thr.items()],
        reproduce=str(e.get("reproduce") or ""),
    )


def _representative(cell: Cell) -> int | None:
    """The example whose series are drawn: the first flip, else the first failure, else the first."""
    if not cell.entries:
        return None
    for pred in (
        lambda e: e.get("expected") is not None and (e.get("verdict") or {}).get("status") != e["expected"],
        lambda e: (e.get("verdict") or {}).get("status") == "fails",
    ):
        for i, e in enumerate(cell.entries):
            if pred(e):
                return i
    return 0


def cell_view(
    cell: Cell,
    conf: float,
    expected: str | None,
    log: Callable[[str], None],
    with_plots: bool = True,
    flip: bool | None = None,
    new: bool | None = None,
    key_stats: tuple[KeyStat, ...] = (keystats.FALLBACK,),
) -> CellView:
    """`expected`: the cell's expectation as text; `flip`: whether the run departs from it (default: the
    examples' own recorded expectations, else status ≠ expected); `new`: whether the baseline knows no
    verdict for it (default: some example recorded no expectation)."""
    rate = cell.fail_rate(conf)
    k, n, na = cell.seed_outcomes()
    rate_s = f"{k}/{n} seeds fail, [{rate[1]:.2f}, {rate[2]:.2f}]" if rate else "no seed evaluated"
    if na:
        rate_s += f" ({na} n/a)"
    if cell.decision():
        rate_s += f"; {cell.decision()}"
    counts = ", ".join(f"{c} {s}" for s, c in cell.counts.items()) or (cell.item or {}).get("outcome", "")
    status = cell.status
    if flip is None:
        recorded = [e.get("expected") for e in cell.entries]
        flip = (
            any(x is not None and x != st for x, st in zip(recorded, cell.statuses))
            if cell.entries
            else expected is not None and status != expected
        )
    view = CellView(
        cell.claim,
        cell.regime,
        status,
        STATUS_CLASS.get(status, "notrun"),
        counts,
        rate_s,
        expected,
        flip,
        anchor(cell.claim, cell.regime),
        cell.nodeid,
        message=str((cell.item or {}).get("message", ""))[:2000],
        new=(cell.new if new is None else new) and not flip,
    )
    if view.new:  # its verdict is shown, in the colour of a cell the baseline does not know (never red)
        view.css = "newcell"
    for e in cell.entries:
        try:
            view.examples.append(example_view(e, key_stats))
        except Exception as ex:  # noqa: BLE001
            log(f"{cell.claim} {cell.regime}: example {e.get('index')} not shown ({type(ex).__name__}: {ex})")
    rep = _representative(cell)
    if with_plots and rep is not None:
        e = cell.entries[rep]
        view.plot_example = int(num(e.get("index")) or 0)
        view.plots = plots_for(
            cell.claim, e.get("verdict") or {}, lambda msg: log(f"{cell.regime}: {msg}"), id_prefix=f"{view.anchor}-"
        )
    if cell.entries and (cell.item or {}).get("outcome") == "failed":
        view.message = (
            "The test failed at the last example shown (a verdict that differs from the expected one "
            "stops hypothesis there): later examples of the profile were not run."
            + (f"\n{view.message}" if view.message else "")
        )
    view.open = flip or status in ("fails", "mixed", "error") or cell.regime == "paper"
    return view


def counterexamples(cert: Mapping[str, Any], cs: Mapping[tuple[str, str], Cell]) -> list[Counterexample]:
    """Flips first, then failures (one per cell: its first failing example), then errors."""
    profile = cert.get("profile")
    out: list[Counterexample] = []
    for (cid, regime), cell in cs.items():
        item = cell.item or {}
        hyp = item.get("reproduce") or []
        hyp = [hyp] if isinstance(hyp, str) else [str(x) for x in hyp]
        chosen = None
        for e in cell.entries:
            v = e.get("verdict") or {}
            if e.get("expected") is not None and v.get("status") != e.get("expected") and not unconfirmed(e):
                chosen = (e, "flip")
                break
        if chosen is None:
            for e in cell.entries:
                if (e.get("verdict") or {}).get("status") == "fails":
                    chosen = (
                        e,
                        "known failure"
                        if e.get("expected") == "fails"
                        else "new failure"
                        if e.get("expected") is None
                        else "failure",
                    )
                    break
        if chosen is None:
            if not cell.entries and item.get("outcome") in ("failed", "error"):
                out.append(
                    Counterexample(
                        "error",
                        cid,
                        regime,
                        "",
                        "error",
                        None,
                        str(item.get("message", ""))[:2000],
                        "",
                        repro_commands(None, cell.nodeid, profile),
                        hyp,
                        anchor(cid, regime),
                    )
                )
            continue
        e, kind = chosen
        v = e.get("verdict") or {}
        bad = next((s for s in v.get("per_seed") or [] if isinstance(s, dict) and s.get("outcome") == "fail"), None)
        seed_line = f"seed {bad.get('seed')}: {bad.get('why', '')}" if bad else ""
        out.append(
            Counterexample(
                kind,
                cid,
                regime,
                describe_example(e.get("example") or {}),
                str(v.get("status")),
                e.get("expected"),
                str(v.get("reason", "")),
                seed_line,
                repro_commands(e, cell.nodeid or e.get("nodeid"), profile),
                hyp,
                anchor(cid, regime),
            )
        )
    rank = {"flip": 0, "failure": 1, "error": 2, "new failure": 3, "known failure": 4}
    return sorted(out, key=lambda c: rank.get(c.kind, 9))


def hunt_finds(cert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The minimal counterexamples of a search profile, one per (claim, regime) item that found one."""
    out = [
        dict(item["counterexample"])
        for item in (cert.get("items") or {}).values()
        if isinstance(item, Mapping) and isinstance(item.get("counterexample"), Mapping)
    ]
    return sorted(out, key=lambda f: (claim_order(str(f.get("claim"))), str(f.get("regime"))))


@dataclass
class BoundaryView:
    title: str
    anchor: str
    lines: list[str]
    probes: list[dict[str, Any]]
    command: str
    plots: list[Plot] = field(default_factory=list)


@dataclass
class TrendView:
    claim: str
    regime: str
    anchor: str
    status: str
    summary: str  # 'violation ∝ d^-0.90 [-1.20, -0.60]: vanishes (fit ≤ ζ(d) from d ≈ 80)'
    reason: str
    expected: str | None
    flip: bool
    reproduce: str
    plots: list[Plot] = field(default_factory=list)


def trend_views(
    cert: Mapping[str, Any], baseline: Mapping[str, Any] | None, with_plots: bool, log: Callable[[str], None]
) -> dict[tuple[str, str], TrendView]:
    """(claim, regime) -> TrendView of every trend item of the run, against the baseline's recorded trend."""
    table = ((baseline or {}).get("profiles") or {}).get(cert.get("profile") or "") or {}
    out: dict[tuple[str, str], TrendView] = {}
    for (cid, regime), rec in trends(cert).items():
        tv = rec.get("trend") or {}
        status = str(tv.get("status"))
        expected = expected_trend((table.get(cid) or {}).get(regime)) if baseline is not None else rec.get("expected")
        exponent, lo, hi = (num(tv.get(k)) for k in ("exponent", "exponent_lo", "exponent_hi"))
        if exponent is None or exponent != exponent:
            summary = f"{status}: {tv.get('reason', '')}"
        else:
            cross = num(tv.get("crossing_d"))
            where = "never" if cross is not None and cross == float("inf") else f"from d ≈ {_fmt(cross)}"
            summary = f"violation ∝ d^{exponent:.2f} [{_fmt(lo)}, {_fmt(hi)}]: {status} (fit ≤ ζ(d) {where})"
        plots = plots_for(f"{cid} {regime} trend", tv, log, id_prefix=f"t-{cid}-{regime}-") if with_plots else []
        out[(cid, regime)] = TrendView(
            cid,
            regime,
            f"trend-{cid}-{regime}",
            status,
            summary,
            str(tv.get("reason", "")),
            expected,
            expected is not None and expected != status,
            str(rec.get("reproduce", "")),
            plots,
        )
    return out


def load_boundaries(folder: Path, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The boundary files (schema xorcert-boundary) in `folder`/boundaries, by name; unreadable ones logged."""
    out = []
    for path in sorted((folder / BOUNDARY_DIR).glob("*.json")):
        try:
            data = read_json(path)
        except (OSError, ValueError) as e:
            log(f"boundary file {path} skipped ({type(e).__name__}: {e})")
            continue
        if not isinstance(data, dict) or data.get("schema") != "xorcert-boundary":
            log(f"boundary file {path} skipped (not schema xorcert-boundary)")
            continue
        out.append(data)
    return out


def boundary_view(b: Mapping[str, Any], index: int, with_plots: bool, log: Callable[[str], None]) -> BoundaryView:
    knob, rng = b.get("knob"), b.get("range") or ["?", "?"]
    title = f"{b.get('claim')} in {b.get('regime')} against {knob} over [{_fmt(rng[0])}, {_fmt(rng[-1])}]"
    lines, probes = [], []
    for br in b.get("brackets") or []:
        iv = br.get("interval")
        where = f"[{_fmt(iv[0])}, {_fmt(iv[1])}]" if iv else "no interval"
        lines.append(
            f"d = {br.get('d')}: {br.get('outcome')}, {knob} ∈ {where} "
            f"({br.get('note')}; {len(br.get('probes') or [])} probes)"
        )
        for p in br.get("probes") or []:
            probes.append({"d": br.get("d"), **p})
    s = b.get("scaling")
    if isinstance(s, Mapping):
        lo, hi = (s.get("slope_range") or [None, None])[:2]
        lines.append(
            f"scaling: boundary ∝ d^{_fmt(s.get('slope'))}; slopes the intervals allow [{_fmt(lo)}, {_fmt(hi)}] "
            f"({s.get('note')})"
        )
    plots = plots_for(title, {"series": b.get("series") or {}}, log, id_prefix=f"b{index}-") if with_plots else []
    return BoundaryView(title, f"boundary-{index}", lines, probes, str(b.get("command", "")), plots)


def _threshold_rows(cert: Mapping[str, Any]) -> list[tuple[str, str]]:
    thr = (cert.get("spec") or {}).get("thresholds") or {}
    return [(k, _fmt(v)) for k, v in thr.items()]


# ------------------------------------------------------------------------------ rendering
def render_report(
    cert: Mapping[str, Any],
    *,
    baseline: Mapping[str, Any] | None = None,
    previous: Mapping[str, Any] | None = None,
    baseline_name: str = "",
    previous_name: str = "",
    with_plots: bool = True,
    log: Callable[[str], None] | None = None,
    boundaries: list[dict[str, Any]] | None = None,
) -> str:
    """The report's HTML text. `baseline`/`previous` add the regression sections, `boundaries` (the files
    `load_boundaries` reads) a section per located boundary."""
    import jinja2
    from markupsafe import Markup

    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        (log or LOG.warning)(msg)

    conf = confidence(cert)
    cs = cells(cert)
    bdiff = baseline_diff(cert, baseline, baseline_name or "the baseline") if baseline is not None else None
    expected = {(c.claim, c.regime): c.before for c in bdiff.cells} if bdiff else {}
    flips = {(c.claim, c.regime): c.kind == "flip" for c in bdiff.cells} if bdiff else {}
    news = {(c.claim, c.regime): c.kind == "new" for c in bdiff.cells} if bdiff else {}
    for key, cell in cs.items():  # without a baseline, the expectation the run itself recorded
        expected.setdefault(key, cell.expected)
    pdiff = certificate_diff(previous, cert, previous_name or "the previous certificate") if previous else None

    claims_meta = cert.get("claims") or {}
    regimes = matrix_regimes(cert)
    differences = paper_differences(cert, cs)
    differs = {(d.claim, d.regime): f"{d.paper} → {d.status}" for rows in differences.values() for d in rows or ()}
    views: dict[tuple[str, str], CellView] = {}
    for key, cell in cs.items():
        try:
            views[key] = cell_view(
                cell,
                conf,
                expected.get(key),
                lambda m, k=key: note(f"{k[0]} {m}"),
                with_plots,
                flips.get(key),
                news.get(key),
                keystats.claim_key_stats(cert, key[0]),
            )
            views[key].differs = differs.get(key, "")
        except Exception as ex:  # noqa: BLE001
            note(f"{key[0]} {key[1]}: cell not drawn ({type(ex).__name__}: {ex})")
    family = family_wise(cs, family_alpha(cert))
    for (cid, regime), view in views.items():
        mine = {k for k in family.confirmed_at if k[:2] == (cid, regime)}
        if mine:
            view.rate += f"; {len(mine)} confirmed family-wise"
    try:
        proofs = proof_views(cert, note)
    except Exception as ex:  # noqa: BLE001
        proofs = []
        note(f"the proof's structure not drawn ({type(ex).__name__}: {ex})")
    ov: Overview | None = None
    ov_plot: Plot | None = None
    try:
        ov = overview(cert)
        ov_plot = overview_figure(ov) if ov and with_plots else None
    except Exception as ex:  # noqa: BLE001
        note(f"the overview figure not drawn ({type(ex).__name__}: {ex})")
    claim_list = claim_ids(cert)
    status_counts: dict[str, int] = {}
    for v in views.values():
        status_counts[v.status] = status_counts.get(v.status, 0) + 1

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    env.globals["tolerance"] = tolerance
    template = env.get_template(TEMPLATE)
    return template.render(
        cert=cert,
        profile=cert.get("profile"),
        spec=cert.get("spec") or {},
        env=cert.get("env") or {},
        run=cert.get("run") or {},
        complete=bool(cert.get("complete")),
        reasons=cert.get("incomplete_reasons") or [],
        claims=claim_list,
        claims_meta=claims_meta,
        regimes=regimes,
        views=views,
        status_counts=status_counts,
        family=family,
        user_regimes=user_regimes(cert),
        differences=[describe_differences(r, rows) for r, rows in differences.items()],
        n_examples=len(cert.get("entries") or []),
        bdiff=bdiff,
        pdiff=pdiff,
        counterexamples=counterexamples(cert, cs),
        proofs=proofs,
        overview=ov,
        overview_plot=ov_plot,
        proof_edges=PROOF.edges,
        hunt_finds=hunt_finds(cert),
        boundaries=[boundary_view(b, i, with_plots, note) for i, b in enumerate(boundaries or [])],
        trends=trend_views(cert, baseline, with_plots, note),
        thresholds=_threshold_rows(cert),
        env_conflicts=env_conflicts(cert),
        notes=notes,
        confidence=conf,
        markup=Markup,
    )
