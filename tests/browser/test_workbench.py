"""The workbench in a real browser, at a desk and on a phone with the map in view: an operator's day
(premises added by a typed address with suggestions and by a click on a building, a floor the
building lacks refused, the park's sheet uploaded with one bad row and refused whole, then good,
pre-filing, what a premises is good for), and a clerk approving a pre-filing and then checking the
premises, which shows it pre-filed with the filing's number."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import python_calamine
import xlsxwriter
from playwright.sync_api import Error as PlaywrightError

from tests.support.pages import wait_until
from tests.support.serve import running_service
from tests.support.workbench import building_in_park

PASSWORD = "园区工作台的长密码-2026"
READY = "window.siteselect && window.siteselect.ready"
SIZES = [(1366, 768), (390, 844)]


@pytest.fixture(scope="module")
def workbench(demo_db, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """The demo in a store of its own, an operator of park-001 and a clerk, both with passwords."""
    from siteselect import accounts, sessions
    from siteselect.store import Store

    copy = tmp_path_factory.mktemp("workbench-page") / "store.db"
    shutil.copy(Path(demo_db.removeprefix("sqlite:///")), copy)
    store = Store(f"sqlite:///{copy}")
    accounts.add_user(store, "创新园运营", "operator", ["park-001"])
    accounts.add_user(store, "登记窗口", "clerk")
    for name in ("创新园运营", "登记窗口"):
        sessions.set_password(store, name, PASSWORD)
    with running_service(f"sqlite:///{copy}") as base:
        yield base, store
    store.close()


def _sign_in(watched, base, path, name, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{base}{path}")
    page.wait_for_url(f"**/signin?next={path}")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{base}{path}")
    wait_until(page, READY)
    return page


def _status(page, text):
    try:
        wait_until(page, f"document.getElementById('status').textContent.includes({text!r})", 60_000)
    except PlaywrightError:  # say what the page said instead
        pytest.fail(f"the status never said {text!r}; it says {page.inner_text('#status')!r}")


def _map_visible(page, selector):
    box = page.locator(selector).bounding_box()
    assert box and box["height"] > 200 and box["width"] > 300 and box["y"] < page.viewport_size["height"]


def _click_at(page, lon, lat):
    page.evaluate(
        "([lon, lat]) => window.siteselect.map.setView([lat, lon], 18, { animate: false })", [lon, lat]
    )
    x, y = page.evaluate(
        "([lon, lat]) => {"
        " const p = window.siteselect.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lon, lat],
    )
    page.locator("#operator-map").scroll_into_view_if_needed()
    page.click("#operator-map", position={"x": x, "y": y})


def _workbook(rows) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("房源")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value != "":
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_an_operators_day(watched, workbench, tmp_path, width, height):
    from siteselect import filings, listings

    base, store = workbench
    page = _sign_in(watched, base, "/operator", "创新园运营", width, height)
    _map_visible(page, "#operator-map")

    # by a typed address, taking a suggestion of the gazetteer
    parks = store.read_layer("parks")
    outline = parks[parks["id"] == "park-001"].geometry.iloc[0]
    numbers = store.read_layer("house_numbers")
    inside = numbers[numbers.geometry.within(outline)].sort_values("address")
    number = inside.iloc[0 if width > 1000 else -1]
    typed = f"{number['road']}{number['number']}"
    page.fill("#add-address", typed[:-1])
    page.type("#add-address", typed[-1])  # as a person types: the suggestions follow
    offered = page.locator("#suggestions li button", has_text=number["address"])
    offered.first.wait_for()
    offered.first.click()
    assert page.input_value("#add-address") == number["address"]
    assert page.inner_text("#place").startswith(f"位置：{number['address']}")
    page.fill("#add-area", "61")
    page.click("#add button[type=submit]")
    _status(page, "已添加")
    added = [
        x for x in listings.all_listings(store) if x["address"] == number["address"] and x["area_m2"] == 61.0
    ]
    assert len(added) == 1 and added[0]["park_id"] == "park-001"

    # by a click on a building: a floor it lacks is refused in the page's language, then one it has
    building = building_in_park(store, "park-001", nth=SIZES.index((width, height)) + 1)
    typed = f"{building['address']}{width}室"
    page.fill("#add-address", typed)
    _click_at(page, building["lon"], building["lat"])
    wait_until(page, "document.getElementById('place').textContent.includes('层')")
    page.fill("#add-floor", str(building["floors"] + 2))
    page.fill("#add-area", "77")
    count = len(listings.all_listings(store))
    page.click("#add button[type=submit]")
    _status(page, f"只有{building['floors']}层，没有第{building['floors'] + 2}层")
    assert len(listings.all_listings(store)) == count
    page.fill("#add-floor", "2")
    page.click("#add button[type=submit]")
    _status(page, "已添加")
    clicked = next(x for x in listings.all_listings(store) if x["address"] == typed)
    assert (clicked["floor"], clicked["area_m2"]) == (2, 77.0)

    # the park's sheet: downloaded, uploaded with one bad row (refused whole), then good
    with page.expect_download() as download:
        page.click("#download")
    down = tmp_path / "down.xlsx"
    download.value.save_as(down)
    rows = python_calamine.CalamineWorkbook.from_path(str(down)).get_sheet_by_name("房源").to_python()
    assert rows[0][:2] == ["编号", "地址"] and clicked["id"] in [r[0] for r in rows]
    before = listings.all_listings(store)
    bad = [list(r) for r in rows]
    bad[1][6] = "出租中"  # not a status
    bad[2][4] = 99.5
    (tmp_path / "park.xlsx").write_bytes(_workbook(bad))
    page.set_input_files("#sheet-file", str(tmp_path / "park.xlsx"))
    page.click("#upload")
    _status(page, "未导入任何房源")
    assert "第2行 状态" in page.inner_text("#sheet-problems")
    assert listings.all_listings(store) == before
    good = [list(r) for r in rows]
    good[2][4] = 99.5
    (tmp_path / "park.xlsx").write_bytes(_workbook(good))
    page.set_input_files("#sheet-file", str(tmp_path / "park.xlsx"))
    page.click("#upload")
    _status(page, "已导入")
    assert listings.get(store, rows[2][0])["rent"] == 99.5

    # pre-filing the premises added by the click
    row = page.locator(f"#premises-table tbody tr[data-id='{clicked['id']}']")
    row.locator("button.prefile").click()
    page.fill("#prefile-certificate", f"鲁(2025)崂山区不动产权第{width:07d}号")
    page.fill("#prefile-owner", "青岛国际创新园有限公司")
    page.fill("#prefile-use", "办公")
    page.fill("#prefile-until", "2030-12-31")
    page.click("#prefile button[type=submit]")
    _status(page, "已提交预备案")
    assert row.locator("td.prefiled").inner_text().startswith("待审核")
    (filed,) = [
        f for f in filings.filings_of(store, _user(store, "创新园运营")) if f["listing_id"] == clicked["id"]
    ]
    assert (filed["status"], filed["valid_until"]) == ("pending", "2030-12-31")

    # what the premises is good for, by the same check and match as everyone's
    row.locator("button.outlook").click()
    page.locator("#outlook-table tbody tr").first.wait_for(timeout=60_000)
    codes = page.eval_on_selector_all("#outlook-table tbody tr", "rows => rows.map(r => r.dataset.code)")
    assert len(codes) >= 6 and "6513" in codes
    assert page.locator("#outlook-table tbody tr").first.locator("td").nth(1).inner_text() in (
        "可登记",
        "需人工核查",
        "不予登记",
    )
    refused = [p for p in watched.problems if "422" in p]  # the bad sheet, as the browser logs it
    assert (
        any("premises.xlsx" in p for p in refused) and [p for p in watched.problems if p not in refused] == []
    )


def _user(store, name):
    from siteselect import accounts

    return next(u for u in accounts.users(store) if u.name == name)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_clerk_approves_a_pre_filing_and_the_check_shows_it(watched, workbench, width, height):
    from siteselect import filings, listings

    base, store = workbench
    building = building_in_park(store, "park-001")
    operator = _user(store, "创新园运营")
    made = listings.create(
        store,
        operator,
        {
            "park_id": "park-001",
            "address": f"{building['address']}9{width}室",
            "floor": 3,
            "area_m2": 55.0,
            "status": "available",
            "lon": building["lon"],
            "lat": building["lat"],
        },
    )
    filed = filings.file(
        store,
        operator,
        {
            "vacancy_id": made["id"],
            "certificate_no": f"鲁(2025)第{width}号",
            "owner": "<b>创新园</b>",
            "registered_use": "办公",
            "valid_until": "2031-06-30",
        },
    )
    page = _sign_in(watched, base, "/clerk", "登记窗口", width, height)
    _map_visible(page, "#clerk-map")
    row = page.locator(f"#queue tbody tr[data-id='{filed['id']}']")
    assert row.locator("td").nth(3).inner_text() == "<b>创新园</b>"  # typed text stays text
    row.locator("button.approve").click()
    _status(page, "已通过，预备案编号 YBA-")
    (done,) = [f for f in filings.filings_of(store, _user(store, "登记窗口")) if f["id"] == filed["id"]]
    assert done["status"] == "approved" and done["number"] in page.inner_text("#status")

    page.select_option("#check-premises", made["id"])
    page.fill("#check-industry", "6513")
    page.click("#check button[type=submit]")
    wait_until(page, "!document.getElementById('result').hidden")
    proof = page.inner_text("#proof")
    assert proof.startswith("住所证明：已预备案") and done["number"] in proof and "2031-06-30" in proof
    assert page.locator("b").count() == 0
    watched.assert_clean()
