"""Places inside a park for the workbench's tests: a building of the park and a point in it."""

from __future__ import annotations

from typing import Any

from siteselect.store import Store


def building_in_park(store: Store, park_id: str, *, floors_at_least: int = 5, nth: int = 0) -> dict[str, Any]:
    """The ``nth`` building wholly inside the park's outline with enough floors, and a point inside it."""
    outline = store.read_layer("parks").set_index("id").geometry[park_id]
    buildings = store.read_layer("buildings")
    inside = buildings[buildings.geometry.within(outline) & (buildings["floors"] >= floors_at_least)]
    row = inside.sort_values("id").iloc[nth]
    point = row.geometry.representative_point()
    return {
        "id": row["id"],
        "name": row["name"],
        "address": row["address"],
        "floors": int(row["floors"]),
        "lon": point.x,
        "lat": point.y,
    }
