"""OGC API – Features, read side, in-process."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings
from siteselect.store import Store


@pytest.fixture(scope="module")
def client(demo_db):
    with TestClient(create_app(Settings(_env_file=None, database_url=demo_db))) as c:  # type: ignore[call-arg]
        yield c


def test_landing_page_and_conformance(client):
    links = {link["rel"]: link["href"] for link in client.get("/ogc/").json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    conforms = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms


def test_every_layer_is_a_collection(client):
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert ids == ["districts", "roads", "buildings", "house_numbers", "prohibited_addresses", "zones",
                   "pois", "parks", "vacancies", "rules"]  # fmt: skip
    zones = client.get("/ogc/collections/zones").json()
    minx, miny, maxx, maxy = zones["extent"]["spatial"]["bbox"][0]
    assert 120.3 < minx < maxx < 121 and 35.8 < miny < maxy < 36.4


def test_paging_by_next_links_returns_every_feature_once(client, demo_db):
    url, seen = "/ogc/collections/pois/items?limit=1000", []
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        body = r.json()
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    stored = Store(demo_db).read_layer("pois")
    assert sorted(seen) == sorted(stored["id"]) and len(seen) == len(set(seen))


def test_bbox_and_item_by_id(client):
    body = client.get("/ogc/collections/zones/items", params={"bbox": "120.44,36.09,120.47,36.11"}).json()
    assert 0 < body["numberMatched"] < 214
    first = body["features"][0]
    one = client.get(f"/ogc/collections/zones/items/{first['id']}").json()
    assert one["id"] == first["id"] and one["geometry"] == first["geometry"]


def test_limit_beyond_the_maximum_is_clamped(client):
    body = client.get("/ogc/collections/pois/items", params={"limit": 50_000}).json()
    assert body["numberReturned"] == min(body["numberMatched"], 10_000)
    assert "limit=10000" in body["links"][0]["href"]


def test_datetime_picks_the_version_loaded_by_then(client):
    r = client.get("/ogc/collections/zones/items", params={"datetime": "2001-01-01T00:00:00Z"})
    assert r.status_code == 404 and "as of 2001-01-01" in r.text
    r = client.get("/ogc/collections/zones/items", params={"datetime": "2999-01-01T00:00:00Z", "limit": 1})
    # the demo's zones, the seven areas the law draws among them
    assert r.status_code == 200 and r.json()["numberMatched"] == 221


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ogc/collections/rivers", 404),
        ("/ogc/collections/rivers/items", 404),
        ("/ogc/collections/zones/items/nope", 404),
        ("/ogc/collections/zones/items?bbox=1,2,3", 422),
        ("/ogc/collections/zones/items?limit=0", 422),
        ("/ogc/collections/zones/items?datetime=yesterday", 422),
    ],
)
def test_bad_requests(client, path, status):
    assert client.get(path).status_code == status
