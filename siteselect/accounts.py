"""Accounts: users with a role, and the bearer tokens they write with.

Reading needs no token; every write does. A token is shown once, when it is made, and stored only
as its SHA-256: tokens are 256 random bits, so a fast hash is enough to make a stolen table useless.
Operators are bound to the parks they run; data stewards belong to one department (a code of
``layers/departments.yaml``) and load only its entries. A disabled user keeps its name and history but neither
its tokens nor its sessions let it in. Changes made by an admin are in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from typing import Any

import sqlalchemy as sa

from siteselect import audit, law
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError, SiteSelectError
from siteselect.store import Store
from siteselect.users import ROLES, User

TOKEN_PREFIX = "ss_"
NAME_MAX = 100  # the width of users.name


def plain_text(field: str, text: str, longest: int) -> str:
    """``text`` as given, refused (naming the field) when too long or when no one could have typed
    it: control characters, lone surrogates."""
    if len(text) > longest:
        raise InvalidInputError(f"{field}: at most {longest} characters, not {len(text)}")
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise InvalidInputError(f"{field}: character U+{ord(bad):04X} is not text")
    return text


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _checked(store: Store, role: str, parks: list[str] | None) -> list[str]:
    """The parks of a user with this role, checked: an operator's are known parks, no one else has any."""
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    parks = list(dict.fromkeys(parks or []))
    if role == "operator" and not parks:
        raise InvalidInputError("an operator must be bound to at least one park")
    if role != "operator" and parks:
        raise InvalidInputError(f"only operators are bound to parks, not a {role}")
    if parks:
        known = set(store.read_layer("parks")["id"]) if "parks" in store.current_versions() else set()
        unknown = [p for p in parks if p not in known]
        if unknown:
            raise InvalidInputError(f"parks: unknown {unknown}")
    return parks


def _department(role: str, department: str | None) -> str | None:
    """The department of a user with this role, checked: a steward's is a known code, no one
    else has one."""
    known = law.departments()
    if role != "steward":
        if department is not None:
            raise InvalidInputError(f"department: only data stewards belong to a department, not a {role}")
        return None
    if department is None:
        raise InvalidInputError(f"department: a data steward belongs to one of {', '.join(known)}")
    if department not in known:
        raise InvalidInputError(f"department: {department!r} is not one of {', '.join(known)}")
    return department


def department_of(user: User) -> dict[str, str | None]:
    """A steward's department as pages show it, its code and its name (nothing for other users)."""
    if user.role != "steward":
        return {}
    name = law.departments().get(user.department) if user.department else None
    return {"department": user.department, "department_name": name}


def add_user(store: Store, name: str, role: str, parks: list[str] | None = None, *,
             by: User | None = None, department: str | None = None) -> User:  # fmt: skip
    """A new user; an operator must name the parks (ids of the current parks layer) it runs, a
    steward its department. ``by``: the admin adding it, for the audit trail."""
    name = plain_text("name", name.strip(), NAME_MAX)
    if not name:
        raise InvalidInputError("name: a user needs a name")
    parks = _checked(store, role, parks)
    department = _department(role, department)
    u = store.accounts["users"]
    with store.engine.begin() as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first():
            raise InvalidInputError(f"a user named {name!r} already exists")
        new_id = conn.execute(
            u.insert()
            .values(name=name, role=role, parks=parks, department=department, created_at=_now())
            .returning(u.c.id)
        ).scalar_one()
        if by is not None:
            after = {"role": role, "parks": parks} | ({"department": department} if department else {})
            audit.record(conn, store, audit.actor(by), "add-user", name, None, after, "ok")
    return User(new_id, name, role, tuple(parks), department=department)


def users(store: Store) -> list[User]:
    u = store.accounts["users"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(u).order_by(u.c.id)).mappings().all()
    return [user_of_row(r) for r in rows]


def user_of_row(row: Any) -> User:
    return User(
        row["id"], row["name"], row["role"], tuple(row["parks"]), row["disabled_at"] is not None,
        row["department"],
    )  # fmt: skip


def get_user(store: Store, name: str) -> User:
    with store.engine.connect() as conn:
        return _user_in(conn, store, name)


def create_token(store: Store, name: str, label: str = "", *, by: User | None = None) -> tuple[str, int]:
    """A new token for a user: (the token, shown this once; its id). ``by``: the admin making it."""
    user = get_user(store, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    t = store.accounts["tokens"]
    with store.engine.begin() as conn:
        token_id = conn.execute(
            t.insert()
            .values(user_id=user.id, token_hash=_hash(token), label=label, created_at=_now())
            .returning(t.c.id)
        ).scalar_one()
        if by is not None:
            audit.record(conn, store, audit.actor(by), "create-token", name, None, {"id": token_id}, "ok")
    return token, token_id


def revoke_token(store: Store, token_id: int, *, by: User | None = None) -> None:
    t = store.accounts["tokens"]
    with store.engine.begin() as conn:
        done = conn.execute(
            t.update().where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=_now())
        ).rowcount
        if done and by is not None:
            audit.record(conn, store, audit.actor(by), "revoke-token", str(token_id), None, None, "ok")
    if not done:
        raise NotFoundError(f"no active token with id {token_id}")


def tokens(store: Store) -> list[dict[str, object]]:
    """Every token's id, owner, label and dates — never the token."""
    t, u = store.accounts["tokens"], store.accounts["users"]
    query = sa.select(t.c.id, u.c.name, t.c.label, t.c.created_at, t.c.revoked_at).join(u).order_by(t.c.id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def authenticate(store: Store, token: str) -> User | None:
    """The user a bearer token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    t, u = store.accounts["tokens"], store.accounts["users"]
    query = (
        sa.select(u.c.id, u.c.name, u.c.role, u.c.parks, u.c.department)
        .join(t, t.c.user_id == u.c.id)
        .where(t.c.token_hash == _hash(token), t.c.revoked_at.is_(None), u.c.disabled_at.is_(None))
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return (
        None if row is None else User(row.id, row.name, row.role, tuple(row.parks), department=row.department)
    )


def require_role(store: Store, user: User, roles: tuple[str, ...], action: str, target: str) -> None:
    """Go on only for a user with one of ``roles``; any other is refused, and the refusal audited."""
    if user.role not in roles:
        error = PermissionDeniedError(f"{action}: for {' or '.join(roles)}, not a {user.role}")
        audit.refuse(store, audit.actor(user), action, target, error)


def update_user(store: Store, by: User, name: str, *, role: str | None = None,
                parks: list[str] | None = None, disabled: bool | None = None,
                department: str | None = None) -> User:  # fmt: skip
    """Change a user's role, parks, department or whether it is disabled (its sessions end with it), as admin
    ``by``; an admin cannot disable itself or take away its own role, so one admin always remains."""
    require_role(store, by, ("admin",), "update-user", name)
    before = get_user(store, name)
    role = before.role if role is None else role
    try:
        checked = _checked(
            store, role, list(before.parks) if parks is None and role == before.role else parks
        )
        kept = before.department if role == before.role else None
        department = _department(role, kept if department is None else department)
        if before.id == by.id and (role != "admin" or disabled):
            raise PermissionDeniedError("an admin cannot disable itself or give up its own role")
    except SiteSelectError as exc:
        audit.refuse(store, audit.actor(by), "update-user", name, exc)
    u = store.accounts["users"]
    values: dict[str, Any] = {"role": role, "parks": checked, "department": department}
    if disabled is not None and disabled != before.disabled:
        values["disabled_at"] = _now() if disabled else None
    with store.engine.begin() as conn:
        conn.execute(u.update().where(u.c.id == before.id).values(**values))
        if disabled:
            s = store.accounts["sessions"]
            conn.execute(s.delete().where(s.c.user_id == before.id))
        after = _user_in(conn, store, name)
        audit.record(
            conn, store, audit.actor(by), "update-user", name, _summary(before), _summary(after), "ok"
        )
    return after


def _user_in(conn: sa.Connection, store: Store, name: str) -> User:
    u = store.accounts["users"]
    row = conn.execute(sa.select(u).where(u.c.name == name)).mappings().first()
    if row is None:
        raise NotFoundError(f"no user named {name!r}")
    return user_of_row(row)


def _summary(user: User) -> dict[str, object]:
    summary = {"role": user.role, "parks": list(user.parks), "disabled": user.disabled}
    return summary | ({"department": user.department} if user.department else {})
