"""The audit trail: every write to listings and parks, and every refusal, oldest first.

A write appends its entry in the same transaction as the change; a refusal in a transaction of
its own, since the refused write changed nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

import sqlalchemy as sa

from siteselect.errors import PermissionDeniedError, SiteSelectError
from siteselect.store import Store
from siteselect.users import User


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def audit(conn: sa.Connection, store: Store, user: User, action: str, target: str,
           before: Any, after: Any, outcome: str, detail: str = "") -> None:  # fmt: skip
    conn.execute(store.accounts["audit"].insert().values(
        at=_now(), actor=f"{user.role}:{user.name}", action=action, target=target,
        before=before, after=after, outcome=outcome, detail=detail,
    ))  # fmt: skip


def refuse(store: Store, user: User, action: str, target: str, error: SiteSelectError) -> NoReturn:
    """Record a refusal in its own transaction (the write itself changed nothing), then raise."""
    with store.engine.begin() as conn:
        audit(conn, store, user, action, target, None, None, "refused", str(error))
    raise error


def audit_log(store: Store, user: User) -> list[dict[str, Any]]:
    """The audit trail, for admins and clerks."""
    if user.role not in ("admin", "clerk"):
        raise PermissionDeniedError("the audit log is for admins and clerks")
    a = store.accounts["audit"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(a).order_by(a.c.id)).mappings().all()
    return [dict(r) | {"at": r["at"].isoformat()} for r in rows]
