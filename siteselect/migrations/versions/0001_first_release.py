"""The schema of the first release: versioned layers, accounts, listings, the audit log, reports.

Revision ID: 0001
Revises:
Created: 2026-11-29

Written out here as it was, not imported from the store, so that later changes to the store's
tables are later revisions rather than edits of this one. On PostGIS: the extension, typed and
GiST-indexed geometry, feature tables partitioned by version, and row security on the listings
with an append-only audit log (see ``siteselect.security``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MAY_WRITE = (
    "current_setting('siteselect.role', true) IN ('admin', 'clerk', 'system')"
    " OR park_id = ANY (string_to_array(current_setting('siteselect.parks', true), ','))"
)
ROW_SECURITY = [
    "ALTER TABLE listings ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE listings FORCE ROW LEVEL SECURITY",
    "CREATE POLICY listings_read ON listings FOR SELECT USING (true)",
    f"CREATE POLICY listings_write ON listings FOR ALL USING ({MAY_WRITE}) WITH CHECK ({MAY_WRITE})",
    """CREATE OR REPLACE FUNCTION siteselect_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION siteselect_audit_is_append_only()""",
]


def tables(metadata: sa.MetaData, postgis: bool) -> None:
    """Every table of this revision, on ``metadata``."""
    geometry: sa.types.TypeEngine[Any]
    if postgis:
        geometry = Geometry("GEOMETRY", srid=4326, spatial_index=True)
        props: sa.types.TypeEngine[Any] = JSONB()
    else:
        geometry, props = sa.LargeBinary(), sa.JSON()
    partitioned: dict[str, Any] = {"postgresql_partition_by": "LIST (version_id)"} if postgis else {}
    utc = sa.DateTime(timezone=True)
    sa.Table(
        "layer_versions", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("layer", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("loaded_at", utc, nullable=False),
        sa.Column("loaded_by", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("h3_resolution", sa.SmallInteger, nullable=False),
        sa.UniqueConstraint("layer", "version"),
    )  # fmt: skip
    sa.Table(
        "features", metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), primary_key=True),
        sa.Column("fid", sa.String(200), primary_key=True),
        sa.Column("geom", geometry, nullable=True),
        sa.Column("props", props, nullable=False),
        **partitioned,
    )  # fmt: skip
    sa.Table(
        "feature_cells", metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), nullable=False),
        sa.Column("fid", sa.String(200), nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Index("ix_feature_cells_version_cell", "version_id", "cell"),
        **partitioned,
    )  # fmt: skip
    sa.Table(
        "users", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("parks", sa.JSON, nullable=False),
        sa.Column("created_at", utc, nullable=False),
    )  # fmt: skip
    sa.Table(
        "tokens", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("revoked_at", utc, nullable=True),
    )  # fmt: skip
    sa.Table(
        "listings", metadata,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("park_id", sa.String(200), nullable=True, index=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("props", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
    )  # fmt: skip
    sa.Table(
        "audit_log", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", utc, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )  # fmt: skip
    sa.Table(
        "reports", metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("generated_at", utc, nullable=False),
    )  # fmt: skip


def upgrade() -> None:
    conn = op.get_bind()
    postgis = conn.dialect.name == "postgresql"
    if postgis:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    metadata = sa.MetaData()
    tables(metadata, postgis)
    metadata.create_all(conn)
    if postgis:
        for statement in ROW_SECURITY:
            op.execute(statement)
