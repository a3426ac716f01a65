"""Every file format loads to the same features, and exports convert coordinate systems."""

import geopandas as gpd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from siteselect.io import read_layer_file, write_layer_file
from siteselect.load import load_file
from siteselect.store import Store


@pytest.fixture(scope="module")
def zones(demo_files) -> gpd.GeoDataFrame:
    frame = read_layer_file(demo_files["zones"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".csv"])
def test_each_format_loads_the_same_features(tmp_path, sqlite_url, zones, suffix):
    path = tmp_path / f"zones{suffix}"
    if suffix == ".shp":  # a Shapefile holds one geometry type
        zones = zones[zones.geom_type != "Point"]
    write_layer_file(zones, path)
    store = Store(sqlite_url)
    load_file(store, "zones", path)
    got = store.read_layer("zones")
    want = zones.sort_values("id").reset_index(drop=True)[got.columns]
    assert_geodataframe_equal(got, want, check_less_precise=True, check_dtype=False)


def test_csv_with_lon_lat_columns(tmp_path, sqlite_url):
    path = tmp_path / "pois.csv"
    path.write_text(
        "id,name,category,industry,lon,lat\n"
        "p1,一点点奶茶,dining,6232,120.4561,36.1012\np2,海底捞,dining,H6210,120.46,36.102\n",
        encoding="utf-8",
    )
    store = Store(sqlite_url)
    load_file(store, "pois", path)
    got = store.read_layer("pois")
    assert got["industry"].tolist() == ["6232", "6210"]  # the section letter is normalised away
    assert got.geometry.iloc[0].equals(shapely.Point(120.4561, 36.1012))


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_load_in_a_chinese_system_and_export_back(tmp_path, sqlite_url, demo_files, system):
    store = Store(sqlite_url)
    load_file(store, "parks", demo_files["parks"])
    original = store.read_layer("parks")
    shifted = tmp_path / f"parks-{system}.geojson"
    write_layer_file(original, shifted, coordsys=system)
    moved = gpd.read_file(shifted)
    offset = original.to_crs(32651).centroid.distance(moved.to_crs(32651).centroid)
    assert (offset > 300).all()  # really shifted: GCJ-02 moves Laoshan ~500 m, BD-09 more
    load_file(store, "parks", shifted, coordsys=system)
    again = store.read_layer("parks")
    error = original.geometry.to_crs(32651).hausdorff_distance(again.geometry.to_crs(32651))
    assert error.max() < 0.01  # metres


def test_shapefile_refuses_mixed_geometry_types(tmp_path, zones):
    from siteselect.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="one geometry type, this layer has Point, Polygon"):
        write_layer_file(zones, tmp_path / "zones.shp")
