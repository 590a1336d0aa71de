"""Trend verdicts (lemmas.trends) on synthetic violation statistics with known exponents."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import lambertw

from lemmas.base import THRESHOLDS
from lemmas.trends import PERSISTS, TREND_STATUSES, UNDECIDED, VANISHES, TrendVerdict, crossing_d, fit_trend
from simulator.config import zeta

LADDER = (16, 32, 64, 128)


def power_law(exponent: float, scale: float, noise: float, seeds: int = 16, ladder=LADDER, seed: int = 0):
    """scale·d^exponent times log-normal noise per seed."""
    rng = np.random.default_rng(seed)
    return {d: scale * d**exponent * np.exp(noise * rng.standard_normal(seeds)) for d in ladder}


def test_shrinking_violation_vanishes_with_its_exponent_in_the_interval():
    tv = fit_trend(power_law(-0.9, 5.0, 0.2), claim="C4", regime="paper")
    assert tv.status == VANISHES
    assert tv.exponent_lo <= -0.9 <= tv.exponent_hi
    assert tv.exponent_hi < 0
    assert tv.summary().startswith(f"violation ∝ d^{tv.exponent:.2f} [") and "vanishes" in tv.summary()


def test_constant_violation_above_tolerance_persists():
    tv = fit_trend(power_law(0.0, 1.0, 0.1))
    assert tv.status == PERSISTS, tv.reason
    assert tv.exponent_lo <= 0 <= tv.exponent_hi
    assert math.isinf(tv.crossing_d)


def test_growing_violation_persists():
    assert fit_trend(power_law(0.5, 0.5, 0.1)).status == PERSISTS


def test_flat_at_the_tolerance_is_undecided():
    """Flat just below the tolerance at the largest d: the slope's interval holds 0, but the violation is
    already within ζ there — neither vanishing nor persisting is shown."""
    rng = np.random.default_rng(1)
    stats = {d: 0.9 * zeta(LADDER[-1]) * np.exp(0.2 * rng.standard_normal(16)) for d in LADDER}
    tv = fit_trend(stats)
    assert tv.exponent_hi >= 0, tv.summary()
    assert tv.status == UNDECIDED, tv.reason
    assert "within tolerance" in tv.reason


def test_too_few_evaluable_rungs_is_undecided():
    stats = power_law(-1.0, 1.0, 0.1)
    stats[16][:] = np.nan
    stats[32][:12] = np.nan  # more than max_unevaluable of the seeds
    tv = fit_trend(stats)
    assert tv.status == UNDECIDED and "finite median" in tv.reason


def test_infinite_median_at_the_largest_d_persists():
    stats = power_law(-1.0, 1.0, 0.1)
    stats[128][:] = np.inf
    assert fit_trend(stats).status == PERSISTS


@pytest.mark.parametrize("a, b", [(0.0, -0.9), (1.0, -0.5), (3.0, -0.3), (-1.0, -1.5)])
def test_crossing_d_matches_the_lambert_w_closed_form(a, b):
    """a + b x + log x = 0 (x = log d) has its larger root x = W₋₁(b e^{-a}) / b."""
    arg = b * math.exp(-a)
    if arg < -1 / math.e:  # no root: the fit is below ζ everywhere
        assert crossing_d(a, b) == 2.0
        return
    x = float(np.real(lambertw(arg, -1))) / b
    expected = max(math.exp(x), 2.0)
    got = crossing_d(a, b)
    assert got == pytest.approx(expected, rel=1e-8)
    fit = math.exp(a) * got**b
    if got > 2:
        assert fit == pytest.approx(zeta(got), rel=1e-6)


def test_crossing_is_never_for_a_non_negative_slope_and_reported_in_the_verdict():
    assert math.isinf(crossing_d(0.0, 0.0)) and math.isinf(crossing_d(-5.0, 0.1))
    tv = fit_trend(power_law(-0.9, 5.0, 0.0))  # noise-free: the fit is the law
    assert tv.exponent == pytest.approx(-0.9)
    assert tv.crossing_d == pytest.approx(crossing_d(math.log(5.0), -0.9))
    assert np.allclose(tv.fitted(np.array(LADDER)), [5.0 * d**-0.9 for d in LADDER])


@pytest.mark.parametrize(
    "stats, match",
    [
        ({16: [1.0], 32: [1.0]}, "at least trend_min_rungs = 3"),
        ({32: [1.0], 16: [1.0], 64: [1.0]}, "strictly increasing"),
        ({1: [1.0], 16: [1.0], 64: [1.0]}, "≥ 2"),
        ({16: [1.0, 1.0], 32: [1.0], 64: [1.0]}, "same, non-zero number of seeds"),
        ({16: [-1.0], 32: [1.0], 64: [1.0]}, "negative"),
    ],
)
def test_bad_input_is_a_clear_error(stats, match):
    with pytest.raises(ValueError, match=match):
        fit_trend(stats)


def test_trend_statuses_are_their_own_vocabulary():
    assert set(TREND_STATUSES) == {VANISHES, PERSISTS, UNDECIDED}
    with pytest.raises(ValueError, match="must be one of"):
        TrendVerdict("C4", "paper", "holds", "", [16], [0.3], [0.1], [[0.1]])


def test_to_dict_is_plain():
    import json

    json.dumps(fit_trend(power_law(-0.9, 5.0, 0.2)).to_dict())


def test_a_slope_flatter_than_trend_min_slope_is_no_vanishing():
    """d^-0.02 shrinks by 4% over 16–128: even a tight interval below 0 is read as no power of d."""
    tv = fit_trend(power_law(-0.02, 1.0, 0.001))
    assert tv.exponent_hi < 0 and tv.exponent_hi > -THRESHOLDS.trend_min_slope
    assert tv.status == PERSISTS, tv.reason


def test_the_trend_is_drawn_with_its_fit_and_tolerance():
    from lemmas.report import Panel
    from reports.plots import plots_for

    tv = fit_trend(power_law(-0.9, 5.0, 0.2), claim="C4", regime="paper")
    record = tv.to_dict()
    panel = Panel.from_dict(record["series"]["trend"])
    roles = {type(m).__name__ + ":" + getattr(m, "role", "") for m in panel.marks}
    assert {"Scatter:", "Curve:median", "Curve:fit", "Curve:threshold"} <= roles
    assert panel.x_scale == "log2" and panel.y_scale == "log"
    plots = plots_for("C4", record)
    assert len(plots) == 1 and "ζ(d)" in plots[0].svg and "fit: d^-0.8" in plots[0].svg


def test_the_matrix_cell_shows_the_trend_beside_the_per_d_cells():
    tv = fit_trend(power_law(-0.9, 5.0, 0.2), claim="C4", regime="paper")
    cell = tv.cell({128: "holds", 64: "fails"})
    assert cell.startswith("C4 paper: fails d = 64, holds d = 128; violation ∝ d^-0.")
    assert cell.endswith(")") and ": vanishes" in cell
    undecided = fit_trend({16: [np.nan], 32: [np.nan], 64: [1.0]}, claim="C1", regime="gaussian")
    assert undecided.cell() == "C1 gaussian: trend undecided: 1 rung(s) with a finite median (need 3)"
    assert "fit" not in str(undecided.panel().marks)
