"""The stored tables, defined once: layer versions and their features and cells, accounts and
listings with their audit log, and reports. The store creates them; nothing else defines a table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB


def layer_tables(metadata: sa.MetaData, postgis: bool) -> dict[str, sa.Table]:
    geometry: sa.types.TypeEngine[Any]
    if postgis:
        geometry = Geometry("GEOMETRY", srid=4326, spatial_index=True)
        props: sa.types.TypeEngine[Any] = JSONB()
    else:
        geometry, props = sa.LargeBinary(), sa.JSON()
    versions = sa.Table(
        "layer_versions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("layer", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("h3_resolution", sa.SmallInteger, nullable=False),
        sa.UniqueConstraint("layer", "version"),
    )
    # On PostGIS each version is a partition: a load fills a bare table and attaches it, so the
    # indexes are built in bulk (sorted GiST build) instead of row by row.
    partitioned: dict[str, Any] = {"postgresql_partition_by": "LIST (version_id)"} if postgis else {}
    features = sa.Table(
        "features",
        metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), primary_key=True),
        sa.Column("fid", sa.String(200), primary_key=True),
        sa.Column("geom", geometry, nullable=True),
        sa.Column("props", props, nullable=False),
        **partitioned,
    )
    cells = sa.Table(
        "feature_cells",
        metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), nullable=False),
        sa.Column("fid", sa.String(200), nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Index("ix_feature_cells_version_cell", "version_id", "cell"),
        **partitioned,
    )
    return {"versions": versions, "features": features, "cells": cells}


def account_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Who may write: users with a role (operators bound to parks) and their hashed tokens."""
    users = sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("parks", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),  # Argon2; none: tokens only
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("department", sa.String(50), nullable=True),  # a steward's, by its code
    )
    tokens = sa.Table(
        "tokens",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    # People's sign-ins: a session is stored as the SHA-256 of its cookie, with the CSRF token its
    # pages send back; wrong passwords are counted per name, known or not.
    sessions = sa.Table(
        "sessions",
        metadata,
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    throttle = sa.Table(
        "sign_in_failures",
        metadata,
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    # Vacancies are live listings that operators edit one by one: a mutable table with a revision
    # per row (the ETag), not new versions of the whole layer. Every write and every refusal is in
    # the audit log, written in the same transaction as the change.
    listings = sa.Table(
        "listings",
        metadata,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("park_id", sa.String(200), nullable=True, index=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("props", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # How many statements have written the listings: a trigger on them counts (migration 0008).
    changes = sa.Table(
        "listing_changes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("writes", sa.BigInteger, nullable=False),
    )
    audit = sa.Table(
        "audit_log",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),  # role, ":" and a name of up to 100
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    # Pre-filings (预备案): the property facts an operator files once for a listing, and a clerk's
    # decision. An approved filing, until it expires, is the listing's address proof in every check.
    filings = sa.Table(
        "filings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("listing_id", sa.String(200), nullable=False, index=True),
        sa.Column("park_id", sa.String(200), nullable=False, index=True),
        sa.Column("certificate_no", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("registered_use", sa.String(100), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # pending, approved, returned
        sa.Column("filed_by", sa.String(120), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(40), nullable=True, unique=True),  # given on approval
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),  # why it was returned
    )
    return {
        "users": users, "tokens": tokens, "sessions": sessions, "sign_in_failures": throttle,
        "listings": listings, "listing_changes": changes, "audit": audit, "filings": filings,
    }  # fmt: skip


def report_table(metadata: sa.MetaData) -> sa.Table:
    """Reports by id: the request, the layer versions and the day they were judged by, and the page
    as drawn, read back byte for byte. Reports stored before pages were kept have no ``html`` and
    no ``verdicts``: they are drawn again from their request and versions. The filing (application
    number, applicant, clerk), the industry and the sites' addresses are columns to search by."""
    return sa.Table(
        "reports",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("html", sa.Text, nullable=True),
        sa.Column("verdicts", sa.JSON, nullable=True),
        sa.Column("industry", sa.String(4), nullable=True, index=True),
        sa.Column("addresses", sa.Text, nullable=True),  # the sites', one a line
        sa.Column("application_no", sa.String(100), nullable=True, index=True),
        sa.Column("applicant", sa.String(100), nullable=True),
        sa.Column("clerk", sa.String(100), nullable=True),
    )
