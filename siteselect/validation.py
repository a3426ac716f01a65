"""Check a layer's features against its spec, collecting every problem before refusing the file.

The checks run column by column (geometry with shapely's vectorised predicates) so that a million-row
file validates in seconds. The result is a GeoDataFrame whose values have their proper types: dates as
ISO strings, industry prefixes as lists, booleans as bool; missing optional values as None.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteselect import industry, law
from siteselect.errors import InvalidInputError, LayerValidationError, Problem
from siteselect.premises import today  # the check's notion of today: China's date
from siteselect.rule_kinds import KINDS
from siteselect.settings import Settings
from siteselect.specs import FieldSpec, LayerSpec, get_spec, layer_specs

_RESERVED = {"id", "geometry"}
_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}
# Dates as departments write them: 2026-04-02, 2026/4/2, 2026.4.2, 2026年4月2日.
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})-(\d{2})|[/.](\d{1,2})[/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?)$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01, past Excel's fictitious 1900-02-29
_EXCEL_SERIALS = (18264, 73051)  # 1950-01-01 to 2099-12-31: a number outside is not a date


def is_missing(value: Any) -> bool:
    """Whether a cell is empty: None, NaN/NaT or a blank string."""
    if value is None or value is pd.NaT:
        return True
    if type(value) is str:  # the common case first: a million-row file asks this per cell
        return not value or value.isspace()
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def distinct(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each value's code and the distinct values (None and NaN coded -1), so that a column of a
    big file is judged once per distinct value; None when a value cannot be hashed (a list of
    prefixes from a YAML file)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    try:
        codes, uniques = pd.factorize(array)
    except TypeError:
        return None
    return codes, np.asarray(uniques, dtype=object)


def missing_mask(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """:func:`is_missing` of every value, as a boolean array."""
    found = distinct(values)
    if found is None:
        return np.array([is_missing(v) for v in values], dtype=bool)
    codes, uniques = found
    blank = np.array([is_missing(v) for v in uniques] + [True], dtype=bool)
    return blank[codes]  # code -1 (None, NaN) takes the last


def _to_str(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a CSV column of numbers read as floats: "178", not "178.0"
    text = str(value).strip()
    # Neither can be stored (PostgreSQL's JSON refuses NUL; UTF-8 has no lone surrogates).
    if "\x00" in text:
        raise InvalidInputError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError("contains an unpaired surrogate (not valid text)") from None
    return text


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(str(value).strip())
    if not number.is_integer():
        raise ValueError
    return int(number)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = _to_str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError


def _to_date(value: Any) -> str:
    if isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.time() != dt.time(0):
            raise ValueError
        return stamp.date().isoformat()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return _from_serial(float(value))
    text = str(value).strip()
    if text.isdigit() and len(text) == 5:  # an Excel serial that went through a CSV
        return _from_serial(float(text))
    match = _DATE.match(text)
    if not match:
        raise ValueError
    year, *parts = (int(p) for p in match.groups() if p is not None)
    return dt.date(year, parts[0], parts[1]).isoformat()


def _from_serial(number: float) -> str:
    """An Excel date serial (days since 1899-12-30) as an ISO date."""
    if not number.is_integer() or not _EXCEL_SERIALS[0] <= number <= _EXCEL_SERIALS[1]:
        raise ValueError
    return (_EXCEL_EPOCH + dt.timedelta(days=int(number))).isoformat()


def _to_json(value: Any) -> dict[str, Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError
    return parsed


def _to_industries(value: Any) -> list[str]:
    """Prefixes from a list, or from a department's cell: codes, names or words (全部行业, 餐饮)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return industry.parse_prefixes([str(v) for v in value])
    return industry.parse_industries(_to_str(value))


def _to_districts(value: Any) -> list[str]:
    """GB/T 2260 district codes (six digits) from a list, or from a cell of codes split by ';'."""
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else _to_str(value).split(";")
    codes = [str(v).strip() for v in items if str(v).strip()]
    if not all(len(c) == 6 and c.isascii() and c.isdigit() for c in codes):
        raise ValueError
    return codes


_CONVERTERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "str": (_to_str, "is not text"),
    "int": (_to_int, "is not a whole number"),
    "float": (_to_float, "is not a number"),
    "bool": (_to_bool, "is not true/false"),
    "date": (_to_date, "is not a date YYYY-MM-DD (nor 2026/4/2, 2026年4月2日, an Excel date)"),
    "json": (_to_json, "is not a JSON object"),
    "industry": (industry.normalize_code, "is not a GB/T 4754 class code"),
    "industries": (_to_industries, "is not a list of GB/T 4754 prefixes"),
    "districts": (_to_districts, "is not a list of six-digit GB/T 2260 district codes"),
    "citations": (law.parse_citations, "is not a list of citations {law, revision, article, clause, item}"),
}


class _Collector:
    """Gathers the problems of one file."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, row: int | None, field: str | None, value: object, message: str) -> None:
        self.problems.append(Problem(self.source, row, field, value, message))


def _check_value(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """Convert one non-missing value; return it or the reason it is refused."""
    convert, complaint = _CONVERTERS[spec.type]
    if spec.type == "str" and isinstance(value, (dict, list, tuple)):
        return None, complaint
    try:
        out = convert(value)
    except InvalidInputError as exc:
        return None, str(exc)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None, complaint
    if spec.enum is not None and out not in spec.enum:
        return None, f"is not one of {', '.join(spec.enum)}"
    if spec.pattern is not None and not re.match(spec.pattern, str(out)):
        return None, f"does not match the pattern {spec.pattern}"
    if spec.min is not None and out < spec.min:
        return None, f"is below the minimum {spec.min:g}"
    if spec.max is not None and out > spec.max:
        return None, f"is above the maximum {spec.max:g}"
    if isinstance(out, str):
        return _text(spec, out)
    return out, None


def _text(spec: FieldSpec, text: str) -> tuple[str | None, str | None]:
    if spec.max_length is not None and len(text) > spec.max_length:
        return None, f"is longer than {spec.max_length} characters ({len(text)})"
    return text, None  # NUL and lone surrogates are refused as the text is read (_to_str)


def _check_column(spec: FieldSpec, values: list[Any], out: _Collector) -> list[Any] | np.ndarray:
    # Department files repeat values (categories, codes, dates): judge each distinct value once.
    found = distinct(values)
    if found is None:
        return _check_each(spec, values, out)
    codes, uniques = found
    judged = [_judge(spec, v) for v in uniques] + [_judge(spec, None)]  # the last: None and NaN
    converted = np.empty(len(judged), dtype=object)
    converted[:] = [c for c, _ in judged]
    refused = np.array([p is not None for _, p in judged], dtype=bool)
    for row in np.flatnonzero(refused[codes]).tolist():
        out.add(row, spec.name, values[row], str(judged[codes[row]][1]))
    return converted[codes]


def _judge(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    if is_missing(value):
        return None, "is required" if spec.required else None
    return _check_value(spec, value)


def _check_each(spec: FieldSpec, values: list[Any], out: _Collector) -> list[Any]:
    """:func:`_check_column` value by value, for values that cannot be hashed."""
    result = []
    for row, value in enumerate(values):
        converted, problem = _judge(spec, value)
        if problem is not None:
            out.add(row, spec.name, value, problem)
        result.append(converted)
    return result


def _check_ids(values: list[Any], out: _Collector) -> list[str | None]:
    ids: list[str | None] = []
    first_seen: dict[str, int] = {}
    for row, text in enumerate(_id_texts(values)):
        if text is None:
            out.add(row, "id", values[row], "is required")
        elif text in first_seen:
            out.add(row, "id", text, f"duplicates the id of feature {first_seen[text]}")
        else:
            first_seen[text] = row
        ids.append(text)
    return ids


def _id_texts(values: list[Any]) -> list[str | None]:
    """Each id as text (None when missing), each distinct value converted once."""
    found = distinct(values)
    if found is None:
        return [None if is_missing(v) else _to_str(v) for v in values]
    codes, uniques = found
    texts = np.empty(len(uniques) + 1, dtype=object)
    texts[:] = [None if is_missing(v) else _to_str(v) for v in uniques] + [None]
    return list(texts[codes])


def _check_geometry(
    spec: LayerSpec,
    geoms: np.ndarray,
    extent: tuple[float, float, float, float],
    out: _Collector,
) -> None:
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    types = _TYPE_NAMES[shapely.get_type_id(geoms) + 1]
    allowed = np.isin(types, list(spec.geometry))
    valid = shapely.is_valid(geoms)
    bounds = shapely.bounds(geoms)
    minx, miny, maxx, maxy = extent
    inside = (bounds[:, 0] >= minx) & (bounds[:, 2] <= maxx) & (bounds[:, 1] >= miny) & (bounds[:, 3] <= maxy)
    swapped = (
        (bounds[:, 1] >= minx) & (bounds[:, 3] <= maxx) & (bounds[:, 0] >= miny) & (bounds[:, 2] <= maxy)
    )
    for row in np.flatnonzero(missing | empty | ~allowed | ~valid | ~inside).tolist():
        geom = geoms[row]
        if missing[row]:
            out.add(row, "geometry", None, "geometry is missing")
        elif empty[row]:
            out.add(row, "geometry", geom.wkt, "geometry is empty")
        elif not allowed[row]:
            wanted = " or ".join(spec.geometry)
            out.add(row, "geometry", types[row], f"geometry must be {wanted}")
        elif not valid[row]:
            reason = shapely.is_valid_reason(geom)
            out.add(row, "geometry", _short_wkt(geom), f"invalid geometry: {reason}")
        elif swapped[row]:
            out.add(row, "geometry", _short_wkt(geom), "coordinates look like lat/lon swapped")
        else:
            box = ", ".join(f"{b:.4f}" for b in bounds[row])
            out.add(row, "geometry", box, f"lies outside the district's extent {extent}")


# Geometry type names by shapely's type id + 1 (-1, no geometry, is "").
_TYPE_NAMES = np.array(
    ["", "Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
     "GeometryCollection"],
    dtype=object,
)  # fmt: skip
_POLYGONAL = (3, 6)  # Polygon, MultiPolygon


def _short_wkt(geom: shapely.Geometry) -> str:
    return shapely.to_wkt(geom, rounding_precision=6, trim=True)[:120]


def _check_date_order(frame: pd.DataFrame, out: _Collector) -> None:
    if "effective_from" not in frame or "effective_to" not in frame:
        return
    for row, (start, end) in enumerate(zip(frame["effective_from"], frame["effective_to"])):
        if start is not None and end is not None and end < start:
            out.add(row, "effective_to", end, f"is before effective_from {start}")


def _check_rule_params(spec: LayerSpec, frame: pd.DataFrame, out: _Collector) -> None:
    zone_kinds = set(layer_specs()["zones"].fields["kind"].enum or ())
    uses = set(layer_specs()["buildings"].fields["use"].enum or ())
    for row, (kind, params) in enumerate(zip(frame["kind"], frame["params"])):
        if kind is None:
            continue  # already reported
        wanted = KINDS[kind].params
        given = params or {}
        for name in sorted(set(given) - set(wanted)):
            out.add(row, f"params.{name}", given[name], f"is not a parameter of rule kind {kind}")
        for name, ptype in wanted.items():
            if name not in given:
                out.add(row, f"params.{name}", None, f"is required by rule kind {kind}")
                continue
            problem = _param_problem(ptype, given[name], zone_kinds, uses)
            if problem:
                out.add(row, f"params.{name}", given[name], problem)


def _check_rule_law(frame: pd.DataFrame, out: _Collector) -> None:
    """Every citation resolves in the law table, the department is known, and a rule whose basis is
    verified quotes its own distance."""
    day = today()
    for row, rule in enumerate(frame.to_dict("records")):
        where = f"rule {rule['id']}: "
        if rule["department"] is not None and rule["department"] not in law.departments():
            known = ", ".join(law.departments())
            out.add(row, "department", rule["department"], f"{where}is not a department code ({known})")
        if not rule["basis"]:
            continue  # already reported
        problems = list(
            law.citation_problems(rule["basis"], rule["effective_from"], rule["effective_to"], day)
        )
        for field, value, message in problems:
            out.add(row, field, value, where + message)
        meters = (rule["params"] or {}).get("meters")
        if problems or rule["certainty"] != "verified" or not isinstance(meters, (int, float)):
            continue
        quotes = [c["text"] or "" for c in law.resolve(rule["basis"])]
        if not any(law.mentions_distance(q, meters) for q in quotes):
            out.add(row, "certainty", "verified", f"{where}no cited text states {meters:g}米")


def _param_problem(ptype: str, value: Any, zone_kinds: set[str], uses: set[str]) -> str | None:
    if ptype == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        return None if ok else "must be a positive number"
    if ptype == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    allowed = zone_kinds if ptype == "zone_kinds" else uses
    if not isinstance(value, list) or not value:
        return "must be a non-empty list"
    unknown = [v for v in value if v not in allowed]
    return f"unknown value(s) {unknown}; allowed: {', '.join(sorted(allowed))}" if unknown else None


def validate_layer(
    spec: LayerSpec,
    frame: pd.DataFrame,
    source: str,
    extent: tuple[float, float, float, float],
) -> gpd.GeoDataFrame:
    """Validate raw features of one layer; return them typed, or raise ``LayerValidationError``.

    ``frame`` holds an ``id`` column, one column per attribute and, for layers with geometry, a
    ``geometry`` column of shapely geometries in WGS-84.
    """
    out = _Collector(source)
    columns = [c for c in frame.columns if c != "geometry"]
    for name in columns:
        if name not in spec.fields and name not in _RESERVED:
            out.add(None, name, None, f"is not a field of layer {spec.name}")
    if "id" not in frame.columns:
        out.add(None, "id", None, "column is missing")
    for name, fspec in spec.fields.items():
        if fspec.required and name not in frame.columns:
            out.add(None, name, None, "required column is missing")
    if out.problems:  # the file's shape is wrong: row-by-row messages would only repeat it
        raise LayerValidationError(out.problems)

    typed: dict[str, list[Any] | np.ndarray] = {"id": _check_ids(frame["id"].tolist(), out)}
    for name, fspec in spec.fields.items():
        values = frame[name].tolist() if name in frame.columns else [None] * len(frame)
        typed[name] = _check_column(fspec, values, out)
    result = pd.DataFrame(typed, index=pd.RangeIndex(len(frame)), dtype=object)
    _check_date_order(result, out)
    if spec.name == "rules":
        _check_rule_params(spec, result, out)
        _check_rule_law(result, out)

    geoms = None
    if spec.has_geometry:
        if "geometry" not in frame.columns:
            raise LayerValidationError([Problem(source, None, "geometry", None, "has no geometry")])
        geoms = np.array(frame["geometry"].array, dtype=object)
        has_z = shapely.has_z(geoms)  # the rest are 2D already: not rebuilt
        geoms[has_z] = shapely.force_2d(geoms[has_z])
        _check_geometry(spec, geoms, extent, out)
    if out.problems:
        out.problems.sort(key=lambda p: -1 if p.row is None else p.row)
        raise LayerValidationError(out.problems)
    if geoms is None:
        return gpd.GeoDataFrame(result)
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGONAL)
    geoms[polygonal] = shapely.orient_polygons(geoms[polygonal])  # RFC 7946 ring order, as stored
    return gpd.GeoDataFrame(result, geometry=geoms, crs="EPSG:4326")


def validate_frame(
    layer: str, frame: pd.DataFrame, source: str, settings: Settings | None = None
) -> gpd.GeoDataFrame:
    """Validate raw features of ``layer``; raise ``LayerValidationError`` naming every bad value."""
    extent = (settings or Settings()).extent
    return validate_layer(get_spec(layer), frame, source, extent)
