"""Department files loaded as departments keep them: workbooks and GBK CSVs with Chinese headers,
addresses placed by the gazetteer, problems named by sheet, row and header, a department's own
entries replaced, dry runs judged by the one checker, earlier versions made current again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import python_calamine
import shapely

from siteselect.check import checker_for
from siteselect.cli import main
from siteselect.errors import InvalidInputError, LayerValidationError, PermissionDeniedError
from siteselect.geodesy import distances_m
from siteselect.index import Catalog
from siteselect.load import LoadOptions, commit, load_file, plan_load
from siteselect.premises import Premises
from siteselect.sheets import detect_encoding, iter_table, read_table, write_problems
from siteselect.stewardship import restore_version
from siteselect.store import Store
from siteselect.validation import _to_date, validate_frame
from tests.support.department_files import (
    ENFORCEMENT,
    HEADERS,
    baidu_points,
    copy_store,
    gbk_csv,
    prohibited_xlsx,
)

LAYER = "prohibited_addresses"
# The enforcement bureau's new list: 深圳路113号 (P081 today) is no longer on it.
NEW_LIST = [
    ["崂山区深圳路116号", "违法建筑", "全部行业", "2026年4月2日", ENFORCEMENT],
    ["山东省青岛市崂山区深圳路71号", "违法建筑", "*", dt.date(2026, 4, 2), ENFORCEMENT],
    ["松岭路102号", "违法建筑", "62", "2026/4/2", ENFORCEMENT],
    ["崂山区松岭路256号", "违法建筑", "62;H", "2026.4.2", ENFORCEMENT],
    ["辽阳东路171号", "违法建筑", "*", 46114, ENFORCEMENT],
]


def test_dates_as_departments_write_them():
    for text in ("2026-04-02", "2026/4/2", "2026.4.2", "2026年4月2日", 46114, "46114", dt.date(2026, 4, 2)):
        assert _to_date(text) == "2026-04-02", text
    for bad in ("2026-13-01", "4/2/2026", 3, 1e9, "二〇二六年"):
        with pytest.raises(ValueError):
            _to_date(bad)


def test_a_workbook_with_a_title_row_loads_geocoded_and_replaces_only_its_department(store, tmp_path):
    before = store.read_layer(LAYER)
    others = before[before["department"] != ENFORCEMENT]
    path = prohibited_xlsx(tmp_path / "执法局禁设地址.xlsx", NEW_LIST)

    plan = plan_load(store, LAYER, path, LoadOptions(), loaded_by="steward", judge=True)
    assert plan.departments == (ENFORCEMENT,)
    assert plan.mapping["详细地址"] == "address" and plan.mapping["禁设行业"] == "industries"
    removed = {e.id for e in plan.entries if e.change == "removed"}
    assert removed == set(before.loc[before["department"] == ENFORCEMENT, "id"])
    assert sum(e.change == "added" for e in plan.entries) == len(NEW_LIST)
    assert all(e.department == ENFORCEMENT for e in plan.entries)

    version = commit(store, plan, loaded_by="steward")
    after = store.read_layer(LAYER, version=version.version)
    assert len(after) == len(others) + len(NEW_LIST)
    assert set(others["id"]) <= set(after["id"])  # every other department's entry is still there
    mine = after[after["department"] == ENFORCEMENT].set_index("address")
    assert set(mine["effective_from"]) == {"2026-04-02"}
    assert mine.loc["崂山区深圳路116号", "house_number_id"] == "H00630"
    assert mine.loc["崂山区深圳路116号", "match_level"] == "house_number"
    assert 0.9 <= mine.loc["崂山区深圳路116号", "match_confidence"] <= 1
    assert mine.loc["崂山区深圳路116号", "industries"] == ["*"]
    assert mine.loc["崂山区松岭路256号", "industries"] == ["62", "H"]


def test_the_dry_run_reports_the_verdicts_the_checker_gives_after_the_load(store, tmp_path, settings):
    path = prohibited_xlsx(tmp_path / "list.xlsx", NEW_LIST)
    plan = plan_load(store, LAYER, path, judge=True)
    assert plan.verdicts, "dropping five entries must change some verdict"
    assert plan.premises_checked >= len(plan.verdicts)
    commit(store, plan)
    checker = checker_for(Catalog(store, settings).current())
    for change in plan.verdicts:
        now = checker.verdicts([Premises(industry=change.industry, address=change.address)])[0]
        assert now.verdict == change.after != change.before


def test_problems_name_sheet_excel_row_header_and_a_fix_and_load_nothing(store, tmp_path):
    rows = [
        ["崂山区深圳路116号", "违法建筑", "全部行业", "2026-04-02", ENFORCEMENT],
        ["火星路999号", "违法建筑", "*", "2026-04-02", ENFORCEMENT],  # row 5: no such road
        ["海尔路1号", "违法建筑", "*", "不久以后", ENFORCEMENT],  # row 7 (after the blank row 6)
    ]
    path = prohibited_xlsx(tmp_path / "bad.xlsx", rows)
    counts = store.counts()
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, LAYER, path)
    assert store.counts() == counts
    by_row = {p.line: p for p in caught.value.problems}
    assert set(by_row) == {5, 7}
    assert (
        by_row[5].sheet == "禁设地址" and by_row[5].header == "详细地址" and by_row[5].value == "火星路999号"
    )
    assert "this load accepts building or better" in by_row[5].message and "经度" in (by_row[5].fix or "")
    assert by_row[7].header == "生效日期" and by_row[7].field == "effective_from"
    assert "2026年4月2日" in (by_row[7].fix or "")
    assert "sheet '禁设地址', row 7, column '生效日期'" in str(caught.value)

    out = tmp_path / "problems.xlsx"
    write_problems(caught.value.problems, out)
    listed = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert [r[2] for r in listed[1:]] == [5, 7]
    assert listed[2][3] == "生效日期" and listed[2][5] == "不久以后"


def test_an_address_below_the_accepted_level_is_refused_and_accepted_when_allowed(store, tmp_path):
    rows = [["崂山区深圳路9999号", "违法建筑", "*", "2026-04-02", ENFORCEMENT]]  # the road, not the number
    path = prohibited_xlsx(tmp_path / "road.xlsx", rows)
    with pytest.raises(
        LayerValidationError,
        match=r"matched only at road level \(no house number 9999 on 深圳路\); this load accepts building",
    ):
        load_file(store, LAYER, path)
    version = load_file(store, LAYER, path, options=LoadOptions(min_level="road"))
    entry = store.read_layer(LAYER, version=version.version).set_index("address").loc["崂山区深圳路9999号"]
    assert entry["match_level"] == "road" and entry["match_confidence"] == pytest.approx(0.6)


def test_a_gbk_csv_from_chinese_windows_loads(store, tmp_path):
    header = ["编号", "地址", "禁设原因", "行业", "生效日期", "部门"]
    rows = [["E1", "崂山区深圳路116号", "违法建筑（噪声）", "*", "2026/4/2", ENFORCEMENT]]
    for encoding in ("gbk", "gb18030"):
        path = gbk_csv(tmp_path / f"{encoding}.csv", header, rows, encoding)
        assert detect_encoding(path.read_bytes()) == "gb18030"
        version = load_file(store, LAYER, path)
        entry = store.read_layer(LAYER, version=version.version).set_index("id").loc["E1"]
        assert entry["reason"] == "违法建筑（噪声）" and entry["effective_from"] == "2026-04-02"
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + ",".join(header).encode() + b"\n")
    assert read_table(with_bom).headers == header


def test_baidu_picked_coordinates_are_caught_and_load_with_their_system(store, tmp_path):
    numbers = store.read_layer("house_numbers").set_index("id").loc[["H00630", "H00607"]]
    lon, lat = baidu_points(list(numbers.geometry.x), list(numbers.geometry.y))
    header = ["编号", "地址", "禁设原因", "行业", "部门", "经度", "纬度"]
    rows = [
        [f"B{n}", addr, "违法建筑", "*", ENFORCEMENT, f"{x:.6f}", f"{y:.6f}"]
        for n, (addr, x, y) in enumerate(zip(numbers["address"], lon, lat))
    ]
    path = gbk_csv(tmp_path / "baidu.csv", header, rows, "utf-8")
    counts = store.counts()
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, LAYER, path)
    assert store.counts() == counts
    far = caught.value.problems[0]
    assert far.line == 2 and far.header == "经度" and "m from where its address resolves" in far.message
    assert "--coordsys bd09" in (far.fix or "")
    version = load_file(store, LAYER, path, coordsys="bd09")
    loaded = store.read_layer(LAYER, version=version.version).set_index("id")
    assert loaded.loc["B0"].geometry.distance(numbers.iloc[0].geometry) < 1e-6
    by_column = gbk_csv(
        tmp_path / "by-column.csv", [*header, "坐标系"], [[*r, "百度"] for r in rows], "utf-8"
    )
    load_file(store, LAYER, by_column)


def test_an_unknown_header_is_named_with_the_nearest_field(store, tmp_path):
    path = prohibited_xlsx(
        tmp_path / "x.xlsx", NEW_LIST[:1], headers=[*HEADERS[:2], "禁设原由", *HEADERS[3:]]
    )
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, LAYER, path)
    problem, missing = caught.value.problems
    assert missing.field == "reason" and missing.message == "required column is missing"
    assert problem.value == "禁设原由" and "is not a field of layer prohibited_addresses" in problem.message
    assert "禁设原因" in (problem.fix or "") and "(reason)" in (problem.fix or "")


def test_a_mapping_file_maps_a_department_s_own_headers(store, tmp_path):
    path = prohibited_xlsx(
        tmp_path / "x.xlsx", NEW_LIST[:1], headers=[*HEADERS[:2], "问题情况", *HEADERS[3:]]
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text("问题情况: reason\n", encoding="utf-8")
    url = str(store.engine.url)
    assert main(["--database-url", url, "load", LAYER, str(path), "--mapping", str(mapping)]) == 0


def test_replacing_every_department_needs_the_flag_and_an_admin(store, tmp_path):
    path = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST)
    with pytest.raises(PermissionDeniedError, match="needs an admin"):
        plan_load(store, LAYER, path, LoadOptions(replace_all=True, role="steward"))
    version = load_file(store, LAYER, path, options=LoadOptions(replace_all=True, role="admin"))
    assert version.feature_count == len(NEW_LIST)


def test_department_option_fills_the_column_and_refuses_another_department_s_rows(store, tmp_path):
    rows = [[*r[:4], None] for r in NEW_LIST[:2]]
    path = prohibited_xlsx(tmp_path / "x.xlsx", rows)
    version = load_file(store, LAYER, path, options=LoadOptions(department=ENFORCEMENT))
    assert version.feature_count == 82 - 10 + 2
    other = prohibited_xlsx(tmp_path / "y.xlsx", [[*NEW_LIST[0][:4], "崂山区文化和旅游局"]])
    with pytest.raises(LayerValidationError, match="another department's entry"):
        load_file(store, LAYER, other, options=LoadOptions(department=ENFORCEMENT))


def test_an_earlier_version_is_made_current_again_as_a_new_version(store, tmp_path):
    first = store.resolve_version(LAYER)
    load_file(store, LAYER, prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST))
    with pytest.raises(InvalidInputError, match="why"):
        restore_version(store, LAYER, first.version, who="王", why=" ")
    back = restore_version(store, LAYER, first.version, who="王", why="执法局清单有误")
    assert back.version == first.version + 2 and back.loaded_by == "王"
    assert "执法局清单有误" in back.source and back.checksum == first.checksum


def test_the_cli_dry_run_lists_changes_and_loads_nothing(store, tmp_path, capsys):
    path = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST)
    url = str(store.engine.url)
    counts = store.counts()
    assert main(["--database-url", url, "load", LAYER, str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert store.counts() == counts
    assert "dry run, nothing loaded" in out and "removed  P081  " + ENFORCEMENT in out
    assert "→" in out
    assert main(["--database-url", url, "load", LAYER, str(path), "--user", "steward"]) == 0
    assert main(["--database-url", url, "revert", LAYER, "1", "--why", "回退", "--user", "admin"]) == 0
    assert "made current again: 回退" in store.resolve_version(LAYER).source


def test_the_cli_writes_the_problem_list(store, tmp_path, capsys):
    path = prohibited_xlsx(tmp_path / "x.xlsx", [["火星路1号", "x", "*", "2026-04-02", ENFORCEMENT]])
    out = tmp_path / "problems.xlsx"
    url = str(store.engine.url)
    assert main(["--database-url", url, "load", LAYER, str(path), "--problems", str(out)]) == 2
    assert "row 4, column '详细地址'" in capsys.readouterr().err
    assert out.is_file()


# ---- bad input: a clear message, nothing loaded ---------------------------------------------------


def _refused(store: Store, path: Path, match: str, **options: object) -> None:
    counts = store.counts()
    with pytest.raises(InvalidInputError, match=match):
        load_file(store, LAYER, path, options=LoadOptions(**options))  # type: ignore[arg-type]
    assert store.counts() == counts


def test_a_corrupt_workbook_is_refused(store, tmp_path):
    path = tmp_path / "list.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    _refused(store, path, r"list\.xlsx: cannot be read as a workbook")


def test_a_password_protected_workbook_is_refused(store, tmp_path):
    import msoffcrypto.format.ooxml

    plain = prohibited_xlsx(tmp_path / "plain.xlsx", NEW_LIST)
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as f, locked.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(f).encrypt("secret", out)
    _refused(store, locked, "password-protected.*without a password")


def test_a_sheet_that_does_not_exist_is_named_with_the_sheets_there(store, tmp_path):
    path = prohibited_xlsx(tmp_path / "list.xlsx", NEW_LIST)
    _refused(store, path, "no sheet named '2025年'; its sheets are 禁设地址", sheet="2025年")


def test_merged_header_cells_are_refused(store, tmp_path):
    import xlsxwriter

    path = tmp_path / "merged.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Sheet1")
    ws.write_row(0, 0, ["编号", "地址", "禁设原因", "行业", "部门"])
    ws.merge_range(0, 5, 0, 6, "坐标")
    ws.write_row(1, 0, ["A1", "海尔路1号", "x", "*", ENFORCEMENT, 120.45, 36.1])
    book.close()
    _refused(store, path, r"header cells F1:G1 are merged \('坐标'\); unmerge them")


def test_duplicate_ids_are_named_by_their_rows(store, tmp_path):
    header = ["编号", "地址", "禁设原因", "行业", "部门"]
    rows = [["D1", "海尔路1号", "x", "*", ENFORCEMENT], ["D1", "深圳路116号", "x", "*", ENFORCEMENT]]
    path = gbk_csv(tmp_path / "dup.csv", header, rows)
    _refused(store, path, r"dup\.csv, row 3, column '编号' \(id\): duplicates the id of row 2")


def test_a_column_of_mixed_types_names_each_bad_value(store, tmp_path):
    rows = [
        [*r[:3], d, r[4]] for r, d in zip(NEW_LIST, ["2026-04-02", "长期", 3.5, dt.date(2026, 1, 1), "N/A"])
    ]
    path = prohibited_xlsx(tmp_path / "mixed.xlsx", rows)
    counts = store.counts()
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, LAYER, path)
    assert store.counts() == counts
    assert [(p.line, p.value) for p in caught.value.problems] == [(5, "长期"), (7, 3.5), (9, "N/A")]


def test_a_million_blank_rows_load_nothing(store, tmp_path):
    path = tmp_path / "blank.csv"
    path.write_bytes("编号,地址,禁设原因,行业,部门\n".encode() + b",,,,\n" * 1_000_000)
    _refused(store, path, r"blank\.csv: no rows to load below the header row")


def test_an_unclosed_polygon_ring_is_refused_with_the_fix(store, tmp_path):
    header = ["编号", "地址", "禁设原因", "行业", "部门", "WKT"]
    ring = '"POLYGON ((120.45 36.10, 120.46 36.10, 120.46 36.11))"'
    path = gbk_csv(tmp_path / "ring.csv", header, [["R1", "海尔路1号", "x", "*", ENFORCEMENT, ring]])
    _refused(store, path, r"row 2, column 'WKT' \(geometry\): is not WKT.*fix: close each ring")


def test_an_unterminated_quote_is_refused_with_its_line(store, tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(
        '编号,地址,禁设原因,行业,部门\nQ1,海尔路1号,x,*,执法局\nQ2,"深圳路116号,x,*,执法局\n',
        encoding="utf-8",
    )
    _refused(store, path, r"quote\.csv: line \d+: .*unclosed quote")


def test_an_old_xls_workbook_loads(store, tmp_path):
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("2026年清单")
    sheet.write_merge(0, 0, 0, 4, "崂山区禁设地址清单")
    for c, header in enumerate(["编号", "经营场所", "禁设原因", "行业", "生效日期"]):
        sheet.write(1, c, header)
    dated = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheet.write(2, 0, "X1")
    sheet.write(2, 1, "崂山区深圳路116号")
    sheet.write(2, 2, "违法建筑")
    sheet.write(2, 3, "娱乐场所")
    sheet.write(2, 4, dt.date(2026, 4, 2), dated)
    path = tmp_path / "清单.xls"
    book.save(str(path))
    version = load_file(store, LAYER, path, options=LoadOptions(sheet="2026年清单", department=ENFORCEMENT))
    entry = store.read_layer(LAYER, version=version.version).set_index("id").loc["X1"]
    assert entry["industries"] == ["901"] and entry["effective_from"] == "2026-04-02"
    assert entry["house_number_id"] == "H00630" and entry["department"] == ENFORCEMENT


def test_a_zones_load_shows_the_verdicts_a_new_school_changes(store, tmp_path, settings):
    education = "崂山区教育和体育局"
    zones = store.read_layer("zones")
    theirs = zones[zones["department"] == education]
    spot = store.read_layer("house_numbers").set_index("id").loc["H00630"].geometry  # 深圳路116号
    school = shapely.box(spot.x + 0.0008, spot.y, spot.x + 0.0012, spot.y + 0.0004)  # some 80 m east
    shapes = shapely.to_wkt([*theirs.geometry, school], rounding_precision=-1)
    ids, names, kinds = (
        [*theirs["id"], "Z-NEW"],
        [*theirs["name"], "深圳路新建小学"],
        [*theirs["kind"], "小学"],
    )
    rows = [[i, n, k, f'"{w}"'] for i, n, k, w in zip(ids, names, kinds, shapes)]
    path = gbk_csv(tmp_path / "学校.csv", ["编号", "名称", "类型", "WKT"], rows)
    plan = plan_load(store, "zones", path, LoadOptions(department=education), judge=True)
    assert [(e.id, e.change) for e in plan.entries] == [("Z-NEW", "added")]
    near_school = [v for v in plan.verdicts if v.industry in ("9013", "9011") and v.after == "prohibited"]
    assert near_school, "an internet café within 200 m of a new primary school is prohibited"
    numbers = store.read_layer("house_numbers").set_index("id")
    for v in plan.verdicts:  # only premises the new school can reach (200 m) were judged to change
        assert distances_m(*numbers.loc[v.house_number_id].geometry.coords[0], [school])[0] <= 200
    commit(store, plan)
    assert store.read_layer("zones").set_index("id").loc["Z-NEW", "kind"] == "primary_school"
    checker = checker_for(Catalog(store, settings).current())
    for change in plan.verdicts:
        now = checker.verdicts([Premises(industry=change.industry, address=change.address)])[0]
        assert now.verdict == change.after


def test_text_that_cannot_be_stored_is_refused(store, tmp_path):
    header = ["编号", "地址", "禁设原因", "行业", "部门"]
    path = tmp_path / "nul.csv"
    path.write_text(",".join(header) + "\nA1,海尔路1号,违\x00建,*,执法局\n", encoding="utf-8")
    _refused(store, path, r"row 2, column '禁设原因' \(reason\): contains a NUL character")
    rows = [["A2", "海尔路1号", "违\ud800建", "*", "执法局"]]
    frame = pd.DataFrame(rows, columns=["id", "address", "reason", "industries", "department"])
    frame["geometry"] = [shapely.Point(120.45, 36.1)]
    with pytest.raises(LayerValidationError, match="unpaired surrogate"):
        validate_frame(LAYER, frame, "memory")


STREAM_HEADER = ["编号", "地址", "禁设原因", "行业", "生效日期", "部门"]


def _big_list(store: Store, count: int) -> list[list[object]]:
    numbers = store.read_layer("house_numbers")["address"].tolist()
    return [[f"ZF{n:04d}", numbers[n], "违法建筑", "餐饮", "2026/4/2", ENFORCEMENT] for n in range(count)]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 rows, stored 5 at a time; the sizes of the chunks read are recorded."""
    from siteselect import load as load_module
    from siteselect import store as store_module

    sizes: list[int] = []
    real = load_module.iter_intake

    def counted(*args, **kwargs):
        for intake in real(*args, **kwargs):
            sizes.append(len(intake.frame))
            yield intake

    monkeypatch.setattr(load_module, "STREAM_BYTES", 0)  # every CSV is streamed
    monkeypatch.setattr(load_module, "CHUNK_ROWS", 7)
    monkeypatch.setattr(load_module, "iter_intake", counted)
    monkeypatch.setattr(store_module, "CHUNK", 5)
    return sizes


def test_a_csv_is_loaded_chunk_by_chunk_as_the_same_version_it_makes_whole(
    store, demo_db, tmp_path, small_chunks
):
    path = gbk_csv(tmp_path / "big.csv", STREAM_HEADER, _big_list(store, 40), "gb18030")
    before = store.read_layer(LAYER)
    streamed = load_file(store, LAYER, path, loaded_by="王")
    assert small_chunks == [7, 7, 7, 7, 7, 5]
    (tmp_path / "whole").mkdir()
    other = Store(copy_store(demo_db, tmp_path / "whole"))
    whole = commit(other, plan_load(other, LAYER, path))  # the dry run's way: the file held whole
    assert (streamed.checksum, streamed.feature_count) == (whole.checksum, whole.feature_count)
    after = store.read_layer(LAYER)
    mine = after["department"] == ENFORCEMENT
    assert sorted(after.loc[mine, "id"]) == [f"ZF{n:04d}" for n in range(40)]
    others = before[before["department"] != ENFORCEMENT].reset_index(drop=True)
    assert after[~mine].reset_index(drop=True).equals(others)  # other departments' entries kept
    assert set(after.loc[mine, "match_level"]) == {"house_number"}


def test_a_bad_row_in_a_late_chunk_is_named_and_nothing_is_loaded(store, tmp_path, small_chunks, monkeypatch):
    from siteselect import load as load_module

    rows = _big_list(store, 40)
    rows[33][4] = "明天"  # file line 35
    rows[20][0] = rows[2][0]  # line 22 repeats the id of line 4, two chunks earlier
    market = store.read_layer(LAYER).query("department != @ENFORCEMENT")["id"].iloc[0]
    path = gbk_csv(tmp_path / "bad.csv", STREAM_HEADER, rows, "gb18030")
    counts = store.counts()
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, LAYER, path)
    found = {(p.line, p.header, p.value) for p in caught.value.problems}
    assert (35, "生效日期", "明天") in found and (22, "编号", "ZF0002") in found
    assert any("row 4" in p.message for p in caught.value.problems if p.line == 22)
    assert store.counts() == counts

    rows = _big_list(store, 40)
    for row in rows:
        row[4] = "明天"
    monkeypatch.setattr(load_module, "MAX_PROBLEMS", 10)
    read = len(small_chunks)
    with pytest.raises(LayerValidationError) as caught:  # a file of bad rows: reading stops early
        load_file(store, LAYER, gbk_csv(tmp_path / "all-bad.csv", STREAM_HEADER, rows, "gb18030"))
    *bad, stop = caught.value.problems
    assert len(bad) == 14 and "reading stopped after 14 problems, at row 15" in stop.message
    assert small_chunks[read:] == [7, 7]  # not a row further

    rows = _big_list(store, 40)
    rows[30][0] = market  # another department's entry
    with pytest.raises(LayerValidationError, match="is already the id of an entry of"):
        load_file(store, LAYER, gbk_csv(tmp_path / "clash.csv", STREAM_HEADER, rows, "gb18030"))
    assert store.counts() == counts


def test_a_bad_byte_late_in_a_big_csv_names_its_line(tmp_path):
    lines = [",".join(STREAM_HEADER)] + [
        f"E{n},崂山区深圳路116号,违法建筑,*,2026/4/2,{ENFORCEMENT}" for n in range(30000)
    ]
    data = "\r\n".join(lines).encode("gb18030")
    cut = data.index(b"E25000,")  # far beyond the sample the encoding is detected from
    path = tmp_path / "bad.csv"
    path.write_bytes(data[:cut] + b"\xff\xfe" + data[cut:])
    with pytest.raises(InvalidInputError, match="line 25002 is not valid gb18030 text"):
        for _ in iter_table(path):
            pass


def test_texts_of_one_place_are_resolved_once_to_the_same_match(store):
    from siteselect import geocoding

    gazetteer = geocoding.gazetteer_for(store)
    numbers = store.read_layer("house_numbers").head(300)
    texts = [f"崂山区{a}" for a in numbers["address"]]
    rooms = [
        f"{t}{n % 5 + 1}单元{n % 30 + 1}0{n % 4 + 1}室" if n % 2 else f"{t} 2层" for n, t in enumerate(texts)
    ]
    for text, room, shared in zip(
        texts, rooms, geocoding.resolve_all(gazetteer, texts + rooms)[len(texts) :]
    ):
        alone = gazetteer.resolve(room)  # the room said nothing: the resolver alone agrees
        plain = gazetteer.resolve(text)
        assert (alone.level, alone.house_number_id, alone.lon, alone.lat) == (
            plain.level, plain.house_number_id, plain.lon, plain.lat
        ) == (shared.level, shared.house_number_id, shared.lon, shared.lat)  # fmt: skip
    assert geocoding.place_key("海尔路12号3号楼") == "海尔路12号3号楼"  # a building is a place
    assert geocoding.place_key("海尔路12号三单元") == "海尔路12号三单元"  # only digits are cut


def _plans_both_ways(store, demo_db, tmp_path, path, monkeypatch, judge=True):
    """The dry run of ``path`` streamed (on ``store``) and held whole (on a copy of the same store),
    and the peak memory Python traced for each (after a first small plan: caches filled)."""
    import tracemalloc

    from siteselect import load as load_module

    (tmp_path / "whole").mkdir()
    other = Store(copy_store(demo_db, tmp_path / "whole"))
    plans, peaks = [], []
    warm = gbk_csv(tmp_path / "warm.csv", STREAM_HEADER, _big_list(store, 3), "gb18030")
    plan_load(store, LAYER, warm, LoadOptions(), judge=judge).close()
    for target, threshold in ((store, 0), (other, 2**40)):
        monkeypatch.setattr(load_module, "STREAM_BYTES", threshold)
        tracemalloc.start()
        plans.append(plan_load(target, LAYER, path, LoadOptions(), judge=judge))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return plans, peaks


def test_a_streamed_dry_run_gives_the_change_list_of_the_file_held_whole(
    store, demo_db, tmp_path, small_chunks, monkeypatch
):
    before = store.read_layer(LAYER)
    mine = before[before["department"] == ENFORCEMENT]
    kept, changed = mine.iloc[0], mine.iloc[1]  # one entry as it is, one with a new reason
    rows = [
        *_big_list(store, 30),
        [kept["id"], kept["address"], kept["reason"], ";".join(kept["industries"]), kept["effective_from"],
         ENFORCEMENT],
        [changed["id"], changed["address"], "新的原因", ";".join(changed["industries"]),
         changed["effective_from"], ENFORCEMENT],
    ]  # fmt: skip
    path = gbk_csv(tmp_path / "list.csv", STREAM_HEADER, rows, "gb18030")
    (streamed, whole), _ = _plans_both_ways(store, demo_db, tmp_path, path, monkeypatch)
    assert small_chunks and max(small_chunks) == 7  # read chunk by chunk
    assert len(streamed.features) == len(whole.features) and streamed.departments == whole.departments
    assert streamed.entries == whole.entries
    kinds = {e.change for e in streamed.entries}
    assert kinds == {"added", "removed", "changed"}
    assert "reason" in next(e.fields for e in streamed.entries if e.id == changed["id"])
    assert streamed.verdicts, "the enforcement bureau's dropped entries change some verdict"
    assert (streamed.verdicts, streamed.premises_checked) == (whole.verdicts, whole.premises_checked)
    drawn = {(f["id"], f["properties"]["change"]) for f in streamed.shapes}
    assert drawn == {(f["id"], f["properties"]["change"]) for f in whole.shapes}
    streamed.close()


def test_a_streamed_change_list_does_not_hold_the_file_whole(store, demo_db, tmp_path, monkeypatch):
    """The file is read, placed, validated and compared with the layer 500 rows at a time (the
    verdicts, judged in parts of the changed entries, are compared in the test above)."""
    from siteselect import load as load_module
    from siteselect import store as store_module

    monkeypatch.setattr(load_module, "CHUNK_ROWS", 500)
    monkeypatch.setattr(store_module, "CHUNK", 500)
    numbers = store.read_layer("house_numbers")["address"].tolist()
    rows = [
        [f"ZF{n:05d}", f"{numbers[n % 2000]}{n % 9 + 1}单元{n % 30 + 1}01室", "违法建筑", "餐饮", "2026/4/2",
         ENFORCEMENT]
        for n in range(20000)
    ]  # fmt: skip
    path = gbk_csv(tmp_path / "big.csv", STREAM_HEADER, rows, "gb18030")
    plans, peaks = _plans_both_ways(store, demo_db, tmp_path, path, monkeypatch, judge=False)
    print(f"peak traced memory: streamed {peaks[0] / 2**20:.1f} MiB, whole {peaks[1] / 2**20:.1f} MiB")
    assert plans[0].entries == plans[1].entries and len(plans[0].entries) == 20000 + 10
    assert peaks[0] < peaks[1] / 3
    plans[0].close()
