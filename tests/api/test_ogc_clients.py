"""Real clients of the running service: GDAL's OAPIF driver (inside pyogrio) reading with an
attribute filter in CGCS2000, and OWSLib's Features client listing queryables and filtering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from owslib.ogcapi.features import Features

from siteselect import listings
from siteselect.geodesy import point_distance_m
from siteselect.store import Store
from tests.support.serve import running_service

EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"


@pytest.fixture(scope="module")
def service(demo_db) -> Iterator[str]:
    with running_service(demo_db) as base:
        yield base


@pytest.fixture
def gdal_log(tmp_path: Path) -> Iterator[Path]:
    """GDAL's debug log (every URL it fetches), for the length of one test."""
    log = tmp_path / "gdal.log"
    pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON", "CPL_LOG": str(log)})
    try:
        yield log
    finally:
        pyogrio.set_gdal_config_options({"CPL_DEBUG": None, "CPL_LOG": None})


def test_gdal_filters_on_the_server_and_reads_cgcs2000(service, demo_db, gdal_log):
    where = "status = 'available' AND floor > 5"
    got = pyogrio.read_dataframe(f"OAPIF:{service}/ogc", layer="vacancies", where=where, CRS="EPSG:4490")
    stored = [
        x
        for x in listings.all_listings(Store(demo_db))
        if x["status"] == "available" and (x["floor"] or 0) > 5
    ]
    assert len(got) == len(stored) > 0
    assert got.crs.to_epsg() == 4490
    by_id = {x["id"]: x for x in stored}
    assert set(got["id"]) == set(by_id)
    lon = np.array([by_id[i]["lon"] for i in got["id"]])
    lat = np.array([by_id[i]["lat"] for i in got["id"]])
    # GDAL hands geometries over in GIS order (x = longitude): CGCS2000 equals WGS-84 here
    assert np.allclose(got.geometry.x, lon, atol=1e-9) and np.allclose(got.geometry.y, lat, atol=1e-9)
    fetched = [line for line in gdal_log.read_text().splitlines() if "/collections/vacancies/items?" in line]
    sent = [line for line in fetched if "filter=" in line and f"crs={EPSG_4490}" in line]
    assert sent, fetched  # the filter went to the server, and the CRS with it


def test_owslib_lists_queryables_and_filters(service, demo_db):
    client = Features(f"{service}/ogc")
    queryables = client.collection_queryables("vacancies")["properties"]
    assert queryables["status"]["enum"] == ["available", "reserved", "leased", "withdrawn"]
    every = listings.all_listings(Store(demo_db))

    simple = client.collection_items("vacancies", status="available", limit=10_000)
    available = {x["id"] for x in every if x["status"] == "available"}
    assert simple["numberMatched"] == len(available) and {f["id"] for f in simple["features"]} == available

    cql = "status = 'available' AND S_DWITHIN(geometry, POINT(120.455 36.095), 800, meters)"
    near = client.collection_items("vacancies", filter=cql, limit=10_000, **{"filter-lang": "cql2-text"})
    within = [x["id"] for x in every if x["id"] in available
              and point_distance_m(120.455, 36.095, x["lon"], x["lat"]) <= 800]  # fmt: skip
    assert sorted(f["id"] for f in near["features"]) == sorted(within) and within
