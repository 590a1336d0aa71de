"""--update-baseline's table: one status per cell, refused when the examples of a cell disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import baseline as bmod
from reports.diff import baseline_diff, certificate_diff, format_diff, tolerance
from tests.reports import synthetic as S


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
    path.write_text('{"schema": 1, "profiles": {}}')
    assert bmod.load(path) == bmod.empty() and bmod.load(tmp_path / "absent.json") == bmod.empty()


def test_update_refuses_disagreeing_examples() -> None:
    with pytest.raises(bmod.BaselineConflict) as e:
        bmod.updated(None, S.certificate())
    msg = str(e.value)
    assert "C5 in small_batch" in msg and "1 holds, 1 fails" in msg and "d=64" in msg


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
