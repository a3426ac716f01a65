"""What one listed premises is good for: its verdict for the park's target industries and a few
common ones, its rank among the available premises for each, and what would lift that rank.

Nothing here judges or scores on its own: the verdicts come from the checker (one batch, the same
steps as every check) and the ranks from :func:`siteselect.match.match`, the ranking entrepreneurs
see. What would help is worked out from the match's own scores: the rent brought to the district's
median asking rent (the cost criterion's reference), and a stale listing confirmed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from siteselect import industry, scoring
from siteselect.check import checker_for
from siteselect.errors import NotFoundError
from siteselect.index import Snapshot
from siteselect.locating import locator_for
from siteselect.match import (
    MAX_RESULTS,
    STALE_FACTOR,
    Constraints,
    assess_sites,
    match,
    scorer_for,
    vacancy_candidates,
)
from siteselect.premises import Premises

# Businesses people most often ask a park about: catering, drinks, a supermarket, software, training,
# an internet café (the last with distance rules near schools).
COMMON = ("6210", "6239", "5212", "6513", "8393", "9013")


def industries_for(snapshot: Snapshot, park_id: Any) -> list[tuple[str, str | None]]:
    """(class code, the park's target prefix it stands for) for the park's targets, then the common
    ones; a target wider than a class is represented by its first class, as the standard orders them."""
    wanted: list[tuple[str, str | None]] = []
    parks = snapshot.layer("parks").features if snapshot.has("parks") else None
    if parks is not None and park_id in set(parks["id"]):
        targets = parks.loc[parks["id"] == park_id, "industries"].iloc[0]
        for prefix in targets if isinstance(targets, list) else []:
            under = industry.classes_under(prefix)
            if under:
                wanted.append((under[0], prefix))
    seen = {code for code, _ in wanted}
    return wanted + [(code, None) for code in COMMON if code not in seen]


def outlook(
    snapshot: Snapshot, vacancy_id: str, *, as_of: dt.date | None = None, stale_after_days: int = 30
) -> dict[str, Any]:
    """The verdicts, ranks and ways up of one listed premises."""
    vacancies = locator_for(snapshot).vacancies
    hit = vacancies[vacancies["id"] == vacancy_id]
    if hit.empty:
        raise NotFoundError(f"vacancy_id {vacancy_id!r} does not exist")
    listing = hit.iloc[0]
    wanted = industries_for(snapshot, listing.get("park_id"))
    checks = checker_for(snapshot).check_many(
        [Premises(industry=code, vacancy_id=vacancy_id, as_of=as_of, ref=code) for code, _ in wanted]
    )
    typical = scorer_for(snapshot).typical_rent
    rows = []
    for (code, target), check in zip(wanted, checks):
        row = {
            "industry": industry.describe(code),
            "target": target,
            "verdict": check.get("verdict", "error"),
            "verdict_zh": check.get("verdict_zh"),
            "reasons": _reasons(check),
        }
        if row["verdict"] in ("permitted", "review"):  # prohibited premises are never ranked
            row |= _rank(snapshot, code, vacancy_id, typical, as_of, stale_after_days)
        else:
            row |= {"rank": None, "of": None, "listed": None, "score": None, "improve": []}
        rows.append(row)
    return {
        "vacancy_id": vacancy_id,
        "park_id": listing.get("park_id"),
        "typical_rent": typical,
        "industries": rows,
    }


def _reasons(check: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding that made the verdict prohibited or review, with its basis."""
    keep = ("id", "title", "severity", "outcome", "message_zh", "message_en", "basis", "department")
    return [{k: r.get(k) for k in keep} for r in check.get("reasons", []) if r.get("outcome") != "passed"]


def _rank(
    snapshot: Snapshot, code: str, vacancy_id: str, typical: float, as_of: dt.date | None, stale_days: int
) -> dict[str, Any]:
    """Where the premises ranks for ``code`` among the available premises (the match's first
    ``MAX_RESULTS``), its score, and what would lift it."""
    ranked = match(snapshot, code, Constraints(), limit=MAX_RESULTS, as_of=as_of, stale_after_days=stale_days)
    results = ranked["results"]
    place = next((n for n, r in enumerate(results) if r["id"] == vacancy_id), None)
    out: dict[str, Any] = {
        "rank": None if place is None else place + 1,
        "of": ranked["counts"]["candidates"],
        "listed": len(results),
        "score": None,
        "improve": [],
    }
    if place is not None:
        entry = results[place]
    else:  # below the first MAX_RESULTS, or not allowed: scored as the match scores it
        (entry,) = assess_sites(snapshot, code, [{"vacancy_id": vacancy_id}], as_of=as_of)[0]["sites"]
        entry = entry | {"stale": _stale(snapshot, vacancy_id, stale_days)}
        if entry["score"] is not None and entry["stale"]:
            entry["score"] = round(entry["score"] * STALE_FACTOR, 1)
    out["score"] = entry["score"]
    others = np.array([r["score"] for r in results if r["id"] != vacancy_id and r["score"] is not None])
    out["improve"] = _improvements(entry, ranked["weights"], typical, others)
    return out


def _stale(snapshot: Snapshot, vacancy_id: str, stale_days: int) -> bool:
    """Whether the listing was last confirmed longer ago than the freshness window, as the match says."""
    table = vacancy_candidates(snapshot)
    at = table.loc[table["id"] == vacancy_id, "updated_at"]
    if at.empty or pd.isna(at.iloc[0]):
        return False
    return bool((pd.Timestamp.now(tz="UTC") - pd.to_datetime(at.iloc[0], utc=True)).days > stale_days)


def _improvements(
    entry: dict[str, Any], weights: dict[str, float], typical: float, others: np.ndarray
) -> list[dict[str, Any]]:
    """What would raise the premises' score, each with the score and rank it would then have."""
    if entry["score"] is None:
        return []
    criteria = {name: c["score"] for name, c in entry["criteria"].items()}
    out = []
    rent = entry.get("rent")
    if rent is None:
        out.append(
            _way(
                "rent",
                None,
                "填写租金：没有租金时不计租金得分",
                "publish a rent: without one the cost criterion is left out",
            )
        )
    elif rent > typical and criteria.get("cost") is not None:
        better = dict(criteria) | {"cost": float(scoring.cost_scores(typical, None, typical))}
        total = _total(better, weights) * (STALE_FACTOR if entry["stale"] else 1.0)
        out.append(
            _way(
                "rent",
                total,
                f"租金{rent:g}元高于区内中位数{typical:g}元：降至{typical:g}元，得分{entry['score']:g}→{total:.1f}",
                f"rent {rent:g} is above the district median {typical:g}: at {typical:g} the score goes "
                f"{entry['score']:g} → {total:.1f}",
                others,
            )
        )
    if entry["stale"]:
        total = entry["score"] / STALE_FACTOR
        out.append(
            _way(
                "confirm",
                total,
                f"确认仍可租：久未确认的房源得分打八折，得分{entry['score']:g}→{total:.1f}",
                f"confirm it is still available: unconfirmed listings score 20% less, "
                f"{entry['score']:g} → {total:.1f}",
                others,
            )
        )
    return out


def _total(scores: dict[str, float | None], weights: dict[str, float]) -> float:
    """The weighted mean over the criteria that have a score, as the match totals them."""
    names = list(scoring.CRITERIA)
    row = np.array([[np.nan if scores.get(n) is None else scores[n] for n in names]], dtype=float)
    return float(scoring.totals(row, weights)[0])


def _way(
    kind: str, score: float | None, zh: str, en: str, others: np.ndarray | None = None
) -> dict[str, Any]:
    """One way up; its rank is estimated against the match's listed scores, None below them all."""
    rank = None if score is None or others is None else int((others > score).sum()) + 1
    if rank is not None and others is not None and rank > len(others):
        rank = None
    return {
        "kind": kind,
        "score": None if score is None else round(score, 1),
        "rank": rank,
        "message_zh": zh,
        "message_en": en,
    }
