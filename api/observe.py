"""What operators watch: a request id on every answer, one JSON log line a request, and Prometheus
metrics.

The request id is the proxy's (``X-Request-ID``, nginx's ``$request_id``) when it is a plain token,
else made here; it goes back in the ``X-Request-ID`` header and into the log line. The line names
the method, the path (never the query string nor any header: tokens and passwords stay out), the
route template, the status, the time taken and the client's address (uvicorn takes it from the
proxy's X-Forwarded-For). Under several workers the metrics are gathered across them through
prometheus-client's multi-process folder (``PROMETHEUS_MULTIPROC_DIR``, set by ``siteselect serve``).
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A client may send any token as its method: each one a series of its own would grow the metrics
# (and the worker's memory) without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = logging.getLogger("siteselect.access")

REQUESTS = Counter("siteselect_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "siteselect_request_duration_seconds", "time to answer a request", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
SNAPSHOT_AGE = Gauge(
    "siteselect_snapshot_age_seconds", "since the current snapshot of the layers was made",
    multiprocess_mode="livemostrecent",
)  # fmt: skip
SNAPSHOT_BUILD = Gauge(
    "siteselect_snapshot_build_seconds", "how long making the current snapshot took",
    multiprocess_mode="livemostrecent",
)  # fmt: skip
STORE_ERRORS = Counter("siteselect_store_errors", "requests the store could not serve")


class Observe:
    """ASGI middleware, outermost: request id, metrics and the log line of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        started = time.perf_counter()
        status = 500  # unless an answer starts: an error escaped every handler

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            took = time.perf_counter() - started
            route, method = _route(scope), scope["method"]
            series = method if method in METHODS else "other"
            count, latency = _series(series, route, status)
            count.inc()
            latency.observe(took)
            client = scope.get("client")
            log.info(
                "request",
                extra={
                    "request_id": rid, "method": method, "path": scope["path"], "route": route,
                    "status": status, "ms": round(took * 1000, 1), "client": client[0] if client else None,
                },
            )  # fmt: skip


@functools.cache  # methods x routes x statuses: a few hundred at most
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The count's and the latency's series of one kind of answer, looked up once: the client's
    ``labels`` checks the names and takes a lock every time."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


def _request_id(scope: Scope) -> str:
    given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
    # A uuid4's 122 random bits or more, at a third of its CPU.
    return given if REQUEST_ID.fullmatch(given) else secrets.token_hex(16)


def _route(scope: Scope) -> str:
    """The route's template (``/reports/{rid}``), so that metrics have one series per route."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    if isinstance(scope.get("endpoint"), StaticFiles):
        return "/static/{path}"
    return "unmatched"
