"""The audit log: every write and every refusal, who asked, what it was before and after.

A write records itself in its own transaction, so the change and its record commit together or not
at all. A refusal changed nothing and records itself alone, in a transaction of its own (or in the
write's, when it was decided there). A write that fails unexpectedly is recorded as ``failed`` after
its own transaction rolled back, so not even an error leaves a write unaccounted for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import sqlalchemy as sa

from siteselect.errors import PermissionDeniedError, SiteSelectError
from siteselect.store import Store
from siteselect.users import User

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def storable(text: str) -> str:
    """Text any store takes: PostgreSQL refuses NUL and UTF-8 has no lone surrogates, yet a refusal
    may have to name such a value."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def record(conn: sa.Connection, store: Store, user: User, action: str, target: str,
           before: Any, after: Any, outcome: str, detail: str = "") -> None:  # fmt: skip
    """Append one entry, in the caller's transaction."""
    conn.execute(store.accounts["audit"].insert().values(
        at=_now(), actor=storable(f"{user.role}:{user.name}"), action=action, target=storable(target),
        before=before, after=after, outcome=outcome, detail=storable(detail),
    ))  # fmt: skip


def refuse(store: Store, user: User, action: str, target: str, error: SiteSelectError) -> NoReturn:
    """Record a refusal in its own transaction (the write itself changed nothing), then raise."""
    with store.engine.begin() as conn:
        record(conn, store, user, action, target, None, None, "refused", str(error))
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
