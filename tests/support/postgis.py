"""A throwaway PostgreSQL + PostGIS server from Debian's packages, started with pytest-postgresql.

Used by the database tests and by the benchmarks. PostgreSQL will not run as root, so as root the
server's folder is handed to the ``postgres`` system user and pg_ctl runs through a small wrapper.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from port_for import get_port
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

PG_BINDIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin")]
WRAPPER = Path(__file__).with_name("pg_ctl_as_postgres")
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
OWNER, SERVICE = "siteselect_owner", "siteselect_service"  # the two roles of a production set-up


class PostGISUnavailableError(RuntimeError):
    """No PostgreSQL with PostGIS can be started here."""


def find_pg_ctl() -> Path:
    env = os.environ.get("SITESELECT_PG_CTL")
    candidates = [Path(env)] if env else [d / "pg_ctl" for d in PG_BINDIRS]
    for pg_ctl in candidates:
        if pg_ctl.is_file():
            sharedir = (
                subprocess.run(
                    [pg_ctl.parent / "pg_config", "--sharedir"], capture_output=True, text=True, check=False
                ).stdout.strip()
                or f"/usr/share/postgresql/{pg_ctl.parent.parent.name}"
            )
            if (Path(sharedir) / "extension" / "postgis.control").is_file():
                return pg_ctl
            raise PostGISUnavailableError(f"PostGIS is not installed for {pg_ctl.parent.parent.name}")
    raise PostGISUnavailableError("no pg_ctl found (install postgresql-15-postgis-3)")


def _create_postgis(host: str, port: int, user: str, dbname: str, password: str | None, **_: object) -> None:
    import psycopg

    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


@contextmanager
def postgis_server(*, durable: bool = False) -> Iterator[PostgreSQLExecutor]:
    """Start a server with a template database that has PostGIS; stop and remove it afterwards.

    ``durable`` keeps PostgreSQL's default fsync and commit settings (for benchmarks); tests turn
    them off because they never need to survive a crash.
    """
    pg_ctl = find_pg_ctl()
    workdir = Path(tempfile.mkdtemp(prefix="siteselect-pg-"))
    executable = str(pg_ctl)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
        os.environ["SITESELECT_PG_CTL"] = str(pg_ctl)
        executable = str(WRAPPER)
    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=get_port(None),
        datadir=str(workdir / "data"),
        unixsocketdir=str(workdir),
        logfile=str(workdir / "postgresql.log"),
        startparams="-w",
        dbname="siteselect",
        postgres_options="" if durable else FAST_OPTIONS,
    )
    executor.start()
    try:
        executor.wait_for_postgres()
        template = DatabaseJanitor(
            user=executor.user,
            host=executor.host,
            port=executor.port,
            dbname=executor.template_dbname,
            as_template=True,
        )
        template.init()
        template.load(_create_postgis)
        yield executor
    finally:
        executor.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def fresh_database(server: PostgreSQLExecutor, name: str) -> Iterator[str]:
    """An empty database with PostGIS, cloned from the server's template; its SQLAlchemy URL."""
    janitor = DatabaseJanitor(
        user=server.user,
        host=server.host,
        port=server.port,
        dbname=name,
        template_dbname=server.template_dbname,
    )
    janitor.init()
    try:
        yield f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/{name}"
    finally:
        janitor.drop()


def two_roles(url: str) -> tuple[str, str]:
    """Give the database at ``url`` (a superuser's) to an owner role and make the service's role
    beside it, neither a superuser (made once per server); their URLs: (owner, service)."""
    import sqlalchemy as sa

    admin = sa.create_engine(url)
    database = url.rsplit("/", 1)[1]
    with admin.begin() as conn:
        for role in (OWNER, SERVICE):
            if not conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
        conn.execute(sa.text(f"ALTER DATABASE {database} OWNER TO {OWNER}"))
    admin.dispose()
    user = sa.engine.make_url(url).username
    return url.replace(f"://{user}@", f"://{OWNER}@"), url.replace(f"://{user}@", f"://{SERVICE}@")
