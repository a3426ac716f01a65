"""The OGC API's pages for people: the landing page, the collections, a collection, its items and
one item, each with a small map. Every value from data is escaped by the template (autoescape),
and the features for the map travel in a JSON block that can never close its ``<script>``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def script_json(value: Any) -> str:
    """JSON to put inside ``<script type="application/json">``: ``< > &`` as JSON escapes, so the
    block reads as the same JSON and no value in it can end the element."""
    text = orjson.dumps(value).decode()
    for char in "<>&":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def page(
    page: str, title: str, base: str, *, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """One of the pages (``landing``, ``collections``, ``collection``, ``items``, ``item``)."""
    geojson = context.pop("geojson", None)
    html = (
        _environment()
        .get_template("ogc.html")
        .render(
            page=page,
            title=title,
            base=base,
            geojson=None if geojson is None else script_json(geojson),
            crumbs=context.pop("crumbs", []),
            **context,
        )
    )
    return HTMLResponse(html, headers=headers)
