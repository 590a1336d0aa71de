"""`python -m reports`: re-render, compare and merge certificates without rerunning anything.

python -m reports build  certificate.json -o index.html [--baseline reports/baseline.json] [--previous old.json]
python -m reports diff   old.json new.json            (old may also be a baseline.json)
python -m reports merge  shard1.json shard2.json … -o merged.json [--baseline reports/baseline.json]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import baseline as baseline_mod
from . import certificate as certmod
from .diff import baseline_diff, certificate_diff, format_diff
from .files import read_json, write_json_atomic, write_text_atomic


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reports",
        description=(
            "Work with xorcert certificates (the certificate.json a certification run writes to reports/out/): "
            "render the HTML report again, print the regression table between two runs, or merge the "
            "certificates of the shards of one sweep."
        ),
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="{build,diff,merge}")

    b = sub.add_parser(
        "build",
        help="render index.html from a certificate, without rerunning",
        description="Render the self-contained HTML report of a certificate. Nothing is simulated; "
        "the plots are drawn from the verdict series stored in the certificate.",
    )
    b.add_argument("certificate", type=Path, help="certificate.json of a run (or of a merge)")
    b.add_argument("-o", "--output", type=Path, default=Path("index.html"), help="the HTML file (default index.html)")
    b.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="compare the verdicts with this baseline (default: reports/baseline.json if it exists)",
    )
    b.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="a previous certificate: adds verdict flips and statistics that moved beyond tolerance",
    )
    b.add_argument("--no-plots", action="store_true", help="leave the plots out (fast)")

    d = sub.add_parser(
        "diff",
        help="print the regression table between two certificates",
        description="Print the verdicts that flipped between OLD and NEW, then the statistics that "
        "moved by more than their relative tolerance on the examples both ran "
        "(tolerances: reports/diff.py, TOLERANCES). OLD may be a baseline.json: then the "
        "table compares NEW with its expected verdicts. Exit status 1 when a verdict "
        "flipped, else 0.",
    )
    d.add_argument("old", type=Path, help="the earlier certificate, or a baseline.json")
    d.add_argument("new", type=Path, help="the later certificate")
    d.add_argument("--all", action="store_true", help="also list the cells that did not change")
    d.add_argument("--limit", type=int, default=200, help="at most this many rows per table (default 200)")

    m = sub.add_parser(
        "merge",
        help="merge the certificates of the shards of one sweep",
        description="Merge the certificates of shards of one sweep (e.g. runs with different -k "
        "selections) into one. Refuses certificates of different specifications "
        "(package version or thresholds), of different profiles, and shards that ran "
        "the same test with different results. The merge equals the certificate of the "
        "whole sweep run at once, up to dates and shard metadata ('run').",
    )
    m.add_argument("certificates", type=Path, nargs="+", help="the shards' certificate.json files")
    m.add_argument("-o", "--output", type=Path, required=True, help="the merged certificate")
    m.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="then gate the merged certificate against this baseline, as a whole run would: print its table "
        "and exit 1 when a verdict flipped",
    )

    return p


def _build(args: argparse.Namespace) -> int:
    from .html import load_boundaries, render_report

    cert = certmod.load(args.certificate)
    bpath = args.baseline
    if bpath is None and Path("reports/baseline.json").exists():
        bpath = Path("reports/baseline.json")
    base = baseline_mod.load(bpath) if bpath is not None else None
    prev = certmod.load(args.previous) if args.previous is not None else None
    notes: list[str] = []
    html = render_report(
        cert,
        baseline=base,
        previous=prev,
        baseline_name=f"{bpath} (profile {cert.get('profile')})" if bpath else "",
        previous_name=str(args.previous or ""),
        with_plots=not args.no_plots,
        log=notes.append,
        boundaries=load_boundaries(args.certificate.parent, notes.append),
    )
    out = write_text_atomic(args.output, html)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"report: {out.resolve()}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    new = certmod.load(args.new)
    raw = read_json(args.old)
    if baseline_mod.looks_like_baseline(raw):
        diff = baseline_diff(
            new, baseline_mod.validate(raw, str(args.old)), against=f"{args.old} (profile {new.get('profile')})"
        )
    else:
        diff = certificate_diff(certmod.validate(raw, str(args.old)), new, against=str(args.old))
    for line in format_diff(diff, show_same=args.all, limit=args.limit):
        print(line)
    return 1 if diff.flips else 0


def _merge(args: argparse.Namespace) -> int:
    base = baseline_mod.load(args.baseline) if args.baseline is not None else None  # refused before any write
    certs = [certmod.load(p) for p in args.certificates]
    try:
        merged = certmod.merge(certs, [str(p) for p in args.certificates])
    except certmod.MergeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = write_json_atomic(args.output, merged)
    for k in certmod.env_conflicts(merged):
        print(f"warning: the shards differ in {k}: {merged['env'][k]}", file=sys.stderr)
    state = "complete" if merged["complete"] else "INCOMPLETE"
    print(f"merged {len(certs)} certificates ({len(merged['entries'])} examples, {state}) into {out}")
    if base is None:
        return 0
    diff = baseline_diff(merged, base, against=f"{args.baseline} (profile {merged.get('profile')})")
    for line in format_diff(diff, limit=200):
        print(line)
    return 1 if diff.flips else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"build": _build, "diff": _diff, "merge": _merge}[args.command](args)
    except (certmod.CertificateError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
