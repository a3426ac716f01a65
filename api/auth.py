"""Bearer tokens: reading needs none, every write names its user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from siteselect import accounts
from siteselect.errors import AuthenticationError

bearer = HTTPBearer(auto_error=False, description="a token made with `siteselect tokens create`")


def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> accounts.User:
    """The user of the request's bearer token; 401 without a valid one."""
    if credentials is None:
        raise AuthenticationError("this needs a bearer token (Authorization: Bearer …)")
    user = accounts.authenticate(request.app.state.store, credentials.credentials)
    if user is None:
        raise AuthenticationError("the token is unknown or revoked")
    return user


User = Annotated[accounts.User, Depends(current_user)]
