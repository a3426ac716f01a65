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


class InvalidFilterError(InvalidInputError):
    """A filter of features (CQL2, a property filter) names an unknown property, is malformed, or
    compares values that cannot be compared."""


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


class PreconditionRequiredError(SiteSelectError):
    """A change that must name the revision it was made against (``If-Match``) did not."""


class StoreError(SiteSelectError):
    """The store could not be opened or written."""


@dataclass(frozen=True)
class Problem:
    """One bad value in a layer file: where it is, what is wrong with it, and how to fix it.

    ``row`` is the feature's position (from 0); in a department's table ``line`` is the row number
    the file shows (Excel's row, the CSV's line), ``sheet`` the sheet and ``header`` the column's
    header as written there.
    """

    source: str
    row: int | None
    field: str | None
    value: object
    message: str
    sheet: str | None = None
    line: int | None = None
    header: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = self.source
        if self.sheet is not None:
            where += f", sheet {self.sheet!r}"
        if self.line is not None:
            where += f", row {self.line}"
        elif self.row is not None:
            where += f", feature {self.row}"
        if self.header is not None and self.header != self.field:
            where += f", column {self.header!r}" + (f" ({self.field})" if self.field else "")
        elif self.field is not None:
            where += f", field {self.field!r}"
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        text = f"{where}: {self.message} (value {shown})"
        return text + (f"; fix: {self.fix}" if self.fix else "")


class LayerValidationError(InvalidInputError):
    """A layer file has bad rows; ``problems`` lists every one of them. Nothing was loaded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = f"{len(problems)} problem(s); nothing was loaded"
        lines = [str(p) for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"... and {len(problems) - 50} more")
        super().__init__(head + ":\n" + "\n".join(lines))
