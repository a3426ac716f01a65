"""Loading a department's layer file: read, validate every row, then store it as a new version.

Files come as departments keep them: GeoJSON, GeoPackage, Shapefile, YAML/JSON records, and the
tables of :mod:`siteselect.sheets` (Excel workbooks, CSV in UTF-8, GBK or GB18030) read through
:mod:`siteselect.intake`. A load is planned first (:func:`plan_load`: every problem, or the new
version and what it changes) and then made (:func:`commit`), so a dry run and a load share every
step. A shared layer's load replaces the loading department's entries only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd

from siteselect import geocoding, stewardship
from siteselect.errors import InvalidInputError, LayerValidationError, Problem
from siteselect.index import Catalog
from siteselect.intake import Intake, read_intake
from siteselect.io import read_layer_file
from siteselect.settings import Settings
from siteselect.sheets import is_table_file
from siteselect.specs import get_spec
from siteselect.store import LayerVersion, Progress, Store
from siteselect.validation import validate_frame


@dataclass(frozen=True)
class LoadOptions:
    """How a steward loads a file: its sheet and headers, coordinates, whose entries it replaces."""

    coordsys: str = "wgs84"
    sheet: str | None = None
    mapping: Mapping[str, str] | None = None
    department: str | None = None
    replace_all: bool = False
    role: str | None = None  # the loading user's role (replacing everyone's needs an admin)
    min_level: str = geocoding.DEFAULT_MIN_LEVEL


def plan_load(
    store: Store,
    layer: str,
    path: str | Path,
    options: LoadOptions | None = None,
    *,
    settings: Settings | None = None,
    loaded_by: str = "",
    judge: bool = False,
    catalog: Catalog | None = None,
) -> stewardship.Plan:
    """Read and validate a file and work out the version it would make; raise
    ``LayerValidationError`` naming every problem. Nothing is written. ``judge`` also finds the
    verdicts the load would change (a dry run's question)."""
    options = options or LoadOptions()
    spec = get_spec(layer)
    path = Path(path)
    if spec.shared and options.replace_all:
        stewardship.check_replace_all(options.role)
    gdf, intake = _read(store, layer, path, options, settings)
    latest = store.current_versions().get(layer)
    # The layer as it is now: what a shared layer's load keeps, and what a dry run compares with.
    wanted = latest is not None and (spec.shared or judge)
    current = store.read_layer(layer, version=latest.version) if wanted and latest else None
    departments: tuple[str, ...] = ()
    if spec.shared and not options.replace_all:
        gdf, departments, clashes = stewardship.merge_departments(spec, current, gdf, path.name)
        if clashes:
            raise LayerValidationError([intake.locate(p) if intake else p for p in clashes])
    plan = stewardship.Plan(
        layer=layer,
        source=path.name,
        features=gdf,
        based_on=latest.version if latest is not None else None,
        departments=departments,
        mapping=dict(intake.targets) if intake else {},
    )
    if spec.shared or judge:
        plan.entries = stewardship.entry_changes(current, gdf)
    if judge and spec.has_geometry:
        plan.shapes = stewardship.changed_shapes(current, gdf, plan.entries)
    if judge and spec.shared and spec.has_geometry:
        catalog = catalog or Catalog(store, settings)
        version = stewardship.planned_version(store, layer, path.name, loaded_by, len(gdf))
        plan.verdicts, plan.premises_checked = stewardship.verdict_changes(
            catalog, layer, gdf, plan.entries, version
        )
    return plan


def commit(
    store: Store, plan: stewardship.Plan, *, loaded_by: str | None = None, on_progress: Progress | None = None
) -> LayerVersion:
    """Store a plan as the layer's new version, if the layer has not changed since it was made."""
    return store.write_layer(
        plan.layer,
        plan.features,
        source=plan.source,
        loaded_by=loaded_by,
        on_progress=on_progress,
        based_on=plan.based_on,
    )


def _read(
    store: Store, layer: str, path: Path, options: LoadOptions, settings: Settings | None
) -> tuple[gpd.GeoDataFrame, Intake | None]:
    spec = get_spec(layer)
    if not is_table_file(path):
        frame = read_layer_file(path, options.coordsys)
        if spec.shared and options.department is not None:
            frame = _own_department(frame, options.department, str(path))
        return validate_frame(layer, frame, str(path), settings), None
    gazetteer = None
    if spec.geocoded and "house_numbers" in store.current_versions():
        gazetteer = geocoding.gazetteer_for(store)
    intake = read_intake(
        spec,
        path,
        sheet=options.sheet,
        mapping=options.mapping,
        coordsys=options.coordsys,
        gazetteer=gazetteer,
        min_level=options.min_level,
        department=options.department,
    )
    if intake.problems and intake.frame.empty and len(intake.frame.columns) == 0:
        raise LayerValidationError(intake.problems)  # the headers are wrong: nothing else to say
    if not len(intake.frame):
        where = path.name + (f", sheet {intake.table.sheet!r}" if intake.table.sheet else "")
        raise InvalidInputError(f"{where}: no rows to load below the header row {list(intake.table.headers)}")
    try:
        gdf = validate_frame(layer, intake.frame, path.name, settings)
    except LayerValidationError as exc:
        already = {p.row for p in intake.problems}
        more = [intake.locate(p) for p in exc.problems if not (p.field == "geometry" and p.row in already)]
        raise LayerValidationError(_in_order(intake.problems + more)) from None
    if intake.problems:
        raise LayerValidationError(_in_order(intake.problems))
    return gdf, intake


def _in_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (-1 if p.line is None else p.line, p.header or ""))


def _own_department(frame: pd.DataFrame, department: str, source: str) -> pd.DataFrame:
    frame = frame.copy()
    if "department" not in frame:
        frame["department"] = department
        return frame
    problems = [
        Problem(
            source, row, "department", value, f"is another department's entry; this load is for {department}"
        )
        for row, value in enumerate(frame["department"])
        if value not in (None, "", department)
    ]
    if problems:
        raise LayerValidationError(problems)
    frame["department"] = frame["department"].map(lambda v: v or department)
    return frame


def load_file(
    store: Store,
    layer: str,
    path: str | Path,
    *,
    coordsys: str = "wgs84",
    settings: Settings | None = None,
    loaded_by: str | None = None,
    on_progress: Progress | None = None,
    options: LoadOptions | None = None,
) -> LayerVersion:
    """Load one file as a new version of ``layer``. A bad file loads nothing."""
    options = replace(options or LoadOptions(), coordsys=coordsys) if coordsys != "wgs84" else options
    plan = plan_load(store, layer, path, options, settings=settings, loaded_by=loaded_by or "")
    return commit(store, plan, loaded_by=loaded_by, on_progress=on_progress)


def load_frame(
    store: Store,
    layer: str,
    frame: pd.DataFrame,
    *,
    source: str,
    settings: Settings | None = None,
    loaded_by: str | None = None,
    on_progress: Progress | None = None,
) -> LayerVersion:
    """Load features already in memory (WGS-84) as a new version of ``layer``."""
    gdf = validate_frame(layer, frame, source, settings)
    return store.write_layer(layer, gdf, source=source, loaded_by=loaded_by, on_progress=on_progress)


def read_file(
    store: Store,
    layer: str,
    path: str | Path,
    options: LoadOptions | None = None,
    settings: Settings | None = None,
) -> tuple[gpd.GeoDataFrame, Intake | None]:
    """Read and validate a file as a load does, without planning a version: its features, and for a
    table the intake that names where each row sits in the file. A bad file raises
    ``LayerValidationError`` naming every problem."""
    return _read(store, layer, Path(path), options or LoadOptions(), settings)
