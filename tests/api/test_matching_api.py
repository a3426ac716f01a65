"""Matching, comparison and the surface over HTTP."""

import time
from concurrent.futures import ThreadPoolExecutor

import h3
import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.expensive import MAX_WAITING
from siteselect.settings import Settings
from tests.support.serve import running_service


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


def test_fine_surfaces_are_drawn_for_a_street_view_only(client):
    whole = client.get("/surface", params={"industry": "6210", "res": 10})
    assert whole.status_code == 422 and "bbox" in whole.json()["detail"]
    wide = client.get("/surface", params={"industry": "6210", "res": 11, "bbox": "120.44,36.09,120.47,36.12"})
    assert wide.status_code == 422 and "120.44,36.09,120.47,36.12" in wide.json()["detail"]
    box = (120.44, 36.09, 120.46, 36.11)
    view = client.get("/surface", params={"industry": "6210", "res": 11, "bbox": ",".join(map(str, box))})
    assert view.status_code == 200
    cells = view.json()["features"]
    assert len(cells) > 100
    centres = [h3.cell_to_latlng(f["properties"]["cell"]) for f in cells]
    assert all(box[0] - 0.001 <= lon <= box[2] + 0.001 and box[1] - 0.001 <= lat <= box[3] + 0.001
               for lat, lon in centres)  # fmt: skip
    sea = client.get("/surface", params={"industry": "6210", "res": 10, "bbox": "120.9,36.3,120.92,36.32"})
    assert sea.status_code == 200 and sea.json()["features"] == []


def test_a_surface_is_drawn_once_per_layer_versions(client):
    timings, bodies = [], []
    for _ in range(3):
        start = time.monotonic()
        response = client.get("/surface", params={"industry": "8040", "res": 8})
        timings.append(time.monotonic() - start)
        bodies.append(response.content)
    assert bodies[0] == bodies[1] == bodies[2]
    assert max(timings[1:]) < timings[0] / 5, timings


def test_expensive_requests_queue_and_the_queue_is_bounded(demo_db):
    """One surface drawn at a time per worker; with MAX_WAITING waiting, the next one is 503."""
    codes = ["6220", "5211", "5212", "6232", "9013", "8040", "8930", "6233", "5243", "5251", "8391"]
    with running_service(demo_db, SITESELECT_EXPENSIVE_CONCURRENCY="1") as base:

        def draw(code: str, res: int) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=120) as http:
                return http.get("/surface", params={"industry": code, "res": res})

        with ThreadPoolExecutor(len(codes) + 4) as pool:
            first = pool.submit(draw, "6210", 9)  # seconds of drawing, while the others come
            time.sleep(0.5)
            again = [pool.submit(draw, "6210", 9) for _ in range(3)]  # wait for that one, not in the queue
            answers = list(pool.map(draw, codes, [8] * len(codes)))
            assert first.result().status_code == 200
            assert all(a.result().content == first.result().content for a in again)
    busy = [r for r in answers if r.status_code == 503]
    assert len(busy) == len(codes) - MAX_WAITING, [r.status_code for r in answers]
    assert all(int(r.headers["Retry-After"]) > 0 for r in busy)
    assert all(r.status_code == 200 for r in answers if r not in busy)


def test_match_filters_by_park_and_lists_what_it_left_out_on_request(client):
    park = client.get("/layers/parks/features").json()["features"][0]["id"]
    body = {"industry": "9013", "wanted": {"parks": [park], "area_max": 300}, "limit": 5}
    plain = client.post("/match", json=body).json()
    assert all(r["park_id"] == park for r in plain["results"]) and "filtered" not in plain["counts"]
    full = client.post("/match", json=body | {"include_excluded": True}).json()
    assert full["counts"]["checked"] == full["counts"]["candidates"]
    assert set(full["counts"]["filtered"]) == {"area_max", "parks"}
    for left in full["excluded"]:
        assert left["reasons"] or left["filter"] in ("area_max", "parks")
    r = client.post("/match", json=body | {"wanted": {"parks": ["nowhere"]}})
    assert r.status_code == 422 and "parks" in r.json()["detail"]


def test_the_floor_weighs_in_and_a_report_scores_as_the_list_did(client):
    listed = client.post("/match", json={"industry": "6239", "wanted": {"max_rent": 90}, "limit": 3}).json()
    top = listed["results"][0]
    assert top["criteria"]["floor"]["score"] is not None and listed["weights"]["floor"] > 0
    body = {"industry": "6239", "wanted": {"max_rent": 90}, "weights": listed["weights"],
            "sites": [{"vacancy_id": top["id"]}, {"vacancy_id": listed["results"][1]["id"]}]}  # fmt: skip
    compared = client.post("/compare", json=body).json()
    assert compared["sites"][0]["score"] == top["score"]
    assert compared["sites"][0]["criteria"] == top["criteria"]
