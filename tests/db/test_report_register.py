"""The register of stored reports on SQLite and PostGIS alike: parts of numbers and addresses in any
case (``%`` and ``_`` as written), industry codes and prefixes, and days in China, newest first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from siteselect import report
from siteselect.report_register import PAGE_SIZE, Search, search
from siteselect.store import Store

UTC = dt.UTC
# (application no., address, industry, made at in UTC); China is UTC+8
FILED = [
    ("LS-2026-001", "苗岭路28号", "6239", dt.datetime(2026, 6, 1, 15, 30, tzinfo=UTC)),  # 23:30 on 1 June
    ("ls-2026-002", "海口路42号", "9013", dt.datetime(2026, 6, 1, 16, 30, tzinfo=UTC)),  # 00:30 on 2 June
    ("LS-2026-003", "株洲路100%_1号", "6210", dt.datetime(2026, 6, 3, 1, 0, tzinfo=UTC)),
]


@pytest.fixture(params=["sqlite", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgis_url")
    )
    store = Store(url)
    for number, address, code, made in FILED:
        asked = report.ReportRequest(
            industry=code, sites=({"address": address},), filing=report.Filing(application_no=number)
        )
        page = report.Report(
            f"r{number[-3:]}", f"<p>{number}</p>", made.date(), {"rules": 1}, ("review",), (address,)
        )
        report.save(store, page, asked, made)
    yield store
    store.close()


def _ids(store: Store, **wanted) -> list[str]:
    return [r["id"] for r in search(store, Search(**wanted))["reports"]]


def test_the_register_searches_alike_on_both_stores(store):
    assert _ids(store) == ["r003", "r002", "r001"]  # newest first
    assert _ids(store, application_no="ls-2026") == ["r003", "r002", "r001"]  # any case
    assert _ids(store, application_no="LS-2026-00") == ["r003", "r002", "r001"]
    assert _ids(store, address="100%_") == ["r003"] and _ids(store, address="0%") == ["r003"]
    assert _ids(store, address="路4") == ["r002"]
    assert _ids(store, industry="62") == ["r003", "r001"] and _ids(store, industry="9013") == ["r002"]
    assert _ids(store, since=dt.date(2026, 6, 1), until=dt.date(2026, 6, 1)) == ["r001"]  # days in China
    assert _ids(store, since=dt.date(2026, 6, 2), until=dt.date(2026, 6, 2)) == ["r002"]
    assert _ids(store, since=dt.date(2026, 6, 2)) == ["r003", "r002"]
    entry = search(store, Search(application_no="002"))["reports"][0]
    assert entry["made_at"] == "2026-06-01T16:30:00Z" and entry["verdicts"] == ["review"]
    assert entry["addresses"] == ["海口路42号"] and entry["industry"]["code"] == "9013"
    assert report.page_of(store, "r002", lambda _: pytest.fail("drawn again"), None) == "<p>ls-2026-002</p>"


def test_a_page_beyond_the_last_is_empty_and_says_how_many_there_are(store):
    assert search(store, Search(page=1))["pages"] == 1
    answer = search(store, Search(page=2))
    assert (answer["total"], answer["pages"], answer["page_size"], answer["reports"]) == (3, 1, PAGE_SIZE, [])
