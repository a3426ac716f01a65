"""Park operators publish and change vacancies: ownership, ETags, server-owned fields, audit."""

import datetime as dt
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
        headers = auth["operator-b"] | {"If-Match": "*"}
        r = client.request(method.upper(), f"{ITEMS}/{created['id']}", json=body, headers=headers)
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
    ("body", "words"),
    [
        (_feature(area_m2=-5), "area_m2"),
        (_feature(rent=-1), "rent"),
        (_feature(rent="100"), "rent"),
        (_feature(floor=5.5), "floor"),
        (_feature(status="gone"), "status"),
        (_feature(colour="red"), "colour"),
        (_feature(updated_at="2026-01-01"), "updated_at"),
        (_feature(address={"road": "株洲路"}), "address"),
        (_feature(address="9" * 3_500_000), "address"),  # 3.5 MB, under the body limit
        (_feature(address="株洲路\x00153号"), "address"),
        (_feature(park_id=["park-001"]), "park_id"),
        (_feature(available_from=20260101), "available_from"),
        (_feature() | {"geometry": None}, "geometry"),
        ({k: v for k, v in _feature().items() if k != "geometry"}, "geometry"),
        (_feature() | {"geometry": "POINT (120.445 36.131)"}, "geometry"),
        (_feature() | {"geometry": {"type": "Point", "coordinates": [None, 36.131]}}, "coordinates"),
        (_feature() | {"geometry": {"type": "Point", "coordinates": [120.445]}}, "coordinates"),
        (_feature() | {"geometry": {"type": "Polygon", "coordinates": [120.445, 36.131]}}, "type"),
        (_feature() | {"type": "FeatureCollection"}, "type"),
    ],
)
def test_bodies_that_do_not_fit_the_schema_get_422_naming_the_field(service, body, words):
    client, auth, store = service
    before = _state(store)
    r = client.post(ITEMS, json=body, headers=auth["operator-a"])
    assert r.status_code == 422, r.text[:300]
    assert any(words in [str(part) for part in e["loc"]] for e in r.json()["detail"]), r.text[:300]
    assert _state(store) == before


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (_feature(park_id="park-999"), 422, "park_id"),
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
    url = f"{ITEMS}/{created['id']}"
    for who in ("operator-a", "clerk"):
        r = client.patch(url, json={"park_id": "park-002"}, headers=auth[who] | {"If-Match": "*"})
        assert r.status_code == 403 and "another park" in r.text
    assert client.get(url).json()["properties"]["park_id"] == "park-001"


def test_delete_and_the_audit_log_is_for_clerks(service):
    client, auth, _ = service
    created = client.post(ITEMS, json=_feature(), headers=auth["operator-a"]).json()
    url, tag = f"{ITEMS}/{created['id']}", {"If-Match": f'"{created["id"]}-1"'}
    assert client.delete(url, headers=auth["clerk"] | tag).status_code == 403  # clerks verify
    assert client.delete(url, headers=auth["operator-a"] | tag).status_code == 204
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
    leased = client.patch(url, json={"status": "leased"}, headers=auth["operator-a"] | {"If-Match": "*"})
    assert leased.status_code == 200
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


def _created(client, auth, **props):
    r = client.post(ITEMS, json=_feature(**props), headers=auth["operator-a"])
    assert r.status_code == 201
    return f"{ITEMS}/{r.json()['id']}", r.headers["etag"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_change_without_if_match_gets_428_and_is_audited(service, method):
    client, auth, store = service
    url, _ = _created(client, auth)
    before = _state(store)
    body = {"PUT": _feature(rent=1.0), "PATCH": {"rent": 1.0}, "DELETE": None}[method]
    r = client.request(method, url, json=body, headers=auth["operator-a"])
    assert r.status_code == 428 and "If-Match" in r.json()["detail"]
    assert _state(store) == before
    entry = _audit(client, auth)[-1]
    assert entry["outcome"] == "refused" and "If-Match" in entry["detail"]


@pytest.mark.parametrize(
    ("if_match", "status"),
    [("*", 200), ("{tag}", 200), ('"nope", {tag}', 200), ("W/{tag}", 412), ('"V-0-1"', 412),
     ("{tag}x", 422), ("", 422)],
)  # fmt: skip
def test_if_match_holds_as_rfc_9110_says(service, if_match, status):
    client, auth, store = service
    url, tag = _created(client, auth)
    before = _state(store)
    r = client.patch(
        url, json={"rent": 42.0}, headers=auth["operator-a"] | {"If-Match": if_match.format(tag=tag)}
    )
    assert r.status_code == status, r.text
    if status != 200:
        assert _state(store) == before and _audit(client, auth)[-1]["outcome"] == "refused"
    else:
        assert client.get(url).json()["properties"]["rent"] == 42.0


def test_if_match_star_on_a_missing_listing_is_404(service):
    client, auth, _ = service
    r = client.patch(f"{ITEMS}/V-missing", json={"rent": 1.0}, headers=auth["operator-a"] | {"If-Match": "*"})
    assert r.status_code == 404
    r = client.patch(f"{ITEMS}/V%00x", json={"rent": 1.0}, headers=auth["operator-a"] | {"If-Match": "*"})
    assert r.status_code == 422 and "NUL" in r.text  # no id holds one: refused at the door


@pytest.mark.parametrize(
    ("change", "cleared"),
    [({"lon": 120.4452, "lat": 36.1312}, True),  # about 28 m
     ({"lon": 120.44501, "lat": 36.13101}, False),  # about 1.4 m: the same door, surveyed again
     ({"address": "株洲路155号1层"}, True),
     ({"address": "崂山区株洲路153-1号5层01室"}, False),  # the same address, written in full
     ({"rent": 60.0}, False)],
)  # fmt: skip
def test_a_move_clears_the_verification_of_pre_filing(service, change, cleared):
    client, auth, _ = service
    url, tag = _created(client, auth)
    verified = client.patch(url, json={"prefiled": True}, headers=auth["clerk"] | {"If-Match": tag})
    assert verified.status_code == 200 and verified.json()["properties"]["prefiled"] is True
    r = client.patch(url, json=change, headers=auth["operator-a"] | {"If-Match": verified.headers["etag"]})
    assert r.status_code == 200
    assert client.get(url).json()["properties"]["prefiled"] is (not cleared)
    entry = _audit(client, auth)[-1]
    assert entry["before"]["prefiled"] is True and entry["after"]["prefiled"] is (not cleared)
    assert ("pre-filing cleared" in entry["detail"]) is cleared


def test_a_clerk_may_verify_a_moved_listing_in_the_same_change(service):
    client, auth, _ = service
    url, tag = _created(client, auth)
    tag = client.patch(url, json={"prefiled": True}, headers=auth["clerk"] | {"If-Match": tag}).headers[
        "etag"
    ]
    r = client.patch(
        url, json={"address": "株洲路155号1层", "prefiled": True}, headers=auth["clerk"] | {"If-Match": tag}
    )
    assert r.status_code == 200 and r.json()["properties"]["prefiled"] is True


def test_audit_times_carry_their_offset(service):
    client, auth, _ = service
    _created(client, auth)
    moment = dt.datetime.fromisoformat(_audit(client, auth)[-1]["at"])
    assert moment.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - moment) < dt.timedelta(minutes=5)


def test_a_write_that_fails_in_the_store_is_a_500_and_audited(service):
    client, auth, store = service
    url, tag = _created(client, auth)
    with store.engine.begin() as conn:  # a fault of the database itself, as a full disk would be
        conn.exec_driver_sql(
            "CREATE TRIGGER fault BEFORE UPDATE ON listings BEGIN SELECT RAISE(ABORT, 'disk I/O'); END"
        )
    try:
        failing = TestClient(client.app, raise_server_exceptions=False)
        r = failing.patch(url, json={"rent": 1.0}, headers=auth["operator-a"] | {"If-Match": tag})
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER fault")
    assert r.status_code == 500
    entry = _audit(client, auth)[-1]
    assert (entry["action"], entry["outcome"], entry["target"]) == ("patch", "failed", url.rsplit("/", 1)[1])
    assert client.get(url).headers["etag"] == tag  # nothing changed


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"lon": None}, "lon"), ({"lon": "abc"}, "lon"), ({"lon": [1]}, "lon"), ({"lat": True}, "lat"),
     ({"park_id": ["park-001"]}, "park_id"), ({"rent": "100"}, "rent"), ({"address": None}, "address"),
     ({"address": {"road": "株洲路"}}, "address"), ({"status": "gone"}, "status"), ({"colour": 1}, "colour"),
     ({"type": "Feature", "geometry": None}, "geometry"),
     ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [None, 36.1]}}, "coordinates"),
     ({"type": "Feature", "properties": {"floor": 2.5}}, "floor")],
)  # fmt: skip
def test_patches_that_do_not_fit_the_schema_get_422_naming_the_field(service, patch, field):
    client, auth, store = service
    url, tag = _created(client, auth)
    before = _state(store)
    r = client.patch(url, json=patch, headers=auth["operator-a"] | {"If-Match": tag})
    assert r.status_code == 422, r.text[:300]
    assert any(field in [str(part) for part in e["loc"]] for e in r.json()["detail"]), r.text[:300]
    assert _state(store) == before


def test_a_patch_as_a_feature_moves_and_changes_fields(service):
    client, auth, _ = service
    url, tag = _created(client, auth)
    patch = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.446, 36.131]},
             "properties": {"rent": 61.0, "use": None}}  # fmt: skip
    r = client.patch(url, json=patch, headers=auth["operator-a"] | {"If-Match": tag})
    assert r.status_code == 200
    got = client.get(url).json()
    assert got["geometry"]["coordinates"] == [120.446, 36.131]
    assert got["properties"]["rent"] == 61.0 and got["properties"].get("use") is None
    assert got["properties"]["area_m2"] == 120.0  # left out: unchanged
