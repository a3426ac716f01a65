"""Pre-filings: the property facts operators file for their listings, and the clerks' decisions.

Revision ID: 0007
Revises: 0006
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# As listings: a transaction writes filings of the parks of the user it acts for only (clerks and
# admins any), forced on the table's owner too (siteselect.security). PostGIS only.
MAY_WRITE = (
    "current_setting('siteselect.role', true) IN ('admin', 'clerk', 'system')"
    " OR park_id = ANY (string_to_array(current_setting('siteselect.parks', true), ','))"
)
ROW_SECURITY = [
    "ALTER TABLE filings ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE filings FORCE ROW LEVEL SECURITY",
    "CREATE POLICY filings_read ON filings FOR SELECT USING (true)",
    f"CREATE POLICY filings_write ON filings FOR ALL USING ({MAY_WRITE}) WITH CHECK ({MAY_WRITE})",
]


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("listing_id", sa.String(200), nullable=False, index=True),
        sa.Column("park_id", sa.String(200), nullable=False, index=True),
        sa.Column("certificate_no", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("registered_use", sa.String(100), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filed_by", sa.String(120), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(40), nullable=True, unique=True),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in ROW_SECURITY:
            op.execute(sa.text(statement))


def downgrade() -> None:
    op.drop_table("filings")
