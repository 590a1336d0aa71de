"""The shared statistics of lemmas.base: the w.h.p. rule and the reported bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, binom

from lemmas.base import FAILS, HOLDS, THRESHOLDS, bootstrap_interval, whp


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16, 40])
def test_whp_decision_and_interval_are_the_binomial_ones(n: int) -> None:
    """The decision is P(X ≥ failures | n, δ) ≥ 1 - confidence; the interval is Clopper–Pearson."""
    a = 1 - THRESHOLDS.confidence
    for k in range(n + 1):
        w = whp(["fail"] * k + ["pass"] * (n - k))
        pval = float(binom.sf(k - 1, n, THRESHOLDS.delta)) if k > 0 else 1.0
        assert w.p_value == pytest.approx(pval, rel=1e-12, abs=1e-300)
        assert w.status == (HOLDS if pval >= a else FAILS)
        lo = float(beta.ppf(a / 2, k, n - k + 1)) if k > 0 else 0.0
        hi = float(beta.ppf(1 - a / 2, k + 1, n - k)) if k < n else 1.0
        assert (w.rate_lo, w.rate_hi) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))


def test_bootstrap_interval_is_reproducible_and_skips_undefined_resamples() -> None:
    x = np.arange(10, dtype=float)
    lo, hi, undefined = bootstrap_interval(lambda idx: [np.median(x[idx]), np.mean(x[idx])], 10, 200)
    again = bootstrap_interval(lambda idx: [np.median(x[idx]), np.mean(x[idx])], 10, 200)
    assert np.array_equal(lo, again[0]) and np.array_equal(hi, again[1])
    assert (lo < [4.5, 4.5]).all() and (hi > [4.5, 4.5]).all() and not undefined.any()
    lo, hi, undefined = bootstrap_interval(lambda idx: math.nan if 0 in idx else float(np.mean(x[idx])), 10, 200)
    assert 0 < float(undefined) < 1 and math.isfinite(float(lo)) and float(lo) <= float(hi)
    lo, hi, undefined = bootstrap_interval(lambda idx: float(np.mean(x[idx])), 1, 200)  # nothing to resample
    assert float(lo) == float(hi) == 0.0 and float(undefined) == 0.0
