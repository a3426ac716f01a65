"""Schema migrations with Alembic, for SQLite and PostGIS alike.

The store's schema is the chain of revisions in ``versions/``: a new store is made by running them
all, and a store made by an earlier release is brought up to date by ``siteselect db upgrade``.
The service opens only a store at the revision it was written for: one behind is refused with the
command that upgrades it, one newer than the code with the release it needs.

All revisions of an upgrade run in one transaction, so a failure half-way leaves the store as it
was: PostgreSQL's DDL is transactional, and SQLite's is too once its driver stops committing behind
our back (``_transactional_sqlite``). A store made before migrations existed (tables, no revision)
is checked to hold exactly the first revision's tables and columns, then marked as at it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from siteselect.errors import StoreError

FOLDER = Path(__file__).resolve().parent
FIRST = "0001"
UPGRADE = "siteselect db upgrade"


def _config(conn: sa.Connection | None = None, folder: Path = FOLDER) -> Config:
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["connection"] = conn
    return config


@functools.cache
def scripts(folder: Path = FOLDER) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(folder=folder))


def head() -> str:
    """The revision this code is written for."""
    revision = scripts().get_current_head()
    assert revision is not None  # there is always the first one
    return revision


def current(conn: sa.Connection) -> str | None:
    """The store's revision: None for an empty store or one made before migrations."""
    return MigrationContext.configure(conn).get_current_revision()


def _our_tables(conn: sa.Connection) -> set[str]:
    first = sa.MetaData()
    scripts().get_revision(FIRST).module.tables(first, conn.dialect.name == "postgresql")
    return set(first.tables) & set(sa.inspect(conn).get_table_names())


def check(conn: sa.Connection, where: str) -> bool:
    """Whether the store at ``where`` is at this code's revision; False if it is empty.

    Raises StoreError, naming what to do, for a store that is behind or newer than the code."""
    revision = current(conn)
    if revision == head():
        return True
    if revision is None:
        if not _our_tables(conn):
            return False
        raise StoreError(f"the store at {where} was made by an earlier release: run `{UPGRADE}`")
    known = {script.revision for script in scripts().walk_revisions()}
    if revision in known:
        raise StoreError(
            f"the store at {where} is at schema revision {revision}, this release needs {head()}:"
            f" run `{UPGRADE}`"
        )
    raise StoreError(
        f"the store at {where} is at schema revision {revision}, newer than this release knows"
        f" (its latest is {head()}): install the release that upgraded it"
    )


def upgrade(url: str, target: str = "head", *, folder: Path = FOLDER) -> tuple[str | None, str]:
    """Bring the store at ``url`` to ``target`` in one transaction; the revisions before and after.
    ``folder`` holds the revisions (this package's own, unless a test brings its own)."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        _transactional_sqlite(engine)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # two workers starting on a new store at once
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7415)"))
            before = current(conn)
            if before is None and _our_tables(conn):
                _adopt(conn)
            command.upgrade(_config(conn, folder), target)
            after = current(conn)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot upgrade the store: {exc.orig}") from exc
    finally:
        engine.dispose()
    assert after is not None
    return before, after


def _adopt(conn: sa.Connection) -> None:
    """Mark a store made before migrations as at the first revision, once sure it has its schema."""
    wanted = sa.MetaData()
    scripts().get_revision(FIRST).module.tables(wanted, conn.dialect.name == "postgresql")
    inspector = sa.inspect(conn)
    for name, table in wanted.tables.items():
        found = {c["name"] for c in inspector.get_columns(name)} if inspector.has_table(name) else set()
        if found != set(table.columns.keys()):
            raise StoreError(
                f"table {name} has columns {sorted(found)}, not those of the first release"
                f" {sorted(table.columns.keys())}: this is not a siteselect store, or it was changed by hand"
            )
    command.stamp(_config(conn), FIRST)


def _transactional_sqlite(engine: sa.Engine) -> None:
    """SQLite's Python driver commits before DDL on its own; make it leave transactions to us, and
    take the write lock at the start (a second upgrade waits, then finds nothing to do)."""

    @sa.event.listens_for(engine, "connect")
    def _no_implicit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
