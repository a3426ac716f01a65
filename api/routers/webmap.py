"""The web map at ``/``: its page, its scripts (Leaflet and protomaps-leaflet from the project's npm
packages) and the base-map vectors it draws. Nothing it loads comes from anywhere but this service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dependencies import BboxQuery, parse_bbox
from siteselect import assets, labels, scoring
from siteselect.drawing import (
    Basemap,
    Layer,
    buildings_layer,
    feature_collection,
    outline_layers,
    page_constants,
)
from siteselect.errors import InvalidInputError
from siteselect.index import Snapshot
from siteselect.report import CATEGORY_COLOURS
from siteselect.specs import layer_specs, record_specs

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
CACHE = "public, max-age=3600"
GEOJSON = "application/geo+json"
LABELLED = ("roads",)  # the page writes their names on the map
BUILDINGS_MAX_DEG = 0.2  # asked for from zoom 15 or closer: a 2,560-pixel view there is 0.11° across


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The map page, with what it needs to know about the district and the base map inline."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(page.replace("{{ config }}", _script_json(_config(request))))


def _script_json(value: Any) -> str:
    """JSON to sit inside a ``<script>`` element, which HTML entities do not reach: the characters
    that could end it are written as JSON escapes, which JSON.parse reads back as they were."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@router.get("/steward", response_class=HTMLResponse)
def steward_page(request: Request) -> HTMLResponse:
    """The data stewards' page: upload a department's file, review what it changes, confirm."""
    page = (STATIC / "steward.html").read_text(encoding="utf-8")
    config = _config(request) | {"targets": _targets(), "changeColours": CHANGE_COLOURS}
    return HTMLResponse(page.replace("{{ config }}", _script_json(config)))


CHANGE_COLOURS = {"added": "#2e7d32", "removed": "#c62828", "changed": "#f9a825"}


def _targets() -> list[dict[str, str]]:
    """What a steward can load: each layer, and each kind of record with the layer it joins."""
    out = []
    for name, spec in layer_specs().items():
        zh, _, en = spec.title.partition(" ")
        out.append({"value": f"load:{name}", "zh": zh, "en": en})
    for kind, spec in record_specs().items():
        zh, _, en = spec.title.partition(" ")
        out.append({"value": f"records:{spec.extra['joins']}/{kind}", "zh": f"{zh}（记录）", "en": f"{en}"})
    order = {"load:prohibited_addresses": 0, "load:zones": 1}
    return sorted(out, key=lambda o: order.get(o["value"], 2))


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
    parks = snapshot.layer("parks").features if snapshot.has("parks") else None
    return (
        {
            "bounds": [[miny, minx], [maxy, maxx]],
            "streets": streets,
            "parks": []
            if parks is None
            else [{"id": i, "name": n} for i, n in zip(parks["id"], parks["name"])],
            "tiles": basemap.tiles,
            "gcj02": basemap.gcj02,
            "attribution": basemap.attribution,
        }
        | page_constants()
        | _names()
    )


def _names() -> dict[str, Any]:
    """What the page names in both languages: criteria (with a sentence on what each measures),
    amenity categories (with the reports' colours), building uses and match levels."""
    about = scoring.config()["criteria"]
    criteria = {c: labels.group("criteria")[c] + about[c] for c in scoring.CRITERIA}  # zh, en, about zh, en
    categories = {c: [*labels.group("poi_categories")[c], colour] for c, colour in CATEGORY_COLOURS.items()}
    return {
        "criteria": criteria,
        "categories": categories,
        "uses": labels.group("uses"),
        "levels": labels.group("levels"),
    }


@router.get("/static/leaflet.js")
def leaflet_js() -> Response:
    return Response(assets.leaflet_js(), media_type="text/javascript", headers={"Cache-Control": CACHE})


@router.get("/static/leaflet.css")
def leaflet_css() -> Response:
    return Response(assets.leaflet_css(), media_type="text/css", headers={"Cache-Control": CACHE})


@router.get("/static/protomaps-leaflet.js")
def protomaps_leaflet_js() -> Response:
    return Response(
        assets.protomaps_leaflet_js(), media_type="text/javascript", headers={"Cache-Control": CACHE}
    )


@router.get("/basemap")
def basemap(request: Request) -> Response:
    """District and street outlines and roads as one GeoJSON, each feature with its ``layer``;
    drawn once per set of layer versions. The web map draws buildings from ``/tiles/buildings``."""
    return Response(base_geojson(request.app.state), media_type=GEOJSON)


@router.get("/basemap/buildings")
def basemap_buildings(request: Request, bbox: BboxQuery = None) -> Response:
    """The buildings in a view (``bbox`` in WGS-84, at most ``BUILDINGS_MAX_DEG`` a side), for the
    operators' page to place premises in one: a real district has too many to send at once."""
    box = parse_bbox(bbox, BUILDINGS_MAX_DEG, "zoom in to see buildings")
    if box is None:
        raise InvalidInputError("bbox is required: minlon,minlat,maxlon,maxlat of the view")
    snapshot = request.app.state.catalog.current()
    area = snapshot.frame.to_local([shapely.box(*box)])[0]
    layers = {"buildings": buildings_layer(snapshot, area)}
    return Response(
        _geojson(snapshot, layers, Basemap.from_settings(request.app.state.settings)), media_type=GEOJSON
    )


def base_geojson(state: Any) -> bytes:
    """The outlines and roads of the current snapshot, drawn when the versions change (the service
    draws them when it starts, so the first visitor does not wait)."""
    snapshot = state.catalog.current()
    drawn = Basemap.from_settings(state.settings)
    key = (tuple(sorted(snapshot.versions.items())), drawn)
    cached = getattr(state, "basemap", None)
    if cached is None or cached[0] != key:
        state.basemap = cached = (key, _geojson(snapshot, outline_layers(snapshot), drawn))
    drawing: bytes = cached[1]
    return drawing


def _geojson(snapshot: Snapshot, layers: dict[str, Layer], drawn: Basemap) -> bytes:
    features = []
    for layer, (geoms, names) in layers.items():
        # Drawn, not pointed at: the layer is all the page needs to style it (and names, to label roads).
        if geoms:
            props = [{"layer": layer} | ({"name": n.get("name")} if layer in LABELLED else {}) for n in names]
            features += feature_collection(snapshot, geoms, props, drawn)["features"]
    return orjson.dumps({"type": "FeatureCollection", "features": features})
