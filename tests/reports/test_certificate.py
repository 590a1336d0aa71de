"""Certificates: canonical order, merging shards, refusing different specifications, the CLI."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from reports import certificate as certmod
from reports.__main__ import main
from reports.files import read_json, write_json_atomic
from tests.support import certificates as S


def shards(records: dict[str, list]) -> tuple[dict, dict]:
    keys = list(records)
    return {k: records[k] for k in keys[::2]}, {k: records[k] for k in keys[1::2]}


def test_entries_are_in_canonical_order() -> None:
    records = S.all_kinds_records()
    shuffled = dict(random.Random(1).sample(list(records.items()), len(records)))
    assert certmod.canonical(S.certificate(records)) == certmod.canonical(S.certificate(shuffled))
    claims = [e["claim"] for e in S.certificate(records)["entries"]]
    assert claims == sorted(claims, key=certmod.claim_order)
    assert sorted(["Q1", "C10", "C2", "C15"], key=certmod.claim_order) == ["C2", "C10", "C15", "Q1"]


def test_merge_of_shards_equals_the_whole() -> None:
    records = S.all_kinds_records()
    a, b = shards(records)
    merged = certmod.merge([S.certificate(a), S.certificate(b)], ["a.json", "b.json"])
    assert certmod.canonical(merged) == certmod.canonical(S.certificate(records))
    assert [s["name"] for s in merged["run"]["merged_from"]] == ["a.json", "b.json"]
    assert certmod.canonical(certmod.merge([S.certificate(b), S.certificate(a)])) == certmod.canonical(merged)


def test_merge_refuses_different_specifications() -> None:
    a, b = shards(S.all_kinds_records())
    other = copy.deepcopy(S.SPEC)
    other["thresholds"]["eps"] = 0.02
    with pytest.raises(certmod.MergeError, match=r"different specifications.*threshold eps: 0.01 vs 0.02"):
        certmod.merge([S.certificate(a), S.certificate(b, spec=other)], ["a.json", "b.json"])
    other = {**S.SPEC, "package_version": "0.2.0"}
    with pytest.raises(certmod.MergeError, match="package version '0.1.0' vs '0.2.0'"):
        certmod.merge([S.certificate(a), S.certificate(b, spec=other)])
    cb = S.certificate(b)
    cb["profile"] = "certify"
    with pytest.raises(certmod.MergeError, match="different profiles"):
        certmod.merge([S.certificate(a), cb])


def test_merge_overlapping_shards() -> None:
    records = S.all_kinds_records()
    a = S.certificate(records)
    assert certmod.canonical(certmod.merge([a, S.certificate(records)])) == certmod.canonical(a)  # same results: once
    changed = copy.deepcopy(records)
    first = next(iter(changed))
    changed[first][0]["verdict"]["status"] = "fails"
    with pytest.raises(certmod.MergeError, match="must not overlap"):
        certmod.merge([a, S.certificate(changed)])


def test_merge_marks_incomplete_shards_and_env_conflicts() -> None:
    a, b = shards(S.all_kinds_records())
    cb = S.certificate(b, complete=False)
    cb["env"]["git_commit"] = "1" * 40
    merged = certmod.merge([S.certificate(a), cb], ["a", "b"])
    assert merged["complete"] is False and merged["incomplete_reasons"][0].startswith("b: ")
    assert certmod.env_conflicts(merged) == ["git_commit"]


def test_cells_and_intervals() -> None:
    cs = certmod.cells(S.certificate())
    c = cs[("C5", "small_batch")]
    assert c.status == "mixed" and c.counts == {"holds": 1, "fails": 1} and c.seed_outcomes() == (2, 8, 0)
    rate, lo, hi = c.fail_rate()
    assert rate == 0.25 and 0 < lo < 0.25 < hi < 1
    assert cs[("C3", "paper")].fail_rate()[1:] == (0.0, pytest.approx(0.3694, abs=1e-3))  # 0/8 Clopper–Pearson
    assert cs[("C1", "parity3")].fail_rate() is None


def test_atomic_strict_json(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "c.json", {"x": float("nan"), "y": float("inf"), "z": [1, (2, 3)]})
    assert read_json(path) == {"x": "nan", "y": "inf", "z": [1, [2, 3]]}
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
    with pytest.raises(certmod.CertificateError, match="not an xorcert certificate"):
        certmod.load(path)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = {k: v for k, v in S.all_kinds_records().items() if "paper" not in k or "C3" in k}
    a, b = shards(records)
    pa, pb = (
        write_json_atomic(tmp_path / "a.json", S.certificate(a)),
        write_json_atomic(tmp_path / "b.json", S.certificate(b)),
    )
    assert main(["merge", str(pa), str(pb), "-o", str(tmp_path / "m.json")]) == 0
    merged = certmod.load(tmp_path / "m.json")
    assert certmod.canonical(merged) == certmod.canonical(S.certificate(records))

    other = S.certificate(b, spec={**S.SPEC, "thresholds": {**S.SPEC["thresholds"], "delta": 0.2}})
    pc = write_json_atomic(tmp_path / "c.json", other)
    assert main(["merge", str(pa), str(pc), "-o", str(tmp_path / "bad.json")]) == 2
    assert "different specifications" in capsys.readouterr().err and not (tmp_path / "bad.json").exists()

    flipped = S.certificate(records)
    for e in flipped["entries"]:
        if e["claim"] == "C3":
            e["verdict"]["status"] = "fails"
    pf = write_json_atomic(tmp_path / "f.json", flipped)
    capsys.readouterr()
    assert main(["diff", str(tmp_path / "m.json"), str(pf)]) == 1
    out = capsys.readouterr().out
    assert "FLIP C3" in out and "1 flipped" in out
    bl = write_json_atomic(tmp_path / "bl.json", {"schema": 1, "profiles": {"quick": {"C3": {"paper": "holds"}}}})
    assert main(["diff", str(bl), str(pf)]) == 1 and "expected holds" in capsys.readouterr().out

    assert (
        main(
            [
                "build",
                str(tmp_path / "m.json"),
                "-o",
                str(tmp_path / "r.html"),
                "--no-plots",
                "--baseline",
                str(bl),
                "--previous",
                str(pf),
            ]
        )
        == 0
    )
    assert "report:" in capsys.readouterr().out and 'id="matrix"' in (tmp_path / "r.html").read_text()
    assert main(["build", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("command", ["build", "diff", "merge"])
def test_cli_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and len(capsys.readouterr().out) > 200
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(c in out for c in ("build", "diff", "merge"))


def test_json_roundtrip_is_stable(tmp_path: Path) -> None:
    cert = S.certificate()
    path = write_json_atomic(tmp_path / "c.json", cert)
    assert certmod.load(path) == json.loads(json.dumps(cert))
