"""One table from domain errors to HTTP statuses; the library never raises HTTP errors itself."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.methods import allowed_methods
from api.observe import STORE_ERRORS
from siteselect.errors import (
    AmbiguousInputError,
    AuthenticationError,
    InvalidFilterError,
    InvalidInputError,
    LayerValidationError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionRequiredError,
    SiteSelectError,
    StaleWriteError,
    StoreError,
    ThrottledError,
)
from siteselect.store import AWAY

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5  # what a 503 tells the client to wait: a restart of PostgreSQL takes about that

SHOWN_INPUT = 200  # characters of a refused text a 422 repeats
STATUS_OF: dict[type[SiteSelectError], int] = {
    LayerValidationError: 422,
    InvalidFilterError: 400,  # as OGC API Features Part 3 asks
    InvalidInputError: 422,
    NotFoundError: 404,
    ThrottledError: 429,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    StaleWriteError: 412,
    PreconditionRequiredError: 428,
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
    if isinstance(exc, StoreError):
        STORE_ERRORS.inc()
    if status_of(exc) == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    if isinstance(exc, ThrottledError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(status_code=status_of(exc), content=body, headers=headers)


async def _store_away(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, unreachable or too slow: 503, counted, try again shortly (never a 500,
    never a hang, never its internals in the answer)."""
    STORE_ERRORS.inc()
    log.warning("%s %s: the store is away: %s", request.method, request.url.path, exc.__class__.__name__)
    return unavailable("the database is not answering; try again shortly")


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=503, content={"detail": detail}, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """As FastAPI answers, but a 405 names every method the path takes, not just one route's."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        exc.headers = {"Allow": ", ".join(allowed_methods(request.app.router, request.scope))}
    return await http_exception_handler(request, exc)


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, but repeating a refused value only when it is short and plain: a body of a
    million coordinates is not sent back (nor walked to be written), and no value can fail to be."""
    assert isinstance(exc, RequestValidationError)
    detail = []
    for error in exc.errors():
        entry = {"loc": list(error["loc"]), "msg": str(error["msg"]), "type": str(error["type"])}
        if _plain(error.get("input")):
            entry["input"] = error["input"]
        detail.append(entry)
    return JSONResponse(status_code=422, content={"detail": detail})


def _plain(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= SHOWN_INPUT
    return isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(SiteSelectError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for away in AWAY:
        app.add_exception_handler(away, _store_away)
    app.add_exception_handler(RequestValidationError, _invalid_request)
