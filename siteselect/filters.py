"""Filtering features (OGC API Features, Part 3): queryables, simple property filters and CQL2.

What can be filtered on is a layer's *queryables*: its id, its geometry and the fields of its spec
whose values are plain (text, numbers, booleans, dates); lists and mappings are not. A filter is
written in CQL2 text or CQL2 JSON and parsed by ``cql2`` (a complete parser of the standard) into
CQL2 JSON, which :func:`to_sql` turns into one SQLAlchemy expression with bound parameters, for
SQLite and PostGIS alike; no SQL is ever built from the filter's text. Spatial operators are the
store's own (see ``siteselect.spatial_sql``); temporal ones compare the layers' dates (instants,
``YYYY-MM-DD``). Every refusal names the operator, property or value at fault
(:class:`~siteselect.errors.InvalidFilterError`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cql2
import shapely
import sqlalchemy as sa

from siteselect.errors import InvalidFilterError
from siteselect.spatial_sql import Spatial
from siteselect.specs import get_spec

# The kinds of queryable values, from the field types of layers/specs.yaml.
KIND_OF_TYPE = {"str": "string", "industry": "string", "int": "integer", "float": "number",
                "bool": "boolean", "date": "date"}  # fmt: skip
LANGUAGES = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 100_000


@dataclass(frozen=True)
class Queryable:
    """One property a filter may name: its kind (string, integer, number, boolean, date,
    timestamp) and the values it may take."""

    name: str
    kind: str
    title: str = ""
    enum: tuple[str, ...] | None = None


def queryables(layer: str) -> dict[str, Queryable]:
    """The properties of ``layer`` a filter may name (besides ``geometry``)."""
    spec = get_spec(layer)
    out = {"id": Queryable("id", "string", "identifier")}
    for field in spec.fields.values():
        if field.type in KIND_OF_TYPE:
            out[field.name] = Queryable(field.name, KIND_OF_TYPE[field.type], field.name, field.enum)
    if layer == "vacancies":  # the live listings stamp every change with its instant
        out["updated_at"] = Queryable("updated_at", "timestamp", "last change")
    return out


SCHEMA_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
}


def queryables_schema(layer: str, url: str) -> dict[str, Any]:
    """The queryables of ``layer`` as the JSON Schema Part 3 asks for."""
    spec = get_spec(layer)
    properties: dict[str, Any] = {}
    if spec.has_geometry:
        shapes = {g.removeprefix("Multi") for g in spec.geometry}
        fmt = f"geometry-{next(iter(shapes)).lower()}-or-multi" if len(shapes) == 1 else "geometry-any"
        properties["geometry"] = {"title": "geometry", "format": fmt, "x-ogc-role": "primary-geometry"}
    for q in queryables(layer).values():
        entry: dict[str, Any] = {"title": q.title or q.name} | SCHEMA_TYPES[q.kind]
        if q.enum:
            entry["enum"] = list(q.enum)
        if q.name == "id":
            entry["x-ogc-role"] = "id"
        properties[q.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": spec.title,
        "properties": properties,
        "additionalProperties": False,
    }


def parse(text: str, lang: str = "cql2-text") -> Any:
    """A filter in CQL2 text or JSON as CQL2 JSON; a malformed one is refused, saying where.

    A CQL2 JSON filter, once ``cql2`` has checked it, is used as sent: ``cql2`` writes the
    coordinates of geometries back with 15 significant digits, and S_EQUALS or S_TOUCHES against a
    stored geometry need every digit. (In CQL2 text, geometries are read to those 15 digits: a
    nanometre here.)"""
    if lang not in LANGUAGES:
        raise InvalidFilterError(f"filter-lang {lang!r} is not supported; use {' or '.join(LANGUAGES)}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidFilterError(f"filter is longer than {MAX_FILTER_CHARS} characters")
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        expr.validate()
        parsed = expr.to_json() if lang == "cql2-text" else json.loads(text, parse_constant=_no_constant)
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise InvalidFilterError(
            f"filter {text[:200]!r} is not valid {lang}: {' '.join(first)[:500]}"
        ) from None
    return parsed


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def simple(layer: str, params: Mapping[str, str]) -> dict[str, Any] | None:
    """``?status=available&park_id=…`` as one CQL2 JSON conjunction of equalities, each value typed
    by its queryable; ``None`` when there are none."""
    known = queryables(layer)
    terms = []
    for name, text in params.items():
        if name not in known:
            raise InvalidFilterError(_unknown(layer, name))
        terms.append({"op": "=", "args": [{"property": name}, _typed_text(known[name], text)]})
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else {"op": "and", "args": terms}


def _typed_text(q: Queryable, text: str) -> Any:
    try:
        match q.kind:
            case "integer":
                return float(int(text))
            case "number":
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError
                return value
            case "boolean":
                return {"true": True, "false": False}[text.lower()]
            case "date":
                return {"date": dt.date.fromisoformat(text).isoformat()}
            case "timestamp":
                return {"timestamp": text}
    except (ValueError, KeyError, OverflowError):
        raise InvalidFilterError(f"{q.name}={text[:100]!r} is not {_a(q.kind)}") from None
    return text


def both(*filters: Any) -> Any:
    """The conjunction of the filters given (``None`` ones left out)."""
    given = [f for f in filters if f is not None]
    if len(given) < 2:
        return given[0] if given else None
    return {"op": "and", "args": given}


# ---- CQL2 JSON → SQLAlchemy ----------------------------------------------------------------------


class Source:
    """What a filter runs against: an SQL expression per queryable and the spatial operators of the
    store (``siteselect.spatial_sql``) on the source's geometry."""

    def __init__(
        self,
        layer: str,
        columns: Mapping[str, sa.ColumnElement[Any]],
        spatial: Spatial | None,
        kinds: Mapping[str, str] | None = None,
    ):
        self.layer = layer
        self.columns = columns
        self.kinds = {name: q.kind for name, q in queryables(layer).items()} | dict(kinds or {})
        self.spatial = spatial  # None: the layer has no geometry

    def column(self, name: str) -> sa.ColumnElement[Any]:
        if name == "geometry":
            raise InvalidFilterError("geometry can only be used in spatial operators (S_INTERSECTS, …)")
        if name not in self.columns:
            raise InvalidFilterError(_unknown(self.layer, name))
        return self.columns[name]


def to_sql(node: Any, source: Source) -> sa.ColumnElement[bool]:
    """A CQL2 JSON filter as one SQLAlchemy boolean expression over ``source``."""
    try:
        return _node(node, source)
    except (TypeError, KeyError, IndexError, AttributeError):  # a shape cql2 lets through, e.g. BETWEEN 1
        raise InvalidFilterError(
            f"filter {_show(node)} cannot be applied: an operator has the wrong arguments"
        ) from None


def _node(node: Any, source: Source) -> sa.ColumnElement[bool]:
    if isinstance(node, bool):
        return sa.true() if node else sa.false()
    if not isinstance(node, dict) or "op" not in node:
        raise InvalidFilterError(f"{_show(node)} is not a condition")
    op = str(node["op"]).lower()
    args = list(node.get("args") or [])
    handler = HANDLERS.get(op)
    if handler is None:
        raise InvalidFilterError(
            f"operator {node['op']!r} is not supported; supported: {', '.join(HANDLERS)}"
        )
    return handler(op, args, source)


def _logical(op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    parts = [_node(a, source) for a in args]
    if op == "not":
        return sa.not_(parts[0])
    return sa.and_(*parts) if op == "and" else sa.or_(*parts)


COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _comparison(op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    kind = _kind_of(args, source)
    left, right = (_operand(a, source, kind) for a in args)
    return sa.and_(COMPARE[op](left, right))


def _between(_op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    kind = _kind_of(args, source)
    value, low, high = (_operand(a, source, kind) for a in args)
    return sa.and_(value >= low, value <= high)


def _in(_op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    kind = _kind_of(args[:1], source)
    if not isinstance(args[1], list) or not args[1]:
        raise InvalidFilterError(f"IN needs a list of values, got {_show(args[1])}")
    value = _operand(args[0], source, kind)
    return sa.and_(value.in_([_operand(v, source, kind) for v in args[1]]))


def _like(_op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    kind = _kind_of(args[:1], source)
    if kind != "string":
        raise InvalidFilterError(f"LIKE compares text; {_show(args[0])} is {_a(kind)}")
    value, pattern = (_operand(a, source, "string") for a in args)
    return sa.and_(value.like(pattern, escape="\\"))  # % and _ as in SQL, \ escapes them


def _is_null(_op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    return sa.and_(_operand(args[0], source, _kind_of(args, source)).is_(None))


SPATIAL = ("s_intersects", "s_equals", "s_disjoint", "s_touches", "s_within", "s_overlaps",
           "s_crosses", "s_contains")  # fmt: skip
UNITS_TO_M = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0, "km": 1000.0}


def _spatial(op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    spatial, query = _geometry_pair(op, args, source)
    if op == "s_disjoint":
        return sa.not_(spatial.relate("intersects", query))
    return sa.and_(spatial.relate(op.removeprefix("s_"), query))


def _dwithin(op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    units: Any
    if len(args) not in (3, 4):
        raise InvalidFilterError("S_DWITHIN takes a geometry, a point, a distance and its units")
    spatial, query = _geometry_pair(op, args[:2], source)
    distance, units = args[2], (args[3] if len(args) == 4 else "meters")  # Any: from JSON
    if _is_property(units):  # written bare, as in S_DWITHIN(geometry, POINT(…), 200, meters)
        units = str(units["property"])
    if not isinstance(distance, int | float) or not math.isfinite(distance) or distance < 0:
        raise InvalidFilterError(f"S_DWITHIN distance {_show(distance)} is not a distance")
    if str(units).lower() not in UNITS_TO_M:
        raise InvalidFilterError(f"S_DWITHIN units {_show(units)} are not known; use meters")
    if query.geom_type != "Point":
        raise InvalidFilterError(f"S_DWITHIN measures from a point, not a {query.geom_type}")
    return sa.and_(spatial.dwithin(query, float(distance) * UNITS_TO_M[str(units).lower()]))


def _geometry_pair(op: str, args: list[Any], source: Source) -> tuple[Spatial, shapely.Geometry]:
    if source.spatial is None:
        raise InvalidFilterError(f"{op.upper()}: collection {source.layer!r} has no geometry")
    if len(args) != 2 or args[0] != {"property": "geometry"}:
        raise InvalidFilterError(f"{op.upper()} compares the property geometry with a geometry")
    query = _literal_geometry(args[1])
    if query is None:
        raise InvalidFilterError(f"{op.upper()}: {_show(args[1])} is not a geometry")
    return source.spatial, source.spatial.from_filter_crs(query)


def _literal_geometry(node: Any) -> shapely.Geometry | None:
    if not isinstance(node, dict):
        return None
    try:
        if "bbox" in node:
            box = node["bbox"]
            return shapely.box(box[0], box[1], box[-2], box[-1])  # 2D or 3D: the corners' x, y
        if "type" in node and "coordinates" in node:
            geom = shapely.geometry.shape(node)
            return geom if geom.is_valid and not geom.is_empty else None
    except (TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        return None
    return None


def _temporal(op: str, args: list[Any], source: Source) -> sa.ColumnElement[bool]:
    """Temporal operators on the layers' dates and stamps, which are instants: an instant is
    before, after or equal to another, and before, after, during or within an interval."""
    if len(args) != 2 or not _is_property(args[0]):
        raise InvalidFilterError(f"{op.upper()} compares a date property with a date or an interval")
    name = args[0]["property"]
    kind = source.kinds.get(name)
    if kind not in ("date", "timestamp"):
        raise InvalidFilterError(f"{op.upper()}: {name!r} is not a date of collection {source.layer!r}")
    value = source.column(name)
    other = args[1]
    if isinstance(other, dict) and "interval" in other:
        start, end = (_instant(v, kind) if v != ".." else None for v in other["interval"])
        return _interval_op(op, value, start, end)
    instant = _instant(other, kind)
    ops: dict[str, Callable[[], Any]] = {
        "t_before": lambda: value < instant,
        "t_after": lambda: value > instant,
        "t_equals": lambda: value == instant,
        "t_intersects": lambda: value == instant,
        "t_disjoint": lambda: value != instant,
    }
    if op not in ops:
        raise InvalidFilterError(f"{op.upper()} relates intervals; {name!r} and the value are instants")
    return sa.and_(ops[op]())


def _interval_op(op: str, value: Any, start: Any, end: Any) -> sa.ColumnElement[bool]:
    """An instant against an interval (``None``: open at that end)."""
    after_start = sa.true() if start is None else value >= start
    before_end = sa.true() if end is None else value <= end
    ops: dict[str, Callable[[], Any]] = {
        "t_before": lambda: sa.false() if start is None else value < start,
        "t_after": lambda: sa.false() if end is None else value > end,
        "t_during": lambda: sa.and_(
            sa.true() if start is None else value > start, sa.true() if end is None else value < end
        ),
        "t_intersects": lambda: sa.and_(after_start, before_end),
        "t_disjoint": lambda: sa.not_(sa.and_(after_start, before_end)),
    }
    if op not in ops:
        raise InvalidFilterError(f"{op.upper()} relates two intervals; the collection's dates are instants")
    return sa.and_(ops[op]())


def _instant(node: Any, kind: str) -> Any:
    text = node.get("date", node.get("timestamp")) if isinstance(node, dict) else node
    if not isinstance(text, str):
        raise InvalidFilterError(f"{_show(node)} is not a date or a timestamp")
    return _typed(text, kind)


def _typed(value: Any, kind: str) -> Any:
    """A literal as the stored values of ``kind`` compare: dates as ``YYYY-MM-DD`` text, stamps as
    UTC datetimes, numbers as numbers; anything else is refused, saying what was expected."""
    if isinstance(value, dict) and ("date" in value or "timestamp" in value):
        value = value.get("date", value.get("timestamp"))
    try:
        match kind:
            case "date":
                if isinstance(value, str) and len(value) == 10:
                    return dt.date.fromisoformat(value).isoformat()
            case "timestamp":
                if isinstance(value, str):
                    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
            case "integer" | "number":  # compared as the stored JSON numbers are read: as floats
                if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                    return float(value)
            case "boolean":
                if isinstance(value, bool):
                    return value
            case "string":
                if isinstance(value, str):
                    return value
    except (ValueError, OverflowError):
        pass
    raise InvalidFilterError(f"{_show(value)} is not {_a(kind)}")


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"property"}


def _casei(node: Any) -> Any | None:
    if isinstance(node, dict) and str(node.get("op", "")).lower() == "casei":
        return (node.get("args") or [None])[0]
    return None


def _kind_of(args: list[Any], source: Source) -> str:
    """The kind of the property compared (the first one named); literals take it."""
    for arg in args:
        inner = _casei(arg)
        if inner is not None:
            arg = inner
        if _is_property(arg):
            source.column(arg["property"])  # unknown: refused, naming it
            return source.kinds[arg["property"]]
    raise InvalidFilterError(f"a comparison names no property: {_show(args)}")


def _operand(node: Any, source: Source, kind: str) -> Any:
    """One side of a comparison: a property's column, or a literal typed as ``kind``."""
    inner = _casei(node)
    if inner is not None:
        if kind != "string":
            raise InvalidFilterError(f"CASEI takes text; {_show(inner)} is {_a(kind)}")
        value = _operand(inner, source, kind)
        return sa.func.lower(value) if _is_property(inner) else value.lower()
    if _is_property(node):
        column = source.column(node["property"])
        if source.kinds[node["property"]] != kind:
            raise InvalidFilterError(
                f"{node['property']!r} is {_a(source.kinds[node['property']])}, not {_a(kind)}"
            )
        return column
    if isinstance(node, dict) and "op" in node:
        raise InvalidFilterError(f"operator {node['op']!r} is not supported inside a comparison")
    return _typed(node, kind)


def _unknown(layer: str, name: str) -> str:
    names = ", ".join(["geometry", *queryables(layer)] if get_spec(layer).has_geometry else queryables(layer))
    return f"{name!r} is not a queryable of collection {layer!r}; queryables: {names}"


def _a(kind: str) -> str:
    return {"integer": "an integer", "timestamp": "a timestamp (RFC 3339)",
            "date": "a date (YYYY-MM-DD)"}.get(kind, f"a {kind}")  # fmt: skip


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


HANDLERS: dict[str, Callable[[str, list[Any], Source], sa.ColumnElement[bool]]] = {
    "and": _logical, "or": _logical, "not": _logical,
    **dict.fromkeys(COMPARE, _comparison),
    "between": _between, "in": _in, "like": _like, "isnull": _is_null,
    **dict.fromkeys(SPATIAL, _spatial), "s_dwithin": _dwithin,
    **dict.fromkeys(("t_before", "t_after", "t_equals", "t_intersects", "t_disjoint", "t_during"), _temporal),
}  # fmt: skip
