"""HTTP methods every path takes as RFC 9110 says: HEAD wherever GET is (the same headers, no
body), OPTIONS answered with ``Allow``, and a 405 whose ``Allow`` names what the path does take."""

from __future__ import annotations

from starlette.routing import Match, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(router: Router, scope: Scope) -> list[str]:
    """What the request's path takes, HEAD and OPTIONS included (empty: no such path)."""
    # Inside a mounted app (the static files) the root path has grown: match from the top again.
    top = {**scope, "root_path": scope.get("app_root_path", scope.get("root_path", ""))}
    allowed = {method for method in METHODS if _takes(router, {**top, "method": method})}
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed | {"OPTIONS"}) if allowed else []


def _takes(router: Router, scope: Scope) -> bool:
    """Whether a route of the router matches the path and the method (files: GET only)."""
    for route in router.routes:
        if route.matches(scope)[0] == Match.FULL:
            return scope["method"] == "GET" or not isinstance(getattr(route, "app", None), StaticFiles)
    return False


class HeadAndOptions:
    """ASGI middleware: HEAD runs the GET and drops its body; OPTIONS answers 204 with ``Allow``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
        elif method == "OPTIONS":
            await self._options(scope, receive, send)
        else:

            async def headers_only(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            await self.app({**scope, "method": "GET"}, receive, headers_only)

    async def _options(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = allowed_methods(scope["app"].router, scope)
        if not allowed:  # no such path: the app says so, as for any method
            await self.app(scope, receive, send)
            return
        headers = [(b"allow", ", ".join(allowed).encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
