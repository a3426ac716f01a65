"""The register of stored reports: found again by application number, address, industry and the
day they were made, newest first, a page at a time.

Days are days in China, where registrations happen; a report's time is kept in UTC. Reports stored
before pages and verdicts were kept list no verdicts, and the sites as asked for (an address,
``vacancy:ID`` or ``lon,lat``) instead of as located.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from siteselect import industry
from siteselect.accounts import plain_text
from siteselect.errors import InvalidInputError
from siteselect.premises import CHINA_TZ
from siteselect.store import Store

PAGE_SIZE = 20
READERS = ("admin", "clerk")  # the roles that may read the register
TEXT_MAX = 100  # characters of a searched application number or address


@dataclass(frozen=True)
class Search:
    """What a clerk looks for; every part is optional and all must hold.

    ``application_no`` and ``address`` match part of the text, in any case; ``industry`` is a
    GB/T 4754 code or prefix (``62``, ``H``, ``6239``) or everyday words naming one class;
    ``since`` and ``until`` are days, both included.
    """

    application_no: str | None = None
    address: str | None = None
    industry: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1

    def __post_init__(self) -> None:
        for name in ("application_no", "address"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, plain_text(name, value, TEXT_MAX).strip() or None)
        if self.since and self.until and self.since > self.until:
            raise InvalidInputError(f"from {self.since} is after to {self.until}")
        if self.page < 1:
            raise InvalidInputError(f"page {self.page} is not a page: they count from 1")


def search(store: Store, wanted: Search) -> dict[str, Any]:
    """One page of the reports ``wanted`` names, newest first, with how many there are in all."""
    r = store.reports
    found = sa.and_(sa.true(), *_conditions(r, wanted))
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(r).where(found)).scalar_one()
        rows = conn.execute(
            sa.select(
                r.c.id, r.c.application_no, r.c.applicant, r.c.clerk, r.c.addresses, r.c.industry,
                r.c.verdicts, r.c.as_of, r.c.generated_at,
            )
            .where(found)
            .order_by(r.c.generated_at.desc(), r.c.id)
            .limit(PAGE_SIZE)
            .offset((wanted.page - 1) * PAGE_SIZE)
        ).all()  # fmt: skip
    return {
        "total": total,
        "page": wanted.page,
        "pages": math.ceil(total / PAGE_SIZE),
        "page_size": PAGE_SIZE,
        "reports": [_entry(row) for row in rows],
    }


def _conditions(r: sa.Table, wanted: Search) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if wanted.application_no:
        found.append(r.c.application_no.icontains(wanted.application_no, autoescape=True))
    if wanted.address:
        found.append(r.c.addresses.icontains(wanted.address, autoescape=True))
    if wanted.industry:
        found.append(r.c.industry.in_(_classes(wanted.industry)))
    # in UTC, as the times are written: SQLite compares the text and would ignore another offset
    if wanted.since:
        found.append(r.c.generated_at >= _start_of(wanted.since))
    if wanted.until:
        found.append(r.c.generated_at < _start_of(wanted.until + dt.timedelta(days=1)))
    return found


def _classes(text: str) -> tuple[str, ...]:
    """The class codes a searched industry covers: those under a code or prefix, or the one class
    everyday words name (words that fit several raise, with the candidates)."""
    clean = text.strip()
    try:
        prefix = industry.normalize_prefix(clean)
    except InvalidInputError:
        return (industry.resolve(clean),)
    if prefix == "*":
        raise InvalidInputError("industry: '*' is every industry; leave it out instead")
    return industry.classes_under(prefix)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_TZ).astimezone(dt.UTC)


def _entry(row: Any) -> dict[str, Any]:
    made = row.generated_at if row.generated_at.tzinfo else row.generated_at.replace(tzinfo=dt.UTC)
    return {
        "id": row.id,
        "url": f"/reports/{row.id}",
        "application_no": row.application_no,
        "applicant": row.applicant,
        "clerk": row.clerk,
        "addresses": row.addresses.split("\n") if row.addresses else [],
        "industry": industry.describe(row.industry) if row.industry else None,
        "verdicts": row.verdicts,
        "as_of": row.as_of.isoformat(),
        "made_at": made.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
