"""Accounts: users with a role, and the bearer tokens they write with.

Reading needs no token; every write does. A token is shown once, when it is made, and stored only
as its SHA-256: tokens are 256 random bits, so a fast hash is enough to make a stolen table useless.
Operators are bound to the parks they run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.store import Store
from siteselect.users import ROLES, User

TOKEN_PREFIX = "ss_"
MAX_NAME = 100  # the width of users.name; the audit log's actor column takes a role and this


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def add_user(store: Store, name: str, role: str, parks: list[str] | None = None) -> User:
    """A new user; an operator must name the parks (ids of the current parks layer) it runs."""
    name = name.strip()
    if not name:
        raise InvalidInputError("name: a user needs a name")
    if len(name) > MAX_NAME:  # every write of theirs names them in the audit log
        raise InvalidInputError(f"name {name[:40]!r}…: at most {MAX_NAME} characters, not {len(name)}")
    if not name.isprintable():
        raise InvalidInputError(f"name {name!r}: only printable characters")
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
    u = store.accounts["users"]
    with store.engine.begin() as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first():
            raise InvalidInputError(f"a user named {name!r} already exists")
        new_id = conn.execute(
            u.insert().values(name=name, role=role, parks=parks, created_at=_now()).returning(u.c.id)
        ).scalar_one()
    return User(new_id, name, role, tuple(parks))


def users(store: Store) -> list[User]:
    u = store.accounts["users"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(u).order_by(u.c.id)).mappings().all()
    return [User(r["id"], r["name"], r["role"], tuple(r["parks"])) for r in rows]


def user_named(store: Store, name: str) -> User:
    """The user of that name; `NotFoundError` if there is none."""
    for user in users(store):
        if user.name == name:
            return user
    raise NotFoundError(f"no user named {name!r}")


def create_token(store: Store, name: str, label: str = "") -> tuple[str, int]:
    """A new token for a user: (the token, shown this once; its id)."""
    user = user_named(store, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    t = store.accounts["tokens"]
    with store.engine.begin() as conn:
        token_id = conn.execute(
            t.insert()
            .values(user_id=user.id, token_hash=_hash(token), label=label, created_at=_now())
            .returning(t.c.id)
        ).scalar_one()
    return token, token_id


def revoke_token(store: Store, token_id: int) -> None:
    t = store.accounts["tokens"]
    with store.engine.begin() as conn:
        done = conn.execute(
            t.update().where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=_now())
        ).rowcount
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
        sa.select(u.c.id, u.c.name, u.c.role, u.c.parks)
        .join(t, t.c.user_id == u.c.id)
        .where(t.c.token_hash == _hash(token), t.c.revoked_at.is_(None))
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else User(row.id, row.name, row.role, tuple(row.parks))
