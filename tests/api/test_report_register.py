"""Reports that go in a file: the filing stored and printed, the signed-in clerk named by default,
the page read back byte for byte, and the register that finds reports again — for clerks and
admins only."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, sessions
from siteselect.premises import CHINA_TZ
from siteselect.settings import Settings
from siteselect.store import Store

PASSWORD = "窗口的长密码-2026"
SITE = {"vacancy_id": "V00006"}
BODY = {"industry": "网吧", "sites": [SITE], "as_of": "2026-06-01"}
FILING = {"application_no": "370212-2026-000417", "applicant": "青岛海岸网络科技有限公司", "clerk": "王窗口"}


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    """The demo in a store of its own (reports are written), with a clerk, an admin and an operator."""
    path = tmp_path_factory.mktemp("register") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    with store.engine.begin() as conn:  # reports other tests of the session made in the demo store
        conn.execute(store.reports.delete())
    tokens = {}
    people = (("窗口", "clerk", []), ("管理员", "admin", []), ("运营", "operator", ["park-001"]))
    for name, role, parks in people:
        accounts.add_user(store, name, role, parks)
        tokens[role] = {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"}
    sessions.set_password(store, "窗口", PASSWORD)
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, tokens, store, url


def _cells(page: str) -> dict[str, str]:
    """The filing as the report's header prints it."""
    return dict(re.findall(r'<td class="(application-no|applicant|clerk)">(.*?)</td>', page))


def test_the_filing_is_stored_printed_and_read_back_byte_for_byte(service):
    client, _, store, url = service
    made = client.post("/reports", json=BODY | {"filing": FILING})
    assert made.status_code == 201 and made.json()["filing"] == FILING
    page = client.get(made.json()["url"])
    assert _cells(page.text) == {
        "application-no": FILING["application_no"], "applicant": FILING["applicant"], "clerk": FILING["clerk"]
    }  # fmt: skip
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(store.reports).where(store.reports.c.id == made.json()["id"])).one()
    assert row.html.encode() == page.content  # the page as drawn is what is stored and served
    assert (row.application_no, row.applicant, row.clerk) == tuple(FILING.values())
    assert row.verdicts == made.json()["verdicts"] and row.industry == "9013"
    # another worker serves the stored bytes, with a policy naming exactly the page's scripts
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as other:  # type: ignore[call-arg]
        again = other.get(made.json()["url"])
    assert again.content == page.content
    policy = again.headers["content-security-policy"]
    assert policy == page.headers["content-security-policy"] and policy.count("'sha256-") == 4
    # the same request without its filing is another report
    assert client.post("/reports", json=BODY).json()["id"] != made.json()["id"]


def test_a_signed_in_clerk_is_the_clerk_unless_another_is_named(service):
    client, tokens, _, _ = service
    body = BODY | {"filing": {"application_no": "A-1"}}
    assert client.post("/reports", json=body, headers=tokens["clerk"]).json()["filing"]["clerk"] == "窗口"
    named = body | {"filing": {"application_no": "A-1", "clerk": "李四"}}
    assert client.post("/reports", json=named, headers=tokens["clerk"]).json()["filing"]["clerk"] == "李四"
    assert "clerk" not in client.post("/reports", json=body, headers=tokens["operator"]).json()["filing"]
    assert "clerk" not in client.post("/reports", json=body).json()["filing"]


def test_a_clerks_session_names_the_clerk_with_its_csrf_token_only(service):
    client, _, store, _ = service
    browser = TestClient(client.app)
    signed_in = browser.post("/session", json={"name": "窗口", "password": PASSWORD})
    csrf = {"X-CSRF-Token": signed_in.json()["csrf"]}
    body = BODY | {"filing": {"application_no": "S-1"}}
    assert browser.post("/reports", json=body, headers=csrf).json()["filing"] == {"application_no": "S-1",
                                                                                "clerk": "窗口"}  # fmt: skip
    # without the token the report is anyone's; with a forged one it is refused and nothing stored
    assert browser.post("/reports", json=body).json()["filing"] == {"application_no": "S-1"}
    before = store.counts()
    forged = browser.post("/reports", json=BODY | {"filing": {"application_no": "S-2"}},
                          headers={"X-CSRF-Token": "forged"})  # fmt: skip
    assert forged.status_code == 403 and store.counts() == before


@pytest.mark.parametrize(
    ("filing", "words"),
    [
        ({"applicant": "张" * 101}, "applicant"),
        ({"application_no": 417}, "application_no"),
        ({"clerk": "王\u0007"}, "U+0007"),
        ({"applicant": "a\nb"}, "U+000A"),
        ({"seal": "x"}, "seal"),
    ],
)
def test_a_bad_filing_is_refused_naming_the_field_and_nothing_is_stored(service, filing, words):
    client, _, store, _ = service
    before = store.counts()
    r = client.post("/reports", json=BODY | {"filing": filing})
    assert r.status_code == 422 and words in r.text
    assert store.counts() == before


def test_markup_in_a_filing_is_printed_as_text(service):
    client, _, _, _ = service
    hostile = '<img src=x onerror="window.pwned=1">海岸</td><script>alert(1)</script>'
    made = client.post("/reports", json=BODY | {"filing": {"applicant": hostile}}).json()
    page = client.get(made["url"]).text
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;海岸&lt;/td&gt;" in page


def _make(client, headers, application_no, site, industry="网吧"):
    body = {"industry": industry, "sites": [site], "filing": {"application_no": application_no}}
    r = client.post("/reports", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_register_finds_reports_by_number_address_industry_and_day(service):
    client, tokens, _, _ = service
    clerk = tokens["clerk"]
    cafe = _make(client, clerk, "REG-2026-0001", {"address": "崂山区海口路42号"})
    tea = _make(client, clerk, "REG-2026-0002", {"address": "崂山区苗岭路28号"}, industry="6239")
    listed = client.get("/reports", params={"application_no": "reg-2026"}, headers=clerk).json()
    assert {r["id"] for r in listed["reports"]} == {tea, cafe}  # any case
    times = [r["made_at"] for r in listed["reports"]]
    assert times == sorted(times, reverse=True)  # newest first
    entry = next(r for r in listed["reports"] if r["id"] == cafe)
    assert entry["application_no"] == "REG-2026-0001" and entry["clerk"] == "窗口"
    assert entry["industry"]["code"] == "9013" and entry["verdicts"] and entry["url"] == f"/reports/{cafe}"
    assert any("海口路42号" in a for a in entry["addresses"])
    made_at = dt.datetime.fromisoformat(entry["made_at"])
    assert abs(made_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)

    def ids(**params):
        r = client.get("/reports", params={"application_no": "REG-2026"} | params, headers=clerk)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["reports"]}

    assert ids(address="海口路42") == {cafe}
    assert ids(industry="网吧") == {cafe} and ids(industry="62") == {tea} and ids(industry="R") == {cafe}
    today = dt.datetime.now(CHINA_TZ).date()
    assert ids(**{"from": today.isoformat(), "to": today.isoformat()}) == {cafe, tea}
    assert ids(**{"to": (today - dt.timedelta(days=1)).isoformat()}) == set()
    assert ids(**{"from": (today + dt.timedelta(days=1)).isoformat()}) == set()
    # the admin sees the same register
    as_admin = client.get("/reports", params={"application_no": "REG-2026"}, headers=tokens["admin"])
    assert as_admin.json() == listed


def test_the_register_pages_through_many_reports(service):
    client, tokens, _, _ = service
    clerk = tokens["clerk"]
    sites = [{"lon": 120.455 + n * 0.0005, "lat": 36.107} for n in range(23)]
    made = [_make(client, clerk, f"PAGE-{n:02d}", site) for n, site in enumerate(sites)]
    first = client.get("/reports", params={"application_no": "PAGE-"}, headers=clerk).json()
    second = client.get("/reports", params={"application_no": "PAGE-", "page": 2}, headers=clerk).json()
    assert (first["total"], first["pages"], len(first["reports"]), len(second["reports"])) == (23, 2, 20, 3)
    assert {r["id"] for r in first["reports"] + second["reports"]} == set(made)
    beyond = client.get("/reports", params={"application_no": "PAGE-", "page": 9}, headers=clerk).json()
    assert beyond["reports"] == [] and beyond["total"] == 23


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-06-02", "to": "2026-06-01"}, "after"),
        ({"page": 0}, "page"),
        ({"industry": "完全不存在的行业词"}, "industry"),
        ({"industry": "*"}, "every industry"),
        ({"address": "路" * 101}, "address"),
        ({"application_no": "A\u0001"}, "U+0001"),
    ],
)
def test_a_bad_search_is_a_422_naming_it(service, params, words):
    client, tokens, _, _ = service
    r = client.get("/reports", params=params, headers=tokens["clerk"])
    assert r.status_code == 422 and words in r.text, r.text


def test_words_that_fit_several_industries_offer_the_candidates(service):
    client, tokens, _, _ = service
    r = client.get("/reports", params={"industry": "服装"}, headers=tokens["clerk"])
    assert r.status_code == 422 and len(r.json()["candidates"]) > 1


def test_the_cli_stores_its_report_with_its_filing_and_the_register_lists_it(service, tmp_path, capsys):
    from siteselect.cli import main

    client, tokens, _, url = service
    out = tmp_path / "r.html"
    args = ["--database-url", url, "report", "网吧", "--site", "vacancy:V00006", "--out", str(out),
            "--application-no", "CLI-0001", "--applicant", "青岛海岸", "--clerk", "赵窗口"]  # fmt: skip
    assert main(args) == 0
    rid = re.search(r"report ([0-9a-f]{24})", capsys.readouterr().out).group(1)
    listed = client.get("/reports", params={"application_no": "CLI-0001"}, headers=tokens["clerk"]).json()
    assert [(r["id"], r["applicant"], r["clerk"]) for r in listed["reports"]] == [(rid, "青岛海岸", "赵窗口")]
    assert client.get(f"/reports/{rid}").content == out.read_bytes()
    assert main([*args[:-6], "--applicant", "x" * 101]) == 2
    assert "filing.applicant" in capsys.readouterr().err
