"""Address suggestions as an operator types: the gazetteer's house numbers and buildings whose
address holds what was typed so far, in the comparable form addresses are matched in.

What is offered is what :meth:`Gazetteer.resolve` places exactly (a house number's address, a
building's name), each with the building it is in and that building's floors, so a suggestion
taken is a place at house-number or building level whose floor can be checked at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from siteselect.address import MAX_LENGTH, Gazetteer, normalize
from siteselect.errors import InvalidInputError
from siteselect.index import Snapshot
from siteselect.locating import GAZETTEER_LAYERS, gazetteer_for

MAX_SUGGESTIONS = 20


@dataclass(frozen=True)
class Entry:
    key: str  # the comparable form searched
    text: str  # as offered
    level: str
    building: dict[str, Any] | None  # id, name and floors of the building it is in
    lon: float
    lat: float


class Suggestions:
    """Every house number and named building of one gazetteer, ready to search by substring."""

    def __init__(self, gazetteer: Gazetteer):
        buildings = {row.id: _building(row) for row in gazetteer.buildings.values()}
        entries = [
            Entry(normalize(row.address), row.address, "house_number", buildings.get(row.building_id),
                  row.geometry.x, row.geometry.y)
            for rows in gazetteer.by_road.values()
            for row in rows
        ]  # fmt: skip
        for key, row in gazetteer.buildings.items():
            point = row.geometry.representative_point()
            entries.append(Entry(key, row.name, "building", buildings[row.id], point.x, point.y))
        self.entries = sorted(entries, key=lambda e: (len(e.key), e.key))

    def find(self, text: str, limit: int = 8) -> list[dict[str, object]]:
        """The entries whose address holds ``text``; those that start with it first, then shortest."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("q: type part of an address")
        if len(text) > MAX_LENGTH:
            raise InvalidInputError(f"q: at most {MAX_LENGTH} characters ({len(text)})")
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise InvalidInputError(f"limit {limit} is not from 1 to {MAX_SUGGESTIONS}")
        key = normalize(text)
        if not key:
            return []
        hits = [e for e in self.entries if key in e.key]
        hits.sort(key=lambda e: not e.key.startswith(key))  # stable: shortest first within each
        return [
            {"address": e.text, "level": e.level, "building": e.building, "lon": e.lon, "lat": e.lat}
            for e in hits[:limit]
        ]


def _building(row: Any) -> dict[str, Any]:
    floors = getattr(row, "floors", None)
    return {"id": row.id, "name": row.name, "floors": None if pd.isna(floors) else int(floors)}


def suggestions_for(snapshot: Snapshot) -> Suggestions:
    """The suggestions of a snapshot's gazetteer, built once (kept while the gazetteer's layers are)."""
    previous = snapshot.made_before("suggestions", GAZETTEER_LAYERS)
    return snapshot.made("suggestions", lambda: previous or Suggestions(gazetteer_for(snapshot)))
