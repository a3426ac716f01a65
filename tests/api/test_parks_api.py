"""Operators describe their own parks: descriptive fields only, ETags, a new version per change, audit."""

import shutil

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts
from siteselect.settings import Settings
from siteselect.store import Store

PARKS = "/ogc/collections/parks/items"


@pytest.fixture
def service(demo_db, tmp_path):
    path = tmp_path / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    accounts.add_user(store, "clerk", "clerk")
    tokens = {name: accounts.create_token(store, name)[0] for name in ("operator-a", "clerk")}
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        yield client, {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}, store


def _patch(client, park, body, headers):
    return client.patch(
        f"{PARKS}/{park}", json=body, headers=headers | {"Content-Type": "application/merge-patch+json"}
    )


def test_operator_renames_its_park_as_a_new_version(service):
    client, auth, store = service
    before = client.get(f"{PARKS}/park-001")
    tag = before.headers["etag"]
    r = _patch(client, "park-001", {"name": "青岛国际创新园（二期）"}, auth["operator-a"] | {"If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    assert store.current_versions()["parks"].version == 2
    assert store.current_versions()["parks"].loaded_by == "operator-a"
    stored = store.read_layer("parks").set_index("id").loc["park-001"]
    assert stored["name"] == "青岛国际创新园（二期）"
    assert stored["operator"] == before.json()["properties"]["operator"]  # untouched
    assert store.read_layer("parks", version=1).set_index("id").loc["park-001", "name"] == "青岛国际创新园"
    entry = client.get("/audit", headers=auth["clerk"]).json()[-1]
    assert (
        entry["action"] == "park patch"
        and entry["outcome"] == "ok"
        and entry["after"]["name"].endswith("（二期）")
    )
    # the old ETag is now stale
    stale = _patch(client, "park-001", {"address": "株洲路155号"}, auth["operator-a"] | {"If-Match": tag})
    assert stale.status_code == 412


@pytest.mark.parametrize(
    ("park", "body", "who", "status", "words"),
    [
        ("park-002", {"name": "别人的园区"}, "operator-a", 403, "park-002"),
        ("park-001", {"operator": "某公司"}, "operator-a", 403, "operator"),
        ("park-001", {"name": "x"}, "clerk", 403, "clerks"),
        ("park-001", {"industries": ["99999"]}, "operator-a", 422, "industries"),
        ("park-404", {"name": "x"}, "operator-a", 404, "park-404"),
    ],
)
def test_refused_writes_change_nothing_and_are_audited(service, park, body, who, status, words):
    client, auth, store = service
    r = _patch(client, park, body, auth[who] | {"If-Match": "*"})
    assert r.status_code == status and words in r.text
    assert store.current_versions()["parks"].version == 1
    if status != 404:
        assert client.get("/audit", headers=auth["clerk"]).json()[-1]["outcome"] == "refused"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"colour": "red"}, "colour"), ({"name": None}, "name"), ({"name": 5}, "name"),
     ({"name": "园\x00区"}, "name"), ({"address": "路" * 201}, "address"),
     ({"industries": {"a": 1}}, "industries")],
)  # fmt: skip
def test_bodies_that_do_not_fit_the_schema_get_422_naming_the_field(service, body, field):
    client, auth, store = service
    r = _patch(client, "park-001", body, auth["operator-a"] | {"If-Match": "*"})
    assert r.status_code == 422 and field in str(r.json()["detail"])
    assert store.current_versions()["parks"].version == 1


def test_geometry_and_creation_are_not_the_operators(service):
    client, auth, _ = service
    square = {
        "type": "Polygon",
        "coordinates": [[[120.44, 36.12], [120.45, 36.12], [120.45, 36.13], [120.44, 36.12]]],
    }
    feature = {"type": "Feature", "geometry": square, "properties": {"name": "新园区"}}
    assert client.put(f"{PARKS}/park-001", json=feature, headers=auth["operator-a"]).status_code == 403
    assert client.post(PARKS, json=feature, headers=auth["operator-a"]).status_code == 403
    assert client.delete(f"{PARKS}/park-001", headers=auth["operator-a"]).status_code == 403
    assert client.patch(f"{PARKS}/park-001", json={"name": "x"}).status_code == 401


def test_put_replaces_the_descriptive_fields(service):
    client, auth, store = service
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": {"name": "创新园", "address": "株洲路153号"},
    }
    r = client.put(f"{PARKS}/park-001", json=feature, headers=auth["operator-a"] | {"If-Match": "*"})
    assert r.status_code == 200
    stored = store.read_layer("parks").set_index("id").loc["park-001"]
    assert stored["name"] == "创新园" and not isinstance(stored["industries"], list)  # not sent: cleared
