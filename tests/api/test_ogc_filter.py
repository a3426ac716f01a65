"""OGC API Features Parts 2-4 in-process: queryables, property and CQL2 filters, CRS, the declared
writes and their locking in the OpenAPI document, and pages for browsers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.app import create_app
from siteselect import accounts
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

ITEMS = "/ogc/collections/{}/items"
OGC = "http://www.opengis.net/spec/"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
HOSTILE = '<img src=x onerror="alert(1)"></script>'


@pytest.fixture(scope="module")
def service(tmp_path_factory, demo_files):
    url = f"sqlite:///{tmp_path_factory.mktemp('ogc-filter') / 'store.db'}"
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, demo_files[layer])
    accounts.add_user(store, "admin", "admin")
    token = accounts.create_token(store, "admin")[0]
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, store, {"Authorization": f"Bearer {token}"}


def _ids(body):
    return sorted(f["id"] for f in body["features"])


def _all(client, layer, **params):
    r = client.get(ITEMS.format(layer), params={"limit": 10_000, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_conformance_declares_filtering_crs_and_writes(service):
    client, _, _ = service
    conforms = set(client.get("/ogc/conformance").json()["conformsTo"])
    assert {
        f"{OGC}ogcapi-features-2/1.0/conf/crs",
        f"{OGC}ogcapi-features-3/1.0/conf/queryables",
        f"{OGC}ogcapi-features-3/1.0/conf/features-filter",
        f"{OGC}cql2/1.0/conf/cql2-text",
        f"{OGC}cql2/1.0/conf/cql2-json",
        f"{OGC}ogcapi-features-4/1.0/conf/create-replace-delete",
        f"{OGC}ogcapi-features-4/1.0/conf/update",
        f"{OGC}ogcapi-features-1/1.0/conf/html",
    } <= conforms


def test_queryables_are_the_layer_specs_fields_with_types_and_enums(service):
    client, _, _ = service
    r = client.get("/ogc/collections/vacancies/queryables")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    props = r.json()["properties"]
    assert props["status"]["enum"] == ["available", "reserved", "leased", "withdrawn"]
    assert props["floor"]["type"] == "integer" and props["area_m2"]["type"] == "number"
    assert props["prefiled"]["type"] == "boolean"
    assert props["available_from"] == {"title": "available_from", "type": "string", "format": "date"}
    assert props["geometry"]["format"] == "geometry-point-or-multi"
    rules = client.get("/ogc/collections/rules/queryables").json()["properties"]
    assert "params" not in rules and "basis" not in rules and "geometry" not in rules


def test_simple_property_filters_and_their_errors(service):
    client, store, _ = service
    body = _all(client, "vacancies", status="available", park_id="park-001")
    from siteselect import listings

    expected = [x["id"] for x in listings.all_listings(store)
                if x["status"] == "available" and x["park_id"] == "park-001"]  # fmt: skip
    assert body["numberMatched"] == len(expected) > 0 and _ids(body) == sorted(expected)
    floors = _all(client, "vacancies", floor="3")
    assert floors["features"] and {f["properties"]["floor"] for f in floors["features"]} == {3}

    r = client.get(ITEMS.format("vacancies"), params={"colour": "red"})
    assert r.status_code == 400 and "'colour'" in r.json()["detail"] and "queryables" in r.json()["detail"]
    r = client.get(ITEMS.format("vacancies"), params={"floor": "third"})
    assert r.status_code == 400 and "floor='third'" in r.json()["detail"]


def test_cql2_text_and_json_give_the_same_features(service):
    client, _, _ = service
    text = "status = 'available' AND area_m2 > 200 AND NOT prefiled = true"
    as_json = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "status"}, "available"]},
        {"op": ">", "args": [{"property": "area_m2"}, 200]},
        {"op": "not", "args": [{"op": "=", "args": [{"property": "prefiled"}, True]}]},
    ]}  # fmt: skip
    by_text = _all(client, "vacancies", filter=text)
    by_json = _all(client, "vacancies", filter=json.dumps(as_json), **{"filter-lang": "cql2-json"})
    assert by_text["numberMatched"] > 0 and _ids(by_text) == _ids(by_json)
    for f in by_text["features"]:
        p = f["properties"]
        assert p["status"] == "available" and p["area_m2"] > 200 and p["prefiled"] is not True


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"filter": "colour = 'red'"}, "'colour'"),
        ({"filter": "status = = 'x'"}, "not valid cql2-text"),
        ({"filter": "{", "filter-lang": "cql2-json"}, "not valid cql2-json"),
        ({"filter": "floor = 'high'"}, "'high'"),
        ({"filter": "S_INTERSECTS(geometry, POINT(1 2)) AND address LIKE 3"}, "LIKE"),
        ({"filter": "T_BEFORE(address, DATE('2020-01-01'))"}, "'address' is not a date"),
        ({"filter": "S_DWITHIN(geometry, POINT(120.4 36.1), 10, furlongs)"}, "furlongs"),
        ({"filter": "S_DWITHIN(geometry, LINESTRING(120.4 36.1, 120.5 36.2), 10, meters)"}, "LineString"),
        ({"filter": "floor + 1 > 3"}, "'+'"),
        ({"filter-lang": "ecql", "filter": "floor > 3"}, "filter-lang"),
    ],
)
def test_bad_filters_are_400_naming_what_is_wrong(service, params, named):
    client, store, _ = service
    before = store.counts()
    r = client.get(ITEMS.format("vacancies"), params=params)
    assert r.status_code in (400, 422), r.text
    assert named in json.dumps(r.json(), ensure_ascii=False)
    assert store.counts() == before


def test_a_filter_on_a_collection_without_geometry_refuses_spatial_operators(service):
    client, _, _ = service
    r = client.get(ITEMS.format("rules"), params={"filter": "S_INTERSECTS(geometry, POINT(120.4 36.1))"})
    assert r.status_code == 400 and "no geometry" in r.json()["detail"]
    body = _all(client, "rules", filter="severity = 'prohibited'")
    assert body["numberMatched"] > 0
    assert {f["properties"]["severity"] for f in body["features"]} == {"prohibited"}


def test_next_links_keep_the_filter(service):
    client, _, _ = service
    url = ITEMS.format("pois") + "?category=dining&limit=50"
    seen, matched = [], None
    while url:
        body = client.get(url).json()
        matched = body["numberMatched"]
        seen += [f["id"] for f in body["features"]]
        assert {f["properties"]["category"] for f in body["features"]} <= {"dining"}
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert len(seen) == len(set(seen)) == matched > 50


def test_crs_gives_each_system_in_its_own_axis_order(service):
    client, _, _ = service
    params = {"filter": "category = 'metro'"}
    base = _all(client, "pois", **params)
    assert base["features"]
    lonlat = np.array([f["geometry"]["coordinates"] for f in base["features"]])
    for code, expect in [
        ("4326", lonlat[:, ::-1]),
        ("4490", lonlat[:, ::-1]),  # CGCS2000: latitude first, equal to WGS-84 at this accuracy
        ("3857", np.column_stack(Transformer.from_crs(4326, 3857, always_xy=True).transform(*lonlat.T))),
    ]:
        r = client.get(ITEMS.format("pois"), params={"limit": 10_000, "crs": f"EPSG:{code}", **params})
        assert r.headers["content-crs"] == f"<{EPSG}{code}>"
        got = np.array([f["geometry"]["coordinates"] for f in r.json()["features"]])
        assert np.allclose(got, expect, atol=1e-9 if code != "3857" else 1e-3)
    one = base["features"][0]["id"]
    r = client.get(f"{ITEMS.format('pois')}/{one}", params={"crs": f"{EPSG}4490"})
    assert r.headers["content-crs"] == f"<{EPSG}4490>"
    assert r.json()["geometry"]["coordinates"] == pytest.approx(lonlat[0][::-1].tolist())
    r = client.get(ITEMS.format("pois"), params={"crs": "EPSG:2385"})
    assert r.status_code == 422 and "EPSG:2385" in r.text


def test_bbox_crs_and_filter_crs_give_the_same_features_as_crs84(service):
    client, _, _ = service
    minx, miny, maxx, maxy = 120.44, 36.09, 120.47, 36.11
    crs84 = _ids(_all(client, "zones", bbox=f"{minx},{miny},{maxx},{maxy}"))
    assert crs84
    by_lat_lon = _all(client, "zones", bbox=f"{miny},{minx},{maxy},{maxx}", **{"bbox-crs": f"{EPSG}4326"})
    assert _ids(by_lat_lon) == crs84
    wkt = shapely.box(miny, minx, maxy, maxx).wkt  # EPSG:4490, latitude first
    by_filter = _all(client, "zones", filter=f"S_INTERSECTS(geometry, {wkt})", **{"filter-crs": "EPSG:4490"})
    assert _ids(by_filter) == crs84


def test_collections_list_their_systems(service):
    client, _, _ = service
    zones = client.get("/ogc/collections/zones").json()
    assert zones["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert f"{EPSG}4490" in zones["crs"] and f"{EPSG}3857" in zones["crs"]


def test_openapi_documents_the_writes_and_their_locking(service):
    client, _, _ = service
    doc = client.get("/openapi.json").json()
    item = doc["paths"]["/ogc/collections/vacancies/items/{feature_id}"]
    for method in ("put", "patch", "delete"):
        responses = item[method]["responses"]
        assert {"412", "428"} <= set(responses)
        if_match = [p for p in item[method]["parameters"] if p["name"].lower() == "if-match"]
        assert if_match and if_match[0]["required"]
    assert "ETag" in item["put"]["responses"]["200"]["headers"]
    created = doc["paths"]["/ogc/collections/vacancies/items"]["post"]["responses"]["201"]
    assert {"ETag", "Location"} <= set(created["headers"])
    items = doc["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    assert {"filter", "filter-lang", "filter-crs", "crs", "bbox-crs"} <= {
        p["name"] for p in items["parameters"]
    }


def test_browsers_get_pages_and_programs_json(service):
    client, _, _ = service
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ["/ogc/", "/ogc/collections", "/ogc/collections/zones", ITEMS.format("zones")]:
        page = client.get(path, headers=html)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert "/static/leaflet.js" in page.text and "<script>" not in page.text
        assert (
            client.get(path, headers=html, params={"f": "json"})
            .headers["content-type"]
            .startswith(("application/json", "application/geo+json"))
        )
        assert (
            client.get(path).headers["content-type"].startswith(("application/json", "application/geo+json"))
        )
    assert (
        client.get(ITEMS.format("zones"), params={"f": "html"})
        .headers["content-type"]
        .startswith("text/html")
    )


def test_pages_show_hostile_text_as_text(service):
    client, _, auth = service
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
               "properties": {"park_id": "park-001", "address": HOSTILE, "floor": 5, "area_m2": 120.0,
                              "rent": 75.0, "use": "office", "status": "available"}}  # fmt: skip
    r = client.post(ITEMS.format("vacancies"), json=feature, headers=auth)
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    for url in [
        f"{ITEMS.format('vacancies')}/{fid}?f=html",
        f"{ITEMS.format('vacancies')}?f=html&limit=10000",
    ]:
        page = client.get(url).text
        assert HOSTILE not in page and "<img" not in page
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;/script&gt;" in page  # in the table, as text
        block = page.split('id="ogc-features">', 1)[1].split("</script>", 1)[0]
        data = json.loads(block)  # the map's data, intact
        assert HOSTILE in [f["properties"]["address"] for f in data.get("features", [data])]
