"""Conditional writes (RFC 9110 §13.1.1): a change names the revision it was made against.

``If-Match`` is required on every change of an existing listing or park, so no write can silently
overwrite one it never saw. It holds when it is ``*`` (the thing exists: any current revision) or
lists the current strong entity-tag; weak tags never match, as the RFC's strong comparison says.
"""

from __future__ import annotations

import re

from siteselect.errors import InvalidInputError, PreconditionRequiredError, StaleWriteError

_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def _tags(header: str) -> list[tuple[bool, str]]:
    """The (weak, tag) pairs of an If-Match list; a malformed list is refused, naming it."""
    found, pos = [], 0
    while pos < len(header):
        m = _TAG.match(header, pos)
        if m is None or m.end() == pos:
            raise InvalidInputError(f"If-Match {header[:80]!r} is not * nor a list of entity-tags")
        found.append((m.group(1) is not None, m.group(2)))
        pos = m.end()
    if not found:
        raise InvalidInputError("If-Match is empty: send * or an entity-tag")
    return found


def require_match(header: str | None, current: str, what: str) -> None:
    """Refuse a change whose If-Match is missing (428) or does not hold for ``current`` (412)."""
    if header is None:
        raise PreconditionRequiredError(
            f"{what}: If-Match is required (the ETag the change was made against, or *)"
        )
    if header.strip() == "*":
        return
    if not any(not weak and tag == current for weak, tag in _tags(header)):
        raise StaleWriteError(f"{what} changed since {header[:80]}; now {current}")
