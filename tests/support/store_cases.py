"""Store behaviours checked on both backends (SQLite in tests/unit, PostGIS in tests/db)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from geopandas.testing import assert_geodataframe_equal

from siteselect.errors import NotFoundError
from siteselect.load import load_file
from siteselect.store import Store


class InterruptedLoadError(Exception):
    """Raised from the progress callback to stop a load half way."""


def failed_load_leaves_store_unchanged(store: Store, demo_files: dict[str, Path]) -> None:
    load_file(store, "pois", demo_files["pois"])
    before_counts, before_versions = store.counts(), store.versions()
    before = store.read_layer("pois")
    calls = []

    def stop_half_way(done: int, total: int) -> None:
        calls.append(done)
        if done >= total // 2:
            raise InterruptedLoadError

    from siteselect import store as store_module

    chunk = store_module.CHUNK
    store_module.CHUNK = 500  # small chunks, so the load is interrupted between two of them
    try:
        with pytest.raises(InterruptedLoadError):
            load_file(store, "pois", demo_files["pois"], on_progress=stop_half_way)
    finally:
        store_module.CHUNK = chunk
    assert len(calls) >= 2  # rows had really been written when it stopped
    assert store.counts() == before_counts
    assert store.versions() == before_versions
    assert_geodataframe_equal(store.read_layer("pois"), before)


def versions_stay_readable(store: Store, demo_files: dict[str, Path], tmp_path: Path) -> None:
    first = load_file(store, "parks", demo_files["parks"], loaded_by="steward-a")
    time.sleep(0.01)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    import geopandas as gpd

    parks = gpd.read_file(demo_files["parks"])
    parks = parks[parks["id"] != "park-005"]
    smaller = tmp_path / "parks-v2.geojson"
    parks.to_file(smaller)
    second = load_file(store, "parks", smaller, loaded_by="steward-b")
    assert (first.version, second.version) == (1, 2)
    assert first.checksum != second.checksum
    assert len(store.read_layer("parks")) == 4
    assert len(store.read_layer("parks", version=1)) == 5
    assert len(store.read_layer("parks", as_of=between)) == 5
    assert [v.loaded_by for v in store.versions("parks")] == ["steward-a", "steward-b"]
    assert store.current_versions()["parks"].version == 2
    with pytest.raises(NotFoundError, match="has no stored version 7"):
        store.read_layer("parks", version=7)
    with pytest.raises(NotFoundError, match="as of 2001-01-01"):
        store.read_layer("parks", as_of=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(NotFoundError, match="unknown layer 'park'"):
        store.read_layer("park")


def cells_are_stored(store: Store, demo_files: dict[str, Path]) -> None:
    version = load_file(store, "zones", demo_files["zones"])
    fids, cells = store.read_cells(version.id)
    zones = store.read_layer("zones")
    assert set(fids) == set(zones["id"])  # every feature, however small, has cells
    assert len(cells) > len(zones)  # polygons have several
    assert (cells > 0).all()


def staged_write_equals_the_write_from_memory(store: Store, demo_files: dict[str, Path]) -> None:
    """Features staged on disk in chunks are written as the same version as from memory: the same
    rows, cells and checksum, chunk after chunk."""
    from siteselect import store as store_module
    from siteselect.io import read_layer_file
    from siteselect.store import Staging
    from siteselect.validation import validate_frame

    gdf = validate_frame("pois", read_layer_file(demo_files["pois"], "wgs84"), "pois")
    whole = store.write_layer("pois", gdf, source="memory")
    chunk = store_module.CHUNK
    store_module.CHUNK = 97  # many chunks, the last one short
    try:
        with Staging("pois") as staged:
            for start in range(0, len(gdf), 150):  # staged in another order than the ids'
                part = gdf.iloc[::-1].iloc[start : start + 150]
                assert staged.add(part, range(start, start + len(part))) == []
            last = len(gdf) - 1  # a repeated id is named with the row it was staged from
            assert staged.add(gdf.iloc[:2], [7, 8]) == [(gdf["id"][0], last, 7), (gdf["id"][1], last - 1, 8)]
            done: list[int] = []
            chunked = store.write_layer(
                "pois", staged, source="staged", on_progress=lambda d, _t: done.append(d)
            )
    finally:
        store_module.CHUNK = chunk
    assert chunked.checksum == whole.checksum and chunked.feature_count == len(gdf)
    assert done == [*range(97, len(gdf), 97), len(gdf)]
    assert_geodataframe_equal(
        store.read_layer("pois", version=chunked.version), store.read_layer("pois", version=whole.version)
    )
    assert sorted(zip(*store.read_cells(chunked.id))) == sorted(zip(*store.read_cells(whole.id)))
