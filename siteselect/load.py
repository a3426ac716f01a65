"""Loading a department's layer file: read, validate every row, then store it as a new version.

Files come as departments keep them: GeoJSON, GeoPackage, Shapefile, YAML/JSON records, and the
tables of :mod:`siteselect.sheets` (Excel workbooks, CSV in UTF-8, GBK or GB18030) read through
:mod:`siteselect.intake`. A load is planned first (:func:`plan_load`: every problem, or the new
version and what it changes) and then made (:func:`commit`), so a dry run and a load share every
step. A shared layer's load replaces the loading department's entries only.

A big CSV loaded without a dry run is streamed (:func:`load_file`): read, placed and validated
chunk by chunk and staged on disk, so that a million rows load in bounded memory. Every chunk is
checked before anything is written, and the version is written in one transaction: a bad row
anywhere still names its file, row, field and value and loads nothing.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from siteselect import geocoding, stewardship
from siteselect.errors import InvalidInputError, LayerValidationError, Problem
from siteselect.index import Catalog
from siteselect.intake import Intake, iter_intake, read_intake
from siteselect.io import read_layer_file
from siteselect.settings import Settings
from siteselect.sheets import CHUNK_ROWS, is_table_file
from siteselect.specs import LayerSpec, get_spec
from siteselect.store import LayerVersion, Progress, Staging, Store
from siteselect.validation import validate_frame

MAX_PROBLEMS = 1000  # a streamed file's problems: reading stops after this many
# A CSV bigger than this (about 200,000 rows of a prohibited list) is streamed; a smaller one is
# held whole, which is faster and holds at most a few hundred MB.
STREAM_BYTES = 16 * 2**20


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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a file held whole is loaded: the load makes a few
    million objects that all live until it ends, and the collector's full passes over them took a
    sixth of a 100,000-row load while freeing nothing. Reference counting frees the rest as usual;
    the collector runs again, as it was, when the load ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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
    changes: bool = True,
) -> stewardship.Plan:
    """Read and validate a file and work out the version it would make; raise
    ``LayerValidationError`` naming every problem. Nothing is written. ``judge`` also finds the
    verdicts the load would change (a dry run's question); without ``changes`` a shared layer's
    plan leaves out its change list too (a load that shows none). A big CSV is streamed: the
    plan's features are staged on disk (close the plan to let go of them)."""
    options = options or LoadOptions()
    spec = get_spec(layer)
    path = Path(path)
    if spec.shared and options.replace_all:
        stewardship.check_replace_all(options.role)
    latest = store.current_versions().get(layer)
    current = _current(store, layer, latest, spec.shared or judge)
    if _streamed(path):
        plan = _plan_streamed(store, spec, path, options, settings, latest, current)
    else:
        with collector_paused():
            plan = _plan_whole(store, spec, path, options, settings, latest, current)
    try:
        with _paused_for(plan):
            if changes or judge:
                _changes(store, plan, spec, current, judge, settings, loaded_by, catalog)
    except BaseException:
        plan.close()
        raise
    return plan


def _streamed(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and path.is_file() and path.stat().st_size > STREAM_BYTES


def _current(store: Store, layer: str, latest: LayerVersion | None, wanted: bool) -> gpd.GeoDataFrame | None:
    """The layer as it is now: what a shared layer's load keeps, and what a dry run compares with."""
    return store.read_layer(layer, version=latest.version) if wanted and latest is not None else None


def _plan_whole(
    store: Store,
    spec: LayerSpec,
    path: Path,
    options: LoadOptions,
    settings: Settings | None,
    latest: LayerVersion | None,
    current: gpd.GeoDataFrame | None,
) -> stewardship.Plan:
    """The plan of a file read whole."""
    gdf, intake = _read(store, spec.name, path, options, settings)
    departments: tuple[str, ...] = ()
    if spec.shared and not options.replace_all:
        gdf, departments, clashes = stewardship.merge_departments(spec, current, gdf, path.name)
        if clashes:
            raise LayerValidationError([intake.locate(p) if intake else p for p in clashes])
    return stewardship.Plan(
        layer=spec.name,
        source=path.name,
        features=gdf,
        based_on=latest.version if latest is not None else None,
        departments=departments,
        mapping=dict(intake.targets) if intake else {},
    )


def _changes(
    store: Store,
    plan: stewardship.Plan,
    spec: LayerSpec,
    current: gpd.GeoDataFrame | None,
    judge: bool,
    settings: Settings | None,
    loaded_by: str,
    catalog: Catalog | None,
) -> None:
    """What a plan changes: the entries of a shared layer; for a dry run (``judge``) also the
    changed entries' shapes and the verdicts that change."""
    if not (spec.shared or judge):
        return
    plan.entries = stewardship.entry_changes(current, plan.features)
    if judge and spec.has_geometry:
        plan.shapes = stewardship.changed_shapes(current, plan.features, plan.entries)
    if judge and spec.shared and spec.has_geometry:
        catalog = catalog or Catalog(store, settings)
        count = len(plan.features)
        version = stewardship.planned_version(store, spec.name, plan.source, loaded_by, count)
        plan.verdicts, plan.premises_checked = stewardship.verdict_changes(
            catalog, spec.name, plan.features, plan.entries, version
        )


def commit(
    store: Store,
    plan: stewardship.Plan,
    *,
    loaded_by: str | None = None,
    on_progress: Progress | None = None,
    also: Callable[[sa.Connection, LayerVersion], None] | None = None,
) -> LayerVersion:
    """Store a plan as the layer's new version, if the layer has not changed since it was made;
    ``also`` runs in the same transaction (an audit record)."""
    with _paused_for(plan):
        return store.write_layer(
            plan.layer,
            plan.features,
            source=plan.source,
            loaded_by=loaded_by,
            on_progress=on_progress,
            based_on=plan.based_on,
            also=also,
        )


def _paused_for(plan: stewardship.Plan) -> contextlib.AbstractContextManager[None]:
    """The collector is paused for features held in memory; a staged plan's are read a batch at a
    time, and what each batch leaves is collected as usual."""
    return contextlib.nullcontext() if isinstance(plan.features, Staging) else collector_paused()


def _read(
    store: Store, layer: str, path: Path, options: LoadOptions, settings: Settings | None
) -> tuple[gpd.GeoDataFrame, Intake | None]:
    spec = get_spec(layer)
    if not is_table_file(path):
        frame = read_layer_file(path, options.coordsys)
        if spec.shared and options.department is not None:
            frame = _own_department(frame, options.department, str(path))
        return validate_frame(layer, frame, str(path), settings), None
    intake = read_intake(spec, path, **_intake_options(store, spec, options))
    if _wrong_headers(intake):
        raise LayerValidationError(intake.problems)  # the headers are wrong: nothing else to say
    if not len(intake.frame):
        raise _no_rows(path, intake)
    gdf, problems = _validated(layer, intake, path, settings)
    if problems:
        raise LayerValidationError(_in_order(problems))
    return gdf, intake


def _intake_options(store: Store, spec: LayerSpec, options: LoadOptions) -> dict[str, Any]:
    gazetteer = None
    if spec.geocoded and "house_numbers" in store.current_versions():
        gazetteer = geocoding.gazetteer_for(store)
    return {
        "sheet": options.sheet, "mapping": options.mapping, "coordsys": options.coordsys,
        "gazetteer": gazetteer, "min_level": options.min_level, "department": options.department,
    }  # fmt: skip


def _wrong_headers(intake: Intake) -> bool:
    return bool(intake.problems) and intake.frame.empty and len(intake.frame.columns) == 0


def _no_rows(path: Path, intake: Intake) -> InvalidInputError:
    where = path.name + (f", sheet {intake.table.sheet!r}" if intake.table.sheet else "")
    return InvalidInputError(f"{where}: no rows to load below the header row {list(intake.table.headers)}")


def _validated(
    layer: str, intake: Intake, path: Path, settings: Settings | None
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """An intake's features validated, or every problem of its rows, by sheet, row and header."""
    try:
        gdf = validate_frame(layer, intake.frame, path.name, settings)
    except LayerValidationError as exc:
        already = {p.row for p in intake.problems}
        more = [intake.locate(p) for p in exc.problems if not (p.field == "geometry" and p.row in already)]
        return None, intake.problems + more
    return gdf, intake.problems


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
    plan = plan_load(store, layer, path, options, settings=settings, loaded_by=loaded_by or "", changes=False)
    try:
        return commit(store, plan, loaded_by=loaded_by, on_progress=on_progress)
    finally:
        plan.close()


def _plan_streamed(
    store: Store,
    spec: LayerSpec,
    path: Path,
    options: LoadOptions,
    settings: Settings | None,
    latest: LayerVersion | None,
    current: gpd.GeoDataFrame | None,
) -> stewardship.Plan:
    """The plan of a CSV read chunk by chunk: each is read, placed and validated, then staged on
    disk; the plan is made only when every chunk is good."""
    staged = Staging(spec.name)
    try:
        departments, mapping = _stage(store, spec, path, options, settings, staged)
        if spec.shared and not options.replace_all and current is not None:
            _stage_others(current, departments, staged, path.name)
    except BaseException:
        staged.close()
        raise
    return stewardship.Plan(
        layer=spec.name,
        source=path.name,
        features=staged,
        based_on=latest.version if latest is not None else None,
        departments=tuple(sorted(departments)) if spec.shared and not options.replace_all else (),
        mapping=mapping,
    )


def _stage(
    store: Store,
    spec: LayerSpec,
    path: Path,
    options: LoadOptions,
    settings: Settings | None,
    staged: Staging,
) -> tuple[set[str], dict[str, str]]:
    """Stage a CSV's features chunk by chunk; raise ``LayerValidationError`` naming every problem
    (up to ``MAX_PROBLEMS``). Returns the departments whose entries it holds, and its mapping."""
    problems: list[Problem] = []
    stopped: list[Problem] = []
    departments: set[str] = set()
    rows = 0
    chunks = iter_intake(spec, path, chunk_rows=CHUNK_ROWS, **_intake_options(store, spec, options))
    for intake in chunks:
        if _wrong_headers(intake):
            raise LayerValidationError(intake.problems)
        rows += len(intake.frame)
        gdf, found = _validated(spec.name, intake, path, settings)
        problems += found
        if len(problems) >= MAX_PROBLEMS:  # enough to fix first; more would only fill memory
            last = int(intake.table.lines[-1]) if len(intake.table.lines) else None
            why = f"reading stopped after {len(problems)} problems, at row {last}"
            stopped = [Problem(path.name, None, None, None, f"{why}; fix these and load the file again")]
            break
        if gdf is None or problems:
            continue  # a bad file: only its problems are wanted now
        if spec.shared:
            departments |= {stewardship.owner(d) for d in gdf["department"]}
        for fid, first, line in staged.add(gdf, intake.table.lines):
            problems.append(
                Problem(path.name, None, "id", fid, f"duplicates the id of row {first}", line=line,
                        header=intake.header_of.get("id", "id"), fix="give each row its own id")
            )  # fmt: skip
    if problems:
        raise LayerValidationError(_in_order(problems) + stopped)
    if not rows:
        raise _no_rows(path, intake)
    return departments, dict(intake.targets)


def _stage_others(current: gpd.GeoDataFrame, departments: set[str], staged: Staging, source: str) -> None:
    """Keep the entries of the departments a shared layer's load does not replace; an id of theirs
    in the file is refused."""
    kept = current[[stewardship.owner(d) not in departments for d in current["department"]]]
    theirs = {fid: d or "no department" for fid, d in zip(kept["id"], kept["department"])}
    clashes = staged.add(kept)
    if clashes:
        raise LayerValidationError([
            Problem(source, None, "id", fid, f"is already the id of an entry of {theirs[fid]}", line=line)
            for fid, line, _ in clashes
        ])  # fmt: skip


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
