"""Reports keep the page as drawn, their verdicts and their filing, and are searched by them.

Revision ID: 0005
Revises: 0004
Created: 2026-11-30

Reports stored before have no page and no verdicts (they are drawn again from their request, as
before); their industry and the sites as asked for are filled in from the stored request, so the
register finds them by industry and address too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("html", sa.Text, nullable=True))
        batch.add_column(sa.Column("verdicts", sa.JSON, nullable=True))
        batch.add_column(sa.Column("industry", sa.String(4), nullable=True))
        batch.add_column(sa.Column("addresses", sa.Text, nullable=True))
        batch.add_column(sa.Column("application_no", sa.String(100), nullable=True))
        batch.add_column(sa.Column("applicant", sa.String(100), nullable=True))
        batch.add_column(sa.Column("clerk", sa.String(100), nullable=True))
        batch.create_index("ix_reports_generated_at", ["generated_at"])
        batch.create_index("ix_reports_industry", ["industry"])
        batch.create_index("ix_reports_application_no", ["application_no"])
    reports = sa.table(
        "reports",
        sa.column("id", sa.String),
        sa.column("request", sa.JSON),
        sa.column("industry", sa.String),
        sa.column("addresses", sa.Text),
    )
    conn = op.get_bind()
    for rid, request in conn.execute(sa.select(reports.c.id, reports.c.request)).all():
        sites = "\n".join(_as_asked(site) for site in request["sites"])
        conn.execute(
            reports.update().where(reports.c.id == rid).values(industry=request["industry"], addresses=sites)
        )


def _as_asked(site: dict[str, Any]) -> str:
    """A site as the command line takes it: an address, ``vacancy:ID`` or ``lon,lat``."""
    if site.get("address"):
        return str(site["address"])
    if site.get("vacancy_id"):
        return f"vacancy:{site['vacancy_id']}"
    return f"{site['lon']},{site['lat']}"
