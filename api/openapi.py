"""The OpenAPI document says every status the service answers with, and the shape of its errors.

Errors from the library are ``{"detail": "…"}`` (a load's ``problems`` besides); FastAPI's own
request validation gives ``{"detail": [ … ]}``. Both are one schema here, on every operation that
can answer with them, so clients (and schemathesis) can rely on the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
            ]
        },
        "problems": {"type": "array", "items": {"type": "object"}},
    },
}
ALWAYS = {
    400: "the body could not be read",
    404: "no such resource",
    422: "a value is not valid",
    503: "the database is not answering, or the service is busy: try again after Retry-After seconds",
}
SECURED = {401: "no valid bearer token", 403: "not allowed for this user"}
CONDITIONAL = {
    412: "changed since the ETag given in If-Match",
    428: "If-Match is required: the ETag the change was made against, or *",
}


def install(app: FastAPI, *extensions: Callable[[dict[str, Any]], None]) -> None:
    """Replace the app's OpenAPI document with one that documents its errors; ``extensions`` add
    what routes cannot declare themselves (the OGC collections' own items paths)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            for extend in extensions:
                extend(spec)
            _document_errors(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _document_errors(spec: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas.setdefault("ValidationError", _validation_error())
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            statuses = dict(ALWAYS)
            if "requestBody" in operation:
                statuses[413] = "the body is larger than the service takes"
            if operation.get("security"):
                statuses |= SECURED
                if method in ("put", "patch", "delete"):
                    statuses |= CONDITIONAL
                    _require_if_match(operation)
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                responses[str(status)] = {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                }


def _require_if_match(operation: dict[str, Any]) -> None:
    """A change must name what it was made against: the service answers 428 without If-Match
    (rather than FastAPI's 422 for a missing parameter), and the document says it is required."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "title": "If-Match"}


def _validation_error() -> dict[str, Any]:
    return {
        "title": "ValidationError",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    }
