"""Users and their roles: who acts, apart from where they are stored (see :mod:`siteselect.accounts`)."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "clerk", "operator", "steward")


@dataclass(frozen=True)
class User:
    """Someone who writes: an admin, a clerk, or an operator bound to the parks it runs."""

    id: int
    name: str
    role: str
    parks: tuple[str, ...]
    disabled: bool = False
