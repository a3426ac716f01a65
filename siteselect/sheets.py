"""Read the tables departments keep: Excel workbooks (.xlsx, .xls) and CSV in UTF-8, GBK or GB18030.

Reading only finds the table: the sheet, the header row (below any merged title rows), the data
rows with the row number the file shows (Excel's row, the CSV's line), blank rows skipped. Values
stay as the file holds them — formulas as their computed values, dates as dates — and every
judgement is left to validation. What makes a file unreadable (corrupt, password-protected, a
missing sheet, an unterminated quote, headers merged across columns) is an ``InvalidInputError``
that names the file and what to do about it.

A CSV can also be read in chunks (:func:`iter_table`), so that a million-row file is never held
whole: each chunk is a table of its own with the same headers and the file's own row numbers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine
import xlsxwriter
from charset_normalizer import from_bytes

from siteselect.errors import InvalidInputError, Problem

WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
HEADER_SEARCH_ROWS = 20  # a header lies within the first rows, below at most a few title rows
CHUNK_ROWS = 50_000  # rows of a CSV read at a time when it is read in chunks
ENCODING_SAMPLE = 256 * 1024
_MIDNIGHT = dt.time(0)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any encrypted Office file


@dataclass
class Table:
    """A department's table as read: header texts, raw values, and where each row sits in the file."""

    source: str
    sheet: str | None
    headers: list[str]
    frame: pd.DataFrame  # one column per header, raw values (object)
    lines: np.ndarray  # for each row of ``frame``, its row number as the file shows it
    columns: list[str]  # the column letter (A, B, …) or position of each header

    def where(self, row: int | None) -> int | None:
        """The file's row number of a frame row (None stays None)."""
        return None if row is None else int(self.lines[row])


def read_table(
    path: str | Path, sheet: str | None = None, header_score: Callable[[str], bool] | None = None
) -> Table:
    """Read the table of a workbook sheet (the first, or ``sheet`` by name) or of a CSV file.

    ``header_score`` says whether a cell text is a known header; the header row is the one among the
    first rows with the most known headers (or, knowing none, the first with the most cells).
    """
    return next(iter_table(path, sheet, header_score, chunk_rows=None))


def iter_table(
    path: str | Path,
    sheet: str | None = None,
    header_score: Callable[[str], bool] | None = None,
    *,
    chunk_rows: int | None = CHUNK_ROWS,
) -> Iterator[Table]:
    """The table of :func:`read_table` in chunks of ``chunk_rows`` data rows (at least one chunk,
    perhaps empty). A CSV is read as it is consumed; a workbook's sheet comes whole, as one chunk."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        name, rows, merged = _workbook_rows(path, sheet)
        stream, letters, chunk_rows = iter(rows), True, None
    elif suffix == ".csv":
        if sheet is not None:
            raise InvalidInputError(f"{path.name}: a CSV file has no sheets (sheet {sheet!r} was asked for)")
        name, stream, merged, letters = None, _csv_rows(path), [], False
    else:
        raise InvalidInputError(f"{path.name}: not a table; use .xlsx, .xls or .csv")
    known = header_score or (lambda _t: False)
    head = list(itertools.islice(stream, HEADER_SEARCH_ROWS))
    h, header = _header(path.name, name, head, merged, known)
    first, pending = h + 1, head[h + 1 :]
    while True:
        if chunk_rows:
            pending += itertools.islice(stream, max(0, chunk_rows - len(pending)))
            body, pending = pending[:chunk_rows], pending[chunk_rows:]
        else:
            body, pending = pending + list(stream), []
        if first > h + 1 and not body:
            return
        yield _table(path.name, name, header, h + 1, body, first, letters)
        first += len(body)


def is_table_file(path: str | Path) -> bool:
    """Whether a file is read as a table (a workbook or a CSV) rather than as a GIS format."""
    return Path(path).suffix.lower() in WORKBOOK_SUFFIXES | {".csv"}


# ---- workbooks ------------------------------------------------------------------------------------


def _workbook_rows(
    path: Path, sheet: str | None
) -> tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]:
    with path.open("rb") as f:
        head = f.read(8)
    if head == _OLE_MAGIC and path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise InvalidInputError(
            f"{path.name}: the workbook is password-protected (encrypted); "
            "save a copy without a password (File → Info → Protect Workbook) and load that"
        )
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own classes and plain ValueErrors for bad files
        raise InvalidInputError(f"{path.name}: cannot be read as a workbook ({_reason(exc)})") from None
    names = list(book.sheet_names)
    if sheet is None:
        if not names:
            raise InvalidInputError(f"{path.name}: the workbook has no sheets")
        sheet = names[0]
    elif sheet not in names:
        raise InvalidInputError(f"{path.name}: no sheet named {sheet!r}; its sheets are {', '.join(names)}")
    try:
        data = book.get_sheet_by_name(sheet)
        rows = data.to_python(skip_empty_area=False)
    except Exception as exc:
        raise InvalidInputError(f"{path.name}: sheet {sheet!r} cannot be read ({_reason(exc)})") from None
    merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (getattr(data, "merged_cell_ranges", None) or [])]
    return sheet, rows, merged


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "password" in text.lower() or "encrypt" in text.lower():
        return "it is password-protected; save a copy without a password"
    return text[:200]


# ---- CSV ------------------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) when the bytes are UTF-8, else what charset-normalizer finds.

    GBK text is read as GB18030, its superset, so that a file mixing in GB18030's extra characters
    is read whole.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and len(data) >= ENCODING_SAMPLE:  # a character cut by the sample
            return "utf-8"
    sample = data[:ENCODING_SAMPLE]
    sample = sample[: sample.rfind(b"\n") + 1] or sample  # whole lines: a cut character reads as no GBK
    best = from_bytes(sample, cp_isolation=["gb18030", "gbk", "big5", "utf_16"]).best()
    if best is None:
        raise InvalidInputError("the file's text encoding is not UTF-8, GBK or GB18030; save it as UTF-8")
    return "gb18030" if best.encoding in {"gbk", "gb2312", "gb18030"} else best.encoding


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    """The rows of a CSV as they are read, the n-th being the file's line n + 1 (a row with a quoted
    line break comes after empty rows, numbered by its last line)."""
    with path.open("rb") as f:
        sample = f.read(ENCODING_SAMPLE)
    try:
        encoding = detect_encoding(sample)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path.name}: {exc}") from None
    with path.open(encoding=encoding, newline="") as text:
        reader = csv.reader(text, strict=True)
        count = 0
        try:
            for row in reader:
                while count < reader.line_num - 1:  # a quoted line break: keep Excel-like numbering
                    count += 1
                    yield []
                count += 1
                yield row
        except csv.Error as exc:
            raise InvalidInputError(
                f'{path.name}: line {reader.line_num}: {exc} (an unclosed quote? every " must be paired)'
            ) from None
        except UnicodeDecodeError:
            line = _bad_line(path, encoding)
            raise InvalidInputError(
                f"{path.name}: line {line} is not valid {encoding} text; save the file as UTF-8"
            ) from None


def _bad_line(path: Path, encoding: str) -> int:
    """The line of the first byte that is not ``encoding`` text, read block by block."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:  # its object: the block and any bytes held before it
                return lines + bytes(exc.object[: exc.start]).count(b"\n")
            lines += block.count(b"\n")
    return lines


# ---- the table ------------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _letter(col: int) -> str:
    text = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        text = chr(65 + rem) + text
    return text


def _header_row(rows: list[list[Any]], known: Callable[[str], bool]) -> int:
    best, best_key = -1, (0, 0)
    for r, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [str(v).strip() for v in row if not _blank(v)]
        key = (sum(known(c) for c in cells), len(cells))
        if len(cells) >= 2 and key > best_key:
            best, best_key = r, key
    if best < 0:
        raise InvalidInputError("no header row found: the table needs a row of column names")
    return best


def _header(
    source: str,
    sheet: str | None,
    head: list[list[Any]],
    merged: list[tuple[int, int, int, int]],
    known: Callable[[str], bool],
) -> tuple[int, list[str]]:
    """The header row among the first rows (its index) and its texts; merged header cells refused."""
    where = f"{source}" + (f", sheet {sheet!r}" if sheet else "")
    try:
        h = _header_row(head, known)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None
    for r0, c0, r1, c1 in merged:
        if r0 <= h <= r1 and c1 > c0:
            span = f"{_letter(c0)}{r0 + 1}:{_letter(c1)}{r1 + 1}"
            raise InvalidInputError(
                f"{where}: header cells {span} are merged ({head[r0][c0]!r}); "
                "unmerge them and give each column its own header (e.g. 经度 and 纬度)"
            )
    return h, [("" if _blank(v) else str(v).strip()) for v in head[h]]


def _table(
    source: str,
    sheet: str | None,
    header: list[str],
    header_line: int,
    body: list[list[Any]],
    first: int,
    letters: bool,
) -> Table:
    """The table of the data rows ``body``, the first of which is the file's row ``first + 1``
    (below the header, the file's row ``header_line``)."""
    where = f"{source}" + (f", sheet {sheet!r}" if sheet else "")
    width = max(len(header), max((len(r) for r in body), default=0))
    header = header + [""] * (width - len(header))
    # Column by column, so a big sheet costs a few passes over arrays rather than a loop per cell.
    if any(len(r) != width for r in body):  # a CSV's short rows; a sheet is read as a rectangle
        body = [r + [None] * (width - len(r)) for r in body]
    columns = list(zip(*body)) or [()] * width
    cells, filled = {}, {}
    for c in range(width):
        cells[c], filled[c] = _cells(columns[c])
    keep = np.logical_or.reduce(list(filled.values())) if filled else np.zeros(len(body), dtype=bool)
    lines = np.flatnonzero(keep) + first + 1  # blank rows (and the empty tail of a sheet) are skipped
    used = [c for c in range(width) if header[c] or filled[c].any()]
    for c in used:
        if not header[c]:
            row = int(np.flatnonzero(filled[c])[0]) + first + 1
            raise InvalidInputError(
                f"{where}: column {_name(c, letters)} has values (from row {row}) "
                f"but no header in row {header_line}; name the column, or delete it"
            )
    seen: dict[str, int] = {}
    for c in used:
        if header[c] in seen:
            raise InvalidInputError(
                f"{where}: the header {header[c]!r} appears twice (columns "
                f"{_name(seen[header[c]], letters)} and {_name(c, letters)}); keep one"
            )
        seen[header[c]] = c
    frame = pd.DataFrame({header[c]: cells[c][keep] for c in used}, dtype=object)
    return Table(
        source=source,
        sheet=sheet,
        headers=[header[c] for c in used],
        frame=frame.reset_index(drop=True),
        lines=lines.astype(np.int64),
        columns=[_name(c, letters) for c in used],
    )


def _name(col: int, letters: bool) -> str:
    return _letter(col) if letters else str(col + 1)


def _cells(values: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as read, and which are filled: blank text is missing (None); a date-time
    at midnight is a date (Excel stores dates so)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    if pd.api.types.infer_dtype(column, skipna=True) == "string":  # text only: each distinct text once
        codes, texts = pd.factorize(column)
        kept = np.empty(len(texts) + 1, dtype=object)
        kept[:] = [None if not t or t.isspace() else t for t in texts] + [None]  # the last: None
        column = kept[codes]
        return column, column != None  # noqa: E711
    out = list(values)
    filled = [True] * len(out)
    for n, v in enumerate(out):
        kind = type(v)
        if kind is str:
            if not v or v.isspace():
                out[n], filled[n] = None, False
        elif v is None or (kind is float and v != v):
            out[n], filled[n] = None, False
        elif kind is dt.datetime and v.time() == _MIDNIGHT:
            out[n] = v.date()
    column = np.empty(len(out), dtype=object)
    column[:] = out
    return column, np.array(filled, dtype=bool)


# ---- the problem list -----------------------------------------------------------------------------

PROBLEM_HEADERS = (
    "文件 file",
    "工作表 sheet",
    "行 row",
    "列 column",
    "字段 field",
    "值 value",
    "问题 problem",
    "建议 fix",
)


def write_problems(problems: list[Problem], path: str | Path) -> None:
    """Write a load's problems as a workbook the steward works through: one row per problem, with
    the sheet, the row number and the header as the steward's file shows them."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        sheet = book.add_worksheet("问题 problems")
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, PROBLEM_HEADERS, bold)
        for r, p in enumerate(problems, start=1):
            value = "" if p.value is None else str(p.value)
            cells = (
                p.source,
                p.sheet or "",
                p.line if p.line is not None else "",
                p.header or "",
                p.field or "",
                value,
                p.message,
                p.fix or "",
            )
            sheet.write_row(r, 0, cells)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 18)
        sheet.set_column(5, 7, 40)
    finally:
        book.close()
