"""Park operators' listings: vacancies edited one by one, with revisions and an audit trail.

The listings start as the current version of the vacancies layer. An operator creates, changes and
deletes listings of its own parks only; it cannot move one to another park nor write the fields
the server owns (the id, ``updated_at``, the verification of pre-filing, which is a clerk's). Each
change carries the revision it was made against (the ETag): a stale one is refused, so of two
operators writing the same listing at once one wins and the other is told. Every write and every
refusal is appended to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NoReturn

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa

from siteselect import audit as trail
from siteselect.accounts import User
from siteselect.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SiteSelectError,
    StaleWriteError,
)
from siteselect.load import validate_frame
from siteselect.security import acting_as
from siteselect.store import Store

SERVER_OWNED = ("id", "updated_at")
CLERK_ONLY = ("prefiled",)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def etag(listing: dict[str, Any]) -> str:
    return f'"{listing["id"]}-{listing["revision"]}"'


def seed(store: Store) -> int:
    """Fill an empty listings table from the current vacancies version; return how many."""
    table = store.accounts["listings"]
    with store.engine.begin() as conn:
        acting_as(conn, None)
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            return 0
        if "vacancies" not in store.current_versions():
            return 0
        vacancies = store.read_layer("vacancies")
        rows = [_row(rec, 1, _confirmed(rec)) for rec in _records(vacancies)]
        if rows:
            conn.execute(table.insert(), rows)
    return len(rows)


def _records(gdf: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec, geom in zip(gdf.drop(columns="geometry").to_dict("records"), gdf.geometry):
        out.append({str(k): v for k, v in rec.items()} | {"lon": geom.x, "lat": geom.y})
    return out


def _row(rec: dict[str, Any], revision: int, updated_at: dt.datetime | None = None) -> dict[str, Any]:
    props = {k: v for k, v in rec.items() if k not in ("id", "park_id", "lon", "lat", "updated_at")}
    return {"id": rec["id"], "park_id": rec.get("park_id"), "lon": rec["lon"], "lat": rec["lat"],
            "props": props, "revision": revision, "updated_at": updated_at or _now()}  # fmt: skip


def _confirmed(rec: dict[str, Any]) -> dt.datetime | None:
    """When a vacancy from a layer file was last confirmed (its ``updated_at`` date)."""
    day = rec.get("updated_at")
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) if day else None


def _as_listing(row: Any) -> dict[str, Any]:
    """A stored row (a database row or the dict written) as the flat listing callers see."""
    row = dict(row._mapping) if hasattr(row, "_mapping") else row
    at = row["updated_at"]
    updated = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return {"id": row["id"], "park_id": row["park_id"], "lon": row["lon"], "lat": row["lat"], **row["props"],
            "revision": row["revision"], "updated_at": updated.isoformat()}  # fmt: skip


def stamp(store: Store) -> tuple[Any, ...]:
    """Changes whenever a listing is created, changed or deleted: a cheap test for staleness."""
    seed(store)
    t = store.accounts["listings"]
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(t.c.revision), 0), sa.func.max(t.c.updated_at)
    )
    with store.engine.connect() as conn:
        return tuple(conn.execute(query).one())


def as_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Listings as a vacancies GeoDataFrame (points in WGS-84)."""
    frame = pd.DataFrame(rows).drop(columns=["revision"], errors="ignore")
    if frame.empty:
        return gpd.GeoDataFrame({"id": [], "status": []}, geometry=[], crs="EPSG:4326")
    geometry = shapely.points(frame.pop("lon").to_numpy(float), frame.pop("lat").to_numpy(float))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def get(store: Store, listing_id: str) -> dict[str, Any]:
    seed(store)
    t = store.accounts["listings"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == listing_id)).first()
    if row is None:
        raise NotFoundError(f"no listing {listing_id!r}")
    return _as_listing(row)


def all_listings(store: Store) -> list[dict[str, Any]]:
    seed(store)
    t = store.accounts["listings"]
    with store.engine.connect() as conn:
        return [_as_listing(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def _validated(fields: dict[str, Any], listing_id: str) -> dict[str, Any]:
    """Check a listing's fields against the vacancies spec; return them typed."""
    rec = {k: v for k, v in fields.items() if k not in ("lon", "lat", "revision", "updated_at")}
    frame = pd.DataFrame([rec | {"id": listing_id}])
    frame["geometry"] = [shapely.Point(fields["lon"], fields["lat"])]
    typed = validate_frame("vacancies", frame, "request")
    out = _records(typed)[0]
    return out


def audit(conn: sa.Connection, store: Store, user: User, action: str, target: str,
           before: Any, after: Any, outcome: str, detail: str = "") -> None:  # fmt: skip
    trail.record(conn, store, trail.actor(user), action, target, before, after, outcome, detail)


def refuse(store: Store, user: User, action: str, target: str, error: SiteSelectError) -> NoReturn:
    trail.refuse(store, trail.actor(user), action, target, error)


def _check_fields(user: User, body: dict[str, Any]) -> None:
    owned = [k for k in SERVER_OWNED if k in body]
    if owned:
        raise InvalidInputError(f"{', '.join(owned)}: set by the server, not by a write")
    if user.role == "operator" and any(k in body for k in CLERK_ONLY):
        raise PermissionDeniedError("prefiled: pre-filing is verified by a clerk")


def _check_park(user: User, park_id: str | None, store: Store | None = None) -> None:
    known = store is not None and park_id is not None and "parks" in store.current_versions()
    if known and park_id not in set(store.read_layer("parks")["id"]):  # type: ignore[union-attr]
        raise InvalidInputError(f"park_id {park_id!r} is not a known park")
    if user.role == "operator" and park_id not in user.parks:
        raise PermissionDeniedError(f"park_id {park_id!r}: operator {user.name} runs {', '.join(user.parks)}")
    if user.role not in ("operator", "admin", "clerk"):  # pragma: no cover - roles are validated
        raise PermissionDeniedError(f"role {user.role} may not write listings")


def create(store: Store, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """A new listing in one of the user's parks; the server gives it its id."""
    seed(store)
    listing_id = f"V-{uuid.uuid4().hex[:12]}"
    try:
        _check_fields(user, body)
        if user.role == "clerk":
            raise PermissionDeniedError("clerks verify listings; operators create them")
        _check_park(user, body.get("park_id"), store)
        fields = _validated(body, listing_id)
    except SiteSelectError as exc:
        refuse(store, user, "create", listing_id, exc)
    row = _row(fields, 1)
    with store.engine.begin() as conn:
        acting_as(conn, user)
        conn.execute(store.accounts["listings"].insert().values(**row))
        audit(conn, store, user, "create", listing_id, None, _as_listing(row), "ok")
    return get(store, listing_id)


def update(store: Store, user: User, listing_id: str, body: dict[str, Any], *, if_match: str | None,
           merge: bool) -> dict[str, Any]:  # fmt: skip
    """Change a listing (a whole replacement, or a JSON merge patch) made against a revision."""
    action = "patch" if merge else "replace"
    t = store.accounts["listings"]
    current = get(store, listing_id)
    try:
        _check_fields(user, body)
        _check_park(user, current["park_id"])
        if "park_id" in body and body["park_id"] != current["park_id"] and user.role == "operator":
            raise PermissionDeniedError("park_id: an operator cannot move a listing to another park")
        base = (
            {k: v for k, v in current.items() if k not in ("revision", "updated_at", "id")}
            if merge
            else {"park_id": current["park_id"], "prefiled": current.get("prefiled")}
        )
        merged = {k: v for k, v in (base | body).items() if v is not None or not merge}
        fields = _validated(merged, listing_id)
    except SiteSelectError as exc:
        refuse(store, user, action, listing_id, exc)
    with store.engine.begin() as conn:
        acting_as(conn, user)
        row = conn.execute(sa.select(t).where(t.c.id == listing_id).with_for_update()).first()
        if row is None:
            raise NotFoundError(f"no listing {listing_id!r}")
        if if_match is not None and if_match != etag({"id": listing_id, "revision": row.revision}):
            audit(conn, store, user, action, listing_id, None, None, "refused", "stale revision")
            stale = StaleWriteError(
                f"listing {listing_id} changed since {if_match}; now {etag(_as_listing(row))}"
            )
        else:
            stale = None
            new = _row(fields, row.revision + 1)
            done = conn.execute(
                t.update().where(t.c.id == listing_id, t.c.revision == row.revision).values(**new)
            )
            if done.rowcount != 1:  # another write got in between: the same as a stale revision
                stale = StaleWriteError(f"listing {listing_id} changed while this write was made")
            else:
                audit(conn, store, user, action, listing_id, _as_listing(row), _as_listing(new), "ok")
    if stale is not None:
        raise stale
    return get(store, listing_id)


def delete(store: Store, user: User, listing_id: str, *, if_match: str | None) -> None:
    t = store.accounts["listings"]
    current = get(store, listing_id)
    try:
        _check_park(user, current["park_id"])
        if if_match is not None and if_match != etag(current):
            raise StaleWriteError(f"listing {listing_id} changed since {if_match}; now {etag(current)}")
    except SiteSelectError as exc:
        refuse(store, user, "delete", listing_id, exc)
    with store.engine.begin() as conn:
        acting_as(conn, user)
        done = conn.execute(t.delete().where(t.c.id == listing_id, t.c.revision == current["revision"]))
        if done.rowcount == 1:
            audit(conn, store, user, "delete", listing_id, current, None, "ok")
        else:  # another write got in between: nothing deleted, and the caller is told
            audit(conn, store, user, "delete", listing_id, None, None, "refused", "stale revision")
    if done.rowcount != 1:
        raise StaleWriteError(f"listing {listing_id} changed while it was being deleted")


def audit_log(store: Store, user: User) -> list[dict[str, Any]]:
    """The audit trail, for admins and clerks."""
    if user.role not in ("admin", "clerk"):
        raise PermissionDeniedError("the audit log is for admins and clerks")
    return trail.trail(store)
