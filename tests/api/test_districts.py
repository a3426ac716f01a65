"""Several districts, one service: premises are judged with the rules of the district they lie in.

A small city of two demo-like districts (崂山区 and 市南区, the same layers moved a third of a degree
west, so every distance is the same in both) with 市南区's local rule: internet cafés 300 m from
schools, or no registration. A premises in 市南区 between 200 m and 300 m of a school is judged with
that rule on every
path (the library alone, in a batch and in brief, ``POST /check``, ``/check/batch``, ``/compare``,
``/reports``, ``/match``, the surface and ``siteselect batch``); its twin in 崂山区, at the same
distances, is judged without it. A point outside both gets the outside-the-district 422.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import city
from siteselect.batch import assess
from siteselect.check import checker_for
from siteselect.demo import LOAD_ORDER
from siteselect.index import LayerIndex, Snapshot
from siteselect.load import load_file
from siteselect.locating import Districts
from siteselect.match import surface
from siteselect.premises import Premises
from siteselect.settings import Settings
from siteselect.store import Store

LOCAL = "L370202-minors-300m"
AS_OF = "2026-06-01"
CAFE = "9013"
SHINAN, LAOSHAN = "370202", "370212"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    files = city.write_city(folder / "files", count=2)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{folder / 'city.db'}",
        extent=city.extent(city.city_layers(2)),
    )
    store = Store(settings.database_url)
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer], settings=settings, loaded_by="tests")
    store.close()
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def twins(client) -> dict[str, Any]:
    """A vacancy of 市南区 between 200 m and 300 m of a school, and the same vacancy in 崂山区."""
    snapshot = client.app.state.catalog.current()
    vacancies = snapshot.layer("vacancies").features
    available = vacancies[(vacancies["status"] == "available") & vacancies["id"].str.startswith(SHINAN)]
    checks = checker_for(snapshot).check_many(
        [Premises.parse(industry=CAFE, vacancy_id=v, as_of=AS_OF) for v in available["id"]]
    )
    found = next(c for c in checks if LOCAL in {r["id"] for r in c["reasons"]})
    shinan = found["location"]["given"]["vacancy_id"]
    laoshan = shinan.removeprefix(f"{SHINAN}-")
    points = vacancies.set_index("id").geometry
    return {
        "vacancies": {SHINAN: shinan, LAOSHAN: laoshan},
        "points": {k: (points[v].x, points[v].y) for k, v in {SHINAN: shinan, LAOSHAN: laoshan}.items()},
    }


def _ids(result: dict[str, Any]) -> set[str]:
    return {r["id"] for r in result["reasons"]}


def test_each_premises_is_judged_with_its_districts_rules_on_every_path(client, twins):
    snapshot = client.app.state.catalog.current()
    checker = checker_for(snapshot)
    for district, has_local in ((SHINAN, True), (LAOSHAN, False)):
        lon, lat = twins["points"][district]
        vacancy = twins["vacancies"][district]
        sites = [{"lon": lon, "lat": lat}, {"vacancy_id": vacancy}]
        for site in sites:
            premises = Premises.parse(industry=CAFE, as_of=AS_OF, **site)
            alone = checker.check(premises)
            assert alone["location"]["district"] == district
            assert (LOCAL in _ids(alone)) is has_local, (district, site)
            among = checker.check_many([Premises.parse(industry=CAFE, lon=120.46, lat=36.1), premises])[1]
            assert _ids(among) == _ids(alone)
            brief = checker.verdicts([premises])[0]
            assert (brief.verdict, set(brief.reasons)) == (alone["verdict"], _ids(alone))

            body = {"industry": CAFE, "as_of": AS_OF, **site}
            posted = client.post("/check", json=body).json()
            assert (posted["verdict"], _ids(posted)) == (alone["verdict"], _ids(alone))
            batch = client.post("/check/batch", json={"items": [body]}).json()["results"][0]
            assert _ids(batch) == _ids(alone)
            compared = client.post("/compare", json={"industry": CAFE, "as_of": AS_OF, "sites": [site, site]})
            assert _ids(compared.json()["sites"][0]) == _ids(alone)
            report = client.post("/reports", json={"industry": CAFE, "as_of": AS_OF, "sites": [site]})
            assert report.status_code == 201 and report.json()["verdicts"] == [alone["verdict"]]
            assert (LOCAL in client.get(report.json()["url"]).text) is has_local

        table = pd.DataFrame({"ref": ["a"], "industry": [CAFE], "lon": [lon], "lat": [lat], "floor": [None]})
        assessed = assess(snapshot, table).iloc[0]
        assert (LOCAL in assessed["reasons"].split(";")) is has_local


def test_matching_sets_apart_by_the_local_rule_only_in_its_district(client, twins):
    # Asked street by street (each district's streets are its own), so that every listing of the
    # street is checked: fewer than the 200 a match lists.
    snapshot = client.app.state.catalog.current()
    outlines = snapshot.layer("districts").features
    streets = outlines[outlines["level"] == "street"]
    found: dict[str, list[Any]] = {"excluded": [], "results": []}
    for district in (SHINAN, LAOSHAN):
        street = streets[streets.contains(shapely.Point(twins["points"][district]))]["name"].iloc[0]
        body = {"industry": CAFE, "limit": 200, "as_of": AS_OF, "wanted": {"streets": [street]}}
        answer = client.post("/match", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["checked"] == answer.json()["counts"]["candidates"]
        for key in found:
            found[key] += answer.json()[key]
    excluded = {r["id"]: r for r in found["excluded"]}
    ranked = {r["id"] for r in found["results"]}
    shinan, laoshan = twins["vacancies"][SHINAN], twins["vacancies"][LAOSHAN]
    assert any("300米" in reason for reason in excluded[shinan]["reasons"])
    assert laoshan in ranked or not any("300米" in reason for reason in excluded[laoshan]["reasons"])


def test_the_surface_applies_the_local_rule_in_its_district_only(client, twins):
    snapshot = client.app.state.catalog.current()
    drawn = {}
    for district in (SHINAN, LAOSHAN):
        lon, lat = twins["points"][district]
        box = (lon - 0.006, lat - 0.006, lon + 0.006, lat + 0.006)
        drawn[district] = surface(snapshot, CAFE, res=10, as_of=pd.Timestamp(AS_OF).date(), bbox=box)
    # The same place moved by a third of a degree of longitude (the same distances, other cells):
    # the wider ring of the local rule leaves less room for an internet café in 市南区.
    shinan, laoshan = drawn[SHINAN]["permitted_share"], drawn[LAOSHAN]["permitted_share"]
    assert len(shinan) > 50 and len(laoshan) > 50
    assert shinan.mean() < laoshan.mean() - 0.05, (shinan.mean(), laoshan.mean())


def test_a_point_outside_every_district_is_refused_naming_them(client):
    r = client.post("/check", json={"industry": CAFE, "lon": 120.2, "lat": 35.9})
    assert r.status_code == 422
    assert "every district served" in r.text and "崂山区" in r.text and "市南区" in r.text


def test_an_address_in_another_served_district_resolves(client, twins):
    snapshot = client.app.state.catalog.current()
    numbers = snapshot.layer("house_numbers").features
    address = numbers.loc[numbers["id"].str.startswith(SHINAN), "address"].iloc[0]
    r = client.post("/check", json={"industry": CAFE, "address": address})
    assert r.status_code == 200, r.text
    assert r.json()["location"]["district"] == SHINAN


def test_the_legal_summary_lists_the_local_rule_with_its_districts(client):
    rules = {
        r["id"]: r for r in client.get(f"/industries/{CAFE}/rules", params={"as_of": AS_OF}).json()["rules"]
    }
    assert rules[LOCAL]["districts"] == [SHINAN]
    assert all(r["districts"] == [] for rid, r in rules.items() if rid != LOCAL)
    page = client.get(f"/industries/{CAFE}/rules.html", params={"as_of": AS_OF}).text
    assert "仅适用于区划" in page and SHINAN in page


def test_each_point_gets_the_district_it_lies_in_and_the_first_listed_where_two_overlap(client):
    """Outlines may meet or overlap where departments drew them apart: the first listed decides."""
    snapshot = client.app.state.catalog.current()
    layer = snapshot.layer("districts")
    outlines = layer.features[layer.features["level"] == "district"]
    overlapping = outlines.iloc[[1]].assign(code="X", name="the copy")  # the second, listed first
    features = pd.concat([overlapping, outlines]).reset_index(drop=True)
    none = np.empty(0, dtype=np.int64)
    index = LayerIndex.build(layer.version, features, np.empty(0, dtype=object), none, snapshot.frame)
    districts = Districts(Snapshot(snapshot.layers | {"districts": index}, snapshot.frame))
    first, second = (d.representative_point() for d in districts.shapes[1:])
    beyond = shapely.Point(districts.served.bounds[2] + 5_000, districts.served.bounds[3] + 5_000)
    points = np.array([second, beyond, first, second], dtype=object)
    found, codes = districts.containing(points)
    assert found.tolist() == [True, False, True, True]
    assert codes == ["X", outlines["code"].iloc[0], "X"]
    alone = [districts.containing(points[i : i + 1]) for i in range(len(points))]  # a single check's way
    assert [f.tolist() for f, _ in alone] == [[True], [False], [True], [True]]
    assert [code for _, one in alone for code in one] == codes
