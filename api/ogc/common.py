"""What the OGC routes share: media types, links to themselves, the JSON writer, and the choice
between a page for people and JSON for programs."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def json_body(body: Any, media_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type=media_type, headers=headers)


def wants_html(request: Request, f: str | None) -> bool:
    """``f=html`` or ``f=json`` decides; without it, a browser (which asks for ``text/html``) gets
    the page and every other client JSON."""
    if f is not None:
        return f == "html"
    return HTML in request.headers.get("accept", "")
