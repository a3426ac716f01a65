"""A report printed from Chromium: one click prints, and one site — a quiet one or a busy one with
many findings — fits on at most two A4 pages, with the map sized for paper and no map controls."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader

from tests.browser.conftest import ARTEFACTS

VIEWPORTS = [(1366, 768), (390, 844)]
PAPER_PX = (210 - 2 * 12) / 25.4 * 96  # an A4 page's width less its margins, in CSS pixels
FILING = {"application_no": "PRINT-2026-0042", "applicant": "青岛海岸网络科技有限公司", "clerk": "王窗口"}
SITES = {
    "quiet": {"industry": "6239", "sites": [{"vacancy_id": "V00006"}]},
    # a dance hall beside a middle school, among homes: a dozen rules, most violated or unresolved
    "busy": {"industry": "9011", "sites": [{"lon": 120.446735, "lat": 36.099617}]},
}


def _made(base: str, kind: str) -> str:
    body = SITES[kind] | {"as_of": "2026-06-01", "filing": FILING}
    made = httpx.post(f"{base}/reports", json=body, timeout=120)
    assert made.status_code == 201, made.text
    return f"{base}{made.json()['url']}"


@pytest.mark.parametrize("kind", SITES)
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_one_click_prints_one_site_on_at_most_two_a4_pages(watched, service, kind, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(_made(service, kind))
    page.wait_for_selector(".leaflet-container canvas")
    rows = page.locator("table.checked tr[class^=row-]")
    if kind == "busy":
        findings = page.locator("table.checked tr:not(.row-passed)")
        assert rows.count() >= 12 and findings.count() - 1 >= 6  # less the header row

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # fits the screen
    button = page.get_by_role("button", name="打印 / Print")
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    # (a function given to evaluate is called: so a function that puts the stand-in in place)
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    assert page.evaluate("window.printed") is None
    button.click()
    assert page.evaluate("window.printed") == 1

    page.emulate_media(media="print")  # what goes on paper
    for control in ("#print", ".leaflet-control-zoom", ".leaflet-control-layers"):
        assert page.locator(control).is_hidden(), control
    size = page.evaluate(
        "(() => { const el = document.querySelector('.folium-map'); const s = window[el.id].getSize();"
        " return [s.x, s.y, el.clientWidth, el.clientHeight]; })()"
    )
    assert size[:2] == size[2:] and size[0] <= PAPER_PX  # Leaflet draws for the paper's map
    row = "getComputedStyle(document.querySelector('table.checked tr')).breakInside"
    assert page.evaluate(row) == "avoid"  # no page break inside a row

    pdf = page.pdf(format="A4")
    ARTEFACTS.mkdir(exist_ok=True)
    (ARTEFACTS / f"report-{kind}-{width}.pdf").write_bytes(pdf)
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert 1 <= len(pages) <= 2
    # the filing is on paper (its number: the font's glyphs of some characters read back as radicals)
    assert FILING["application_no"] in pages[0].extract_text()
    watched.assert_clean()
