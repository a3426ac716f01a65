"""People's pages beside the map: signing in, the admin's page and the operator's. Each is a static
page whose script asks the service for the session and the data; the operator's page gets
constants (labels, the freshness window) in a JSON block, escaped, and the admin's the departments."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.routers.webmap import STATIC
from siteselect import labels, law

router = APIRouter(include_in_schema=False)


def static_page(name: str, config: dict[str, object] | None = None) -> HTMLResponse:
    page = (STATIC / name).read_text(encoding="utf-8")
    if config is not None:
        # < > & as JSON escapes: the block's text reads as the same JSON and can never close </script>
        text = orjson.dumps(config).decode()
        for char in "<>&":
            text = text.replace(char, f"\\u{ord(char):04x}")
        page = page.replace("{{ config }}", text)
    # no-store: a signed-out browser's back button must not show an admin's tables
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/signin", response_class=HTMLResponse)
def signin() -> HTMLResponse:
    """Sign in; then on to ``?next=`` (a path of this service)."""
    return static_page("signin.html")


@router.get("/admin", response_class=HTMLResponse)
def admin() -> HTMLResponse:
    """Users, tokens and the audit trail, for admins; stewards are given a department of these."""
    return static_page("admin.html", {"departments": law.departments()})


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request) -> HTMLResponse:
    """A park operator's premises on a map and in a table, edited in place."""
    settings = request.app.state.settings
    minx, miny, maxx, maxy = settings.extent
    return static_page("operator.html", {
        "bounds": [[miny, minx], [maxy, maxx]],
        "stale_after_days": settings.stale_after_days,
        "statuses": labels.group("statuses"),
        "uses": {k: v for k, v in labels.group("uses").items() if k != "unknown"},
        "verdicts": labels.group("verdicts"),
    })  # fmt: skip


@router.get("/clerk", response_class=HTMLResponse)
def clerk(request: Request) -> HTMLResponse:
    """The registration clerk's queue of pre-filings, and a check of the premises."""
    minx, miny, maxx, maxy = request.app.state.settings.extent
    return static_page(
        "clerk.html", {"bounds": [[miny, minx], [maxy, maxx]], "verdicts": labels.group("verdicts")}
    )
