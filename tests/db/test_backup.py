"""Backups, on SQLite and PostGIS: restored into an empty database, every row and version is there;
a truncated backup, or a database that is not empty, is refused with a clear message and nothing
changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from siteselect.cli import main
from siteselect.store import Store
from tests.support.fingerprint import fingerprint
from tests.support.postgis import fresh_database
from tests.support.release_store import fill


@pytest.fixture(params=["sqlite", "postgis"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A store's URL and that of an empty database beside it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    server = request.getfixturevalue("postgis")
    with fresh_database(server, "backed_up") as url, fresh_database(server, "restored") as empty:
        yield url, empty


def test_a_backup_restored_into_an_empty_database_has_every_row_and_version(urls, tmp_path, capsys):
    url, empty = urls
    fill(url, tmp_path / "demo")
    file = tmp_path / "store.backup"
    assert main(["--database-url", url, "backup", str(file)]) == 0
    assert main(["--database-url", empty, "restore", str(file)]) == 0
    assert "restored" in capsys.readouterr().out
    assert fingerprint(empty) == fingerprint(url)
    original, restored = Store(url), Store(empty)
    assert restored.versions() == original.versions()  # and it opens: at this release's schema
    original.close()
    restored.close()
    assert main(["--database-url", empty, "restore", str(file)]) == 2  # not empty any more
    assert "is not empty" in capsys.readouterr().err


def test_a_truncated_backup_is_refused_and_changes_nothing(urls, tmp_path, capsys):
    url, empty = urls
    Store(url).close()
    file = tmp_path / "store.backup"
    assert main(["--database-url", url, "backup", str(file)]) == 0
    whole = file.read_bytes()
    for cut in (len(whole) // 2, 100):
        file.write_bytes(whole[:cut])
        before = fingerprint(empty)
        assert main(["--database-url", empty, "restore", str(file)]) == 2
        message = capsys.readouterr().err
        assert str(file) in message and "nothing was changed" in message
        assert fingerprint(empty) == before == {}
