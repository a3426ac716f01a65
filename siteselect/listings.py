"""Park operators' listings: vacancies edited one by one, with revisions and an audit trail.

The listings start as the current version of the vacancies layer. An operator creates, changes and
deletes listings of its own parks only; it cannot move one to another park nor write the fields
the server owns (the id, ``updated_at``, the verification of pre-filing, which is a clerk's), and
places them inside its park's outline. Clerks verify; only admins move a listing between parks or
delete what is not theirs. Each change names the revision it was made against (``If-Match``) and
is merged into the row as locked in its own transaction: of two writers of the same revision one
wins and the other is told, and nothing acknowledged is lost. Every write and every refusal is
appended to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa

from siteselect import audit
from siteselect.address import normalize
from siteselect.conditions import require_match
from siteselect.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SiteSelectError,
)
from siteselect.geodesy import point_distance_m
from siteselect.security import acting_as
from siteselect.store import Store, shared_texts
from siteselect.users import User
from siteselect.validation import validate_frame

BuildingAt = Callable[[float, float], "dict[str, Any] | None"]  # the building under a point
SERVER_OWNED = ("id", "updated_at")
CLERK_ONLY = ("prefiled",)
MOVE_TOLERANCE_M = 5.0  # a re-survey of the same door moves its point by less than this
SAME_POINT_M = 0.01  # closer is the same point written back with a spreadsheet's 15 digits


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def etag(listing: dict[str, Any]) -> str:
    return f'"{listing["id"]}-{listing["revision"]}"'


def seed(store: Store) -> int:
    """Fill an empty listings table from the current vacancies version; return how many. Workers
    starting at once may both try: the one that comes second finds the rows there and adds none."""
    table = store.accounts["listings"]
    try:
        with store.engine.begin() as conn:
            acting_as(conn, None)
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                return 0
            if "vacancies" not in store.current_versions():
                return 0
            vacancies = store.read_layer("vacancies")
            rows = [_row(rec, 1, _confirmed(rec)) for rec in frame_records(vacancies)]
            if rows:
                conn.execute(table.insert(), rows)
    except sa.exc.IntegrityError:  # another worker seeded them meanwhile (its rows, same ids)
        return 0
    return len(rows)


def frame_records(gdf: pd.DataFrame) -> list[dict[str, Any]]:
    """Vacancy features as flat records: their fields, lon and lat."""
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


def stamp(store: Store) -> tuple[bool, int]:
    """(whether there are listings, how many statements have written them): changes whenever a
    listing is created, changed or deleted, and is read from two index look-ups, not the rows."""
    seed(store)
    t, changes = store.accounts["listings"], store.accounts["listing_changes"]
    query = sa.select(sa.exists(sa.select(t.c.id)), changes.c.writes).where(changes.c.id == 1)
    with store.engine.connect() as conn:
        listed, writes = conn.execute(query).one()
    return bool(listed), int(writes)


def as_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Listings as a vacancies GeoDataFrame (points in WGS-84)."""
    frame = shared_texts(pd.DataFrame(rows).drop(columns=["revision"], errors="ignore"))
    if frame.empty:
        return gpd.GeoDataFrame({"id": [], "status": []}, geometry=[], crs="EPSG:4326")
    geometry = shapely.points(frame.pop("lon").to_numpy(float), frame.pop("lat").to_numpy(float))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def get(store: Store, listing_id: str) -> dict[str, Any]:
    seed(store)
    t = store.accounts["listings"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == _id(listing_id))).first()
    if row is None:
        raise NotFoundError(f"no listing {listing_id!r}")
    return _as_listing(row)


def all_listings(store: Store, *, bounded: bool = True) -> list[dict[str, Any]]:
    """Every listing, by id; ``bounded=False`` for the snapshot's read (see ``Store.reading``)."""
    seed(store)
    t = store.accounts["listings"]
    with store.reading(bounded=bounded) as conn:
        return [_as_listing(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def select_page(
    store: Store, where: sa.ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[gpd.GeoDataFrame, int]:
    """A page of the listings meeting ``where`` (in id order) as vacancies, and how many meet it."""
    seed(store)
    t = store.accounts["listings"]
    condition = sa.true() if where is None else where
    page = sa.select(t).where(condition).order_by(t.c.id).offset(offset).limit(limit)
    with store.engine.connect() as conn:
        rows = [_as_listing(r) for r in conn.execute(page)]
        matched = conn.execute(sa.select(sa.func.count()).select_from(t).where(condition)).scalar_one()
    return as_frame(rows), matched


def _validated(fields: dict[str, Any], listing_id: str) -> dict[str, Any]:
    """Check a listing's fields against the vacancies spec; return them typed."""
    rec = {k: v for k, v in fields.items() if k not in ("lon", "lat", "revision", "updated_at")}
    frame = pd.DataFrame([rec | {"id": listing_id}])
    frame["geometry"] = [shapely.Point(_coordinate(fields, "lon"), _coordinate(fields, "lat"))]
    typed = validate_frame("vacancies", frame, "request")
    out = frame_records(typed)[0]
    return out


def _coordinate(fields: dict[str, Any], name: str) -> float:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(
            f"geometry: a vacancy needs a Point [lon, lat]; {name} {value!r} is not a number"
        )
    return float(value)


class Parks:
    """The parks a listing may belong to: their ids and outlines (read before a write locks)."""

    def __init__(self, store: Store):
        known = "parks" in store.current_versions()
        frame = store.read_layer("parks") if known else None
        self.outlines: dict[str, Any] = {} if frame is None else dict(zip(frame["id"], frame.geometry))
        self.known = known

    def check_exists(self, park_id: Any) -> None:
        if self.known and park_id is not None and park_id not in self.outlines:
            raise InvalidInputError(f"park_id {park_id!r} is not a known park")

    def check_placed(self, user: User, park_id: str, lon: float, lat: float) -> None:
        """An operator places listings inside its park's outline and inside no other's."""
        if user.role != "operator" or not self.known:
            return
        point = shapely.Point(lon, lat)
        for other, outline in self.outlines.items():
            if other not in user.parks and outline.covers(point):
                raise PermissionDeniedError(
                    f"lon/lat {lon}, {lat}: inside park {other}, not run by {user.name}"
                )
        own = self.outlines.get(park_id)
        if own is None or not own.covers(point):
            raise PermissionDeniedError(f"lon/lat {lon}, {lat}: outside the outline of park {park_id}")


def check_floor(building: dict[str, Any] | None, floor: Any) -> None:
    """A floor must exist in the building under the premises: 1 to its floors, or a basement."""
    if building is None or floor is None or isinstance(floor, bool) or not isinstance(floor, int):
        return
    name = building.get("name") or building["id"]
    if floor == 0:
        raise InvalidInputError(f"floor 0: floors count from 1 (basements -1, -2, …) in {name}")
    floors = building.get("floors")
    if floors is not None and floor > floors:
        raise InvalidInputError(f"floor {floor}: building {name} ({building['id']}) has {floors} floors")


def _check_fields(user: User, body: dict[str, Any]) -> None:
    owned = [k for k in SERVER_OWNED if k in body]
    if owned:
        raise InvalidInputError(f"{', '.join(owned)}: set by the server, not by a write")
    if user.role == "operator" and any(k in body for k in CLERK_ONLY):
        raise PermissionDeniedError("prefiled: pre-filing is verified by a clerk")


def _may_write(user: User, park_id: str | None) -> None:
    """Operators write their own parks' listings; admins and clerks any (as the role rights say)."""
    if user.role == "operator" and park_id not in user.parks:
        raise PermissionDeniedError(f"park_id {park_id!r}: operator {user.name} runs {', '.join(user.parks)}")
    if user.role not in ("operator", "admin", "clerk"):  # pragma: no cover - roles are validated
        raise PermissionDeniedError(f"role {user.role} may not write listings")


def create(
    store: Store, user: User, body: dict[str, Any], building_at: BuildingAt | None = None
) -> dict[str, Any]:
    """A new listing in one of the user's parks; the server gives it its id. With ``building_at``
    its floor is checked against the building under it."""
    seed(store)
    listing_id = f"V-{uuid.uuid4().hex[:12]}"
    with audit.accounted(store, user, "create", listing_id):
        try:
            _check_fields(user, body)
            if user.role == "clerk":
                raise PermissionDeniedError("clerks verify listings; operators create them")
            parks = Parks(store)
            parks.check_exists(body.get("park_id"))
            _may_write(user, body.get("park_id"))
            fields = _validated(body, listing_id)
            parks.check_placed(user, fields["park_id"], fields["lon"], fields["lat"])
            if building_at is not None:
                check_floor(building_at(fields["lon"], fields["lat"]), fields.get("floor"))
        except SiteSelectError as exc:
            audit.refuse(store, user, "create", listing_id, exc)
        row = _row(fields, 1)
        with store.engine.begin() as conn:
            acting_as(conn, user)
            conn.execute(store.accounts["listings"].insert().values(**row))
            audit.record(conn, store, user, "create", listing_id, None, _as_listing(row), "ok")
    return get(store, listing_id)


def update(store: Store, user: User, listing_id: str, body: dict[str, Any], *, if_match: str | None,
           merge: bool, building_at: BuildingAt | None = None) -> dict[str, Any]:  # fmt: skip
    """Change a listing (a whole replacement, or a JSON merge patch) made against a revision.

    The change is merged into the row as locked in the write's own transaction, so two changes
    of different fields, both made against ``*``, both stay."""
    action = "patch" if merge else "replace"
    t = store.accounts["listings"]
    refused: SiteSelectError | None = None
    with audit.accounted(store, user, action, listing_id):
        parks = Parks(store)  # read before the listing is locked: nothing waits on it meanwhile
        with store.engine.begin() as conn:
            acting_as(conn, user)
            current = _locked(conn, store, listing_id)
            try:
                fields, note = _changed(user, current, body, merge, if_match, parks)
                moved = (fields["lon"], fields["lat"]) != (current["lon"], current["lat"])
                if building_at is not None and (moved or fields.get("floor") != current.get("floor")):
                    check_floor(building_at(fields["lon"], fields["lat"]), fields.get("floor"))
            except SiteSelectError as exc:
                audit.record(conn, store, user, action, listing_id, None, None, "refused", str(exc))
                refused = exc
            else:
                new = _row(fields, current["revision"] + 1)
                conn.execute(t.update().where(t.c.id == listing_id).values(**new))
                after = _as_listing(new)
                audit.record(conn, store, user, action, listing_id, current, after, "ok", note)
    if refused is not None:
        raise refused
    return get(store, listing_id)


def _changed(user: User, current: dict[str, Any], body: dict[str, Any], merge: bool,
             if_match: str | None, parks: Parks) -> tuple[dict[str, Any], str]:  # fmt: skip
    """The listing's fields after the change, and a note for the audit; or the refusal."""
    _check_fields(user, body)
    _may_write(user, current["park_id"])
    if "park_id" in body and body["park_id"] != current["park_id"]:
        if user.role != "admin":
            raise PermissionDeniedError(f"park_id: a {user.role} cannot move a listing to another park")
        parks.check_exists(body["park_id"])
    require_match(if_match, etag(current), f"listing {current['id']}")
    base = (
        {k: v for k, v in current.items() if k not in ("revision", "updated_at", "id")}
        if merge
        else {"park_id": current["park_id"], "prefiled": current.get("prefiled")}
    )
    merged = {k: v for k, v in (base | body).items() if v is not None or not merge}
    fields = _validated(merged, current["id"])
    if (fields["lon"], fields["lat"]) != (current["lon"], current["lat"]):
        parks.check_placed(user, fields["park_id"], fields["lon"], fields["lat"])
    return _reverified(user, current, fields, body)


def _reverified(
    user: User, current: dict[str, Any], fields: dict[str, Any], body: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """A pre-filing verified a place and an address: a listing moved beyond a re-survey's
    tolerance, or given another address, is not pre-filed until a clerk verifies it again (unless
    this very change is a clerk's or an admin's setting it)."""
    if not current.get("prefiled") or "prefiled" in body:
        return fields, ""
    moved = float(point_distance_m(current["lon"], current["lat"], fields["lon"], fields["lat"]))
    readdressed = normalize(str(fields.get("address") or "")) != normalize(str(current.get("address") or ""))
    if moved <= MOVE_TOLERANCE_M and not readdressed:
        return fields, ""
    why = [f"moved {moved:,.0f} m"] if moved > MOVE_TOLERANCE_M else []
    why += ["a new address"] if readdressed else []
    return fields | {"prefiled": False}, f"pre-filing cleared: {' and '.join(why)}"


def _locked(conn: sa.Connection, store: Store, listing_id: str) -> dict[str, Any]:
    """The listing as it stands, locked until the transaction ends (FOR UPDATE on PostGIS, the
    database's write lock on SQLite)."""
    t = store.accounts["listings"]
    store.write_lock(conn)
    found = sa.select(t).where(t.c.id == _id(listing_id))
    row = conn.execute(found.with_for_update()).first()
    if row is None:  # missing, or (PostGIS) a row whose policy bars this user: refused by the checks
        row = conn.execute(found).first()
    if row is None:
        raise NotFoundError(f"no listing {listing_id!r}")
    return _as_listing(row)


def _id(listing_id: str) -> str:
    if "\x00" in listing_id:  # no stored id has one, and PostgreSQL refuses it in a query
        raise NotFoundError(f"no listing {listing_id!r}")
    return listing_id


def delete(store: Store, user: User, listing_id: str, *, if_match: str | None) -> None:
    """Withdraw a listing for good: its operator or an admin, made against its revision."""
    t = store.accounts["listings"]
    refused: SiteSelectError | None = None
    with audit.accounted(store, user, "delete", listing_id), store.engine.begin() as conn:
        acting_as(conn, user)
        current = _locked(conn, store, listing_id)
        try:
            if user.role == "clerk":
                raise PermissionDeniedError("clerks verify listings; they do not delete them")
            _may_write(user, current["park_id"])
            require_match(if_match, etag(current), f"listing {listing_id}")
        except SiteSelectError as exc:
            audit.record(conn, store, user, "delete", listing_id, None, None, "refused", str(exc))
            refused = exc
        else:
            conn.execute(t.delete().where(t.c.id == listing_id))
            audit.record(conn, store, user, "delete", listing_id, current, None, "ok")
    if refused is not None:
        raise refused


def write_many(
    store: Store, user: User, records: list[dict[str, Any]], columns: set[str], source: str
) -> dict[str, Any]:
    """Create or change many listings in one transaction (a park's sheet): all of them or none.

    ``records`` are validated listings (id, lon, lat, fields); of a listing already stored only the
    ``columns`` the sheet has change (a blank cell clears its field). Unchanged listings are left
    as they are; each one written is audited, naming the sheet."""
    t = store.accounts["listings"]
    seed(store)
    done: dict[str, Any] = {"created": [], "changed": [], "unchanged": 0}
    with audit.accounted(store, user, "sheet", source), store.engine.begin() as conn:
        acting_as(conn, user)
        store.write_lock(conn)
        ids = [rec["id"] for rec in records]
        found = conn.execute(sa.select(t).where(t.c.id.in_(ids)).with_for_update())
        existing = {row.id: _as_listing(row) for row in found}
        for rec in records:
            _may_write(user, rec.get("park_id"))
            current = existing.get(rec["id"])
            if current is None:
                row = _row(rec, 1)
                conn.execute(t.insert().values(**row))
                audit.record(
                    conn, store, user, "create", rec["id"], None, _as_listing(row), "ok", f"from {source}"
                )
                done["created"].append(rec["id"])
                continue
            base = {k: v for k, v in current.items() if k not in ("revision", "updated_at")}
            fields = base | {k: v for k, v in rec.items() if k in columns | {"lon", "lat"}}
            if point_distance_m(current["lon"], current["lat"], fields["lon"], fields["lat"]) < SAME_POINT_M:
                fields["lon"], fields["lat"] = current["lon"], current["lat"]  # a spreadsheet's rounding
            if fields == base:
                done["unchanged"] += 1
                continue
            fields, note = _reverified(user, current, fields, {})
            new = _row(fields, current["revision"] + 1)
            conn.execute(t.update().where(t.c.id == rec["id"]).values(**new))
            detail = f"from {source}" + (f"; {note}" if note else "")
            audit.record(conn, store, user, "patch", rec["id"], current, _as_listing(new), "ok", detail)
            done["changed"].append(rec["id"])
    return done
