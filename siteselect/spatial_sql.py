"""Spatial operators as SQL expressions, the same answers on both stores.

On PostGIS they are PostGIS's own (``ST_Intersects`` …, and ``ST_DWithin`` on ``geography``, so
distances are geodesic on the WGS-84 spheroid), helped by the GiST index. The SQLite store keeps
geometry as WKB with no spatial extension, so the exact test is a function of this module that
SQLite calls (registered on every connection by the store): GEOS through shapely, as PostGIS is
GEOS, and distances by ``siteselect.geodesy``. Before it, a condition that every match meets
narrows the rows to test: the features sharing an H3 cell with the filter's geometry (the cells are
stored with the features, each covering its whole geometry), or a box around it for points kept as
longitude and latitude. The prefilter only ever leaves out rows the exact test would refuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography

from siteselect.crs import Crs, to_crs84
from siteselect.geodesy import distances_m, point_distance_m
from siteselect.grid import Cells, disc_cells, geometry_cells

MAX_PREFILTER_CELLS = 20_000  # more bound values than this: test every row instead
M_PER_DEG_LAT = 110_000.0  # fewer than anywhere on Earth (110,574 at the equator): boxes err wide
M_PER_DEG_LON_EQUATOR = 111_000.0

# name → (shapely predicate, whether the filter's geometry goes first: prepared, it is faster there)
PREDICATES: dict[str, tuple[Callable[[Any, Any], Any], bool]] = {
    "intersects": (shapely.intersects, True),
    "equals": (shapely.equals, True),
    "touches": (shapely.touches, True),
    "within": (shapely.contains, True),  # a within Q ⇔ Q contains a
    "contains": (shapely.within, True),  # a contains Q ⇔ Q within a
    "overlaps": (shapely.overlaps, False),
    "crosses": (shapely.crosses, False),
}
POSTGIS_NAMES = {"intersects": "ST_Intersects", "equals": "ST_Equals", "touches": "ST_Touches",
                 "within": "ST_Within", "contains": "ST_Contains", "overlaps": "ST_Overlaps",
                 "crosses": "ST_Crosses"}  # fmt: skip


def box_around(geom: shapely.Geometry, metres: float) -> tuple[float, float, float, float]:
    """A lon/lat box holding every point within ``metres`` of ``geom``."""
    minx, miny, maxx, maxy = geom.bounds
    dlat = metres / M_PER_DEG_LAT
    widest = min(89.9, max(abs(miny), abs(maxy)) + dlat)
    dlon = metres / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(widest)))
    return minx - dlon, miny - dlat, maxx + dlon, maxy + dlat


class Spatial:
    """The spatial operators of a filter over one geometry column (or one point's lon and lat).

    ``prefilter`` gives, for the filter's geometry and a distance, a condition every match meets
    (or ``None``). ``filter_crs`` is the system the filter's geometries are written in.
    """

    def __init__(
        self,
        postgis: bool,
        geometry: sa.ColumnElement[Any],
        prefilter: Callable[[shapely.Geometry, float], sa.ColumnElement[bool] | None],
        filter_crs: Crs,
    ):
        self.postgis = postgis
        self.geometry = geometry
        self.prefilter = prefilter
        self.filter_crs = filter_crs

    def from_filter_crs(self, geom: shapely.Geometry) -> shapely.Geometry:
        out: shapely.Geometry = to_crs84([geom], self.filter_crs)[0]
        return out

    def relate(self, name: str, query: shapely.Geometry) -> sa.ColumnElement[bool]:
        """``geometry <name> query``: intersects, equals, touches, within, contains, overlaps, crosses."""
        wkb = shapely.to_wkb(query)
        if self.postgis:
            exact = sa.and_(getattr(sa.func, POSTGIS_NAMES[name])(self.geometry, _postgis(wkb)))
        else:
            exact = sa.and_(sa.func.siteselect_relate(name, self.geometry, wkb) == 1)
        return self._narrowed(exact, query, 0.0)

    def dwithin(self, point: shapely.Point, metres: float) -> sa.ColumnElement[bool]:
        """Within ``metres`` (geodesic) of ``point``."""
        if self.postgis:
            as_geography = sa.cast(self.geometry, Geography)
            centre = sa.cast(_postgis(shapely.to_wkb(point)), Geography)
            exact = sa.and_(sa.func.ST_DWithin(as_geography, centre, metres))
        else:
            exact = sa.and_(sa.func.siteselect_dwithin(self.geometry, point.x, point.y, metres) == 1)
        return self._narrowed(exact, point, metres)

    def _narrowed(self, exact: Any, query: shapely.Geometry, metres: float) -> sa.ColumnElement[bool]:
        narrow = self.prefilter(query, metres)
        return sa.and_(exact) if narrow is None else sa.and_(narrow, exact)


def _postgis(wkb: bytes) -> sa.ColumnElement[Any]:
    return sa.func.ST_GeomFromWKB(sa.literal(wkb, sa.LargeBinary), 4326)


def box_prefilter(
    lon: sa.ColumnElement[Any], lat: sa.ColumnElement[Any]
) -> Callable[[shapely.Geometry, float], sa.ColumnElement[bool]]:
    """Points kept as lon and lat columns: within the box around the filter's geometry."""

    def narrow(query: shapely.Geometry, metres: float) -> sa.ColumnElement[bool]:
        minx, miny, maxx, maxy = box_around(query, metres)
        return sa.and_(lon.between(minx, maxx), lat.between(miny, maxy))

    return narrow


def envelope_prefilter(
    geom: sa.ColumnElement[Any],
) -> Callable[[shapely.Geometry, float], sa.ColumnElement[bool]]:
    """PostGIS geometry: its bounding box meets the box around the filter's geometry (GiST)."""

    def narrow(query: shapely.Geometry, metres: float) -> sa.ColumnElement[bool]:
        envelope = sa.func.ST_MakeEnvelope(*box_around(query, metres), 4326)
        return sa.and_(geom.op("&&")(envelope))

    return narrow


def cells_prefilter(
    candidates: Callable[[Cells], sa.ColumnElement[bool]], res: int
) -> Callable[[shapely.Geometry, float], sa.ColumnElement[bool] | None]:
    """Features with stored H3 cells: those sharing a cell with the filter's geometry (or with the
    disc around its point), when there are not too many cells to name."""

    def narrow(query: shapely.Geometry, metres: float) -> sa.ColumnElement[bool] | None:
        if query.geom_type == "GeometryCollection":
            return None  # not indexed by cells: every row is tested
        cells = disc_cells(query.x, query.y, metres, res) if metres > 0 else geometry_cells(query, res)
        if len(cells) > MAX_PREFILTER_CELLS:
            return None
        return candidates(cells)

    return narrow


# ---- the functions SQLite calls ------------------------------------------------------------------


@lru_cache(maxsize=32)
def _prepared(wkb: bytes) -> shapely.Geometry:
    """The filter's geometry, read and prepared once for all the rows it is tested against."""
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


def _relate(name: str, wkb: bytes | None, query: bytes | None) -> int | None:
    if wkb is None or query is None:
        return None
    predicate, query_first = PREDICATES[name]
    feature, prepared = shapely.from_wkb(wkb), _prepared(bytes(query))
    return int(bool(predicate(prepared, feature) if query_first else predicate(feature, prepared)))


def _dwithin(wkb: bytes | None, lon: float, lat: float, metres: float) -> int | None:
    if wkb is None:
        return None
    geom = shapely.from_wkb(wkb)
    if geom.geom_type == "Point":  # the geodesic between two points: no projection to build
        return int(bool(point_distance_m(lon, lat, geom.x, geom.y) <= metres))
    return int(bool(distances_m(lon, lat, [geom])[0] <= metres))


def _point(lon: float | None, lat: float | None) -> bytes | None:
    if lon is None or lat is None:
        return None
    out: bytes = shapely.to_wkb(shapely.Point(lon, lat))
    return out


def register_sqlite_functions(dbapi_conn: Any) -> None:
    """Make the exact tests above callable from SQL on one SQLite connection."""
    dbapi_conn.create_function("siteselect_relate", 3, _relate, deterministic=True)
    dbapi_conn.create_function("siteselect_dwithin", 4, _dwithin, deterministic=True)
    dbapi_conn.create_function("siteselect_point", 2, _point, deterministic=True)
