"""Backups of the whole store, and restoring one into an empty database.

SQLite: the online backup API makes a consistent copy while the service runs. PostGIS: ``pg_dump``
in its custom format, read back by ``pg_restore`` in a single transaction. Either way a backup is
written to a temporary name and renamed once complete, and a restore checks the file first, goes
only into a database holding no store, and changes nothing if it fails part-way (a truncated or
damaged file): SQLite's copy is renamed into place only once whole, PostgreSQL's transaction rolls
back.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa

from siteselect import migrations
from siteselect.errors import InvalidInputError, StoreError


def backup(url: str, out: Path) -> None:
    """Write a consistent copy of the store at ``url`` to ``out``."""
    partial = out.with_name(out.name + ".partial")
    if _is_sqlite(url):
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(partial)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        _pg("pg_dump", url, "--format=custom", "--no-comments", f"--file={partial}")
    partial.replace(out)


def restore(url: str, file: Path) -> str:
    """Load the backup ``file`` into the empty database at ``url``; the schema revision it holds."""
    if not file.is_file():
        raise InvalidInputError(f"{file}: no such backup file")
    _refuse_unless_empty(url)
    if _is_sqlite(url):
        return _restore_sqlite(_sqlite_path(url), file)
    listing = subprocess.run(["pg_restore", "--list", str(file)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise InvalidInputError(
            f"{file} is not a readable pg_dump backup ({listing.stderr.strip()}); nothing was changed"
        )
    failure = f"{file} could not be restored (a truncated or damaged backup?); nothing was changed"
    options = ["--single-transaction", "--exit-on-error", "--no-owner", "--no-comments"]
    _pg("pg_restore", url, *options, str(file), failure=failure)
    return _revision(url)


def _restore_sqlite(path: Path, file: Path) -> str:
    try:
        source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in source.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise InvalidInputError(f"{file} is damaged: {'; '.join(problems[:3])}; nothing was changed")
            partial = path.with_name(path.name + ".restoring")
            target = sqlite3.connect(partial)
            try:
                with target:
                    source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInputError(
            f"{file} is not a readable SQLite backup ({exc}); nothing was changed"
        ) from exc
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)  # of the empty database replaced
    partial.replace(path)
    return _revision(f"sqlite:///{path}")


def _refuse_unless_empty(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names()) - {"spatial_ref_sys"}
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot reach the database to restore into: {exc.orig}") from exc
    finally:
        engine.dispose()
    if tables:
        raise InvalidInputError(
            f"the database to restore into is not empty (tables {', '.join(sorted(tables)[:4])}…):"
            " restore into a new, empty one"
        )


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            revision = migrations.current(conn)
    finally:
        engine.dispose()
    if revision is None:
        raise InvalidInputError("the backup holds no siteselect store (no schema revision)")
    return revision


def _pg(program: str, url: str, *args: str, failure: str | None = None) -> None:
    """Run a PostgreSQL client on the database at ``url``; its password goes by the environment."""
    parsed = sa.engine.make_url(url)
    env = os.environ | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [program, f"--dbname={libpq}", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise StoreError(f"{failure or program + ' failed'}: {last}")


def _is_sqlite(url: str) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = sa.engine.make_url(url).database
    if not database:
        raise InvalidInputError(f"{url}: a SQLite store needs a file path")
    return Path(database)
