"""The admin's page in a real browser: sign in, add an operator, make a token, read the audit
trail; on a desk screen and on a phone, with typed text shown as text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pages import wait_until
from tests.support.serve import running_service

PASSWORD = "管理员的长密码-2026"
HOSTILE = '<img src=x onerror="window.pwned=1">运营'
VIEWPORTS = [(1366, 768), (390, 844)]


@pytest.fixture(scope="module")
def accounts_service(demo_db, tmp_path_factory) -> Iterator[str]:
    """The demo in a store of its own (users are written), with an admin who has a password."""
    from siteselect import accounts, sessions
    from siteselect.store import Store

    path = Path(demo_db.removeprefix("sqlite:///"))
    copy = tmp_path_factory.mktemp("admin-page") / "store.db"
    shutil.copy(path, copy)
    url = f"sqlite:///{copy}"
    store = Store(url)
    accounts.add_user(store, "管理员", "admin")
    sessions.set_password(store, "管理员", PASSWORD)
    accounts.add_user(store, "窗口", "clerk")
    sessions.set_password(store, "窗口", PASSWORD)
    store.close()
    with running_service(url) as base:
        yield base


def _sign_in(page, base):
    page.goto(f"{base}/admin")
    page.wait_for_url("**/signin?next=/admin")
    assert page.inner_text("h1") == "崂山区智能选址 · 登录"
    page.fill("#name", "管理员")
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{base}/admin")
    page.wait_for_selector("#user-table tbody tr")


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_an_admin_signs_in_adds_an_operator_makes_a_token_and_reads_the_audit_trail(
    watched, accounts_service, width, height
):
    page = watched.page
    page.set_viewport_size({"width": width, "height": height})
    page.on("dialog", lambda d: watched.problems.append(f"dialog: {d.message}") or d.dismiss())
    _sign_in(page, accounts_service)
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
    assert "管理员" in page.inner_text("#who")

    name = f"{HOSTILE}{width}"
    page.fill("#new-name", name)
    page.select_option("#new-role", "operator")
    page.fill("#new-parks", "park-001")
    page.fill("#new-password", "运营方的初始密码-1")
    page.click("#add-user button[type=submit]")
    row = page.locator("#user-table tbody tr", has_text=f"运营{width}")
    row.wait_for()
    assert row.locator("td").first.inner_text() == name  # as text: no element made of it
    assert row.locator("select").first.input_value() == "operator"
    assert row.locator("td input").first.input_value() == "park-001"

    page.fill("#new-name", f"数据员{width}")  # a data steward belongs to a department
    page.select_option("#new-role", "steward")
    page.select_option("#new-department", "enforcement")
    page.fill("#new-parks", "")
    page.click("#add-user button[type=submit]")
    steward = page.locator("#user-table tbody tr", has_text=f"数据员{width}")
    steward.wait_for()
    assert steward.locator("select").nth(1).input_value() == "enforcement"
    assert "崂山区综合行政执法局" in steward.locator("select").nth(1).inner_text()

    page.click("button[data-tab=tokens]")
    page.select_option("#token-user", name)
    page.fill("#token-label", "办公室脚本")
    page.click("#add-token button[type=submit]")
    page.wait_for_selector("#new-token:not([hidden])")
    assert page.inner_text("#token-value").startswith("ss_")
    page.locator("#token-table tbody tr", has_text="办公室脚本").first.wait_for()

    page.click("button[data-tab=audit]")
    page.fill("#f-actor", "管理员")
    page.fill("#f-action", "add-user")
    page.click("#audit-filter button[type=submit]")
    wait_until(page, "document.getElementById('status').textContent.startsWith('共')")
    targets = page.locator("#audit-table tbody tr td:nth-child(4)").all_inner_texts()
    assert name in targets and all(t for t in targets)
    assert "format=csv" in page.get_attribute("#export", "href")

    assert page.locator("img").count() == 0 and page.evaluate("window.pwned") is None
    if width < 600:  # a phone: the page fits, wide tables scroll inside their box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.click("#lang")
    assert page.inner_text("h1") == "Laoshan site selection · Admin"
    page.click("#lang")
    watched.assert_clean()


def test_a_clerk_is_not_sent_elsewhere_is_told_the_page_is_for_admins_and_signs_out(
    watched, accounts_service
):
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{accounts_service}/signin?next=https://elsewhere.example/")
    page.fill("#name", "窗口")
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{accounts_service}/admin")  # not to another site
    wait_until(page, "document.getElementById('status').textContent === '此页面仅限管理员'")
    assert page.locator("#users").is_hidden()
    page.click("#sign-out")
    page.wait_for_url("**/signin")
    page.goto(f"{accounts_service}/admin")
    page.wait_for_url("**/signin?next=/admin")
    watched.assert_clean()
