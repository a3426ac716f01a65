"""A throwaway PostgreSQL + PostGIS server for the database tests, started by pytest-postgresql.

The server comes from Debian's packages (postgresql-15-postgis-3). Each test gets a fresh database
cloned from a template that already has the PostGIS extension, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from tests.conftest import ROOT, require_postgis

PG_BINDIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin")]
WRAPPER = ROOT / "tests" / "support" / "pg_ctl_as_postgres"


def _find_pg_ctl() -> Path | None:
    env = os.environ.get("SITESELECT_PG_CTL")
    candidates = [Path(env)] if env else [d / "pg_ctl" for d in PG_BINDIRS]
    return next((c for c in candidates if c.is_file()), None)


def _has_postgis(pg_ctl: Path) -> bool:
    sharedir = (
        subprocess.run(
            [pg_ctl.parent / "pg_config", "--sharedir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or f"/usr/share/postgresql/{pg_ctl.parent.parent.name}"
    )
    return any(Path(sharedir, "extension").glob("postgis.control"))


def _unavailable(reason: str) -> None:
    if require_postgis():
        pytest.fail(f"PostGIS is required (SITESELECT_REQUIRE_POSTGIS=1) but {reason}")
    pytest.skip(f"PostGIS not available: {reason}; `make test` installs it on Debian as root")


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[PostgreSQLExecutor]:
    pg_ctl = _find_pg_ctl()
    if pg_ctl is None:
        _unavailable("no pg_ctl found (install postgresql-15-postgis-3)")
    assert pg_ctl is not None
    if not _has_postgis(pg_ctl):
        _unavailable(f"the PostGIS extension is not installed for {pg_ctl.parent.parent.name}")
    workdir = Path(tempfile.mkdtemp(prefix="siteselect-pg-"))
    executable = str(pg_ctl)
    if os.geteuid() == 0:  # postgres will not run as root: hand the folder to the postgres user
        shutil.chown(workdir, "postgres", "postgres")
        os.environ["SITESELECT_PG_CTL"] = str(pg_ctl)
        executable = str(WRAPPER)
    from port_for import get_port

    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=get_port(None),
        datadir=str(workdir / "data"),
        unixsocketdir=str(workdir),
        logfile=str(workdir / "postgresql.log"),
        startparams="-w",
        dbname="siteselect_tests",
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )
    executor.start()
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
    try:
        yield executor
    finally:
        template.drop()
        executor.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _create_postgis(host: str, port: int, user: str, dbname: str, password: str | None, **_: object) -> None:
    import psycopg

    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


@pytest.fixture
def postgis_url(postgis_server: PostgreSQLExecutor, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database with PostGIS for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    janitor = DatabaseJanitor(
        user=postgis_server.user,
        host=postgis_server.host,
        port=postgis_server.port,
        dbname=name,
        template_dbname=postgis_server.template_dbname,
    )
    janitor.init()
    try:
        yield (
            f"postgresql+psycopg://{postgis_server.user}@{postgis_server.host}:{postgis_server.port}/{name}"
        )
    finally:
        janitor.drop()
