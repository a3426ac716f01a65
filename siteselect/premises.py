"""The premises to judge: an industry and a place (an address, coordinates in a named system, or a
listed vacancy), optionally a floor and the day to judge by, validated where they come in.

>>> Premises.parse(industry="9013", lon="120.46", lat=36.1, floor="2").floor
2
>>> Premises.parse(industry="9013", lon=120.46)
Traceback (most recent call last):
...
siteselect.errors.InvalidInputError: give either an address or both lon and lat (or a vacancy_id)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from siteselect import industry as industries
from siteselect.coords import check_coordsys
from siteselect.errors import InvalidInputError

MIN_FLOOR, MAX_FLOOR = -5, 200
CHINA_TZ = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    """Today in China, where registrations happen."""
    return dt.datetime.now(CHINA_TZ).date()


@dataclass(frozen=True)
class Premises:
    """One candidate: a place, an industry, optionally a floor and the date to judge by."""

    industry: str
    lon: float | None = None
    lat: float | None = None
    coordsys: str = "wgs84"
    address: str | None = None
    floor: int | None = None
    as_of: dt.date | None = None
    ref: str | None = None
    vacancy_id: str | None = None  # a listed vacancy: its place, building and house number

    @classmethod
    def parse(cls, **raw: Any) -> Premises:
        """Validate raw values (from a form, a CSV row, the command line); name any bad one."""
        code = industries.resolve(_required(raw, "industry"))
        address = raw.get("address") or None
        vacancy = None if _blank(raw.get("vacancy_id")) else str(raw["vacancy_id"])
        lon, lat = raw.get("lon"), raw.get("lat")
        places = (address is not None) + (not (_blank(lon) and _blank(lat))) + (vacancy is not None)
        if places > 1:
            raise InvalidInputError("give an address, lon and lat, or a vacancy_id: only one of them")
        if address is None and vacancy is None and (_blank(lon) or _blank(lat)):
            raise InvalidInputError("give either an address or both lon and lat (or a vacancy_id)")
        if not _blank(lat) and _looks_like_lon(lat) and not _blank(lon) and not _looks_like_lon(lon):
            raise InvalidInputError(f"lat {lat!r} is outside -90..90 (lat and lon look swapped)")
        return cls(
            industry=code,
            lon=None if _blank(lon) else _number("lon", lon, -180, 180),
            lat=None if _blank(lat) else _number("lat", lat, -90, 90),
            coordsys=check_coordsys(raw.get("coordsys") or "wgs84"),
            address=str(address) if address is not None else None,
            floor=None if _blank(raw.get("floor")) else _floor(raw["floor"]),
            as_of=None if _blank(raw.get("as_of")) else _date(raw["as_of"]),
            ref=None if _blank(raw.get("ref")) else str(raw["ref"]),
            vacancy_id=vacancy,
        )


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _looks_like_lon(value: Any) -> bool:
    try:
        return 90 < abs(float(value)) <= 180
    except (TypeError, ValueError):
        return False


def _required(raw: dict[str, Any], name: str) -> Any:
    if _blank(raw.get(name)):
        raise InvalidInputError(f"{name} is required")
    return raw[name]


def _number(name: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} {value!r} is not a number") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidInputError(f"{name} {value!r} is outside {low}..{high}")
    return number


def _floor(value: Any) -> int:
    try:
        floor = int(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"floor {value!r} is not a whole number") from None
    if floor == 0:
        raise InvalidInputError("floor 0 does not exist: the ground floor is 1, the first basement -1")
    if not MIN_FLOOR <= floor <= MAX_FLOOR:
        raise InvalidInputError(f"floor {floor} is outside {MIN_FLOOR}..{MAX_FLOOR}")
    return floor


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"as_of {value!r} is not a date YYYY-MM-DD") from None


class Verdict(NamedTuple):
    """A check's outcome in brief: the verdict and its reasons' ids, or why it could not be made."""

    ref: str | None
    verdict: str
    reasons: tuple[str, ...]
    error: str
