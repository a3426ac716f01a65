"""What every request is checked for at the door, once, before any route sees it.

Python's JSON decoder takes values no field can hold: ``NaN``, ``Infinity``, ``1e309`` (read as
infinity), whole numbers past 64 bits (which no column or array holds), strings with lone
surrogates (``"\\udcff"``, which no encoder can write back, not even into the 422 that names them)
and NUL characters (which PostgreSQL cannot store). A JSON body holding one is refused with a 422
that names where it is, in the shape of FastAPI's own validation errors; so is a URL with a NUL in
its path or query. (A plain ``POST /check`` skips this layer but not its test: the direct route
runs ``check_json`` first, api/direct_route.py.)

Bearer tokens are taken only in the ``Authorization`` header: one sent in the URL
(``?access_token=``) is refused, and no secret-looking query parameter reaches the access log.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_PARAMETERS = frozenset({"access_token", "token"})
SECRET_IN_QUERY = re.compile(r"(?i)([?&][^=&#]*(?:token|key|secret|password)[^=&#]*=)[^&#\s]*")
DIGITS_ONLY = bytes(57 if 48 <= c <= 57 else 32 for c in range(256))  # digits to "9", the rest to " "
LONG_NUMBER = b"9" * 19  # 19 digits in a row: perhaps a number past 64 bits
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SHOWN = 40  # characters of a refused value the answer repeats
MAX_DEPTH = 64  # arrays and objects within one another: a GeoJSON multipolygon's points are 6 deep
JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
OPENING, CLOSING = np.frombuffer(b"[{", dtype=np.uint8), np.frombuffer(b"]}", dtype=np.uint8)


class RefusedError(ValueError):
    """A request refused at the door: where (``loc``, as FastAPI writes it) and why."""

    def __init__(self, loc: list[str | int], msg: str, status: int = 422) -> None:
        super().__init__(msg)
        self.loc, self.msg, self.status = loc, msg, status


class CheckedAtTheDoor:
    """ASGI middleware: refuse what no route can take (above), read JSON bodies once to do so and
    hand the same bytes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_url(scope["path"], scope.get("query_string", b"").decode("latin-1"))
        except RefusedError as refused:
            await _refuse(send, refused)
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body, ended = await read_body(receive)
        if ended is not None:
            await self.app(scope, replay([ended]), send)
            return
        try:
            check_json(body)
        except RefusedError as refused:
            await _refuse(send, refused)
            return
        await self.app(scope, replay([{"type": "http.request", "body": body}]), send)


def check_url(path: str, query: str) -> None:
    """Refuse a NUL in the path or the query, and a token in the query."""
    if "\x00" in path:
        raise RefusedError(["path"], "the path holds a NUL character (\\x00)")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() in TOKEN_PARAMETERS:
            raise RefusedError(
                ["query", name],
                f"{name}: tokens are not taken in the URL (URLs end up in logs and histories); "
                "send the header Authorization: Bearer …",
                401,
            )
        if "\x00" in name or "\x00" in value:
            raise RefusedError(_safe(["query", name]), "the query holds a NUL character (\\x00)")


def check_json(body: bytes) -> None:
    """Refuse a JSON body with a value no field can hold, or nested deeper than ``MAX_DEPTH``; a
    body that is not JSON at all is left to the route, which says so. orjson reads only what is
    valid (no NaN, no number that overflows, no lone surrogate), fast: the standard library's
    decoder, slower, is asked only to say where a refused value is, and the body is walked only
    when it may hold a NUL or a very long number."""
    # Python's decoder recurses once a level: a thousand levels of brackets were a 500.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        raise RefusedError(["body"], f"arrays and objects nest more than {MAX_DEPTH} deep")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        if b"\\u0000" not in body and LONG_NUMBER not in body.translate(DIGITS_ONLY):
            return
    try:
        document = json.loads(body, parse_constant=_constant, parse_float=_finite, parse_int=_int64)
    except ValueError as exc:
        if "digits" in str(exc):  # Python's limit on an integer's length
            raise RefusedError(["body"], "a number in the body has thousands of digits") from None
        return  # not JSON: the route's own validation names the error
    _check_values(document, ["body"])


def _depth(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, brackets within strings aside."""
    bare = np.frombuffer(JSON_STRING.sub(b"", body), dtype=np.uint8)
    steps = np.isin(bare, OPENING).astype(np.int32) - np.isin(bare, CLOSING)
    return int(np.cumsum(steps).max()) if len(steps) else 0


class _Unheld:
    """A number read from the body that no field can hold, kept to be named with its place."""

    def __init__(self, msg: str) -> None:
        self.msg = msg


def _constant(name: str) -> _Unheld:
    return _Unheld(f"{name} is not a number JSON has: send a finite number")


def _finite(text: str) -> float | _Unheld:
    value = float(text)
    return value if math.isfinite(value) else _Unheld(f"{_shown(text)} is beyond the range of a number")


def _int64(text: str) -> int | _Unheld:
    value = int(text)
    if -(2**63) <= value < 2**63:
        return value
    return _Unheld(f"{_shown(text)} is beyond the range of a whole number (64 bits)")


def _check_values(value: Any, loc: list[str | int]) -> None:
    if isinstance(value, _Unheld):
        raise RefusedError(_safe(loc), value.msg)
    if isinstance(value, str):
        _check_text(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, [*loc, "(key)"])
            _check_values(item, [*loc, key])
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_values(item, [*loc, n])


def _check_text(text: str, loc: list[str | int]) -> None:
    if "\x00" in text:
        raise RefusedError(_safe(loc), f"{_shown(text)} holds a NUL character (\\x00)")
    if LONE_SURROGATE.search(text):
        raise RefusedError(_safe(loc), f"{_shown(text)} holds a lone surrogate, which is not text")


def _safe(loc: list[str | int]) -> list[str | int]:
    """The location as text any encoder can write: a bad key is shown escaped."""
    return [p if isinstance(p, int) else _shown(p).strip("'\"") for p in loc]


def _shown(text: str) -> str:
    """The start of a refused value, escaped into plain ASCII."""
    return ascii(text[:SHOWN] + ("…" if len(text) > SHOWN else ""))


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


async def read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or what ended it early (the client left, the body was too large)."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return body, message
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body, None


def replay(messages: list[Message]) -> Receive:
    """A receive channel that gives these messages, then waits for the client to leave."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


async def _refuse(send: Send, refused: RefusedError) -> None:
    detail = [{"loc": refused.loc, "msg": refused.msg, "type": "value_error"}]
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refused.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class NoSecretsInTheLog(logging.Filter):
    """Blanks the values of secret-looking query parameters in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args  # uvicorn's: client, method, path with query, HTTP version, status
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(path := args[2], str):
            record.args = (*args[:2], SECRET_IN_QUERY.sub(r"\1[redacted]", path), *args[3:])
        return True


def keep_secrets_out_of_the_access_log() -> None:
    """Install the filter on uvicorn's access logger (once, however many apps are made)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoSecretsInTheLog) for f in logger.filters):
        logger.addFilter(NoSecretsInTheLog())
