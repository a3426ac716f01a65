"""The verdict, ranked in one place: every path that judges premises ranks its findings here.

>>> rank([], None)
0
>>> VERDICTS[rank([{"severity": "prohibited", "outcome": "violated"}], {"level": "road"})]
'review'
"""

from __future__ import annotations

from typing import Any

SEVERITY_RANK = {"permitted": 0, "review": 1, "prohibited": 2}
VERDICTS = tuple(SEVERITY_RANK)
PRECISE_LEVELS = ("house_number", "building")  # address matches precise enough to judge on


def rank(reasons: list[dict[str, Any]], match: dict[str, Any] | None) -> int:
    """The verdict's rank: the weightiest reason's. A violation weighs its severity; any other
    finding, and every finding at an approximate location, can only ask for review."""
    review = SEVERITY_RANK["review"]
    if not reasons:
        return SEVERITY_RANK["permitted"]
    if match is not None and match["level"] not in PRECISE_LEVELS:
        return review
    return max(SEVERITY_RANK[r["severity"]] if r["outcome"] == "violated" else review for r in reasons)
