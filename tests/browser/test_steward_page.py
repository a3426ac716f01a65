"""The data steward's page in Chromium, on a laptop and on a phone: sign in, upload a department's
workbook, see the header mapping, the problems, the change list and the changed entries on the map,
confirm or cancel; everything from the file shown as text."""

from __future__ import annotations

import pytest

from siteselect import accounts
from siteselect.load import plan_load
from siteselect.store import Store
from tests.support.department_files import ENFORCEMENT, copy_store, prohibited_xlsx
from tests.support.pages import wait_until
from tests.support.serve import running_service

READY = "window.siteselect && window.siteselect.ready"
HOSTILE = '<img src=x onerror="window.pwned=1">'
ROWS = [
    ["崂山区深圳路116号", HOSTILE, "全部行业", "2026年4月2日", ENFORCEMENT],
    ["山东省青岛市崂山区深圳路71号", "违法建筑", "餐饮", "2026/4/2", ENFORCEMENT],
]
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


@pytest.fixture(scope="module")
def steward_service(demo_db, tmp_path_factory):
    url = copy_store(demo_db, tmp_path_factory.mktemp("steward"))
    store = Store(url)
    accounts.add_user(store, "执法局数据员", "steward", department="enforcement")
    accounts.add_user(store, "窗口", "clerk")
    tokens = {name: accounts.create_token(store, name)[0] for name in ("执法局数据员", "窗口")}
    store.close()
    with running_service(url) as base:
        yield base, tokens, url


@pytest.fixture(params=list(SIZES))
def sized(request, watched):
    width, height = SIZES[request.param]
    watched.page.set_viewport_size({"width": width, "height": height})
    return watched


def _sign_in(page, base, token):
    page.goto(f"{base}/steward")
    wait_until(page, READY)
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#upload:not([hidden])")


def test_a_steward_tries_a_workbook_sees_the_changes_and_confirms(sized, steward_service, tmp_path):
    base, tokens, url = steward_service
    page = sized.page
    _sign_in(page, base, tokens["执法局数据员"])
    assert page.inner_text("h1") == "部门数据管理"
    assert ENFORCEMENT in page.inner_text("#my-department")  # a steward loads its department's only
    assert page.input_value("#department") == ENFORCEMENT and not page.is_editable("#department")
    path = prohibited_xlsx(tmp_path / "执法局清单.xlsx", [[*ROWS[0][:3], HOSTILE, ENFORCEMENT], ROWS[1]])
    page.set_input_files("#file", str(path))
    page.click("#try")
    page.wait_for_selector("#problems:not([hidden])")  # the hostile date is no date
    cells = page.locator("#problems td").all_inner_texts()
    assert repr(HOSTILE) in cells and "生效日期" in cells and "4" in cells  # values come as repr

    size = page.viewport_size["width"]  # the second size changes what the first one loaded
    path = prohibited_xlsx(
        tmp_path / "执法局清单.xlsx", [ROWS[0], [ROWS[1][0], f"违法建筑{size}", *ROWS[1][2:]]]
    )
    expected = plan_load(Store(url), "prohibited_addresses", path).entries
    assert expected
    page.set_input_files("#file", str(path))
    page.click("#try")
    page.wait_for_selector("#review:not([hidden])")
    mapping = page.locator("#mapping td").all_inner_texts()
    assert mapping[mapping.index("详细地址") + 1] == "address"
    ids = page.locator("#entries tbody tr td:first-child").all_inner_texts()
    assert ids == [e.id for e in expected]
    assert page.evaluate("window.siteselect.changed.getLayers().length") == len(expected)
    assert page.locator("img").count() == 0 and page.evaluate("window.pwned") is None

    page.click("#lang")
    assert page.inner_text("#confirm") == "Confirm load" and "added" in page.inner_text("#summary")
    page.click("#lang")
    before = Store(url).resolve_version("prohibited_addresses").version
    page.click("#confirm")
    wait_until(page, "document.getElementById('status').textContent.startsWith('已导入')")
    store = Store(url)
    assert store.resolve_version("prohibited_addresses").version == before + 1
    assert HOSTILE in set(store.read_layer("prohibited_addresses")["reason"])
    assert page.evaluate("window.pwned") is None
    refused = [p for p in sized.problems if "422" in p]  # the bad file's answer, as the browser logs it
    assert len(refused) == 2 and "/layers/prohibited_addresses/loads?" in refused[0]
    sized.problems = [p for p in sized.problems if p not in refused]
    sized.assert_clean()


def test_cancel_loads_nothing_and_a_clerk_cannot_sign_in(sized, steward_service, tmp_path):
    base, tokens, url = steward_service
    page = sized.page
    page.goto(f"{base}/steward")
    wait_until(page, READY)
    page.fill("#token", tokens["窗口"])
    page.click("#signin button[type=submit]")
    wait_until(page, "document.getElementById('status').textContent.includes('不是数据管理员')")
    assert page.is_hidden("#upload")

    _sign_in(page, base, tokens["执法局数据员"])
    counts = Store(url).counts()
    page.set_input_files("#file", str(prohibited_xlsx(tmp_path / "x.xlsx", ROWS)))
    page.click("#try")
    page.wait_for_selector("#review:not([hidden])")
    page.click("#cancel")
    assert page.is_hidden("#review") and page.evaluate("window.siteselect.changed.getLayers().length") == 0
    assert Store(url).counts() == counts
    sized.assert_clean()
