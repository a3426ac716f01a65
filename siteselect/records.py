"""Records joined to geometry: tables departments keep without coordinates, matched to the features
they name and loaded as a new version of those features' layer.

The housing bureau's completion-acceptance records (project, address, acceptance number, date,
use) go onto the buildings; house-number certificates (address, certificate number) onto the house
numbers. Each record's address is placed by the gazetteer: a house number names its own feature
and its building; a building's name or address names the building; a record that also has
coordinates (经度/纬度) names the building they lie in when its address names none. Records that
name nothing (or only a road or a street) are listed as unmatched, by sheet, row and header; two
records naming the same feature refuse the load, since only one of them can be right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from siteselect import geocoding
from siteselect.errors import InvalidInputError, LayerValidationError, NotFoundError, Problem
from siteselect.intake import Intake, read_intake
from siteselect.settings import Settings
from siteselect.specs import LayerSpec, get_spec, record_specs
from siteselect.stewardship import Plan, entry_changes
from siteselect.store import Store
from siteselect.validation import is_missing, validate_layer

# The feature each layer takes a record on, from a match: a building, or a house number.
_KEY = {"buildings": "building_id", "house_numbers": "house_number_id"}


def record_spec(kind: str) -> LayerSpec:
    """The spec of one kind of record; ``NotFoundError`` names the kinds there are."""
    specs = record_specs()
    if kind not in specs:
        raise NotFoundError(f"unknown kind of record {kind!r}; known kinds: {', '.join(specs)}")
    return specs[kind]


def plan_records(
    store: Store,
    kind: str,
    path: str | Path,
    *,
    sheet: str | None = None,
    mapping: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> Plan:
    """Join a table of records to the features they name: the joined layer's next version, what it
    changes, and the records that name nothing. Bad values raise ``LayerValidationError``."""
    spec = record_spec(kind)
    target = str(spec.extra["joins"])
    path = Path(path)
    intake = read_intake(spec, path, sheet=sheet, mapping=mapping)
    if intake.problems:
        raise LayerValidationError(intake.problems)
    if not len(intake.frame):
        raise InvalidInputError(f"{path.name}: no records below the header row {intake.table.headers}")
    records = _typed(spec, intake, settings)
    layer = store.read_layer(target)
    version = store.resolve_version(target)
    matches = geocoding.resolve_all(geocoding.gazetteer_for(store), [str(a) for a in records["address"]])
    known = set(layer["id"])
    key = _KEY[target]
    rows_of: dict[str, list[int]] = {}
    unmatched = []
    inside = _buildings_around(layer, intake.points) if target == "buildings" else {}
    for row, match in enumerate(matches):
        fid = getattr(match, key)
        if fid is None or fid not in known:
            fid = inside.get(row)  # no address match: the building its coordinates lie in
        if fid is None:
            what = "building" if target == "buildings" else "house number"
            found = f"matched at {match.level} level" if match.level != "none" else "was not found"
            unmatched.append(
                intake.locate(
                    Problem(path.name, row, "address", records["address"][row], f"names no {what}: {found}",
                            fix="write the address as on the house-number plate (road and number)")
                )
            )  # fmt: skip
        else:
            rows_of.setdefault(fid, []).append(row)
    clashes = [
        intake.locate(Problem(path.name, rows[1], "address", records["address"][rows[1]],
                              f"names the same feature {fid} as row {intake.table.where(rows[0])}",
                              fix="keep the record that is right"))
        for fid, rows in rows_of.items() if len(rows) > 1
    ]  # fmt: skip
    if clashes:
        raise LayerValidationError(clashes)
    joined = _joined(layer, records, rows_of, spec)
    gdf = validate_layer(get_spec(target), joined, f"{path.name} joined to {target}", _extent(settings))
    plan = Plan(layer=target, source=path.name, features=gdf, based_on=version.version, departments=())
    plan.entries = entry_changes(layer, gdf)
    plan.mapping = dict(intake.targets)
    plan.unmatched = unmatched
    return plan


def _buildings_around(layer: Any, points: np.ndarray) -> dict[int, str]:
    """For records with coordinates, the building each point lies in (when exactly one)."""
    rows = np.flatnonzero([p is not None for p in points])
    if not len(rows):
        return {}
    pairs = layer.sindex.query(points[rows], predicate="within")
    found: dict[int, list[str]] = {}
    for n, b in zip(*pairs):
        found.setdefault(int(rows[n]), []).append(str(layer["id"].iloc[b]))
    return {row: ids[0] for row, ids in found.items() if len(ids) == 1}


def _extent(settings: Settings | None) -> tuple[float, float, float, float]:
    return (settings or Settings()).extent


def _typed(spec: LayerSpec, intake: Intake, settings: Settings | None) -> Any:
    """The records with their values typed (dates, the layer's codes for the words written)."""
    frame = intake.frame.drop(columns=[c for c in ("id", "geometry") if c in intake.frame])
    for name, words in spec.extra.get("values", {}).items():
        if name in frame:
            frame[name] = [v if is_missing(v) else words.get(str(v).strip(), v) for v in frame[name]]
    frame.insert(0, "id", [str(n) for n in range(len(frame))])
    try:
        return validate_layer(spec, frame, intake.table.source, _extent(settings))
    except LayerValidationError as exc:
        raise LayerValidationError([intake.locate(p) for p in exc.problems]) from None


def _joined(layer: Any, records: Any, rows_of: dict[str, list[int]], spec: LayerSpec) -> Any:
    """The layer with each named feature's fields taken from its record (blank cells change nothing)."""
    out = layer.copy()
    position = {fid: n for n, fid in enumerate(out["id"])}
    fields = [f for f in spec.fields if f in out.columns and f not in ("address", "name")]
    for fid, (row,) in rows_of.items():
        for name in fields:
            value = records[name][row]
            if not is_missing(value):
                out.iat[position[fid], out.columns.get_loc(name)] = value
    return out
