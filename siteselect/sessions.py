"""Signing in: passwords, sessions, and the throttle on wrong passwords.

Passwords are hashed with Argon2 (pwdlib). A session is 256 random bits given to the browser once,
in a cookie, and stored only as their SHA-256, as tokens are. Each session has a CSRF token of its
own that its pages send back with every write: a page of another site can make the browser send
the cookie, but cannot read the token. A session ends when signed out, after ``idle`` unused, after
``lifetime`` in any case, and when its user's password is changed or reset or the user disabled.

Wrong passwords are counted per name, known or not, so the answers do not tell which names exist:
after ``max_failures`` within ``window`` the name is locked for ``lock``, and while it is locked
even the right password is refused (``ThrottledError``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pwdlib import PasswordHash

from siteselect import audit
from siteselect.accounts import NAME_MAX, User, department_of, plain_text, require_role, user_of_row
from siteselect.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from siteselect.settings import Settings
from siteselect.store import Store

PASSWORD_MIN, PASSWORD_MAX = 10, 200  # Argon2 of a megabyte would be a cheap way to load the service
_hasher = PasswordHash.recommended()  # Argon2id with pwdlib's current parameters
_NOBODY = _hasher.hash("a password no account has")  # unknown names take as long as known ones


@dataclass(frozen=True)
class Policy:
    """How long sessions last and how wrong passwords are throttled."""

    lifetime: dt.timedelta = dt.timedelta(hours=8)
    idle: dt.timedelta = dt.timedelta(minutes=60)
    max_failures: int = 9  # the tenth wrong password in a row within the window is not even tried
    window: dt.timedelta = dt.timedelta(minutes=1)
    lock: dt.timedelta = dt.timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            lifetime=dt.timedelta(hours=settings.session_hours),
            idle=dt.timedelta(minutes=settings.session_idle_minutes),
            max_failures=settings.sign_in_failures,
            lock=dt.timedelta(minutes=settings.sign_in_lock_minutes),
        )


@dataclass(frozen=True)
class Session:
    """A signed-in user; ``secret`` is for the cookie (never stored), ``csrf`` for the pages."""

    user: User
    secret: str
    csrf: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite keeps no zone


def hash_password(password: str) -> str:
    """Argon2 hash of a password that follows the rules (length, no control characters)."""
    plain_text("password", password, PASSWORD_MAX)
    if len(password) < PASSWORD_MIN:
        raise InvalidInputError(f"password: at least {PASSWORD_MIN} characters")
    return _hasher.hash(password)


def set_password(store: Store, name: str, password: str) -> None:
    """Give a user a password (the command line's way to make the first admin); its sessions end."""
    new_hash = hash_password(password)
    u = store.accounts["users"]
    with store.engine.begin() as conn:
        user_id = conn.execute(sa.select(u.c.id).where(u.c.name == name)).scalar()
        if user_id is None:
            raise AuthenticationError(f"no user named {name!r}")
        _set_hash(conn, store, user_id, new_hash)


def _set_hash(
    conn: sa.Connection, store: Store, user_id: int, new_hash: str, keep: str | None = None
) -> None:
    u, s = store.accounts["users"], store.accounts["sessions"]
    conn.execute(u.update().where(u.c.id == user_id).values(password_hash=new_hash))
    others = s.delete().where(s.c.user_id == user_id)
    conn.execute(others if keep is None else others.where(s.c.id_hash != _hash(keep)))


def sign_in(store: Store, name: str, password: str, policy: Policy | None = None) -> Session:
    """A new session for the right name and password; else ``AuthenticationError`` (or
    ``ThrottledError`` while the name is locked). Both outcomes are audited."""
    policy = policy or Policy()
    plain_text("name", name, NAME_MAX)
    plain_text("password", password, PASSWORD_MAX)
    now = _now()
    locked = _locked_for(store, name, now)
    if locked:
        throttled = ThrottledError(f"too many wrong passwords for {name!r}; try again later", locked)
        audit.refuse(store, f"anonymous:{name}", "sign-in", name, throttled)
    u = store.accounts["users"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u).where(u.c.name == name)).mappings().first()
    stored = row["password_hash"] if row is not None and row["password_hash"] else _NOBODY
    right = _hasher.verify(password, stored) and stored is not _NOBODY
    if row is None or not right or row["disabled_at"] is not None:
        _count_failure(store, name, now, policy)
        error = AuthenticationError("wrong name or password, or the account is disabled")
        audit.refuse(store, f"anonymous:{name}", "sign-in", name, error)
    user = user_of_row(row)
    return _open(store, user, now, policy)


def _open(store: Store, user: User, now: dt.datetime, policy: Policy) -> Session:
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    s, f = store.accounts["sessions"], store.accounts["sign_in_failures"]
    expires = now + policy.lifetime
    with store.engine.begin() as conn:
        conn.execute(f.delete().where(f.c.name == user.name))
        conn.execute(s.delete().where(s.c.user_id == user.id, s.c.expires_at < now))  # tidy up
        conn.execute(s.insert().values(id_hash=_hash(secret), user_id=user.id, csrf=csrf,
                                       created_at=now, seen_at=now, expires_at=expires))  # fmt: skip
        audit.record(conn, store, audit.actor(user), "sign-in", user.name, None, None, "ok")
    return Session(user, secret, csrf, expires)


def _locked_for(store: Store, name: str, now: dt.datetime) -> int:
    """Seconds the name is still locked for (0: not locked)."""
    f = store.accounts["sign_in_failures"]
    with store.engine.connect() as conn:
        until = conn.execute(sa.select(f.c.locked_until).where(f.c.name == name)).scalar()
    if until is None or _utc(until) <= now:
        return 0
    return max(1, int((_utc(until) - now).total_seconds()))


def _count_failure(store: Store, name: str, now: dt.datetime, policy: Policy, tries: int = 2) -> None:
    try:
        _count_failure_once(store, name, now, policy)
    except sa.exc.IntegrityError:  # two first failures at once: the other made the row; count on it
        if tries <= 1:
            raise
        _count_failure(store, name, now, policy, tries - 1)


def _count_failure_once(store: Store, name: str, now: dt.datetime, policy: Policy) -> None:
    f = store.accounts["sign_in_failures"]
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(f).where(f.c.name == name).with_for_update()).mappings().first()
        if row is None or _utc(row["first_at"]) <= now - policy.window:
            conn.execute(f.delete().where(f.c.name == name))
            conn.execute(f.insert().values(name=name, failures=1, first_at=now, locked_until=None))
            return
        failures = row["failures"] + 1
        locked = now + policy.lock if failures >= policy.max_failures else None
        conn.execute(f.update().where(f.c.name == name).values(failures=failures, locked_until=locked))


def session_of(store: Store, secret: str, policy: Policy | None = None) -> Session | None:
    """The live session of a cookie's secret, or None (unknown, expired, idle too long, user
    disabled). Using a session keeps it from going idle."""
    policy = policy or Policy()
    now = _now()
    s, u = store.accounts["sessions"], store.accounts["users"]
    query = sa.select(s, u).join(u, u.c.id == s.c.user_id).where(s.c.id_hash == _hash(secret))
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or row["disabled_at"] is not None:
        return None
    seen = _utc(row["seen_at"])
    if _utc(row["expires_at"]) <= now or seen + policy.idle <= now:
        return None
    if now - seen > dt.timedelta(minutes=1):  # one write a minute at most, not one per request
        with store.engine.begin() as conn:
            conn.execute(s.update().where(s.c.id_hash == row["id_hash"]).values(seen_at=now))
    return Session(user_of_row(row), secret, row["csrf"], _utc(row["expires_at"]))


def sign_out(store: Store, session: Session) -> None:
    s = store.accounts["sessions"]
    with store.engine.begin() as conn:
        conn.execute(s.delete().where(s.c.id_hash == _hash(session.secret)))
        audit.record(conn, store, audit.actor(session.user), "sign-out", session.user.name, None, None, "ok")


def change_password(store: Store, user: User, current: str, new: str, *, keep: str | None = None) -> None:
    """A user's own new password, given the current one; every other session of the user ends
    (``keep``: the secret of the session it was changed in)."""
    u = store.accounts["users"]
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(u.c.password_hash).where(u.c.id == user.id)).scalar()
    try:
        plain_text("current", current, PASSWORD_MAX)
        if not stored or not _hasher.verify(current, stored):
            raise InvalidInputError("current: the current password is wrong")
        new_hash = hash_password(new)
    except (AuthenticationError, InvalidInputError) as exc:
        audit.refuse(store, audit.actor(user), "password", user.name, exc)
    with store.engine.begin() as conn:
        _set_hash(conn, store, user.id, new_hash, keep)
        audit.record(conn, store, audit.actor(user), "password", user.name, None, None, "ok")


def reset_password(store: Store, by: User, name: str, new: str) -> None:
    """An admin sets another user's password; every session of that user ends."""
    require_role(store, by, ("admin",), "reset-password", name)
    try:
        new_hash = hash_password(new)
    except InvalidInputError as exc:
        audit.refuse(store, audit.actor(by), "reset-password", name, exc)
    u = store.accounts["users"]
    with store.engine.begin() as conn:
        user_id = conn.execute(sa.select(u.c.id).where(u.c.name == name)).scalar()
        if user_id is None:
            raise NotFoundError(f"no user named {name!r}")
        _set_hash(conn, store, user_id, new_hash)
        audit.record(conn, store, audit.actor(by), "reset-password", name, None, None, "ok")


def check_csrf(store: Store, session: Session, sent: str | None, target: str) -> None:
    """Refuse (and audit) a write to ``target`` whose CSRF token is missing or not the session's."""
    if sent is None or not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        error = PermissionDeniedError("X-CSRF-Token: missing or not this session's; reload the page")
        audit.refuse(store, audit.actor(session.user), "csrf", target, error)


def describe(session: Session) -> dict[str, Any]:
    """What a page may know of its session: never the secret."""
    user = session.user
    return {"name": user.name, "role": user.role, "parks": list(user.parks), "csrf": session.csrf,
            "expires_at": session.expires_at.isoformat()} | department_of(user)  # fmt: skip
