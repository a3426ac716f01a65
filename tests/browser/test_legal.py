"""The law in the browser: a class's legal summary page, and the article unfolded under a finding."""

from __future__ import annotations

import pytest

from tests.support.pages import wait_until

SIZES = [(1366, 768), (390, 844)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=["desktop", "phone"])
def test_the_legal_summary_page_reads_in_chinese_then_english(watched, service, width, height):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{service}/industries/9011/rules.html?as_of=2023-01-01")
    wait_until(page, "window.siteselectLegal && window.siteselectLegal.ready")
    assert "选址法律须知" in page.inner_text("h1") and "9011" in page.inner_text("h1")
    rule = page.locator("#R02-surroundings")
    assert "幼儿园周围" in rule.locator("details.citation").first.inner_text()  # the first unfolded
    assert "本地默认距离，请以主管部门认定为准" in rule.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing spills sideways
    page.click("#lang")
    assert "What the law says about premises" in page.inner_text("h1")
    assert page.inner_text("#lang") == "中文"
    watched.assert_clean()


def test_a_finding_unfolds_the_article_it_rests_on(watched, service, demo_db):
    from siteselect.store import Store

    zones = Store(demo_db).read_layer("zones")
    school = zones[zones["kind"] == "primary_school"].geometry.iloc[0].representative_point()
    page = watched.page
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{service}/")
    wait_until(page, "window.siteselect && window.siteselect.ready")
    page.evaluate(
        """async ([lon, lat]) => {
          const request = { method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ industry: "9013", lon, lat }) };
          showCheck(await (await fetch("/check", request)).json(), { address: "<b>校园</b>", floor: null });
        }""",
        [school.x, school.y],
    )
    page.wait_for_selector("#detail .reasons details.citation")
    first = page.locator("#detail .reasons details.citation").first
    assert "《互联网上网服务营业场所管理条例》第九条" in first.locator("summary").inner_text()
    assert not first.locator("blockquote").is_visible()
    first.locator("summary").click()
    assert "中学、小学校园周围200米范围内" in first.locator("blockquote").inner_text()
    assert page.inner_text("#detail h2") == "<b>校园</b>"  # shown as text, not markup
    summary = page.get_attribute("#detail a.legal-summary", "href")
    assert summary.startswith("/industries/9013/rules.html?as_of=")
    legal = watched.page.context.new_page()
    legal.goto(service + summary)
    assert "R01-school-200m" in legal.inner_text("body")
    watched.assert_clean()
