"""Vector tiles on both stores: each tile, decoded with mapbox-vector-tile, holds exactly the
features that meet it (the tile and its buffer), drawn within a pixel and a half of the stored
geometry and missing none of it inside the tile, and their fields as properties; below street
scale at most so many, the largest; shifted to GCJ-02 on request; tiles are kept per layer
version and revalidated by ETag."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import tiles
from siteselect.coords import transform_geometries
from siteselect.filters import queryables
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store
from siteselect.tiles import BUFFER, EXTENT, MEDIA_TYPE, TileKey, tile_bounds, to_mercator
from tests.conftest import require_postgis
from tests.support.postgis import PostGISUnavailableError, fresh_database, postgis_server

pytestmark = pytest.mark.postgis
LAYERS = ("buildings", "zones", "pois", "roads")
PLACES = [(120.455, 36.095, 15), (120.47, 36.10, 16), (120.46, 36.09, 14), (120.44, 36.11, 13)]


def _xyz(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def service(request, demo_files, tmp_path_factory) -> Iterator[tuple[TestClient, Store]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tiles') / 'store.db'}"
        yield from _serve(url, demo_files)
        return
    try:
        with postgis_server() as server, fresh_database(server, "tiles") as url:
            yield from _serve(url, demo_files)
    except PostGISUnavailableError as exc:
        if require_postgis():
            pytest.fail(f"PostGIS is required (SITESELECT_REQUIRE_POSTGIS=1) but unavailable: {exc}")
        pytest.skip(f"PostGIS not available: {exc}")


def _serve(url: str, demo_files: dict[str, Any]) -> Iterator[tuple[TestClient, Store]]:
    store = Store(url)
    for layer in LAYERS:
        load_file(store, layer, demo_files[layer])
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, store
    store.close()


def _decoded(data: bytes, layer: str, z: int, x: int, y: int) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The tile's features by id: geometry back in web Mercator metres, and properties."""
    minx, miny, maxx, _ = tile_bounds(z, x, y)
    scale = (maxx - minx) / EXTENT

    def to_metres(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([minx + xy[:, 0] * scale, miny + xy[:, 1] * scale])

    out = {}
    for feature in mapbox_vector_tile.decode(data)[layer]["features"]:
        geom = shapely.transform(shapely.geometry.shape(feature["geometry"]), to_metres)
        out[feature["properties"]["id"]] = (geom, feature["properties"])
    return out


@pytest.mark.parametrize("layer", LAYERS)
def test_tiles_hold_the_features_that_meet_them(service, layer):
    client, store = service
    stored = store.read_layer(layer)
    metres = to_mercator(stored.geometry.to_numpy())
    kinds = {name: q.kind for name, q in queryables(layer).items()}
    checked = 0
    for z, x, y in (_xyz(*place) for place in PLACES):
        r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
        widened = shapely.box(*tile_bounds(z, x, y, BUFFER))
        meets = shapely.intersects(metres, widened)
        if r.status_code == 204:
            assert not meets.any()
            continue
        assert r.status_code == 200 and r.headers["content-type"] == MEDIA_TYPE
        got = _decoded(r.content, layer, z, x, y)
        assert sorted(got) == sorted(stored["id"][meets])
        pixel = (widened.bounds[2] - widened.bounds[0]) / (EXTENT + 2 * BUFFER)
        for record, geom in zip(stored[meets].drop(columns="geometry").to_dict("records"), metres[meets]):
            drawn, properties = got[record["id"]]
            near = 1.5 * pixel
            assert drawn.within(geom.buffer(near)), record["id"]  # nothing drawn that is not there
            inside = shapely.clip_by_rect(geom, *tile_bounds(z, x, y))
            assert inside.is_empty or inside.within(drawn.buffer(near)), record["id"]  # none left out
            want = {k: float(v) if kinds[k] in ("integer", "number") else v
                    for k, v in record.items() if k in kinds and v is not None}  # fmt: skip
            assert properties == want
            checked += 1
    assert checked > 0


def test_tiles_are_kept_per_layer_version(service, demo_files, tmp_path):
    client, store = service
    z, x, y = _xyz(*PLACES[0])
    url = f"/tiles/buildings/{z}/{x}/{y}.mvt"
    first = client.get(url)
    assert (
        client.get(url).content == first.content and client.get(url).headers["etag"] == first.headers["etag"]
    )
    version = client.app.state.catalog.current().layer("buildings").version
    assert TileKey(version.id, z, x, y) in client.app.state.tiles  # drawn once, then kept

    shown = sorted(_decoded(first.content, "buildings", z, x, y))
    buildings = store.read_layer("buildings")
    smaller = tmp_path / "buildings.geojson"
    buildings[buildings["id"] != shown[0]].to_file(smaller)
    load_file(store, "buildings", smaller)
    client.app.state.catalog.refresh()
    second = client.get(url)
    assert second.headers["etag"] != first.headers["etag"]
    assert sorted(_decoded(second.content, "buildings", z, x, y)) == shown[1:]


def test_a_tile_named_by_its_etag_is_not_sent_again(service):
    client, _ = service
    z, x, y = _xyz(*PLACES[0])
    url = f"/tiles/buildings/{z}/{x}/{y}.mvt"
    first = client.get(url)
    assert first.headers["cache-control"].startswith("public")
    again = client.get(url, headers={"If-None-Match": f'"other", W/{first.headers["etag"]}'})
    assert (
        again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    )
    assert client.get(url, headers={"If-None-Match": '"1-0-0-0-wgs84"'}).status_code == 200


def test_below_street_scale_a_tile_holds_the_largest_features_only(service, monkeypatch):
    client, store = service
    monkeypatch.setattr(tiles, "MAX_FEATURES", 5)
    stored = store.read_layer("buildings")
    z, x, y = _xyz(120.455, 36.095, 12)
    assert z < tiles.FULL_ZOOM
    widened = tile_bounds(z, x, y, BUFFER)
    box = to_mercator(np.array([shapely.box(*widened)], dtype=object), inverse=True)[0]
    candidates = stored[shapely.intersects(shapely.envelope(stored.geometry.to_numpy()), box)]
    assert len(candidates) > 5
    largest = candidates.assign(area=shapely.area(candidates.geometry.to_numpy()))
    largest = largest.sort_values(["area", "id"], ascending=[False, True]).head(5)
    meets = shapely.intersects(to_mercator(largest.geometry.to_numpy()), shapely.box(*widened))
    got = _decoded(client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt").content, "buildings", z, x, y)
    assert sorted(got) == sorted(largest["id"][meets])


def test_a_tile_shifted_to_gcj02_holds_the_features_where_gcj02_puts_them(service):
    client, store = service
    stored = store.read_layer("buildings")
    shifted = to_mercator(transform_geometries(stored.geometry.to_numpy(), "gcj02", inverse=True))
    z, x, y = _xyz(120.455, 36.095, 15)
    r = client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt", params={"datum": "gcj02"})
    assert r.headers["etag"] != client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt").headers["etag"]
    widened = shapely.box(*tile_bounds(z, x, y, BUFFER))
    meets = shapely.intersects(shifted, widened)
    got = _decoded(r.content, "buildings", z, x, y)
    assert meets.any() and sorted(got) == sorted(stored["id"][meets])
    pixel = (widened.bounds[2] - widened.bounds[0]) / (EXTENT + 2 * BUFFER)
    for fid, geom in zip(stored["id"][meets], shifted[meets]):
        assert got[fid][0].within(geom.buffer(1.5 * pixel)), fid
    assert client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt", params={"datum": "bd09"}).status_code == 422


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/rivers/15/0/0.mvt", 404),
        ("/tiles/vacancies/15/0/0.mvt", 404),
        ("/tiles/rules/15/0/0.mvt", 404),
        ("/tiles/buildings/23/0/0.mvt", 422),
        ("/tiles/buildings/3/8/0.mvt", 422),
        ("/tiles/buildings/3/0/-1.mvt", 422),
        ("/tiles/buildings/15/0/0.mvt", 204),  # the far north-west: nothing there
    ],
)
def test_tiles_that_cannot_be_or_hold_nothing(service, path, status):
    client, _ = service
    assert client.get(path).status_code == status
