"""Map reports: made by POST, read as HTML by id, the same bytes every time."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import IsoDate, snapshot_of
from api.headers import content_security_policy
from api.routers.matching import Site, Wanted, Weights
from siteselect import industry, report
from siteselect.drawing import Basemap
from siteselect.index import Snapshot

router = APIRouter(tags=["reports"])
CACHED = 64  # reports drawn recently, kept per worker


class ReportBody(BaseModel):
    """One site for a registration file, or two to five to compare."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    industry: Annotated[str, Field(min_length=1, max_length=50, examples=["9013", "奶茶"])]
    sites: Annotated[list[Site], Field(min_length=1, max_length=5)]
    weights: Weights | None = None
    wanted: Wanted = Wanted()
    as_of: IsoDate | None = None

    def request(self) -> report.ReportRequest:
        return report.ReportRequest(
            industry=industry.resolve(self.industry),
            sites=tuple(s.model_dump(exclude_none=True) for s in self.sites),
            weights=self.weights.model_dump() if self.weights else None,
            constraints=self.wanted.constraints(),
            as_of=self.as_of,
        )


class Made(BaseModel):
    id: str
    url: str
    verdicts: list[str]


def _basemap(request: Request) -> Basemap:
    return Basemap.from_settings(request.app.state.settings)


def _cache(request: Request) -> OrderedDict[str, report.Report]:
    state = request.app.state
    if not hasattr(state, "reports"):
        state.reports = OrderedDict()
    cache: OrderedDict[str, report.Report] = state.reports
    return cache


def _remember(request: Request, made: report.Report) -> None:
    cache = _cache(request)
    cache[made.id] = made
    cache.move_to_end(made.id)
    while len(cache) > CACHED:
        cache.popitem(last=False)


@router.post("/reports", status_code=201, response_model=Made)
def post_report(request: Request, response: Response, body: ReportBody) -> Made:
    """Check, score and draw the sites; the report is then read at ``/reports/{id}``."""
    wanted = body.request()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = report.build(snapshot_of(request, fresh_listings=True), wanted, _basemap(request), now)
    stored = report.save(request.app.state.store, made, wanted, now)
    if stored.generated_at == now:  # else it was made before, and is drawn with that time
        _remember(request, made)
    response.headers["Location"] = f"/reports/{made.id}"
    return Made(id=made.id, url=f"/reports/{made.id}", verdicts=list(made.verdicts))


@router.get("/reports/{rid}", response_class=HTMLResponse, responses={404: {"description": "no such report"}})
def get_report(request: Request, rid: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    """The report as one self-contained HTML page, ready to print."""
    made = _cache(request).get(rid)
    if made is None:  # drawn again from the stored request (another worker made it, or long ago)
        stored = report.load(request.app.state.store, rid)
        made = report.build(
            _stored_snapshot(request, stored.versions),
            stored.on_the_day(),
            _basemap(request),
            stored.generated_at,
        )
        _remember(request, made)
    policy = content_security_policy(request.app.state.settings, made.script_hashes)
    return HTMLResponse(made.html, headers={"Content-Security-Policy": policy})


def _stored_snapshot(request: Request, versions: dict[str, int]) -> Snapshot:
    current = snapshot_of(request, fresh_listings=True)
    return current if current.versions == versions else snapshot_of(request, versions)
