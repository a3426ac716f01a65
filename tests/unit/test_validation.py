"""Bad layer files: every problem named with file, feature, field and value; nothing loaded."""

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from siteselect.errors import LayerValidationError
from siteselect.load import load_file
from siteselect.store import Store
from siteselect.validation import validate_frame

GOOD_ZONE = {"id": "Z1", "name": "第一小学", "kind": "primary_school", "department": "教育局"}
SQUARE = [[[120.45, 36.10], [120.451, 36.10], [120.451, 36.101], [120.45, 36.101], [120.45, 36.10]]]
BOWTIE = [[[120.45, 36.10], [120.451, 36.101], [120.451, 36.10], [120.45, 36.101], [120.45, 36.10]]]


def _geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _polygon(coords=SQUARE) -> dict:
    return {"type": "Polygon", "coordinates": coords}


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


# layer, properties, geometry, expected field, expected words in the message
BAD_ROWS = [
    ("zones", GOOD_ZONE | {"kind": "school"}, _polygon(), "kind", "is not one of"),
    ("zones", GOOD_ZONE | {"name": ""}, _polygon(), "name", "is required"),
    ("zones", GOOD_ZONE | {"colour": "red"}, _polygon(), "colour", "is not a field of layer zones"),
    ("zones", GOOD_ZONE, _polygon(BOWTIE), "geometry", "invalid geometry: Self-intersection"),
    (
        "zones",
        GOOD_ZONE,
        {"type": "LineString", "coordinates": [[120.45, 36.1], [120.46, 36.1]]},
        "geometry",
        "geometry must be Polygon or MultiPolygon or Point",
    ),
    ("zones", GOOD_ZONE, None, "geometry", "geometry is missing"),
    ("zones", GOOD_ZONE, {"type": "Polygon", "coordinates": []}, "geometry", "geometry is empty"),
    ("zones", GOOD_ZONE, _point(116.40, 39.90), "geometry", "outside the district's extent"),
    ("zones", GOOD_ZONE, _point(36.10, 120.45), "geometry", "lat/lon swapped"),
    (
        "pois",
        {"id": "p1", "name": "奶茶店", "category": "dining", "industry": "62"},
        _point(120.45, 36.1),
        "industry",
        "is not a GB/T 4754 class code",
    ),
    (
        "pois",
        {"id": "p1", "name": "奶茶店", "category": "dining", "industry": "9910"},
        _point(120.45, 36.1),
        "industry",
        "division 99 does not exist",
    ),
    (
        "pois",
        {"id": "p1", "name": "奶茶店", "category": "dining", "industry": "A6210"},
        _point(120.45, 36.1),
        "industry",
        "belongs to section H, not A",
    ),
    (
        "buildings",
        {"id": "b1", "name": "楼", "use": "office", "accepted_on": "2024-13-01"},
        _polygon(),
        "accepted_on",
        "is not a date YYYY-MM-DD",
    ),
    (
        "buildings",
        {"id": "b1", "name": "楼", "use": "office", "accepted_on": "12/03/2024"},
        _polygon(),
        "accepted_on",
        "is not a date YYYY-MM-DD",
    ),
    (
        "buildings",
        {"id": "b1", "name": "楼", "use": "office", "floors": "three"},
        _polygon(),
        "floors",
        "is not a whole number",
    ),
    (
        "buildings",
        {"id": "b1", "name": "楼", "use": "office", "flue": "maybe"},
        _polygon(),
        "flue",
        "is not true/false",
    ),
    (
        "buildings",
        {"id": "b1", "name": "楼", "use": "office", "floors": 0},
        _polygon(),
        "floors",
        "is below the minimum 1",
    ),
    (
        "vacancies",
        {"id": "v1", "address": "x", "area_m2": -5, "status": "available"},
        _point(120.45, 36.1),
        "area_m2",
        "is below the minimum 1",
    ),
    (
        "prohibited_addresses",
        {"id": "x1", "address": "a", "reason": "r", "industries": "62;XX", "department": "d"},
        _point(120.45, 36.1),
        "industries",
        "industry 'XX': no GB/T 4754 entry matches",
    ),
    (
        "prohibited_addresses",
        {
            "id": "x1",
            "address": "a",
            "reason": "r",
            "industries": "*",
            "department": "d",
            "effective_from": "2025-01-01",
            "effective_to": "2024-01-01",
        },
        _point(120.45, 36.1),
        "effective_to",
        "is before effective_from 2025-01-01",
    ),
    (
        "house_numbers",
        {"id": "h1", "address": "a", "road": "香港东路", "number": "一七八"},
        _point(120.45, 36.1),
        "number",
        "does not match the pattern",
    ),
    (
        "vacancies",
        {"id": "v1", "address": "株洲路" * 67, "area_m2": 50, "status": "available"},
        _point(120.45, 36.1),
        "address",
        "is longer than 200 characters (201)",
    ),
]


@pytest.mark.parametrize(("layer", "props", "geometry", "field", "words"), BAD_ROWS)
def test_bad_value_is_named_and_nothing_loads(tmp_path, sqlite_url, layer, props, geometry, field, words):
    good = _feature({"id": "ok", "name": "x", "kind": "kindergarten", "department": "d"}, _polygon())
    features = [good, _feature(props, geometry)] if layer == "zones" else [_feature(props, geometry)]
    path = _geojson(tmp_path / "layer.geojson", features)
    store = Store(sqlite_url)
    with pytest.raises(LayerValidationError) as caught:
        load_file(store, layer, path)
    problems = [p for p in caught.value.problems if p.field == field]
    assert problems, caught.value
    problem = problems[0]
    assert words in problem.message
    assert str(path) in str(problem)  # the file is named
    expected_row = 1 if layer == "zones" else 0
    if field in props or field == "geometry" or field == "effective_to":
        assert problem.row == expected_row or problem.row is None
    assert store.versions() == [] and store.counts() == {"versions": 0, "features": 0, "cells": 0}


def test_every_problem_of_a_file_is_reported_together(tmp_path, sqlite_url):
    features = [
        _feature(GOOD_ZONE | {"id": "a", "kind": "castle"}, _polygon()),
        _feature(GOOD_ZONE | {"id": "b"}, _polygon(BOWTIE)),
        _feature(GOOD_ZONE | {"id": "a"}, _point(36.1, 120.45)),
        _feature(GOOD_ZONE | {"id": "d"}, _polygon()),
    ]
    path = _geojson(tmp_path / "zones.geojson", features)
    with pytest.raises(LayerValidationError) as caught:
        load_file(Store(sqlite_url), "zones", path)
    found = {(p.row, p.field) for p in caught.value.problems}
    assert found == {(0, "kind"), (1, "geometry"), (2, "id"), (2, "geometry")}
    text = str(caught.value)
    assert "feature 2, field 'id': duplicates the id of feature 0" in text
    assert "4 problem(s); nothing was loaded" in text


def test_missing_required_column_is_reported_once(tmp_path, sqlite_url):
    path = tmp_path / "pois.csv"
    path.write_text("id,lon,lat,name\np1,120.45,36.1,店\np2,120.46,36.1,店\n", encoding="utf-8")
    with pytest.raises(LayerValidationError) as caught:
        load_file(Store(sqlite_url), "pois", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (None, "category", "required column is missing")
    ]


def test_csv_with_bad_number_names_row_and_column(tmp_path, sqlite_url):
    path = tmp_path / "pois.csv"
    path.write_text(
        "id,lon,lat,name,category\np1,120.45,36.1,店,dining\np2,120.4x,36.1,店,dining\n",
        encoding="utf-8",
    )
    with pytest.raises(LayerValidationError) as caught:
        load_file(Store(sqlite_url), "pois", path)
    (problem,) = caught.value.problems
    assert (problem.row, problem.field, problem.value) == (1, "lon", "120.4x")


def test_csv_with_bad_wkt_names_the_row(tmp_path, sqlite_url):
    path = tmp_path / "parks.csv"
    path.write_text(
        'id,name,operator,geometry\nk1,园,运营,"POLYGON ((120.45 36.1, 120.46 36.1, 120.46'
        ' 36.11, 120.45 36.1))"\nk2,园,运营,"POLYGON ((120.45 36.1, oops))"\n',
        encoding="utf-8",
    )
    with pytest.raises(LayerValidationError) as caught:
        load_file(Store(sqlite_url), "parks", path)
    (problem,) = caught.value.problems
    assert (problem.row, problem.field) == (1, "geometry")
    assert "is not WKT" in problem.message


def test_rule_of_unknown_kind_or_wrong_params_names_rule_and_field(tmp_path, sqlite_url):
    path = tmp_path / "rules.yaml"
    path.write_text(
        """
- {id: r0, title: t, industries: ["9013"], kind: building_use_not_in, params: {uses: [residential]},
   severity: prohibited, basis: &b [{law: 网吧条例, revision: "2022-03-29", article: 第九条}],
   certainty: verified, department: culture}
- {id: r1, title: t, industries: ["9013"], kind: near_school, params: {}, severity: prohibited,
   basis: *b, certainty: verified,
   department: culture}
- {id: r2, title: t, industries: ["9013"], kind: min_distance, params: {zone_kinds: [school]},
   severity: prohibited, basis: *b, certainty: verified,
   department: culture}
- {id: r3, title: t, industries: ["9013"], kind: floor_at_least, params: {floor: 1, x: 2},
   severity: review, basis: *b, certainty: verified,
   department: culture}
""",
        encoding="utf-8",
    )
    with pytest.raises(LayerValidationError) as caught:
        load_file(Store(sqlite_url), "rules", path)
    found = {(p.row, p.field) for p in caught.value.problems}
    assert found == {(1, "kind"), (2, "params.zone_kinds"), (2, "params.meters"), (3, "params.x")}


def test_unknown_file_type_and_missing_file_are_clear(tmp_path, sqlite_url):
    from siteselect.errors import InvalidInputError

    store = Store(sqlite_url)
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match=r"unknown file type '\.txt'"):
        load_file(store, "pois", tmp_path / "x.txt")
    with pytest.raises(InvalidInputError, match="no such file"):
        load_file(store, "pois", tmp_path / "absent.csv")


def test_the_rules_spec_names_exactly_the_kinds_the_table_knows():
    from siteselect.rule_kinds import KINDS
    from siteselect.specs import layer_specs

    assert set(layer_specs()["rules"].fields["kind"].enum or ()) == set(KINDS)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("创新\x00园", "contains a NUL character"),
        ("创新\udcff园", "contains an unpaired surrogate (not valid text)"),
    ],
)
def test_text_no_store_can_keep_is_refused(text, why):
    frame = gpd.GeoDataFrame(
        {"id": ["p1"], "name": [text], "operator": ["某公司"]},
        geometry=[shapely.box(120.44, 36.12, 120.45, 36.13)], crs="EPSG:4326",
    )  # fmt: skip
    with pytest.raises(LayerValidationError) as caught:
        validate_frame("parks", frame, "request")
    assert [(p.field, p.message) for p in caught.value.problems] == [("name", why)]
