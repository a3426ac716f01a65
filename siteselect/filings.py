"""Pre-filing (预备案): a park files a listing's property facts once, a clerk approves or returns them.

An operator files the facts of a listing of its own parks — the property certificate's number, the
owner, the registered use and the day the filing is valid until. A clerk (or an admin) approves the
filing, which gives it a number and, in the same transaction, marks the listing pre-filed; or
returns it with a reason, and the operator may file again. From its approval until the day it is
valid until, every check of the listing's building shows its address proof as pre-filed, with the
filing's number and date (the catalog puts the approved filings beside the live listings). A
listing has at most one filing waiting; a new approval replaces the previous one. Operators see
and file their own parks' filings only. Every filing, decision and refusal is in the audit log, a
write in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from siteselect import audit, listings
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError, SiteSelectError
from siteselect.premises import CHINA_TZ, today
from siteselect.security import acting_as  # PostGIS's row security on filings, as on listings
from siteselect.store import Store
from siteselect.users import User

FACTS = {"certificate_no": 100, "owner": 200, "registered_use": 100}  # text fields and their lengths
STATUSES = ("pending", "approved", "returned")
DECIDERS = ("clerk", "admin")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_dict(row: Any) -> dict[str, Any]:
    out = {str(k): v for k, v in row._mapping.items()}  # plain str keys: orjson takes no subclass
    for key in ("filed_at", "decided_at"):
        out[key] = None if out[key] is None else audit.utc(out[key]).isoformat()
    out["valid_until"] = out["valid_until"].isoformat()
    return out


def _visible(user: User, park_id: str | None) -> bool:
    return user.role in DECIDERS or (user.role == "operator" and park_id in user.parks)


def filings_of(
    store: Store, user: User, *, status: str | None = None, park: str | None = None
) -> list[dict[str, Any]]:
    """The filings a user may see, newest first: clerks and admins all, operators their parks'."""
    if user.role not in (*DECIDERS, "operator"):
        why = f"pre-filings are for operators and clerks, not a {user.role}"
        audit.refuse(store, user, "read filings", park or "filings", PermissionDeniedError(why))
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if park is not None and not _visible(user, park):
        why = f"park {park!r}: operator {user.name} runs {', '.join(user.parks)}"
        audit.refuse(store, user, "read filings", park, PermissionDeniedError(why))
    f = store.accounts["filings"]
    query = sa.select(f).order_by(f.c.id.desc())
    if status is not None:
        query = query.where(f.c.status == status)
    if park is not None:
        query = query.where(f.c.park_id == park)
    elif user.role == "operator":
        query = query.where(f.c.park_id.in_(list(user.parks)))
    with store.engine.connect() as conn:
        return [_as_dict(r) for r in conn.execute(query)]


def approved(store: Store) -> dict[str, dict[str, Any]]:
    """The latest approved filing of each listing (number, approved on, valid until), by listing id."""
    f = store.accounts["filings"]
    query = sa.select(f).where(f.c.status == "approved").order_by(f.c.id)
    with store.engine.connect() as conn:
        rows = [_as_dict(r) for r in conn.execute(query)]
    return {r["listing_id"]: proof(r) for r in rows}  # later approvals replace earlier ones


def proof(filing: dict[str, Any]) -> dict[str, Any]:
    """What a check shows of an approved filing."""
    return {
        "number": filing["number"],
        # The day in China, as every other day a check compares: an approval at 00:30 there is
        # the day before in UTC, as stored.
        "approved_on": dt.datetime.fromisoformat(filing["decided_at"])
        .astimezone(CHINA_TZ)
        .date()
        .isoformat(),
        "valid_until": filing["valid_until"],
    }


def _facts(body: dict[str, Any]) -> dict[str, Any]:
    """The filed facts, checked: each text present and short enough, the date a day still to come."""
    unknown = sorted(set(body) - set(FACTS) - {"vacancy_id", "valid_until"})
    if unknown:
        raise InvalidInputError(f"{', '.join(unknown)}: not a fact of a pre-filing")
    out: dict[str, Any] = {}
    for name, longest in FACTS.items():
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"{name}: required, got {value!r}")
        if len(value.strip()) > longest:
            raise InvalidInputError(f"{name}: at most {longest} characters ({len(value.strip())})")
        out[name] = value.strip()
    raw = body.get("valid_until")
    try:
        until = dt.date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        until = None
    if until is None:
        raise InvalidInputError(f"valid_until {raw!r} is not a date written YYYY-MM-DD")
    if until < today():
        raise InvalidInputError(f"valid_until {raw!r}: the certificate has already expired")
    return out | {"valid_until": until}


def file(store: Store, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """File a listing's property facts (its operator, or an admin); it waits for a clerk."""
    vacancy_id = str(body.get("vacancy_id") or "")
    target = f"filing of {vacancy_id}"
    with audit.accounted(store, user, "file", target):
        try:
            if user.role not in ("operator", "admin"):
                raise PermissionDeniedError(f"a park's operator files its premises, not a {user.role}")
            listing = listings.get(store, vacancy_id)
            if not listing["park_id"]:
                raise InvalidInputError(
                    f"vacancy_id {vacancy_id!r}: in no park; a park pre-files its premises"
                )
            if user.role == "operator" and listing["park_id"] not in user.parks:
                raise PermissionDeniedError(
                    f"vacancy_id {vacancy_id!r}: park {listing['park_id']}, not run by {user.name}"
                )
            facts = _facts(body)
        except SiteSelectError as exc:
            audit.refuse(store, user, "file", target, exc)
        f = store.accounts["filings"]
        row = facts | {
            "listing_id": vacancy_id,
            "park_id": listing["park_id"],
            "status": "pending",
            "filed_by": audit.actor(user),
            "filed_at": _now(),
        }
        refused: SiteSelectError | None = None
        with store.engine.begin() as conn:
            acting_as(conn, user)
            store.write_lock(conn)
            waiting = sa.select(f.c.id).where(f.c.listing_id == vacancy_id, f.c.status == "pending")
            if conn.execute(waiting).first() is not None:
                refused = InvalidInputError(
                    f"vacancy_id {vacancy_id!r}: a filing is already waiting for a clerk"
                )
                audit.record(conn, store, user, "file", target, None, None, "refused", str(refused))
            else:
                new_id = conn.execute(f.insert().values(**row).returning(f.c.id)).scalar_one()
                made = _as_dict(conn.execute(sa.select(f).where(f.c.id == new_id)).one())
                audit.record(conn, store, user, "file", f"filing {new_id}", None, made, "ok")
    if refused is not None:
        raise refused
    return made


def decide(
    store: Store, user: User, filing_id: int, *, approve: bool, reason: str | None = None
) -> dict[str, Any]:
    """A clerk approves a waiting filing (numbering it and marking its listing pre-filed) or returns
    it with a reason; both in one transaction with their audit entries."""
    action = "approve" if approve else "return"
    target = f"filing {filing_id}"
    f = store.accounts["filings"]
    refused: SiteSelectError | None = None
    with audit.accounted(store, user, action, target), store.engine.begin() as conn:
        acting_as(conn, user)
        store.write_lock(conn)
        row = conn.execute(sa.select(f).where(f.c.id == filing_id).with_for_update()).first()
        try:
            if user.role not in DECIDERS:
                raise PermissionDeniedError(f"a clerk decides pre-filings, not a {user.role}")
            if row is None:
                raise NotFoundError(f"no filing {filing_id}")
            before = _as_dict(row)
            if before["status"] != "pending":
                raise InvalidInputError(f"filing {filing_id} was already {before['status']}")
            text = (reason or "").strip()
            if not approve and not text:
                raise InvalidInputError("reason: say why the filing is returned")
            if len(text) > 500:
                raise InvalidInputError(f"reason: at most 500 characters ({len(text)})")
        except SiteSelectError as exc:
            audit.record(conn, store, user, action, target, None, None, "refused", str(exc))
            refused = exc
        else:
            now = _now()
            change = {
                "status": "approved" if approve else "returned",
                "decided_by": audit.actor(user),
                "decided_at": now,
                "reason": text or None,
            }
            if approve:
                change["number"] = f"YBA-{now.year}-{filing_id:06d}"
            conn.execute(f.update().where(f.c.id == filing_id).values(**change))
            after = _as_dict(conn.execute(sa.select(f).where(f.c.id == filing_id)).one())
            audit.record(conn, store, user, action, target, before, after, "ok")
            if approve:
                _mark_prefiled(conn, store, user, before["listing_id"], after["number"])
    if refused is not None:
        raise refused
    return after


def _mark_prefiled(conn: sa.Connection, store: Store, user: User, listing_id: str, number: str) -> None:
    """The listing is pre-filed from now on (a new revision, so every reader's snapshot sees it)."""
    t = store.accounts["listings"]
    row = conn.execute(sa.select(t).where(t.c.id == listing_id).with_for_update()).first()
    if row is None:  # the listing was withdrawn meanwhile: the filing stands, nothing to mark
        return
    current = dict(row._mapping)
    props = dict(current["props"]) | {"prefiled": True}
    conn.execute(t.update().where(t.c.id == listing_id).values(props=props, revision=current["revision"] + 1))
    before = {"park_id": current["park_id"], "prefiled": current["props"].get("prefiled")}
    audit.record(
        conn,
        store,
        user,
        "prefile",
        listing_id,
        before,
        {"park_id": current["park_id"], "prefiled": True},
        "ok",
        f"filing {number} approved",
    )
