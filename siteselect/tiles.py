"""Mapbox Vector Tiles of the layers, for the web map and GIS clients (``/tiles/{layer}/{z}/{x}/{y}.mvt``).

A tile is the features of one layer version that meet the tile (web Mercator, XYZ numbering), in
tile coordinates (4096 a side, 64 of buffer), with the layer's queryable fields as properties,
typed as filters read them (numbers as doubles). From ``FULL_ZOOM`` on it holds every such
feature; below, the ``MAX_FEATURES`` largest (by area, then id), so that a city's tile at a low
zoom stays small and quick. PostGIS draws it itself (``ST_AsMVTGeom`` and ``ST_AsMVT``). On
SQLite the worker draws it from the layer version it holds in memory: an STRtree finds the
features whose boxes meet the tile (as PostGIS's ``&&``), which are projected, clipped, rounded,
made valid and wound all at once, and encoded with ``mapbox-vector-tile``. A tile shifted to
GCJ-02 (for a base map drawn in it) is drawn that way on either store. Tiles are kept per layer
version: a new version is new tiles, and an old one's are never served for it.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any, NamedTuple

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray
from pyproj import Transformer

from siteselect.coords import transform_geometries
from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.feature_query import columns_of
from siteselect.filters import queryables
from siteselect.index import LayerIndex
from siteselect.specs import get_spec, layer_specs
from siteselect.store import LayerVersion, Store

EXTENT = 4096
BUFFER = 64  # tile units around the tile, so strokes and labels meet across edges
MAX_ZOOM = 22
HALF_WORLD = 20037508.342789244  # web Mercator's half width, metres
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
FULL_ZOOM = 14  # from street scale a tile holds every feature that meets it; below it, at most
MAX_FEATURES = 2_000  # this many, the largest first (by area, then id), as tile makers thin a city
GCJ02_SLACK_DEG = 0.001  # more than GCJ-02's shift varies along a sixteenth of a tile's side
NUMERIC = ("integer", "number")
CACHE_BYTES = 64 * 2**20  # the tiles a worker keeps: a city's street tiles are some 30 kB each
POLYGONAL = (3, 6)  # shapely's type ids of Polygon and MultiPolygon
Bounds = tuple[float, float, float, float]
_TREE_LOCK = threading.Lock()


def tile_layers() -> list[str]:
    """The layers served as tiles: every layer with geometry but the live listings, which change
    one by one (the OGC items give them as they are)."""
    return [name for name, spec in layer_specs().items() if spec.has_geometry and name != "vacancies"]


def check_tile(layer: str, z: int, x: int, y: int) -> None:
    """A layer served as tiles and a tile of the XYZ grid, or a clear error."""
    if layer not in tile_layers():
        get_spec(layer)  # an unknown layer: NotFoundError names the known ones
        raise NotFoundError(f"layer {layer!r} is not served as tiles; tiles of: {', '.join(tile_layers())}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInputError(f"zoom {z} is not from 0 to {MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInputError(f"tile {z}/{x}/{y} is outside the grid (x and y from 0 to {2**z - 1})")


def tile_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> Bounds:
    """The tile's box in web Mercator metres, widened by ``buffer`` tile units each side."""
    size = 2 * HALF_WORLD / 2**z
    margin = size * buffer / EXTENT
    minx, maxy = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return minx - margin, maxy - size - margin, minx + size + margin, maxy + margin


@cache
def _mercator(inverse: bool) -> Transformer:
    source, target = ("EPSG:3857", "EPSG:4326") if inverse else ("EPSG:4326", "EPSG:3857")
    return Transformer.from_crs(source, target, always_xy=True)


def to_mercator(geoms: NDArray[np.object_], inverse: bool = False) -> NDArray[np.object_]:
    """Lon/lat geometries in web Mercator metres (or back, with ``inverse``)."""

    def convert(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = _mercator(inverse).transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out: NDArray[np.object_] = shapely.transform(geoms, convert)
    return out


def draw_tile(store: Store, layer: LayerIndex, z: int, x: int, y: int, *, gcj02: bool = False) -> bytes:
    """One tile of one layer version (as the worker holds it), as Mapbox Vector Tile bytes; with
    ``gcj02``, its features shifted to GCJ-02 first, to lie on a base map drawn in it."""
    check_tile(layer.version.layer, z, x, y)
    if store.postgis and not gcj02:
        return _postgis_tile(store, layer.version, z, x, y)
    return _encoded_tile(layer, z, x, y, gcj02)


def _postgis_tile(store: Store, version: LayerVersion, z: int, x: int, y: int) -> bytes:
    f = store.t["features"]
    envelope = sa.func.ST_TileEnvelope(z, x, y)
    world = sa.func.ST_MakeEnvelope(-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD, 3857)
    margin = sa.func.ST_Transform(sa.func.ST_TileEnvelope(z, x, y, world, BUFFER / EXTENT), 4326)
    geom = sa.func.ST_AsMVTGeom(sa.func.ST_Transform(f.c.geom, 3857), envelope, EXTENT, BUFFER, True)
    columns = columns_of(version.layer, f.c.props, {"id": f.c.fid})
    meeting = sa.select(geom.label("geom"), *(c.label(name) for name, c in columns.items())).where(
        f.c.version_id == version.id, f.c.geom.op("&&")(margin)
    )
    if z < FULL_ZOOM:  # PostgreSQL draws only the rows the limit keeps
        meeting = meeting.order_by(sa.func.ST_Area(f.c.geom).desc(), f.c.fid.collate("C")).limit(MAX_FEATURES)
    # ST_AsMVT leaves out the rows whose geometry ST_AsMVTGeom dropped (NULL): no filter on them,
    # which PostgreSQL would draw twice.
    tile = meeting.subquery("tile")
    query = sa.select(sa.func.ST_AsMVT(sa.literal_column("tile"), version.layer, EXTENT, "geom")).select_from(
        tile
    )
    with store.engine.begin() as conn:
        # A tile takes milliseconds: compiling its query first (JIT, which a city's tile at a low
        # zoom is costed high enough for) or starting parallel workers would take longer.
        for setting in ("jit", "max_parallel_workers_per_gather"):
            conn.execute(sa.select(sa.func.set_config(setting, "0", True)))
        data = conn.execute(query).scalar_one()
    return bytes(data) if data else b""


def _encoded_tile(layer: LayerIndex, z: int, x: int, y: int, gcj02: bool) -> bytes:
    widened = tile_bounds(z, x, y, BUFFER)
    box = to_mercator(np.array([shapely.box(*widened)], dtype=object), inverse=True)[0]
    features = layer.features
    if gcj02:  # what GCJ-02 puts in the box lies, in WGS-84, where the box's outline goes back to
        outline = shapely.segmentize(box, (box.bounds[2] - box.bounds[0]) / 16)
        box = transform_geometries([outline], "gcj02")[0].buffer(GCJ02_SLACK_DEG, join_style="mitre")
    rows = np.sort(_tree(features).query(box))  # their boxes meet it, as PostGIS's && finds them
    geoms = features.geometry.to_numpy()[rows]
    if z < FULL_ZOOM and len(rows) > MAX_FEATURES:
        largest = np.lexsort((features["id"].to_numpy()[rows], -shapely.area(geoms)))[:MAX_FEATURES]
        rows, geoms = rows[largest], geoms[largest]
    if gcj02:
        geoms = transform_geometries(geoms, "gcj02", inverse=True)
    drawn = _to_tile_units(shapely.clip_by_rect(to_mercator(geoms), *widened), z, x, y)
    kept = ~(shapely.is_empty(drawn) | shapely.is_missing(drawn))
    rows, drawn = rows[kept], _valid_and_wound(drawn[kept])
    if not len(rows):
        return b""
    name = layer.version.layer
    properties = _properties(features.iloc[rows], name)
    encoded = [{"geometry": g, "properties": p} for g, p in zip(drawn, properties)]
    # Orientation and validity are settled above for the whole tile at once: the encoder's own
    # check, one feature at a time, would be half of the tile's time.
    options = {"extents": EXTENT, "check_winding_order": False}  # the encoder turns y downwards
    data: bytes = mapbox_vector_tile.encode([{"name": name, "features": encoded}], default_options=options)
    return data


def _tree(features: gpd.GeoDataFrame) -> Any:
    """The features' STRtree (geopandas keeps it with them), built once: the dozen tiles a map
    asks for at once would each build it otherwise."""
    with _TREE_LOCK:
        return features.sindex


def _to_tile_units(geoms: NDArray[np.object_], z: int, x: int, y: int) -> NDArray[np.object_]:
    """Web Mercator metres as whole tile units from the tile's lower left corner, all at once (the
    encoder would do it one feature at a time, most of a tile's time)."""
    minx, miny, maxx, _ = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    out: NDArray[np.object_] = shapely.transform(geoms, lambda xy: np.round((xy - (minx, miny)) * scale))
    return out


def _valid_and_wound(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Polygons made valid where rounding to whole units broke them, and wound as the encoder
    expects before it turns y downwards (outer rings clockwise, holes the other way)."""
    broken = ~shapely.is_valid(geoms) & np.isin(shapely.get_type_id(geoms), POLYGONAL)
    geoms = geoms.copy()
    geoms[broken] = shapely.make_valid(geoms[broken], method="structure", keep_collapsed=False)
    out: NDArray[np.object_] = shapely.orient_polygons(geoms, exterior_cw=True)
    return out


def _properties(features: gpd.GeoDataFrame, layer: str) -> list[dict[str, Any]]:
    """Each feature's queryable fields as PostGIS writes them: numbers as doubles, the rest as
    they are, none that is missing (None or NaN)."""
    columns: dict[str, list[Any]] = {}
    for name, q in queryables(layer).items():
        if name in features.columns:
            values = features[name].tolist()
            columns[name] = [_number(v) for v in values] if q.kind in NUMERIC else values
    return [
        {name: value for name, value in zip(columns, values) if value is not None and value == value}
        for values in zip(*columns.values())
    ]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class TileKey(NamedTuple):
    """A drawn tile: of which layer version, where, and whether shifted to GCJ-02."""

    version_id: int
    z: int
    x: int
    y: int
    gcj02: bool = False
