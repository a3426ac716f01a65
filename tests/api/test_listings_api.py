"""Park operators publish and change vacancies: ownership, ETags, server-owned fields, audit."""

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

ITEMS = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def service(tmp_path_factory, demo_files):
    url = f"sqlite:///{tmp_path_factory.mktemp('listings') / 'store.db'}"
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, demo_files[layer])
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    accounts.add_user(store, "operator-b", "operator", ["park-002"])
    accounts.add_user(store, "clerk", "clerk")
    tokens = {name: accounts.create_token(store, name)[0] for name in ("operator-a", "operator-b", "clerk")}
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}, store


def _feature(**props):
    base = {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": 120.0,
            "rent": 75.0, "use": "office", "status": "available"}  # fmt: skip
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
            "properties": base | props}  # fmt: skip


def _state(store):
    """Everything a refused write must leave as it was: layers and listings."""
    from siteselect import listings

    return store.counts(), listings.all_listings(store)


def _audit(client, auth):
    return client.get("/audit", headers=auth["clerk"]).json()


def test_operator_publishes_in_its_own_park(service):
    client, auth, _ = service
    r = client.post(ITEMS, json=_feature(), headers=auth["operator-a"])
    assert r.status_code == 201
    assert r.headers["location"].endswith(f"{ITEMS}/{r.json()['id']}") and r.headers["etag"]
    got = client.get(f"{ITEMS}/{r.json()['id']}")
    assert got.headers["etag"] == r.headers["etag"] and got.json()["properties"]["rent"] == 75.0
    assert _audit(client, auth)[-1]["outcome"] == "ok"


def test_writes_need_a_token(service):
    client, _, _ = service
    assert client.post(ITEMS, json=_feature()).status_code == 401
    assert client.post(ITEMS, json=_feature(), headers={"Authorization": "Bearer ss_nope"}).status_code == 401


def test_operator_b_cannot_touch_park_a(service):
    client, auth, store = service
    created = client.post(ITEMS, json=_feature(), headers=auth["operator-a"]).json()
    before = _state(store)
    for method, body in (("patch", {"rent": 1.0}), ("put", _feature()), ("delete", None)):
        r = client.request(method.upper(), f"{ITEMS}/{created['id']}", json=body, headers=auth["operator-b"])
        assert r.status_code == 403, (method, r.text)
    assert client.post(ITEMS, json=_feature(), headers=auth["operator-b"]).status_code == 403
    assert client.get(f"{ITEMS}/{created['id']}").json()["properties"]["rent"] == 75.0
    assert _state(store) == before
    assert [e["outcome"] for e in _audit(client, auth)[-4:]] == ["refused"] * 4


def test_a_stale_write_gets_412(service):
    client, auth, _ = service
    r = client.post(ITEMS, json=_feature(), headers=auth["operator-a"])
    url, tag = f"{ITEMS}/{r.json()['id']}", r.headers["etag"]
    first = client.patch(url, json={"rent": 70.0}, headers=auth["operator-a"] | {"If-Match": tag})
    second = client.patch(url, json={"rent": 65.0}, headers=auth["operator-a"] | {"If-Match": tag})
    assert first.status_code == 200 and second.status_code == 412
    assert client.get(url).json()["properties"]["rent"] == 70.0
    change = next(
        e for e in reversed(_audit(client, auth)) if e["action"] == "patch" and e["outcome"] == "ok"
    )
    assert (change["before"]["rent"], change["after"]["rent"]) == (75.0, 70.0)
    assert change["after"]["revision"] == change["before"]["revision"] + 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (_feature(area_m2=-5), 422, "area_m2"),
        (_feature(rent=-1), 422, "rent"),
        (_feature(status="gone"), 422, "status"),
        (_feature(park_id="park-999"), 422, "park_id"),
        (_feature(colour="red"), 422, "colour"),
        (_feature(updated_at="2026-01-01"), 422, "updated_at"),
        (_feature(prefiled=True), 403, "prefiled"),
        ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.4, 39.9]},
          "properties": _feature()["properties"]}, 422, "outside"),
        (_feature() | {"id": "mine"}, 422, "id"),
    ],
)  # fmt: skip
def test_bad_writes_are_refused_and_audited(service, body, status, words):
    client, auth, store = service
    before = _state(store)
    r = client.post(ITEMS, json=body, headers=auth["operator-a"])
    assert r.status_code == status and words in r.text
    assert _state(store) == before
    assert _audit(client, auth)[-1]["outcome"] == "refused"


def test_operator_cannot_move_a_listing_to_another_park(service):
    client, auth, _ = service
    created = client.post(ITEMS, json=_feature(), headers=auth["operator-a"]).json()
    r = client.patch(f"{ITEMS}/{created['id']}", json={"park_id": "park-002"}, headers=auth["operator-a"])
    assert r.status_code == 403 and "another park" in r.text


def test_delete_and_the_audit_log_is_for_clerks(service):
    client, auth, _ = service
    created = client.post(ITEMS, json=_feature(), headers=auth["operator-a"]).json()
    assert client.delete(f"{ITEMS}/{created['id']}", headers=auth["operator-a"]).status_code == 204
    assert client.get(f"{ITEMS}/{created['id']}").status_code == 404
    assert client.get("/audit", headers=auth["operator-a"]).status_code == 403
    *_, entry, refusal = _audit(client, auth)  # the refused read is audited too
    assert (refusal["action"], refusal["outcome"]) == ("read-audit", "refused")
    assert (entry["action"], entry["target"], entry["outcome"]) == ("delete", created["id"], "ok")
    assert entry["before"] is not None and entry["actor"] == "operator:operator-a"


def test_other_collections_are_read_only(service):
    client, auth, _ = service
    r = client.post("/ogc/collections/zones/items", json=_feature(), headers=auth["operator-a"])
    assert r.status_code == 403


def test_a_published_vacancy_is_in_the_very_next_match(service):
    client, auth, _ = service
    wanted = {"industry": "6513", "wanted": {"area_min": 777, "area_max": 777}, "limit": 5}
    assert client.post("/match", json=wanted).json()["results"] == []
    created = client.post(ITEMS, json=_feature(area_m2=777.0), headers=auth["operator-a"]).json()
    ids = [r["id"] for r in client.post("/match", json=wanted).json()["results"]]
    assert ids == [created["id"]]
    url = f"{ITEMS}/{created['id']}"
    assert client.patch(url, json={"status": "leased"}, headers=auth["operator-a"]).status_code == 200
    assert client.post("/match", json=wanted).json()["results"] == []  # leased: never shown as available


def test_a_world_sized_bbox_is_refused(service):
    client, _, _ = service
    for path in (ITEMS, "/layers/pois/features"):
        r = client.get(path, params={"bbox": "-180,-90,180,90"})
        assert r.status_code == 422 and "world" in r.json()["detail"]
    assert client.get(ITEMS, params={"bbox": "120.35,35.85,121.0,36.4"}).status_code == 200  # the district


def test_a_polygon_of_a_million_vertices_is_refused_unread(service):
    client, auth, store = service
    before = _state(store)
    ring = [[120.4 + i * 1e-7, 36.1 + (i % 2) * 1e-4] for i in range(1_000_000)]
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
               "properties": {"park_id": "park-001"}}  # fmt: skip
    r = client.post(ITEMS, json=feature, headers=auth["operator-a"])
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    def chunks():  # the same without a Content-Length: counted as it streams in
        body = json.dumps(feature).encode()
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]

    r = client.post(
        ITEMS, content=chunks(), headers=auth["operator-a"] | {"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert _state(store) == before
