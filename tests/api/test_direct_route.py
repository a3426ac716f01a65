"""POST /check answered past FastAPI's dispatch when plainly valid: the same answers as through it,
and FastAPI's own answer for everything else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from api.app import create_app
from api.direct_route import DirectRoute, route_of
from api.limits import MAX_BODY
from api.observe import REQUESTS
from siteselect.settings import Settings

# --- the middleware alone, around a small FastAPI app -------------------------------------------


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    n: int


toy = APIRouter()
JSON = {"content-type": "application/json"}


@toy.post("/double")
async def double(request: Request, body: Item) -> Response:
    if body.n == 13:
        raise LookupError("13 is not doubled")
    return JSONResponse({"twice": 2 * body.n, "route": request.scope.get("route") is not None})


class Through:
    """The app behind the middleware, noting each request it was handed and the body it read."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls, self.route_named = app, 0, False
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope, receive, send):
        self.calls += 1
        self.route_named = "route" in scope

        async def noted():
            message = await receive()
            self.seen.append(message)
            return message

        await self.app(scope, noted, send)


@pytest.fixture
def through():
    framework = FastAPI()
    framework.include_router(toy)

    @framework.exception_handler(LookupError)
    async def not_found(_request: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    return Through(framework)


@pytest.fixture
def client(through):
    direct = DirectRoute(through, route=route_of(toy, double), model=Item, max_body=100)

    async def app(scope, receive, send):
        scope["app"] = through.app  # as Starlette sets it before the middleware runs
        await direct(scope, receive, send)

    return TestClient(app)


def test_a_valid_body_is_answered_directly_with_the_route_named(client, through):
    r = client.post("/double", json={"n": 2})
    assert r.status_code == 200 and r.json() == {"twice": 4, "route": True}
    assert through.calls == 0


@pytest.mark.parametrize(
    "body", [b'{"n": "2"}', b'{"n": 2, "m": 1}', b"[1]", b"", b"{not json", b'{"n": 2.5}'], ids=repr
)
def test_a_body_the_model_refuses_gets_fastapis_own_422_from_the_same_bytes(client, through, body):
    r = client.post("/double", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "detail" in r.json()
    assert [m.get("body") for m in through.seen] == [body]


def test_an_error_from_the_endpoint_is_answered_by_fastapis_handlers(client, through):
    r = client.post("/double", json={"n": 13})
    assert r.status_code == 404 and r.json() == {"detail": "13 is not doubled"}
    assert through.calls == 1


def test_a_body_the_door_refuses_is_handed_on_before_any_route_is_named(client, through):
    r = client.post(
        "/double", content=b'{"n": 2, "s": "a\\u0000b"}', headers={"content-type": "application/json"}
    )
    assert through.calls == 1 and through.route_named is False
    assert r.status_code == 422  # FastAPI's here: the door is a layer of the service, not of this app


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/double", {"content": b'{"n": 2' + b" " * 100 + b"}", "headers": JSON}),  # above max_body
        ("POST", "/double", {"content": iter([b'{"n": 2}']), "headers": JSON}),  # no length declared
        ("POST", "/double?n=1", {"json": {"n": 2}}),
        (
            "POST",
            "/double",
            {"content": "n=2", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        ),
        ("POST", "/double/", {"json": {"n": 2}}),
        ("GET", "/double", {}),
        ("PUT", "/double", {"json": {"n": 2}}),
        ("POST", "/double", {"content": b'{"n": 2}', "headers": {"content-type": "text/x+json"}}),
        (
            "POST",
            "/double",
            {"content": b'{"n": 2}', "headers": [("content-type", "text/plain"), *JSON.items()]},
        ),
    ],
)
def test_other_requests_go_to_fastapi_untouched(client, through, method, path, kwargs):
    client.request(method, path, follow_redirects=False, **kwargs)
    assert through.calls == 1


def test_json_with_a_charset_is_answered_directly(client, through):
    r = client.post(
        "/double", content=b'{"n": 2}', headers={"content-type": "Application/JSON; charset=utf-8"}
    )
    assert r.status_code == 200 and through.calls == 0


def test_a_length_beside_chunks_is_not_trusted(through):
    """A server whose parser lets both through would hand on more than the length says."""
    direct = DirectRoute(through, route=route_of(toy, double), model=Item, max_body=100)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"8"),
        (b"transfer-encoding", b"chunked"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/double", "root_path": "", "query_string": b"",
             "headers": headers, "app": through.app}  # fmt: skip
    messages = [{"type": "http.request", "body": b'{"n": 2}', "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(direct(scope, receive, send))
    assert through.calls == 1 and sent[0]["status"] == 200


# --- the service: the same answers with and without it ------------------------------------------


@pytest.fixture(scope="module")
def both(demo_db):
    """The service, and the service with every check through FastAPI's dispatch."""
    settings = Settings(_env_file=None, database_url=demo_db)  # type: ignore[call-arg]
    direct, dispatched = create_app(settings), create_app(settings)
    dispatched.user_middleware = [m for m in dispatched.user_middleware if m.cls is not DirectRoute]
    assert len(dispatched.user_middleware) == len(direct.user_middleware) - 1
    with TestClient(direct) as a, TestClient(dispatched) as b:
        yield a, b


CHECKS: list[tuple[str, Any]] = [
    ("coordinates", {"industry": "9013", "lon": 120.4651, "lat": 36.1070, "floor": 2}),
    ("address", {"industry": "奶茶", "address": "崂山区苗岭路28号"}),
    (
        "gcj02 and a date",
        {"industry": "6232", "lon": 120.47, "lat": 36.11, "coordsys": "gcj02", "as_of": "2026-06-01"},
    ),
    ("outside the district", {"industry": "9013", "lon": 116.4, "lat": 39.9}),
    ("unknown industry", {"industry": "zzzz", "lon": 120.46, "lat": 36.10}),
    ("ambiguous words", {"industry": "店", "lon": 120.46, "lat": 36.10}),
    ("no place", {"industry": "9013"}),
    ("two places", {"industry": "9013", "lon": 120.46, "lat": 36.10, "address": "崂山区苗岭路28号"}),
    ("unknown address", {"industry": "9013", "address": "火星大道1号"}),
    ("unknown vacancy", {"industry": "9013", "vacancy_id": "no-such-vacancy"}),
    ("extra field", {"industry": "9013", "lon": 120.46, "lat": 36.10, "colour": "red"}),
    ("lon out of range", {"industry": "9013", "lon": 190, "lat": 36.10}),
    ("lon as text", {"industry": "9013", "lon": "120.46", "lat": 36.10}),
    ("date as a number", {"industry": "9013", "lon": 120.46, "lat": 36.10, "as_of": 0}),
    ("bad date", {"industry": "9013", "lon": 120.46, "lat": 36.10, "as_of": "2026-02-30"}),
    ("unknown coordsys", {"industry": "9013", "lon": 120.46, "lat": 36.10, "coordsys": "bd09x"}),
    ("NUL", {"industry": "9013\u0000", "lon": 120.46, "lat": 36.10}),
    ("long industry", {"industry": "9" * 5000, "lon": 120.46, "lat": 36.10}),
    ("a list", [{"industry": "9013", "lon": 120.46, "lat": 36.10}]),
    ("a number", 7),
]


@pytest.mark.parametrize(("label", "body"), CHECKS, ids=[c[0] for c in CHECKS])
def test_a_check_gets_the_same_answer_directly_as_through_fastapi(both, label, body):
    direct, dispatched = (c.post("/check", json=body) for c in both)
    assert (direct.status_code, direct.content) == (dispatched.status_code, dispatched.content)
    assert _headers(direct) == _headers(dispatched)


@pytest.mark.parametrize("body", [b"", b"{", b'{"industry": "9013", "lon": NaN, "lat": 36.1}'], ids=repr)
def test_a_body_that_is_not_json_gets_the_same_answer(both, body):
    direct, dispatched = (
        c.post("/check", content=body, headers={"content-type": "application/json"}) for c in both
    )
    assert direct.status_code == dispatched.status_code and direct.status_code >= 400
    assert direct.content == dispatched.content


def test_a_check_of_earlier_versions_gets_the_same_answer(both):
    body = {"industry": "9013", "lon": 120.4651, "lat": 36.1070}
    direct, dispatched = (c.post("/check", params={"versions": "rules:1"}, json=body) for c in both)
    assert direct.status_code == dispatched.status_code == 200 and direct.content == dispatched.content


@pytest.fixture
def behind(both):
    """What reaches the layers behind the service's direct route, noted."""
    assert both[0].get("/health").status_code == 200  # the stack is built by the first request
    node = both[0].app.middleware_stack
    while not isinstance(node, DirectRoute):
        node = node.app
    node.app = noted = Through(node.app)
    yield noted
    node.app = noted.app


def test_the_service_answers_a_plain_check_directly_and_hands_on_the_rest(both, behind):
    direct, _ = both
    plain = {"industry": "9013", "lon": 120.46, "lat": 36.10}
    assert direct.post("/check", json=plain).status_code == 200 and behind.calls == 0
    assert direct.post("/check", json=plain | {"colour": "red"}).status_code == 422  # the model
    assert direct.post("/check", json={"industry": "9013", "address": "火星大道1号"}).status_code == 422
    assert direct.post("/check", params={"versions": "rules:1"}, json=plain).status_code == 200
    assert behind.calls == 3


@pytest.mark.parametrize(
    "types",
    [["application/json; charset=utf-8"], ["text/x+json"], ["application/merge-patch+json"],
     ["text/plain", "application/json"], ["application/json", "text/plain"], []],
    ids=repr,
)  # fmt: skip
def test_a_check_of_any_content_type_gets_the_same_answer(both, types):
    body = b'{"industry": "9013", "lon": 120.4651, "lat": 36.1070}'
    direct, dispatched = (
        c.post("/check", content=body, headers=[("content-type", t) for t in types]) for c in both
    )
    assert (direct.status_code, direct.content) == (dispatched.status_code, dispatched.content)


def test_a_direct_check_is_counted_under_its_route(both):
    direct, _ = both

    def counted() -> float:
        return sum(
            s.value
            for metric in REQUESTS.collect()
            for s in metric.samples
            if s.name.endswith("_total")
            and s.labels == {"method": "POST", "route": "/check", "status": "200"}
        )

    before = counted()
    assert direct.post("/check", json={"industry": "9013", "lon": 120.46, "lat": 36.10}).status_code == 200
    assert counted() == before + 1


def _headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in ("x-request-id", "date")}


def test_a_check_larger_than_the_limit_is_refused_as_before(both):
    body = {"industry": "9013", "lon": 120.46, "lat": 36.10, "ref": "x" * (MAX_BODY + 1)}
    direct, dispatched = (c.post("/check", json=body) for c in both)
    assert direct.status_code == dispatched.status_code == 413 and direct.content == dispatched.content
