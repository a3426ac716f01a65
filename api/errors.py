"""One table from domain errors to HTTP statuses; the library never raises HTTP errors itself."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from siteselect.errors import (
    AmbiguousInputError,
    AuthenticationError,
    InvalidInputError,
    LayerValidationError,
    NotFoundError,
    PermissionDeniedError,
    SiteSelectError,
    StaleWriteError,
    StoreError,
    ThrottledError,
)

STATUS_OF: dict[type[SiteSelectError], int] = {
    LayerValidationError: 422,
    InvalidInputError: 422,
    NotFoundError: 404,
    ThrottledError: 429,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    StaleWriteError: 412,
    StoreError: 503,
}


def status_of(exc: SiteSelectError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SiteSelectError)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, LayerValidationError):
        body["problems"] = [p.__dict__ | {"value": repr(p.value)} for p in exc.problems[:200]]
    if isinstance(exc, AmbiguousInputError):
        body["candidates"] = exc.candidates
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    if isinstance(exc, ThrottledError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(status_code=status_of(exc), content=body, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """As FastAPI answers, but a 405 names every method the path takes, not just one route's."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = set()
        for route in request.app.router.routes:
            match, _ = route.matches({**request.scope, "method": "GET"})
            if match != Match.NONE and isinstance(route, APIRoute):
                allowed |= route.methods or set()
        exc.headers = {"Allow": ", ".join(sorted(allowed))}
    return await http_exception_handler(request, exc)


async def _invalid_request(_request: Request, exc: Exception) -> Response:
    """As FastAPI answers a bad request (422, each error with its place and input), but an input
    with a lone surrogate is echoed as the JSON escape ``\\ud800`` instead of failing as a 500."""
    assert isinstance(exc, RequestValidationError)
    text = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode("utf-8", "backslashreplace"), status_code=422, media_type="application/json")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(SiteSelectError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
