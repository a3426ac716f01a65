"""OGC API – Features, Part 4 (draft): the writes the service takes.

Vacancies by their park's operator (create, replace, update by JSON merge patch, delete) and the
descriptive fields of parks (replace, update); every other collection refuses writes, audited.
Every change names the ``ETag`` it was made against in ``If-Match`` (optimistic locking): without
it 428, a stale one 412, ``*`` for whatever is stored now. Bodies are checked against schemas
built from the layer specs (api/write_bodies.py) before they reach the library; the routes for
vacancies and parks come before the catch-all ones below.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeAlias

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import Response

from api import write_bodies
from api.auth import User
from api.dependencies import building_finder
from api.ogc.common import GEOJSON, base_url, json_body
from siteselect import audit, listings, parks
from siteselect.errors import PermissionDeniedError
from siteselect.specs import get_spec
from siteselect.users import User as Account

router = APIRouter(tags=["OGC API Features"])
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
ETAG = {"ETag": {"description": "the revision now stored: send it in If-Match with the next change",
                 "schema": {"type": "string"}}}  # fmt: skip
CHANGED: dict[int | str, dict[str, Any]] = {200: {"content": {GEOJSON: {}}, "headers": ETAG}}
CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "content": {GEOJSON: {}},
        "headers": ETAG | {"Location": {"description": "the new feature", "schema": {"type": "string"}}},
    }
}
MERGE_PATCH = "application/merge-patch+json"


def listing_feature(request: Request, listing: dict[str, Any], status: int = 200) -> Response:
    props = {k: v for k, v in listing.items() if k not in ("id", "lon", "lat", "revision")}
    point = {"type": "Point", "coordinates": [listing["lon"], listing["lat"]]}
    body = {"type": "Feature", "id": listing["id"], "geometry": point, "properties": props}
    href = f"{base_url(request)}/collections/vacancies/items/{listing['id']}"
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
    return json_body(body, GEOJSON, {"ETag": parks.etag(park)})


@router.post("/collections/vacancies/items", status_code=201, response_class=Response, responses=CREATED)
def create_vacancy(request: Request, user: User, feature: Annotated[VacancyFeature, Body()]) -> Response:
    """Publish a vacancy in one of the operator's parks (201, Location, ETag)."""
    created = listings.create(request.app.state.store, user, _fields(feature), building_finder(request))
    request.app.state.catalog.refresh()  # every reader of this worker sees it from the next request
    return listing_feature(request, created, 201)


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
    return listing_feature(request, changed)


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
