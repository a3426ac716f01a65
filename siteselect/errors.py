"""The domain errors of siteselect.

One family, so the service maps each class to one HTTP status in one table, and so notebook users can
catch them as the built-in errors they also are (``ValueError`` for bad input, ``LookupError`` for
missing things).
"""

from __future__ import annotations

from dataclasses import dataclass


class SiteSelectError(Exception):
    """Base of every error siteselect raises on purpose."""


class InvalidInputError(SiteSelectError, ValueError):
    """A value given by the caller is malformed or out of range."""


class AmbiguousInputError(InvalidInputError):
    """Words that fit several things; ``candidates`` lists them (code and name) to choose from."""

    def __init__(self, message: str, candidates: list[dict[str, str]]):
        self.candidates = candidates
        super().__init__(message)


class NotFoundError(SiteSelectError, LookupError):
    """A layer, version, feature or other named thing does not exist."""


class AuthenticationError(SiteSelectError):
    """No token or session, or one that is unknown, revoked or expired; or a wrong password."""


class PermissionDeniedError(SiteSelectError, PermissionError):
    """The user is known but may not do this."""


class ThrottledError(AuthenticationError):
    """Too many wrong passwords for one account: sign-in is refused for ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(message)


class StaleWriteError(SiteSelectError):
    """What a write was made against has changed since (a stale ETag, or a concurrent write)."""


class StoreError(SiteSelectError):
    """The store could not be opened or written."""


@dataclass(frozen=True)
class Problem:
    """One bad value in a layer file: where it is and what is wrong with it."""

    source: str
    row: int | None
    field: str | None
    value: object
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f", feature {self.row}"
        if self.field is not None:
            where += f", field {self.field!r}"
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{where}: {self.message} (value {shown})"


class LayerValidationError(InvalidInputError):
    """A layer file has bad rows; ``problems`` lists every one of them. Nothing was loaded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = f"{len(problems)} problem(s); nothing was loaded"
        lines = [str(p) for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"... and {len(problems) - 50} more")
        super().__init__(head + ":\n" + "\n".join(lines))
