"""The web map in a real browser: it loads clean, searches, shows verdicts and opens reports."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.support.pages import wait_until

READY = "window.siteselect && window.siteselect.ready"
SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


def _open(watched, service):
    page = watched.page
    page.goto(f"{service}/")
    wait_until(page, READY)
    return page


def test_page_loads_with_the_district_drawn_and_nothing_failing(watched, service):
    page = _open(watched, service)
    drawn = page.evaluate("window.siteselect.base.getLayers().length")
    assert drawn > 20  # roads and outlines, as vectors: no tiles by default
    assert page.inner_text("h1") == "崂山区智能选址"
    watched.assert_clean()


# Each building tile as it is shown: its zoom and the pixels painted on it (protomaps-leaflet paints
# a tile's canvas before Leaflet announces it loaded).
COUNT_PAINTED = """(() => {
    window.painted = {};
    window.siteselect.buildings.on("tileload", (e) => {
        const data = e.tile.getContext("2d").getImageData(0, 0, e.tile.width, e.tile.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
        window.painted[e.coords.z] = (window.painted[e.coords.z] || 0) + n;
    });
})()"""


@pytest.mark.parametrize("size", SIZES)
def test_buildings_are_drawn_from_vector_tiles_at_every_zoom(watched, service, demo_db, size):
    from siteselect.store import Store

    spot = Store(demo_db).read_layer("buildings").geometry.iloc[0].representative_point()
    page = watched.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlparse(r.url).path))
    page.goto(f"{service}/")
    wait_until(page, READY)
    page.evaluate(COUNT_PAINTED)
    data_zooms = set()
    for zoom in (12, 14, 16, 18):
        page.evaluate(f"window.siteselect.map.setView([{spot.y}, {spot.x}], {zoom}, {{animate: false}})")
        wait_until(page, f"(window.painted[{zoom}] || 0) > 0")  # buildings painted at this zoom
        data_zooms |= {int(p.split("/")[3]) for p in asked if p.startswith("/tiles/buildings/")}
        assert min(zoom - 1, 15) in data_zooms  # a tile of the zoom below, drawn twice as large
    assert max(data_zooms) == 15  # closer views scale the street tiles: asked for once
    assert not [p for p in asked if p.startswith("/basemap/buildings")]
    watched.assert_clean()


def test_search_puts_ranked_results_on_the_map_and_a_click_shows_the_verdict(watched, service):
    page = _open(watched, service)
    page.fill("#industry", "奶茶")
    page.fill("#max-rent", "150")
    page.click("#search")
    page.wait_for_selector("#results li")
    items = page.locator("#results li")
    assert items.count() == page.evaluate("window.siteselect.markers.getLayers().length") > 0
    scores = [float(s) for s in page.locator("#results li .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    items.nth(0).click()
    page.wait_for_selector("#detail:not([hidden])")
    assert page.inner_text("#detail .badge") in ("可登记", "需人工核查")
    assert page.locator("#detail .criteria li").count() == 6
    page.click("#detail .make-report")
    page.wait_for_selector("#detail .report-link:not([hidden])")
    assert page.get_attribute("#detail .report-link", "href").startswith("/reports/")
    page.check("#surface")
    wait_until(page, "document.getElementById('status').textContent.startsWith('适宜性')")
    watched.assert_clean()


def test_clerk_checks_an_address_and_the_report_renders_its_map(watched, service):
    page = _open(watched, service)
    page.click("button[data-mode=check]")
    page.fill("#industry", "网吧")
    page.fill("#address", "海口路42号")
    page.click("#check-button")
    page.wait_for_selector("#detail .verdict")
    # no floor given: whether the café is two floors down (the fire code's limit) is for a clerk to see
    assert page.inner_text("#detail .verdict") == "需人工核查"
    page.click("#detail .make-report")
    page.wait_for_selector("#detail .report-link:not([hidden])")
    report = watched.page.context.new_page()
    report.goto(service + page.get_attribute("#detail .report-link", "href"))
    report.wait_for_selector(".leaflet-container canvas")
    maps = "Object.keys(window).filter(k => k.startsWith('map_'))"
    layers = report.evaluate(f"{maps}.map(k => Object.keys(window[k]._layers).length)")
    assert layers and layers[0] > 20  # the premises, its building, amenities, zones, roads ...
    assert "选址核查报告" in report.inner_text("h1")
    watched.assert_clean()


def test_english_switch(watched, service):
    page = _open(watched, service)
    page.click("#lang")
    assert page.inner_text("h1") == "Laoshan site selection"
    assert page.inner_text("#search") == "Search"
    watched.assert_clean()


def test_the_pages_gcj02_shift_matches_the_librarys(watched, service):
    """With a GCJ-02 base map the page shifts what it draws itself: the same numbers as coords.py."""
    from siteselect.coords import wgs84_to_gcj02

    page = _open(watched, service)
    for lon, lat in [(120.45, 36.1), (120.62, 36.2), (120.38, 36.05)]:
        x, y = page.evaluate(f"gcj02({lon}, {lat})")
        ex, ey = wgs84_to_gcj02(lon, lat)
        assert abs(x - float(ex)) < 1e-9 and abs(y - float(ey)) < 1e-9
        assert abs(x - lon) > 1e-4  # a real shift (hundreds of metres), not a no-op
    watched.assert_clean()


def test_switching_language_redraws_what_is_shown(watched, service):
    page = _open(watched, service)
    page.fill("#industry", "奶茶")
    page.click("#search")
    page.wait_for_selector("#results li")
    page.locator("#results li").nth(1).click()
    page.wait_for_selector("#detail:not([hidden])")
    address = page.inner_text("#detail h2")
    page.click("#lang")
    assert page.inner_text("#detail .badge") in ("permitted", "review")
    assert page.inner_text("#detail h2") == address  # the same result, still selected
    assert "within 500 m" in page.inner_text("#detail .criteria")
    watched.assert_clean()


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)])
def test_words_that_fit_several_industries_are_offered_to_choose_from(watched, service, size):
    page = _open(watched, service)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.click("button[data-mode=check]")
    page.fill("#industry", "培训机构")
    page.fill("#address", "海口路42号")
    page.click("#check-button")
    page.wait_for_selector("#industry-choices:not([hidden]) button")
    codes = page.eval_on_selector_all("#industry-choices button", "bs => bs.map(b => b.dataset.code)")
    assert codes == ["8391", "8392", "8393", "8399"]
    assert "请选择" in page.inner_text("#industry-choices")
    page.click("#industry-choices button[data-code='8393']")
    page.wait_for_selector("#detail .verdict")
    assert page.input_value("#industry") == "8393 文化艺术培训"
    assert page.locator("#industry-choices").is_hidden()
    # the service's answer to the words was a 422 with the candidates: expected, and nothing else went wrong
    asked = [p for p in watched.problems if "422" in p]
    assert asked and all("/industries/resolve" in p or "status of 422" in p for p in asked)
    watched.problems = [p for p in watched.problems if p not in asked]
    watched.assert_clean()
