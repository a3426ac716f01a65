"""Values PostgreSQL cannot store are refused before they reach it: a NUL in a park's name, in a
listing's address, in a path or a query is a 422 that names it, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, listings, parks
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

pytestmark = pytest.mark.postgis
PARK = "/ogc/collections/parks/items/park-001"
VACANCIES = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def service(postgis, demo_files) -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    from tests.support.postgis import fresh_database

    with fresh_database(postgis, "hostile") as url:
        store = Store(url)
        for layer in LOAD_ORDER:
            load_file(store, layer, demo_files[layer])
        accounts.add_user(store, "op-a", "operator", ["park-001"])
        auth = {"Authorization": f"Bearer {accounts.create_token(store, 'op-a')[0]}"}
        with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
            yield client, auth, store
        store.close()


def _state(store: Store) -> tuple[object, ...]:
    return parks.current(store)[0].to_json(), listings.all_listings(store), store.counts()


def test_a_nul_in_a_park_name_is_refused_and_nothing_is_written(service):
    client, auth, store = service
    before = _state(store)
    etag = client.get(PARK).headers["etag"]
    headers = auth | {"If-Match": etag, "Content-Type": "application/merge-patch+json"}
    r = client.patch(PARK, content='{"name": "创新园\\u0000"}', headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert _state(store) == before


def test_a_nul_in_a_listing_is_refused_and_nothing_is_written(service):
    client, auth, store = service
    before = _state(store)
    body = (
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]}, "properties": '
        '{"park_id": "park-001", "address": "株洲路\\u0000153号", "floor": 5, "area_m2": 120.0, '
        '"rent": 75.0, "use": "office", "status": "available"}}'
    )
    r = client.post(VACANCIES, content=body.encode(), headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "properties", "address"]
    assert _state(store) == before


NUL_URLS = [
    f"{VACANCIES}/V%00",
    "/reports/%00",
    "/ogc/collections/zones/items?datetime=%00",
    "/geocode?q=%00",
]


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_in_a_url_is_a_422_not_a_database_error(service, url):
    client, _, _ = service
    assert client.get(url).status_code == 422
