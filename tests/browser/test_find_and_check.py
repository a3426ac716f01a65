"""The page as entrepreneurs and clerks use it, at a desktop's 1366×768 and a phone's 390×844: the
filters, what was left out, comparing, the map's numbers, legends and road names, the check's
matched address and suggestions, the phone's layout, the keyboard and an accessibility scan."""

from __future__ import annotations

import json

import pytest

from tests.support.axe import severe_violations
from tests.support.pages import wait_until

READY = "window.siteselect && window.siteselect.ready"
SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]
RESULTS = "window.siteselect.state.results"


def _open(watched, service, size):
    page = watched.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{service}/")
    wait_until(page, READY)
    return page


def _search(page, words, **fields):
    page.fill("#industry", words)
    for field, value in fields.items():
        page.fill(f"#{field}", str(value))
    page.press("#industry", "Enter")  # the keyboard submits
    page.wait_for_selector("#results li")


def _box(page, selector):
    return page.locator(selector).bounding_box()


def _check(page, words, address):
    page.click("button[data-mode=check]")
    page.fill("#industry", words)
    page.fill("#address", address)
    page.press("#address", "Enter")


@pytest.mark.parametrize("size", SIZES)
def test_filters_narrow_the_list_and_the_left_out_are_listed_with_their_reasons(watched, service, size):
    page = _open(watched, service, size)
    page.fill("#floor-min", "1")
    page.fill("#floor-max", "2")
    page.check("#uses input[value=commercial]")
    page.check("#show-excluded")
    _search(page, "网吧")
    results = page.evaluate(RESULTS)
    assert results and all(1 <= r["floor"] <= 2 and r["use"] == "commercial" for r in results)
    summary = page.inner_text("#excluded summary")
    page.click("#excluded summary")  # unfolded
    left_out = page.locator("#excluded li")
    assert str(left_out.count()) in summary and left_out.count() > 0
    whys = left_out.locator(".why").all_inner_texts()
    assert all(whys)
    assert any("楼层" in w for w in whys) and any("用途" in w for w in whys)  # the filters, by name
    prohibited = page.locator("#excluded li:has(.badge.prohibited)")
    assert prohibited.count() > 0 and "禁设" in page.inner_text("#status")
    assert all(t.startswith("依据") for t in prohibited.locator(".basis").all_inner_texts())
    page.select_option("#park", index=1)  # one park, pre-filed only
    page.check("#prefiled")
    page.uncheck("#uses input[value=commercial]")
    page.fill("#floor-min", "")
    page.fill("#floor-max", "")
    with page.expect_response("**/match"):
        page.click("#search")
    wait_until(page, "!document.getElementById('status').textContent.endsWith('…')")
    park, results = page.input_value("#park"), page.evaluate(RESULTS)
    assert results and all(r["park_id"] == park and r["prefiled"] for r in results)
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_the_map_numbers_match_the_list_and_the_chosen_one_is_highlighted_where_the_eye_is(
    watched, service, size
):
    page = _open(watched, service, size)
    _search(page, "奶茶")
    numbers = page.locator(".num-marker").all_inner_texts()
    assert numbers == [str(n) for n in range(1, page.locator("#results li").count() + 1)]
    page.locator("#results li").nth(2).click()
    page.wait_for_selector("#detail:not([hidden]) .criteria")
    assert page.locator(".num-marker.selected").inner_text() == "3"
    assert page.inner_text("#detail h2").startswith("3. ")
    detail, map_box = _box(page, "#detail"), _box(page, "#map")
    if size[0] > 600:  # over the map, inside the window: not below twenty list items
        assert (
            map_box["x"] <= detail["x"] and detail["x"] + detail["width"] <= map_box["x"] + map_box["width"]
        )
        assert detail["y"] < size[1]
    else:  # directly under the map, and the map scrolled into view
        assert abs(detail["y"] - (map_box["y"] + map_box["height"])) < 2
        assert -2 <= page.evaluate("document.getElementById('map').getBoundingClientRect().top") < size[1] / 2
    # the selected premises sits in the part of the map the detail leaves free
    chosen = _box(page, ".num-marker.selected")
    assert map_box["x"] <= chosen["x"] and (size[0] <= 600 or chosen["x"] + chosen["width"] < detail["x"])
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_criteria_legends_and_road_names_read_in_the_pages_language(watched, service, size):
    page = _open(watched, service, size)
    _search(page, "奶茶")
    page.locator("#results li").first.click()
    page.wait_for_selector("#detail .criteria")
    criteria = page.inner_text("#detail .criteria")
    for name in ("周边配套", "产业集聚", "交通可达", "租金成本", "面积匹配", "楼层适宜"):
        assert name in criteria
    assert "amenities" not in criteria and "区位商（本地同类商户占比与全区占比之比" in criteria
    assert page.locator("#detail .criteria .about").count() == 6
    legend = page.locator(".legend")
    wait_until(page, "window.siteselect.amenities.getLayers().length > 0")
    for words in ("可登记", "需人工核查", "不予登记", "周边配套"):
        assert words in legend.inner_text()
    page.check("#surface")
    wait_until(page, "document.querySelector('.legend .ramp') !== null")
    assert "适宜性" in legend.inner_text()
    labels = page.locator(".road-label")
    wait_until(page, "document.querySelectorAll('.road-label').length > 0")
    assert all(name.endswith(("路", "街", "道")) for name in labels.all_inner_texts())
    page.click("#lang")
    assert "location quotient" in page.inner_text("#detail .criteria")
    assert "Verdict" in legend.inner_text() and "Suitability" in legend.inner_text()
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_two_to_five_chosen_are_compared_side_by_side_and_in_one_report_scored_as_listed(
    watched, service, size
):
    page = _open(watched, service, size)
    page.context.add_init_script("window.print = () => {};")  # the report prints itself when opened
    page.fill("#max-rent", "90")
    _search(page, "奶茶")
    assert page.is_disabled("#compare")
    for n in (0, 2, 4):
        page.locator("#results li .pick").nth(n).check()
    assert "3" in page.inner_text("#picked") and page.is_enabled("#compare")
    page.click("#compare")
    page.wait_for_selector("#detail table.comparison")
    listed = page.evaluate(RESULTS)
    headers = page.locator("#detail table.comparison thead th").all_inner_texts()
    assert headers[1:] == ["1", "3", "5"]
    totals = page.locator("#detail table.comparison tbody tr").nth(2).locator("td").all_inner_texts()
    assert [float(t) for t in totals] == [listed[n]["score"] for n in (0, 2, 4)]  # as the list scored them
    with page.expect_request("**/reports") as asked:
        page.click("#compare-report")
    body = json.loads(asked.value.post_data)
    query = page.evaluate("window.siteselect.state.query")
    assert body["wanted"] == query["wanted"] and body["wanted"]["max_rent"] == 90
    assert body["weights"] == query["weights"] and len(body["sites"]) == 3
    page.wait_for_event("popup")
    for n in range(5):
        page.locator("#results li .pick").nth(n).check()
    page.locator("#results li .pick").nth(5).check()
    assert page.is_disabled("#compare")  # six are too many
    watched.assert_clean()


def test_print_report_opens_the_report_and_prints_it(watched, service):
    page = _open(watched, service, (1366, 768))
    page.context.add_init_script(
        "window.print = () => { document.documentElement.dataset.printed = 'yes'; };"
    )
    _check(page, "网吧", "海口路42号")
    page.wait_for_selector("#detail .verdict")
    with page.expect_popup() as opened:
        page.click("#detail .print-report")
    report = opened.value
    report.wait_for_selector(".leaflet-container")
    wait_until(report, "document.documentElement.dataset.printed === 'yes'")
    assert report.url.startswith(f"{service}/reports/")
    watched.assert_clean()


def test_the_filing_fields_go_with_the_report(watched, service):
    """The page sends what the clerk wrote with the report; storing and printing it is the report's."""
    page = _open(watched, service, (1366, 768))
    page.click("button[data-mode=check]")
    for field, value in (("application-no", "QD-2026-0042"), ("applicant", "张三<b>"), ("clerk", "李四")):
        page.fill(f"#{field}", value)
    _check(page, "网吧", "海口路42号")
    page.wait_for_selector("#detail .verdict")
    with page.expect_request("**/reports") as asked:
        page.click("#detail .make-report")
    body = json.loads(asked.value.post_data)
    assert body["filing"] == {"application_no": "QD-2026-0042", "applicant": "张三<b>", "clerk": "李四"}
    assert body["sites"] == [{"address": "海口路42号"}]
    asked.value.response()
    watched.problems = [p for p in watched.problems if "/reports" not in p]  # the report service's answer
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_a_check_shows_the_matched_address_and_a_basis_for_every_reason(watched, service, size):
    page = _open(watched, service, size)
    _check(page, "网吧", "海口路999号")  # no such number: placed on the road, approximately
    page.wait_for_selector("#detail .verdict")
    matched = page.inner_text("#detail .matched")
    assert "海口路" in matched and "道路" in matched and "60%" in matched
    reasons = page.locator("#detail .reasons li")
    assert reasons.count() > 1
    for basis in page.locator("#detail .reasons li > .basis").all_inner_texts():
        assert basis.startswith("依据: ") and "未载明" not in basis
    assert "登记管理办法" in page.inner_text("#detail .proof-basis")
    page.wait_for_selector("#suggestions:not([hidden]) .suggestion")  # the numbers near it
    assert all("海口路" in s for s in page.locator("#suggestions .suggestion").all_inner_texts())
    page.locator("#suggestions .suggestion").first.click()
    level = "document.querySelector('#detail .level')"
    wait_until(page, f"{level} && {level}.textContent === '门牌号'")
    assert page.inner_text("#detail .confidence") == "95%"
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_an_address_not_found_offers_the_nearest_and_the_map_and_clears_the_last_result(
    watched, service, size
):
    page = _open(watched, service, size)
    _check(page, "网吧", "海口路42号")
    page.wait_for_selector("#detail .verdict")
    page.fill("#address", "海口大街42号")  # no such road: not placed, but like 海口路
    page.press("#address", "Enter")
    page.wait_for_selector("#suggestions:not([hidden])")
    assert page.locator("#detail").is_hidden()  # the previous result is gone
    assert page.evaluate("window.siteselect.markers.getLayers().length") == 0
    assert page.inner_text("#status") == "没有找到这个地址。"
    offered = page.locator("#suggestions .suggestion").all_inner_texts()
    assert (
        offered and offered[0].endswith("海口路42号") and "您要找的是不是" in page.inner_text("#suggestions")
    )
    assert "也可以在地图上点选位置" in page.inner_text("#suggestions")
    page.click("#suggestions .point")
    assert page.inner_text("#status") == "请在地图上点击房源所在位置"
    page.locator("#map").scroll_into_view_if_needed()
    box = _box(page, "#map")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#detail .verdict")
    assert page.inner_text("#detail h2") == "地图点选位置"
    page.click("#lang")  # every message in the page's language
    page.fill("#address", "海口大街42号")
    page.press("#address", "Enter")
    page.wait_for_selector("#suggestions:not([hidden]) .suggestion")
    assert page.inner_text("#status") == "This address was not found."
    assert "Did you mean" in page.inner_text("#suggestions")
    assert "point at the place on the map" in page.inner_text("#suggestions")
    not_found = [p for p in watched.problems if "422" in p]  # the service's answer to the address
    assert len(not_found) == 4 and all("/check" in p or "status of 422" in p for p in not_found)
    watched.problems = [p for p in watched.problems if p not in not_found]
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_the_page_has_a_visible_map_labels_on_every_field_and_its_own_favicon(watched, service, size):
    page = _open(watched, service, size)
    map_box = _box(page, "#map")
    assert map_box["width"] >= min(size[0] - 400, 390) and map_box["height"] >= 280
    if size[0] <= 600:  # stacked: the form, then the map, full width
        assert map_box["width"] == size[0] and map_box["y"] > _box(page, "#find")["y"]
    unlabelled = page.evaluate(
        """[...document.querySelectorAll("input, select, textarea")]
            .filter((f) => !f.labels.length && !f.getAttribute("aria-label"))
            .map((f) => f.id || f.outerHTML)"""
    )
    assert unlabelled == []
    icon = page.get_attribute("link[rel=icon]", "href")
    assert icon.startswith("/static/")
    assert page.request.get(f"{service}{icon}").status == 200
    watched.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_no_serious_or_critical_accessibility_violation_on_the_page_or_a_drawn_report(watched, service, size):
    page = _open(watched, service, size)
    assert severe_violations(page) == []
    _search(page, "奶茶")
    page.locator("#results li .pick").nth(0).check()
    page.locator("#results li .pick").nth(1).check()
    page.locator("#results li").first.click()
    page.wait_for_selector("#detail .criteria")
    page.check("#show-excluded")
    page.click("#search")
    page.wait_for_selector("#excluded:not([hidden])")
    assert severe_violations(page) == []
    _check(page, "网吧", "海口路42号")
    page.wait_for_selector("#detail .verdict")
    assert severe_violations(page) == []
    with page.expect_response("**/reports") as made:
        page.click("#detail .make-report")
    report = page.context.new_page()
    report.set_viewport_size({"width": size[0], "height": size[1]})
    report.goto(service + made.value.json()["url"])
    report.wait_for_selector(".leaflet-container")
    assert severe_violations(report) == []
    watched.assert_clean()
