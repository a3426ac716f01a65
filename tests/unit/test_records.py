"""Records kept as tables (completion acceptance, house-number certificates) joined to the buildings
and house numbers they name, loaded as new versions; unmatched records listed."""

from __future__ import annotations

import datetime as dt

import pytest

from siteselect.cli import main
from siteselect.errors import LayerValidationError
from siteselect.load import commit
from siteselect.records import plan_records
from tests.support.department_files import acceptance_xlsx, gbk_csv

ROWS = [
    ["香港东路2号楼项目", "崂山区香港东路2号", "370212JG2026001", dt.date(2026, 3, 1), "商住"],
    ["香港东路5号住宅楼", "山东省青岛市崂山区香港东路５号", "370212JG2026002", "2026年3月2日", "住宅"],
    ["不存在的项目", "崂山区火星大道1号", "370212JG2026003", "2026-03-03", "办公"],
]


def test_acceptance_records_join_the_buildings_they_name(store, tmp_path):
    path = acceptance_xlsx(tmp_path / "竣工验收.xlsx", ROWS)
    before = store.resolve_version("buildings")
    plan = plan_records(store, "acceptance", path)
    assert plan.layer == "buildings" and plan.based_on == before.version
    assert [(e.id, e.change) for e in plan.entries] == [("B00001", "changed"), ("B00003", "changed")]
    assert set(plan.entries[0].fields) == {"accepted_on", "acceptance_no", "use"}
    (unmatched,) = plan.unmatched
    assert (unmatched.sheet, unmatched.line, unmatched.header) == ("竣工验收备案", 5, "项目地址")
    assert unmatched.message.startswith("names no building")
    version = commit(store, plan, loaded_by="住建局")
    buildings = store.read_layer("buildings", version=version.version).set_index("id")
    assert buildings.loc["B00001", "accepted_on"] == "2026-03-01"
    assert buildings.loc["B00001", "use"] == "mixed"
    assert buildings.loc["B00003", "acceptance_no"] == "370212JG2026002"
    assert buildings.loc["B00003", "accepted_on"] == "2026-03-02"
    assert len(buildings) == before.feature_count


def test_two_records_naming_one_building_refuse_the_join(store, tmp_path):
    path = acceptance_xlsx(
        tmp_path / "dup.xlsx", [ROWS[0], [*ROWS[0][:2], "370212JG2026009", "2026-03-09", "住宅"]]
    )
    counts = store.counts()
    with pytest.raises(
        LayerValidationError, match=r"row 4, column '项目地址'.*names the same feature B00001 as row 3"
    ):
        plan_records(store, "acceptance", path)
    assert store.counts() == counts


def test_a_bad_use_is_named_with_its_row(store, tmp_path):
    path = acceptance_xlsx(tmp_path / "use.xlsx", [[*ROWS[0][:4], "养殖"]])
    with pytest.raises(LayerValidationError, match=r"row 3, column '使用性质' \(use\): is not one of"):
        plan_records(store, "acceptance", path)


def test_house_number_certificates_from_a_gbk_csv_join_the_house_numbers(store, tmp_path, capsys):
    path = gbk_csv(
        tmp_path / "门牌证明.csv",
        ["门牌地址", "门牌证明编号"],
        [["崂山区香港东路3号", "MP-2026-0001"], ["香港东路9999号", "MP-2026-0002"]],
    )
    url = str(store.engine.url)
    assert main(["--database-url", url, "records", "certificates", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 house_numbers joined, 1 record(s) unmatched" in out and "row 3" in out
    assert main(["--database-url", url, "records", "certificates", str(path), "--user", "公安分局"]) == 0
    numbers = store.read_layer("house_numbers").set_index("id")
    assert numbers.loc["H00002", "certificate_no"] == "MP-2026-0001"
    assert store.resolve_version("house_numbers").loaded_by == "公安分局"


def test_a_record_whose_address_names_nothing_joins_the_building_its_point_lies_in(store, tmp_path):
    building = store.read_layer("buildings").set_index("id").loc["B00003"]
    inside = building.geometry.representative_point()
    header = ["项目名称", "项目地址", "竣工验收备案号", "竣工验收日期", "经度", "纬度"]
    rows = [["新楼", "崂山区某某工地", "JG-9", "2026-03-09", f"{inside.x:.7f}", f"{inside.y:.7f}"]]
    plan = plan_records(store, "acceptance", gbk_csv(tmp_path / "点.csv", header, rows))
    assert [(e.id, e.change) for e in plan.entries] == [("B00003", "changed")] and not plan.unmatched
