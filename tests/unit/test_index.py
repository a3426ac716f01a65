"""The in-process index: candidates never missed, cell maps, regions, and the catalog's snapshots."""

import numpy as np
import pytest
import shapely

from siteselect import accounts, listings
from siteselect.errors import NotFoundError
from siteselect.geodesy import GEOD
from siteselect.index import Catalog, Snapshot, cell_pairs
from siteselect.store import Store


@pytest.fixture(scope="module")
def snapshot(demo_db) -> Snapshot:
    return Catalog(Store(demo_db)).current()


def test_candidates_never_miss_a_feature_within_the_radius(snapshot):
    pois = snapshot.layer("pois")
    rng = np.random.default_rng(3)
    x, y = pois.features.geometry.x.to_numpy(), pois.features.geometry.y.to_numpy()
    for lon, lat in zip(rng.uniform(x.min(), x.max(), 20), rng.uniform(y.min(), y.max(), 20)):
        _, _, metres = GEOD.inv(np.full(len(x), lon), np.full(len(y), lat), x, y)
        within = set(np.flatnonzero(metres <= 150).tolist())
        assert within <= set(pois.candidates(lon, lat, 150).tolist())


def test_a_cell_map_gives_every_feature_near_a_cell_and_is_made_once(snapshot):
    zones = snapshot.layer("zones")
    cmap = zones.cell_map(100.0)
    assert zones.cell_map(100.0) is cmap  # cached
    some = zones.cell_map(100.0, np.array([0, 1]))
    assert set(np.concatenate(list(some.values())).tolist()) == {0, 1}
    cell = int(zones.cells[0])
    assert int(zones.positions[0]) in cmap[cell].tolist()


def test_cell_pairs_lists_each_candidate_with_its_position():
    cmap = {5: np.array([1, 4]), 6: np.array([2])}
    pos, rows = cell_pairs(cmap, [6, 9, 5])
    assert list(zip(pos.tolist(), rows.tolist())) == [(0, 2), (2, 1), (2, 4)]
    pos, rows = cell_pairs(cmap, [5])
    assert pos.tolist() == [0, 0] and rows.tolist() == [1, 4]


def test_a_region_keeps_the_features_it_touches_and_the_whole_district_layers(snapshot):
    pois = snapshot.layer("pois").features
    centre = pois.geometry.iloc[0]
    box = shapely.box(centre.x - 0.01, centre.y - 0.01, centre.x + 0.01, centre.y + 0.01)
    region = snapshot.region(box, {"shares": {}, "typical_rent": 1.0})
    assert 0 < len(region.layer("pois").features) < len(pois)
    assert region.layer("rules") is snapshot.layer("rules") and region.district == {
        "shares": {},
        "typical_rent": 1.0,
    }


def test_an_unloaded_layer_is_named(snapshot):
    with pytest.raises(NotFoundError, match="layer 'rivers' has no loaded version"):
        snapshot.layer("rivers")


def test_what_is_made_from_a_snapshot_is_made_once(snapshot):
    made = []
    first = snapshot.made("test-thing", lambda: made.append(1) or object())
    assert snapshot.made("test-thing", lambda: made.append(1) or object()) is first and made == [1]


def test_the_catalog_puts_live_listings_in_place_of_the_vacancies_layer(demo_db, tmp_path):
    import shutil

    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    catalog = Catalog(Store(f"sqlite:///{tmp_path / 'store.db'}"), max_age_s=3600)
    before = catalog.current()
    clerk = accounts.add_user(catalog.store, "clerk", "clerk")
    vid = before.layer("vacancies").features["id"].iloc[0]
    listings.update(catalog.store, clerk, vid, {"status": "withdrawn"}, if_match="*", merge=True)
    assert catalog.current() is before  # not asked again within max_age_s
    assert catalog.refresh() == ["vacancies"]
    after = catalog.current()
    assert after.previous is before and after.layers["rules"] is before.layers["rules"]
    status = after.layer("vacancies").features.set_index("id").loc[vid, "status"]
    assert status == "withdrawn" and after.versions == before.versions
    assert catalog.snapshot(before.versions).layer("vacancies") is after.layer("vacancies")  # still live


def test_a_reader_that_asks_for_fresh_listings_sees_another_process_write_at_once(demo_db, tmp_path):
    import shutil

    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    here, elsewhere = Catalog(Store(url), max_age_s=3600), Store(url)
    before = here.current()
    clerk = accounts.add_user(elsewhere, "clerk", "clerk")
    vid = before.layer("vacancies").features["id"].iloc[1]
    listings.update(elsewhere, clerk, vid, {"status": "leased"}, if_match="*", merge=True)
    assert here.current() is before
    fresh = here.current(fresh_listings=True)
    assert (
        fresh is not before
        and fresh.layer("vacancies").features.set_index("id").loc[vid, "status"] == "leased"
    )
    assert here.current(fresh_listings=True) is fresh  # nothing changed since: the same snapshot
