"""Who a request is from: a bearer token (programs) or a session cookie (people's pages).

Reading needs neither; every write names its user. A write made with a session cookie must also
send the session's CSRF token in ``X-CSRF-Token``: a form or script of another site can make the
browser send the cookie, but not the header, so a cross-site post is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from siteselect import accounts, sessions
from siteselect.errors import AuthenticationError

COOKIE = "siteselect_session"
SAFE = ("GET", "HEAD", "OPTIONS")

bearer = HTTPBearer(auto_error=False, description="a token made with `siteselect tokens create`")
cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="set by POST /session (people's pages)")


def policy(request: Request) -> sessions.Policy:
    return sessions.Policy.from_settings(request.app.state.settings)


def current_session(
    request: Request, secret: Annotated[str | None, Depends(cookie)]
) -> sessions.Session | None:
    """The request's live session, or None."""
    if not secret:
        return None
    return sessions.session_of(request.app.state.store, secret, policy(request))


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[sessions.Session | None, Depends(current_session)],
) -> accounts.User:
    """The user of the bearer token or else of the session; 401 without either, and a write in a
    session without its CSRF token is refused (403, audited)."""
    store = request.app.state.store
    if credentials is not None:
        user = accounts.authenticate(store, credentials.credentials)
        if user is None:
            raise AuthenticationError("the token is unknown or revoked")
        return user
    if session is None:
        raise AuthenticationError("sign in first (/signin), or send a bearer token (Authorization: Bearer …)")
    if request.method not in SAFE:
        target = f"{request.method} {request.url.path}"
        sessions.check_csrf(store, session, request.headers.get("X-CSRF-Token"), target)
    return session.user


def signed_in_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[sessions.Session | None, Depends(current_session)],
) -> accounts.User | None:
    """For what anyone may do but a signed-in user does in their own name (a report names its
    clerk): the user, or None. A session counts on a write only with its CSRF token; without one
    the request is anyone's, and a wrong one is refused."""
    if credentials is None and (
        session is None or (request.method not in SAFE and "X-CSRF-Token" not in request.headers)
    ):
        return None
    return current_user(request, credentials, session)


User = Annotated[accounts.User, Depends(current_user)]
MaybeUser = Annotated[accounts.User | None, Depends(signed_in_user)]
Session = Annotated[sessions.Session | None, Depends(current_session)]
