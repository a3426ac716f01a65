"""Vector tiles of the layers: ``/tiles/{layer}/{z}/{x}/{y}.mvt``, drawn once per layer version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from siteselect.index import Catalog
from siteselect.tiles import MAX_ZOOM, MEDIA_TYPE, TileCache, check_tile, draw_tile

router = APIRouter(tags=["tiles"])
CACHE = "public, max-age=60"  # a new layer version is new tiles within the minute


DRAWN: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}},
    204: {"description": "no feature in the tile"},
}


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", response_class=Response, responses=DRAWN)
def tile(
    request: Request,
    layer: str,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    """A Mapbox Vector Tile of a layer's current version (web Mercator, XYZ), its fields as
    properties; 204 when no feature meets the tile."""
    check_tile(layer, z, x, y)
    catalog: Catalog = request.app.state.catalog
    version = catalog.current().layer(layer).version
    store = request.app.state.store
    cache: TileCache = request.app.state.tiles
    data = cache.get(version, z, x, y, lambda: draw_tile(store, version, z, x, y))
    headers = {"Cache-Control": CACHE, "ETag": f'"{version.id}-{z}-{x}-{y}"'}
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MEDIA_TYPE, headers=headers)
