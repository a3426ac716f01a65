"""The busiest route answered without the layers in between.

``POST /check`` is most of what a worker answers under load, and FastAPI's dispatch — matching
through the included routers, the dependency solver, its own body reading, its exception and
exit-stack layers — costs a worker more CPU than the check itself does; so, served, does each layer
of middleware a request passes. A request that is plainly valid goes straight to the route's own
endpoint, with its body validated by the route's own model, inside only the middleware that every
answer needs (the request id and metrics, the security headers).

It passes the layers it skips only when they would let it through: a POST (what HEAD and OPTIONS
answer is not asked), a body of a declared length within the limit (what ``LimitBodySize`` refuses
is not read), and a body the door takes (``check_json``, the door's own test). Anything else — a
query string, another content type, a body the door or the model refuses, an error from the
endpoint — is handed on as it came, through every layer to FastAPI, so that every refusal and error
is answered where it always is, written in one place. Only for endpoints that change nothing: a
request that fails here is run again there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.boundary import RefusedError, check_json, read_body, replay


def route_of(router: APIRouter, endpoint: Callable[..., Any]) -> APIRoute:
    """The route of ``router`` that ``endpoint`` answers (the router included at its own paths:
    the tests compare the service's answers with and without the direct route)."""
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


class DirectRoute:
    """ASGI middleware: a POST to ``route`` answered by its endpoint, ``(request, body)``, when its body,
    declared ``application/json`` and at most ``max_body`` bytes long, is JSON the door takes and
    ``model`` takes, and the endpoint answers; every other request goes on to ``app``, which runs
    a refused check again to answer it (twice the CPU for a refusal, none for an answer)."""

    def __init__(self, app: ASGIApp, route: APIRoute, model: type[BaseModel], max_body: int) -> None:
        self.app = app
        self.route, self.model, self.max_body = route, model, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route_scope = self._route_scope(scope)
        if route_scope is None:
            await self.app(scope, receive, send)
            return
        body, ended = await read_body(receive)
        if ended is not None:  # the client left: the layers see it as they would have
            await self.app(scope, replay([ended]), send)
            return
        try:
            check_json(body)
        except RefusedError:  # the door refuses it, before any route is matched
            await self._handed_on(scope, body, send)
            return
        scope.update(route_scope)  # the route, as routing names it: the endpoint, metrics and log read it
        try:
            response = await self.route.endpoint(
                Request(scope), self.model.model_validate(orjson.loads(body))
            )
        except Exception:  # refused by the model, or failed: answered where it always is
            await self._handed_on(scope, body, send)
            return
        await response(scope, receive, send)

    async def _handed_on(self, scope: Scope, body: bytes, send: Send) -> None:
        await self.app(scope, replay([{"type": "http.request", "body": body}]), send)

    def _route_scope(self, scope: Scope) -> Scope | None:
        """What the route's own matching adds to the scope, when this request is one to take."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            return None
        if not self._plain_body(scope["headers"]):
            return None
        match, child_scope = self.route.matches(scope)
        return child_scope if match == Match.FULL else None

    def _plain_body(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """One JSON body of one declared length within the limit, and nothing the layers skipped
        or FastAPI might read otherwise: no other content type, no second length, no chunks."""
        given: dict[bytes, list[bytes]] = {}
        for name, value in headers:  # names come lower-case
            given.setdefault(name, []).append(value)
        lengths, types = given.get(b"content-length", []), given.get(b"content-type", [])
        return (
            b"transfer-encoding" not in given
            and len(lengths) == 1 and lengths[0].isdigit() and int(lengths[0]) <= self.max_body
            and len(types) == 1 and types[0].split(b";")[0].strip().lower() == b"application/json"
        )  # fmt: skip
