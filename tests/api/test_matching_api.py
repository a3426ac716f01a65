"""Matching, comparison and the surface over HTTP."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings


@pytest.fixture(scope="module")
def client(demo_db):
    with TestClient(create_app(Settings(_env_file=None, database_url=demo_db))) as c:  # type: ignore[call-arg]
        yield c


def test_match_by_everyday_word(client):
    body = {"industry": "奶茶", "wanted": {"area_min": 40, "area_max": 200, "max_rent": 150}, "limit": 3}
    r = client.post("/match", json=body)
    assert r.status_code == 200
    result = r.json()
    assert result["industry"]["code"] == "6239" and len(result["results"]) <= 3


def test_compare(client):
    sites = [{"lon": 120.46, "lat": 36.105}, {"address": "崂山区海尔路1号", "rent": 80}]
    r = client.post("/compare", json={"industry": "6232", "sites": sites})
    assert r.status_code == 200 and len(r.json()["sites"]) == 2


def test_surface_is_geojson(client):
    r = client.get("/surface", params={"industry": "网吧", "res": 7})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feature = r.json()["features"][0]
    assert {"cell", "permitted_share", "score"} <= set(feature["properties"])


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/match", {"industry": "奶茶", "weights": {"cost": 0}}, "above zero"),
        ("/match", {"industry": "奶茶", "weights": {"cost": -1}}, "weights"),
        ("/match", {"industry": "奶茶", "wanted": {"area_min": 90, "area_max": 10}}, "area_min"),
        ("/match", {"industry": "奶茶", "wanted": {"streets": ["火星街道"]}}, "streets"),
        ("/match", {"industry": "完全不存在的行业词"}, "industry"),
        ("/match", {"industry": "62"}, "industry code '62'"),
        ("/match", {"industry": "奶茶", "wanted": {"uses": ["castle"]}}, "uses"),
        ("/compare", {"industry": "6232", "sites": [{"lon": 120.46, "lat": 36.1}]}, "sites"),
        ("/compare", {"industry": "6232", "sites": [{"lon": 120.46, "lat": 36.1}] * 6}, "sites"),
    ],
)
def test_bad_requests_get_422(client, path, body, words):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert words in r.text


@pytest.mark.parametrize("res", [5, 12, "x"])
def test_surface_resolution_out_of_range(client, res):
    r = client.get("/surface", params={"industry": "网吧", "res": res})
    assert r.status_code == 422 and "res" in r.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/match", {"industry": "培训机构"}),
        (
            "/compare",
            {"industry": "培训机构", "sites": [{"lon": 120.46, "lat": 36.1}, {"lon": 120.45, "lat": 36.1}]},
        ),
        ("/reports", {"industry": "培训机构", "sites": [{"lon": 120.46, "lat": 36.1}]}),
    ],
)
def test_words_that_fit_several_classes_get_422_with_the_candidates(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 422 and "fits several" in r.json()["detail"]
    assert [c["code"] for c in r.json()["candidates"]] == ["8391", "8392", "8393", "8399"]
