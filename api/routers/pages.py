"""People's pages beside the map: signing in and the admin's page. Each is a static page whose
script asks the service for the session and the data; nothing is written into the HTML."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.routers.webmap import STATIC

router = APIRouter(include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    # no-store: a signed-out browser's back button must not show an admin's tables
    return HTMLResponse((STATIC / name).read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})


@router.get("/signin", response_class=HTMLResponse)
def signin() -> HTMLResponse:
    """Sign in; then on to ``?next=`` (a path of this service)."""
    return _page("signin.html")


@router.get("/admin", response_class=HTMLResponse)
def admin() -> HTMLResponse:
    """Users, tokens and the audit trail, for admins."""
    return _page("admin.html")
