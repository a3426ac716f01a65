"""Data stewards belong to a department: the code (of layers/departments.yaml) whose entries they load.

Revision ID: 0006
Revises: 0005
Created: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("department", sa.String(50), nullable=True))
