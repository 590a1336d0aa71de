"""Located boundaries: the bisection against synthetic verdicts with a known threshold, bad input refused
before any run, and a small real run of `python -m lemmas boundary` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lemmas.base import FAILS, HOLDS, INCONCLUSIVE
from lemmas.boundary import (
    KNOBS,
    BoundaryError,
    Bracket,
    Probe,
    bisect,
    check_request,
    fit_scaling,
    knob,
    parse_range,
    probes_needed,
)
from lemmas.cli import main
from lemmas.plan import Example, base_config


def threshold_at(t: float, below: str = HOLDS, above: str = FAILS):  # noqa: ANN201
    calls: list[float] = []

    def probe(x: float) -> Probe:
        calls.append(x)
        return Probe(x, below if x < t else above)

    probe.calls = calls  # type: ignore[attr-defined]
    return probe


@pytest.mark.parametrize("t", [1.7e-3, 0.0237, 0.31, 0.97])
def test_finds_a_scale_threshold_within_the_stated_interval_and_probe_count(t: float) -> None:
    probe = threshold_at(t)
    b = bisect(probe, 1e-3, 1.0, rel_tol=0.1, max_probes=50)
    assert b.outcome == "located" and b.interval is not None
    lo, hi = b.interval
    assert lo < t <= hi and hi / lo <= 1.1
    assert (b.low_status, b.high_status) == (HOLDS, FAILS)
    assert len(b.probes) == len(probe.calls) == probes_needed(1e-3, 1.0, 0.1) == 9  # 2 ends + ⌈log₂(log 1000/log 1.1)⌉


def test_either_orientation() -> None:
    b = bisect(threshold_at(0.05, below=FAILS, above=HOLDS), 1e-3, 1.0)
    assert b.interval is not None and b.interval[0] < 0.05 <= b.interval[1]
    assert (b.low_status, b.high_status) == (FAILS, HOLDS)


def test_integer_knob_ends_on_adjacent_integers_or_the_ratio() -> None:
    probe = threshold_at(37)
    b = bisect(probe, 1, 4096, integer=True, rel_tol=0.01, max_probes=50)
    assert b.interval == (36.0, 37.0) and "adjacent" in b.note
    assert all(float(p.value).is_integer() for p in b.probes)
    assert len(b.probes) <= 2 + math.ceil(math.log2(4096)) + 2
    b = bisect(threshold_at(775), 16, 4096, integer=True, rel_tol=0.1, max_probes=50)
    assert b.interval is not None and b.interval[0] < 775 <= b.interval[1] <= 1.1 * b.interval[0]


def test_no_flip_in_the_range() -> None:
    b = bisect(threshold_at(10.0), 1e-3, 1.0)
    assert b.outcome == "no flip" and b.interval is None and len(b.probes) == 2


def test_an_undecided_probe_stops_the_bisection_with_the_last_decided_ones() -> None:
    def probe(x: float) -> Probe:
        return Probe(x, HOLDS if x < 0.01 else FAILS if x > 0.1 else "undecided")

    b = bisect(probe, 1e-3, 1.0)
    assert b.outcome == "stopped" and "undecided" in b.note
    assert b.interval is not None and b.interval[0] < 0.01 and b.interval[1] > 0.1
    assert b.probes[-1].status == "undecided"


def test_an_inconclusive_end_has_no_side_to_bisect_from() -> None:
    b = bisect(lambda x: Probe(x, INCONCLUSIVE), 1e-3, 1.0)
    assert b.outcome == "stopped" and b.interval is None and len(b.probes) == 1


def test_probe_limit() -> None:
    b = bisect(threshold_at(0.0237), 1e-3, 1.0, max_probes=4)
    assert b.outcome == "probe limit" and len(b.probes) == 4
    assert b.interval is not None and b.interval[0] < 0.0237 <= b.interval[1]


def test_scaling_fit_recovers_a_power_law() -> None:
    brackets = [Bracket(d, (), "located", "", HOLDS, FAILS, (0.9 * d**-0.5, 1.1 * d**-0.5)) for d in (32, 64, 128)]
    s = fit_scaling(brackets)
    assert s is not None and s.slope == pytest.approx(-0.5) and s.note == "3-point fit"
    assert s.slope_range[0] < -0.5 < s.slope_range[1]
    assert fit_scaling(brackets[:1]) is None
    assert fit_scaling([*brackets[:1], Bracket(64, (), "no flip", "", HOLDS, HOLDS, None)]) is None


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("C1", "paper", "foo", 1e-3, 1.0, (32,)), r"'foo' is not a field of RunConfig; the knobs are theta \(0, ∞\)"),
        (("C1", "paper", "d", 1e-3, 1.0, (32,)), r"'d' is a RunConfig field but not a knob"),
        (("C1", "paper", "theta", 0.1, 0.1, (32,)), r"range \[0.1, 0.1\] of theta is empty.*allowed \(0, ∞\)"),
        (("C1", "paper", "theta", 1.0, 0.1, (32,)), r"range \[1, 0.1\] of theta is inverted"),
        (("C1", "paper", "theta", -1.0, 1.0, (32,)), r"-1 outside the allowed values in \(0, ∞\)"),
        (("C1", "paper", "label_noise", 0.1, 0.7, (32,)), r"0.7 outside the allowed values in \(0, 0.5\)"),
        (("C7", "paper", "m", 1.5, 64.0, (64,)), r"1.5 outside the allowed integers in \[1, 1e\+09\]"),
        (("C1", "paper", "theta", 1e-3, 1.0, (1,)), r"--d 1: must be an integer in \[3, "),
        (("C1", "paper", "theta", 1e-3, 1.0, ()), r"--d: give at least one dimension"),
        (("C2", "paper", "theta", 1e-3, 1.0, (32,)), r"C2 reads 'ladder'.*per-run claim"),
        (("C1", "nowhere", "theta", 1e-3, 1.0, (32,)), r"--regime 'nowhere' is not registered"),
        (("C99", "paper", "theta", 1e-3, 1.0, (32,)), r"claim 'C99' is not registered"),
    ],
)
def test_bad_requests_are_refused_before_any_run(args: tuple, message: str) -> None:
    with pytest.raises(BoundaryError, match=message):
        check_request(*args, width=1, batch="")


def test_range_text() -> None:
    assert parse_range("1e-3:1", knob("theta")) == (1e-3, 1.0)
    for text in ("1e-3", "a:b", "1:2:3"):
        with pytest.raises(BoundaryError, match=r"--range .*theta takes"):
            parse_range(text, knob("theta"))


def test_every_knob_is_a_runconfig_field_and_overrides_the_regime() -> None:
    from simulator import RunConfig

    assert set(KNOBS) <= set(RunConfig.__dataclass_fields__)
    cfg = base_config(Example("paper", 32, overrides=(("theta", 0.5),)))
    assert cfg.theta == 0.5 and cfg.m == base_config(Example("paper", 32)).m
    assert Example.from_dict(Example("paper", 32, overrides=(("m", 7),)).to_dict()).overrides == (("m", 7),)
    assert "overrides" not in Example("paper", 32).to_dict()  # examples without any read as before


def test_cli_errors_name_the_parameter(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = ["boundary", "C1", "--regime", "paper", "--report-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c")]
    assert main([*base, "--knob", "theta", "--range", "1:0.1", "--d", "32"]) == 2
    assert "inverted" in capsys.readouterr().err
    assert main([*base, "--knob", "gamma", "--range", "0.1:1", "--d", "32"]) == 2
    assert "'gamma' is not a field of RunConfig" in capsys.readouterr().err
    assert main([*base, "--knob", "theta", "--range", "0.1:1", "--d", "2"]) == 2
    assert "--d 2: must be an integer in [3," in capsys.readouterr().err
    assert main(["check", "C1", "--d", "32", "--set", "theta=-1"]) == 2
    assert "--set 'theta=-1': theta must be in (0, ∞)" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # nothing ran


@pytest.mark.slow
def test_cli_end_to_end_at_d16(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Three probes of C1's θ boundary at d = 16 with 2 seeds (a few seconds): the JSON the report reads,
    progress on stderr, and the report's section."""
    from reports.html import load_boundaries, render_report
    from tests.support import certificates as S

    rc = main(
        [
            "boundary", "C1", "--regime", "paper", "--knob", "theta", "--range", "0.01:1", "--d", "16",
            "--seeds", "2", "--max-probes", "3", "--report-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    path = tmp_path / "boundaries" / "C1-paper-theta.json"
    data = json.loads(path.read_text())
    (br,) = data["brackets"]
    assert rc in (0, 1) and data["schema"] == "xorcert-boundary" and br["d"] == 16
    assert [p["status"] for p in br["probes"]][:2] == [HOLDS, FAILS]  # θ = 0.01 holds, θ = 1 (lazy) fails
    assert len(br["probes"]) == 3 and br["outcome"] == "probe limit"
    assert out.err.count("boundary C1 paper d=16: theta=") == 3
    assert br["probes"][0]["command"].endswith("--set theta=0.01")
    notes: list[str] = []
    html = render_report(S.certificate(), boundaries=load_boundaries(tmp_path, notes.append))
    assert 'id="boundaries"' in html and "C1 in paper against theta" in html and not notes


def _boundary(d: int, interval: tuple[float, float], seeds: int = 8):  # noqa: ANN202
    from lemmas.boundary import Boundary

    br = Bracket(d, (Probe(interval[0], HOLDS), Probe(interval[1], FAILS)), "located", "", HOLDS, FAILS, interval)
    return Boundary("C1", "paper", "theta", (1e-3, 1.0), seeds, 0, 1, "", 0.1, 12, (br,), None, f"run d={d}", 1.0)


def test_a_later_run_at_another_d_joins_the_earlier_file() -> None:
    from lemmas.boundary import merged

    old = merged(_boundary(32, (0.5, 0.55)), None)
    both = merged(_boundary(64, (0.25, 0.275)), json.loads(json.dumps(old)))
    assert [b["d"] for b in both["brackets"]] == [32, 64] and both["seconds"] == 2.0
    assert both["scaling"]["slope"] == pytest.approx(-1.0) and both["scaling"]["note"].startswith("2-point fit")
    assert both["command"] == "run d=32\nrun d=64"
    again = merged(_boundary(64, (0.2, 0.22)), both)  # a d run again replaces its bracket
    assert [b["interval"] for b in again["brackets"]][1] == [0.2, 0.22]
    other = merged(_boundary(64, (0.25, 0.275), seeds=16), old)  # another measurement: not joined
    assert [b["d"] for b in other["brackets"]] == [64] and other["scaling"] is None
