"""Schema migrations, on SQLite and PostGIS: a new store is made by them and holds exactly the
tables the store declares; a store of the last release, and one of the release before migrations,
is upgraded with every row intact, its reports read back as they were drawn (or, stored before
pages were kept, drawn again alike) and found in the register; a store behind or ahead of the
code is refused; a migration that fails half-way changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from siteselect import migrations, report, report_register
from siteselect.cli import main
from siteselect.drawing import Basemap
from siteselect.errors import StoreError
from siteselect.index import Catalog
from siteselect.store import Store
from tests.conftest import ROOT
from tests.support.fingerprint import columns, fingerprint

# Releases whose stores must upgrade, made by their own code (commits of this repository): the
# last one before migrations and before reports kept their pages, and the last landed release
# (move it forward at each release).
RELEASES = {"before migrations": "87aca41", "last landed": "753e350"}


@pytest.fixture(params=["sqlite", "postgis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgis_url"))


def _ours(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """What the store declares: not the version partitions a load attaches, nor PostGIS's own."""
    if kind == "table":
        return name is not None and not name.startswith(("features_v", "feature_cells_v", "spatial_ref_sys"))
    return True


def test_a_new_store_is_made_by_the_migrations_with_exactly_the_declared_schema(url: str) -> None:
    store = Store(url)
    with store.engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
        context = MigrationContext.configure(conn, opts={"include_object": _ours})
        assert compare_metadata(context, store.metadata) == []
    store.close()


@pytest.fixture(params=list(RELEASES))
def release_store(
    request: pytest.FixtureRequest, url: str, tmp_path: Path
) -> tuple[str, dict[str, dict[str, object]]]:
    """A store made and filled by a release's code; its stored reports' verdicts and pages."""
    commit = RELEASES[request.param]
    tree = tmp_path / "release"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"the release's commit {commit} is not in this clone: {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
    out = tmp_path / "reports.json"
    env = os.environ | {"PYTHONPATH": str(tree), "SITESELECT_NODE_MODULES": str(ROOT / "node_modules")}
    script = ROOT / "tests" / "support" / "release_store.py"
    subprocess.run([sys.executable, script, url, tmp_path / "demo", out], env=env, cwd=tree, check=True)
    return url, json.loads(out.read_text())


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        revision = migrations.current(conn)
    engine.dispose()
    return revision


def test_a_store_of_the_last_release_upgrades_with_every_row_and_report_intact(release_store) -> None:
    url, drawn = release_store
    before, had = fingerprint(url), columns(url)
    assert all(before[t][0] > 0 for t in ("layer_versions", "features", "users", "tokens", "audit_log"))
    if _revision(url) != migrations.head():  # a store behind the code is refused until upgraded
        with pytest.raises(StoreError, match="run `siteselect db upgrade`"):
            Store(url)
    assert main(["--database-url", url, "db", "upgrade"]) == 0
    after = fingerprint(url, only=had)  # the columns the release had, each row as it was
    assert {t: after[t] for t in before} == before
    store = Store(url)
    catalog = Catalog(store)
    assert len(drawn) == 2
    for rid, then in drawn.items():
        stored = report.load(store, rid)
        if stored.html is not None:  # a release that keeps pages: read back as drawn, byte for byte
            assert report.page_of(store, rid, catalog.snapshot, Basemap()) == then["html"]
            continue
        # Stored before pages were kept: drawn again from the request, on the versions it names.
        again = [
            report.build(
                catalog.snapshot(stored.versions), stored.on_the_day(), Basemap(), stored.generated_at
            )
            for _ in range(2)
        ]
        # The page's wording changed since that release (the articles are quoted), so its bytes
        # are this release's; what it judged, on the versions it names, must not change.
        assert [made.id for made in again] == [rid, rid]
        assert list(again[0].verdicts) == then["verdicts"]
        assert again[0].html == again[1].html
        assert report.page_of(store, rid, catalog.snapshot, Basemap()) == again[0].html
    # the register finds them by the industry and the sites their requests name
    listed = report_register.search(store, report_register.Search(industry="6239"))
    assert {r["id"] for r in listed["reports"]} == set(drawn)
    for row in listed["reports"]:  # and by each one's sites: as located, else as asked for (old stores)
        assert row["addresses"]
        wanted = report_register.Search(address=row["addresses"][-1][: report_register.TEXT_MAX])
        assert row["id"] in {r["id"] for r in report_register.search(store, wanted)["reports"]}
    store.close()
    assert main(["--database-url", url, "db", "current"]) == 0


def test_a_store_newer_than_the_code_is_refused_and_left_alone(url: str) -> None:
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(StoreError, match="newer than this release knows"):
        Store(url)
    with pytest.raises(StoreError, match="newer"), engine.connect() as conn:
        migrations.check(conn, "here")
    engine.dispose()


FAILING = """
import sqlalchemy as sa
from alembic import op

revision = "9000"
down_revision = "{head}"


def upgrade():
    op.add_column("listings", sa.Column("note", sa.Text))
    op.create_table("departments", sa.Column("id", sa.Integer, primary_key=True))
    with op.batch_alter_table("tokens", recreate="always") as batch:  # SQLite copies the table
        batch.alter_column("label", type_=sa.String(300))
    op.execute("INSERT INTO departments (id) VALUES (1)")
    raise RuntimeError("interrupted half-way")
"""


def test_a_migration_interrupted_half_way_changes_nothing(url: str, tmp_path: Path) -> None:
    store = Store(url)
    store.close()
    before = fingerprint(url)
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.FOLDER, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "9000_failing.py").write_text(FAILING.format(head=migrations.head()))
    with pytest.raises(RuntimeError, match="interrupted"):
        migrations.upgrade(url, folder=folder)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "note" not in {c["name"] for c in inspector.get_columns("listings")}
        assert not inspector.has_table("departments")
        assert migrations.current(conn) == migrations.head()
    engine.dispose()
    assert fingerprint(url) == before
    Store(url).close()  # still opens
