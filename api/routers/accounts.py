"""Accounts: signing in and out, passwords, and the admin's users, tokens and audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import COOKIE, Session, User, policy
from api.dependencies import INSTANT
from siteselect import accounts, audit, sessions
from siteselect.errors import InvalidInputError, PermissionDeniedError

router = APIRouter(tags=["accounts"])
Name = Annotated[str, Field(min_length=1, max_length=accounts.NAME_MAX)]
Password = Annotated[str, Field(min_length=1, max_length=sessions.PASSWORD_MAX)]
Role = Literal["admin", "clerk", "steward", "operator"]
Park = Annotated[str, Field(min_length=1, max_length=200)]
Department = Annotated[
    str, Field(min_length=1, max_length=50, description="a code of layers/departments.yaml")
]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: Name
    password: Password


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    current: Password
    new: Password


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    password: Password


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: Name
    role: Role
    parks: Annotated[list[Park], Field(max_length=100)] = []
    department: Department | None = None  # a data steward's
    password: Password | None = None


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Role | None = None
    parks: Annotated[list[Park] | None, Field(max_length=100)] = None
    department: Department | None = None
    disabled: bool | None = None


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    user: Name
    label: Annotated[str, Field(max_length=100)] = ""


def _store(request: Request) -> Any:
    return request.app.state.store


def _same_origin(request: Request) -> None:
    """A sign-in posted from another site's page is refused (no signing a victim into an account)."""
    origin = request.headers.get("Origin")
    if origin is not None and urlparse(origin).netloc != request.headers.get("Host"):
        raise PermissionDeniedError(f"Origin {origin!r}: sign in from this service's own pages")


@router.post("/session")
def sign_in(request: Request, body: SignIn, old: Session) -> JSONResponse:
    """Sign in with name and password: a new session in an HttpOnly cookie (Secure over HTTPS),
    replacing any the browser had; the answer holds the CSRF token that writes send back."""
    _same_origin(request)
    store = _store(request)
    session = sessions.sign_in(store, body.name, body.password, policy(request))
    if old is not None:  # a new session id after sign-in, never the one the browser came with
        sessions.sign_out(store, old)
    response = JSONResponse(sessions.describe(session))
    response.set_cookie(
        COOKIE, session.secret, max_age=int(policy(request).lifetime.total_seconds()), path="/",
        httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/session")
def get_session(session: Session) -> dict[str, Any]:
    """The signed-in user and the session's CSRF token, or ``{"user": null}``: pages ask first."""
    if session is None:
        return {"user": None}
    return {"user": sessions.describe(session)}


@router.delete("/session", status_code=204)
def sign_out(request: Request, user: User, session: Session) -> Response:
    """Sign out: the session ends here and its cookie is cleared."""
    if session is not None and session.user.id == user.id:
        sessions.sign_out(_store(request), session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.put("/me/password", status_code=204)
def change_password(request: Request, body: PasswordChange, user: User, session: Session) -> Response:
    """Change one's own password; every other session of the user ends."""
    keep = session.secret if session is not None and session.user.id == user.id else None
    sessions.change_password(_store(request), user, body.current, body.new, keep=keep)
    return Response(status_code=204)


@router.get("/me")
def me(user: User) -> dict[str, object]:
    """Who the bearer token or session belongs to: its user's name, role, parks and department."""
    who: dict[str, object] = {"name": user.name, "role": user.role, "parks": list(user.parks)}
    return who | accounts.department_of(user)


def _admin(request: Request, user: accounts.User, action: str, target: str) -> Any:
    store = _store(request)
    accounts.require_role(store, user, ("admin",), action, target)
    return store


def _user_json(user: accounts.User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "parks": list(user.parks), "disabled": user.disabled} | (
        accounts.department_of(user)
    )


@router.get("/users")
def list_users(request: Request, user: User) -> list[dict[str, Any]]:
    """Every user (admins only)."""
    return [_user_json(u) for u in accounts.users(_admin(request, user, "list-users", "users"))]


@router.post("/users", status_code=201)
def add_user(request: Request, body: NewUser, user: User) -> dict[str, Any]:
    """Add a user (admins only), with a first password if people are to sign in as it."""
    store = _admin(request, user, "add-user", body.name)
    if body.password is not None:
        sessions.hash_password(body.password)  # a bad password refuses the user before it is made
    added = accounts.add_user(store, body.name, body.role, body.parks, by=user, department=body.department)
    if body.password is not None:
        sessions.set_password(store, added.name, body.password)
    return _user_json(added)


@router.patch("/users/{name}")
def change_user(request: Request, name: str, body: UserChange, user: User) -> dict[str, Any]:
    """Change a user's role, parks, department or whether it is disabled (admins only)."""
    changed = accounts.update_user(_store(request), user, name, **body.model_dump(exclude_none=True))
    return _user_json(changed)


@router.put("/users/{name}/password", status_code=204)
def reset_password(request: Request, name: str, body: PasswordReset, user: User) -> Response:
    """Set a user's password (admins only); the user's sessions end."""
    sessions.reset_password(_store(request), user, name, body.password)
    return Response(status_code=204)


@router.get("/tokens")
def list_tokens(request: Request, user: User) -> list[dict[str, Any]]:
    """Every token's id, owner, label and dates, never the token (admins only)."""
    rows = accounts.tokens(_admin(request, user, "list-tokens", "tokens"))
    return [{k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in r.items()} for r in rows]


@router.post("/tokens", status_code=201)
def create_token(request: Request, body: NewToken, user: User) -> dict[str, Any]:
    """A bearer token for a program acting as a user, shown this once (admins only)."""
    store = _admin(request, user, "create-token", body.user)
    token, token_id = accounts.create_token(store, body.user, body.label, by=user)
    return {"id": token_id, "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(
    request: Request, token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: User
) -> Response:
    """Revoke a token (admins only)."""
    accounts.revoke_token(_admin(request, user, "revoke-token", str(token_id)), token_id, by=user)
    return Response(status_code=204)


def _instant(field: str, text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:  # the pattern passed, the calendar did not (month 13)
        raise InvalidInputError(f"{field} {text!r} is not an instant of the calendar") from None


Instant = Annotated[str | None, Query(pattern=INSTANT, description="RFC 3339, e.g. 2026-01-31T00:00:00Z")]


@router.get(
    "/audit", response_model=None, responses={200: {"content": {"application/json": {}, "text/csv": {}}}}
)
def audit_trail(
    request: Request,
    user: User,
    actor: Annotated[
        str | None, Query(max_length=100, description="part of the actor: a name or role")
    ] = None,
    action: Annotated[str | None, Query(max_length=20)] = None,
    since: Instant = None,
    until: Instant = None,
    park: Annotated[str | None, Query(max_length=200)] = None,
    format: Literal["json", "csv"] = "json",
) -> list[dict[str, Any]] | Response:
    """Every write and every refusal, oldest first, filtered by who, what, when and park
    (admins and clerks); ``format=csv`` downloads them as a spreadsheet."""
    store = _store(request)
    accounts.require_role(store, user, ("admin", "clerk"), "read-audit", "audit")
    entries = audit.trail(
        store, actor_has=actor, action=action, park=park,
        since=_instant("since", since), until=_instant("until", until),
    )  # fmt: skip
    if format == "csv":
        return Response(
            audit.to_csv(entries), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )  # fmt: skip
    return entries
