"""The agreement of a claim's violation statistic (Claim.violation) with its check's per-seed outcomes."""

from __future__ import annotations

import numpy as np

from lemmas.base import Claim


def assert_violation_agrees(claim: Claim, traj, clause_is_claim: bool = False) -> np.ndarray:
    """NaN exactly on the 'na' seeds; a statistic > ζ(d) only on a failing seed; where the statistic is the
    whole claim (`clause_is_claim`), statistic ≤ ζ(d) ⇔ pass. Returns the statistic."""
    assert claim.violation is not None
    v = claim.check(traj)
    stat = claim.violation(traj)
    outcomes = [p["outcome"] for p in v.per_seed]
    assert stat.shape == (len(traj.seeds),)
    for s, o in zip(stat, outcomes, strict=True):
        assert np.isnan(s) == (o == "na"), (s, o)
        if s > traj.zeta:
            assert o == "fail", (s, o)
        if clause_is_claim and not np.isnan(s):
            assert (s <= traj.zeta) == (o == "pass"), (s, o)
    return stat
