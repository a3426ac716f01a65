"""Locating: the only code that turns premises into a place, its match level and its building.

An address is resolved against the gazetteer (its building and house number are the ones the
gazetteer names); coordinates are converted from their system to WGS-84 and their building is the
one under them; a vacancy id is the listed vacancy's point, building and house number. Every path
that judges premises — single checks, batches, matching, comparisons, reports, the surface and the
Dask batch — locates through :class:`Locator`, so the same premises is the same place everywhere.

Vacancies (the layer's, or the operators' live listings the catalog puts in their place) are tied
here to the building under them when they name none, and to the house number their address
resolves to in that building.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteselect.address import Gazetteer, Match
from siteselect.coords import to_wgs84
from siteselect.errors import InvalidInputError
from siteselect.grid import point_cells
from siteselect.index import NO_ROWS, CellMap, Snapshot, cell_pairs
from siteselect.premises import Premises, today
from siteselect.verdicts import PRECISE_LEVELS

_NO_PLACE = (math.nan, math.nan)
BOXED_FROM = 64  # pairs of points and buildings: fewer cost less tested at once than boxed first


GAZETTEER_LAYERS = ("house_numbers", "buildings", "districts")  # what a gazetteer reads


def gazetteer_for(snapshot: Snapshot) -> Gazetteer:
    """The gazetteer of a snapshot, built once (the previous one's where its layers are the same)."""
    previous = snapshot.made_before("gazetteer", GAZETTEER_LAYERS)
    return snapshot.made(
        "gazetteer",
        lambda: (
            previous
            or Gazetteer(
                snapshot.layer("house_numbers").features,
                snapshot.layer("buildings").features,
                snapshot.layer("districts").features,
            )
        ),
    )


def locator_for(snapshot: Snapshot) -> Locator:
    """The locator of a snapshot, built once."""
    previous = snapshot.made_before("locator", GAZETTEER_LAYERS)  # its buildings and numbers hold
    return snapshot.made("locator", lambda: Locator(snapshot, previous))


class Places:
    """Where each premises of one call is: columns filled in by :meth:`Locator.locate`."""

    def __init__(self, premises: Sequence[Premises]):
        n = len(premises)
        self.premises = premises
        # As given for now; in WGS-84 once located (addresses resolved, other systems converted).
        # Two columns of floats: numpy reads them faster than pairs.
        given = [
            (p.lon, p.lat) if p.address is None and p.vacancy_id is None else _NO_PLACE for p in premises
        ]
        lon, lat = zip(*given) if n else ((), ())
        self.lon, self.lat = np.array(lon, dtype=float), np.array(lat, dtype=float)
        self.floor = [p.floor or 0 for p in premises]  # 0: not given (a vacancy's own, once located)
        self.points = np.empty(n, dtype=object)  # in the snapshot's planar frame
        self.building = np.full(n, -1, dtype=np.intp)  # row in the buildings layer
        self.located = NO_ROWS  # positions of the premises that were placed in the district
        self.match: dict[int, dict[str, Any]] = {}  # the address match, for addresses
        self.house_number: dict[int, str] = {}
        self.district = [""] * n  # code of the district each located premises lies in (its rules)
        self.error: dict[int, str] = {}
        self._cells: dict[int, NDArray[np.int64]] = {}

    def cells(self, res: int) -> NDArray[np.int64]:
        """The cell of every premises (0 where it was not located)."""
        if res not in self._cells:
            cells = np.zeros(len(self.premises), dtype=np.int64)
            at = self.located
            cells[at] = point_cells(self.lon[at], self.lat[at], res)
            self._cells[res] = cells
        return self._cells[res]

    def approximate(self, i: int) -> str | None:
        """The match level of premises ``i`` when its address matched only roughly, else None."""
        match = self.match.get(i)
        return None if match is None or match["level"] in PRECISE_LEVELS else match["level"]


class Locator:
    """Places premises in one snapshot: the district's outline, its buildings, the gazetteer and
    the vacancies."""

    def __init__(self, snapshot: Snapshot, previous: Locator | None = None):
        """``previous``: the locator of a snapshot with the same buildings, house numbers and
        districts, whose findings about them still hold."""
        self.snap = snapshot
        # (address, building) → house number of this snapshot's vacancies; those the previous
        # snapshot's locator knew are taken from it (a listing's change leaves the gazetteer as it
        # was), not shared with it, so that addresses no listing has any more are forgotten.
        self._numbers: dict[tuple[str, str], str | None] = {}
        self._known = {} if previous is None else previous._numbers
        self.buildings = snapshot.layer("buildings")
        self.districts = Districts(snapshot)
        if previous is None:
            self.building_row = {bid: i for i, bid in enumerate(self.buildings.features["id"].tolist())}
            return
        self.building_row = previous.building_row  # the same buildings
        if "_building_boxes" in vars(previous):
            self._building_boxes = previous._building_boxes
        if previous.snap.layers.get("vacancies") is snapshot.layers.get("vacancies"):
            # The same vacancies too (another layer changed): what was found of them holds.
            self._numbers = previous._numbers
            for found in ("vacancies", "_vacancy_records", "vacancy_rows"):
                if found in vars(previous):
                    vars(self)[found] = vars(previous)[found]

    @property
    def gazetteer(self) -> Gazetteer:
        return gazetteer_for(self.snap)

    def warm(self) -> None:
        """Build the buildings' cell map and the vacancies' records and rows now rather than on
        first use."""
        self._building_map  # noqa: B018 - built on first access
        self._building_boxes  # noqa: B018
        self._vacancy_records  # noqa: B018
        self.vacancy_rows  # noqa: B018

    def locate(self, places: Places) -> None:
        """Place every premises: its WGS-84 point, planar point and building, or why it cannot be."""
        by_system: dict[str, list[int]] = {}
        for i, p in enumerate(places.premises):
            if p.address is not None:
                self._resolve_address(places, i)
            elif p.vacancy_id is not None:
                self._place_vacancy(places, i)
            elif p.coordsys not in ("wgs84", "cgcs2000"):  # not the stored system
                by_system.setdefault(p.coordsys, []).append(i)
        for system, group in by_system.items():
            at = np.array(group, dtype=np.intp)
            places.lon[at], places.lat[at] = to_wgs84(places.lon[at], places.lat[at], system)
        if places.error:
            pending = np.array(
                [i for i in range(len(places.premises)) if i not in places.error], dtype=np.intp
            )
            if not len(pending):
                return
        else:
            pending = np.arange(len(places.premises))
        points = self.snap.frame.points(places.lon[pending], places.lat[pending])
        places.points[pending] = points
        inside, codes = self.districts.containing(points)
        places.located = pending[inside]
        for i, code in zip(places.located.tolist(), codes):
            places.district[i] = code
        if len(places.located) < len(pending):  # some outside: say where each is
            for i in pending[~inside].tolist():
                places.error[i] = self._outside_message(places, i)
        self._find_buildings(places)

    def resolve(self, address: str) -> Match:
        """An address text as the gazetteer resolves it."""
        return self.gazetteer.resolve(address)

    def _resolve_address(self, places: Places, i: int) -> None:
        address = places.premises[i].address or ""
        try:
            match = self.resolve(address)
        except InvalidInputError as exc:
            places.error[i] = f"address: {exc}"
            return
        places.match[i] = match.as_dict()
        if match.level == "none":
            notes = "; ".join(match.notes) or "no match"
            places.error[i] = f"address {address!r} could not be resolved to a place ({notes})"
            return
        places.lon[i], places.lat[i] = float(match.lon or 0.0), float(match.lat or 0.0)
        if match.house_number_id is not None:
            places.house_number[i] = match.house_number_id
        if match.building_id is not None:
            places.building[i] = self.building_row.get(match.building_id, -1)

    def _place_vacancy(self, places: Places, i: int) -> None:
        vid = places.premises[i].vacancy_id
        row = self.vacancy_rows.get(vid or "")
        if row is None:
            places.error[i] = f"vacancy_id {vid!r} does not exist"
            return
        v = self._vacancy_records[row]
        places.lon[i], places.lat[i] = float(v["lon"]), float(v["lat"])
        if not places.floor[i] and not pd.isna(v.get("floor")):
            places.floor[i] = int(v["floor"])
        if isinstance(v["house_number_id"], str):  # else None, or pandas' NaN for none
            places.house_number[i] = v["house_number_id"]
        if isinstance(v["building_id"], str):
            places.building[i] = self.building_row.get(v["building_id"], -1)

    def _outside_message(self, places: Places, i: int) -> str:
        p, lon, lat = places.premises[i], float(places.lon[i]), float(places.lat[i])
        swapped = (
            self.districts.served.intersects(self.snap.frame.point(lat, lon)) if abs(lat) <= 180 else False
        )
        hint = " (lat and lon look swapped)" if swapped else ""
        return f"point ({p.lon}, {p.lat}) lies outside {self.districts.description}{hint}"

    # ---- buildings ------------------------------------------------------------------------------

    @functools.cached_property
    def _building_map(self) -> CellMap:
        return self.buildings.cell_map(0.0)

    @functools.cached_property
    def _building_boxes(self) -> NDArray[np.float64]:
        """Each building's planar bounds: min x, min y, max x, max y."""
        return shapely.bounds(self.buildings.local)

    def _find_buildings(self, places: Places) -> None:
        """The building under each located premises that has none yet (the smallest, where two)."""
        todo = places.located[places.building[places.located] < 0]
        if not len(todo):
            return
        pos, rows = self._rows_under(
            places.points[todo], places.cells(self.buildings.version.h3_resolution)[todo]
        )
        places.building[todo[pos]] = rows

    def building_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The building under a WGS-84 point (its id, name, address, use, floors), or None."""
        res = self.buildings.version.h3_resolution
        lons, lats = np.array([lon], dtype=float), np.array([lat], dtype=float)
        row = int(self.buildings_under(self.snap.frame.points(lons, lats), point_cells(lons, lats, res))[0])
        if row < 0:
            return None
        rec = self.buildings.features.iloc[row]
        floors = rec.get("floors")
        return {
            "id": rec["id"],
            "name": rec.get("name"),
            "address": rec.get("address"),
            "use": rec.get("use"),
            "floors": None if pd.isna(floors) else int(floors),
        }

    def buildings_under(self, points: NDArray[np.object_], cells: NDArray[np.int64]) -> NDArray[np.intp]:
        """The row of the building under each planar point (-1 on open land)."""
        out = np.full(len(points), -1, dtype=np.intp)
        pos, rows = self._rows_under(points, cells)
        out[pos] = rows
        return out

    def _rows_under(
        self, points: NDArray[np.object_], cells: NDArray[np.int64]
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(position, building row) of each planar point in a building (the smallest, where two)."""
        b = self.buildings
        pos, rows = cell_pairs(self._building_map, cells.tolist())
        if len(rows) > BOXED_FROM:  # a point is in a building only inside its box: few are, test those
            xy, box = shapely.get_coordinates(points), self._building_boxes[rows]
            x, y = xy[pos, 0], xy[pos, 1]
            boxed = (box[:, 0] <= x) & (x <= box[:, 2]) & (box[:, 1] <= y) & (y <= box[:, 3])
            pos, rows = pos[boxed], rows[boxed]
        if not len(rows):  # open land: no building near any of them
            return pos, rows
        inside = shapely.intersects(b.local[rows], points[pos])
        pos, rows = pos[inside], rows[inside]
        if len(pos) != len(set(pos.tolist())):  # a place in two buildings: the smallest is its own
            order = np.lexsort((shapely.area(b.local[rows]), pos))
            first = np.unique(pos[order], return_index=True)[1]
            pos, rows = pos[order][first], rows[order][first]
        return pos, rows

    # ---- vacancies ------------------------------------------------------------------------------

    @functools.cached_property
    def vacancies(self) -> pd.DataFrame:
        """Every vacancy (lon, lat, building_id, house_number_id, prefiled, …), each tied to its
        building — the one it names, else the one under it — and to the house number its address
        resolves to in that building."""
        if not self.snap.has("vacancies"):
            columns = ["id", "lon", "lat", "building_id", "house_number_id", "prefiled"]
            return pd.DataFrame(columns=columns)
        layer = self.snap.layer("vacancies")
        v = pd.DataFrame(layer.features.drop(columns="geometry"))
        v["lon"], v["lat"] = layer.features.geometry.x.to_numpy(), layer.features.geometry.y.to_numpy()
        if "building_id" not in v:
            v["building_id"] = None
        building = [b if b in self.building_row else None for b in v["building_id"].tolist()]
        loose = np.array([i for i, b in enumerate(building) if b is None], dtype=np.intp)
        if len(loose):  # placed by a point only: the building under it
            lon, lat = v["lon"].to_numpy(float)[loose], v["lat"].to_numpy(float)[loose]
            res = self.buildings.version.h3_resolution
            under = self.buildings_under(self.snap.frame.points(lon, lat), point_cells(lon, lat, res))
            ids = self.buildings.features["id"].tolist()
            for i, row in zip(loose.tolist(), under.tolist()):
                building[i] = ids[row] if row >= 0 else None
        v["building_id"] = building
        v["house_number_id"] = [self._number_in(a, b) for a, b in zip(v["address"], v["building_id"])]
        self._known = {}  # all taken that are still wanted
        v["prefiled"] = v["prefiled"].fillna(False).astype(bool) if "prefiled" in v else False
        if "prefiled_until" in v:  # an approved pre-filing counts until the day it is valid until
            expired = [isinstance(d, str) and d < today().isoformat() for d in v["prefiled_until"]]
            v["prefiled"] &= ~np.array(expired, dtype=bool)
        return v

    @functools.cached_property
    def _vacancy_records(self) -> list[dict[str, Any]]:
        """What placing a vacancy reads, as plain records: a pandas row costs a check a tenth of a
        millisecond, and a match checks a few hundred."""
        columns = ["lon", "lat", "floor", "house_number_id", "building_id"]
        return self.vacancies.reindex(columns=columns).to_dict("records")  # type: ignore[return-value]

    @functools.cached_property
    def vacancy_rows(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.vacancies["id"].tolist())}

    def _number_in(self, address: Any, building_id: Any) -> str | None:
        """The house number an address resolves to, when it is one of the building's."""
        if not isinstance(address, str) or not address.strip() or not building_id:
            return None
        key = (address, building_id)
        if key in self._known:
            self._numbers[key] = self._known[key]
        if key not in self._numbers:
            try:
                match = self.resolve(address)
                same = match.level == "house_number" and match.building_id == building_id
                self._numbers[key] = match.house_number_id if same else None
            except InvalidInputError:
                self._numbers[key] = None
        return self._numbers[key]


class Districts:
    """The districts a deployment serves (the ``districts`` layer's features of level ``district``),
    in the snapshot's planar frame: which one a point lies in decides the local rules it is judged
    by. A layer without district-level features is one district of no code (its outlines' union)."""

    def __init__(self, snapshot: Snapshot):
        layer = snapshot.layer("districts")
        features = layer.features
        rows = np.flatnonzero((features["level"] == "district").to_numpy())
        if len(rows):
            self.codes = [str(c) for c in features["code"].to_numpy()[rows]]
            self.names = [str(n) for n in features["name"].to_numpy()[rows]]
            self.shapes = list(layer.local[rows])
        else:
            self.codes, self.names, self.shapes = [""], ["the district"], [shapely.union_all(layer.local)]
        for shape in self.shapes:
            shapely.prepare(shape)
        # A point is tested against the districts whose bounding boxes hold it, one or two of ten.
        self._boxes = shapely.STRtree(self.shapes)
        self.served = self.shapes[0] if len(self.shapes) == 1 else shapely.union_all(self.shapes)
        shapely.prepare(self.served)

    @property
    def description(self) -> str:
        """What a point outside lies outside of, in a message."""
        if len(self.names) == 1:
            return self.names[0]
        return "every district served (" + ", ".join(self.names) + ")"

    def containing(self, points: NDArray[np.object_]) -> tuple[NDArray[np.bool_], list[str]]:
        """Which planar points lie in a district served, and the code of the district of each that
        does, in order; a point on a border between two goes to the first listed."""
        if len(self.shapes) == 1:  # the usual deployment: one pass, one code
            inside = shapely.intersects(self.shapes[0], points)
            return inside, [self.codes[0]] * int(np.count_nonzero(inside))
        if len(points) == 1:  # a single check: no arrays to build, a third of the time
            code = self._containing_one(points[0])
            return np.array([code is not None]), [] if code is None else [code]
        point_at, shape_at = self._boxes.query(points)
        hit = shapely.intersects(self._boxes.geometries[shape_at], points[point_at])
        which = np.full(len(points), len(self.shapes), dtype=np.intp)
        np.minimum.at(which, point_at[hit], shape_at[hit])  # the first listed wins
        inside = which < len(self.shapes)
        return inside, [self.codes[k] for k in which[inside].tolist()]

    def _containing_one(self, point: shapely.Point) -> str | None:
        for k in sorted(self._boxes.query(point).tolist()):  # the first listed wins
            if shapely.intersects(self.shapes[k], point):
                return self.codes[k]
        return None
