"""The audit log's actor holds a role, ":" and a user name of up to 100 characters.

Revision ID: 0002
Revises: 0001
Created: 2026-11-29

A name over 91 characters made every write and refusal of that user fail on PostGIS.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column(
            "actor", type_=sa.String(120), existing_type=sa.String(100), existing_nullable=False
        )
