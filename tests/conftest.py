"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from siteselect.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "reference" / "data"


def require_postgis() -> bool:
    """In CI a database test that cannot run must fail, never skip."""
    return os.environ.get("SITESELECT_REQUIRE_POSTGIS", "") not in ("", "0")


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn any skipped PostGIS or browser test into a failed run when they are required (in CI)."""
    if not require_postgis():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    required = ("tests/db/", "tests/browser/")
    missed = [r for r in skipped if any(p in r.nodeid.replace(os.sep, "/") for p in required)]
    if missed:
        print(f"\nFAILED: {len(missed)} PostGIS or browser tests skipped; SITESELECT_REQUIRE_POSTGIS=1")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Laoshan demo written once per session (files only; each test loads what it needs)."""
    from siteselect.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_db(demo_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with the whole demo loaded, shared read-only by the tests."""
    from siteselect.demo import LOAD_ORDER
    from siteselect.load import load_file
    from siteselect.store import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('demo-db') / 'demo.db'}"
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, demo_files[layer], loaded_by="tests")
    store.close()
    return url
