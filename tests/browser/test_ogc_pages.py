"""The OGC API's pages for people in Chromium: a feature with its small map, a page of features,
Chinese first with an English switch, at a desk's size and a phone's, nothing from outside."""

from __future__ import annotations

import pytest

from tests.support.pages import wait_until

SIZES = [(1366, 768), (390, 844)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=["desktop", "phone"])
def test_a_feature_page_draws_its_map_and_switches_language(watched, service, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    response = page.goto(f"{service}/ogc/collections/vacancies/items/V00006")
    assert response.headers["content-type"].startswith("text/html")
    wait_until(page, "window.siteselectOgc && window.siteselectOgc.ready")
    assert page.evaluate("window.siteselectOgc.drawn") == 1
    assert page.locator("#map canvas").count() >= 1  # the point, drawn by Leaflet
    assert "V00006" in page.inner_text("h1") and "available" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.is_visible("text=图层") and not page.is_visible("text=Collections")
    page.click("#lang")
    assert page.inner_text("#lang") == "中文" and page.is_visible("text=Collections")
    watched.assert_clean()


@pytest.mark.parametrize(("width", "height"), SIZES, ids=["desktop", "phone"])
def test_a_page_of_features_maps_them_all_and_links_on(watched, service, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{service}/ogc/collections/zones/items?limit=20&kind=primary_school")
    wait_until(page, "window.siteselectOgc && window.siteselectOgc.ready")
    rows = page.locator("tbody tr").count()
    assert rows == page.evaluate("window.siteselectOgc.drawn") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator("tbody tr a").first.click()
    wait_until(page, "window.siteselectOgc && window.siteselectOgc.ready")
    assert page.evaluate("window.siteselectOgc.drawn") == 1 and "primary_school" in page.inner_text("main")
    watched.assert_clean()
