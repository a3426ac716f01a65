"""Text from data and users is shown as text in the pages, never run: an operator's vacancy, a
report's site and a street name that carry markup, in Chromium under the service's own
Content-Security-Policy (a violation is a console error, which fails the test)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import geopandas as gpd
import pytest
import shapely

from siteselect import accounts
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.store import Store
from tests.support.pages import wait_until
from tests.support.serve import running_service

PWN = '"><img src=x onerror="window.__pwned=1">'
STREET = f"金家岭街道{PWN}</script>&amp;"
BUILDING = f"<b>海尔大厦</b>{PWN}&lt;"
SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]
READY = "window.siteselect && window.siteselect.ready"


@pytest.fixture(scope="module")
def hostile(demo_files, tmp_path_factory) -> Iterator[str]:
    """The demo with a street and a building named with markup and an operator's vacancy whose
    address is markup."""
    folder = tmp_path_factory.mktemp("hostile")
    districts = json.loads(demo_files["districts"].read_text(encoding="utf-8"))
    street = next(f for f in districts["features"] if f["properties"]["level"] == "street")
    street["properties"]["name"] = STREET
    buildings = gpd.read_file(demo_files["buildings"])  # a GeoPackage
    buildings.loc[0, "name"] = BUILDING
    files = dict(demo_files) | {
        "districts": folder / "districts.geojson",
        "buildings": folder / "buildings.gpkg",
    }
    files["districts"].write_text(json.dumps(districts, ensure_ascii=False), encoding="utf-8")
    buildings.to_file(files["buildings"])
    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer])
    accounts.add_user(store, "operator", "operator", ["park-001"])
    token = accounts.create_token(store, "operator")[0]
    store.close()
    with running_service(url) as base:
        vacancy = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
            "properties": {"park_id": "park-001", "address": PWN, "floor": 5, "area_m2": 4321.0,
                           "rent": 75.0, "use": "office", "status": "available"},
        }  # fmt: skip
        _post(f"{base}/ogc/collections/vacancies/items", vacancy, {"Authorization": f"Bearer {token}"})
        yield base


def _post(url: str, body: object, headers: dict[str, str] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"} | (headers or {})
    )
    with urllib.request.urlopen(request) as response:
        made: dict[str, object] = json.loads(response.read() or b"{}")
        return made


def _hover(page, layer: str) -> None:
    """Move the mouse onto a circle marker (drawn on a canvas: no element to hover)."""
    page.locator(".leaflet-container").first.scroll_into_view_if_needed()
    x, y = page.evaluate(
        f"""(() => {{
            const layer = {layer}, map = layer._map, at = map.latLngToContainerPoint(layer.getLatLng());
            const box = map.getContainer().getBoundingClientRect();
            return [box.left + at.x, box.top + at.y];
        }})()"""
    )
    page.mouse.move(x, y)


def test_a_vacancy_address_with_markup_shows_as_text_in_its_tooltip(watched, hostile):
    page = watched.page
    page.goto(f"{hostile}/")
    wait_until(page, READY)
    page.fill("#industry", "6210")
    page.fill("#area-min", "4300")
    page.fill("#area-max", "4400")
    page.click("#search")
    page.wait_for_selector("#results li")
    assert page.inner_text("#results li .addr") == PWN
    _hover(page, "window.siteselect.markers.getLayers()[0]")
    tooltip = ".leaflet-tooltip:not(.road-label)"  # the premises', not a road's name
    page.wait_for_selector(tooltip)
    assert page.inner_text(tooltip) == f"1. {PWN}"
    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.evaluate("window.__pwned") is None
    watched.assert_clean()


def test_a_street_name_with_markup_reaches_the_page_as_written(watched, hostile):
    page = watched.page
    page.goto(f"{hostile}/")
    wait_until(page, READY)
    assert STREET in page.inner_text("#streets")
    assert page.locator("#streets img").count() == 0
    assert page.evaluate("window.__pwned") is None
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_a_building_named_with_markup_shows_as_text_in_its_tooltip(watched, hostile, size):
    """The building under the pointer (or tapped on a phone) is named from its vector tile, as text."""
    page = watched.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{hostile}/")
    wait_until(page, READY)
    with urllib.request.urlopen(f"{hostile}/ogc/collections/buildings/items?limit=1000") as response:
        named = next(f for f in json.load(response)["features"] if f["properties"]["name"] == BUILDING)
    spot = shapely.geometry.shape(named["geometry"]).representative_point()
    page.evaluate(
        "window.siteselect.buildings.once('load', () => { window.tilesShown = true; });"
        f"window.siteselect.map.setView([{spot.y}, {spot.x}], 18, {{animate: false}})"
    )
    wait_until(page, "window.tilesShown")
    page.locator(".leaflet-container").first.scroll_into_view_if_needed()  # below the form on a phone
    x, y = page.evaluate(
        f"""(() => {{
            const map = window.siteselect.map, at = map.latLngToContainerPoint([{spot.y}, {spot.x}]);
            const box = map.getContainer().getBoundingClientRect();
            return [box.left + at.x, box.top + at.y];
        }})()"""
    )
    if size[0] > 800:
        page.mouse.move(x, y)  # pointed at
    else:
        page.mouse.click(x, y)  # tapped, as on a phone
    page.wait_for_selector(".building-label")
    assert page.inner_text(".building-label").startswith(BUILDING)
    assert page.locator(".building-label img, .building-label b").count() == 0
    assert page.evaluate("window.__pwned") is None
    watched.assert_clean()


def test_a_report_site_with_markup_shows_as_text_in_the_reports_map(watched, hostile):
    site = {"address": f"<img src=x onerror=window.__pwned=1>海口路42号{PWN}"}
    made = _post(f"{hostile}/reports", {"industry": "9013", "sites": [site]})
    page = watched.page
    page.goto(f"{hostile}{made['url']}")
    page.wait_for_selector(".leaflet-container canvas")
    assert site["address"] in page.inner_text(".site h2")  # the page's own text, escaped by the template
    maps = "Object.keys(window).filter(k => k.startsWith('map_'))"
    marker = (
        f"Object.values(window[{maps}[0]]._layers)"
        ".find(l => l.feature && String(l.feature.properties.name).includes('onerror'))"
    )
    # Hovered as the mouse hovers it (the site now lies on its house number, where a business's
    # point may sit over it): the event bubbles to the group whose tooltip folium fills from the data.
    page.evaluate(
        f"(() => {{ const l = {marker}; l.fire('mouseover', {{latlng: l.getLatLng()}}, true); }})()"
    )
    page.wait_for_selector(".leaflet-tooltip")
    assert site["address"] in page.inner_text(".leaflet-tooltip")
    assert page.locator(".leaflet-tooltip img").count() == 0
    page.click(".leaflet-control-layers")  # the layer list: names from the data, as text
    assert page.locator(".leaflet-control-layers img").count() == 0
    assert page.evaluate("window.__pwned") is None
    watched.assert_clean()


@pytest.mark.parametrize(("path", "shown"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_the_api_docs_run_under_the_policy_with_nothing_from_outside(watched, hostile, path, shown):
    page = watched.page
    response = page.goto(f"{hostile}{path}")
    scripts = response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert "'unsafe-inline'" not in scripts
    page.wait_for_selector(shown)
    assert "siteselect" in page.inner_text(shown)
    page.wait_for_load_state("networkidle")
    watched.assert_clean()


def test_the_page_and_reports_keep_to_their_policy(watched, hostile):
    """Every script the pages run is allowed by the policy: the web map's files, a report's inline
    scripts by their hashes, the print button without an inline handler."""
    page = watched.page
    page.goto(f"{hostile}/")
    wait_until(page, READY)
    made = _post(f"{hostile}/reports", {"industry": "9013", "sites": [{"address": "海口路42号"}]})
    page.goto(f"{hostile}{made['url']}")
    page.wait_for_selector(".leaflet-container canvas")
    page.evaluate("() => { window.print = () => { window.printed = true; }; }")  # (a function is called)
    assert page.evaluate("window.printed") is None
    page.click("#print")
    assert page.evaluate("window.printed") is True
    watched.assert_clean()
