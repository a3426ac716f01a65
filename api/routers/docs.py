"""The API documentation pages, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from the service
itself (fastapi-offline's copies of their scripts) and with no inline script, so that they run
under the same Content-Security-Policy as every other page."""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
ASSETS = "/static-offline-docs"  # where fastapi-offline mounts them
BUNDLED = Path(fastapi_offline.__file__).parent / "static"
CACHE = "public, max-age=3600"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"  # ReDoc's own credit, from its CDN

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>siteselect API — {title}</title>
<link rel="icon" href="{assets}/favicon.png">
{head}
</head>
<body>
{body}
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(
            title="Swagger UI",
            assets=ASSETS,
            head=f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">',
            body=f'<div id="swagger-ui"></div>\n<script src="{ASSETS}/swagger-ui-bundle.js"></script>\n'
            '<script src="/static/swagger-init.js"></script>',
        )
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(
            title="ReDoc",
            assets=ASSETS,
            head="<style>body { margin: 0; }</style>",
            body='<redoc spec-url="/openapi.json"></redoc>\n<script src="/static/redoc.js"></script>',
        )
    )


@router.get("/static/redoc.js")
def redoc_js() -> Response:
    return Response(_redoc_js(), media_type="text/javascript", headers={"Cache-Control": CACHE})


@functools.cache
def _redoc_js() -> str:
    """ReDoc's script, its logo taken from the service rather than from ReDoc's CDN."""
    script = (BUNDLED / "redoc.standalone.js").read_text(encoding="utf-8")
    return script.replace(REDOC_LOGO, f"{ASSETS}/favicon.png")
