"""A store's content as row counts and digests, table by table: equal before and after an upgrade,
a backup and its restore."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Rows and a digest of their content, table by table, in primary-key order."""
    engine = sa.create_engine(url)
    found: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        tables = sa.MetaData()
        tables.reflect(conn, only=lambda name, _: not name.startswith(("features_v", "feature_cells_v")))
        for table in tables.sorted_tables:
            if table.name in ("spatial_ref_sys", "alembic_version"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(sa.select(table).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(map(_plain, r)) for r in rows]).encode()).hexdigest()
            found[table.name] = (len(rows), digest)
    engine.dispose()
    return found


def _plain(value: object) -> object:
    """A value as its content: a geometry as its bytes (its repr names a memory address)."""
    data = getattr(value, "data", value)
    return bytes(data) if isinstance(data, memoryview | bytes) else data
