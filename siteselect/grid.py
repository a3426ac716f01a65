"""The H3 grid: the only module that calls h3, and so the only place that swaps (lon, lat) to (lat, lng).

Cells are 64-bit integers (stored as ``bigint``). A polygon gets every cell it overlaps, so a parcel
smaller than a cell still has one; a point gets the cell that contains it. :func:`disc_cells` returns
cells guaranteed to cover a disc of radius r, which together with the covering of features makes the
index free of false negatives: H3 finds candidates, exact geometry decides.
"""

from __future__ import annotations

import functools
import math

import h3.api.basic_int as h3
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from siteselect.errors import InvalidInputError

MIN_RES, MAX_RES = 0, 15
Cells = NDArray[np.int64]


def check_resolution(res: int) -> int:
    """Return ``res`` if it is an H3 resolution (0-15), else raise ``InvalidInputError``."""
    if isinstance(res, bool) or not isinstance(res, (int, np.integer)) or not MIN_RES <= res <= MAX_RES:
        raise InvalidInputError(f"H3 resolution must be an integer from 0 to 15, got {res!r}")
    return int(res)


def point_cells(lon: ArrayLike, lat: ArrayLike, res: int) -> Cells:
    """The cell of each point."""
    check_resolution(res)
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    to_cell = h3.latlng_to_cell
    if len(x) == 1:  # a single check: no generator to run (half the cost)
        return np.array([to_cell(float(y[0]), float(x[0]), res)], dtype=np.int64)
    return np.fromiter((to_cell(b, a, res) for a, b in zip(x, y)), dtype=np.int64, count=len(x))


def geometry_cells(geom: shapely.Geometry, res: int) -> Cells:
    """Every cell a geometry touches: the cell of a point, all cells a polygon overlaps."""
    check_resolution(res)
    if geom.geom_type == "Point":
        return np.array([h3.latlng_to_cell(geom.y, geom.x, res)], dtype=np.int64)
    if geom.geom_type == "MultiPoint":
        xy = shapely.get_coordinates(geom)
        return np.unique(point_cells(xy[:, 0], xy[:, 1], res))
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        shape = h3.geo_to_h3shape(geom.__geo_interface__)
        cells = h3.h3shape_to_cells_experimental(shape, res, "overlap")
        return np.array(sorted(cells), dtype=np.int64)
    if geom.geom_type in ("LineString", "MultiLineString"):
        return _line_cells(geom, res)
    raise InvalidInputError(f"cannot index a {geom.geom_type} with H3")


def _line_cells(line: shapely.Geometry, res: int) -> Cells:
    """Cells of points along a line, a third of an edge apart, and their neighbours: a line crossing
    the corner of a cell between two samples still has that cell."""
    start = h3.latlng_to_cell(*shapely.get_coordinates(line)[0][::-1], res)
    step_deg = h3.average_hexagon_edge_length(res, unit="m") / 3 / 111_000
    xy = shapely.get_coordinates(shapely.segmentize(line, step_deg))
    hit = np.unique(point_cells(xy[:, 0], xy[:, 1], res)).tolist() or [start]
    return np.unique(np.array([n for c in hit for n in h3.grid_disk(c, 1)], dtype=np.int64))


def geometries_cells(geoms: ArrayLike, res: int) -> tuple[NDArray[np.intp], Cells]:
    """Cells of many geometries, as two aligned arrays: the position of the geometry, its cell."""
    arr = np.asarray(geoms, dtype=object)
    is_point = shapely.get_type_id(arr) == 0
    point_pos = np.flatnonzero(is_point)
    xy = shapely.get_coordinates(arr[point_pos])
    positions = [point_pos]
    cells = [point_cells(xy[:, 0], xy[:, 1], res)]
    for pos in np.flatnonzero(~is_point):
        got = geometry_cells(arr[pos], res)
        positions.append(np.full(len(got), pos, dtype=np.intp))
        cells.append(got)
    return np.concatenate(positions).astype(np.intp), np.concatenate(cells).astype(np.int64)


def _haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return float(h3.great_circle_distance((lat1, lng1), (lat2, lng2), unit="m"))


@functools.lru_cache(maxsize=65536)
def _cell_size_m(cell: int) -> tuple[float, float]:
    """Shortest edge and longest centre-to-vertex distance of a cell, in metres."""
    center = h3.cell_to_latlng(cell)
    ring = h3.cell_to_boundary(cell)
    edges = [_haversine_m(*ring[i], *ring[(i + 1) % len(ring)]) for i in range(len(ring))]
    radius = max(_haversine_m(*center, *v) for v in ring)
    return min(edges), radius


def rings_for(cell: int, radius_m: float) -> int:
    """How many rings around ``cell`` hold every point within ``radius_m`` of any of its points.

    A point q within r of a point p of the cell lies in a cell whose centre is at most R + r + R
    from this cell's centre (R the circumradius). In a hexagonal grid, cells whose centres lie
    within D of a centre are at most ceil(D / (1.5 e)) rings away (e the edge length). Margins of
    5% absorb the small change of cell size between neighbours.
    """
    edge, circum = _cell_size_m(cell)
    return math.ceil((radius_m + 2 * circum * 1.05) / (1.5 * edge * 0.95))


def disc_cells(lon: float, lat: float, radius_m: float, res: int) -> Cells:
    """Cells that together cover every point within ``radius_m`` of (lon, lat).

    As :func:`rings_for`, but knowing where p lies in its cell: the bound is d + r + R, d the
    distance of p from its cell's centre.
    """
    check_resolution(res)
    if not math.isfinite(radius_m) or radius_m < 0:
        raise InvalidInputError(f"radius must be a non-negative number of metres, got {radius_m!r}")
    center = h3.latlng_to_cell(lat, lon, res)
    edge, circum = _cell_size_m(center)
    offset = _haversine_m(lat, lon, *h3.cell_to_latlng(center))
    k = math.ceil((offset + radius_m + circum * 1.05) / (1.5 * edge * 0.95))
    return np.array(h3.grid_disk(center, k), dtype=np.int64)


def cell_polygons(cells: ArrayLike) -> NDArray[np.object_]:
    """The hexagon of each cell as a shapely Polygon in (lon, lat)."""
    out = []
    for cell in np.asarray(cells):
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(int(cell))]
        out.append(shapely.Polygon(ring))
    return np.array(out, dtype=object)


def disk(cell: int, rings: int) -> list[int]:
    """The cell and every cell within ``rings`` rings of it."""
    return list(h3.grid_disk(cell, rings))


def edge_length_m(res: int) -> float:
    """The average edge of a hexagon at ``res``, in metres."""
    return float(h3.average_hexagon_edge_length(check_resolution(res), unit="m"))


def polygon_centre_cells(geom: shapely.Geometry, res: int) -> Cells:
    """The cells whose centre lies in a (lon/lat) polygon, sorted."""
    shape = h3.geo_to_h3shape(geom.__geo_interface__)
    return np.array(
        sorted(h3.h3shape_to_cells_experimental(shape, check_resolution(res), "center")), dtype=np.int64
    )


def cell_centres(cells: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The centre of each cell, as lon and lat arrays."""
    latlng = np.array([h3.cell_to_latlng(int(c)) for c in np.asarray(cells).tolist()], dtype=float).reshape(
        -1, 2
    )
    return latlng[:, 1], latlng[:, 0]


def cell_names(cells: ArrayLike) -> list[str]:
    """Cells as H3's hexadecimal names."""
    return [h3.int_to_str(int(c)) for c in np.asarray(cells).tolist()]


def cell_samples(cells: Cells, every_vertex: bool) -> tuple[NDArray[np.float64], NDArray[np.float64], Cells]:
    """Points per cell (lon, lat, and the cell of each): its centre and halfway to each vertex (to
    every other vertex when ``every_vertex`` is false)."""
    step = 1 if every_vertex else 2
    lon, lat, owner = [], [], []
    for cell in cells.tolist():
        clat, clng = h3.cell_to_latlng(cell)
        lon.append(clng)
        lat.append(clat)
        owner.append(cell)
        for vlat, vlng in h3.cell_to_boundary(cell)[::step]:
            lon.append((clng + vlng) / 2)
            lat.append((clat + vlat) / 2)
            owner.append(cell)
    return np.array(lon), np.array(lat), np.array(owner, dtype=np.int64)
