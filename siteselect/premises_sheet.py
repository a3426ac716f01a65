"""A park's premises as the spreadsheet its office keeps: written out, and read back all or nothing.

The sheet has Chinese headers (编号, 地址, 楼层, 面积, 租金, 用途, 状态, 可入驻日期, 经度, 纬度) and
Chinese names for the use and the status (办公, 可租 …). It is read back by the loader every layer
file goes through (:func:`siteselect.load.read_file`: headers by their aliases, values as offices
write them, addresses without coordinates placed by the gazetteer, every value checked against the
vacancies spec), then checked as a listing write is: the park's own rows only, each inside the
park, on a floor its building has. Any problem refuses the whole sheet, naming sheet, row, header
and value; a good sheet creates and changes its listings in one transaction. Rows left out of the
sheet are left as they are.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from siteselect import audit, labels, listings
from siteselect.errors import LayerValidationError, PermissionDeniedError, Problem, SiteSelectError
from siteselect.intake import Intake
from siteselect.load import read_file
from siteselect.settings import Settings
from siteselect.store import Store
from siteselect.users import User

SHEET = "房源"
# (field, header, column width): the order of the sheet's columns
COLUMNS = (
    ("id", "编号", 16),
    ("address", "地址", 34),
    ("floor", "楼层", 8),
    ("area_m2", "面积(m²)", 12),
    ("rent", "租金(元/m²·月)", 16),
    ("use", "用途", 10),
    ("status", "状态", 10),
    ("available_from", "可入驻日期", 14),
    ("lon", "经度", 14),
    ("lat", "纬度", 14),
)
LABELLED = {"use": "uses", "status": "statuses"}
NOT_THEIRS = ("prefiled", "updated_at")  # a clerk's verification and the server's time


def _may_keep(store: Store, user: User, park_id: str, action: str) -> None:
    if user.role == "admin" or (user.role == "operator" and park_id in user.parks):
        return
    audit.refuse(
        store,
        user,
        action,
        park_id,
        PermissionDeniedError(f"park {park_id!r}: the sheet of a park is its operator's"),
    )


def write_sheet(store: Store, user: User, park_id: str) -> bytes:
    """The park's listings as an .xlsx workbook, one row per premises, oldest id first."""
    _may_keep(store, user, park_id, "download")
    rows = [x for x in listings.all_listings(store) if x["park_id"] == park_id]
    buffer = io.BytesIO()
    # strings stay strings: an address that starts with "=" must not become a formula
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet(SHEET)
    bold = book.add_format({"bold": True})
    for col, (_field, header, width) in enumerate(COLUMNS):
        sheet.write_string(0, col, header, bold)
        sheet.set_column(col, col, width)
    for r, listing in enumerate(rows, start=1):
        for col, (name, _header, _width) in enumerate(COLUMNS):
            _write(sheet, r, col, _shown(name, listing.get(name)))
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def _shown(name: str, value: Any) -> Any:
    if name in LABELLED and isinstance(value, str):
        return labels.zh(LABELLED[name], value)
    return value


def _write(sheet: Any, row: int, col: int, value: Any) -> None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, str(value))


def read_sheet(
    store: Store,
    user: User,
    park_id: str,
    path: str | Path,
    building_at: listings.BuildingAt,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Load a park's sheet: every row checked, then all written in one transaction, or none."""
    _may_keep(store, user, park_id, "upload")
    source = Path(path).name
    try:
        gdf, intake = read_file(store, "vacancies", path, settings=settings)
        records = listings.frame_records(gdf)
        columns = set(intake.targets.values()) if intake else set(gdf.columns)
        problems = _problems(store, user, park_id, records, columns, intake, building_at)
        if problems:
            raise LayerValidationError(problems)
    except SiteSelectError as exc:
        audit.refuse(store, user, "upload", park_id, exc)
    for rec in records:
        rec["park_id"] = park_id
    return listings.write_many(store, user, records, columns | {"park_id"}, source)


def _problems(
    store: Store,
    user: User,
    park_id: str,
    records: list[dict[str, Any]],
    columns: set[str],
    intake: Intake | None,
    building_at: listings.BuildingAt,
) -> list[Problem]:
    """What a listing write would refuse, row by row, named as the office sees its sheet."""
    source = intake.table.source if intake else "sheet"
    found: list[Problem] = []

    def problem(row: int | None, name: str, value: Any, message: str, fix: str | None = None) -> None:
        p = Problem(source, row, name, value, message, fix=fix)
        found.append(intake.locate(p) if intake else p)

    for name in NOT_THEIRS:
        if name in columns:
            problem(None, name, None, "is not the park's to write", "delete the column")
    parks = listings.Parks(store)
    owner = {x["id"]: x["park_id"] for x in listings.all_listings(store)}
    for row, rec in enumerate(records):
        other = owner.get(rec["id"])
        if other is not None and other != park_id:
            problem(row, "id", rec["id"], f"is a premises of park {other}", "give this row its own 编号")
        if rec.get("park_id") not in (None, park_id):
            problem(row, "park_id", rec["park_id"], f"this sheet is park {park_id}'s")
        try:
            parks.check_placed(user, park_id, rec["lon"], rec["lat"])
        except SiteSelectError as exc:
            problem(
                row, "lon", f"{rec['lon']:.6f}, {rec['lat']:.6f}", str(exc), "check 经度/纬度, or the address"
            )
            continue
        building = building_at(rec["lon"], rec["lat"])
        try:
            listings.check_floor(building, rec.get("floor"))
        except SiteSelectError as exc:
            problem(row, "floor", rec.get("floor"), str(exc), "write a floor the building has")
    return sorted(found, key=lambda p: (-1 if p.line is None else p.line, p.header or ""))
