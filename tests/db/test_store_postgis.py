"""The PostGIS store: the same behaviours as SQLite, the same data, and a real spatial schema."""

import pytest
import sqlalchemy as sa
from geopandas.testing import assert_geodataframe_equal

from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.store import Store
from tests.support import store_cases

pytestmark = pytest.mark.postgis


def test_sqlite_and_postgis_hold_equal_layers(postgis_url, sqlite_url, demo_files):
    pg, lite = Store(postgis_url), Store(sqlite_url)
    for layer in LOAD_ORDER:
        a = load_file(pg, layer, demo_files[layer])
        b = load_file(lite, layer, demo_files[layer])
        assert a.checksum == b.checksum, layer
        assert_geodataframe_equal(pg.read_layer(layer), lite.read_layer(layer), check_dtype=False)
        pg_fids, pg_cells = pg.read_cells(a.id)
        lite_fids, lite_cells = lite.read_cells(b.id)
        assert sorted(zip(pg_fids, pg_cells)) == sorted(zip(lite_fids, lite_cells)), layer


def test_failed_load_leaves_postgis_exactly_as_it_was(postgis_url, demo_files):
    store_cases.failed_load_leaves_store_unchanged(Store(postgis_url), demo_files)


def test_earlier_versions_stay_queryable_on_postgis(postgis_url, demo_files, tmp_path):
    store_cases.versions_stay_readable(Store(postgis_url), demo_files, tmp_path)


def test_h3_cells_are_stored_on_postgis(postgis_url, demo_files):
    store_cases.cells_are_stored(Store(postgis_url), demo_files)


def test_schema_is_typed_and_indexed(postgis_url, demo_files):
    store = Store(postgis_url)
    load_file(store, "zones", demo_files["zones"])
    with store.engine.connect() as conn:
        column = conn.execute(
            sa.text("SELECT type, srid FROM geometry_columns WHERE f_table_name = 'features'")
        ).one()
        assert tuple(column) == ("GEOMETRY", 4326)
        indexes = (
            conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE tablename IN ('features', 'feature_cells')")
            )
            .scalars()
            .all()
        )
        assert any("USING gist (geom)" in d for d in indexes)
        assert any("(version_id, cell)" in d for d in indexes)
        cell_type = conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'feature_cells' AND column_name = 'cell'"
            )
        ).scalar_one()
        assert cell_type == "bigint"
        # the stored geometry answers spatial SQL as it should
        inside = conn.execute(
            sa.text(
                "SELECT count(*) FROM features f JOIN layer_versions v ON v.id = f.version_id "
                "WHERE v.layer = 'zones' "
                "AND ST_Intersects(f.geom, ST_MakeEnvelope(120.44, 36.09, 120.47, 36.11, 4326))"
            )
        ).scalar_one()
    assert inside == len(store.read_layer("zones", bbox=(120.44, 36.09, 120.47, 36.11)))


def test_features_staged_on_disk_are_written_to_postgis_as_from_memory(postgis_url, demo_files):
    store_cases.staged_write_equals_the_write_from_memory(Store(postgis_url), demo_files)


def test_whole_layers_are_read_past_the_statement_timeout_that_bounds_a_request(postgis_url, demo_files):
    load_file(Store(postgis_url), "pois", demo_files["pois"])
    service = Store(postgis_url, statement_timeout_s=0.5)
    outlasting = sa.text("SELECT pg_sleep(1)")
    with service.reading(bounded=False) as conn:  # as the snapshot reads a layer and the listings
        conn.execute(outlasting)
    for _ in range(2):  # a request's statement is bounded, before and after on the same connection
        cancelled = pytest.raises(sa.exc.OperationalError, match="statement timeout")
        with cancelled, service.engine.connect() as conn:
            conn.execute(outlasting)
    assert len(service.read_layer("pois", bounded=False)) == len(Store(postgis_url).read_layer("pois")) > 0
    with pytest.raises(sa.exc.OperationalError, match="statement timeout"), service.reading() as conn:
        conn.execute(outlasting)  # a request's read of a layer (GET /layers/…/features) stays bounded
