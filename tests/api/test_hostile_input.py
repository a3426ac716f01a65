"""Hostile values in every field of every route: never a 500, and a refused request changes nothing.

Each operation of the OpenAPI document has a valid request below; every position of its body
(each value, each list item, the body itself, and each property the schema knows that the request
leaves out) and each parameter in its path, query and headers gets each hostile value in turn —
NaN, ±Infinity, 1e309, numbers past 64 bits, lone surrogates, NUL, RTL marks, 100 kB strings,
values of the wrong JSON type and malformed geometries. The answer must not be a 5xx; a write that
is refused must leave the layers, the listings and the reports as they were.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, listings
from siteselect.settings import Settings
from siteselect.specs import layer_specs
from siteselect.store import Store

SLOT = "@@hostile@@"
ITEMS = "/ogc/collections/vacancies/items"
JSON, MERGE_PATCH = "application/json", "application/merge-patch+json"
RING = [[120.44, 36.13], [120.45, 36.13], [120.45, 36.14]]
POINTS = 10_000  # some 220 kB of coordinates in every field (a test below sends one of 3.8 MB)


def _geometry(kind: str, coordinates: Any) -> str:
    return json.dumps({"type": kind, "coordinates": coordinates})


# What goes into a JSON body, as the raw JSON text sent (the standard library would not write most).
BODY_VALUES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e309": "1e309",
    "-1e309": "-1e309",
    "past 64 bits": "123456789012345678901234567890",
    "thousands of digits": "9" * 5000,
    "lone surrogate": '"\\udcff"',
    "surrogate in text": '"海口路\\ud800 42号"',
    "NUL": '"海口路\\u000042号"',
    "RTL marks": '"\\u202e海口路42号\\u200f"',
    "100 kB": json.dumps("崂" * 100_000),
    "null": "null",
    "true": "true",
    "zero": "0",
    "negative": "-1",
    "float": "0.5",
    "text": '"abc"',
    "empty text": '""',
    "object": '{"a": {"b": [1, null]}}',
    "list": '[1, "a", null]',
    "[null]": "[null]",
    "unclosed ring": _geometry("Polygon", [RING]),
    "self-intersecting": _geometry("Polygon", [[[120.44, 36.13], [120.45, 36.14], [120.45, 36.13],
                                                [120.44, 36.14], [120.44, 36.13]]]),
    "null coordinates": _geometry("Point", [None]),
    "huge coordinates": _geometry("LineString", [[120.44 + i * 1e-7, 36.13] for i in range(POINTS)]),
}  # fmt: skip
# What goes into a path, query or header (text only; a URL cannot carry a lone surrogate).
TEXT_VALUES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "1e309": "1e309",
    "past 64 bits": "123456789012345678901234567890",
    "NUL": "a\x00b",
    "RTL marks": "\u202e海口路42号\u200f",
    "long": "崂" * 2000,
    "negative": "-1",
    "empty": "",
    "markup": '"><img src=x>',
    "[null]": "[null]",
}
HEADER_VALUES = {"NaN": "NaN", "1e309": "1e309", "star": "*", "long": "x" * 8000, "quotes": '"a", W/"b"'}


def _vacancy() -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
        "properties": {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": 120.0,
                       "rent": 75.0, "use": "office", "status": "available"},
    }  # fmt: skip


SITE = {"lon": 120.452, "lat": 36.1075}
WANTED = {"area_min": 40, "area_max": 80, "max_rent": 120, "streets": ["金家岭街道"], "floor_min": 1,
          "floor_max": 5, "uses": ["commercial"]}  # fmt: skip
WEIGHTS = {"amenities": 1, "clustering": 1, "access": 1, "cost": 1, "size": 1}
# A valid request of each operation: (method, path, path parameters, query, body).
REQUESTS: list[tuple[str, str, dict[str, str], dict[str, str], Any]] = [
    ("GET", "/layers", {}, {}, None),
    ("GET", "/layers/{layer}/versions", {"layer": "zones"}, {}, None),
    ("GET", "/layers/{layer}/features", {"layer": "zones"},
     {"bbox": "120.44,36.09,120.47,36.11", "version": "1", "limit": "5"}, None),
    ("GET", "/industries", {}, {"q": "奶茶", "limit": "3"}, None),
    ("GET", "/geocode", {}, {"q": "海口路42号"}, None),
    ("GET", "/addresses/suggest", {}, {"q": "海口路41号", "limit": "3"}, None),
    ("POST", "/check", {}, {"versions": "rules:1"}, {"industry": "9013", "address": "海口路42号", "floor": 1,
                                                    "as_of": "2026-06-01", "ref": "a"}),
    ("POST", "/check", {}, {}, {"industry": "9013", "lon": 120.452, "lat": 36.1075, "coordsys": "wgs84"}),
    ("POST", "/check/batch", {}, {}, {"items": [{"industry": "9013", "lon": 120.452, "lat": 36.1075}],
                                      "versions": {"rules": 1}}),
    ("POST", "/match", {}, {}, {"industry": "6210", "limit": 2, "as_of": "2026-06-01", "wanted": WANTED,
                                "weights": WEIGHTS}),
    ("POST", "/compare", {}, {}, {"industry": "6210", "sites": [SITE, {"address": "海口路42号"}]}),
    ("GET", "/surface", {}, {"industry": "6210", "res": "7"}, None),
    ("GET", "/ogc/", {}, {}, None),
    ("GET", "/ogc/conformance", {}, {}, None),
    ("GET", "/ogc/collections", {}, {}, None),
    ("GET", "/ogc/collections/{collection_id}", {"collection_id": "zones"}, {}, None),
    ("GET", "/ogc/collections/{collection_id}/items", {"collection_id": "zones"},
     {"bbox": "120.44,36.09,120.47,36.11", "limit": "5", "datetime": "2030-01-01T00:00:00Z",
      "filter": "kind = 'hospital' AND S_INTERSECTS(geometry, BBOX(120.4, 36.0, 120.6, 36.2))",
      "crs": "EPSG:4490"}, None),
    ("GET", "/ogc/collections/{collection_id}/queryables", {"collection_id": "zones"}, {}, None),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt",
     {"layer": "buildings", "z": "15", "x": "27347", "y": "12700"}, {}, None),
    *[("GET", f"/ogc/collections/{name}/items", {}, {"limit": "5"}, None) for name in layer_specs()],
    ("POST", "/ogc/collections/{collection_id}/items", {"collection_id": "vacancies"}, {}, _vacancy()),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}",
     {"collection_id": "vacancies", "feature_id": "V00006"}, {}, None),
    ("PUT", "/ogc/collections/{collection_id}/items/{feature_id}",
     {"collection_id": "vacancies", "feature_id": "V00006"}, {}, _vacancy()),
    ("PATCH", "/ogc/collections/{collection_id}/items/{feature_id}",
     {"collection_id": "vacancies", "feature_id": "V00006"}, {}, {"rent": 80.0, "floor": 3}),
    ("PATCH", "/ogc/collections/{collection_id}/items/{feature_id}",
     {"collection_id": "parks", "feature_id": "park-001"}, {}, {"name": "园区", "industries": "I;M"}),
    ("DELETE", "/ogc/collections/{collection_id}/items/{feature_id}",
     {"collection_id": "vacancies", "feature_id": "V00006"}, {}, None),
    ("POST", "/reports", {}, {}, {"industry": "9013", "sites": [SITE | {"label": "甲", "floor": 1}],
                                  "wanted": {"area_min": 40}, "as_of": "2026-06-01",
                                  "filing": {"application_no": "A-1", "applicant": "甲", "clerk": "乙"}}),
    ("GET", "/reports", {}, {"application_no": "A-1", "address": "海口路", "industry": "9013",
                             "from": "2026-01-01", "to": "2026-12-31", "page": "1"}, None),
    ("GET", "/reports/{rid}", {"rid": "0" * 24}, {}, None),
    ("GET", "/me", {}, {}, None),
    ("GET", "/audit", {}, {}, None),
    ("GET", "/health", {}, {}, None),
    ("GET", "/ready", {}, {}, None),
    ("GET", "/industries/resolve", {}, {"q": "奶茶"}, None),
    ("GET", "/industries/{code}/rules", {"code": "9013"}, {"as_of": "2026-06-01"}, None),
    ("GET", "/industries/{code}/rules.html", {"code": "9013"}, {"as_of": "2026-06-01"}, None),
    ("POST", "/ogc/collections/vacancies/items", {}, {}, _vacancy()),
    ("PUT", "/ogc/collections/vacancies/items/{feature_id}", {"feature_id": "V00006"}, {}, _vacancy()),
    ("PATCH", "/ogc/collections/vacancies/items/{feature_id}", {"feature_id": "V00006"}, {},
     {"rent": 80.0, "floor": 3}),
    ("DELETE", "/ogc/collections/vacancies/items/{feature_id}", {"feature_id": "V00006"}, {}, None),
    ("PUT", "/ogc/collections/parks/items/{feature_id}", {"feature_id": "park-001"}, {},
     {"type": "Feature", "geometry": None, "properties": {"name": "园区", "industries": "I;M"}}),
    ("PATCH", "/ogc/collections/parks/items/{feature_id}", {"feature_id": "park-001"}, {},
     {"name": "园区", "industries": "I;M"}),
    ("POST", "/layers/{layer}/loads", {"layer": "prohibited_addresses"},
     {"filename": "清单.csv", "department": "市场监管局", "dry_run": "true"}, None),
    ("POST", "/layers/{layer}/loads/problems", {"layer": "prohibited_addresses"},
     {"filename": "清单.csv"}, None),
    ("POST", "/layers/{layer}/records/{kind}", {"layer": "buildings", "kind": "acceptance"},
     {"filename": "验收.csv", "dry_run": "true"}, None),
    ("POST", "/layers/{layer}/versions/{version}/restore", {"layer": "zones", "version": "1"}, {},
     {"why": "回退"}),
    ("POST", "/session", {}, {}, {"name": "nobody", "password": "不是密码不是密码"}),
    ("GET", "/session", {}, {}, None),
    ("DELETE", "/session", {}, {}, None),
    ("PUT", "/me/password", {}, {}, {"current": "不是密码不是密码", "new": "也不是密码也不是密码"}),
    ("GET", "/users", {}, {}, None),
    ("POST", "/users", {}, {}, {"name": "新用户", "role": "clerk", "parks": [], "password": None}),
    ("PATCH", "/users/{name}", {"name": "nobody"}, {}, {"role": "clerk", "parks": [], "disabled": False}),
    ("PUT", "/users/{name}/password", {"name": "nobody"}, {}, {"password": "一个新的足够长的密码"}),
    ("GET", "/tokens", {}, {}, None),
    ("POST", "/tokens", {}, {}, {"user": "nobody", "label": "程序"}),
    ("DELETE", "/tokens/{token_id}", {"token_id": "999999"}, {}, None),
    ("GET", "/filings", {}, {"status": "pending", "park": "park-001"}, None),
    ("POST", "/filings", {}, {}, {"vacancy_id": "V00575", "certificate_no": "鲁(2024)崂山区第1号",
                                  "owner": "创新园公司", "registered_use": "办公",
                                  "valid_until": "2099-12-31"}),
    ("POST", "/filings/{filing_id}/approve", {"filing_id": "1"}, {}, None),
    ("POST", "/filings/{filing_id}/return", {"filing_id": "1"}, {}, {"reason": "证号不符"}),
    ("GET", "/addresses/complete", {}, {"q": "株洲路", "limit": "5"}, None),
    ("GET", "/buildings/at", {}, {"lon": "120.445", "lat": "36.131"}, None),
    ("GET", "/parks/{park_id}/premises.xlsx", {"park_id": "park-001"}, {}, None),
    ("POST", "/parks/{park_id}/premises.xlsx", {"park_id": "park-001"}, {"filename": "park.xlsx"}, None),
    ("GET", "/premises/{vacancy_id}/outlook", {"vacancy_id": "V00006"}, {}, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    path = tmp_path_factory.mktemp("hostile") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    store = Store(f"sqlite:///{path}")
    accounts.add_user(store, "admin", "admin")
    token = accounts.create_token(store, "admin")[0]
    app = create_app(Settings(_env_file=None, database_url=f"sqlite:///{path}"))  # type: ignore[call-arg]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}, store


def _state(store: Store) -> tuple[Any, ...]:
    """What a refused request must leave as it was (the audit log grows by design: refusals are
    written to it)."""
    with store.engine.connect() as conn:
        reports = conn.execute(sa.select(sa.func.count()).select_from(store.reports)).scalar_one()
    versions = {name: v.version for name, v in store.current_versions().items()}
    return versions, listings.stamp(store), reports


def _positions(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value: the value itself, then each member and item within it."""
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _positions(item, (*at, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _positions(item, (*at, n))


def _with_slot(body: Any, at: tuple[Any, ...]) -> Any:
    if not at:
        return SLOT
    copy = json.loads(json.dumps(body))
    parent = copy
    for key in at[:-1]:
        parent = parent[key]
    parent[at[-1]] = SLOT
    return copy


def _schema_fields(spec: dict[str, Any], method: str, path: str) -> list[str]:
    """The top-level properties of an operation's JSON body, as the document gives them."""
    content = spec["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def _bodies(spec: dict[str, Any], method: str, path: str, body: Any) -> Iterator[tuple[str, bytes]]:
    if body is None:
        return
    missing = [name for name in _schema_fields(spec, method, path) if name not in body]
    places = [(body, at) for at in _positions(body)] + [(body | {name: None}, (name,)) for name in missing]
    for whole, at in places:
        template = json.dumps(_with_slot(whole, at), ensure_ascii=False)
        for name, raw in BODY_VALUES.items():
            yield f"body {list(at)} = {name}", template.replace(json.dumps(SLOT), raw).encode()


Variant = tuple[str, str, dict[str, str], dict[str, str], bytes | None]


def _variants(
    spec: dict[str, Any], method: str, path: str, params: dict[str, str], query: dict[str, str], body: Any
) -> Iterator[Variant]:
    """(what, path, query, headers, body) for each hostile value in each place of the request."""
    sent = json.dumps(body).encode() if body is not None else None
    headers = {"If-Match": ""} if method in ("PUT", "PATCH", "DELETE") else {}
    for what, content in _bodies(spec, method, path, body):
        yield what, path.format(**params), query, headers, content
    for name in params:
        for value_name, value in TEXT_VALUES.items():
            url = path.format(**params | {name: quote(value, safe="") or "%20"})
            yield f"path {name} = {value_name}", url, query, headers, sent
    for name in {*query, *_query_names(spec, method, path)}:
        for value_name, value in TEXT_VALUES.items():
            yield f"query {name} = {value_name}", path.format(**params), query | {name: value}, headers, sent
    for name in headers:
        for value_name, value in HEADER_VALUES.items():
            yield f"header {name} = {value_name}", path.format(**params), query, {name: value}, sent


def _query_names(spec: dict[str, Any], method: str, path: str) -> list[str]:
    parameters = spec["paths"][path][method.lower()].get("parameters", [])
    return [p["name"] for p in parameters if p["in"] == "query"]


def test_every_operation_of_the_document_has_a_request_here(service):
    client, _, _ = service
    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == {(method, path) for method, path, *_ in REQUESTS}


@pytest.mark.parametrize(
    ("method", "path", "params", "query", "body"), REQUESTS, ids=[f"{r[0]} {r[1]}" for r in REQUESTS]
)
def test_hostile_values_get_no_500_and_change_nothing(service, method, path, params, query, body):
    client, auth, store = service
    spec = client.get("/openapi.json").json()
    writes = method != "GET" and path != "/check" and not path.startswith(("/check/", "/match", "/compare"))
    failures: list[str] = []
    before, etag = _state(store), None
    for what, url, q, extra, content in _variants(spec, method, path, params, query, body):
        headers = auth | {"Content-Type": MERGE_PATCH if method == "PATCH" else JSON}
        if "If-Match" in extra and not extra["If-Match"]:  # the current ETag, so the write gets that far
            etag = etag or client.get(path.format(**params)).headers.get("etag", '"none"')
            extra = {"If-Match": etag}
        r = client.request(method, url, params=q, content=content, headers=headers | extra)
        if r.status_code < 300:
            etag = None  # it may have changed
        if r.status_code >= 500:
            failures.append(f"{what}: {r.status_code} {r.text[:200]}")
        after = _state(store) if writes else before
        if writes and r.status_code >= 400 and after != before:
            failures.append(f"{what}: refused with {r.status_code}, and the store changed")
        before = after
    if not writes:
        assert _state(store) == before, "a read changed the store"
    assert failures == []


def test_a_geometry_near_the_body_limit_is_refused_and_changes_nothing(service):
    client, auth, store = service
    before = _state(store)
    line = [[120.44 + i * 1e-7, 36.13] for i in range(175_000)]
    body = _vacancy() | {"geometry": {"type": "LineString", "coordinates": line}}
    content = json.dumps(body).encode()
    assert 3_500_000 < len(content) < 4 * 1024 * 1024
    r = client.post(ITEMS, content=content, headers=auth | {"Content-Type": JSON})
    assert r.status_code == 422 and "Point" in r.text and len(r.content) < 1000
    assert _state(store) == before


@pytest.mark.parametrize(
    ("path", "body", "place"),
    [
        ("/check", '{"industry": "9013", "lon": NaN, "lat": 36.1}', ["body", "lon"]),
        ("/check/batch", '{"items": [{"industry": "9013", "lon": 120.45, "lat": Infinity}]}',
         ["body", "items", 0, "lat"]),
        ("/match", '{"industry": "6210", "wanted": {"max_rent": 1e309}}', ["body", "wanted", "max_rent"]),
        ("/compare", '{"industry": "6210", "sites": [{"lon": -Infinity, "lat": 36.1}, {"address": "a"}]}',
         ["body", "sites", 0, "lon"]),
        ("/reports", '{"industry": "9013", "sites": [{"address": "a\\udcff"}]}',
         ["body", "sites", 0, "address"]),
        ("/match", '{"industry": "\\u0000"}', ["body", "industry"]),
    ],
)  # fmt: skip
def test_a_value_no_field_can_hold_gets_a_422_naming_its_place(service, path, body, place):
    client, _, _ = service
    r = client.post(path, content=body.encode(), headers={"Content-Type": JSON})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == place


@pytest.mark.parametrize("path", ["/check", "/check/batch", "/match", "/compare", "/reports"])
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 5_000, b"[" * 1_100 + b"]" * 1_100, b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}"],
    ids=["unclosed", "unclosed objects", "1,100 deep", "65 deep"],
)  # fmt: skip
def test_a_body_nested_too_deep_gets_a_422_not_a_500(service, path, body):
    client, _, _ = service
    r = client.post(path, content=body, headers={"Content-Type": JSON})
    assert (
        r.status_code == 422 and r.json()["detail"][0]["msg"] == "arrays and objects nest more than 64 deep"
    )


def test_a_body_64_deep_is_left_to_the_route(service):
    client, _, _ = service
    r = client.post(
        "/check", content=b'{"industry": ' + b"[" * 63 + b"]" * 63 + b"}", headers={"Content-Type": JSON}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "industry"]  # the model's
