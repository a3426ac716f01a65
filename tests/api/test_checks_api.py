"""Industry picker, geocoding and checks over HTTP, in-process."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings


@pytest.fixture(scope="module")
def client(demo_db):
    settings = Settings(_env_file=None, database_url=demo_db, max_batch=50)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def school(client):
    zones = client.get("/layers/zones/features", params={"limit": 10000}).json()["features"]
    feature = next(f for f in zones if f["properties"]["kind"] == "primary_school")
    ring = feature["geometry"]["coordinates"][0]
    lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    return lon, lat


def test_industries_by_everyday_word(client):
    r = client.get("/industries", params={"q": "网吧"})
    assert r.status_code == 200 and r.json()[0]["code"] == "9013"


def test_geocode_returns_level_and_confidence(client):
    body = client.get("/geocode", params={"q": "崂山区苗岭路9999号"}).json()
    assert body["level"] == "road" and 0 < body["confidence"] < 0.95


def test_check_internet_cafe_at_a_school(client, school):
    lon, lat = school
    r = client.post("/check", json={"industry": "9013", "lon": lon, "lat": lat})
    assert r.status_code == 200
    body = r.json()
    assert body["verdict"] == "prohibited"
    reason = next(x for x in body["reasons"] if x["id"] == "R01-school-200m")
    assert reason["basis"] and reason["message_en"] and reason["evidence"]["threshold_m"] == 200
    assert body["layer_versions"]["rules"] == 1 and body["as_of"]


def test_batch_checks_each_candidate(client, school):
    lon, lat = school
    items = [{"industry": "9013", "lon": lon, "lat": lat, "ref": "a"},
             {"industry": "6513", "lon": 116.4, "lat": 39.9, "ref": "b"}]  # fmt: skip
    body = client.post("/check/batch", json={"items": items}).json()
    assert body["count"] == 2
    assert body["results"][0]["verdict"] == "prohibited"
    assert "outside" in body["results"][1]["error"]


def test_check_against_an_earlier_version(client, school):
    lon, lat = school
    r = client.post(
        "/check", params={"versions": "rules:1"}, json={"industry": "9013", "lon": lon, "lat": lat}
    )
    assert r.status_code == 200
    r = client.post(
        "/check", params={"versions": "rules:9"}, json={"industry": "9013", "lon": lon, "lat": lat}
    )
    assert r.status_code == 404 and "version 9" in r.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"industry": "62", "lon": 120.46, "lat": 36.1}, "industry code '62'"),
        ({"industry": "ABCD", "lon": 120.46, "lat": 36.1}, "industry 'ABCD': no GB/T 4754 entry"),
        ({"industry": "6210", "lon": 116.4, "lat": 39.9}, "lies outside 崂山区"),
        ({"industry": "6210", "lon": 36.1, "lat": 120.46}, "lat"),
        ({"industry": "6210", "address": "火星基地1号"}, "could not be resolved"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "floor": 0}, "floor 0"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "floor": 999}, "floor 999"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "as_of": "2024-13-01"}, "as_of"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "colour": "red"}, "colour"),
        ({"industry": "6210", "lon": "east", "lat": 36.1}, "lon"),
        ({"industry": "6210"}, "give either an address or both lon and lat"),
    ],
)
def test_bad_requests_get_422_naming_the_field(client, body, words):
    r = client.post("/check", json=body)
    assert r.status_code == 422, r.text
    assert words in r.text


def test_oversized_batch_is_refused(client):
    items = [{"industry": "6210", "lon": 120.46, "lat": 36.1}] * 51
    r = client.post("/check/batch", json={"items": items})
    assert r.status_code == 422 and "more than the limit of 50" in r.text


def test_bad_item_in_a_batch_is_named(client):
    items = [{"industry": "6210", "lon": 120.46, "lat": 36.1}, {"industry": "62", "lon": 120.46, "lat": 36.1}]
    r = client.post("/check/batch", json={"items": items})
    assert r.status_code == 422 and "items[1]" in r.text


def test_bad_versions_parameter(client):
    r = client.post(
        "/check", params={"versions": "rules"}, json={"industry": "6210", "lon": 120.46, "lat": 36.1}
    )
    assert r.status_code == 422 and "layer:number" in r.text


def test_industries_resolve_one_class_or_answer_with_the_candidates(client):
    assert client.get("/industries/resolve", params={"q": "我想开一家奶茶店"}).json()["code"] == "6239"
    r = client.get("/industries/resolve", params={"q": "培训机构"})
    assert r.status_code == 422 and "'培训机构'" in r.json()["detail"]
    assert [c["code"] for c in r.json()["candidates"]] == ["8391", "8392", "8393", "8399"]
    assert r.json()["candidates"][2]["name"] == "文化艺术培训"


def test_check_takes_everyday_words_and_asks_when_they_fit_several_classes(client, school):
    lon, lat = school
    r = client.post("/check", json={"industry": "网吧", "lon": lon, "lat": lat})
    assert r.status_code == 200 and r.json()["industry"]["code"] == "9013"
    r = client.post("/check", json={"industry": "电子元件加工", "lon": lon, "lat": lat})
    assert r.status_code == 422
    assert [c["code"] for c in r.json()["candidates"]] == ["3981", "3982", "3983", "3984", "3989"]


def test_batch_names_the_item_whose_words_fit_several_classes(client, school):
    lon, lat = school
    items = [{"industry": "火锅", "lon": lon, "lat": lat}, {"industry": "服装加工", "lon": lon, "lat": lat}]
    r = client.post("/check/batch", json={"items": items})
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "items[1]: industry '服装加工' fits several"
    )
    assert [c["code"] for c in r.json()["candidates"]] == ["1811", "1819", "1821", "1829"]


# A NUL is refused at the door, before any route; other control characters by the industry words.
@pytest.mark.parametrize(("q", "why"), [("奶茶\x00", "NUL character"), ("\x07", "is not text")])
def test_industry_words_with_control_characters_get_422(client, q, why):
    for path in ("/industries", "/industries/resolve"):
        r = client.get(path, params={"q": q})
        assert r.status_code == 422 and why in r.text
    r = client.post("/check", json={"industry": q, "lon": 120.46, "lat": 36.1})
    assert r.status_code == 422 and why in r.text


def test_the_legal_summary_of_a_class_lists_its_rules_with_their_article_text(client):
    r = client.get("/industries/9011/rules", params={"as_of": "2023-01-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["industry"]["code"] == "9011" and body["as_of"] == "2023-01-01"
    rules = {x["id"]: x for x in body["rules"]}
    assert "R02-surroundings" in rules and "R02-surroundings-2013" not in rules  # the text in force
    quoted = rules["R02-surroundings"]["citations"][0]
    assert (
        "幼儿园" in quoted["text"]
        and quoted["law"] == "娱乐场所管理办法"
        and quoted["revision"] == "2022-05-13"
    )
    assert rules["R02-surroundings"]["certainty"] == "local_default"
    assert rules["R02-surroundings"]["severity"] == "review"
    old = client.get("/industries/9011/rules", params={"as_of": "2020-01-01"}).json()
    assert "R02-surroundings-2013" in {x["id"] for x in old["rules"]}
    cafe = client.get("/industries/9013/rules").json()
    assert cafe["prohibited_list"] and all("address" not in p for p in cafe["prohibited_list"])


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/industries/99999/rules", 422, "99999"),
        ("/industries/9099/rules", 422, "9099"),
        ("/industries/9011/rules?as_of=2023-02-30", 422, "as_of"),
    ],
)
def test_the_legal_summary_refuses_a_bad_class_or_date_naming_it(client, path, status, words):
    r = client.get(path)
    assert r.status_code == status and words in r.text


def test_the_legal_summary_page_escapes_what_it_shows(client):
    page = client.get("/industries/9013/rules.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "中学、小学校园周围200米范围内" in page.text and "<script>" not in page.text.replace(
        '<script src="/static/legal.js"></script>', ""
    )


def test_address_suggestions_name_the_nearest_house_numbers_and_each_resolves(client):
    found = client.get("/addresses/suggest", params={"q": "海口路41号", "limit": 3}).json()
    assert len(found) == 3 and {s["road"] for s in found} == {"海口路"}
    for s in found:
        placed = client.get("/geocode", params={"q": s["address"]}).json()
        assert placed["level"] == "house_number" and placed["house_number_id"] == s["house_number_id"]
    assert client.get("/addresses/suggest", params={"q": "不存在的地方"}).json() == []


@pytest.mark.parametrize(
    ("params", "field"), [({"q": ""}, "q"), ({"q": "海口路", "limit": 0}, "limit"), ({"q": "x" * 201}, "q")]
)
def test_bad_suggestion_requests_get_422_naming_the_field(client, params, field):
    r = client.get("/addresses/suggest", params=params)
    assert r.status_code == 422 and field in str(r.json()["detail"])
