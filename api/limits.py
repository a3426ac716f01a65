"""Limits on what a request may send: a body larger than ``MAX_BODY`` bytes is refused with 413
before it is parsed (a polygon of a million vertices never reaches the JSON decoder)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 4 * 1024 * 1024  # a batch of a thousand checks is some 150 kB


class LimitBodySize:
    """ASGI middleware: refuse an announced or streamed body above ``MAX_BODY`` with 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        seen, refused = 0, False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:
                refused = True
                await _too_large(send, self.limit)
            return {"type": "http.disconnect"} if refused else message  # the app stops reading

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request body is larger than {limit // (1024 * 1024)} MB"
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
