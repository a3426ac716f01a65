"""OGC API – Features: every layer as a collection GIS tools can read, filter and write.

Part 1 (Core, GeoJSON, HTML, OAS 3.0): landing page, conformance, collections, items (``bbox``,
``limit`` with an advertised maximum, paging by ``next`` links, ``datetime`` for the layer version
loaded by then) and items by id. Part 2 (CRS): ``crs``, ``bbox-crs`` and ``Content-Crs``. Part 3
(Filtering): queryables, property filters and CQL2 ``filter``. Part 4 (draft): the writes in
api/ogc/writes.py. Browsers get pages (api/ogc/pages.py), programs JSON, by ``Accept`` and ``f``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import geopandas as gpd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import INSTANT, MAX_BBOX_DEG, parse_bbox
from api.ogc import pages, writes
from api.ogc.common import GEOJSON, JSON, base_url, json_body, wants_html
from siteselect import filters, listings, parks
from siteselect.crs import CRS84, SUPPORTED, Crs, bbox_to_crs84, check_crs, from_crs84
from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.feature_query import read_items
from siteselect.index import Catalog
from siteselect.specs import get_spec, layer_specs

router = APIRouter(prefix="/ogc", tags=["OGC API Features"])
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
DRAFT_NAMES = {"cql-text": "cql2-text"}  # GDAL still asks for the drafts' name
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
OGC = "http://www.opengis.net/spec/"
CONFORMANCE = [
    f"{OGC}ogcapi-features-1/1.0/conf/core",
    f"{OGC}ogcapi-features-1/1.0/conf/geojson",
    f"{OGC}ogcapi-features-1/1.0/conf/html",
    f"{OGC}ogcapi-features-1/1.0/conf/oas30",
    f"{OGC}ogcapi-features-2/1.0/conf/crs",
    f"{OGC}ogcapi-features-3/1.0/conf/queryables",
    f"{OGC}ogcapi-features-3/1.0/conf/queryables-query-parameters",
    f"{OGC}ogcapi-features-3/1.0/conf/filter",
    f"{OGC}ogcapi-features-3/1.0/conf/features-filter",
    f"{OGC}cql2/1.0/conf/cql2-text",
    f"{OGC}cql2/1.0/conf/cql2-json",
    f"{OGC}cql2/1.0/conf/basic-cql2",
    f"{OGC}cql2/1.0/conf/advanced-comparison-operators",
    f"{OGC}cql2/1.0/conf/case-insensitive-comparison",
    f"{OGC}cql2/1.0/conf/basic-spatial-functions",
    f"{OGC}cql2/1.0/conf/basic-spatial-functions-plus",
    f"{OGC}cql2/1.0/conf/spatial-functions",
    # Part 4 (draft): vacancies take all four; parks replace and update (see the writes)
    f"{OGC}ogcapi-features-4/1.0/conf/create-replace-delete",
    f"{OGC}ogcapi-features-4/1.0/conf/update",
    f"{OGC}ogcapi-features-4/1.0/conf/optimistic-locking-etags",
]
# The query parameters items take; any other names a queryable (a property filter).
ITEMS_PARAMETERS = {"bbox", "bbox-crs", "crs", "limit", "datetime", "filter", "filter-lang", "filter-crs",
                    "cursor", "f"}  # fmt: skip
Format = Annotated[Literal["json", "html"] | None, Query(description="json or html (else by Accept)")]
SYSTEMS = ", ".join(SUPPORTED)
CrsQuery = Annotated[str | None, Query(description=f"the system of the geometries returned: {SYSTEMS}")]
BboxCrsQuery = Annotated[
    str | None, Query(alias="bbox-crs", description=f"the system bbox is written in: {SYSTEMS}")
]
FilterCrsQuery = Annotated[
    str | None, Query(alias="filter-crs", description=f"the system of the filter's geometries: {SYSTEMS}")
]


def _crumbs(request: Request, *names: str) -> list[dict[str, str]]:
    base = base_url(request)
    out = [{"href": f"{base}/collections?f=html", "zh": "图层", "en": "Collections"}]
    for name in names:
        out.append({"href": f"{base}/collections/{name}?f=html", "zh": name, "en": name})
    return out


PAGE_OR_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {}, "text/html": {}}}}


@router.get("", include_in_schema=False)
@router.get("/", response_class=Response, responses=PAGE_OR_JSON)
def landing(request: Request, f: Format = None) -> Response:
    """The landing page: where everything else is."""
    base = _base = base_url(request)
    api = f"{base}/api"
    title = "siteselect — Laoshan layers"
    description = "Department layers for business registration site selection, as OGC API Features"
    if wants_html(request, f):
        return pages.page("landing", title, _base, description=description, api="/docs")
    return json_body({
        "title": title,
        "description": description,
        "links": [
            {"rel": "self", "type": JSON, "href": f"{base}/"},
            {"rel": "alternate", "type": "text/html", "href": f"{base}/?f=html"},
            {"rel": "service-desc", "type": OPENAPI, "href": api},
            {"rel": "service-doc", "type": "text/html", "href": str(request.base_url).rstrip("/") + "/docs"},
            {"rel": "conformance", "type": JSON, "href": f"{base}/conformance"},
            {"rel": "data", "type": JSON, "href": f"{base}/collections"},
        ],
    })  # fmt: skip


@router.get("/api", include_in_schema=False)
def api_definition(request: Request) -> Response:
    """The OpenAPI document of the OGC API alone, its paths relative to ``/ogc`` as OGC clients
    read them (GDAL looks up ``/collections/{name}/items`` there for the filters it may send)."""
    whole = request.app.openapi()
    paths = {p.removeprefix("/ogc"): item for p, item in whole["paths"].items() if p.startswith("/ogc/")}
    return json_body(whole | {"paths": paths, "servers": [{"url": base_url(request)}]}, OPENAPI)


@router.get("/conformance")
def conformance() -> Response:
    return json_body({"conformsTo": CONFORMANCE})


def _collection(request: Request, name: str) -> dict[str, Any]:
    spec = get_spec(name)
    base = base_url(request)
    catalog: Catalog = request.app.state.catalog
    snapshot = catalog.current()
    body: dict[str, Any] = {
        "id": name,
        "title": spec.title,
        "itemType": "feature",
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "links": [
            {"rel": "self", "type": JSON, "href": f"{base}/collections/{name}"},
            {"rel": "alternate", "type": "text/html", "href": f"{base}/collections/{name}?f=html"},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/collections/{name}/items"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
             "href": f"{base}/collections/{name}/queryables"},
            {"rel": "queryables", "type": "application/schema+json",  # as the drafts named it
             "href": f"{base}/collections/{name}/queryables"},
        ],
    }  # fmt: skip
    if snapshot.has(name) and spec.has_geometry and len(snapshot.layer(name).features):
        bounds = snapshot.layer(name).features.total_bounds.tolist()
        body["extent"] = {"spatial": {"bbox": [bounds], "crs": CRS84}}
    return body


@router.get("/collections", response_class=Response, responses=PAGE_OR_JSON)
def collections(request: Request, f: Format = None) -> Response:
    base = base_url(request)
    every = [_collection(request, name) for name in layer_specs()]
    if wants_html(request, f):
        return pages.page("collections", "图层 Collections", base, collections=every, crumbs=_crumbs(request))
    return json_body({
        "links": [{"rel": "self", "type": JSON, "href": f"{base}/collections"},
                  {"rel": "alternate", "type": "text/html", "href": f"{base}/collections?f=html"}],
        "collections": every,
    })  # fmt: skip


@router.get("/collections/{collection_id}", response_class=Response, responses=PAGE_OR_JSON)
def collection(request: Request, collection_id: str, f: Format = None) -> Response:
    body = _collection(request, collection_id)
    if wants_html(request, f):
        return pages.page(
            "collection", body["title"], base_url(request), collection=body, crumbs=_crumbs(request)
        )
    return json_body(body)


@router.get("/collections/{collection_id}/queryables", response_class=Response,
            responses={200: {"content": {"application/schema+json": {}}}})  # fmt: skip
def queryables(request: Request, collection_id: str) -> Response:
    """The properties a filter may name, as JSON Schema: their types and allowed values."""
    url = f"{base_url(request)}/collections/{collection_id}/queryables"
    return json_body(filters.queryables_schema(collection_id, url), "application/schema+json")


def _moment(text: str | None) -> dt.datetime | None:
    """A ``datetime`` instant (RFC 3339); intervals are not supported for versioned layers."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"datetime {text!r} is not an RFC 3339 instant, e.g. 2026-11-01T00:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _bbox(text: str | None, crs_text: str | None) -> tuple[float, float, float, float] | None:
    """``bbox`` in ``bbox-crs`` (its axis order) as CRS84, checked as every bbox is."""
    if text is None or crs_text is None:
        return parse_bbox(text)
    crs = check_crs(crs_text, "bbox-crs")
    try:
        minx, miny, maxx, maxy = (float(p) for p in text.split(","))
    except ValueError:
        raise InvalidInputError(f"bbox {text!r} must be four numbers") from None
    if not (minx < maxx and miny < maxy):
        raise InvalidInputError(f"bbox {text!r} is not a box (min < max)")
    box = bbox_to_crs84((minx, miny, maxx, maxy), crs)
    return parse_bbox(",".join(f"{v:.12f}" for v in box))


def _geometries(gdf: gpd.GeoDataFrame, crs: Crs) -> list[Any]:
    if "geometry" not in gdf.columns:
        return [None] * len(gdf)
    return [shapely.geometry.mapping(g) for g in from_crs84(gdf.geometry.to_numpy(), crs)]


def _feature(record: dict[str, Any], geometry: Any) -> dict[str, Any]:
    fid = record.pop("id")
    properties = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


def _collection_items(gdf: gpd.GeoDataFrame, crs: Crs) -> list[dict[str, Any]]:
    records = (
        gdf.drop(columns="geometry").to_dict("records")
        if "geometry" in gdf.columns
        else gdf.to_dict("records")
    )
    return [_feature(r, g) for r, g in zip(records, _geometries(gdf, crs))]


def _url(base: str, params: dict[str, Any]) -> str:
    return f"{base}?{urlencode(params)}"


@router.get("/collections/{collection_id}/items", response_class=Response,
            responses={200: {"content": {GEOJSON: {}, "text/html": {}}}})  # fmt: skip
def items(
    request: Request,
    collection_id: str,
    bbox: Annotated[
        str | None,
        Query(
            description=f"minx,miny,maxx,maxy in bbox-crs (CRS84 lon/lat by default); at most {MAX_BBOX_DEG}°"
        ),
    ] = None,
    bbox_crs: BboxCrsQuery = None,
    crs: CrsQuery = None,
    limit: Annotated[
        int, Query(ge=1, description=f"at most {MAX_LIMIT}; larger values are clamped")
    ] = DEFAULT_LIMIT,
    datetime: Annotated[
        str | None, Query(description="the layer as loaded at this instant", pattern=INSTANT)
    ] = None,
    filter: Annotated[
        str | None, Query(description="a CQL2 filter (see queryables)", max_length=filters.MAX_FILTER_CHARS)
    ] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json", "cql-text"],
        Query(
            alias="filter-lang",
            description="cql2-text or cql2-json (cql-text: the drafts' name of cql2-text)",
        ),
    ] = "cql2-text",
    filter_crs: FilterCrsQuery = None,
    cursor: Annotated[int, Query(ge=0, include_in_schema=False)] = 0,
    f: Format = None,
) -> Response:
    """Features of a collection, a page at a time; follow the ``next`` link for more. Any other
    parameter filters on a property of the collection's queryables (``?status=available``)."""
    limit = min(limit, MAX_LIMIT)
    out_crs = check_crs(crs or CRS84)
    box = _bbox(bbox, bbox_crs)
    simple = {k: v for k, v in request.query_params.items() if k not in ITEMS_PARAMETERS}
    cql = filters.both(
        filters.parse(filter, DRAFT_NAMES.get(filter_lang, filter_lang)) if filter is not None else None,
        filters.simple(collection_id, simple),
        _bbox_filter(collection_id, box),
    )
    filter_in = check_crs(filter_crs or CRS84, "filter-crs")
    if cql is None and datetime is None:  # all of the current layer: the snapshot in memory has it
        every = _current_features(request, collection_id)
        gdf, matched = every.iloc[cursor : cursor + limit], len(every)
    else:
        gdf, matched = read_items(
            request.app.state.store, collection_id, cql=cql, as_of=_moment(datetime),
            filter_crs=filter_in, offset=cursor, limit=limit,
        )  # fmt: skip
    base = f"{base_url(request)}/collections/{collection_id}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "limit", "f")} | {
        "limit": limit
    }
    features = _collection_items(gdf, out_crs)
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    nxt = _url(base, params | {"cursor": cursor + limit}) if cursor + limit < matched else None
    if wants_html(request, f):
        spec = get_spec(collection_id)
        shown = _collection_items(gdf, SUPPORTED[CRS84])
        return pages.page(
            "items", spec.title, base_url(request), collection_id=collection_id, features=features,
            columns=[c for c in gdf.columns if c not in ("id", "geometry")], matched=matched,
            next=None if nxt is None else _url(base, params | {"cursor": cursor + limit, "f": "html"}),
            geojson={"type": "FeatureCollection", "features": shown}, crumbs=_crumbs(request, collection_id),
        )  # fmt: skip
    here = params | {"cursor": cursor}
    links = [{"rel": "self", "type": GEOJSON, "href": _url(base, here)},
             {"rel": "alternate", "type": "text/html", "href": _url(base, here | {"f": "html"})}]  # fmt: skip
    if nxt is not None:
        links.append({"rel": "next", "type": GEOJSON, "href": nxt})
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    return json_body(body, GEOJSON, headers)


def _current_features(request: Request, layer: str) -> gpd.GeoDataFrame:
    """The current version of a layer as the worker holds it (the live listings for vacancies):
    it answers while the database is away, with the listings as last read."""
    get_spec(layer)
    catalog: Catalog = request.app.state.catalog
    return catalog.current(fresh_listings=layer == "vacancies").layer(layer).features


def _bbox_filter(layer: str, box: tuple[float, float, float, float] | None) -> dict[str, Any] | None:
    """``bbox`` as the filter it is: the features whose geometry meets the box."""
    if box is None or not get_spec(layer).has_geometry:
        return None
    return {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(box)}]}


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response,
            responses={200: {"content": {GEOJSON: {}, "text/html": {}}, "headers": writes.ETAG}})  # fmt: skip
def item(
    request: Request, collection_id: str, feature_id: str, crs: CrsQuery = None, f: Format = None
) -> Response:
    """One feature by its id (with the ``ETag`` a change must name, for vacancies and parks)."""
    out_crs = check_crs(crs or CRS84)
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    if collection_id == "vacancies":  # live, with the ETag a write must match
        listing = listings.get(request.app.state.store, feature_id)
        gdf = listings.as_frame([listing])
        headers["ETag"] = listings.etag(listing)
    elif collection_id == "parks":
        # Parks are read from the store, not the snapshot (which may lag a second behind a write):
        # the feature and the ETag an operator's write must match come from the same version.
        gdf = parks.current(request.app.state.store)[0]
        if (gdf["id"] == feature_id).any():
            headers["ETag"] = parks.etag(parks.record(gdf, feature_id))
    else:
        gdf = _current_features(request, collection_id)
    hit = gdf[gdf["id"] == feature_id]
    if hit.empty:
        raise NotFoundError(f"collection {collection_id!r} has no feature {feature_id!r}")
    body = _collection_items(hit, out_crs)[0]
    href = f"{base_url(request)}/collections/{collection_id}/items/{feature_id}"
    if wants_html(request, f):
        shown = _collection_items(hit, SUPPORTED[CRS84])[0]
        return pages.page(
            "item", f"{get_spec(collection_id).title} · {feature_id}", base_url(request), feature=body,
            geojson=shown, crumbs=_crumbs(request, collection_id), headers=headers,
        )  # fmt: skip
    body["links"] = [
        {"rel": "self", "type": GEOJSON, "href": href},
        {"rel": "alternate", "type": "text/html", "href": f"{href}?f=html"},
        {"rel": "collection", "type": JSON, "href": f"{base_url(request)}/collections/{collection_id}"},
    ]
    return json_body(body, GEOJSON, headers)


def document_collections(spec: dict[str, Any]) -> None:
    """Give each collection its own items path in the OpenAPI document, with a parameter per
    queryable: how GIS clients (GDAL, QGIS) learn which property filters the server applies."""
    generic = spec["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    for name in layer_specs():
        operation = dict(generic, operationId=f"items_of_{name}", summary=f"Items of {name}")
        schema = filters.queryables_schema(name, "")["properties"]
        queryable = [
            {"name": prop, "in": "query", "required": False, "schema": schema[prop],
             "description": f"features whose {prop} equals this"}
            for prop in filters.queryables(name)
        ]  # fmt: skip
        own = [p for p in generic["parameters"] if p["name"] != "collection_id"]
        item = spec["paths"].setdefault(f"/ogc/collections/{name}/items", {})
        item["get"] = operation | {"parameters": own + queryable}


router.include_router(writes.router)
