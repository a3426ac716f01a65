"""The premises check: may this business be registered at this place, why, and on what legal basis.

A check locates the premises (coordinates, or an address resolved against the gazetteer), finds its
building, collects the rules and prohibited addresses in force on the as-of date for the industry,
and evaluates each on exact geometry in the district's planar frame. H3 cell maps find the
candidates; distances and containment decide. Every finding names its rule or entry, the legal
basis, the department, a message in Chinese and English, and the evidence.

Checks run in batches (a single check is a batch of one), so that a city's worth of candidates
shares the rule look-ups and cell maps.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import math
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from numpy.typing import NDArray

from siteselect import industry as industries
from siteselect.coords import check_coordsys, to_wgs84
from siteselect.errors import InvalidInputError
from siteselect.grid import point_cells
from siteselect.index import CellMap, LayerIndex, Snapshot
from siteselect.labels import en, zh

MIN_FLOOR, MAX_FLOOR = -5, 200
DEFAULT_PROHIBITED_RADIUS_M = 10.0
PRECISE_LEVELS = ("house_number", "building")
ZONE_KINDS = ("min_distance", "not_within")  # rule kinds judged on the zones layer
SEVERITY_RANK = {"permitted": 0, "review": 1, "prohibited": 2}
VERDICTS = tuple(SEVERITY_RANK)
CHINA_TZ = ZoneInfo("Asia/Shanghai")
# Why an address on a department's prohibited list cannot be a registered domicile.
PROHIBITED_LIST_BASIS = (
    "《山东省市场主体住所（经营场所）登记管理办法》第四条（住所应当真实、合法、有效、安全）"
)


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

    @classmethod
    def parse(cls, **raw: Any) -> Premises:
        """Validate raw values (from a form, a CSV row, the command line); name any bad one."""
        code = industries.resolve(_required(raw, "industry"))
        address = raw.get("address") or None
        lon, lat = raw.get("lon"), raw.get("lat")
        if address is None and (_blank(lon) or _blank(lat)):
            raise InvalidInputError("give either an address or both lon and lat")
        if address is not None and not (_blank(lon) and _blank(lat)):
            raise InvalidInputError("give either an address or lon and lat, not both")
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


class _RuleSet(NamedTuple):
    """The rules in force for one industry on one day."""

    zones: list[dict[str, Any]]  # judged on the zones layer
    attributes: list[dict[str, Any]]  # judged on the building and the floor
    ids: tuple[str, ...]


class _Shared(NamedTuple):
    """What the premises of one group (industry, as-of day) share when they are in the same building
    on the same floor: the findings of the attribute rules, and whether no building was found."""

    reasons: list[dict[str, Any]]  # attribute rules' reasons
    after: list[dict[str, Any]]  # [NO_BUILDING] or []
    checked_zones: list[dict[str, str]]  # every zone rule passed
    checked_attributes: list[dict[str, str]]
    ids: tuple[str, ...]  # of reasons + after
    verdict: str  # from reasons + after alone


class _Batch:
    """One call's premises as columns, with what has been found out about them.

    Findings most premises share (attribute rules, no building) are judged once per group, building
    and floor and referenced; only the few a premises has of its own (an approximate address, a zone
    too near, a prohibited entry) are kept per premises, in ``head`` and ``tail``.
    """

    def __init__(self, premises: list[Premises], day: dt.date):
        n = len(premises)
        self.premises = premises
        self.as_of = [p.as_of or day for p in premises]
        self.floor = [p.floor or 0 for p in premises]  # 0: not given
        # As given for now; in WGS-84 once located (addresses resolved, other systems converted).
        given = np.array([(p.lon, p.lat) if p.address is None else _NO_PLACE for p in premises], dtype=float)
        self.lon, self.lat = given[:, 0], given[:, 1]
        self.points = np.empty(n, dtype=object)  # in the snapshot's planar frame
        self.building = np.full(n, -1, dtype=np.intp)  # row in the buildings layer
        self.located = _NONE  # positions of the premises that were placed in the district
        self.match: dict[int, dict[str, Any]] = {}
        self.house_number: dict[int, str] = {}
        self.error: dict[int, str] = {}
        self.head: dict[int, list[dict[str, Any]]] = defaultdict(list)  # before the shared reasons
        self.tail: dict[int, list[dict[str, Any]]] = defaultdict(list)  # after them
        self.checked_zones: dict[int, list[dict[str, str]]] = {}  # where a zone rule was violated
        self.shared: list[_Shared] = [NOT_SHARED] * n
        self._cells: dict[int, NDArray[np.int64]] = {}

    def cells(self, res: int) -> NDArray[np.int64]:
        """The cell of every premises (0 where it was not located)."""
        if res not in self._cells:
            cells = np.zeros(len(self.premises), dtype=np.int64)
            at = self.located
            cells[at] = point_cells(self.lon[at], self.lat[at], res)
            self._cells[res] = cells
        return self._cells[res]

    def own(self, i: int) -> bool:
        """Whether premises ``i`` has findings of its own beside the shared ones."""
        return i in self.head or i in self.tail

    def reasons(self, i: int) -> list[dict[str, Any]]:
        shared = self.shared[i]
        return self.head.get(i, []) + shared.reasons + self.tail.get(i, []) + shared.after

    def checked(self, i: int) -> list[dict[str, str]]:
        shared = self.shared[i]
        return self.checked_zones.get(i, shared.checked_zones) + shared.checked_attributes


def _pairs(cmap: CellMap, cells: list[int]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(position in ``cells``, feature row) for every candidate the cell map gives."""
    if len(cells) == 1:  # a single check: no arrays to join (a fifth of its time)
        rows = cmap.get(cells[0], _NONE)
        return np.zeros(len(rows), dtype=np.intp), rows
    hits = [cmap.get(cell, _NONE) for cell in cells]
    rows = np.concatenate(hits) if hits else _NONE
    return np.repeat(np.arange(len(cells)), [len(h) for h in hits]), rows


_NONE = np.empty(0, dtype=np.intp)
_NO_PLACE = (math.nan, math.nan)


class Checker:
    """Checks premises against one snapshot of the layers."""

    def __init__(self, snapshot: Snapshot):
        self.snap = snapshot
        self.zones = snapshot.layer("zones")
        self.buildings = snapshot.layer("buildings")
        self.prohibited = snapshot.layer("prohibited_addresses")
        self.numbers = snapshot.layer("house_numbers")
        self.rules = snapshot.layer("rules").features.to_dict("records")
        # Plain records: a check reads a few attributes of a few features, which pandas rows
        # would make a hundred times slower.
        self._zone_recs = _records(self.zones)
        self._building_recs = _records(self.buildings)
        self._entry_recs = _records(self.prohibited)
        self._building_row = {rec["id"]: i for i, rec in enumerate(self._building_recs)}
        self._cache: dict[Any, Any] = {}
        self._district = _district_shape(snapshot)
        self._entries = self._prohibited_entries()
        self._proof = self._proof_tables()
        self._versions = snapshot.versions
        self._verdicts_zh = {v: zh("verdicts", v) for v in VERDICTS}
        # The layer records are long-lived: keep the cyclic collector from re-scanning them on
        # every collection, which would cost more than the checks themselves.
        gc.freeze()

    # ---- public ---------------------------------------------------------------------------------

    def warm(self) -> None:
        """Build the cell maps of the buildings and of every zone rule now rather than on first use."""
        self._cached("buildings", lambda: self.buildings.cell_map(0.0))
        for rule in self.rules:
            if rule["kind"] in ZONE_KINDS:
                self._zone_map(rule)

    def check(self, premises: Premises) -> dict[str, Any]:
        """Check one premises; bad input raises ``InvalidInputError``."""
        batch = self._judge([premises])
        result = self._result(batch, 0, int(batch.building[0]))  # too few objects to pause the collector for
        if "error" in result:
            raise InvalidInputError(result["error"])
        return result

    def check_many(self, items: list[Premises]) -> list[dict[str, Any]]:
        """Check many premises; one that cannot be checked gets an ``error`` instead of a verdict."""
        with cyclic_gc_paused():
            batch = self._judge(items)
            rows = batch.building.tolist()  # Python ints: a numpy scalar a premises costs more
            return [self._result(batch, i, row) for i, row in enumerate(rows)]

    def verdicts(self, items: list[Premises]) -> list[Verdict]:
        """As :meth:`check_many`, but only each verdict and the ids of its reasons (or the error):
        what a city-scale batch writes, without the messages, evidence and address proof."""
        with cyclic_gc_paused():
            batch = self._judge(items)
            return [self._verdict(batch, i) for i in range(len(items))]

    def _judge(self, items: list[Premises]) -> _Batch:
        undated = any(p.as_of is None for p in items)  # judged as of today, else no need to ask the clock
        batch = _Batch(items, today() if undated else dt.date.min)
        self._locate(batch)
        located = batch.located
        if len(located):
            self._find_buildings(batch)
            groups: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
            for i in located.tolist():
                groups[(items[i].industry, batch.as_of[i])].append(i)
            for (code, as_of), members in groups.items():
                idx = np.array(members, dtype=np.intp)
                rules = self._split_rules(code, as_of)
                self._zone_rules(rules.zones, batch, idx)
                self._share(rules, batch, idx)
                self._apply_prohibited(code, as_of, batch, idx)
        return batch

    # ---- locating -------------------------------------------------------------------------------

    def _locate(self, batch: _Batch) -> None:
        by_system: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(batch.premises):
            if p.address is not None:
                self._resolve_address(batch, i)
            elif p.coordsys not in ("wgs84", "cgcs2000"):  # not the stored system
                by_system[p.coordsys].append(i)
        for system, group in by_system.items():
            at = np.array(group, dtype=np.intp)
            batch.lon[at], batch.lat[at] = to_wgs84(batch.lon[at], batch.lat[at], system)
        if batch.error:
            pending = np.array([i for i in range(len(batch.premises)) if i not in batch.error], dtype=np.intp)
            if not len(pending):
                return
        else:
            pending = np.arange(len(batch.premises))
        points = self.snap.frame.points(batch.lon[pending], batch.lat[pending])
        inside = shapely.intersects(self._district, points)
        batch.points[pending] = points
        batch.located = pending[inside]
        for i in pending[~inside].tolist():
            batch.error[i] = self._outside_message(batch, i)

    def _resolve_address(self, batch: _Batch, i: int) -> None:
        address = batch.premises[i].address or ""
        try:
            match = self.snap.gazetteer.resolve(address)
        except InvalidInputError as exc:
            batch.error[i] = f"address: {exc}"
            return
        batch.match[i] = match.as_dict()
        if match.level == "none":
            notes = "; ".join(match.notes) or "no match"
            batch.error[i] = f"address {address!r} could not be resolved to a place ({notes})"
            return
        batch.lon[i], batch.lat[i] = float(match.lon or 0.0), float(match.lat or 0.0)
        if match.house_number_id is not None:
            batch.house_number[i] = match.house_number_id
        if match.building_id is not None:
            batch.building[i] = self._building_row.get(match.building_id, -1)
        if match.level not in PRECISE_LEVELS:
            batch.head[i].append(_unresolved_location(match.level))

    def _outside_message(self, batch: _Batch, i: int) -> str:
        p, lon, lat = batch.premises[i], float(batch.lon[i]), float(batch.lat[i])
        swapped = self._district.intersects(self.snap.frame.point(lat, lon)) if abs(lat) <= 180 else False
        hint = " (lat and lon look swapped)" if swapped else ""
        return f"point ({p.lon}, {p.lat}) lies outside {self._district_name}{hint}"

    @functools.cached_property
    def _district_name(self) -> str:
        districts = self.snap.layer("districts").features
        names = districts.loc[districts["level"] == "district", "name"].tolist()
        return names[0] if names else "the district"

    # ---- buildings ------------------------------------------------------------------------------

    def _find_buildings(self, batch: _Batch) -> None:
        b = self.buildings
        todo = batch.located[batch.building[batch.located] < 0]
        if not len(todo):
            return
        cmap = self._cached("buildings", lambda: b.cell_map(0.0))
        pos, rows = _pairs(cmap, batch.cells(b.version.h3_resolution)[todo].tolist())
        if not len(rows):  # open land: no building near any of them
            return
        inside = shapely.intersects(b.local[rows], batch.points[todo[pos]])
        pos, rows = pos[inside], rows[inside]
        if len(pos) != len(set(pos.tolist())):  # a place in two buildings: the smallest is its own
            order = np.lexsort((shapely.area(b.local[rows]), pos))
            first = np.unique(pos[order], return_index=True)[1]
            pos, rows = pos[order][first], rows[order][first]
        batch.building[todo[pos]] = rows

    def _building(self, row: int) -> dict[str, Any] | None:
        return None if row < 0 else self._building_recs[row]

    def _cached(self, key: Any, make: Any, *args: Any) -> Any:
        """``make(*args)``, made once per key. Arguments rather than a closure: the hot paths ask
        once per premises, and a closure a call costs more than the look-up."""
        if key not in self._cache:
            self._cache[key] = make(*args)
        return self._cache[key]

    # ---- rules ----------------------------------------------------------------------------------

    def rules_for(self, code: str, as_of: dt.date) -> list[dict[str, Any]]:
        """The rules in force on ``as_of`` that name the industry."""
        day = as_of.isoformat()
        return self._cached(
            ("rules", code, day),
            lambda: [
                r
                for r in self.rules
                if _in_force(r, day) and any(industries.matches(code, p) for p in r["industries"])
            ],
        )

    def _split_rules(self, code: str, as_of: dt.date) -> _RuleSet:
        """The rules for the industry, split into those judged on zones and on the building."""

        def split() -> _RuleSet:
            rules = self.rules_for(code, as_of)
            zone = [r for r in rules if r["kind"] in ZONE_KINDS]
            return _RuleSet(
                zone, [r for r in rules if r["kind"] not in ZONE_KINDS], tuple(r["id"] for r in rules)
            )

        return self._cached(("split", code, as_of), split)

    def _share(self, rules: _RuleSet, batch: _Batch, idx: NDArray[np.intp]) -> None:
        """Judge the attribute rules once per building and floor, and hand every premises its share."""
        for i, building in zip(idx.tolist(), batch.building[idx].tolist()):
            floor = batch.floor[i]
            batch.shared[i] = self._cached(
                ("shared", rules.ids, building, floor), self._shared, rules, building, floor or None
            )

    def _shared(self, rules: _RuleSet, building: int, floor: int | None) -> _Shared:
        checked, reasons = [], []
        for rule in rules.attributes:
            outcome, reason = _attribute_reason(rule, floor, self._building(building))
            checked.append(self._checked(rule, outcome))
            if reason is not None:
                reasons.append(reason)
        after = [NO_BUILDING] if building < 0 else []
        passed = [self._checked(rule, "passed") for rule in rules.zones]
        ids = tuple(r["id"] for r in reasons + after)
        return _Shared(reasons, after, passed, checked, ids, VERDICTS[_rank(reasons + after, None)])

    def _checked(self, rule: dict[str, Any], outcome: str) -> dict[str, str]:
        return self._cached(  # shared: a result never changes it
            ("checked", rule["id"], outcome),
            lambda: {"id": rule["id"], "title": rule["title"], "outcome": outcome},
        )

    def _zone_map(self, rule: dict[str, Any]) -> CellMap:
        """Cell → zones of the rule's kinds that may lie within its distance of a point there."""
        return self._cached(("zones", rule["id"]), self._make_zone_map, rule)

    def _make_zone_map(self, rule: dict[str, Any]) -> CellMap:
        kinds = set(rule["params"]["zone_kinds"])
        rows = np.flatnonzero(self.zones.features["kind"].isin(kinds).to_numpy())
        return self.zones.cell_map(float(rule["params"].get("meters", 0.0)), rows)

    def _zone_rules(self, rules: list[dict[str, Any]], batch: _Batch, idx: NDArray[np.intp]) -> None:
        """Distance and containment rules, all candidate pairs measured in one vectorised pass."""
        if not rules:
            return
        cells = batch.cells(self.zones.version.h3_resolution)[idx].tolist()
        pairs = [_pairs(self._zone_map(rule), cells) for rule in rules]
        if not any(len(r) for _, r in pairs):  # no zone is near any of them: all pass
            return
        pos = np.concatenate([p for p, _ in pairs])
        rows = np.concatenate([r for _, r in pairs])
        which = np.repeat(np.arange(len(rules)), [len(p) for p, _ in pairs])
        # Distance is 0 exactly when the point is inside (or on) the zone: one measure decides both.
        distance = shapely.distance(self.zones.local[rows], batch.points[idx[pos]])
        ids = tuple(r["id"] for r in rules)
        meters, by_distance = self._cached(("limits", ids), lambda: _limits(rules))
        hit = np.where(by_distance[which], distance < meters[which], distance == 0.0)
        found: dict[int, dict[int, list[tuple[float, int]]]] = defaultdict(lambda: defaultdict(list))
        for k, p, d, row in zip(
            which[hit].tolist(), pos[hit].tolist(), distance[hit].tolist(), rows[hit].tolist()
        ):
            found[p][k].append((d, row))
        for p, by_rule in found.items():
            i = int(idx[p])
            checked = []
            for k, rule in enumerate(rules):
                hits = by_rule.get(k)
                checked.append(self._checked(rule, "passed" if hits is None else "violated"))
                if hits is not None:
                    meters_k = float(rule["params"].get("meters", 0.0))
                    batch.head[i].append(self._zone_reason(rule, sorted(hits), meters_k))
            batch.checked_zones[i] = checked

    def _zone_reason(
        self, rule: dict[str, Any], found: list[tuple[float, int]], meters: float
    ) -> dict[str, Any]:
        zones = self._zone_recs
        distance, row = found[0]
        zone = zones[row]
        features = [
            {
                "layer": "zones",
                "id": zones[r]["id"],
                "name": zones[r]["name"],
                "kind": zones[r]["kind"],
                "distance_m": round(d, 3),
            }
            for d, r in found
        ]
        kind_zh, kind_en = zh("zone_kinds", zone["kind"]), en("zone_kinds", zone["kind"])
        if rule["kind"] == "min_distance" and distance == 0:
            zh_text = f"位于{zone['name']}（{kind_zh}）范围内，须距其{meters:g}米以上"
            en_text = f"inside {zone['name']} ({kind_en}); at least {meters:g} m away is required"
            evidence = {"features": features, "distance_m": 0.0, "threshold_m": meters}
        elif rule["kind"] == "min_distance":
            zh_text = f"距{zone['name']}（{kind_zh}）{distance:.1f}米，小于{meters:g}米的限制"
            en_text = f"{distance:.1f} m from {zone['name']} ({kind_en}), closer than the {meters:g} m limit"
            evidence = {"features": features, "distance_m": round(distance, 3), "threshold_m": meters}
        else:
            zh_text = f"位于{zone['name']}（{kind_zh}）范围内"
            en_text = f"inside {zone['name']} ({kind_en})"
            evidence = {"features": features}
        return _reason(rule, "violated", zh_text, en_text, evidence)

    # ---- prohibited addresses -------------------------------------------------------------------

    def _prohibited_entries(self) -> dict[str, Any]:
        entries = self.prohibited.features
        is_point = (entries.geom_type == "Point").to_numpy()
        radius = entries["radius_m"].astype(float).fillna(DEFAULT_PROHIBITED_RADIUS_M).to_numpy()
        radius = np.where(is_point, radius, 0.0)
        building_of = dict(zip(self.numbers.features["id"], self.numbers.features["building_id"]))
        by_building: dict[int, list[int]] = defaultdict(list)  # by row in the buildings layer
        by_number: dict[str, list[int]] = defaultdict(list)
        for row, hn in enumerate(entries["house_number_id"]):
            if hn:
                by_number[hn].append(row)
            if hn and building_of.get(hn) in self._building_row:
                by_building[self._building_row[building_of[hn]]].append(row)
        return {
            "radius": radius,
            "is_point": is_point,
            "by_building": by_building,
            "by_number": by_number,
        }

    def _prohibited_in_force(self, code: str, day: str) -> tuple[Any, Any]:
        applies = np.array(
            [
                _in_force(e, day) and any(industries.matches(code, x) for x in e["industries"])
                for e in self._entry_recs
            ],
            dtype=bool,
        )
        return applies, self.prohibited.cell_map(self._entries["radius"], np.flatnonzero(applies))

    def _apply_prohibited(self, code: str, as_of: dt.date, batch: _Batch, idx: NDArray[np.intp]) -> None:
        p = self._entries
        day = as_of.isoformat()
        applies, cmap = self._cached(("prohibited", code, day), lambda: self._prohibited_in_force(code, day))
        pos, rows = _pairs(cmap, batch.cells(self.prohibited.version.h3_resolution)[idx].tolist())
        near: dict[int, list[tuple[int, float]]] = defaultdict(list)
        if len(rows):
            distance = shapely.distance(self.prohibited.local[rows], batch.points[idx[pos]])
            for q, row, d in zip(pos.tolist(), rows.tolist(), distance.tolist()):
                if d <= p["radius"][row]:
                    near[q].append((row, d))
        # Only premises in a listed building, at a listed house number or near an entry can be hit.
        listed = p["by_building"]
        todo = set(near) | {q for q, row in enumerate(batch.building[idx].tolist()) if row in listed}
        if batch.house_number:
            todo |= {q for q, i in enumerate(idx.tolist()) if i in batch.house_number}
        for q in sorted(todo):
            i = int(idx[q])
            hits: dict[int, tuple[str, float | None]] = {}
            for row in p["by_building"].get(int(batch.building[i]), []):
                if applies[row]:
                    hits[row] = ("same_building", None)
            for row in p["by_number"].get(batch.house_number.get(i, ""), []):
                if applies[row]:
                    hits[row] = ("house_number", None)
            for row, d in near.get(q, []):
                if row not in hits:
                    hits[row] = ("within_radius" if p["is_point"][row] else "inside", d)
            for row, (how, d) in sorted(hits.items()):
                batch.tail[i].append(self._prohibited_reason(self._entry_recs[row], how, d, p["radius"][row]))

    def _prohibited_reason(
        self, entry: Any, how: str, distance: float | None, radius: float
    ) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "features": [{"layer": "prohibited_addresses", "id": entry["id"], "name": entry["address"]}],
            "match": how,
        }
        if distance is not None and how == "within_radius":
            evidence |= {"distance_m": round(distance, 3), "threshold_m": radius}
        industries_text = "、".join(entry["industries"])
        return {
            "source": "prohibited_address",
            "id": entry["id"],
            "title": f"禁设地址：{entry['address']}",
            "severity": "prohibited",
            "outcome": "violated",
            "basis": PROHIBITED_LIST_BASIS,
            "department": entry["department"],
            "message_zh": f"该处列入禁设地址名录（{entry['reason']}），适用行业：{industries_text}",
            "message_en": f"the premises is on the prohibited-address list ({entry['reason']})",
            "evidence": evidence,
            "effective_from": entry["effective_from"],
            "effective_to": entry["effective_to"],
        }

    # ---- result ---------------------------------------------------------------------------------

    def _proof_tables(self) -> dict[str, Any]:
        numbers = self.numbers.features
        certified = numbers[numbers["certificate_no"].notna()]
        by_building: dict[str, list[dict[str, str]]] = defaultdict(list)
        for rec in certified[["id", "building_id", "certificate_no", "address"]].to_dict("records"):
            by_building[rec["building_id"]].append(rec)
        prefiled: dict[str, list[str]] = defaultdict(list)
        if self.snap.has("vacancies"):
            vac = self.snap.layer("vacancies").features
            for vid, bid, flag in zip(vac["id"], vac["building_id"], vac["prefiled"]):
                if flag and bid:
                    prefiled[bid].append(vid)
        return {
            "certified": by_building,
            "prefiled": prefiled,
            "number": dict(zip(numbers["id"], numbers["certificate_no"])),
        }

    def _address_proof(self, batch: _Batch, i: int, row: int) -> dict[str, Any]:
        building, number = self._building(row), batch.house_number.get(i)
        if building is None and number is None:
            return NO_PROOF
        bid = building["id"] if building else None
        prefiled = self._proof["prefiled"].get(bid, []) if bid else []
        return {
            "house_number_id": number,
            "certificate_no": self._proof["number"].get(number) if number else None,
            "building_certificates": self._proof["certified"].get(bid, []) if bid else [],
            "prefiled": bool(prefiled),
            "prefiled_vacancies": prefiled,
            "building_accepted": bool(building and building.get("accepted_on")),
            "accepted_on": building.get("accepted_on") if building else None,
            "acceptance_no": building.get("acceptance_no") if building else None,
        }

    def _result(self, batch: _Batch, i: int, building: int) -> dict[str, Any]:
        """The full result of premises ``i``, in ``building`` (a row of the layer, or -1)."""
        p, as_of, match = batch.premises[i], batch.as_of[i].isoformat(), batch.match.get(i)
        industry = self._cached(("industry", p.industry), industries.describe, p.industry)
        if i in batch.error:
            return {
                "ref": p.ref,
                "industry": industry,
                "as_of": as_of,
                "error": batch.error[i],
                "match": match,
            }
        reasons = batch.reasons(i)
        verdict = VERDICTS[_rank(reasons, match)] if batch.own(i) else batch.shared[i].verdict
        given = {"lon": p.lon, "lat": p.lat} if p.address is None else {"address": p.address}
        return {
            "ref": p.ref,
            "industry": industry,
            "as_of": as_of,
            "verdict": verdict,
            "verdict_zh": self._verdicts_zh[verdict],
            "location": {
                "lon": float(batch.lon[i]),
                "lat": float(batch.lat[i]),
                "coordsys": p.coordsys,
                "given": given,
                "match": match,
            },
            "floor": p.floor,
            "building": None if building < 0 else self._public_building(building),
            "reasons": reasons,
            "checked": batch.checked(i),
            "address_proof": self._address_proof(batch, i, building),
            "layer_versions": self._versions,
        }

    def _verdict(self, batch: _Batch, i: int) -> Verdict:
        ref = batch.premises[i].ref
        if i in batch.error:
            return Verdict(ref, "", (), batch.error[i])
        if not batch.own(i):  # the common case: nothing beyond what it shares with others
            shared = batch.shared[i]
            return Verdict(ref, shared.verdict, shared.ids, "")
        reasons = batch.reasons(i)
        return Verdict(ref, VERDICTS[_rank(reasons, batch.match.get(i))], tuple(r["id"] for r in reasons), "")

    def _public_building(self, row: int) -> dict[str, Any]:
        return self._cached(("building", row), lambda: dict(self._building_recs[row]))


class _CollectorPause:
    """Pause Python's cyclic garbage collector while batches run, then restore it as it was.

    A batch makes hundreds of thousands of dicts and lists, none of them cyclic: reference counting
    frees them. Left on, the collector scans them, and every cache entry made since the checker was
    built, again and again: 20,000 checks took 18% longer for it, a city's batch twice as long.
    Batches running at once (threads of a server) are counted, so the collector comes back when the
    last of them ends, not when the first does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


cyclic_gc_paused = _CollectorPause()  # one for the process, as the collector is


def _limits(rules: list[dict[str, Any]]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each zone rule's distance limit, and whether it is a distance (or a containment) rule."""
    meters = np.array([float(r["params"].get("meters", 0.0)) for r in rules])
    return meters, np.array([r["kind"] == "min_distance" for r in rules])


def _rank(reasons: list[dict[str, Any]], match: dict[str, Any] | None) -> int:
    """The verdict's rank: the weightiest reason's. A violation weighs its severity; any other
    finding, and every finding at an approximate location, can only ask for review."""
    review = SEVERITY_RANK["review"]
    if not reasons:
        return SEVERITY_RANK["permitted"]
    if match is not None and match["level"] not in PRECISE_LEVELS:
        return review
    return max(SEVERITY_RANK[r["severity"]] if r["outcome"] == "violated" else review for r in reasons)


def _in_force(record: dict[str, Any], day: str) -> bool:
    start, end = record.get("effective_from"), record.get("effective_to")
    return (not start or start <= day) and (not end or day <= end)


def _reason(
    rule: dict[str, Any], outcome: str, zh_text: str, en_text: str, evidence: dict[str, Any]
) -> dict[str, Any]:
    return {
        "source": "rule",
        "id": rule["id"],
        "title": rule["title"],
        "severity": rule["severity"] if outcome == "violated" else "review",
        "outcome": outcome,
        "basis": rule["basis"],
        "department": rule["department"],
        "message_zh": zh_text,
        "message_en": en_text,
        "evidence": evidence,
        "effective_from": rule["effective_from"],
        "effective_to": rule["effective_to"],
    }


Finding = tuple[str, str, str, dict[str, Any]]  # outcome, message in Chinese, in English, evidence


def _attribute_reason(
    rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """The outcome of an attribute rule and, unless it passed, its reason."""
    outcome, text_zh, text_en, evidence = _attribute_finding(rule, floor, building)
    return outcome, None if outcome == "passed" else _reason(rule, outcome, text_zh, text_en, evidence)


def _attribute_finding(rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None) -> Finding:
    """Evaluate a rule on the building or the floor."""
    kind, params, title = rule["kind"], rule["params"] or {}, rule["title"]
    if kind in ("floor_at_least", "floor_at_most"):
        return _floor_finding(kind, int(params["floor"]), floor, title)
    if building is None:
        why_zh, why_en = "未能确定所在建筑", "the premises lies in no known building"
        return (
            "unresolved",
            f"{why_zh}，无法核验：{title}",
            f"{why_en}, so '{title}' cannot be verified",
            {},
        )
    use, name = building.get("use") or "unknown", building["name"]
    facts = {"features": [{"layer": "buildings", "id": building["id"], "name": name}], "use": use}
    if kind in ("building_use_not_in", "building_use_in"):
        if use == "unknown":
            why_en = f"the use of building {name} is unknown"
            return (
                "unresolved",
                f"建筑{name}用途未知，无法核验：{title}",
                f"{why_en}, so '{title}' cannot be verified",
                facts,
            )
        bad = (use in params["uses"]) == (kind == "building_use_not_in")
        allowed = "、".join(zh("uses", u) for u in params["uses"])
        text_zh = f"所在建筑{name}用途为{zh('uses', use)}，" + (
            "该行业不得设于此类建筑" if kind == "building_use_not_in" else f"不在允许用途（{allowed}）内"
        )
        text_en = f"building {name} is {en('uses', use)}; " + (
            "this industry may not be in such a building"
            if kind == "building_use_not_in"
            else f"allowed uses are {', '.join(params['uses'])}"
        )
        return ("violated" if bad else "passed", text_zh, text_en, facts)
    if kind == "requires_flue":
        if use != "mixed":
            return ("passed", "", "", facts)
        if building.get("flue") is None:
            return (
                "unresolved",
                f"建筑{name}为商住综合楼，是否有专用烟道未知",
                f"building {name} is mixed-use; flue unknown",
                facts,
            )
        text_en = f"building {name} is mixed-use without a dedicated kitchen-exhaust flue"
        outcome = "passed" if building["flue"] else "violated"
        return (
            outcome,
            f"所在建筑{name}为商住综合楼且无专用烟道",
            text_en,
            facts | {"flue": building["flue"]},
        )
    if kind == "requires_accepted_building":
        accepted = building.get("accepted_on")
        text_en = f"building {name} has no completion acceptance on file"
        outcome = "passed" if accepted else "violated"
        return (outcome, f"所在建筑{name}未办理竣工验收备案", text_en, facts | {"accepted_on": accepted})
    raise AssertionError(f"unknown rule kind {kind}")  # refused when the rules were loaded


def _floor_finding(kind: str, bound: int, floor: int | None, title: str) -> Finding:
    if floor is None:
        return (
            "unresolved",
            f"未提供楼层，无法核验：{title}",
            f"no floor given, so '{title}' cannot be verified",
            {},
        )
    ok = floor >= bound if kind == "floor_at_least" else floor <= bound
    word_zh, word_en = (
        ("低于最低", "below the lowest") if kind == "floor_at_least" else ("高于最高", "above the highest")
    )
    text_zh, text_en = (
        f"所在楼层{floor}{word_zh}允许楼层{bound}",
        f"floor {floor} is {word_en} allowed floor {bound}",
    )
    return ("passed" if ok else "violated", text_zh, text_en, {"floor": floor, "floor_bound": bound})


def _unresolved_location(level: str) -> dict[str, Any]:
    return {
        "source": "resolution",
        "id": "address-level",
        "title": "地址匹配精度不足",
        "severity": "review",
        "outcome": "unresolved",
        "basis": "",
        "department": "",
        "message_zh": f"地址仅匹配到{zh('levels', level)}级别，位置为近似位置，需人工核实",
        "message_en": f"the address matched only at {level} level; the location is approximate",
        "evidence": {"match_level": level},
    }


NO_PROOF: dict[str, Any] = {
    "house_number_id": None, "certificate_no": None, "building_certificates": [], "prefiled": False,
    "prefiled_vacancies": [], "building_accepted": False, "accepted_on": None, "acceptance_no": None,
}  # fmt: skip

NOT_SHARED = _Shared([], [], [], [], (), "")  # until the premises' group is judged

NO_BUILDING: dict[str, Any] = {
    "source": "resolution", "id": "no-building", "title": "未找到所在建筑",
    "severity": "review", "outcome": "unresolved", "basis": "", "department": "",
    "message_zh": "该位置不在任何已登记建筑内，需人工核实",
    "message_en": "the premises lies in no known building",
    "evidence": {},
}  # fmt: skip


def _records(layer: LayerIndex) -> list[dict[str, Any]]:
    return layer.features.drop(columns="geometry").to_dict("records")


def _district_shape(snapshot: Snapshot) -> shapely.Geometry:
    districts: LayerIndex = snapshot.layer("districts")
    rows = np.flatnonzero((districts.features["level"] == "district").to_numpy())
    shape = shapely.union_all(districts.local[rows]) if len(rows) else shapely.union_all(districts.local)
    shapely.prepare(shape)
    return shape
