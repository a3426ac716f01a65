"""The audit trail: every write and every refusal, appended in the transaction of the change.

Actors are written ``role:name`` (``anonymous:name`` for a sign-in that named no one it could
prove). A refusal is written in a transaction of its own, since the refused write changed nothing.
The trail is read whole or filtered by who, what, when and park, and exported as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import TYPE_CHECKING, Any, NoReturn

import sqlalchemy as sa

from siteselect.errors import SiteSelectError

if TYPE_CHECKING:  # accounts builds on the store; users are only named here
    from siteselect.accounts import User
    from siteselect.store import Store

COLUMNS = ("id", "at", "actor", "action", "target", "park", "outcome", "detail", "before", "after")
ACTOR_MAX = 100  # the width of the audit_log.actor column


def actor(user: User) -> str:
    return f"{user.role}:{user.name}"[:ACTOR_MAX]


def record(conn: sa.Connection, store: Store, who: str, action: str, target: str,
           before: Any, after: Any, outcome: str, detail: str = "") -> None:  # fmt: skip
    """Append one entry, in the caller's transaction."""
    conn.execute(store.accounts["audit"].insert().values(
        at=dt.datetime.now(dt.UTC), actor=who[:ACTOR_MAX], action=action, target=target[:200],
        before=before, after=after, outcome=outcome, detail=detail,
    ))  # fmt: skip


def refuse(store: Store, who: str, action: str, target: str, error: SiteSelectError) -> NoReturn:
    """Record a refusal in its own transaction (the refused write changed nothing), then raise."""
    with store.engine.begin() as conn:
        record(conn, store, who, action, target, None, None, "refused", str(error))
    raise error


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
        at = entry["at"] if entry["at"].tzinfo else entry["at"].replace(tzinfo=dt.UTC)
        entry |= {"at": at.isoformat(), "park": _park(entry, parks_of)}
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
