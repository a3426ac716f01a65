"""Users and their roles: who acts, apart from where they are stored (see :mod:`siteselect.accounts`)."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "clerk", "operator", "steward")


@dataclass(frozen=True)
class User:
    """Someone who writes: an admin, a clerk, an operator bound to the parks it runs, or a data
    steward of one department (its code)."""

    id: int
    name: str
    role: str
    parks: tuple[str, ...]
    disabled: bool = False
    department: str | None = None
