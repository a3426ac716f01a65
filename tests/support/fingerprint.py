"""A store's content as row counts and digests, table by table: equal before and after an upgrade,
a backup and its restore."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa


def fingerprint(url: str, only: dict[str, list[str]] | None = None) -> dict[str, tuple[int, str]]:
    """Rows and a digest of their content, table by table, in primary-key order; ``only``: the
    columns of each table to digest (those a store had before an upgrade added others)."""
    engine = sa.create_engine(url)
    found: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        tables = sa.MetaData()
        tables.reflect(conn, only=lambda name, _: not name.startswith(("features_v", "feature_cells_v")))
        for table in tables.sorted_tables:
            if table.name in ("spatial_ref_sys", "alembic_version"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            names = only.get(table.name, list(table.columns.keys())) if only else list(table.columns.keys())
            rows = conn.execute(sa.select(*(table.c[n] for n in names)).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(map(_plain, r)) for r in rows]).encode()).hexdigest()
            found[table.name] = (len(rows), digest)
    engine.dispose()
    return found


def _plain(value: object) -> object:
    """A value as its content: a geometry as its bytes (its repr names a memory address)."""
    data = getattr(value, "data", value)
    return bytes(data) if isinstance(data, memoryview | bytes) else data


def columns(url: str) -> dict[str, list[str]]:
    """The columns of each table of a store."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        found = {
            name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()
        }
    engine.dispose()
    return found
