"""The Laoshan demo: deterministic, complete, and with the figures of the platform it models."""

import geopandas as gpd
import pytest
from geopandas.testing import assert_geodataframe_equal

from siteselect.demo import generate
from siteselect.store import Store

STREETS = {
    "370212001": "中韩街道",
    "370212002": "沙子口街道",
    "370212003": "王哥庄街道",
    "370212004": "北宅街道",
    "370212005": "金家岭街道",
}


@pytest.fixture(scope="module")
def demo(demo_db):
    store = Store(demo_db)
    return {name: store.read_layer(name) for name in store.current_versions()}


def test_generator_is_deterministic():
    first, second = generate(), generate()
    assert first.keys() == second.keys()
    for name in first:
        assert_geodataframe_equal(first[name], second[name])


def test_streets_have_their_real_names_and_codes(demo):
    districts = demo["districts"]
    streets = districts[districts["level"] == "street"]
    assert dict(zip(streets["code"], streets["name"])) == STREETS
    (laoshan,) = districts[districts["level"] == "district"].itertuples()
    assert (laoshan.code, laoshan.name) == ("370212", "崂山区")
    union = streets.geometry.union_all()
    assert union.symmetric_difference(laoshan.geometry).area < 1e-9  # streets tile the district
    assert streets.geometry.area.sum() == pytest.approx(union.area)  # without overlaps


def test_figures_of_the_modelled_platform(demo):
    assert len(demo["prohibited_addresses"]) == 82
    assert demo["buildings"]["accepted_on"].notna().sum() == 361
    assert len(demo["buildings"]) > 361
    assert demo["house_numbers"]["certificate_no"].notna().sum() >= 80
    assert demo["vacancies"]["prefiled"].fillna(False).astype(bool).sum() >= 70
    business = demo["pois"][demo["pois"]["industry"].notna()]
    assert len(business) >= 3000
    assert len(demo["rules"]) >= 20


def test_every_building_use_and_every_sensitive_kind_is_present(demo):
    assert set(demo["buildings"]["use"]) >= {
        "residential",
        "commercial",
        "office",
        "industrial",
        "mixed",
        "public",
        "other",
    }
    kinds = set(demo["zones"]["kind"])
    assert kinds >= {
        "primary_school",
        "middle_school",
        "kindergarten",
        "hospital",
        "water_source_1",
        "water_source_2",
        "scenic_core",
        "residential_compound",
    }
    campuses = demo["zones"][demo["zones"]["kind"].isin(["primary_school", "kindergarten", "hospital"])]
    assert (campuses.geom_type == "Polygon").all()  # campuses, not points
    assert {"metro", "bus"} <= set(demo["pois"]["category"])


def test_every_street_has_buildings_and_businesses(demo):
    streets = demo["districts"][demo["districts"]["level"] == "street"]
    for layer in ("buildings", "pois"):
        joined = gpd.sjoin(demo[layer].set_geometry(demo[layer].representative_point()), streets)
        assert set(joined["name_right"]) == set(STREETS.values()), layer


def test_rules_cite_their_legal_basis(demo):
    rules = demo["rules"]
    assert all(c["law"] and c["article"] for basis in rules["basis"] for c in basis)
    assert set(rules["kind"]) >= {
        "min_distance",
        "not_within",
        "building_use_not_in",
        "requires_flue",
        "floor_at_least",
    }
    internet_cafe = rules[rules["id"] == "R01-school-200m"].iloc[0]
    assert internet_cafe["params"] == {
        "zone_kinds": ["primary_school", "middle_school"],
        "meters": 200,
    }


def test_house_numbers_point_into_their_buildings(demo):
    buildings = demo["buildings"].set_index("id")
    numbers = demo["house_numbers"]
    inside = [buildings.geometry[b].covers(p) for b, p in zip(numbers["building_id"], numbers.geometry)]
    assert all(inside)
