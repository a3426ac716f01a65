"""The layer endpoints of the service, in-process."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings


@pytest.fixture(scope="module")
def client(demo_db):
    app = create_app(Settings(_env_file=None, database_url=demo_db))  # type: ignore[call-arg]
    with TestClient(app) as c:
        yield c


def test_health_names_loaded_versions(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["layers"]["pois"] == 1


def test_layers_list_every_layer_with_its_version(client):
    layers = {layer["name"]: layer for layer in client.get("/layers").json()}
    assert set(layers) == {
        "districts",
        "roads",
        "buildings",
        "house_numbers",
        "prohibited_addresses",
        "zones",
        "pois",
        "parks",
        "vacancies",
        "rules",
    }
    assert layers["prohibited_addresses"]["current"]["feature_count"] == 82


def test_features_in_a_bbox_as_geojson(client):
    r = client.get("/layers/zones/features", params={"bbox": "120.44,36.09,120.47,36.11", "limit": 5})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] > 5
    assert all("id" in f and "kind" in f["properties"] for f in body["features"])


def test_rules_come_without_geometry(client):
    body = client.get("/layers/rules/features").json()
    assert body["numberReturned"] >= 20
    assert all(f["geometry"] is None for f in body["features"])


def test_versions_of_a_layer(client):
    (v,) = client.get("/layers/pois/versions").json()
    assert v["version"] == 1 and v["feature_count"] >= 3000


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/layers/rivers/features", 404, "unknown layer 'rivers'"),
        ("/layers/zones/features?bbox=1,2,3", 422, '"bbox"],"msg":"String should match pattern'),
        ("/layers/zones/features?bbox=a,b,c,d", 422, '"input":"a,b,c,d"'),
        ("/layers/zones/features?bbox=120.5,36,120.4,36.1", 422, "is not a box"),
        ("/layers/zones/features?limit=0", 422, "limit"),
        ("/layers/zones/features?version=9", 404, "has no stored version 9"),
        ("/layers/zones/versions?x=1", 200, ""),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, path, status, words):
    r = client.get(path)
    assert r.status_code == status
    assert words in r.text


def test_home_page_links_everything_offline(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in r.text and 'href="/ogc/"' in r.text
    assert "http://" not in r.text and "https://" not in r.text  # nothing from outside


def test_api_docs_need_no_cdn(client):
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_me_needs_a_valid_bearer_token(client, demo_db):
    from siteselect import accounts
    from siteselect.store import Store

    store = Store(demo_db)
    accounts.add_user(store, "登记窗口一号", "clerk")
    token, token_id = accounts.create_token(store, "登记窗口一号")
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "clerk"
    missing = client.get("/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/me", headers={"Authorization": "Bearer ss_wrong"}).status_code == 401
    accounts.revoke_token(store, token_id)
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
