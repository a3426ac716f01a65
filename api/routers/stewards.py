"""Data stewards' loads: a department's file uploaded as it is kept, tried first, then confirmed.

The file is the request body (its name in ``filename``); a dry run answers with the header mapping,
the entries added, removed and changed and the verdicts that change; the same request with
``dry_run=false`` (and the ``based_on`` version the steward reviewed) makes the load. A data
steward loads, tries and restores only its own department's entries and layers; every refusal and
every write is in the audit trail.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import current_user
from siteselect import accounts, audit
from siteselect.errors import InvalidInputError, LayerValidationError, PermissionDeniedError, StaleWriteError
from siteselect.load import LoadOptions, commit, plan_load
from siteselect.records import plan_records
from siteselect.sheets import write_problems
from siteselect.stewardship import audited, loading_department, restore_version

router = APIRouter(prefix="/layers", tags=["stewards"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".csv", ".geojson", ".json", ".gpkg", ".yaml", ".yml"}
FILE_BODY = Body(media_type="application/octet-stream", description="the department's file, as it is kept")


def steward(request: Request, user: Annotated[accounts.User, Depends(current_user)]) -> accounts.User:
    """Loads are for data stewards and admins (a refusal is audited)."""
    if user.role not in ("steward", "admin"):
        error = PermissionDeniedError(f"loading layers is for data stewards, not a {user.role}")
        audit.refuse(request.app.state.store, user, "load-layer", request.url.path, error)
    return user


Steward = Annotated[accounts.User, Depends(steward)]


class LoadQuery(BaseModel):
    """How the file is read and whose entries it replaces."""

    filename: str = Field(
        min_length=1, max_length=200, description="the file's name; its suffix says its type"
    )
    sheet: str | None = Field(None, max_length=100)
    department: str | None = Field(None, max_length=200)
    coordsys: str = Field("wgs84", pattern="^(wgs84|cgcs2000|gcj02|bd09)$")
    min_level: str = Field("building", pattern="^(house_number|building|road|street)$")
    replace_all: bool = False


def _saved(folder: str, filename: str, body: bytes) -> Path:
    name = Path(filename).name
    if name != filename or "\x00" in name or Path(name).suffix.lower() not in FILE_SUFFIXES:
        known = ", ".join(sorted(FILE_SUFFIXES))
        raise InvalidInputError(f"filename {filename!r} must be a plain file name ending in one of {known}")
    if not body:
        raise InvalidInputError("the request body is empty: send the file")
    path = Path(folder) / name
    path.write_bytes(body)
    return path


def _plan(
    request: Request, layer: str, q: LoadQuery, user: accounts.User, body: bytes, judge: bool, action: str
) -> Any:
    store = request.app.state.store
    department = loading_department(store, user, layer, action, q.department)
    if q.replace_all and user.role != "admin":
        error = PermissionDeniedError("replacing every department's entries needs an admin")
        audit.refuse(store, user, action, layer, error)
    options = LoadOptions(
        coordsys=q.coordsys,
        sheet=q.sheet,
        department=department,
        replace_all=q.replace_all,
        role=user.role,
        min_level=q.min_level,
    )
    with tempfile.TemporaryDirectory(prefix="siteselect-load-") as folder:
        path = _saved(folder, q.filename, body)
        return plan_load(
            request.app.state.store, layer, path, options, settings=request.app.state.settings,
            loaded_by=user.name, judge=judge, catalog=request.app.state.catalog,
        )  # fmt: skip


@router.post("/{layer}/loads")
def load(
    request: Request,
    layer: str,
    user: Steward,
    q: Annotated[LoadQuery, Query()],
    body: Annotated[bytes, FILE_BODY],
    dry_run: Annotated[bool, Query(description="only show what the load would change")] = True,
    based_on: Annotated[
        int | None, Query(ge=0, description="the version the dry run was made against")
    ] = None,
) -> dict[str, Any]:
    """Try a department's file (the default), or load it: every problem by sheet, row and header."""
    plan = _plan(request, layer, q, user, body, judge=dry_run, action="try-load" if dry_run else "load-layer")
    if dry_run:
        return plan.as_dict() | {"dry_run": True}
    if based_on is not None and (plan.based_on or 0) != based_on:
        raise StaleWriteError(
            f"layer {layer} is at version {plan.based_on}, not {based_on}: try the file again"
        )
    detail = {"source": plan.source, "departments": list(plan.departments), "changes": plan.summary()}
    store = request.app.state.store
    version = commit(store, plan, loaded_by=user.name, also=audited(store, user, "load-layer", detail))
    request.app.state.catalog.refresh()
    return plan.as_dict() | {"dry_run": False, "version": version.version}


@router.post("/{layer}/loads/problems", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def problems(
    request: Request,
    layer: str,
    user: Steward,
    q: Annotated[LoadQuery, Query()],
    body: Annotated[bytes, FILE_BODY],
) -> Response:
    """The file's problems as a workbook to work through (only its header row when there are none)."""
    found: list[Any] = []
    try:
        _plan(request, layer, q, user, body, judge=False, action="try-load")
    except LayerValidationError as exc:
        found = exc.problems
    with tempfile.TemporaryDirectory(prefix="siteselect-problems-") as folder:
        out = Path(folder) / "problems.xlsx"
        write_problems(found, out)
        content = out.read_bytes()
    stem = Path(q.filename).stem
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem, safe='')}-problems.xlsx"}
    return Response(content, media_type=XLSX, headers=headers)


class RestoreBody(BaseModel):
    why: str = Field(
        min_length=1, max_length=500, description="why the earlier version is made current again"
    )


@router.post("/{layer}/versions/{version}/restore")
def restore(request: Request, layer: str, version: int, user: Steward, body: RestoreBody) -> dict[str, Any]:
    """Make an earlier version current again, as a new version naming who and why (a data
    steward's: its department's entries only)."""
    store = request.app.state.store
    department = loading_department(store, user, layer, "restore-layer")
    made = restore_version(
        store, layer, version, who=user.name, why=body.why, department=department,
        also=audited(store, user, "restore-layer", {"restored": version, "why": body.why}),
    )  # fmt: skip
    request.app.state.catalog.refresh()
    return {"layer": layer, "version": made.version, "restored": version, "source": made.source}


@router.post("/{layer}/records/{kind}")
def records(
    request: Request,
    layer: str,
    kind: str,
    user: Steward,
    filename: Annotated[str, Query(min_length=1, max_length=200)],
    body: Annotated[bytes, FILE_BODY],
    sheet: Annotated[str | None, Query(max_length=100)] = None,
    dry_run: bool = True,
    based_on: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Join a table of records (``acceptance`` onto buildings, ``certificates`` onto house numbers)
    to the features they name: tried first, then loaded as the layer's new version."""
    store = request.app.state.store
    loading_department(store, user, layer, "try-records" if dry_run else "load-records")
    with tempfile.TemporaryDirectory(prefix="siteselect-records-") as folder:
        path = _saved(folder, filename, body)
        plan = plan_records(store, kind, path, sheet=sheet, settings=request.app.state.settings)
    if plan.layer != layer:
        raise InvalidInputError(f"{kind} records join {plan.layer}, not {layer}")
    if dry_run:
        return plan.as_dict() | {"dry_run": True}
    if based_on is not None and plan.based_on != based_on:
        raise StaleWriteError(
            f"layer {layer} is at version {plan.based_on}, not {based_on}: try the file again"
        )
    also = audited(
        store, user, "load-records", {"source": plan.source, "kind": kind, "changes": plan.summary()}
    )
    version = commit(store, plan, loaded_by=user.name, also=also)
    request.app.state.catalog.refresh()
    return plan.as_dict() | {"dry_run": False, "version": version.version}
