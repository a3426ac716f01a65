"""Layer listing and features as GeoJSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import BboxQuery, parse_bbox
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
