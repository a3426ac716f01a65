"""The audit log: every write and every refusal, who asked, what it was before and after.

A write records itself in its own transaction, so the change and its record commit together or not
at all. A refusal changed nothing and records itself alone, in a transaction of its own (or in the
write's, when it was decided there). A write that fails unexpectedly is recorded as ``failed`` after
its own transaction rolled back, so not even an error leaves a write unaccounted for.

Actors are written ``role:name`` (``anonymous:name`` for a sign-in that named no one it could
prove). The trail is read whole or filtered by who, what, when and park, and exported as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import sqlalchemy as sa

from siteselect.errors import PermissionDeniedError, SiteSelectError
from siteselect.store import Store
from siteselect.users import User

log = logging.getLogger(__name__)
COLUMNS = ("id", "at", "actor", "action", "target", "park", "outcome", "detail", "before", "after")
ACTOR_MAX = 120  # the width of the audit_log.actor column: a role, ":" and a name of up to 100


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def storable(text: str) -> str:
    """Text any store takes: PostgreSQL refuses NUL and UTF-8 has no lone surrogates, yet a refusal
    may have to name such a value."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def actor(user: User) -> str:
    return f"{user.role}:{user.name}"


def record(conn: sa.Connection, store: Store, who: User | str, action: str, target: str,
           before: Any, after: Any, outcome: str, detail: str = "") -> None:  # fmt: skip
    """Append one entry, in the caller's transaction; ``who`` a user or an actor's text."""
    name = who if isinstance(who, str) else actor(who)
    conn.execute(store.accounts["audit"].insert().values(
        at=_now(), actor=storable(name)[:ACTOR_MAX], action=action, target=storable(target)[:200],
        before=before, after=after, outcome=outcome, detail=storable(detail),
    ))  # fmt: skip


def refuse(store: Store, who: User | str, action: str, target: str, error: SiteSelectError) -> NoReturn:
    """Record a refusal in its own transaction (the write itself changed nothing), then raise."""
    with store.engine.begin() as conn:
        record(conn, store, who, action, target, None, None, "refused", str(error))
    raise error


@contextmanager
def accounted(store: Store, user: User, action: str, target: str) -> Iterator[None]:
    """Run a write; should it fail other than by a refusal, record that it failed, then re-raise."""
    try:
        yield
    except SiteSelectError:
        raise  # refusals record themselves
    except Exception as exc:
        try:
            with store.engine.begin() as conn:
                record(conn, store, user, action, target, None, None, "failed", type(exc).__name__)
        except Exception:  # the store itself is away: the error is logged, and still raised
            log.exception("could not record the failure of %s on %s", action, target)
        raise


def entries(store: Store, user: User) -> list[dict[str, Any]]:
    """The audit trail, oldest first, for admins and clerks; times in UTC with their offset."""
    if user.role not in ("admin", "clerk"):
        raise PermissionDeniedError("the audit log is for admins and clerks")
    a = store.accounts["audit"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(a).order_by(a.c.id)).mappings().all()
    return [dict(r) | {"at": utc(r["at"]).isoformat()} for r in rows]


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored time in UTC: SQLite keeps no zone (every time written is UTC), PostGIS answers in
    its session's zone."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _park(entry: dict[str, Any], parks_of: dict[str, str | None]) -> str | None:
    """The park an entry concerns: a listing's, before or after the change, or as it is now."""
    for side in ("after", "before"):
        value = entry.get(side)
        if isinstance(value, dict) and value.get("park_id"):
            return str(value["park_id"])
    return parks_of.get(entry["target"])


def trail(
    store: Store,
    *,
    actor_has: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    park: str | None = None,
) -> list[dict[str, Any]]:
    """Entries oldest first, each with the park it concerns; filters combine (all must hold).

    ``actor_has`` matches part of the actor (a name or a role), ``since``/``until`` bound ``at``."""
    a, listings = store.accounts["audit"], store.accounts["listings"]
    query = sa.select(a).order_by(a.c.id)
    if actor_has:
        query = query.where(a.c.actor.contains(actor_has, autoescape=True))
    if action:
        query = query.where(a.c.action == action)
    # in UTC, as ``at`` is written: SQLite compares the text and would ignore another offset
    if since is not None:
        query = query.where(a.c.at >= since.astimezone(dt.UTC))
    if until is not None:
        query = query.where(a.c.at <= until.astimezone(dt.UTC))
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        parks_of = dict(conn.execute(sa.select(listings.c.id, listings.c.park_id)).tuples().all())
    out = []
    for row in rows:
        entry = dict(row)
        entry |= {"at": utc(entry["at"]).isoformat(), "park": _park(entry, parks_of)}
        if park is None or entry["park"] == park:
            out.append(entry)
    return out


def to_csv(entries: list[dict[str, Any]]) -> str:
    """Entries as CSV (UTF-8 with a BOM, so spreadsheets open the Chinese right). A cell that a
    spreadsheet would take for a formula is quoted with a leading apostrophe."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([_cell(entry.get(c)) for c in COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
