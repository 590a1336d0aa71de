"""The certification of this repository: the package's `test_claim`, collected here.

`lemmas/certification.py` says what an item checks and how it meets the baseline;
`lemmas.pytest_plugin` parametrizes it (one item per claim × regime, and a trend item per claim
with a violation statistic × trend regime) and `reports.plugin`
writes the certificate and the report. Select with `--regimes`, `--claims` and
`--hypothesis-profile` (quick, certify, certify-gpu, certify-large, hunt).
"""

from lemmas.certification import test_claim, test_trend

__all__ = ["test_claim", "test_trend"]
