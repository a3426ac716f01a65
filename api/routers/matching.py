"""Matching, comparison and the suitability surface, for entrepreneurs."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import BBOX, MAX_BBOX_DEG, Coordsys, IsoDate, json_response, parse_bbox, snapshot_of
from api.expensive import expensive
from siteselect import industry
from siteselect.errors import InvalidInputError
from siteselect.index import Snapshot
from siteselect.match import Constraints, compare, match, surface
from siteselect.premises import today

router = APIRouter(tags=["matching"])
Use = Annotated[str, Field(pattern="^(residential|commercial|office|industrial|mixed|public|other)$")]


class Wanted(BaseModel):
    """Constraints on the premises."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    area_min: Annotated[float | None, Field(ge=0)] = None
    area_max: Annotated[float | None, Field(ge=0)] = None
    max_rent: Annotated[float | None, Field(gt=0, description="元/m²/month")] = None
    streets: Annotated[list[str], Field(max_length=5)] = []
    floor_min: int | None = None
    floor_max: int | None = None
    prefiled_only: bool = False
    uses: list[Use] = []
    parks: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=20)] = []
    include_addresses: bool = False

    def constraints(self) -> Constraints:
        data = self.model_dump()
        lists = {name: tuple(data[name]) for name in ("streets", "uses", "parks")}
        return Constraints(**data | lists)


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    amenities: Annotated[float, Field(ge=0)] = 0.0
    clustering: Annotated[float, Field(ge=0)] = 0.0
    access: Annotated[float, Field(ge=0)] = 0.0
    cost: Annotated[float, Field(ge=0)] = 0.0
    size: Annotated[float, Field(ge=0)] = 0.0
    floor: Annotated[float, Field(ge=0)] = 0.0


class MatchRequest(BaseModel):
    """What the entrepreneur wants to open, where, and what matters most."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    industry: Annotated[str, Field(min_length=1, max_length=50, examples=["奶茶", "6232"])]
    wanted: Wanted = Wanted()
    weights: Weights | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 10
    as_of: IsoDate | None = None
    include_excluded: bool = Field(
        False, description="check every candidate and list each one set aside, with its reason"
    )


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    vacancy_id: str | None = None
    address: Annotated[str | None, Field(max_length=200)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    coordsys: Coordsys | None = None  # of lon and lat; WGS-84 when not given
    label: Annotated[str | None, Field(max_length=50)] = None
    floor: int | None = None
    area_m2: Annotated[float | None, Field(ge=0)] = None
    rent: Annotated[float | None, Field(ge=0)] = None


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    industry: Annotated[str, Field(min_length=1, max_length=50)]
    sites: Annotated[list[Site], Field(min_length=2, max_length=5)]
    weights: Weights | None = None
    wanted: Wanted = Wanted()
    as_of: IsoDate | None = None


@router.post("/match", response_class=Response, responses={200: {"content": {"application/json": {}}}})
def post_match(request: Request, body: MatchRequest) -> Response:
    """Ranked premises for a business: scores by criterion with explanations, prohibited ones apart."""
    weights = body.weights.model_dump() if body.weights else None
    stale_days = request.app.state.settings.stale_after_days
    snapshot = snapshot_of(request, fresh_listings=True)
    result = match(
        snapshot, industry.resolve(body.industry), body.wanted.constraints(), weights, body.limit, body.as_of,
        stale_days, body.include_excluded,
    )  # fmt: skip
    return json_response(result)


@router.post("/compare", response_class=Response, responses={200: {"content": {"application/json": {}}}})
def post_compare(request: Request, body: CompareRequest) -> Response:
    """Two to five sites side by side."""
    weights = body.weights.model_dump() if body.weights else None
    sites = [s.model_dump() for s in body.sites]
    result = compare(
        snapshot_of(request, fresh_listings=True),
        industry.resolve(body.industry),
        sites,
        weights,
        body.wanted.constraints(),
        body.as_of,
        request.app.state.settings.stale_after_days,
    )
    return json_response(result)


FINE_RES = 10  # and finer: a district's worth is tens of thousands of cells and seconds of CPU
FINE_MAX_DEG = {10: 0.05, 11: 0.02}  # a side of a street-scale view: either is about a second of CPU


@router.get("/surface", response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
async def get_surface(
    request: Request,
    wanted: Annotated[str, Query(alias="industry", min_length=1, max_length=50, description="code or words")],
    res: Annotated[int, Query(ge=6, le=11)] = 9,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat: only the cells of this view; needed from res"
            f" {FINE_RES}, at most {FINE_MAX_DEG[10]}° a side at res 10, {FINE_MAX_DEG[11]}° at 11",
            pattern=BBOX,
        ),
    ] = None,
) -> Response:
    """GeoJSON H3 cells over the district (or a view of it): share where the industry may go, and
    the mean score. Each is drawn once per layer versions; fine resolutions only for a street view."""
    code = industry.resolve(wanted)
    box = parse_bbox(bbox, FINE_MAX_DEG.get(res, MAX_BBOX_DEG), "zoom in for fine cells")
    if res >= FINE_RES and box is None:
        raise InvalidInputError(
            f"res {res}: fine cells are drawn for a view; give its bbox (at most {FINE_MAX_DEG[res]}° a side)"
        )
    snapshot = snapshot_of(request)
    key = ("surface", tuple(snapshot.versions.items()), today(), code, res, box)  # rules start on dates
    body = await expensive(request).drawn_once(key, snapshot, surface_geojson, code, res, box)
    return Response(body, media_type="application/geo+json")


def surface_geojson(
    snapshot: Snapshot, code: str, res: int, box: tuple[float, float, float, float] | None
) -> bytes:
    """The surface as GeoJSON bytes (drawn apart from the worker: a function of module level)."""
    cells = surface(snapshot, code, res, bbox=box)
    body: dict[str, Any] = json.loads(cells.to_json(drop_id=True))
    return json.dumps(body, ensure_ascii=False).encode()
