"""The operator's workbench: address completion, the building under a click, a park's premises as
a spreadsheet, and what each premises is good for."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from api.auth import User
from api.dependencies import building_finder, json_response
from siteselect import outlook, premises_sheet
from siteselect.address import MAX_LENGTH
from siteselect.errors import InvalidInputError
from siteselect.suggestions import MAX_SUGGESTIONS, suggestions_for

router = APIRouter(tags=["operators"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ParkId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/addresses/complete")
def complete(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_LENGTH, description="part of an address")],
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 8,
) -> list[dict[str, Any]]:
    """Addresses of the gazetteer (house numbers, named buildings) that hold what was typed, as one
    types (``/addresses/suggest`` offers near matches for an address that did not resolve)."""
    return suggestions_for(request.app.state.catalog.current()).find(q, limit)


@router.get("/buildings/at")
def building_at(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> dict[str, Any]:
    """The building under a WGS-84 point — its id, name, address, use and floors — or null on
    open land."""
    return {"building": building_finder(request)(lon, lat)}


@router.get(
    "/parks/{park_id}/premises.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}}
)
def download(request: Request, park_id: ParkId, user: User) -> Response:
    """The park's premises as a workbook with Chinese headers, to keep and upload back."""
    content = premises_sheet.write_sheet(request.app.state.store, user, park_id)
    name = quote(f"{park_id}-房源.xlsx", safe="")
    return Response(
        content, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    )


@router.post("/parks/{park_id}/premises.xlsx")
def upload(
    request: Request,
    park_id: ParkId,
    user: User,
    body: Annotated[bytes, Body(media_type="application/octet-stream", description="the park's .xlsx")],
    filename: Annotated[
        str, Query(min_length=1, max_length=200, pattern=r"(?i)^[^/\\\x00]+\.xlsx?$")
    ] = "premises.xlsx",
) -> dict[str, Any]:
    """Load the park's sheet: every row checked (a bad one names sheet, row, header and value, and
    nothing is loaded), then the premises created and changed in one transaction."""
    if not body:
        raise InvalidInputError("the request body is empty: send the workbook")
    building = building_finder(request)
    with tempfile.TemporaryDirectory(prefix="siteselect-park-") as folder:
        path = FilePath(folder) / FilePath(filename).name
        path.write_bytes(body)
        done = premises_sheet.read_sheet(
            request.app.state.store, user, park_id, path, building, request.app.state.settings
        )
    request.app.state.catalog.refresh()
    return done


@router.get("/premises/{vacancy_id}/outlook")
def premises_outlook(
    request: Request, vacancy_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> Response:
    """What a listed premises is good for: verdicts for its park's target industries and common ones
    with the reasons, its rank among the available premises, and what would lift it."""
    settings = request.app.state.settings
    snapshot = request.app.state.catalog.current(fresh_listings=True)
    found = outlook.outlook(snapshot, vacancy_id, stale_after_days=settings.stale_after_days)
    return json_response(found)
