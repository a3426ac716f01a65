"""Writes on PostGIS that used to end in a 500: a user name as long as the users table takes, a NUL
in a park's name (COPY refuses it), and the audit log's times as SQLite gives them (with their
offset)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, parks
from siteselect.errors import LayerValidationError
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

pytestmark = pytest.mark.postgis
ITEMS = "/ogc/collections/vacancies/items"
LONG = "创新园运营" * 20  # 100 characters: the longest name a user may have


@pytest.fixture
def service(postgis_url, demo_files):
    store = Store(postgis_url)
    for layer in ("districts", "parks", "vacancies"):
        load_file(store, layer, demo_files[layer])
    accounts.add_user(store, LONG, "operator", ["park-001"])
    accounts.add_user(store, "admin", "admin")
    auth = {
        name: {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"} for name in (LONG, "admin")
    }
    with TestClient(create_app(Settings(_env_file=None, database_url=postgis_url))) as client:  # type: ignore[call-arg]
        yield client, auth, store
    store.close()


def _vacancy(**props):
    base = {"park_id": "park-001", "address": "株洲路153号2层", "area_m2": 80.0, "status": "available"}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
            "properties": base | props}  # fmt: skip


def test_a_user_with_the_longest_name_writes_and_is_refused_without_a_500(service):
    client, auth, _ = service
    made = client.post(ITEMS, json=_vacancy(), headers=auth[LONG])
    assert made.status_code == 201
    url = f"{ITEMS}/{made.json()['id']}"
    assert client.patch(url, json={"rent": 1.0}, headers=auth[LONG]).status_code == 428
    assert (
        client.patch(url, json={"prefiled": True}, headers=auth[LONG] | {"If-Match": "*"}).status_code == 403
    )
    log = client.get("/audit", headers=auth["admin"]).json()[-3:]
    assert [e["outcome"] for e in log] == ["ok", "refused", "refused"]
    assert {e["actor"] for e in log} == {f"operator:{LONG}"}


def test_a_nul_in_a_park_name_is_refused_before_the_store(service):
    client, auth, store = service
    r = client.patch("/ogc/collections/parks/items/park-001", json={"name": "创新\x00园"},
                     headers=auth["admin"] | {"If-Match": "*"})  # fmt: skip
    assert r.status_code == 422 and "name" in str(r.json()["detail"])
    admin = accounts.users(store)[-1]
    with pytest.raises(LayerValidationError, match="NUL"):  # the library refuses it too
        parks.update(store, admin, "park-001", {"name": "创新\x00园"}, if_match="*", merge=True)
    assert store.current_versions()["parks"].version == 1
    assert client.get("/audit", headers=auth["admin"]).json()[-1]["outcome"] == "refused"


def test_audit_times_are_utc_with_their_offset_as_on_sqlite(service):
    client, auth, _ = service
    client.post(ITEMS, json=_vacancy(), headers=auth[LONG])
    at = client.get("/audit", headers=auth["admin"]).json()[-1]["at"]
    assert at.endswith("+00:00")
    assert abs(dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(at)) < dt.timedelta(minutes=5)
