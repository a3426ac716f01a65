"""The busiest route answered without the framework's dispatch in between.

``POST /check`` is most of what a worker answers under load, and FastAPI's dispatch — matching
through the included routers, the dependency solver, its own body reading, its exception and
exit-stack layers — costs a worker more CPU than the check itself does. A request that is plainly
valid goes straight to the route's own endpoint, with its body validated by the route's own model.
Anything else — a query string, another content type, a body the model refuses, an error from the
endpoint — is handed to FastAPI as it came, so that every refusal and error is FastAPI's answer,
written in one place. Only for endpoints that change nothing: a request that fails here is run again
there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.boundary import is_json, read_body, replay


def route_of(router: APIRouter, endpoint: Callable[..., Any]) -> APIRoute:
    """The route of ``router`` that ``endpoint`` answers."""
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


class DirectRoute:
    """ASGI middleware, innermost: ``route`` answered directly when its body is valid JSON that
    ``model`` takes and the endpoint answers; FastAPI answers every other request."""

    def __init__(
        self, app: ASGIApp, route: APIRoute, model: type[BaseModel],
        endpoint: Callable[[Request, Any], Awaitable[Response]],
    ) -> None:  # fmt: skip
        self.app = app
        self.route, self.model, self.endpoint = route, model, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._matched(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        body, ended = await read_body(receive)
        if ended is not None:  # the client left: FastAPI sees it as it would have
            await self.app(scope, replay([ended]), send)
            return
        scope.update(matched)  # the route, as routing names it: the endpoint, metrics and log read it
        try:
            response = await self.endpoint(Request(scope), self.model.model_validate(orjson.loads(body)))
        except Exception:  # refused, or failed: FastAPI answers, the same way it always does
            await self.app(scope, replay([{"type": "http.request", "body": body}]), send)
            return
        await response(scope, receive, send)

    def _matched(self, scope: Scope) -> Scope | None:
        """What the route's own matching adds to the scope, when this request is one to take."""
        if scope["type"] != "http" or scope.get("query_string") or not is_json(scope):
            return None
        match, child_scope = self.route.matches(scope)
        return child_scope if match == Match.FULL else None
