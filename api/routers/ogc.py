"""OGC API – Features, Part 1 (Core), read side: every layer as a collection GIS tools can read.

Landing page, conformance, collections, items (``bbox``, ``limit`` with an advertised maximum, paging
by ``next`` links, ``datetime`` for the layer version loaded by then), and items by id, as
``application/geo+json``. QGIS and GDAL's OAPIF driver read it as they read any such service.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeAlias

import geopandas as gpd
import shapely
from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import Response

from api import write_bodies
from api.auth import User
from api.dependencies import INSTANT, BboxQuery, building_finder, parse_bbox
from siteselect import audit, listings, parks
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from siteselect.index import Catalog
from siteselect.specs import get_spec, layer_specs
from siteselect.users import User as Account

router = APIRouter(prefix="/ogc", tags=["OGC API Features"])
GEOJSON = "application/geo+json"
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _json(body: Any, media_type: str = "application/json", headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type=media_type, headers=headers)


@router.get("", include_in_schema=False)
@router.get("/")
def landing(request: Request) -> Response:
    """The landing page: where everything else is."""
    base = _base(request)
    return _json({
        "title": "siteselect — Laoshan layers",
        "description": "Department layers for business registration site selection, as OGC API Features",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/"},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
             "href": str(request.base_url).rstrip("/") + "/openapi.json"},
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
        ],
    })  # fmt: skip


@router.get("/conformance")
def conformance() -> Response:
    return _json({"conformsTo": CONFORMANCE})


def _collection(request: Request, name: str) -> dict[str, Any]:
    spec = get_spec(name)
    base = _base(request)
    catalog: Catalog = request.app.state.catalog
    snapshot = catalog.current()
    body: dict[str, Any] = {
        "id": name,
        "title": spec.title,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/collections/{name}"},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/collections/{name}/items"},
        ],
    }
    if snapshot.has(name) and spec.has_geometry and len(snapshot.layer(name).features):
        bounds = snapshot.layer(name).features.total_bounds.tolist()
        body["extent"] = {"spatial": {"bbox": [bounds], "crs": CRS84}}
    return body


@router.get("/collections")
def collections(request: Request) -> Response:
    base = _base(request)
    return _json({
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}],
        "collections": [_collection(request, name) for name in layer_specs()],
    })  # fmt: skip


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str) -> Response:
    return _json(_collection(request, collection_id))


def _features(request: Request, name: str, moment: dt.datetime | None) -> gpd.GeoDataFrame:
    get_spec(name)
    catalog: Catalog = request.app.state.catalog
    if moment is None:  # vacancies: the live listings, as operators keep them
        return catalog.current(fresh_listings=name == "vacancies").layer(name).features
    return catalog.store.read_layer(name, as_of=moment)


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


def _feature(record: dict[str, Any], geometry: Any) -> dict[str, Any]:
    fid = record.pop("id")
    properties = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


def _collection_items(gdf: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    has_geometry = "geometry" in gdf.columns
    records = gdf.drop(columns="geometry").to_dict("records") if has_geometry else gdf.to_dict("records")
    geometries = (
        [shapely.geometry.mapping(g) for g in gdf.geometry] if has_geometry else [None] * len(records)
    )
    return [_feature(r, g) for r, g in zip(records, geometries)]


@router.get("/collections/{collection_id}/items", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}}})  # fmt: skip
def items(
    request: Request,
    collection_id: str,
    bbox: BboxQuery = None,
    limit: Annotated[
        int, Query(ge=1, description=f"at most {MAX_LIMIT}; larger values are clamped")
    ] = DEFAULT_LIMIT,
    datetime: Annotated[
        str | None, Query(description="the layer as loaded at this instant", pattern=INSTANT)
    ] = None,
    cursor: Annotated[int, Query(ge=0, include_in_schema=False)] = 0,
) -> Response:
    """Features of a collection, a page at a time; follow the ``next`` link for more."""
    limit = min(limit, MAX_LIMIT)
    gdf = _features(request, collection_id, _moment(datetime))
    box = parse_bbox(bbox)
    if box is not None and "geometry" in gdf.columns:
        gdf = gdf.iloc[sorted(gdf.sindex.query(shapely.box(*box), predicate="intersects"))]
    page = gdf.iloc[cursor : cursor + limit]
    base = f"{_base(request)}/collections/{collection_id}/items"
    params = {k: v for k, v in (("bbox", bbox), ("datetime", datetime)) if v is not None} | {"limit": limit}
    links = [{"rel": "self", "type": GEOJSON, "href": _url(base, params | {"cursor": cursor})}]
    if cursor + limit < len(gdf):
        links.append(
            {"rel": "next", "type": GEOJSON, "href": _url(base, params | {"cursor": cursor + limit})}
        )
    body = {
        "type": "FeatureCollection",
        "features": _collection_items(page),
        "numberMatched": len(gdf),
        "numberReturned": len(page),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    return _json(body, GEOJSON)


def _url(base: str, params: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return f"{base}?{urlencode(params)}"


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}}})  # fmt: skip
def item(request: Request, collection_id: str, feature_id: str) -> Response:
    """One feature by its id."""
    if collection_id == "vacancies":  # live, with the ETag a write must match
        return _listing_feature(request, listings.get(request.app.state.store, feature_id))
    # Parks are read from the store, not the snapshot (which may lag a second behind a write): the
    # feature and the ETag an operator's write must match come from the same version.
    gdf = parks.current(request.app.state.store)[0] if collection_id == "parks" else None
    if gdf is None:
        gdf = _features(request, collection_id, None)
    hit = gdf[gdf["id"] == feature_id]
    if hit.empty:
        raise NotFoundError(f"collection {collection_id!r} has no feature {feature_id!r}")
    body = _collection_items(hit)[0]
    headers = {"ETag": parks.etag(parks.record(gdf, feature_id))} if collection_id == "parks" else {}
    body["links"] = [
        {
            "rel": "self",
            "type": GEOJSON,
            "href": f"{_base(request)}/collections/{collection_id}/items/{feature_id}",
        },
        {
            "rel": "collection",
            "type": "application/json",
            "href": f"{_base(request)}/collections/{collection_id}",
        },
    ]
    return _json(body, GEOJSON, headers)


# ---- writes (Part 4, draft): vacancies by their park's operator, parks' descriptive fields ------
#
# Bodies are checked against schemas built from the layer specs (api/write_bodies.py) before they
# reach the library; the routes for vacancies and parks come before the catch-all ones below,
# which refuse writes to every other collection.

if TYPE_CHECKING:  # built from the layer specs when the module loads; to mypy, JSON objects
    VacancyFeature: TypeAlias = dict[str, Any]
    VacancyPatch: TypeAlias = dict[str, Any]
    ParkFeature: TypeAlias = dict[str, Any]
    ParkPatch: TypeAlias = dict[str, Any]
else:
    VacancyFeature = write_bodies.vacancy_feature()
    VacancyPatch = write_bodies.vacancy_patch()
    ParkFeature = write_bodies.park_feature(patch=False)
    ParkPatch = write_bodies.park_feature(patch=True)

IfMatch = Annotated[
    str | None,
    Header(description="the ETag the change was made against, or * (428 without it, 412 if stale)"),
]
VACANCY = "/collections/vacancies/items/{feature_id}"
PARK = "/collections/parks/items/{feature_id}"
CHANGED: dict[int | str, dict[str, Any]] = {200: {"content": {GEOJSON: {}}}}
MERGE_PATCH = "application/merge-patch+json"


def _listing_feature(request: Request, listing: dict[str, Any], status: int = 200) -> Response:
    props = {k: v for k, v in listing.items() if k not in ("id", "lon", "lat", "revision")}
    point = {"type": "Point", "coordinates": [listing["lon"], listing["lat"]]}
    body = {"type": "Feature", "id": listing["id"], "geometry": point, "properties": props}
    href = f"{_base(request)}/collections/vacancies/items/{listing['id']}"
    headers = {"ETag": listings.etag(listing)} | ({"Location": href} if status == 201 else {})
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=GEOJSON, headers=headers
    )


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """A written Feature's properties, lon and lat from its Point, and its id if it sent one
    (refused by the library: ids are the server's). Bare fields (a merge patch) as they are."""
    if body.get("type") != "Feature":
        return dict(body)
    fields = dict(body.get("properties") or {}) | ({"id": body["id"]} if "id" in body else {})
    if "geometry" in body:
        lon, lat = body["geometry"]["coordinates"]
        fields |= {"lon": lon, "lat": lat}
    return fields


def _park_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A park's fields, and its outline if one was sent (the library refuses it: planning data)."""
    if body.get("type") != "Feature":
        return dict(body)
    geometry = {"geometry": body["geometry"]} if body.get("geometry") is not None else {}
    return dict(body.get("properties") or {}) | geometry | ({"id": body["id"]} if "id" in body else {})


def _park_feature(park: dict[str, Any]) -> Response:
    """A park after a write: its fields and ETag (the outline is unchanged and left out)."""
    props = {k: v for k, v in park.items() if k != "id"}
    body = {"type": "Feature", "id": park["id"], "geometry": None, "properties": props}
    return _json(body, GEOJSON, {"ETag": parks.etag(park)})


@router.post("/collections/vacancies/items", status_code=201, response_class=Response,
             responses={201: {"content": {GEOJSON: {}}}})  # fmt: skip
def create_vacancy(request: Request, user: User, feature: Annotated[VacancyFeature, Body()]) -> Response:
    """Publish a vacancy in one of the operator's parks (201, Location, ETag)."""
    created = listings.create(request.app.state.store, user, _fields(feature), building_finder(request))
    request.app.state.catalog.refresh()  # every reader of this worker sees it from the next request
    return _listing_feature(request, created, 201)


@router.put(VACANCY, response_class=Response, responses=CHANGED)
def replace_vacancy(
    request: Request, feature_id: str, user: User, feature: Annotated[VacancyFeature, Body()],
    if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Replace a vacancy, made against its ETag."""
    return _changed_vacancy(request, user, feature_id, _fields(feature), if_match, merge=False)


@router.patch(VACANCY, response_class=Response, responses=CHANGED)
def patch_vacancy(
    request: Request, feature_id: str, user: User,
    patch: Annotated[VacancyPatch, Body(media_type=MERGE_PATCH)], if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Change some fields of a vacancy (JSON merge patch), made against its ETag."""
    return _changed_vacancy(request, user, feature_id, _fields(patch), if_match, merge=True)


def _changed_vacancy(
    request: Request,
    user: Account,
    feature_id: str,
    fields: dict[str, Any],
    if_match: str | None,
    merge: bool,
) -> Response:
    """Write a vacancy's change; every reader of this worker sees it from the next request."""
    changed = listings.update(
        request.app.state.store, user, feature_id, fields, if_match=if_match, merge=merge,
        building_at=building_finder(request),
    )  # fmt: skip
    request.app.state.catalog.refresh()
    return _listing_feature(request, changed)


@router.delete(VACANCY, status_code=204)
def delete_vacancy(request: Request, feature_id: str, user: User, if_match: IfMatch = None) -> Response:
    """Withdraw a vacancy listing for good, made against its ETag."""
    listings.delete(request.app.state.store, user, feature_id, if_match=if_match)
    request.app.state.catalog.refresh()
    return Response(status_code=204)


@router.put(PARK, response_class=Response, responses=CHANGED)
def replace_park(
    request: Request, feature_id: str, user: User, feature: Annotated[ParkFeature, Body()],
    if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Replace a park's descriptive fields (name, address, industries), made against its ETag."""
    store = request.app.state.store
    props = _park_fields(feature)
    return _park_feature(parks.update(store, user, feature_id, props, if_match=if_match, merge=False))


@router.patch(PARK, response_class=Response, responses=CHANGED)
def patch_park(
    request: Request, feature_id: str, user: User,
    patch: Annotated[ParkPatch, Body(media_type=MERGE_PATCH)], if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Change some of a park's descriptive fields (JSON merge patch), made against its ETag."""
    store = request.app.state.store
    props = _park_fields(patch)
    return _park_feature(parks.update(store, user, feature_id, props, if_match=if_match, merge=True))


def _read_only(request: Request, user: Account, action: str, collection_id: str, target: str) -> NoReturn:
    """Every other write is refused (and audited): parks are added and removed by the data
    stewards, other collections are the departments' layers."""
    get_spec(collection_id)
    reason = (
        "parks are added and removed by the data stewards; operators edit theirs"
        if collection_id == "parks"
        else f"collection {collection_id!r} is read-only; vacancies and parks take writes"
    )
    audit.refuse(request.app.state.store, user, action, target, PermissionDeniedError(reason))


@router.post("/collections/{collection_id}/items", status_code=201, response_model=None)
def create_item(request: Request, collection_id: str, user: User) -> NoReturn:
    """Collections other than vacancies take no new features here."""
    _read_only(request, user, "create", collection_id, collection_id)


@router.put("/collections/{collection_id}/items/{feature_id}", response_model=None)
def replace_item(request: Request, collection_id: str, feature_id: str, user: User) -> NoReturn:
    """Collections other than vacancies and parks take no changes here."""
    _read_only(request, user, "replace", collection_id, f"{collection_id}/{feature_id}")


@router.patch("/collections/{collection_id}/items/{feature_id}", response_model=None)
def patch_item(request: Request, collection_id: str, feature_id: str, user: User) -> NoReturn:
    """Collections other than vacancies and parks take no changes here."""
    _read_only(request, user, "patch", collection_id, f"{collection_id}/{feature_id}")


@router.delete("/collections/{collection_id}/items/{feature_id}", status_code=204, response_model=None)
def delete_item(request: Request, collection_id: str, feature_id: str, user: User) -> NoReturn:
    """Collections other than vacancies take no deletions."""
    _read_only(request, user, "delete", collection_id, f"{collection_id}/{feature_id}")
