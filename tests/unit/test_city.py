"""The synthetic city, rules scoped to districts, and how wide one deployment may reach."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from siteselect import city
from siteselect.errors import LayerValidationError
from siteselect.geodesy import FRAME_REACH_M, farthest_from_centre_m
from siteselect.settings import Settings
from siteselect.validation import validate_frame


@pytest.fixture(scope="module")
def three():
    return city.city_layers(3)


def test_each_district_is_the_demo_moved_with_ids_and_names_of_its_own(three):
    districts = three["districts"]
    outlines = districts[districts["level"] == "district"]
    assert outlines["code"].tolist() == ["370212", "370202", "370203"]
    assert not any(shapely.overlaps(a, b) for a in outlines.geometry for b in outlines.geometry if a is not b)
    for name, layer in three.items():
        assert layer["id"].is_unique, name
    numbers = three["house_numbers"]
    assert numbers["address"].is_unique and numbers["road"].str.startswith("市南").any()
    # Every building a house number names is one of the same district's.
    assert all(_district_of(h) == _district_of(b) for h, b in zip(numbers["id"], numbers["building_id"]))
    assert {_district_of(b) for b in numbers["building_id"]} == {"", "370202", "370203"}


def test_the_city_is_made_the_same_every_time(three):
    again = city.city_layers(3)
    for name in three:
        pd.testing.assert_frame_equal(pd.DataFrame(three[name]), pd.DataFrame(again[name]))


def test_the_ten_districts_fit_one_frame():
    box = city.extent(city.city_layers(10, base=_outlines_only()))
    assert 50_000 < farthest_from_centre_m(box) <= FRAME_REACH_M
    assert Settings(_env_file=None, extent=box).extent == box  # type: ignore[call-arg]


def test_an_extent_too_wide_for_one_frame_is_refused():
    with pytest.raises(ValidationError, match="reaches 318 km from its centre"):
        Settings(_env_file=None, extent=(117.0, 34.0, 122.0, 38.0))  # type: ignore[call-arg]


def test_the_local_rule_names_its_district_and_a_bad_code_is_refused():
    local = [r for r in city.city_rules(2) if r.get("districts")]
    assert [r["districts"] for r in local] == [["370202"]]
    assert city.city_rules(1) == [r for r in city.city_rules(2) if not r.get("districts")]
    rules = pd.DataFrame([{**local[0], "districts": "370202;37020X"}])
    with pytest.raises(LayerValidationError) as caught:
        validate_frame("rules", rules, "city rules")
    assert "districts" in str(caught.value) and "37020X" in str(caught.value)


def _district_of(fid: str) -> str:
    """The district code an id starts with ("" for the demo's own)."""
    return fid[:6] if fid[6:7] == "-" else ""


def _outlines_only():
    layers = city.city_layers(1)
    return {"districts": layers["districts"], "roads": layers["roads"], "parks": layers["parks"],
            "house_numbers": layers["house_numbers"].iloc[:0]}  # fmt: skip
