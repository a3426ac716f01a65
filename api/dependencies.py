"""What the routers share: typed dependencies, parameter types and parsers, and the JSON writer.

Routers only translate between HTTP and the library; anything two of them need is here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BeforeValidator

from siteselect.errors import InvalidInputError
from siteselect.index import Catalog, Snapshot
from siteselect.locating import locator_for

Coordsys = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


def _iso_date(value: Any) -> dt.date:
    """Bodies are validated strictly (no 0 for a date, no "3" for a number); a date is the one
    value JSON can only write as a string."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


NUMBER = r"\s*-?\d+(\.\d+)?\s*"
BBOX = rf"^{NUMBER}(,{NUMBER}){{3}}$"  # minlon,minlat,maxlon,maxlat
INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"  # RFC 3339
BboxQuery = Annotated[
    str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84, CRS84)", pattern=BBOX)
]


MAX_BBOX_DEG = 5.0  # a district spans well under a degree; a city a couple


def parse_bbox(
    text: str | None, max_deg: float = MAX_BBOX_DEG, too_wide: str = "ask for the district, not the world"
) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` → a tuple, or a clear error (``too_wide`` says what to do
    about a box wider than ``max_deg``)."""
    if text is None:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise InvalidInputError(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat") from None
    if len(parts) != 4:
        raise InvalidInputError(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInputError(f"bbox {text!r} is not a box in lon/lat (min < max, within range)")
    if maxx - minx > max_deg or maxy - miny > max_deg:
        raise InvalidInputError(f"bbox {text!r} spans more than {max_deg}°: {too_wide}")
    return minx, miny, maxx, maxy


def snapshot_of(
    request: Request, versions: dict[str, int] | None = None, *, fresh_listings: bool = False
) -> Snapshot:
    """The current snapshot of the layers, or one with the named versions of some of them
    (``fresh_listings``: with the listings as they are now, see :meth:`Catalog.current`)."""
    catalog: Catalog = request.app.state.catalog
    return catalog.snapshot(versions) if versions else catalog.current(fresh_listings=fresh_listings)


def json_response(
    content: Any, media_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    """A result as JSON, by the one encoder results are written with. Every number in a result is a
    plain JSON number: orjson refuses numpy scalars, so a result that let one through fails loudly
    rather than being written in some other form (results are plain dicts: orjson writes them
    several times faster than the standard library)."""
    return Response(orjson.dumps(content), media_type=media_type, headers=headers)


def building_finder(request: Request) -> Callable[[float, float], dict[str, Any] | None]:
    """The building under a point in the current layers (None on open land, or with no buildings
    loaded): what a listing's floor is checked against."""
    snapshot = request.app.state.catalog.current()
    if not snapshot.has("buildings"):
        return lambda _lon, _lat: None
    return locator_for(snapshot).building_at
