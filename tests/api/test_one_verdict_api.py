"""One premises, one verdict: the same premises asked through every door of the service.

Approximate addresses keep their review in comparisons and reports, a report judges the building
the check found, an operator's new listing is seen by every reader at once, a clerk's pre-filing
shows in the check, and every number in a result is a plain JSON number.
"""

import csv
import shutil
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dependencies import json_response
from siteselect import accounts
from siteselect.check import checker_for
from siteselect.premises import Premises
from siteselect.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ITEMS = "/ogc/collections/vacancies/items"
ROAD = "崂山区苗岭路"  # a road, no house number: the address matches only at road level
TWO_BUILDINGS = "山东省青岛市崂山区苗岭路143号"  # its point lies in another building than its own


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("one-verdict") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        store = client.app.state.store  # type: ignore[attr-defined]
        accounts.add_user(store, "operator-a", "operator", ["park-001"])
        accounts.add_user(store, "clerk", "clerk")
        tokens = {n: accounts.create_token(store, n)[0] for n in ("operator-a", "clerk")}
        yield client, {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}


def _report_verdicts(client, industry, sites):
    made = client.post("/reports", json={"industry": industry, "sites": sites, "as_of": "2026-06-01"})
    assert made.status_code == 201, made.text
    return made.json()["verdicts"], client.get(made.json()["url"]).text


def _inside_an_office(client, n):
    """The n-th office building of park-001 (where operator-a may publish) and a point inside it."""
    snapshot = client.app.state.catalog.current()
    buildings, parks = snapshot.layer("buildings").features, snapshot.layer("parks").features
    outline = parks[parks["id"] == "park-001"].geometry.iloc[0]
    vacancies = snapshot.layer("vacancies").features
    prefiled = vacancies[vacancies["prefiled"].fillna(False).astype(bool)].geometry.union_all()
    inside = buildings[
        (buildings["use"] == "office")
        & buildings.geometry.representative_point().within(outline)
        & ~buildings.geometry.intersects(prefiled)  # none of its premises pre-filed yet
    ]
    office = inside.iloc[n]
    return office, office.geometry.representative_point()


def test_a_road_level_address_asks_for_review_in_comparisons_and_reports_too(service):
    client, _ = service
    check = client.post("/check", json={"industry": "6210", "address": ROAD, "as_of": "2026-06-01"}).json()
    assert check["verdict"] == "review" and "address-level" in {r["id"] for r in check["reasons"]}
    sites = [{"address": ROAD}, {"address": "山东省青岛市崂山区株洲路27号"}]
    compared = client.post(
        "/compare", json={"industry": "6210", "sites": sites, "as_of": "2026-06-01"}
    ).json()
    assert compared["sites"][0]["verdict"] == "review"
    assert "address-level" in {r["id"] for r in compared["sites"][0]["reasons"]}
    verdicts, _ = _report_verdicts(client, "6210", [{"address": ROAD}])
    assert verdicts == ["review"]


def test_the_report_judges_the_building_the_check_found(service):
    client, _ = service
    body = {"industry": "9013", "address": TWO_BUILDINGS, "floor": 2, "as_of": "2026-06-01"}
    check = client.post("/check", json=body).json()
    verdicts, html = _report_verdicts(client, "9013", [{"address": TWO_BUILDINGS, "floor": 2}])
    assert verdicts == [check["verdict"]] == ["review"]
    assert check["building"]["name"] in html
    site = {"address": TWO_BUILDINGS, "floor": 2}
    compared = client.post("/compare", json={"industry": "9013", "sites": [site, site]}).json()
    assert compared["sites"][0]["building_id"] == check["building"]["id"]


def test_a_listing_just_published_is_seen_by_every_reader(service):
    client, auth = service
    office, spot = _inside_an_office(client, 0)
    feature = {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [spot.x, spot.y]},
        "properties": {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5,
                       "area_m2": 120.0, "rent": 1.0, "use": "office", "status": "available"},
    }  # fmt: skip
    made = client.post(ITEMS, json=feature, headers=auth["operator-a"])
    assert made.status_code == 201
    vid = made.json()["id"]
    ranked = client.post("/match", json={"industry": "6513", "limit": 200}).json()
    assert vid in {r["id"] for r in ranked["results"]} | {r["id"] for r in ranked["excluded"]}
    verdicts, _ = _report_verdicts(client, "6513", [{"vacancy_id": vid}])
    check = client.post("/check", json={"industry": "6513", "vacancy_id": vid, "as_of": "2026-06-01"}).json()
    assert verdicts == [check["verdict"]]
    assert check["floor"] == 5 and check["building"]["id"] == office["id"]  # tied to the building under it
    assert "no-building" not in {r["id"] for r in check["reasons"]}
    listed = client.get(ITEMS, params={"limit": 1000}).json()["features"]
    assert vid in {f["id"] for f in listed}


def test_pre_filing_shows_in_the_check_of_those_premises(service):
    client, auth = service
    _, spot = _inside_an_office(client, 0)
    feature = {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [spot.x, spot.y]},
        "properties": {"park_id": "park-001", "address": "株洲路153-1号5层02室", "floor": 5,
                       "area_m2": 80.0, "use": "office", "status": "available"},
    }  # fmt: skip
    vid = client.post(ITEMS, json=feature, headers=auth["operator-a"]).json()["id"]
    body = {"industry": "6513", "vacancy_id": vid, "as_of": "2026-06-01"}
    before = client.post("/check", json=body).json()["address_proof"]
    assert before["prefiled"] is False
    patched = client.patch(
        f"{ITEMS}/{vid}", json={"prefiled": True}, headers=auth["clerk"] | {"If-Match": "*"}
    )
    assert patched.status_code == 200, patched.text
    after = client.post("/check", json=body).json()["address_proof"]
    assert after["prefiled"] is True and vid in after["prefiled_vacancies"]
    _, html = _report_verdicts(client, "6513", [{"vacancy_id": vid}])
    assert f"pre-filed premises {vid}" in html


def test_a_listing_without_geometry_is_a_422_naming_it(service):
    client, auth = service
    feature = {"type": "Feature", "geometry": None,
               "properties": {"park_id": "park-001", "address": "株洲路1号", "area_m2": 80.0,
                              "status": "available"}}  # fmt: skip
    refused = client.post(ITEMS, json=feature, headers=auth["operator-a"])
    assert refused.status_code == 422 and "geometry" in refused.text


def test_checks_near_listed_points_serialise_their_thresholds_as_plain_numbers(service):
    client, _ = service
    entries = client.app.state.catalog.current().layer("prohibited_addresses").features
    points = entries[(entries.geom_type == "Point") & entries["industries"].map(lambda i: "*" in i)]
    bodies = [
        {"industry": "9013", "lon": g.x + 3e-5, "lat": g.y, "as_of": "2026-06-01"} for g in points.geometry
    ]
    results = []
    for body in bodies[:30]:
        checked = client.post("/check", json=body)
        assert checked.status_code in (200, 422), checked.text  # 422: a shifted point outside the district
        results += [checked.json()] if checked.status_code == 200 else []
    batch = client.post("/check/batch", json={"items": bodies})
    assert batch.status_code == 200, batch.text
    near = [
        r["evidence"]
        for res in results
        for r in res["reasons"]
        if r["evidence"].get("match") == "within_radius"
    ]
    assert near and all(type(e["threshold_m"]) is float and type(e["distance_m"]) is float for e in near)
    for result in results:
        assert orjson.loads(json_response(result).body) == result


def test_every_result_of_the_golden_set_serialises_through_the_service_encoder(service):
    """Every house number and every address case of the demo, for several industries, judged by the
    library and written by the encoder the service answers with: plain JSON numbers throughout."""
    client, _ = service
    snapshot = client.app.state.catalog.current()
    cases = csv.DictReader((ROOT / "tests" / "data" / "address_cases.csv").open(encoding="utf-8"))
    places = [{"address": a} for a in snapshot.layer("house_numbers").features["address"]]
    places += [{"address": c["query"]} for c in cases]
    places += [{"vacancy_id": v} for v in snapshot.layer("vacancies").features["id"]]
    entries = snapshot.layer("prohibited_addresses").features
    places += [{"lon": g.x + 3e-5, "lat": g.y} for g in entries.geometry if g.geom_type == "Point"]
    checker = checker_for(snapshot)
    for industry in ("9013", "6210", "5271"):
        premises = [Premises(industry=industry, floor=2, **p) for p in places]
        results = checker.check_many(premises)
        written = orjson.loads(json_response({"results": results}).body)["results"]
        for result, back in zip(results, written):
            assert _differences(result, back) == [], result["ref"]


def _differences(a, b, path=""):
    """Where a value and its JSON round trip differ (a NaN, a tuple, a numpy scalar would)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in a.keys() | b.keys() for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [(path, a, b)]
