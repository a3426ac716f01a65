"""Prepared snapshots shared through a folder: a worker that reads one judges as one that built its
own from the store, and a file is never used for other versions than those it was made from."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import shapely

from siteselect import accounts, listings
from siteselect.check import checker_for
from siteselect.index import Catalog, Snapshot
from siteselect.load import load_frame
from siteselect.locating import gazetteer_for
from siteselect.match import match, scorer_for
from siteselect.premises import Premises
from siteselect.store import Store

CODES = ["6232", "5227", "8040", "9013", "5265"]


def _warm(snapshot: Snapshot) -> None:  # as the service prepares each snapshot
    checker_for(snapshot).warm()
    scorer_for(snapshot).warm()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Snapshots built from the store's layers (rather than read from a file), counted."""
    made: list[int] = []
    real = Catalog._made

    def counted(self: Catalog, *args: object) -> Snapshot:
        made.append(1)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Catalog, "_made", counted)
    return made


def _worker(store: Store, folder: Path | None) -> Catalog:
    """A worker's catalog: its own connection to the store, as a process of its own has."""
    return Catalog(Store(str(store.engine.url)), prepare=_warm, snapshot_dir=folder, max_age_s=3600)


def _premises(snapshot: Snapshot) -> list[Premises]:
    """Points over the district, every vacancy by id, and house numbers by address."""
    districts = snapshot.layer("districts").features
    minx, miny, maxx, maxy = districts[districts["level"] == "district"].total_bounds
    rng = np.random.default_rng(5)
    points = zip(rng.uniform(minx, maxx, 300).tolist(), rng.uniform(miny, maxy, 300).tolist())
    vacancies = snapshot.layer("vacancies").features["id"].tolist()
    addresses = snapshot.layer("house_numbers").features["address"].tolist()[::40]
    out = [Premises(industry=CODES[i % 5], lon=x, lat=y) for i, (x, y) in enumerate(points)]
    out += [Premises(industry=CODES[i % 5], vacancy_id=v, floor=1) for i, v in enumerate(vacancies)]
    return out + [Premises(industry=CODES[i % 5], address=a) for i, a in enumerate(addresses)]


def test_a_worker_started_from_the_file_judges_as_one_built_from_the_store(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    first = _worker(store, folder)
    assert len(builds) == 1 and len(list(folder.glob("snapshot-*.pickle"))) == 1
    read = _worker(store, folder).current()  # the next worker, or a restart
    assert len(builds) == 1, "the second worker built its own rather than reading the file"
    own = _worker(store, None).current()  # no folder: built from the store
    assert read is not first.current() and read.versions == own.versions == first.current().versions
    premises = _premises(own)
    assert checker_for(read).check_many(premises) == checker_for(own).check_many(premises)
    for code in CODES:
        ranked = match(read, code, limit=10, include_excluded=True)
        assert ranked == match(own, code, limit=10, include_excluded=True)
    assert sorted(read._made) == sorted(own._made)  # its checker, scorer… were read, not made again


def test_a_new_layer_version_is_built_and_never_served_from_an_older_file(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    before = _worker(store, folder).current()
    entries = store.read_layer("prohibited_addresses")
    version = load_frame(store, "prohibited_addresses", entries.iloc[1:], source="one fewer").version
    catalog = _worker(store, folder)
    assert len(builds) == 2 and len(list(folder.glob("snapshot-*.pickle"))) == 2
    now = catalog.current()
    assert now.versions == {n: v.version for n, v in store.current_versions().items()}
    assert now.versions["prohibited_addresses"] == version != before.versions["prohibited_addresses"]
    assert len(now.layer("prohibited_addresses").features) == len(entries) - 1


def test_listings_written_after_the_file_are_served_as_they_are_now(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    before = _worker(store, folder).current()
    clerk = accounts.add_user(store, "clerk", "clerk")
    vid = before.layer("vacancies").features["id"].iloc[0]
    listings.update(store, clerk, vid, {"status": "withdrawn"}, if_match="*", merge=True)
    catalog = _worker(store, folder)
    assert len(builds) == 2  # the file's layers, then the listings of now over them
    now = catalog.current()
    assert now.layer("vacancies").features.set_index("id").loc[vid, "status"] == "withdrawn"
    assert now.layers["zones"] is not before.layers["zones"] and now.versions == before.versions
    assert len(list(folder.glob("snapshot-*.pickle"))) == 1  # the layers' file serves on


def test_a_torn_file_is_built_again_and_replaced(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    _worker(store, folder)
    (path,) = folder.glob("snapshot-*.pickle")
    path.write_bytes(path.read_bytes()[:1000])  # a copy cut short
    assert _worker(store, folder).current().has("zones") and len(builds) == 2
    _worker(store, folder)
    assert len(builds) == 2  # the file written again reads


def test_workers_starting_at_once_build_one_snapshot(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    catalogs: list[Catalog] = []
    threads = [threading.Thread(target=lambda: catalogs.append(_worker(store, folder))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(catalogs) == 3 and len(builds) == 1
    assert len({tuple(sorted(c.current().versions.items())) for c in catalogs}) == 1


def test_a_folder_others_may_write_to_is_refused(store, tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(PermissionError, match="writable by no one else"):
        _worker(store, folder)


def test_a_file_that_cannot_be_written_leaves_nothing_behind_and_the_worker_serves(store, tmp_path, builds):
    folder = tmp_path / "snapshots"
    _worker(store, folder)
    (path,) = folder.glob("snapshot-*.pickle")
    path.unlink()
    path.mkdir()  # where the file goes, a folder that will not be replaced by one
    (path / "kept").write_text("x")
    catalog = _worker(store, folder)
    assert len(builds) == 2 and catalog.current().has("zones")
    assert not list(folder.glob("*.tmp")) and (path / "kept").exists()


def test_the_file_holds_each_geometry_once_and_reads_back_what_was_written(store, tmp_path):
    folder = tmp_path / "snapshots"
    own = _worker(store, folder).current()
    read = _worker(store, folder).current()
    for name, idx in own.layers.items():
        if len(idx.local):
            again = read.layers[name]
            assert shapely.equals_exact(again.local, idx.local, tolerance=0).all(), name
            assert shapely.equals_exact(again.features.geometry.to_numpy(), idx.features.geometry.to_numpy(),
                                        tolerance=0).all(), name  # fmt: skip
            points = shapely.get_type_id(again.local) == 0
            assert (shapely.is_prepared(again.local) == ~points).all(), name  # as when built
    numbers = read.layer("house_numbers").features
    at = dict(zip(numbers["id"], numbers.geometry.to_numpy()))
    rows = [row for on_road in gazetteer_for(read).numbers.values() for row in on_road.values()]
    assert rows and all(row.geometry is at[row.id] for row in rows)  # the layer's own, not copies
