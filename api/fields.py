"""Field types of request bodies shared by the routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator


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
