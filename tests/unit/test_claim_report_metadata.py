"""Every claim owns its report metadata; the certificate's claims section carries it."""

from __future__ import annotations

import json

from lemmas.base import registry
from lemmas.report import KeyStat
from reports.certificate import current_claims


def test_claims_carry_their_key_statistics_into_the_certificate() -> None:
    meta = json.loads(json.dumps(current_claims()))
    for cid, claim in registry().items():
        assert claim.key_stats, f"{cid} names no key statistic"
        assert tuple(KeyStat.from_dict(k) for k in meta[cid]["key_stats"]) == claim.key_stats
