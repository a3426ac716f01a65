"""The SQLite store: versions, reproducibility and all-or-nothing writes."""

from siteselect.load import load_file
from siteselect.store import Store
from tests.support import store_cases


def test_failed_load_leaves_store_exactly_as_it_was(sqlite_url, demo_files):
    store_cases.failed_load_leaves_store_unchanged(Store(sqlite_url), demo_files)


def test_earlier_versions_stay_queryable(sqlite_url, demo_files, tmp_path):
    store_cases.versions_stay_readable(Store(sqlite_url), demo_files, tmp_path)


def test_h3_cells_are_stored_for_every_feature(sqlite_url, demo_files):
    store_cases.cells_are_stored(Store(sqlite_url), demo_files)


def test_same_content_same_checksum_whatever_the_format(sqlite_url, demo_files, tmp_path):
    from siteselect.io import write_layer_file

    store = Store(sqlite_url)
    a = load_file(store, "zones", demo_files["zones"])
    gpkg = tmp_path / "zones.gpkg"
    write_layer_file(store.read_layer("zones"), gpkg)
    b = load_file(store, "zones", gpkg)
    assert a.checksum == b.checksum and b.version == a.version + 1


def test_bbox_reads_only_what_intersects(demo_db):
    store = Store(demo_db)
    everything = store.read_layer("pois")
    box = (120.45, 36.09, 120.47, 36.11)
    some = store.read_layer("pois", bbox=box)
    assert 0 < len(some) < len(everything)
    assert some.geometry.within(__import__("shapely").box(*box)).all()


def test_features_staged_on_disk_are_written_as_from_memory(sqlite_url, demo_files):
    store_cases.staged_write_equals_the_write_from_memory(Store(sqlite_url), demo_files)


def test_a_layers_equal_texts_are_read_as_one_object_each_as_they_were(store):
    pois = store.read_layer("pois")
    categories = pois["category"].tolist()
    assert len({id(c) for c in categories}) == len(set(categories)) < len(categories)
    assert None in pois["industry"].tolist() and pois["industry"].dtype == object  # missing stays None
