"""Layer listing and features as GeoJSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.fields import BboxQuery
from siteselect.errors import InvalidInputError
from siteselect.specs import get_spec, layer_specs
from siteselect.store import LayerVersion, Store

router = APIRouter(prefix="/layers", tags=["layers"])
MAX_LIMIT = 10_000
GEOJSON = "application/geo+json"


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _version_json(v: LayerVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "loaded_at": v.loaded_at.isoformat(),
        "loaded_by": v.loaded_by,
        "source": v.source,
        "feature_count": v.feature_count,
        "checksum": v.checksum,
    }


@router.get("")
def list_layers(request: Request) -> list[dict[str, Any]]:
    """Every layer of the data contract, with its current version if one is loaded."""
    current = _store(request).current_versions()
    return [
        {
            "name": name,
            "title": spec.title,
            "geometry": list(spec.geometry),
            "fields": list(spec.fields),
            "current": _version_json(current[name]) if name in current else None,
        }
        for name, spec in layer_specs().items()
    ]


@router.get("/{layer}/versions")
def list_versions(request: Request, layer: str) -> list[dict[str, Any]]:
    """Every stored version of one layer, oldest first."""
    get_spec(layer)
    return [_version_json(v) for v in _store(request).versions(layer)]


MAX_BBOX_DEG = 5.0  # a district spans well under a degree; a city a couple


def parse_bbox(
    text: str | None, max_deg: float = MAX_BBOX_DEG, too_wide: str = "ask for the district, not the world"
) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` → a tuple, or a clear error (``too_wide`` says what to do
    about a box wider than ``max_deg``)."""
    if text is None:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise InvalidInputError(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat") from None
    if len(parts) != 4:
        raise InvalidInputError(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInputError(f"bbox {text!r} is not a box in lon/lat (min < max, within range)")
    if maxx - minx > max_deg or maxy - miny > max_deg:
        raise InvalidInputError(f"bbox {text!r} spans more than {max_deg}°: {too_wide}")
    return minx, miny, maxx, maxy


@router.get("/{layer}/features", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def features(
    request: Request,
    layer: str,
    bbox: BboxQuery = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, description=f"at most {MAX_LIMIT}")] = 1000,
) -> Response:
    """Features of a layer as a GeoJSON FeatureCollection (current version unless one is named)."""
    gdf = _store(request).read_layer(layer, version=version, bbox=parse_bbox(bbox))
    matched = len(gdf)
    gdf = gdf.head(min(limit, MAX_LIMIT))
    if "geometry" in gdf.columns:
        body = json.loads(gdf.to_json(drop_id=True, to_wgs84=False))
    else:
        body = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": None, "properties": rec} for rec in gdf.to_dict("records")
            ],
        }
    for feature in body["features"]:
        feature["id"] = feature["properties"].pop("id")
    body["numberMatched"], body["numberReturned"] = matched, len(gdf)
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON)
