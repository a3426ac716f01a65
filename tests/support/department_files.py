"""Department files as departments keep them, built in the tests: an Excel list with a merged title
row and Chinese headers, a GBK CSV saved by Excel on Chinese Windows, a list picked on Baidu's map."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter

from siteselect.coords import from_wgs84

ENFORCEMENT = "崂山区综合行政执法局"
HEADERS = ["序号", "详细地址", "禁设原因", "禁设行业", "生效日期", "责任部门"]


def copy_store(url: str, into: Path) -> str:
    """A private copy of a SQLite store (the shared demo is read-only)."""
    source = Path(url.removeprefix("sqlite:///"))
    target = into / "store.db"
    shutil.copy(source, target)
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return f"sqlite:///{target}"


def prohibited_xlsx(
    path: Path, rows: list[list[Any]], *, sheet: str = "禁设地址", headers: list[str] | None = None
) -> Path:
    """An .xlsx as a department keeps it: a merged title row and a subtitle above the headers,
    序号 as formulas, dates as Excel dates or as text, a blank row in the middle."""
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet(sheet)
    headers = headers or HEADERS
    ws.merge_range(0, 0, 0, len(headers) - 1, "崂山区禁设地址清单", book.add_format({"bold": True}))
    ws.write(1, 0, "填报单位：" + ENFORCEMENT)
    ws.write_row(2, 0, headers)
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    r = 3
    for n, row in enumerate(rows):
        if n == 2:
            r += 1  # a blank row, as lists have
        ws.write_formula(r, 0, f"=ROW()-{3 if n < 2 else 4}", None, n + 1)
        for c, value in enumerate(row, start=1):
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
            elif value is not None:
                ws.write(r, c, value)
        r += 1
    book.close()
    return path


def gbk_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "gbk") -> Path:
    """A CSV as Excel saves it on Chinese Windows: GBK, CRLF line ends."""
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def baidu_points(lon: list[float], lat: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Where Baidu's map shows WGS-84 places: what a steward picking points there writes down."""
    return from_wgs84(np.asarray(lon), np.asarray(lat), "bd09")


ACCEPTANCE_HEADERS = ["序号", "项目名称", "项目地址", "竣工验收备案号", "竣工验收日期", "使用性质"]


def acceptance_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    """The housing bureau's table of completion-acceptance projects, as it keeps it."""
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("竣工验收备案")
    ws.merge_range(0, 0, 0, len(ACCEPTANCE_HEADERS) - 1, "崂山区房屋建筑工程竣工验收备案项目一览表")
    ws.write_row(1, 0, ACCEPTANCE_HEADERS)
    date = book.add_format({"num_format": "yyyy年m月d日"})
    for r, row in enumerate(rows, start=2):
        ws.write(r, 0, r - 1)
        for c, value in enumerate(row, start=1):
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
            else:
                ws.write(r, c, value)
    book.close()
    return path
