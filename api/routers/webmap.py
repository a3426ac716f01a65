"""The web map at ``/``: its page, its scripts (Leaflet from the project's npm packages) and the
base-map vectors it draws. Nothing it loads comes from anywhere but this service."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siteselect import assets
from siteselect.drawing import Basemap, base_layers, feature_collection

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
CACHE = "public, max-age=3600"


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The map page, with what it needs to know about the district and the base map inline."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    config = html.escape(orjson.dumps(_config(request)).decode(), quote=False)
    return HTMLResponse(page.replace("{{ config }}", config))


def _config(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    basemap = Basemap.from_settings(settings)
    snapshot = request.app.state.catalog.current()
    streets: list[str] = []
    if snapshot.has("districts"):
        districts = snapshot.layer("districts").features
        streets = districts.loc[districts["level"] == "street", "name"].tolist()
        minx, miny, maxx, maxy = districts.total_bounds.tolist()
    else:
        minx, miny, maxx, maxy = settings.extent
    return {
        "bounds": [[miny, minx], [maxy, maxx]],
        "streets": streets,
        "tiles": basemap.tiles,
        "gcj02": basemap.gcj02,
        "attribution": basemap.attribution,
    }


@router.get("/static/leaflet.js")
def leaflet_js() -> Response:
    return Response(assets.leaflet_js(), media_type="text/javascript", headers={"Cache-Control": CACHE})


@router.get("/static/leaflet.css")
def leaflet_css() -> Response:
    return Response(assets.leaflet_css(), media_type="text/css", headers={"Cache-Control": CACHE})


@router.get("/basemap")
def basemap(request: Request) -> Response:
    """District and street outlines, roads and buildings as one GeoJSON, each feature with its
    ``layer``; drawn once per set of layer versions."""
    return Response(base_geojson(request.app.state), media_type="application/geo+json")


def base_geojson(state: Any) -> bytes:
    """The base map of the current snapshot, drawn when the versions change (the service draws it
    when it starts, so the first visitor does not wait for it)."""
    snapshot = state.catalog.current()
    drawn = Basemap.from_settings(state.settings)
    key = (tuple(sorted(snapshot.versions.items())), drawn)
    cached = getattr(state, "basemap", None)
    if cached is None or cached[0] != key:
        features = []
        for layer, (geoms, _) in base_layers(snapshot).items():
            if geoms:  # drawn, not pointed at: the layer is all the page needs to style it
                props = [{"layer": layer}] * len(geoms)
                features += feature_collection(snapshot, geoms, props, drawn)["features"]
        state.basemap = cached = (key, orjson.dumps({"type": "FeatureCollection", "features": features}))
    drawing: bytes = cached[1]
    return drawing
