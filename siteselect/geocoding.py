"""Placing a department's rows by their address on load, and checking the coordinates they bring.

The gazetteer is the store's (house numbers, buildings, streets): :func:`gazetteer_for` is the one
place a load gets it. Each distinct place is resolved once, since department lists repeat
addresses, and write one house number with different units and rooms. A row that brings
coordinates and an address is compared with where its address resolves: more than :data:`FAR_M`
apart usually means the coordinates are in another system (Baidu's BD-09 puts Laoshan about a
kilometre off), and the system that brings them closest is suggested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from siteselect.address import CONFIDENCE, LEVELS, MAX_LENGTH, Gazetteer, Match
from siteselect.coords import COORDSYS, to_wgs84
from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.geodesy import point_distance_m
from siteselect.store import Store

FAR_M = 100.0
DEFAULT_MIN_LEVEL = "building"
PRECISE = ("house_number", "building")  # levels precise enough to judge a row's own coordinates


def gazetteer_for(store: Store) -> Gazetteer:
    """The gazetteer of the store's current house numbers, buildings and districts."""
    try:
        return Gazetteer(
            store.read_layer("house_numbers"), store.read_layer("buildings"), store.read_layer("districts")
        )
    except NotFoundError as exc:
        raise NotFoundError(f"addresses cannot be placed: {exc}; load it first") from None


def check_level(level: str) -> str:
    """A level a steward accepts: house_number, building, road or street."""
    if level not in LEVELS[:-1]:
        raise InvalidInputError(f"min level {level!r} is not one of {', '.join(LEVELS[:-1])}")
    return level


def below(level: str, least: str) -> bool:
    """Whether a match level is coarser than the least a steward accepts."""
    return LEVELS.index(level) > LEVELS.index(least)


# What follows a house number when it is a unit, a floor or a room (3单元201室, 2层, 1-301): the
# gazetteer matches a road, a number and a building (号楼, 栋, 3#) only, so texts that differ only
# there are the same place. Digits and these words only (not 楼, nor 号: 3号楼 is a building):
# anything else keeps the text whole.
_ROOM = re.compile(r"(?<=\d号)[\s\d单元室层户\-－]+$")


def place_key(text: str) -> str:
    """The part of an address text that says where it is: the text without a trailing unit, floor
    or room after its house number.

    >>> place_key("崂山区海尔路１２号3单元201室"), place_key("海尔路12号3号楼")
    ('崂山区海尔路１２号', '海尔路12号3号楼')
    """
    return text if len(text) > MAX_LENGTH else _ROOM.sub("", text)


PLACES_KEPT = 200_000  # places a load remembers from chunk to chunk of a file


def resolve_all(gazetteer: Gazetteer, texts: list[str], done: dict[str, Match] | None = None) -> list[Match]:
    """Resolve address texts, each distinct place once (see :func:`place_key`); texts of one place
    share its match (whose ``query`` is the first of them). ``done``: the places of earlier chunks
    of the same file, kept (up to ``PLACES_KEPT``) and added to."""
    done = {} if done is None else done
    if len(done) > PLACES_KEPT:
        done.clear()
    out = []
    for text in texts:
        key = place_key(text) if isinstance(text, str) else text
        match = done.get(key)
        if match is None:
            try:
                match = done[key] = gazetteer.resolve(text)
            except InvalidInputError as exc:  # an empty or overlong address: no place, with the reason
                match = done[key] = Match(text, "", "none", CONFIDENCE["none"], notes=[str(exc)])
        out.append(match)
    return out


@dataclass(frozen=True)
class Far:
    """A row whose coordinates lie far from where its address resolves."""

    distance_m: float
    likely: str | None  # the coordinate system that brings them within FAR_M, if one does
    likely_m: float


def far_from_address(
    given: tuple[float, float], raw: tuple[float, float], coordsys: str, match: Match
) -> Far | None:
    """Compare a row's coordinates (``given`` in WGS-84, ``raw`` as written in ``coordsys``) with
    the place of its address; ``None`` when they agree or the address is not precise enough."""
    if match.level not in PRECISE or match.lon is None or match.lat is None:
        return None
    gap = float(point_distance_m(given[0], given[1], match.lon, match.lat))
    if gap <= FAR_M:
        return None
    best, best_m = None, gap
    for other in COORDSYS:
        if other == coordsys:
            continue
        lon, lat = to_wgs84(np.array([raw[0]]), np.array([raw[1]]), other)
        d = float(point_distance_m(lon[0], lat[0], match.lon, match.lat))
        if d < best_m:
            best, best_m = other, d
    return Far(gap, best if best_m <= FAR_M else None, best_m)
