"""A department's table made into a layer's raw features: headers mapped to fields, coordinates read
in their system, addresses placed by the gazetteer.

Headers map to fields by the aliases of ``layers/specs.yaml`` (地址 → address, 禁设原因 → reason,
经度/纬度 → lon/lat …) or by a steward's own mapping. Every problem is named as the steward sees
the file: sheet, Excel row (or CSV line), the column's header, the value, and a suggested fix.
A big CSV is taken chunk by chunk (:func:`iter_intake`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import yaml

from siteselect import geocoding, labels
from siteselect.address import Gazetteer, Match
from siteselect.coords import COORDSYS, check_coordsys, to_wgs84, transform_geometries
from siteselect.errors import InvalidInputError, Problem
from siteselect.sheets import CHUNK_ROWS, Table, iter_table
from siteselect.specs import LayerSpec, column_aliases
from siteselect.validation import is_missing, missing_mask

_FEATURE = re.compile(r"\bfeature (\d+)\b")
COLUMNS = ("id", "lon", "lat", "coordsys", "geometry", "ignored")
# How departments write a coordinate system in a 坐标系 column.
COORDSYS_WORDS = {
    "wgs84": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "cgcs2000",
    "国家2000": "cgcs2000",
    "2000": "cgcs2000",
    "gcj02": "gcj02",
    "火星": "gcj02",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "bd09": "bd09",
    "百度": "bd09",
}


def _key(text: str) -> str:
    """The comparable form of a header: NFKC, no spaces, punctuation, units or case."""
    t = unicodedata.normalize("NFKC", str(text)).lower()
    t = re.sub(r"[(\[（【].*?[)\]）】]", "", t)  # 经度(°), 半径（米）
    return re.sub(r"[\s_\-*:：.。/\\]", "", t)


def header_names(spec: LayerSpec) -> dict[str, str]:
    """Every header this layer understands (by comparable form) and the field or column it means."""
    names: dict[str, str] = {}
    for target, aliases in column_aliases().items():
        for alias in (target, *aliases):
            names.setdefault(_key(alias), target)
    for name, fspec in spec.fields.items():
        for alias in (name, *fspec.aliases):
            names[_key(alias)] = name
    return names


def read_mapping(path: str | Path) -> dict[str, str]:
    """A steward's mapping file: YAML (or JSON) ``header: field`` pairs."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"mapping file {path}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InvalidInputError(f"mapping file {path}: expected lines of 'header: field'")
    return data


@dataclass
class Intake:
    """A table read for one layer: where each value came from, and the raw features made of it."""

    spec: LayerSpec
    table: Table
    targets: dict[str, str]  # header -> field or column
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)  # id, fields, geometry (WGS-84)
    problems: list[Problem] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # read coordinates

    @property
    def header_of(self) -> dict[str, str]:
        return {target: header for header, target in self.targets.items()}

    def problem(
        self, row: int | None, name: str | None, value: Any, message: str, fix: str | None = None
    ) -> None:
        self.problems.append(self.locate(Problem(self.table.source, row, name, value, message, fix=fix)))

    def locate(self, p: Problem) -> Problem:
        """Name a problem as the steward sees the file: sheet, row number, the column's header."""
        header = self.header_of.get(p.field or "", p.field)
        if len(self.table.lines):  # "the id of feature 3" is, to the steward, a row of the sheet
            p = replace(
                p, message=_FEATURE.sub(lambda m: f"row {self.table.where(int(m.group(1)))}", p.message)
            )
        return replace(
            p, sheet=self.table.sheet, line=self.table.where(p.row), header=header, fix=p.fix or _fix(p)
        )


def _fix(p: Problem) -> str | None:
    """A suggestion for common validation messages."""
    m = p.message
    if m == "is required":
        return "fill in this cell"
    if "duplicates the id" in m:
        return "give each row its own id"
    if "is not a date" in m:
        return "write the date as 2026-04-02, 2026/4/2 or 2026年4月2日"
    if m.startswith("is not one of"):
        return "use one of the listed values"
    if "outside the district" in m:
        return "check the coordinates and their coordinate system (坐标系)"
    if "swapped" in m:
        return "swap the 经度 and 纬度 columns"
    if "candidates" in m or "industr" in m:
        return "write a class code (e.g. 6210), a name of GB/T 4754, or 全部行业"
    return None


def read_intake(
    spec: LayerSpec,
    path: str | Path,
    *,
    sheet: str | None = None,
    mapping: Mapping[str, str] | None = None,
    coordsys: str = "wgs84",
    gazetteer: Gazetteer | None = None,
    min_level: str = geocoding.DEFAULT_MIN_LEVEL,
    department: str | None = None,
) -> Intake:
    """Read a department's table for ``spec``'s layer; problems are collected, not raised."""
    return next(
        iter_intake(
            spec, path, sheet=sheet, mapping=mapping, coordsys=coordsys, gazetteer=gazetteer,
            min_level=min_level, department=department, chunk_rows=None,
        )
    )  # fmt: skip


def iter_intake(
    spec: LayerSpec,
    path: str | Path,
    *,
    sheet: str | None = None,
    mapping: Mapping[str, str] | None = None,
    coordsys: str = "wgs84",
    gazetteer: Gazetteer | None = None,
    min_level: str = geocoding.DEFAULT_MIN_LEVEL,
    department: str | None = None,
    chunk_rows: int | None = CHUNK_ROWS,
) -> Iterator[Intake]:
    """:func:`read_intake` chunk by chunk of the file (see :func:`siteselect.sheets.iter_table`).
    Headers are mapped once; when they are wrong, only the first chunk comes, with the problems."""
    check_coordsys(coordsys)
    geocoding.check_level(min_level)
    names = header_names(spec)
    own = {_key(k): v for k, v in (mapping or {}).items()}
    known = lambda text: _key(text) in names or _key(text) in own  # noqa: E731
    targets: dict[str, str] | None = None
    places: dict[str, Match] = {}  # addresses placed in earlier chunks
    for table in iter_table(path, sheet, known, chunk_rows=chunk_rows):
        intake = Intake(spec, table, dict(targets or {}))
        if targets is None:
            _map_headers(intake, names, own)
            targets = intake.targets
            if intake.problems:  # the file's shape is wrong: row by row messages would only repeat it
                yield intake
                return
        _rows(intake, coordsys, gazetteer, min_level, department, places)
        yield intake


def _rows(
    intake: Intake,
    coordsys: str,
    gazetteer: Gazetteer | None,
    min_level: str,
    department: str | None,
    places: dict[str, Match],
) -> None:
    """The raw features of a table whose headers are mapped."""
    table, spec = intake.table, intake.spec
    frame = pd.DataFrame(index=pd.RangeIndex(len(table.frame)))
    for header, target in intake.targets.items():
        if target != "ignored":
            frame[target] = table.frame[header].to_numpy()
    intake.frame = frame
    _codes(intake)
    _ids(intake)
    _department(intake, department)
    geoms, raw, systems = _geometry(intake, coordsys)
    intake.points = geoms.copy()  # records without geometry of their own may still name a place
    if spec.has_geometry:
        _place(intake, geoms, raw, systems, gazetteer, min_level, places)
        intake.frame["geometry"] = geoms
    for name in ("lon", "lat", "coordsys"):
        if name in intake.frame:
            intake.frame = intake.frame.drop(columns=name)


def _map_headers(intake: Intake, names: dict[str, str], own: dict[str, str]) -> None:
    spec = intake.spec
    valid = set(spec.fields) | set(COLUMNS)
    for header, target in own.items():
        if target not in valid:
            intake.problems.append(
                Problem(
                    intake.table.source,
                    None,
                    target,
                    header,
                    f"the mapping names no field of layer {spec.name}",
                    fix=f"map it to one of {', '.join(sorted(valid))}",
                )
            )
    used: dict[str, str] = {}
    for header in intake.table.headers:
        k = _key(header)
        meant = own.get(k) or names.get(k)
        if meant is None:
            near = difflib.get_close_matches(k, list(names), n=1, cutoff=0.3)
            hint = f"rename it to {near[0]!r} ({names[near[0]]})" if near else "rename it to a field name"
            intake.problems.append(
                Problem(
                    intake.table.source,
                    None,
                    None,
                    header,
                    f"is not a field of layer {spec.name}",
                    sheet=intake.table.sheet,
                    header=header,
                    fix=f"{hint}, map it in a mapping file, or name it 备注 to leave it out",
                )
            )
            continue
        if meant != "ignored" and meant in used:
            intake.problems.append(
                Problem(
                    intake.table.source,
                    None,
                    meant,
                    header,
                    f"means {meant}, as does the column {used[meant]!r}",
                    sheet=intake.table.sheet,
                    header=header,
                    fix="keep one of the two columns",
                )
            )
            continue
        used[meant] = header
        intake.targets[header] = meant
    if ("lon" in used) != ("lat" in used):
        missing = "lat" if "lon" in used else "lon"
        intake.problems.append(
            Problem(
                intake.table.source,
                None,
                missing,
                None,
                "the coordinates need both 经度 and 纬度 columns",
                sheet=intake.table.sheet,
                fix=f"add the {missing} column",
            )
        )
    if "id" not in used and _id_basis(spec) is None:
        intake.problems.append(
            Problem(
                intake.table.source,
                None,
                "id",
                None,
                "column is missing",
                sheet=intake.table.sheet,
                fix="add a column 编号 with an id for each row",
            )
        )
    for name, fspec in spec.fields.items():
        if fspec.required and name not in used and not (name == "department" and spec.shared):
            hint = f" (e.g. {fspec.aliases[0]})" if fspec.aliases else ""
            intake.problems.append(
                Problem(
                    intake.table.source,
                    None,
                    name,
                    None,
                    "required column is missing",
                    sheet=intake.table.sheet,
                    fix=f"add a column {name}{hint}",
                )
            )


def _codes(intake: Intake) -> None:
    """Codes written by their names (小学 → primary_school), as the labels of the service name them."""
    for name, fspec in intake.spec.fields.items():
        if fspec.labels and name in intake.frame:
            codes = labels.codes_by_name(fspec.labels)
            intake.frame[name] = [
                codes.get(str(v).strip(), v) if isinstance(v, str) else v for v in intake.frame[name]
            ]


def _id_basis(spec: LayerSpec) -> str | None:
    """The field ids are made from when a department's list has none: its address, or its name."""
    return next((f for f in ("address", "name") if f in spec.fields), None)


def _ids(intake: Intake) -> None:
    """Lists without ids get ids made from their address (or name), the same on every load."""
    frame = intake.frame
    if "id" in frame:
        return
    basis = _id_basis(intake.spec)
    assert basis is not None  # checked with the headers
    values = frame[basis] if basis in frame else pd.Series([None] * len(frame))
    prefix = intake.spec.name[:2].upper()
    frame.insert(0, "id", [None if is_missing(v) else f"{prefix}-{_digest(str(v))}" for v in values])


def _digest(text: str) -> str:
    return hashlib.sha1(unicodedata.normalize("NFKC", text).strip().encode()).hexdigest()[:12]


def _department(intake: Intake, department: str | None) -> None:
    """A shared layer's rows are the loading department's: fill the column, refuse another's rows."""
    if not intake.spec.shared:
        return
    frame = intake.frame
    if department is None:
        if "department" not in frame:
            intake.problem(
                None,
                "department",
                None,
                "says which department the entries are from",
                fix="add a column 部门, or load with --department",
            )
        return
    if "department" not in frame:
        frame["department"] = department
        return
    for row, value in enumerate(frame["department"].tolist()):
        if is_missing(value):
            frame.at[row, "department"] = department
        elif str(value).strip() != department:
            intake.problem(
                row,
                "department",
                value,
                f"is another department's entry; this load is for {department}",
                fix=f"remove the row, or load it as {str(value).strip()}",
            )


def _coordsys_of(value: Any) -> str | None:
    text = _key(str(value))
    for word, name in COORDSYS_WORDS.items():
        if _key(word) in text:
            return name
    return None


def _geometry(intake: Intake, default: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometries in WGS-84 from lon/lat or WKT columns; also the raw points and their systems."""
    frame = intake.frame
    n = len(frame)
    geoms = np.full(n, None, dtype=object)
    raw = np.full((n, 2), np.nan)
    systems = np.full(n, default, dtype=object)
    if "coordsys" in frame:
        for row, value in enumerate(frame["coordsys"].tolist()):
            if is_missing(value):
                continue
            name = _coordsys_of(value)
            if name is None:
                intake.problem(
                    row,
                    "coordsys",
                    value,
                    "is not a coordinate system",
                    fix=f"write one of {', '.join(COORDSYS)} (百度 = bd09, 高德 = gcj02)",
                )
            else:
                systems[row] = name
    if "lon" in frame:
        _points(intake, raw)
    if "geometry" in frame:
        for row, text in enumerate(frame["geometry"].tolist()):
            if is_missing(text) or not np.isnan(raw[row, 0]):
                continue
            try:
                geoms[row] = shapely.from_wkt(str(text))
            except shapely.errors.GEOSException as exc:
                fix = (
                    "close each ring: its last point must repeat the first" if "closed" in str(exc) else None
                )
                intake.problem(row, "geometry", str(text)[:80], f"is not WKT: {exc}", fix=fix)
    for name in COORDSYS:
        rows = np.flatnonzero((systems == name) & ~np.isnan(raw[:, 0]))
        if len(rows):
            lon, lat = to_wgs84(raw[rows, 0], raw[rows, 1], name)
            geoms[rows] = shapely.points(lon, lat)
        shapes = np.flatnonzero((systems == name) & np.isnan(raw[:, 0]) & (geoms != None))  # noqa: E711
        if len(shapes) and name in ("gcj02", "bd09"):
            geoms[shapes] = transform_geometries(geoms[shapes], name)
    return geoms, raw, systems


def _points(intake: Intake, raw: np.ndarray) -> None:
    frame = intake.frame
    for row, (lon, lat) in enumerate(zip(frame["lon"].tolist(), frame["lat"].tolist())):
        if is_missing(lon) and is_missing(lat):
            continue
        values = []
        for name, value in (("lon", lon), ("lat", lat)):
            try:
                number = float(str(value).strip()) if isinstance(value, str) else float(value)
                if not np.isfinite(number):
                    raise ValueError
                values.append(number)
            except (TypeError, ValueError):
                fix = (
                    "fill in both 经度 and 纬度, or leave both empty"
                    if is_missing(value)
                    else "write a number"
                )
                intake.problem(row, name, value, "is not a number", fix=fix)
        if len(values) == 2:
            raw[row] = values


def _place(
    intake: Intake,
    geoms: np.ndarray,
    raw: np.ndarray,
    systems: np.ndarray,
    gazetteer: Gazetteer | None,
    min_level: str,
    places: dict[str, Match],
) -> None:
    """Place rows without coordinates by their address (``places``: those of earlier chunks);
    check the coordinates rows bring. Each distinct address is resolved and judged once."""
    frame = intake.frame
    if not intake.spec.geocoded or "address" not in frame:
        return
    addresses = frame["address"].to_numpy(dtype=object)
    brought = ~np.isnan(raw[:, 0])
    wanted = np.flatnonzero(~missing_mask(addresses) & ((geoms == None) | brought))  # noqa: E711
    if not len(wanted):
        return
    if gazetteer is None:
        raise InvalidInputError("addresses can be placed only against a store's gazetteer")
    codes, texts = pd.factorize(addresses[wanted])
    matches = geocoding.resolve_all(gazetteer, [str(t).strip() for t in texts], places)
    found: list[tuple[int, str, Any, str, str]] = []  # problems: row, field, value, message, fix
    mine = brought[wanted]  # rows that bring coordinates: they must agree with their address
    for row, code in zip(wanted[mine].tolist(), codes[mine].tolist()):
        far = _far(geoms[row], raw[row], systems[row], matches[code])
        if far is not None:
            found.append((row, "lon", f"{raw[row, 0]}, {raw[row, 1]}", *far))
    rows, codes = wanted[~mine], codes[~mine]
    judged = [_unplaced(m, min_level) for m in matches]
    refused = np.array([j is not None for j in judged], dtype=bool)[codes]
    for row, code in zip(rows[refused].tolist(), codes[refused].tolist()):
        found.append((row, "address", addresses[row], *judged[code]))
    for row, name, value, message, fix in sorted(found, key=lambda p: p[0]):
        intake.problem(row, name, value, message, fix=fix)
    _placed(intake, geoms, rows[~refused], [matches[c] for c in codes[~refused].tolist()])


def _far(point: Any, raw: np.ndarray, system: str, match: Match) -> tuple[str, str] | None:
    """The problem of coordinates far from where their row's address resolves: message, fix."""
    far = geocoding.far_from_address((point.x, point.y), (raw[0], raw[1]), system, match)
    if far is None:
        return None
    fix = (
        f"the coordinates look like {far.likely} ({far.likely_m:,.0f} m away read so): "
        f"set 坐标系 to {far.likely} or load with --coordsys {far.likely}"
        if far.likely
        else "check the coordinates, or the address"
    )
    return f"lies {far.distance_m:,.0f} m from where its address resolves ({match.address})", fix


def _unplaced(match: Match, min_level: str) -> tuple[str, str] | None:
    """Why an address is not placed (message, fix), or None when it is."""
    if match.level != "none" and not geocoding.below(match.level, min_level):
        return None
    why = f"matched only at {match.level} level" if match.level != "none" else "was not found"
    extra = f" ({'; '.join(match.notes)})" if match.notes else ""
    fix = "write the full road and house number (e.g. 海尔路1号), or give 经度/纬度"
    return f"{why}{extra}; this load accepts {min_level} or better", fix


def _placed(intake: Intake, geoms: np.ndarray, rows: np.ndarray, matches: list[Match]) -> None:
    """Rows placed by their address: the place's point (one for the rows of each place), its match
    level and confidence, and its house number where the row names none."""
    frame, fields = intake.frame, intake.spec.fields
    n = len(frame)
    level, confidence, house = (
        frame[name].to_numpy(dtype=object).copy() if name in frame else np.full(n, None, dtype=object)
        for name in ("match_level", "match_confidence", "house_number_id")
    )
    if len(rows):
        places = {id(m): m for m in matches}  # the rows of one place share its Match
        index = {key: k for k, key in enumerate(places)}
        back = np.array([index[id(m)] for m in matches], dtype=np.intp)
        chosen = list(places.values())
        points = shapely.points([float(m.lon or 0.0) for m in chosen], [float(m.lat or 0.0) for m in chosen])
        geoms[rows] = points[back]  # set at every level
        level[rows] = np.array([m.level for m in chosen], dtype=object)[back]
        confidence[rows] = np.array([round(m.confidence, 2) for m in chosen], dtype=object)[back]
        theirs = np.array([m.house_number_id or None for m in chosen], dtype=object)[back]
        fill = missing_mask(house[rows]) & (theirs != None)  # noqa: E711
        house[rows[fill]] = theirs[fill]
    if "match_level" in fields:
        frame["match_level"], frame["match_confidence"] = level, confidence
    if "house_number_id" in fields:
        frame["house_number_id"] = house
