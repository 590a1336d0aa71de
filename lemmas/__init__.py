"""xorcert's claims: one module per claim of docs/SPEC.md §3, the verdict rule, and the plan.

    from lemmas import certify
    from lemmas.plan import Example
    certify("C4", Example("paper", d=64, seeds=8)).summary()

Importing `lemmas` imports nothing heavy (the report reads `lemmas.series` without torch);
`certify` and `registry` load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["certify", "registry"]


def __getattr__(name: str) -> Any:
    if name == "certify":
        from lemmas.plan import certify

        return certify
    if name == "registry":
        from lemmas.base import registry

        return registry
    raise AttributeError(f"module 'lemmas' has no attribute {name!r}")
