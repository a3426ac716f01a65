"""The web map's base vectors: outlines and roads at once, buildings by view."""

import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings
from siteselect.store import Store


@pytest.fixture(scope="module")
def client(demo_db):
    app = create_app(Settings(_env_file=None, database_url=demo_db))  # type: ignore[call-arg]
    with TestClient(app) as c:
        yield c


def _layers(geojson: dict) -> set[str]:
    return {f["properties"]["layer"] for f in geojson["features"]}


def test_the_base_map_sends_outlines_and_roads_but_no_buildings(client):
    r = client.get("/basemap")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert _layers(r.json()) == {"boundaries", "roads"}


def test_buildings_come_for_the_view_asked_and_only_those(client, demo_db):
    buildings = Store(demo_db).read_layer("buildings")
    some = buildings.geometry.iloc[0].centroid
    box = (some.x - 0.004, some.y - 0.003, some.x + 0.004, some.y + 0.003)
    r = client.get("/basemap/buildings", params={"bbox": ",".join(f"{v:.6f}" for v in box)})
    assert r.status_code == 200
    body = r.json()
    assert _layers(body) == {"buildings"}
    expected = int(shapely.intersects(buildings.geometry.to_numpy(), shapely.box(*box)).sum())
    assert 0 < len(body["features"]) == expected < len(buildings)
    drawn = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in body["features"]])
    assert shapely.box(*box).buffer(0.0005).intersects(drawn)  # drawn where they are, no datum shift


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("", "bbox is required"),
        ("?bbox=120.3,36.0,120.7,36.1", "zoom in to see buildings"),
        ("?bbox=120.5,36.1,120.4,36.2", "is not a box"),
        ("?bbox=a,b,c,d", "bbox"),
    ],
)
def test_a_bad_view_gets_a_422_naming_it(client, query, words):
    r = client.get("/basemap/buildings" + query)
    assert r.status_code == 422 and words in r.text


def test_the_page_gets_the_reports_colours_styles_and_labels_from_the_service(client):
    import html
    import json
    import re

    from siteselect.drawing import page_constants

    page = client.get("/").text
    found = re.search(r'<script id="config"[^>]*>(.*?)</script>', page, re.S)
    config = json.loads(html.unescape(found.group(1)))
    assert {k: config[k] for k in page_constants()} == page_constants()
    script = client.get("/static/app.js").text
    assert "#2e7d32" not in script and "不予登记" not in script  # no second copy in the page's script


def test_the_page_gets_criteria_with_what_each_measures_parks_and_road_names_from_the_service(client):
    import html
    import json
    import re

    page = client.get("/").text
    found = re.search(r'<script id="config"[^>]*>(.*?)</script>', page, re.S)
    config = json.loads(html.unescape(found.group(1)))
    assert set(config["criteria"]) == {"amenities", "clustering", "access", "cost", "size", "floor"}
    zh, _, about_zh, about_en = config["criteria"]["clustering"]
    assert zh == "产业集聚" and "区位商" in about_zh and "location quotient" in about_en
    assert config["parks"] and all(p["id"] and p["name"] for p in config["parks"])
    assert config["categories"]["metro"][:2] == ["地铁站", "metro station"]
    roads = [f for f in client.get("/basemap").json()["features"] if f["properties"]["layer"] == "roads"]
    assert roads and all(f["properties"]["name"] for f in roads)
    assert client.get("/static/favicon.svg").headers["content-type"].startswith("image/svg")


def test_every_script_the_page_names_is_served_by_the_service(client):
    import re

    page = client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/static/protomaps-leaflet.js" in scripts  # draws the buildings from the vector tiles
    for src in scripts:
        r = client.get(src)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), src
    assert "var protomapsL=" in client.get("/static/protomaps-leaflet.js").text
