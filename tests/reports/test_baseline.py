"""--update-baseline's table: one status per cell (or per d), refused when examples disagree at one d."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import baseline as bmod
from reports.diff import baseline_diff, certificate_diff, format_diff, tolerance
from tests.support import certificates as S


def agreeing() -> dict:
    return {k: v for k, v in S.all_kinds_records().items() if "C5-small_batch" not in k}


def test_update_round_trip(tmp_path: Path) -> None:
    cert = S.certificate(agreeing())
    old = {"schema": 1, "profiles": {"certify": {"C1": {"paper": "holds"}}, "quick": {"C11": {"gaussian": "fails"}}}}
    new, n = bmod.updated(old, cert)
    assert n == len(agreeing())
    assert new["profiles"]["certify"] == old["profiles"]["certify"]  # other profiles kept
    assert new["profiles"]["quick"]["C11"] == {"gaussian": "fails", "paper": "holds"}  # other cells kept
    assert new["profiles"]["quick"]["C4"]["large_init"] == "fails"  # the flip is now the expectation
    diff = baseline_diff(cert, new)
    assert not diff.flips and diff.count("new") == 0 and diff.count("missing") == 1
    path = tmp_path / "baseline.json"
    path.write_text('{"schema": 1, "profiles": {}}')  # schema 1 (statuses only) is still read
    assert bmod.load(path)["profiles"] == {}
    assert bmod.load(tmp_path / "absent.json", missing_ok=True) == bmod.empty()


def test_update_writes_a_per_d_cell_and_the_diff_reads_it() -> None:
    cert = S.certificate()  # C5 in small_batch: holds at d = 32, fails at d = 64
    old = {"schema": 1, "note": "kept", "profiles": {}}
    new, _ = bmod.updated(old, cert)
    cell = new["profiles"]["quick"]["C5"]["small_batch"]
    assert cell == {"d=32": "holds", "d=64": "fails"} and new["note"] == "kept" and new["schema"] == 2
    assert bmod.expected_for(cell, 64) == "fails" and bmod.expected_for(cell, 128) is None
    assert bmod.expected_for("holds", 128) == "holds" and bmod.expected_statuses(cell) == {"holds", "fails"}
    assert (
        bmod.describe_cell({"d=128": "holds", "d=64": "fails", "d=256": "holds"})
        == "fails at d=64; holds at d=128, 256"
    )
    change = {(c.claim, c.regime): c for c in baseline_diff(cert, new).cells}[("C5", "small_batch")]
    assert change.kind == "same" and change.before == "holds at d=32; fails at d=64" and change.after == "mixed"
    swapped = {**new, "profiles": {"quick": {"C5": {"small_batch": {"d=32": "fails", "d=64": "fails"}}}}}
    assert {(c.claim, c.regime): c.kind for c in baseline_diff(cert, swapped).cells}[("C5", "small_batch")] == "flip"
    partial = {**new, "profiles": {"quick": {"C5": {"small_batch": {"d=32": "holds"}}}}}
    assert {(c.claim, c.regime): c.kind for c in baseline_diff(cert, partial).cells}[("C5", "small_batch")] == "new"


def test_update_refuses_examples_disagreeing_at_one_d() -> None:
    records = agreeing()
    records["C5-small_batch"] = [
        S.record("C5", "small_batch", "holds", d=64),
        S.record("C5", "small_batch", "fails", fails=2, d=64, seed=3),
    ]
    with pytest.raises(bmod.BaselineConflict) as e:
        bmod.updated(None, S.certificate(records))
    msg = str(e.value)
    assert "C5 in small_batch" in msg and "1 holds, 1 fails" in msg and "seed=3" in msg and "same d" in msg


def test_diff_orders_flips_first_and_applies_tolerances() -> None:
    base = {"schema": 1, "profiles": {"quick": {"C4": {"large_init": "holds"}, "C2": {"gaussian": "holds"}}}}
    diff = baseline_diff(S.certificate(), base, "baseline.json")
    assert diff.cells[0].kind == "flip" and (diff.cells[0].claim, diff.cells[0].regime) == ("C4", "large_init")
    lines = format_diff(diff)
    assert lines[0].startswith("verdicts against baseline.json: 1 flipped") and "FLIP C4" in lines[1]
    old, new = S.certificate(), S.certificate()
    stats = new["entries"][0]["verdict"]["stats"]
    stats["max_batch_dev_to_T1"] *= 1.05  # within 10%
    stats["max_test_dev_to_T1"] *= 1.5  # beyond
    stats["seeds_failing"] += 1  # counts: exact
    moved = {m.stat for m in certificate_diff(old, new).moves}
    assert moved == {"max_test_dev_to_T1", "seeds_failing", "fail_rate"} - ({"fail_rate"} - moved)
    assert "max_batch_dev_to_T1" not in moved and tolerance("seeds_failing") == 0.0 and tolerance("gain") == 0.1


def test_trend_verdicts_sit_beside_the_per_d_cells() -> None:
    """A trend item writes its trend into its cell under "trend"; re-recording keeps it; it is never read as
    a d's status, and an unknown trend is refused."""
    from lemmas.trends import TREND_STATUSES

    assert bmod.TREND_STATUSES == TREND_STATUSES
    cert = S.certificate(agreeing())
    old, _ = bmod.updated(None, cert)
    cid, regime = "C4", "large_init"
    status = old["profiles"]["quick"][cid][regime]
    assert isinstance(status, str)
    ds = sorted({int(e["example"]["d"]) for e in bmod.cells(cert)[(cid, regime)].entries})
    with_trend = {**cert, "trends": [{"claim": cid, "regime": regime, "trend": {"status": "persists"}}]}
    new, n = bmod.updated(old, with_trend)
    cell = new["profiles"]["quick"][cid][regime]
    assert cell == {**{f"d={d}": status for d in ds}, "trend": "persists"} and n == len(bmod.cells(cert))
    assert bmod.expected_for(cell, ds[0]) == status and bmod.expected_trend(cell) == "persists"
    assert bmod.expected_statuses(cell) == {status}
    assert bmod.describe_cell(cell).endswith("; trend persists")
    again, _ = bmod.updated(new, cert)  # re-recording the per-run cells keeps the trend
    assert again["profiles"]["quick"][cid][regime] == cell
    assert not baseline_diff(cert, again).flips
    measured = {**cert, "trends": [{"claim": cid, "regime": regime, "trend": {"status": "vanishes"}}]}
    assert bmod.expected_trend(bmod.updated(again, measured)[0]["profiles"]["quick"][cid][regime]) == "vanishes"
    alone = {**cert, "entries": [], "items": {}, "trends": with_trend["trends"]}
    with pytest.raises(bmod.BaselineConflict, match="trend items ran without their cells"):
        bmod.updated(old, alone)
    with pytest.raises(bmod.BaselineError, match="unknown trend 'holds'"):
        bmod.validate({**new, "profiles": {"quick": {cid: {regime: {**cell, "trend": "holds"}}}}})


def test_an_unconfirmed_contradiction_is_no_flip_and_keeps_its_record() -> None:
    """A decision that contradicted its record but was undecided at the family level (lemmas.plan.confirm):
    the gate lists it as unconfirmed, not as a flip; --update-baseline keeps the record; a confirmed one flips."""
    from reports.html import counterexamples

    def cert(confirmation: dict) -> dict:
        rec = S.record("C4", "paper", "undecided", expected="holds")
        return S.certificate({"C4-paper": [{**rec, "confirmation": confirmation}]})

    unconf = cert({"first": "fails", "decisions": 112, "confirmed": False, "unconfirmed": True})
    table = {"schema": 2, "profiles": {"quick": {"C4": {"paper": "holds"}}}}
    diff = baseline_diff(unconf, table)
    assert [c.kind for c in diff.cells] == ["unconfirmed"] and not diff.flips
    assert "1 unconfirmed (not flips)" in format_diff(diff)[0] and "unconf C4" in format_diff(diff)[1]
    assert bmod.updated(table, unconf)[0]["profiles"]["quick"]["C4"]["paper"] == "holds"
    assert not [cx for cx in counterexamples(unconf, bmod.cells(unconf)) if cx.kind == "flip"]
    errored = {**unconf, "entries": [], "items": {"n": {"claim": "C4", "regime": "paper", "outcome": "failed"}}}
    assert [c.kind for c in baseline_diff(errored, table).cells] == ["flip"]  # no verdict at all: a flip
    confirmed = cert({"first": "fails", "decisions": 112, "confirmed": True, "unconfirmed": False})
    confirmed["entries"][0]["verdict"]["status"] = "fails"
    assert [c.kind for c in baseline_diff(confirmed, table).cells] == ["flip"]
    assert bmod.updated(table, confirmed)[0]["profiles"]["quick"]["C4"]["paper"] == "fails"
