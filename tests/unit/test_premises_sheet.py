"""A park's premises as its office's spreadsheet: downloaded with Chinese headers, uploaded back all
or nothing — a bad row names sheet, row, header and value and nothing is written."""

import pytest
import python_calamine
import xlsxwriter

from siteselect import listings, premises_sheet
from siteselect.audit import entries as audit_log
from siteselect.check import checker_for
from siteselect.errors import LayerValidationError, PermissionDeniedError
from siteselect.index import Catalog
from tests.support.workbench import building_in_park


def _rows(data: bytes, tmp_path):
    path = tmp_path / "down.xlsx"
    path.write_bytes(data)
    return python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("房源").to_python()


def _sheet(path, rows):
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    sheet = book.add_worksheet("房源")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and value != "":
                sheet.write(r, c, value)
    book.close()
    return path


def _building_at(store):
    return checker_for(Catalog(store).current()).locator.building_at


def test_the_download_is_the_parks_premises_with_chinese_headers_and_labels(store, users, tmp_path):
    rows = _rows(premises_sheet.write_sheet(store, users["a"], "park-001"), tmp_path)
    assert rows[0][:8] == ["编号", "地址", "楼层", "面积(m²)", "租金(元/m²·月)", "用途", "状态", "可入驻日期"]
    mine = {x["id"] for x in listings.all_listings(store) if x["park_id"] == "park-001"}
    assert {r[0] for r in rows[1:]} == mine and mine
    assert {r[6] for r in rows[1:]} <= {"可租", "已预订", "已出租", "已撤回"}
    with pytest.raises(PermissionDeniedError):
        premises_sheet.write_sheet(store, users["b"], "park-001")


def test_a_sheet_with_one_bad_row_loads_nothing_and_a_good_one_loads_all(store, users, tmp_path):
    at = building_in_park(store, "park-001")
    rows = _rows(premises_sheet.write_sheet(store, users["a"], "park-001"), tmp_path)
    rows[1][4] = 77.5  # a new rent for the first premises
    new = ["A-501", f"{at['address']}5层501室", 5, 88, 66, "办公", "可租", "2026-12-01", at["lon"], at["lat"]]
    bad = list(new)
    bad[2] = at["floors"] + 3  # a floor the building does not have
    before = (listings.all_listings(store), len(audit_log(store, users["clerk"])))
    with pytest.raises(LayerValidationError) as refused:
        premises_sheet.read_sheet(
            store, users["a"], "park-001", _sheet(tmp_path / "park.xlsx", [*rows, bad]), _building_at(store)
        )
    (problem,) = refused.value.problems
    assert (problem.sheet, problem.line, problem.header, problem.value) == (
        "房源",
        len(rows) + 1,
        "楼层",
        at["floors"] + 3,
    )
    assert f"has {at['floors']} floors" in problem.message
    assert listings.all_listings(store) == before[0]
    assert audit_log(store, users["clerk"])[-1]["outcome"] == "refused"
    done = premises_sheet.read_sheet(
        store, users["a"], "park-001", _sheet(tmp_path / "park.xlsx", [*rows, new]), _building_at(store)
    )
    assert done["created"] == ["A-501"] and done["changed"] == [rows[1][0]]
    assert done["unchanged"] == len(rows) - 2
    made = listings.get(store, "A-501")
    assert (made["park_id"], made["use"], made["status"], made["floor"]) == (
        "park-001",
        "office",
        "available",
        5,
    )
    assert listings.get(store, rows[1][0])["rent"] == 77.5


def test_a_row_of_another_park_or_outside_the_park_is_refused(store, users, tmp_path):
    theirs = next(x for x in listings.all_listings(store) if x["park_id"] == "park-002")
    at = building_in_park(store, "park-001")
    header = ["编号", "地址", "楼层", "面积", "状态", "经度", "纬度"]
    rows = [
        header,
        [theirs["id"], "株洲路1号", 1, 50, "可租", at["lon"], at["lat"]],
        ["A-9", "株洲路2号", 1, 50, "可租", theirs["lon"], theirs["lat"]],
        ["A-10", "株洲路3号", 1, "大", "空着", at["lon"], at["lat"]],
    ]
    with pytest.raises(LayerValidationError) as refused:
        premises_sheet.read_sheet(
            store, users["a"], "park-001", _sheet(tmp_path / "x.xlsx", rows), _building_at(store)
        )
    named = {(p.line, p.header) for p in refused.value.problems}
    assert {(4, "面积"), (4, "状态")} <= named
    assert not any(x["id"] in ("A-9", "A-10") for x in listings.all_listings(store))
