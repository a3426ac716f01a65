"""What maps draw: the base-map setting, compact GeoJSON, and the base layers cut to a view."""

import numpy as np
import pytest
import shapely

from siteselect.drawing import DECIMALS, Basemap, base_layers, buildings_layer, feature_collection, near
from siteselect.index import Catalog
from siteselect.store import Store


@pytest.fixture(scope="module")
def snapshot(demo_db):
    return Catalog(Store(demo_db)).current()


def test_the_basemap_setting_names_tiles_and_their_datum():
    assert Basemap.parse("none") == Basemap()
    gcj = Basemap.parse("gcj02:https://t/{z}/{x}/{y}.png", "© tiles")
    assert gcj.gcj02 and gcj.tiles == "https://t/{z}/{x}/{y}.png" and gcj.attribution == "© tiles"
    assert not Basemap.parse("https://osm/{z}/{x}/{y}.png").gcj02


def test_feature_collections_are_rounded_and_shifted_to_gcj02_only_when_asked(snapshot):
    point = shapely.Point(120.4612345678, 36.1012345678)
    plain = feature_collection(snapshot, [point], [{"name": "<b>x</b>"}], Basemap(), local=False)
    x, y = plain["features"][0]["geometry"]["coordinates"]
    assert (x, y) == (round(point.x, DECIMALS), round(point.y, DECIMALS))
    assert plain["features"][0]["properties"] == {"name": "<b>x</b>"}  # escaped where it is drawn
    shifted = feature_collection(snapshot, [point], [{}], Basemap(gcj02=True), local=False)
    sx, sy = shifted["features"][0]["geometry"]["coordinates"]
    assert 300 < np.hypot((sx - x) * 90_000, (sy - y) * 111_000) < 800  # GCJ-02's offset in Laoshan


def test_local_geometry_comes_back_to_lon_lat(snapshot):
    building = snapshot.layer("buildings")
    drawn = feature_collection(snapshot, building.local[:1], [{}], Basemap())
    ring = np.array(drawn["features"][0]["geometry"]["coordinates"][0])
    original = building.features.geometry.iloc[0]
    assert shapely.Polygon(ring).buffer(1e-5).contains(original.centroid)


def test_base_layers_are_cut_to_the_view(snapshot):
    everything = base_layers(snapshot)
    assert set(everything) == {"boundaries", "roads", "buildings"}
    building = snapshot.layer("buildings").local[0]
    view = building.buffer(100)
    cut = base_layers(snapshot, view)
    assert 0 < len(cut["buildings"][0]) < len(everything["buildings"][0])
    assert len(near(snapshot, "buildings", view)) == len(cut["buildings"][0])
    box = shapely.box(*view.bounds)
    assert all(box.buffer(1e-6).contains(g) for g in cut["roads"][0])
    _, props = buildings_layer(snapshot, view)
    assert all("（" in p["name"] for p in props)  # named with their use
    assert len(near(snapshot, "rivers", None)) == 0


def test_the_page_gets_its_verdict_colours_labels_and_styles_from_here():
    from siteselect.drawing import BASE_STYLES, VERDICT_COLOURS, page_constants

    shared = page_constants()
    assert shared["verdictColours"] == VERDICT_COLOURS
    assert shared["baseStyles"]["roads"] == BASE_STYLES["roads"][1]
    assert shared["verdicts"]["zh"]["prohibited"] == "不予登记"
    assert shared["verdicts"]["en"]["review"] == "review"
