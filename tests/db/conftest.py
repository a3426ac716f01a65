"""PostGIS for the database tests: one throwaway server per session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

from tests.conftest import require_postgis
from tests.support.postgis import PostGISUnavailableError, fresh_database, postgis_server


@pytest.fixture(scope="session")
def postgis() -> Iterator[PostgreSQLExecutor]:
    try:
        with postgis_server() as server:
            yield server
    except PostGISUnavailableError as exc:
        if require_postgis():
            pytest.fail(f"PostGIS is required (SITESELECT_REQUIRE_POSTGIS=1) but unavailable: {exc}")
        pytest.skip(f"PostGIS not available: {exc}; `make test` as root installs it on Debian")


@pytest.fixture
def postgis_url(postgis: PostgreSQLExecutor, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database with PostGIS for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with fresh_database(postgis, name) as url:
        yield url
