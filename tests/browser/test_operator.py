"""The operator's page in a real browser: only its own park's premises, on the map and in the
table, edited in place; a conflict shown with both versions; stale premises confirmed. Text the
operators typed is shown as text, in the table and in the map's popups."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.pages import wait_until
from tests.support.serve import running_service
from tests.support.workbench import building_in_park

PASSWORD = "运营方的长密码-2026"
HOSTILE = '<img src=x onerror="window.pwned=1">株洲路1号'
READY = "window.siteselect && window.siteselect.ready"


@pytest.fixture(scope="module")
def park_office(demo_db, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """The demo in a store of its own, an operator of park-001 with a password, and one of its
    premises whose address is markup."""
    from siteselect import accounts, listings, sessions
    from siteselect.store import Store

    copy = tmp_path_factory.mktemp("operator-page") / "store.db"
    shutil.copy(Path(demo_db.removeprefix("sqlite:///")), copy)
    store = Store(f"sqlite:///{copy}")
    operator = accounts.add_user(store, "创新园运营", "operator", ["park-001"])
    accounts.add_user(store, "同事", "operator", ["park-001"])
    sessions.set_password(store, "创新园运营", PASSWORD)
    listings.create(store, operator, {"park_id": "park-001", "address": HOSTILE, "floor": 3, "area_m2": 150.0,
                                      "rent": 60.0, "use": "office", "status": "available",
                                      "lon": 120.445, "lat": 36.131})  # fmt: skip
    with running_service(f"sqlite:///{copy}") as base:
        yield base, store
    store.close()


def _open(watched, base, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.on("dialog", lambda d: watched.problems.append(f"dialog: {d.message}") or d.dismiss())
    page.goto(f"{base}/operator")
    page.wait_for_url("**/signin?next=/operator")
    page.fill("#name", "创新园运营")
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{base}/operator")
    wait_until(page, READY)
    return page


def _row(page, listing_id):
    return page.locator(f"#premises-table tbody tr[data-id='{listing_id}']")


def _hostile(store):
    from siteselect import listings

    return next(x for x in listings.all_listings(store) if x["address"] == HOSTILE)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_an_operator_sees_its_own_premises_edits_one_and_typed_text_stays_text(
    watched, park_office, width, height
):
    from siteselect import listings

    base, store = park_office
    page = _open(watched, base, width, height)
    own = {x["id"] for x in listings.all_listings(store) if x["park_id"] == "park-001"}
    shown = set(page.eval_on_selector_all("#premises-table tbody tr", "rows => rows.map(r => r.dataset.id)"))
    assert shown == own and len(own) < len(listings.all_listings(store))  # other parks' are not shown
    assert page.evaluate("window.siteselect.markers.getLayers().length") == len(own)
    assert page.evaluate("document.getElementById('operator-map').offsetHeight") > 200

    hostile = _hostile(store)
    row = _row(page, hostile["id"])
    assert row.locator("td").first.inner_text() == HOSTILE
    assert row.locator("td select").nth(1).locator("option:checked").inner_text() == "可租"
    opened = "window.siteselect.markers.getLayers().find(m => m.getPopup().getContent().textContent"
    page.evaluate(opened + ".includes('株洲路1号')).openPopup()")
    assert HOSTILE in page.inner_text(".leaflet-popup-content")

    rent = 70.0 + width % 7
    row.locator("td input").nth(2).fill(str(rent))
    row.locator("button.save").click()
    wait_until(page, "document.getElementById('status').textContent === '已保存'")
    assert listings.get(store, hostile["id"])["rent"] == rent
    assert page.locator("img").count() == 0 and page.evaluate("window.pwned") is None
    watched.assert_clean()


def test_a_conflict_shows_both_versions_and_the_operator_keeps_its_own(watched, park_office):
    from siteselect import accounts, listings

    base, store = park_office
    page = _open(watched, base, 1366, 768)
    hostile = _hostile(store)
    colleague = next(u for u in accounts.users(store) if u.name == "同事")
    listings.update(store, colleague, hostile["id"], {"status": "reserved"}, if_match="*", merge=True)
    row = _row(page, hostile["id"])
    row.locator("td input").nth(1).fill("222")
    row.locator("button.save").click()
    page.wait_for_selector("#conflict:not([hidden])")
    cells = page.locator("#conflict-table tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == "面积" and cells[1] == "222" and cells[2] == f"{hostile['area_m2']:g}"
    assert listings.get(store, hostile["id"])["area_m2"] == hostile["area_m2"]  # nothing overwritten yet
    page.click("#keep-mine")
    page.wait_for_selector("#conflict", state="hidden")
    now = listings.get(store, hostile["id"])
    assert (now["area_m2"], now["status"]) == (222.0, "reserved")  # the colleague's change stays too
    assert (
        _row(page, hostile["id"]).locator("td select").nth(1).locator("option:checked").inner_text()
        == "已预订"
    )
    expected = [p for p in watched.problems if "412" in p]  # the refused write, as the browser logs it
    assert expected and [p for p in watched.problems if p not in expected] == []


def test_premises_not_confirmed_in_time_are_listed_until_confirmed(watched, park_office):
    from siteselect import listings

    base, store = park_office
    stale = next(
        x for x in listings.all_listings(store) if x["park_id"] == "park-001" and x["status"] == "available"
    )
    table = store.accounts["listings"]
    with store.engine.begin() as conn:
        long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        conn.execute(sa.update(table).where(table.c.id == stale["id"]).values(updated_at=long_ago))
    page = _open(watched, base, 390, 844)
    assert stale["address"] in page.inner_text("#stale-list")
    _row(page, stale["id"]).locator("button.confirm").click()
    wait_until(page, "document.getElementById('status').textContent === '已确认仍可租'")
    assert stale["address"] not in page.inner_text("#stale-list")
    assert listings.get(store, stale["id"])["updated_at"] > long_ago.isoformat()
    watched.assert_clean()


def test_an_operator_adds_premises_by_address_and_by_a_click_on_the_map(watched, park_office):
    from siteselect import listings

    base, store = park_office
    parks = store.read_layer("parks")
    outline = parks[parks["id"] == "park-001"].geometry.iloc[0]
    numbers = store.read_layer("house_numbers")
    number = numbers[numbers.geometry.within(outline)].iloc[0]  # where this operator may publish
    address = f"{number['road']}{number['number']}号"
    page = _open(watched, base, 390, 844)
    count = len(listings.all_listings(store))
    page.fill("#add-address", address)
    page.click("#locate")
    wait_until(page, "document.getElementById('place').textContent.startsWith('位置')")
    page.fill("#add-area", "88")
    page.click("#add button[type=submit]")
    wait_until(page, "document.getElementById('status').textContent === '已添加'")
    added = [x for x in listings.all_listings(store) if x["address"] == address]
    assert len(added) == 1 and added[0]["park_id"] == "park-001" and added[0]["area_m2"] == 88.0
    assert abs(added[0]["lon"] - number.geometry.x) < 1e-3 and abs(added[0]["lat"] - number.geometry.y) < 1e-3
    assert _row(page, added[0]["id"]).count() == 1

    typed = "<b>地图点选</b>的房源"
    page.fill("#add-address", typed)
    building = building_in_park(store, "park-001")
    page.evaluate(
        "([lon, lat]) => window.siteselect.map.setView([lat, lon], 18)", [building["lon"], building["lat"]]
    )
    x, y = page.evaluate(
        "([lon, lat]) => {"
        " const p = window.siteselect.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [building["lon"], building["lat"]],
    )
    page.click("#operator-map", position={"x": x, "y": y})  # on a building of the park
    wait_until(page, "document.getElementById('place').textContent.includes('层')")
    assert page.inner_text("#place") == f"位置：{building['name']}（共{building['floors']}层）"
    page.fill("#add-area", "66")
    page.click("#add button[type=submit]")
    page.locator("#premises-table tbody tr", has_text="地图点选").wait_for()
    clicked = next(x for x in listings.all_listings(store) if x["address"] == typed)
    assert _row(page, clicked["id"]).locator("td").first.inner_text() == typed
    assert len(listings.all_listings(store)) == count + 2 and page.locator("b").count() == 0
    watched.assert_clean()
