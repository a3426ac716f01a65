"""Industry picker, geocoding and premises checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import Coordsys, IsoDate, json_response, snapshot_of
from siteselect import industry, legal_summary
from siteselect.check import checker_for
from siteselect.errors import InvalidInputError
from siteselect.locating import gazetteer_for
from siteselect.premises import Premises

router = APIRouter(tags=["checks"])


class CheckRequest(BaseModel):
    """One premises: an address, coordinates or a vacancy id, the industry, optionally floor and date."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    industry: Annotated[str, Field(min_length=1, max_length=50, examples=["9013", "奶茶"])]
    address: Annotated[str | None, Field(max_length=200, examples=["崂山区苗岭路28号"])] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    coordsys: Coordsys = "wgs84"
    floor: int | None = None
    as_of: IsoDate | None = None
    ref: Annotated[str | None, Field(max_length=100)] = None
    vacancy_id: Annotated[str | None, Field(max_length=200)] = None

    def premises(self) -> Premises:
        return Premises.parse(**self.model_dump())


class BatchRequest(BaseModel):
    """Many premises, checked against the same layer versions."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    items: Annotated[list[CheckRequest], Field(min_length=1)]
    versions: dict[str, int] | None = None


# The checks first: a request is matched against the routes in the order they are declared.
@router.post("/check", response_class=Response, responses={200: {"content": {"application/json": {}}}})
async def check(
    request: Request, body: CheckRequest, versions: Annotated[str | None, Query()] = None
) -> Response:
    """Check one premises: verdict, every reason with its legal basis, and the address-proof position.
    (A plainly valid request without ``versions`` reaches here past FastAPI: api/direct_route.py.)

    ``versions`` (``rules:1,zones:2``) checks against earlier layer versions. A check is a tenth
    of a millisecond of CPU: it runs on the event loop, where a thread hand-off would cost more.
    """
    snapshot = snapshot_of(request, _parse_versions(versions))
    return json_response(checker_for(snapshot).check(body.premises()))


@router.post("/check/batch", response_class=Response, responses={200: {"content": {"application/json": {}}}})
def check_batch(request: Request, body: BatchRequest) -> Response:
    """Check many premises; each result is a verdict or, for a place that cannot be checked, an error."""
    limit = request.app.state.settings.max_batch
    if len(body.items) > limit:
        raise InvalidInputError(f"items: {len(body.items)} candidates, more than the limit of {limit}")
    premises = []
    for n, item in enumerate(body.items):
        try:
            premises.append(item.premises())
        except InvalidInputError as exc:  # the same error (with any candidates), saying which item
            exc.args = (f"items[{n}]: {exc}",)
            raise
    results = checker_for(snapshot_of(request, body.versions)).check_many(premises)
    return json_response({"results": results, "count": len(results)})


@router.get("/industries")
def industries(
    q: Annotated[str, Query(min_length=1, max_length=50, description="code or everyday words: 奶茶, 网吧")],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[dict[str, str]]:
    """GB/T 4754-2017 classes matching a code or everyday words, best first (none: an empty list)."""
    return industry.search(q, limit)


@router.get("/industries/resolve")
def resolve_industry(
    q: Annotated[str, Query(min_length=1, max_length=50, description="code or everyday words: 奶茶, 6232")],
) -> dict[str, str]:
    """The one class a code or words name; words that fit several answer 422 with ``candidates``."""
    return industry.describe(industry.resolve(q))


@router.get("/industries/{code}/rules")
def industry_rules(
    request: Request,
    code: Annotated[str, Path(min_length=1, max_length=8, examples=["9013"])],
    as_of: Annotated[IsoDate | None, Query(description="the date the rules are in force (today)")] = None,
) -> dict[str, Any]:
    """Every rule and prohibited-list condition that can apply to a class, each with the article
    text it rests on."""
    return legal_summary.industry_rules(checker_for(snapshot_of(request)), code, as_of)


@router.get("/industries/{code}/rules.html", response_class=HTMLResponse)
def industry_rules_page(
    request: Request,
    code: Annotated[str, Path(min_length=1, max_length=8)],
    as_of: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """The same, as a page to read (Chinese first, English switch)."""
    summary = legal_summary.industry_rules(checker_for(snapshot_of(request)), code, as_of)
    return HTMLResponse(legal_summary.industry_rules_page(summary))


@router.get("/geocode")
def geocode(request: Request, q: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
    """Resolve address text to a place, with its match level and confidence."""
    match = gazetteer_for(snapshot_of(request, None)).resolve(q)
    return dict(match.as_dict())


@router.get("/addresses/suggest")
def suggest_addresses(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=200, description="address text, whole or begun")],
    limit: Annotated[int, Query(ge=1, le=50)] = 8,
) -> list[dict[str, Any]]:
    """Known house numbers near what was written: the same road's nearest numbers, then roads
    with similar names (an empty list when nothing is near)."""
    return gazetteer_for(snapshot_of(request, None)).suggest(q, limit)


def _parse_versions(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    versions = {}
    for part in text.split(","):
        name, _, number = part.partition(":")
        if not number.strip().isdigit():
            raise InvalidInputError(f"versions {text!r}: write layer:number pairs, e.g. rules:1,zones:2")
        versions[name.strip()] = int(number)
    return versions
