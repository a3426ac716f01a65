"""Map reports: made by POST and stored, read as HTML by id (the same bytes every time), and found
again in the register by clerks and admins."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import MaybeUser, User
from api.dependencies import IsoDate, snapshot_of
from api.headers import content_security_policy
from api.routers.matching import Site, Wanted, Weights
from api.routers.pages import static_page
from siteselect import accounts, industry, labels, report, report_register
from siteselect.drawing import VERDICT_COLOURS, Basemap
from siteselect.index import Snapshot

router = APIRouter(tags=["reports"])
CACHED = 64  # report pages read recently, kept per worker
FilingText = Annotated[str, Field(max_length=report.FILING_MAX)]


class FilingBody(BaseModel):
    """What ties the report to an application; a signed-in clerk who names no clerk is the clerk."""

    model_config = ConfigDict(extra="forbid", strict=True)

    application_no: Annotated[FilingText | None, Field(examples=["370212-2026-001234"])] = None
    applicant: Annotated[FilingText | None, Field(examples=["青岛某某网络科技有限公司"])] = None
    clerk: FilingText | None = None


class ReportBody(BaseModel):
    """One site for a registration file, or two to five to compare."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON as written: no 0 for a date

    industry: Annotated[str, Field(min_length=1, max_length=50, examples=["9013", "奶茶"])]
    sites: Annotated[list[Site], Field(min_length=1, max_length=5)]
    weights: Weights | None = None
    wanted: Wanted = Wanted()
    as_of: IsoDate | None = None
    filing: FilingBody = FilingBody()

    def request(self, user: accounts.User | None) -> report.ReportRequest:
        filing = report.Filing(**self.filing.model_dump())
        return report.ReportRequest(
            industry=industry.resolve(self.industry),
            sites=tuple(s.model_dump(exclude_none=True) for s in self.sites),
            weights=self.weights.model_dump() if self.weights else None,
            constraints=self.wanted.constraints(),
            as_of=self.as_of,
            filing=filing.signed_by(user.name) if user and user.role == "clerk" else filing,
        )


class Made(BaseModel):
    id: str
    url: str
    verdicts: list[str]
    filing: dict[str, str]  # as stored and printed: with the signed-in clerk's name by default


def _basemap(request: Request) -> Basemap:
    return Basemap.from_settings(request.app.state.settings)


Page = tuple[str, tuple[str, ...]]  # a report's page and the hashes of its inline scripts


def _cache(request: Request) -> OrderedDict[str, Page]:
    state = request.app.state
    if not hasattr(state, "reports"):
        state.reports = OrderedDict()
    cache: OrderedDict[str, Page] = state.reports
    return cache


@router.post("/reports", status_code=201, response_model=Made)
def post_report(request: Request, response: Response, body: ReportBody, user: MaybeUser) -> Made:
    """Check, score and draw the sites, and store the report with its filing; it is then read at
    ``/reports/{id}`` and listed in the register."""
    wanted = body.request(user)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = report.build(snapshot_of(request, fresh_listings=True), wanted, _basemap(request), now)
    report.save(request.app.state.store, made, wanted, now)
    response.headers["Location"] = f"/reports/{made.id}"
    return Made(
        id=made.id, url=f"/reports/{made.id}", verdicts=list(made.verdicts), filing=wanted.filing.as_dict()
    )


@router.get("/reports", summary="The register of stored reports (clerks and admins)")
def list_reports(
    request: Request,
    user: User,
    application_no: Annotated[str | None, Query(max_length=report_register.TEXT_MAX)] = None,
    address: Annotated[str | None, Query(max_length=report_register.TEXT_MAX)] = None,
    trade: Annotated[
        str | None, Query(alias="industry", max_length=50, description="a code, a prefix or words")
    ] = None,
    since: Annotated[IsoDate | None, Query(alias="from", description="a day in China, YYYY-MM-DD")] = None,
    until: Annotated[IsoDate | None, Query(alias="to", description="a day in China, included")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> dict[str, object]:
    """Stored reports, newest first, 20 a page: by part of the application number or an address,
    by industry, and by the days they were made."""
    store = request.app.state.store
    accounts.require_role(store, user, report_register.READERS, "list-reports", "reports")
    wanted = report_register.Search(application_no, address, trade, since, until, page)
    return report_register.search(store, wanted)


@router.get("/reports/register", response_class=HTMLResponse, include_in_schema=False)
def register_page() -> HTMLResponse:
    """The register as a page: search, then open a report (the page asks for a sign-in)."""
    verdicts = labels.group("verdicts")
    return static_page(
        "register.html", {"roles": report_register.READERS, "verdicts": verdicts, "colours": VERDICT_COLOURS}
    )


@router.get("/reports/{rid}", response_class=HTMLResponse, responses={404: {"description": "no such report"}})
def get_report(request: Request, rid: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    """The report as one self-contained HTML page, ready to print: the page as it was made."""
    cache = _cache(request)
    if rid not in cache:
        store, basemap = request.app.state.store, _basemap(request)
        page = report.page_of(store, rid, lambda versions: _stored_snapshot(request, versions), basemap)
        cache[rid] = (page, report.script_hashes(page))
        while len(cache) > CACHED:
            cache.popitem(last=False)
    cache.move_to_end(rid)
    page, scripts = cache[rid]
    policy = content_security_policy(request.app.state.settings, scripts)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def _stored_snapshot(request: Request, versions: dict[str, int]) -> Snapshot:
    current = snapshot_of(request, fresh_listings=True)
    return current if current.versions == versions else snapshot_of(request, versions)
