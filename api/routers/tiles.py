"""Vector tiles of the layers: ``/tiles/{layer}/{z}/{x}/{y}.mvt``, drawn once per layer version."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from api.dependencies import snapshot_of
from siteselect.bytes_cache import BytesCache
from siteselect.tiles import MAX_ZOOM, MEDIA_TYPE, TileKey, check_tile, draw_tile

router = APIRouter(tags=["tiles"])
CACHE = "public, max-age=60"  # a new layer version is new tiles within the minute; then ETag and 304


DRAWN: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}},
    204: {"description": "no feature in the tile"},
    304: {"description": "the tile named in If-None-Match is still the layer's"},
}


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", response_class=Response, responses=DRAWN)
async def tile(
    request: Request,
    layer: str,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    datum: Annotated[
        Literal["wgs84", "gcj02"],
        Query(description="gcj02: the features shifted to GCJ-02, to lie on a base map drawn in it"),
    ] = "wgs84",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A Mapbox Vector Tile of a layer's current version (web Mercator, XYZ), its fields as
    properties; 204 when no feature meets the tile. From zoom 14 a tile holds every feature that
    meets it; below, at most 2,000, the largest first.

    A kept tile is answered on the event loop (a thread hand-off would cost more than the answer);
    a new one is drawn in a thread."""
    check_tile(layer, z, x, y)
    held = snapshot_of(request).layer(layer)
    key = TileKey(held.version.id, z, x, y, datum == "gcj02")
    etag = f'"{key.version_id}-{z}-{x}-{y}-{datum}"'
    headers = {"Cache-Control": CACHE, "ETag": etag}
    if if_none_match is not None and etag in {
        tag.strip().removeprefix("W/") for tag in if_none_match.split(",")
    }:
        return Response(status_code=304, headers=headers)
    cache: BytesCache = request.app.state.tiles
    data = cache.get(key)
    if data is None:
        store = request.app.state.store
        data = cache.put(
            key, await anyio.to_thread.run_sync(lambda: draw_tile(store, held, z, x, y, gcj02=key.gcj02))
        )
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MEDIA_TYPE, headers=headers)
