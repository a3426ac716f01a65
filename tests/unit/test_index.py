"""The in-process index: candidates never missed, cell maps, regions, and the catalog's snapshots."""

import gc
import shutil
import sys
import threading
import time
import weakref

import numpy as np
import pytest
import shapely

from siteselect import accounts, listings
from siteselect.check import checker_for
from siteselect.errors import NotFoundError
from siteselect.geodesy import GEOD
from siteselect.index import Catalog, Snapshot, cell_pairs
from siteselect.locating import locator_for
from siteselect.premises import Premises
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
    assert after.layers["rules"] is before.layers["rules"]
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


def _catalog_of_a_copy(demo_db, tmp_path):
    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    catalog = Catalog(Store(f"sqlite:///{tmp_path / 'store.db'}"), max_age_s=3600)
    return catalog, accounts.add_user(catalog.store, "clerk", "clerk")


def test_a_checker_carries_over_across_listing_writes_and_keeps_no_replaced_snapshot_alive(demo_db, tmp_path):
    catalog, clerk = _catalog_of_a_copy(demo_db, tmp_path)
    first = catalog.current()
    checker = checker_for(first)
    vids = first.layer("vacancies").features["id"].tolist()[:20]
    replaced = []
    for rent, vid in enumerate(vids, start=40):  # written one after another, no check between
        listings.update(catalog.store, clerk, vid, {"rent": float(rent)}, if_match="*", merge=True)
        assert catalog.refresh() == ["vacancies"]
        replaced.append(weakref.ref(catalog.current()))
    last = catalog.current()
    # Built from the first snapshot's checker (its caches shared), not anew after every write.
    assert checker_for(last)._cache is checker._cache
    assert checker_for(last).snap is last and checker_for(first).snap is first
    del first, checker
    gc.collect()
    alive = [s for ref in replaced[:-1] if (s := ref()) is not None]
    assert alive == [], f"{len(alive)} replaced snapshots still alive"


def test_first_uses_of_a_fresh_snapshot_from_many_threads_all_finish(demo_db):
    """A checker made in one thread while another is inside the locator's vacancies (a cached
    property, locked for every instance in Python 3.11) that wants the gazetteer: once, the
    snapshot held its lock while making, and the two threads waited for each other forever."""
    current = Catalog(Store(demo_db)).current()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often: the unlucky order comes early
    try:
        for _ in range(4):
            fresh = Snapshot(current.layers, current.frame)  # nothing made from it yet
            locator = locator_for(fresh)  # made, its vacancies not yet
            start = threading.Barrier(4)

            def make_checker(snap=fresh, start=start):
                start.wait()
                checker_for(snap)

            def tie_vacancies(loc=locator, start=start):
                start.wait()
                loc.vacancies  # noqa: B018 - the cached property under test

            threads = [threading.Thread(target=f, daemon=True) for f in (make_checker, tie_vacancies) * 2]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30  # a checker of the demo takes well under a second
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            assert not any(t.is_alive() for t in threads), "threads still waiting for one another"
    finally:
        sys.setswitchinterval(switch)


def test_a_new_version_carries_over_only_what_does_not_read_the_changed_layer(store):
    from siteselect.load import load_frame
    from siteselect.locating import gazetteer_for
    from siteselect.match import match, scorer_for
    from siteselect.premises import Premises

    def _warm(snapshot: Snapshot) -> None:  # as the service prepares each snapshot
        checker_for(snapshot).warm()
        scorer_for(snapshot).warm()

    catalog = Catalog(store, prepare=_warm, max_age_s=3600)
    before = catalog.current()
    entries = store.read_layer("prohibited_addresses")
    load_frame(store, "prohibited_addresses", entries.iloc[1:], source="one fewer")
    assert catalog.refresh() == ["prohibited_addresses"]
    after = catalog.current()
    assert gazetteer_for(after) is gazetteer_for(before)  # it reads no prohibited list
    assert scorer_for(after).trees is scorer_for(before).trees
    assert checker_for(after) is not checker_for(before)
    assert len(checker_for(after).prohibited.features) == len(entries) - 1
    assert checker_for(after).listed is not checker_for(before).listed  # the new list's
    assert checker_for(after)._certificates is checker_for(before)._certificates  # the rest carried over
    assert locator_for(after).vacancies is locator_for(before).vacancies  # the same vacancies
    fresh = Catalog(Store(str(store.engine.url)), prepare=_warm).current()  # built from nothing
    addresses = entries["address"].dropna().tolist()
    premises = [Premises(industry=code, address=a) for a in addresses for code in ("6232", "5227")]
    assert checker_for(after).check_many(premises) == checker_for(fresh).check_many(premises)
    assert match(after, "6232", limit=10) == match(fresh, "6232", limit=10)
    numbers = store.read_layer("house_numbers")
    load_frame(store, "house_numbers", numbers.iloc[1:], source="one fewer")
    catalog.refresh()
    assert gazetteer_for(catalog.current()) is not gazetteer_for(after)
    assert scorer_for(catalog.current()).trees is not scorer_for(after).trees  # it counts around them


def test_a_layer_of_points_keeps_coordinates_and_makes_its_points_only_when_asked(demo_db):
    from siteselect import report
    from siteselect.match import match

    snapshot = Catalog(Store(demo_db)).current()
    pois, zones = snapshot.layer("pois"), snapshot.layer("zones")
    assert pois.shapes is None and zones.xy is None  # polygons stay shapes
    made = snapshot.frame.to_local(pois.features.geometry.to_numpy())  # as every other layer is made
    assert np.array_equal(pois.xy, shapely.get_coordinates(made))  # to the last digit
    rows = np.array([5, 0, 7])
    assert shapely.equals_exact(pois.planar(rows), made[rows], tolerance=0).all()
    area = shapely.buffer(made[3], 400.0)
    assert pois.touching(area).tolist() == np.flatnonzero(shapely.intersects(made, area)).tolist()
    # Checks, matches and reports answer from the coordinates: no point object per POI is made.
    lon, lat = pois.features.geometry.x.iloc[3], pois.features.geometry.y.iloc[3]
    checker_for(snapshot).check_many([Premises(industry="5261", lon=lon, lat=lat)])
    match(snapshot, "5261", limit=3)
    report.build(snapshot, report.ReportRequest(industry="5261", sites=({"lon": lon, "lat": lat},)))
    assert pois.shapes is None and snapshot.layer("house_numbers").shapes is None
    assert shapely.equals_exact(pois.local, made, tolerance=0).all()  # all of them, when asked for
