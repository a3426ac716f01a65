"""Address resolution: Chinese address text → a place, with a match level and a confidence.

Text is normalised first (full-width to half-width, Chinese numerals to digits where they count
something, 栋/幢/座 to 号楼, province/city/district prefixes removed), then matched against the
house-number gazetteer, the buildings, the roads and the streets, in that order. A result never
pretends: it says the level it reached (``house_number``, ``building``, ``road``, ``street`` or
``none``) and how sure it is.
"""

from __future__ import annotations

import collections
import difflib
import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import yaml
from pypinyin import lazy_pinyin

from siteselect.errors import InvalidInputError
from siteselect.specs import layers_dir

LEVELS = ("house_number", "building", "road", "street", "none")
CONFIDENCE = {"house_number": 0.95, "building": 0.85, "road": 0.6, "street": 0.3, "none": 0.0}
TYPO_PENALTY = 0.15
MAX_LENGTH = 200

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = "[零〇一二三四五六七八九十百千两]+"
# A run of Chinese numerals counts something only before these words (七 in 劲松七路 is a name).
_COUNTED = re.compile(
    f"({_CN_NUMBER})(?=号|栋|幢|座|单元|室|层|楼|户|之|-)|(?<=第)({_CN_NUMBER})|(?<=之)({_CN_NUMBER})"
)
_ROAD_TOKEN = re.compile(r"([\u4e00-\u9fa5]{1,10}?(?:大道|路|街|巷|道))(?=\d)")


@functools.cache
def _terms() -> dict[str, list[str]]:
    data: dict[str, list[str]] = yaml.safe_load(
        (layers_dir() / "address_terms.yaml").read_text(encoding="utf-8")
    )
    return data


def chinese_to_int(text: str) -> int:
    """一百七十八 → 178, 二〇一 → 201, 十二 → 12.

    >>> chinese_to_int("一百七十八"), chinese_to_int("二〇一"), chinese_to_int("十二")
    (178, 201, 12)
    """
    if not any(c in _UNITS for c in text):  # read digit by digit: 二〇一
        return int("".join(str(_DIGITS[c]) for c in text))
    total, current = 0, 0
    for char in text:
        if char in _DIGITS:
            current = _DIGITS[char]
        else:
            total += (current or 1) * _UNITS[char]
            current = 0
    return total + current


def normalize(text: str) -> str:
    """The comparable form of an address.

    >>> normalize("山东省青岛市崂山区 香港东路一百九十五号（3栋）二单元")
    '香港东路195号3号楼2单元'
    """
    words, prefixes = _patterns()
    t = unicodedata.normalize("NFKC", text)
    t = _PUNCTUATION.sub("", t)
    t = t.replace("—", "-")
    t = _COUNTED.sub(lambda m: str(chinese_to_int(next(g for g in m.groups() if g))), t)
    t = _SUB_NUMBER.sub(r"\1-\2号", t)  # 12之1号, 12号之一: a sub-number
    t = words.sub(r"\1号楼", t)
    for prefix in prefixes:
        t = t.replace(prefix, "")
    for prefix in _terms()["leading"]:
        t = t.removeprefix(prefix)
    return t


_PUNCTUATION = re.compile(r"[\s()\[\]【】<>《》,，。、:：;；\"'“”]")
_SUB_NUMBER = re.compile(r"(\d+)号?之(\d+)号?")


@functools.cache
def _patterns() -> tuple[re.Pattern[str], list[str]]:
    """Built once: the building words (longest first, 3栋 → 3号楼) and the prefixes to drop."""
    words = sorted((w for w in _terms()["building_words"] if w != "号楼"), key=len, reverse=True)
    building = re.compile(rf"(\d+)(?:{'|'.join(map(re.escape, words))})")
    return building, sorted(_terms()["prefixes"], key=len, reverse=True)


@dataclass
class Match:
    """The place an address resolved to."""

    query: str
    normalized: str
    level: str
    confidence: float
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    house_number_id: str | None = None
    building_id: str | None = None
    road: str | None = None
    street: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    """The rows of a layer as named tuples. Its columns are made plain arrays first: a GeoDataFrame
    hands out each row's geometry through its extension array, which at half a million house
    numbers took most of the gazetteer's making."""
    row = _row_type(tuple(map(str, frame.columns)))
    plain = pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns})
    return (row._make(values) for values in plain.itertuples(index=False, name=None))


@functools.cache
def _row_type(fields: tuple[str, ...]) -> type[Any]:
    """A named tuple of these fields that pickles (a gazetteer is written with its snapshot)."""
    base = collections.namedtuple("Row", fields, rename=True)  # type: ignore[misc]
    return type("Row", (base,), {"__slots__": (), "__reduce__": _reduce_row})


def _columns(rows: list[Any]) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Rows of one type as its fields and a column of each."""
    if not rows:
        return (), []
    columns = []
    for values in zip(*rows):
        column = np.empty(len(rows), dtype=object)
        column[:] = values
        columns.append(column)
    return rows[0]._fields, columns


def _from_columns(packed: tuple[tuple[str, ...], list[np.ndarray]]) -> list[Any]:
    fields, columns = packed
    return list(map(_row_type(fields)._make, zip(*columns))) if fields else []


def _by_number(rows: list[Any]) -> dict[str, dict[str, Any]]:
    """House numbers by road, then number (the last of a repeated one): a dict a road rather
    than a key of both for each of a city's half a million numbers, which took 30 MB."""
    numbers: dict[str, dict[str, Any]] = {}
    for row in rows:
        numbers.setdefault(row.road, {})[str(row.number)] = row
    return numbers


def _by_road(rows: list[Any]) -> dict[str, list[Any]]:
    """House numbers by road, in layer order."""
    roads: dict[str, list[Any]] = {}
    for row in rows:
        roads.setdefault(row.road, []).append(row)
    return roads


def _reduce_row(row: Any) -> tuple[Any, ...]:
    return _row, (row._fields, tuple(row))


def _row(fields: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    return _row_type(fields)._make(values)


class Gazetteer:
    """House numbers, buildings, roads and streets of one snapshot, ready for matching."""

    def __init__(
        self,
        house_numbers: gpd.GeoDataFrame,
        buildings: gpd.GeoDataFrame,
        districts: gpd.GeoDataFrame,
    ):
        numbers = list(_rows(house_numbers))
        self.numbers = _by_number(numbers)
        self.roads = sorted(set(house_numbers["road"]), key=len, reverse=True)
        self.by_road = _by_road(numbers)
        self.buildings = {normalize(row.name): row for row in _rows(buildings) if row.name}
        self.building_names = sorted(self.buildings, key=len, reverse=True)
        # The districts this deployment serves are not "elsewhere", however the terms list them.
        self.served = set(districts.loc[districts["level"] == "district", "name"])
        streets = districts[districts["level"].isin(["street", "community"])]
        self.streets = {row.name: row for row in _rows(streets)}
        keys = {_short(n): n for n in self.streets if n.endswith("社区")}
        keys |= {_short(n): n for n in self.streets if n.endswith("街道")}  # 中韩: the street
        keys |= {n: n for n in self.streets}
        self.street_keys = sorted(keys.items(), key=lambda kv: len(kv[0]), reverse=True)

    def __getstate__(self) -> dict[str, Any]:
        """Its rows as columns (a snapshot's file holds its gazetteer: half a million rows with a
        point each are read back as a few arrays rather than one by one)."""
        state = dict(self.__dict__)
        state["by_road"] = _columns([row for rows in self.by_road.values() for row in rows])
        state["buildings"] = (list(self.buildings), _columns(list(self.buildings.values())))
        del state["numbers"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        numbers = _from_columns(state.pop("by_road"))
        names, buildings = state.pop("buildings")
        self.__dict__.update(state)
        self.numbers = _by_number(numbers)  # the same last of each number
        self.by_road = _by_road(numbers)  # the same lists
        self.buildings = dict(zip(names, _from_columns(buildings)))

    def resolve(self, text: str) -> Match:
        """Resolve one address text."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("the address is empty")
        if len(text) > MAX_LENGTH:
            raise InvalidInputError(f"the address is longer than {MAX_LENGTH} characters")
        norm = normalize(text)
        match = Match(text, norm, "none", 0.0)
        given = unicodedata.normalize("NFKC", text)
        elsewhere = next((d for d in _terms()["elsewhere"] if d in given and d not in self.served), None)
        if elsewhere:
            match.notes.append(f"the address is in {elsewhere}, not in a district served here")
            return match
        roads, typo = self._roads(norm)
        if roads:
            return self._on_road(match, roads, typo)
        for name in self.building_names:
            if name in norm:
                return self._at_building(match, self.buildings[name], typo=False)
        return self._in_street(match)

    def suggest(self, text: str, limit: int = 8) -> list[dict[str, Any]]:
        """Known addresses near what was written, for an address that did not resolve: on the road
        it names (or roads it may be a slip for, or whose names are like it), the house numbers
        nearest the number written first. Each says why it is offered (``same_road`` or
        ``similar_road``)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("q: the address is empty")
        if len(text) > MAX_LENGTH:
            raise InvalidInputError(f"q: the address is longer than {MAX_LENGTH} characters")
        norm = normalize(text)
        roads, typo = self._roads(norm)
        if not roads:  # no road word at all: roads whose names contain or resemble what was typed
            head = re.split(r"\d", norm, maxsplit=1)[0]
            roads = [r for r in self.roads if head and (head in r or r in head)]
            roads += difflib.get_close_matches(head, self.roads, n=4, cutoff=0.5)
            roads, typo = list(dict.fromkeys(roads)), True
        rest = _after_road(norm) if typo else norm.split(roads[0], 1)[1] if roads else ""
        written = re.match(r"\d+", rest)
        wanted = int(written.group(0)) if written else None
        out: list[dict[str, Any]] = []
        for n, road in enumerate(roads):
            rows = sorted(
                self.by_road[road],
                key=lambda r: (
                    abs(_leading_int(r.number) - wanted) if wanted is not None else _leading_int(r.number),
                    r.number,
                ),
            )
            why = "similar_road" if typo or n else "same_road"
            out += [_suggestion(row, why) for row in rows[: max(limit - len(out), 0)]]
        return out[:limit]

    def _roads(self, norm: str) -> tuple[list[str], bool]:
        """The road named in the text, or the roads it may be a slip for, best first."""
        for road in self.roads:
            if road in norm:
                return [road], False
        token = _ROAD_TOKEN.search(norm)
        if not token:
            return [], False
        written = token.group(1)
        sound = lazy_pinyin(written)
        # Slips are mostly homophones (松/送): a road that sounds the same comes first.
        homophones = [r for r in self.roads if len(r) == len(written) and lazy_pinyin(r) == sound]
        similar = difflib.get_close_matches(written, self.roads, n=4, cutoff=0.66)
        return list(dict.fromkeys(homophones + similar)), True

    def _on_road(self, match: Match, roads: list[str], typo: bool) -> Match:
        rest = _after_road(match.normalized) if typo else match.normalized.split(roads[0], 1)[1]
        number = re.match(r"(\d+(?:-\d+)?)号?", rest)
        building = re.search(r"(\d+)号楼", rest)
        keys = []
        if number:
            keys.append(number.group(1))
            if building:
                keys.append(f"{number.group(1)}-{building.group(1)}")
        for road in roads:  # of several similar roads, the one that has this number
            for key in keys:
                row = self.numbers.get(road, {}).get(key)
                if row is not None:
                    match.road = road
                    if typo:
                        match.notes.append(f"road read as {road}")
                    return self._at_number(match, row, typo)
        match.road = roads[0]
        if typo:
            match.notes.append(f"road read as {roads[0]}")
        if number:
            match.notes.append(f"no house number {number.group(1)} on {roads[0]}")
        return self._along_road(match, roads[0], number.group(1) if number else None, typo)

    def _at_number(self, match: Match, row: Any, typo: bool) -> Match:
        match.level = "house_number"
        match.confidence = CONFIDENCE["house_number"] - (TYPO_PENALTY if typo else 0.0)
        match.lon, match.lat = row.geometry.x, row.geometry.y
        match.address, match.house_number_id = row.address, row.id
        match.building_id = row.building_id
        return match

    def _at_building(self, match: Match, row: Any, typo: bool) -> Match:
        match.level = "building"
        match.confidence = CONFIDENCE["building"] - (TYPO_PENALTY if typo else 0.0)
        point = row.geometry.representative_point()
        match.lon, match.lat = point.x, point.y
        match.address, match.building_id = row.address, row.id
        return match

    def _along_road(self, match: Match, road: str, number: str | None, typo: bool) -> Match:
        """The road is known but not the number: place it at the nearest known number."""
        rows = self.by_road[road]
        wanted = int(number.split("-")[0]) if number else None
        row = (
            min(rows, key=lambda r: abs(_leading_int(r.number) - wanted)) if wanted else rows[len(rows) // 2]
        )
        match.level = "road"
        match.confidence = CONFIDENCE["road"] - (TYPO_PENALTY if typo else 0.0)
        match.lon, match.lat = row.geometry.x, row.geometry.y
        match.address = f"{road}{'（' + row.number + '号附近）' if wanted else ''}"
        return match

    def _in_street(self, match: Match) -> Match:
        for key, name in self.street_keys:
            if key in match.normalized:
                row = self.streets[name]
                point = row.geometry.representative_point()
                match.level, match.confidence = "street", CONFIDENCE["street"]
                match.lon, match.lat, match.street, match.address = point.x, point.y, name, name
                return match
        match.notes.append("no known road, building or street in the address")
        return match


def _suggestion(row: Any, why: str) -> dict[str, Any]:
    certified = isinstance(row.certificate_no, str) and bool(row.certificate_no)  # else None or NaN
    return {
        "address": row.address, "road": row.road, "number": str(row.number), "why": why,
        "house_number_id": row.id, "certified": certified,
        "lon": float(row.geometry.x), "lat": float(row.geometry.y),
    }  # fmt: skip


def _short(name: str) -> str:
    """中韩街道 → 中韩, 金家岭社区 → 金家岭: the names people actually write."""
    for suffix in ("街道办事处", "街道", "社区居民委员会", "社区", "村委会", "村"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _after_road(norm: str) -> str:
    token = _ROAD_TOKEN.search(norm)
    return norm[token.end() :] if token else ""


def _leading_int(number: str) -> int:
    return int(re.match(r"\d+", number).group(0)) if re.match(r"\d+", number) else 0  # type: ignore[union-attr]
