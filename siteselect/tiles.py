"""Mapbox Vector Tiles of the layers, for the web map and GIS clients (``/tiles/{layer}/{z}/{x}/{y}.mvt``).

A tile is the features of one layer version that meet the tile (web Mercator, XYZ numbering), in
tile coordinates (4096 a side, 64 of buffer), with the layer's queryable fields as properties,
typed as filters read them (numbers as doubles). PostGIS draws it itself (``ST_AsMVTGeom`` and
``ST_AsMVT``); on SQLite the same features are read by the filter path (an ``S_INTERSECTS`` with
the tile's box), projected, clipped and encoded with ``mapbox-vector-tile``. Tiles are kept per
layer version: a new version is new tiles, and an old one's are never served for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache

import mapbox_vector_tile
import numpy as np
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray
from pyproj import Transformer

from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.feature_query import columns_of, read_items
from siteselect.filters import queryables
from siteselect.specs import get_spec, layer_specs
from siteselect.store import LayerVersion, Store

EXTENT = 4096
BUFFER = 64  # tile units around the tile, so strokes and labels meet across edges
MAX_ZOOM = 22
HALF_WORLD = 20037508.342789244  # web Mercator's half width, metres
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
Bounds = tuple[float, float, float, float]


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


def draw_tile(store: Store, version: LayerVersion, z: int, x: int, y: int) -> bytes:
    """One tile of one layer version, as Mapbox Vector Tile bytes."""
    check_tile(version.layer, z, x, y)
    if store.postgis:
        return _postgis_tile(store, version, z, x, y)
    return _encoded_tile(store, version, z, x, y)


def _postgis_tile(store: Store, version: LayerVersion, z: int, x: int, y: int) -> bytes:
    f = store.t["features"]
    envelope = sa.func.ST_TileEnvelope(z, x, y)
    world = sa.func.ST_MakeEnvelope(-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD, 3857)
    margin = sa.func.ST_Transform(sa.func.ST_TileEnvelope(z, x, y, world, BUFFER / EXTENT), 4326)
    geom = sa.func.ST_AsMVTGeom(sa.func.ST_Transform(f.c.geom, 3857), envelope, EXTENT, BUFFER, True)
    columns = columns_of(version.layer, f.c.props, {"id": f.c.fid})
    rows = (
        sa.select(geom.label("geom"), *(c.label(name) for name, c in columns.items()))
        .where(f.c.version_id == version.id, f.c.geom.op("&&")(margin))
        .subquery("rows")
    )
    drawn = sa.select(rows).where(rows.c.geom.is_not(None)).subquery("tile")
    query = sa.select(sa.func.ST_AsMVT(sa.literal_column("tile"), version.layer, EXTENT, "geom")).select_from(
        drawn
    )
    with store.engine.connect() as conn:
        data = conn.execute(query).scalar_one()
    return bytes(data) if data is not None else b""


def _encoded_tile(store: Store, version: LayerVersion, z: int, x: int, y: int) -> bytes:
    widened = tile_bounds(z, x, y, BUFFER)
    corners = to_mercator(np.array([shapely.box(*widened)], dtype=object), inverse=True)[0]
    box = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(corners.bounds)}]}
    gdf, _ = read_items(store, version.layer, cql=box, version=version, limit=10**9)
    clipped = _to_tile_units(shapely.clip_by_rect(to_mercator(gdf.geometry.to_numpy()), *widened), z, x, y)
    kinds = {name: q.kind for name, q in queryables(version.layer).items()}
    features = []
    for record, geom in zip(gdf.drop(columns="geometry").to_dict("records"), clipped):
        if geom is None or geom.is_empty:
            continue
        properties = {k: _typed(v, kinds[k]) for k, v in record.items() if k in kinds and v is not None}
        features.append({"geometry": geom, "properties": properties})
    if not features:
        return b""
    options = {"extents": EXTENT}  # in tile units already; the encoder turns y downwards
    data: bytes = mapbox_vector_tile.encode(
        [{"name": version.layer, "features": features}], default_options=options
    )
    return data


def _to_tile_units(geoms: NDArray[np.object_], z: int, x: int, y: int) -> NDArray[np.object_]:
    """Web Mercator metres as whole tile units from the tile's lower left corner, all at once (the
    encoder would do it one feature at a time, most of a tile's time)."""
    minx, miny, maxx, _ = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    out: NDArray[np.object_] = shapely.transform(geoms, lambda xy: np.round((xy - (minx, miny)) * scale))
    return out


def _typed(value: object, kind: str) -> object:
    """A property as PostGIS writes it: numbers as doubles, the rest as they are."""
    return float(value) if kind in ("integer", "number") else value  # type: ignore[arg-type]


class TileCache:
    """Drawn tiles by layer version, the most recently used kept (``max_tiles`` at most)."""

    def __init__(self, max_tiles: int = 4096):
        self.max_tiles = max_tiles
        self._tiles: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: LayerVersion, z: int, x: int, y: int, draw: Callable[[], bytes]) -> bytes:
        key = (version.id, z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        data = draw()  # outside the lock: two requests for a new tile may both draw it, once each
        with self._lock:
            self._tiles[key] = data
            while len(self._tiles) > self.max_tiles:
                self._tiles.popitem(last=False)
        return data
