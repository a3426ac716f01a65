"""Security headers on every response: a strict Content-Security-Policy, ``nosniff``, no framing.

Scripts run only from this service's own files, or, inline, when the page names their hashes (a
report is one self-contained page, so its scripts are inline; it names each by its SHA-256). No
``unsafe-inline`` for scripts: a name from data that slipped past escaping still could not run.
Styles may be inline (Leaflet, folium and ReDoc write them); images may come from the base-map
tile server when one is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siteselect.drawing import Basemap
from siteselect.settings import Settings

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Referrer-Policy": "same-origin",
}


def content_security_policy(settings: Settings, scripts: Iterable[str] = ()) -> str:
    """The policy of a page whose inline scripts have the hashes ``scripts`` (``'sha256-…'``)."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *scripts],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", *_tile_sources(settings)],
        "font-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],  # ReDoc searches in a worker it makes from a blob
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def _tile_sources(settings: Settings) -> list[str]:
    """Where the base map's tiles come from (``{s}`` subdomains as a wildcard), if anywhere."""
    tiles = Basemap.from_settings(settings).tiles
    if not tiles:
        return []
    url = urlsplit(tiles.replace("{s}", "*"))
    return [f"{url.scheme}://{url.netloc}"] if url.scheme in ("http", "https") and url.netloc else []


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, and the default policy on those
    that set none of their own (a report sets one naming its scripts)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.policy = content_security_policy(settings)
        # Encoded once, as they go on every answer.
        self._fixed = [(name.lower().encode(), value.encode()) for name, value in FIXED.items()]
        self._fixed_names = frozenset(name for name, _ in self._fixed)
        self._policy = (b"content-security-policy", self.policy.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._added(message.get("headers", []))
            await send(message)

        await self.app(scope, receive, with_headers)

    def _added(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The answer's headers with the fixed ones in place of any it set, and the default policy
        unless it set its own."""
        kept = [(name, value) for name, value in headers if name.lower() not in self._fixed_names]
        own_policy = any(name.lower() == self._policy[0] for name, _ in kept)
        return [*kept, *self._fixed] if own_policy else [*kept, *self._fixed, self._policy]
