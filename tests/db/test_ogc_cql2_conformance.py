# ruff: noqa: E501 - the table of cases reads best one case to a line
"""CQL2 conformance, on both stores: each operator evaluated by the service (a CQL2 filter on
``/ogc/collections/{id}/items``) against a plain Python evaluation of the same filter on the same
features. SQLite tests its geometry with GEOS in the process, PostGIS with its own functions; both
must give exactly the features Python picks (three-valued: a comparison with a missing value is
unknown, and unknown is not selected)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from api.app import create_app
from siteselect import listings
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store
from tests.conftest import require_postgis
from tests.support.postgis import PostGISUnavailableError, fresh_database, postgis_server

pytestmark = pytest.mark.postgis
LAYERS = ("buildings", "pois", "zones", "vacancies")
GEOD = Geod(ellps="WGS84")
Truth = bool | None


def _cmp(value: Any, test: Callable[[Any], bool]) -> Truth:
    return None if value is None else bool(test(value))


def _not(t: Truth) -> Truth:
    return None if t is None else not t


def _and(*ts: Truth) -> Truth:
    return False if False in ts else (None if None in ts else True)


def _or(*ts: Truth) -> Truth:
    return True if True in ts else (None if None in ts else False)


@dataclass(frozen=True)
class Case:
    operator: str
    layer: str
    cql: str | dict[str, Any]  # CQL2 text, or JSON
    python: Callable[[dict[str, Any], Any], Truth]


def _json(op: str, geom: Any) -> dict[str, Any]:
    """A spatial filter in CQL2 JSON: the geometry with every digit (CQL2 text is read to 15)."""
    return {"op": op, "args": [{"property": "geometry"}, shapely.geometry.mapping(geom)]}


def _wkt(geom: Any) -> str:
    return shapely.to_wkt(geom, rounding_precision=-1)


def _geodesic_m(lon: float, lat: float, geom: Any) -> float:
    """Plain geodesic distance from a point to a point (pyproj's Geod)."""
    return float(GEOD.inv(lon, lat, geom.x, geom.y)[2])


def _cases(features: dict[str, Any]) -> list[Case]:
    """The table, with geometries taken from the data so every spatial operator selects some."""
    buildings = features["buildings"]
    block = shapely.box(120.445, 36.085, 120.462, 36.100)  # cuts through some buildings
    one = buildings.geometry.iloc[len(buildings) // 2]
    inside = one.representative_point()
    ring = shapely.LineString(one.exterior.coords)
    line = shapely.LineString([(120.40, 36.092), (120.50, 36.094)])
    centre = (120.455, 36.095)
    date = next(d for d in buildings["accepted_on"] if d)
    return [
        Case("=", "buildings", "floors = 6", lambda p, g: _cmp(p["floors"], lambda v: v == 6)),
        Case("<>", "buildings", "use <> 'residential'", lambda p, g: _cmp(p["use"], lambda v: v != "residential")),
        Case("<", "buildings", "floors < 4", lambda p, g: _cmp(p["floors"], lambda v: v < 4)),
        Case("<=", "buildings", "floors <= 4", lambda p, g: _cmp(p["floors"], lambda v: v <= 4)),
        Case(">", "buildings", "floors > 25", lambda p, g: _cmp(p["floors"], lambda v: v > 25)),
        Case(">=", "buildings", "floors >= 25", lambda p, g: _cmp(p["floors"], lambda v: v >= 25)),
        Case("BETWEEN", "buildings", "floors BETWEEN 5 AND 8", lambda p, g: _cmp(p["floors"], lambda v: 5 <= v <= 8)),
        Case("IN", "buildings", "use IN ('office', 'commercial')",
             lambda p, g: _cmp(p["use"], lambda v: v in ("office", "commercial"))),
        Case("LIKE", "buildings", "name LIKE '%大厦'", lambda p, g: _cmp(p["name"], lambda v: v.endswith("大厦"))),
        Case("LIKE _", "pois", "industry LIKE '62_1'",
             lambda p, g: _cmp(p["industry"], lambda v: len(v) == 4 and v.startswith("62") and v[3] == "1")),
        Case("LIKE case", "buildings", "NOT (use LIKE 'OFF%')", lambda p, g: _not(_cmp(p["use"], lambda v: v.startswith("OFF")))),
        Case("IS NULL", "buildings", "accepted_on IS NULL", lambda p, g: p["accepted_on"] is None),
        Case("IS NOT NULL", "pois", "industry IS NOT NULL", lambda p, g: p["industry"] is not None),
        Case("NOT", "buildings", "NOT (flue = true)", lambda p, g: _not(_cmp(p["flue"], lambda v: v is True))),
        Case("AND", "vacancies", "status = 'available' AND rent < 100",
             lambda p, g: _and(_cmp(p["status"], lambda v: v == "available"), _cmp(p["rent"], lambda v: v < 100))),
        Case("OR", "buildings", "flue = true OR floors >= 30",
             lambda p, g: _or(_cmp(p["flue"], lambda v: v is True), _cmp(p["floors"], lambda v: v >= 30))),
        Case("boolean", "vacancies", "prefiled = true", lambda p, g: _cmp(p["prefiled"], lambda v: v is True)),
        Case("CASEI", "buildings", "CASEI(use) = CASEI('OFFICE')", lambda p, g: _cmp(p["use"], lambda v: v == "office")),
        Case("S_INTERSECTS", "buildings", f"S_INTERSECTS(geometry, {_wkt(block)})", lambda p, g: g.intersects(block)),
        Case("S_INTERSECTS points", "pois", f"S_INTERSECTS(geometry, {_wkt(block)})", lambda p, g: g.intersects(block)),
        Case("S_INTERSECTS live", "vacancies", f"S_INTERSECTS(geometry, {_wkt(block)})",
             lambda p, g: g.intersects(block)),
        Case("S_DISJOINT", "buildings", f"S_DISJOINT(geometry, {_wkt(block)})", lambda p, g: g.disjoint(block)),
        Case("S_WITHIN", "buildings", f"S_WITHIN(geometry, {_wkt(block)})", lambda p, g: g.within(block)),
        Case("S_OVERLAPS", "buildings", f"S_OVERLAPS(geometry, {_wkt(block)})", lambda p, g: g.overlaps(block)),
        Case("S_CONTAINS", "buildings", f"S_CONTAINS(geometry, {_wkt(inside)})", lambda p, g: g.contains(inside)),
        Case("S_EQUALS", "buildings", _json("s_equals", one), lambda p, g: g.equals(one)),
        Case("S_TOUCHES", "buildings", _json("s_touches", ring), lambda p, g: g.touches(ring)),
        Case("S_CROSSES", "buildings", f"S_CROSSES(geometry, {_wkt(line)})", lambda p, g: g.crosses(line)),
        Case("S_DWITHIN", "pois", f"S_DWITHIN(geometry, POINT({centre[0]} {centre[1]}), 400, meters)",
             lambda p, g: _geodesic_m(*centre, g) <= 400),
        Case("S_DWITHIN live", "vacancies", f"S_DWITHIN(geometry, POINT({centre[0]} {centre[1]}), 800, meters)",
             lambda p, g: _geodesic_m(*centre, g) <= 800),
        Case("T_BEFORE", "buildings", "T_BEFORE(accepted_on, DATE('2012-01-01'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: v < "2012-01-01")),
        Case("T_AFTER", "buildings", "T_AFTER(accepted_on, DATE('2018-06-30'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: v > "2018-06-30")),
        Case("T_EQUALS", "buildings", f"T_EQUALS(accepted_on, DATE('{date}'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: v == date)),
        Case("T_DURING", "buildings", "T_DURING(accepted_on, INTERVAL('2010-01-01', '2015-12-31'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: "2010-01-01" < v < "2015-12-31")),
        Case("T_INTERSECTS", "buildings", "T_INTERSECTS(accepted_on, INTERVAL('2016-01-01', '..'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: v >= "2016-01-01")),
        Case("T_DISJOINT", "buildings", "T_DISJOINT(accepted_on, INTERVAL('..', '2012-06-30'))",
             lambda p, g: _cmp(p["accepted_on"], lambda v: v > "2012-06-30")),
        Case("T_AFTER live", "vacancies", "T_AFTER(updated_at, TIMESTAMP('2026-10-15T00:00:00Z'))",
             lambda p, g: _cmp(p["updated_at"], lambda v: v > "2026-10-15T00:00:00+00:00")),
    ]  # fmt: skip


def _features(store: Store) -> dict[str, Any]:
    out = {layer: store.read_layer(layer) for layer in LAYERS if layer != "vacancies"}
    out["vacancies"] = listings.as_frame(listings.all_listings(store))
    return out


def _load(url: str, demo_files: dict[str, Any]) -> None:
    store = Store(url)
    for layer in LAYERS:
        load_file(store, layer, demo_files[layer])
    listings.seed(store)
    store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def service(request, demo_files, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('cql2') / 'store.db'}"
        _load(url, demo_files)
        yield from _serve(url)
        return
    try:
        with postgis_server() as server, fresh_database(server, "cql2_conformance") as url:
            _load(url, demo_files)
            yield from _serve(url)
    except PostGISUnavailableError as exc:
        if require_postgis():
            pytest.fail(f"PostGIS is required (SITESELECT_REQUIRE_POSTGIS=1) but unavailable: {exc}")
        pytest.skip(f"PostGIS not available: {exc}")


def _serve(url: str) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    store = Store(url)
    features = _features(store)
    store.close()
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, features


def test_every_operator_selects_what_python_selects(service):
    client, features = service
    table = _cases(features)
    failures, empty = [], []
    for case in table:
        gdf = features[case.layer]
        records = gdf.drop(columns="geometry").to_dict("records")
        records = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in records
        ]
        expected = sorted(r["id"] for r, g in zip(records, gdf.geometry) if case.python(r, g) is True)
        lang = "cql2-text" if isinstance(case.cql, str) else "cql2-json"
        cql = case.cql if isinstance(case.cql, str) else json.dumps(case.cql)
        params = {"filter": cql, "filter-lang": lang, "limit": 10_000}
        r = client.get(f"/ogc/collections/{case.layer}/items", params=params)
        assert r.status_code == 200, f"{case.operator}: {r.text}"
        got = sorted(f["id"] for f in r.json()["features"])
        if got != expected:
            failures.append(f"{case.operator}: {len(got)} by the service, {len(expected)} by Python "
                            f"(only the service: {sorted(set(got) - set(expected))[:5]}, "
                            f"only Python: {sorted(set(expected) - set(got))[:5]})")  # fmt: skip
        if not expected:
            empty.append(case.operator)
    assert not failures, "\n".join(failures)
    assert not empty, f"cases that select nothing prove little: {empty}"
