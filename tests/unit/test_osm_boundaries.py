"""Real OpenStreetMap boundaries of Laoshan load as the districts layer."""

import geopandas as gpd
import pandas as pd
import pytest

from siteselect.load import load_frame
from siteselect.store import Store
from tests.conftest import SHARED_DATA

OSM = SHARED_DATA / "osm-qingdao-admin" / "laoshan_streets_osm.geojson"
CODES = SHARED_DATA / "china-division-laoshan" / "laoshan_streets.csv"

pytestmark = pytest.mark.skipif(
    not OSM.is_file() or not CODES.is_file(),
    reason="the shared reference data (../shared/reference/data) is not beside this checkout",
)


def test_osm_laoshan_and_its_streets_load_as_districts(sqlite_url):
    osm = gpd.read_file(OSM)
    codes = pd.read_csv(CODES, dtype=str).set_index("name")["code"].to_dict()
    codes["崂山区"] = "370212"
    frame = pd.DataFrame(
        {
            "id": osm["full_id"],
            "name": osm["name"],
            "level": osm["admin_level"].map({"6": "district", "8": "street"}),
            "code": osm["name"].map(codes),
            "geometry": osm.geometry.array,
        }
    )
    store = Store(sqlite_url)
    version = load_frame(store, "districts", frame, source=OSM.name)
    assert version.feature_count == 6
    districts = store.read_layer("districts")
    streets = districts[districts["level"] == "street"]
    assert sorted(streets["code"]) == [f"37021200{i}" for i in range(1, 6)]
    area_km2 = districts.to_crs(32651).set_index("name").area / 1e6
    assert area_km2["崂山区"] == pytest.approx(428.4, rel=0.01)
    assert area_km2["金家岭街道"] == pytest.approx(31.2, rel=0.02)
    fids, _cells = store.read_cells(version.id)
    assert set(fids) == set(districts["id"])
