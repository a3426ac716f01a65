"""The premises check on the Laoshan demo: verdicts, reasons with their basis, and bad input."""

import datetime as dt

import numpy as np
import pytest
import shapely

from siteselect.check import Checker
from siteselect.errors import InvalidInputError
from siteselect.geodesy import GEOD
from siteselect.grid import point_cells
from siteselect.index import Catalog
from siteselect.premises import Premises
from siteselect.store import Store


@pytest.fixture(scope="module")
def checker(demo_db) -> Checker:
    return Checker(Catalog(Store(demo_db)).current())


def _at(checker: Checker, industry: str, point: shapely.Point, **kw) -> dict:
    return checker.check(Premises.parse(industry=industry, lon=point.x, lat=point.y, **kw))


def _reasons(result: dict, outcome: str = "violated") -> dict[str, dict]:
    return {r["id"]: r for r in result["reasons"] if r["outcome"] == outcome}


def _buildings(checker: Checker):
    return checker.buildings.features


def _far_from_zones(checker: Checker, geoms, metres: float) -> np.ndarray:
    # The no-discharge zone covers the built-up area but concerns only fireworks sales.
    wide = (checker.zones.features["kind"] == "no_discharge").to_numpy()
    zones = shapely.union_all(checker.zones.local[~wide])
    local = checker.snap.frame.to_local(geoms)
    return shapely.distance(local, zones) > metres


def test_internet_cafe_inside_a_school_campus_is_prohibited(checker):
    zones = checker.zones.features
    school = zones[zones["kind"] == "primary_school"].iloc[0]
    result = _at(checker, "9013", school.geometry.representative_point())
    assert result["verdict"] == "prohibited" and result["verdict_zh"] == "不予登记"
    reason = _reasons(result)["R01-school-200m"]
    assert reason["evidence"]["distance_m"] == 0.0 and reason["evidence"]["threshold_m"] == 200
    assert reason["evidence"]["features"][0]["id"] == school["id"]
    assert "第九条" in reason["basis"] and reason["department"] == "崂山区文化和旅游局"
    assert reason["message_zh"] and reason["message_en"]


def test_internet_cafe_150m_from_a_school_is_prohibited_and_250m_is_not(checker):
    zones = checker.zones.features
    school = zones[zones["kind"] == "middle_school"].iloc[0].geometry
    lon, lat = school.exterior.coords[0]
    # walk away from the campus along the direction from its centre through a corner
    az, _, _ = GEOD.inv(school.centroid.x, school.centroid.y, lon, lat)
    results = {}
    for metres in (150, 250):
        x, y, _ = GEOD.fwd(lon, lat, az, metres)
        results[metres] = _at(checker, "9013", shapely.Point(x, y))
    near = _reasons(results[150]).get("R01-school-200m")
    assert near is not None and 149 < near["evidence"]["distance_m"] <= 150.01
    far = {c["id"]: c["outcome"] for c in results[250]["checked"]}
    assert far["R01-school-200m"] == "passed"


def test_software_firm_in_an_accepted_office_building_is_permitted(checker):
    b = _buildings(checker)
    offices = b[(b["use"] == "office") & b["accepted_on"].notna()]
    clear = offices[_far_from_zones(checker, offices.geometry.to_numpy(), 300)]
    prohibited = set(checker.prohibited.features["house_number_id"])
    numbers = checker.numbers.features
    listed = set(numbers.loc[numbers["id"].isin(prohibited), "building_id"])
    building = clear[~clear["id"].isin(listed)].iloc[0]
    result = _at(checker, "6513", building.geometry.representative_point(), floor=5)
    assert result["verdict"] == "permitted", result["reasons"]
    assert result["building"]["id"] == building["id"]
    assert result["address_proof"]["building_accepted"] is True
    assert result["reasons"] == []
    assert {c["id"] for c in result["checked"]} >= {"R26-accepted-building", "R25-residential-to-business"}


def test_restaurant_in_a_residential_building_is_prohibited(checker):
    b = _buildings(checker)
    home = b[b["use"] == "residential"].iloc[0]
    result = _at(checker, "6210", home.geometry.representative_point())
    assert result["verdict"] == "prohibited"
    reason = _reasons(result)["R08-fumes-residential"]
    assert "第八十一条" in reason["basis"]
    assert reason["evidence"]["features"][0]["id"] == home["id"]


def test_restaurant_in_a_mixed_building_needs_a_flue(checker):
    b = _buildings(checker)
    mixed = b[b["use"] == "mixed"]
    without = _at(checker, "6220", mixed[mixed["flue"] == False].iloc[0].geometry.representative_point())  # noqa: E712
    with_flue = _at(checker, "6220", mixed[mixed["flue"] == True].iloc[0].geometry.representative_point())  # noqa: E712
    assert "R08-fumes-flue" in _reasons(without)
    assert "R08-fumes-flue" not in _reasons(with_flue)


def test_building_without_acceptance_asks_for_review(checker):
    b = _buildings(checker)
    offices = b[(b["use"] == "office") & b["accepted_on"].isna()]
    result = _at(checker, "6513", offices.iloc[0].geometry.representative_point(), floor=3)
    assert _reasons(result)["R26-accepted-building"]["severity"] == "review"
    assert result["verdict"] in ("review", "prohibited")
    assert result["address_proof"]["building_accepted"] is False


def test_a_point_in_no_building_is_never_a_silent_pass(checker):
    street = checker.snap.layer("districts").features
    free = street[street["name"] == "北宅街道"].geometry.iloc[0].representative_point()
    result = _at(checker, "6513", free)
    assert result["building"] is None
    assert result["verdict"] == "review"
    assert "no-building" in _reasons(result, "unresolved")


def test_floor_rules(checker):
    b = _buildings(checker)
    shop = b[(b["use"] == "commercial")].iloc[0].geometry.representative_point()
    deep = _at(checker, "9011", shop, floor=-2)
    ok = _at(checker, "9011", shop, floor=-1)
    unknown = _at(checker, "9011", shop)
    assert _reasons(deep)["R02-basement"]["evidence"] == {"floor": -2, "floor_bound": -1}
    assert "R02-basement" not in _reasons(ok)
    assert "R02-basement" in _reasons(unknown, "unresolved")


def _entry_with_house_number(checker, predicate):
    entries = checker.prohibited.features
    numbers = checker.numbers.features.set_index("id")
    for entry in entries.itertuples():
        if predicate(entry):
            return entry, numbers.loc[entry.house_number_id]
    raise AssertionError("no such entry in the demo")


def test_address_on_the_prohibited_list_by_house_number(checker):
    entry, number = _entry_with_house_number(
        checker, lambda e: e.industries == ["*"] and e.effective_to is None and e.effective_from < "2026"
    )
    result = checker.check(Premises.parse(industry="6513", address=number.address))
    assert result["location"]["match"]["level"] == "house_number"
    assert result["verdict"] == "prohibited"
    hits = [r for r in result["reasons"] if r["source"] == "prohibited_address"]
    assert hits[0]["id"] == entry.id and hits[0]["evidence"]["match"] in ("house_number", "same_building")
    assert "真实、合法、有效、安全" in hits[0]["citations"][0]["text"]  # the list's basis, quoted


def _code_for(entry) -> str:
    """A class code the entry applies to."""
    return {"*": "6513", "62": "6210", "9011": "9011"}[entry.industries[0]]


def test_prohibited_entries_apply_only_while_in_force(checker):
    lifted, number = _entry_with_house_number(checker, lambda e: e.effective_to is not None)
    day_in = dt.date.fromisoformat(lifted.effective_to)
    ids = {}
    for label, as_of in (("in force", day_in), ("lifted", day_in + dt.timedelta(days=1))):
        premises = Premises.parse(industry=_code_for(lifted), address=number.address, as_of=as_of)
        ids[label] = {r["id"] for r in checker.check(premises)["reasons"]}
    assert lifted.id in ids["in force"] and lifted.id not in ids["lifted"]
    future, number = _entry_with_house_number(checker, lambda e: e.effective_from == "2027-01-01")
    code = _code_for(future)
    before = checker.check(Premises.parse(industry=code, address=number.address, as_of="2026-12-31"))
    after = checker.check(Premises.parse(industry=code, address=number.address, as_of="2027-01-01"))
    assert future.id not in {r["id"] for r in before["reasons"]}
    assert future.id in {r["id"] for r in after["reasons"]}


def test_rules_apply_only_from_their_effective_date(checker):
    b = _buildings(checker)
    point = b[b["accepted_on"].isna()].iloc[0].geometry.representative_point()
    before = _at(checker, "6513", point, as_of="2024-03-27")
    after = _at(checker, "6513", point, as_of="2024-03-28")
    assert "R26-accepted-building" not in {c["id"] for c in before["checked"]}
    assert "R26-accepted-building" in _reasons(after)


def test_point_entry_applies_within_its_radius(checker):
    entries = checker.prohibited.features
    entry = entries[(entries.geom_type == "Point") & entries["effective_to"].isna()
                    & (entries["effective_from"] < "2026")].iloc[0]  # fmt: skip
    x, y = entry.geometry.x, entry.geometry.y
    results = {}
    for metres in (6.0, 14.0):
        lon, lat, _ = GEOD.fwd(x, y, 90.0, metres)
        results[metres] = checker.check_many([Premises.parse(industry="6513", lon=lon, lat=lat)])[0]
    near = [r for r in results[6.0]["reasons"] if r["id"] == entry["id"]]
    assert near, results[6.0]["reasons"]
    if near[0]["evidence"]["match"] == "within_radius":
        assert near[0]["evidence"]["distance_m"] == pytest.approx(6.0, abs=0.01)
        assert near[0]["evidence"]["threshold_m"] == 10.0


def test_road_level_address_asks_for_review(checker):
    result = checker.check(Premises.parse(industry="6513", address="崂山区苗岭路9999号"))
    assert result["location"]["match"]["level"] == "road"
    assert result["verdict"] in ("review", "prohibited")
    assert "address-level" in _reasons(result, "unresolved")
    assert result["verdict"] == "review"  # an approximate place can only ask for review


def test_batch_equals_single_checks(checker):
    b = _buildings(checker)
    points = b.geometry.representative_point().iloc[:60]
    items = [Premises.parse(industry=code, lon=p.x, lat=p.y, floor=2)
             for p, code in zip(points, ["9013", "6210", "6513", "5227"] * 15)]  # fmt: skip
    batch = checker.check_many(items)
    assert batch == [checker.check(item) for item in items]


def test_address_proofs_are_each_premises_own_beyond_those_kept(checker, monkeypatch):
    from siteselect import check

    monkeypatch.setattr(check, "PROOFS_KEPT", 3)
    checker = Checker(checker.snap)  # none kept yet
    b = _buildings(checker)
    accepted, plain = b[b["accepted_on"].notna()].iloc[:4], b[b["accepted_on"].isna()].iloc[:4]
    sites = [accepted.iloc[i] if i % 2 else plain.iloc[i] for i in range(4)] * 2  # each met twice
    items = [Premises.parse(industry="9013", lon=s.geometry.representative_point().x,
                            lat=s.geometry.representative_point().y) for s in sites]  # fmt: skip
    results = checker.check_many(items)
    for site, result in zip(sites, results):
        assert result["building"]["id"] == site["id"]
        proof = result["address_proof"]
        assert proof["building_accepted"] == isinstance(site["accepted_on"], str)
        assert proof["accepted_on"] == result["building"]["accepted_on"]
    assert len(checker._proofs) <= 3


def test_rule_sets_kept_by_day_stay_bounded_whatever_days_are_asked(checker, monkeypatch):
    from siteselect import kept

    monkeypatch.setattr(kept, "DAYS_KEPT", 8)
    checker, point = Checker(checker.snap), _buildings(checker).geometry.iloc[0].representative_point()
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=n) for n in range(60)]
    results = [_at(checker, "6210", point, as_of=day.isoformat()) for day in days]
    assert len(checker._by_day) <= 8  # anyone may send any day: what they cost is not kept
    assert len(checker.listed._applying) <= 8
    fresh = Checker(checker.snap)
    assert [r["verdict"] for r in results] == [
        _at(fresh, "6210", point, as_of=d.isoformat())["verdict"] for d in days
    ]


def test_an_empty_batch_has_no_results(checker):
    assert checker.check_many([]) == []
    assert checker.verdicts([]) == []


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"industry": "62", "lon": 120.46, "lat": 36.1}, "is not a GB/T 4754 class code"),
        ({"industry": "5228", "lon": 120.46, "lat": 36.1}, "no such class in group 522"),
        ({"lon": 120.46, "lat": 36.1}, "industry is required"),
        ({"industry": "6210"}, "give either an address or both lon and lat"),
        ({"industry": "6210", "lon": "x", "lat": 36.1}, "lon 'x' is not a number"),
        ({"industry": "6210", "lon": 200, "lat": 36.1}, "lon 200 is outside"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "floor": 0}, "floor 0 does not exist"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "floor": 300}, "floor 300 is outside"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "as_of": "2024-13-01"}, "as_of '2024-13-01'"),
        ({"industry": "6210", "lon": 120.46, "lat": 36.1, "coordsys": "utm"}, "unknown coordinate system"),
    ],
)
def test_bad_input_is_named(raw, words):
    with pytest.raises(InvalidInputError, match=words):
        Premises.parse(**raw)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"lon": 116.40, "lat": 39.90}, "lies outside 崂山区"),
        ({"lon": 36.12, "lat": 120.47}, "lat and lon look swapped"),
        ({"address": "市南区香港中路10号"}, "could not be resolved"),
        ({"address": "随便写的地址"}, "could not be resolved"),
    ],
)
def test_places_that_cannot_be_checked_are_refused(checker, raw, words):
    with pytest.raises(InvalidInputError, match=words):
        checker.check(Premises.parse(industry="6210", **raw))


def test_gcj02_input_is_converted(checker):
    from siteselect.coords import from_wgs84

    b = _buildings(checker)
    point = b[b["use"] == "office"].iloc[0].geometry.representative_point()
    glon, glat = from_wgs84([point.x], [point.y], "gcj02")
    result = checker.check(Premises.parse(industry="6513", lon=glon[0], lat=glat[0], coordsys="gcj02"))
    assert result["location"]["lon"] == pytest.approx(point.x, abs=1e-8)
    assert result["building"]["id"] == b[b["use"] == "office"].iloc[0]["id"]


def test_a_check_as_of_an_earlier_layer_version_gives_the_earlier_verdict(sqlite_url, demo_files, tmp_path):
    import yaml

    from siteselect.demo import LOAD_ORDER
    from siteselect.load import load_file

    store = Store(sqlite_url)
    for layer in LOAD_ORDER:
        load_file(store, layer, demo_files[layer])
    rules = yaml.safe_load(demo_files["rules"].read_text(encoding="utf-8"))["rules"]
    relaxed = tmp_path / "rules-v2.yaml"
    relaxed.write_text(
        yaml.safe_dump([r for r in rules if r["id"] != "R01-school-200m"], allow_unicode=True),
        encoding="utf-8",
    )
    load_file(store, "rules", relaxed)
    catalog = Catalog(store)
    zones = catalog.current().layer("zones").features
    school = zones[zones["kind"] == "primary_school"].iloc[0].geometry.representative_point()
    premises = Premises.parse(industry="9013", lon=school.x, lat=school.y)
    now = Checker(catalog.current()).check(premises)
    then = Checker(catalog.snapshot({"rules": 1})).check(premises)
    assert now["layer_versions"]["rules"] == 2 and then["layer_versions"]["rules"] == 1
    assert "R01-school-200m" not in _reasons(now)
    assert "R01-school-200m" in _reasons(then)


def test_verdicts_in_brief_are_those_of_the_full_checks(checker):
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = 120.40, 36.05, 120.62, 36.20
    codes = ["9013", "6210", "5227", "8040", "6513", "9011"]
    items = [
        Premises(
            industry=codes[i % len(codes)], lon=float(x), lat=float(y), floor=int(rng.integers(-2, 30)) or 1
        )
        for i, (x, y) in enumerate(zip(rng.uniform(minx, maxx, 3000), rng.uniform(miny, maxy, 3000)))
    ]
    numbers = checker.numbers.features["address"].tolist()[:50]
    items += [Premises(industry="6210", address=a) for a in numbers]  # resolved addresses
    items += [Premises(industry="6210", address="崂山区苗岭路"), Premises(industry="6210", lon=1.0, lat=2.0)]
    full = checker.check_many(items)
    brief = checker.verdicts(items)
    assert [b.verdict for b in brief] == [f.get("verdict", "") for f in full]
    assert [b.reasons for b in brief] == [tuple(r["id"] for r in f.get("reasons", [])) for f in full]
    assert [b.error for b in brief] == [f.get("error", "") for f in full]
    assert {b.verdict for b in brief} == {"permitted", "review", "prohibited", ""}  # every case met


def test_every_reason_and_the_address_proof_have_a_basis_with_its_articles(checker):
    from siteselect.premises import Premises

    rough = checker.check(Premises(industry="6239", address="崂山区海口路9999号"))  # road level only
    nowhere = checker.check(Premises(industry="6239", lon=120.6, lat=36.15))  # in no building
    for result in (rough, nowhere):
        assert result["reasons"]
        for reason in result["reasons"]:
            assert reason["basis"], reason["id"]
        assert result["address_proof"]["basis"] and result["address_proof"]["citations"]
    located = {r["id"]: r for r in rough["reasons"] + nowhere["reasons"]}
    assert {"address-level", "no-building"} <= set(located)
    assert "第四条" in located["address-level"]["basis"] and located["no-building"]["citations"][0]["text"]


def test_buildings_are_found_alike_boxed_first_or_tested_pair_by_pair(checker, monkeypatch):
    """Corners, edge midpoints and inner points of buildings, and points between them: a batch
    tests only the pairs whose building's box holds the point, and finds what testing every pair
    finds (a corner or an edge is in its building)."""
    from siteselect import locating

    local = checker.buildings.local[:300]
    corners = shapely.get_coordinates(local)
    mids = (corners[:-1] + corners[1:]) / 2
    between = corners[:-1] + np.array([35.0, -20.0])  # outside most, inside a few
    inner = shapely.get_coordinates(shapely.point_on_surface(local))
    points = shapely.points(np.concatenate([corners, mids, between, inner]))
    lonlat = shapely.get_coordinates(checker.snap.frame.to_wgs84(points))
    cells = point_cells(lonlat[:, 0], lonlat[:, 1], checker.buildings.version.h3_resolution)
    monkeypatch.setattr(locating, "BOXED_FROM", 0)
    boxed = checker.locator.buildings_under(points, cells)
    monkeypatch.setattr(locating, "BOXED_FROM", len(points) * 100)
    every = checker.locator.buildings_under(points, cells)
    assert (boxed == every).all()
    assert (every[: len(corners)] >= 0).mean() > 0.95 and (every[-len(inner) :] >= 0).all()


def test_what_a_checker_keeps_by_building_and_floor_is_bounded_and_changes_no_result(demo_db):
    snapshot = Catalog(Store(demo_db)).current()
    bounded, unbounded = Checker(snapshot), Checker(snapshot)
    bounded._shared_findings.most = bounded._public_buildings.most = 50
    points = snapshot.layer("buildings").features.geometry.representative_point().iloc[:400]
    premises = [Premises(industry=code, lon=p.x, lat=p.y, floor=f) for p in points
                for code, f in (("6510", 2), ("5261", 1))]  # fmt: skip
    for chunk in range(0, len(premises), 100):  # checks come a few at a time, as requests do
        assert bounded.check_many(premises[chunk : chunk + 100]) == unbounded.check_many(
            premises[chunk : chunk + 100]
        )
        assert len(bounded._shared_findings) <= 50 and len(bounded._public_buildings) <= 50
    assert len(unbounded._shared_findings) > 400 and len(unbounded._public_buildings) > 300  # past the bound


def _six_metres_east(entry) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(entry.geometry.x, entry.geometry.y, 90.0, 6.0)
    return lon, lat


def test_a_point_entry_near_premises_applies_only_to_its_industries_and_days(checker):
    """The list's cells are one map for every entry: which apply is decided per industry and day."""
    entries = checker.prohibited.features
    points = entries[entries.geom_type == "Point"]
    some = points[points["industries"].map(lambda i: i != ["*"]) & points["effective_to"].isna()
                  & (points["effective_from"] < "2026")].iloc[0]  # fmt: skip
    lon, lat = _six_metres_east(some)
    listed, other = _code_for(some), "9011" if some.industries[0] != "9011" else "6210"
    hits = {code: _reasons(checker.check_many([Premises.parse(industry=code, lon=lon, lat=lat)])[0])
            for code in (listed, other)}  # fmt: skip
    assert some["id"] in hits[listed] and some["id"] not in hits[other]
    lifted = points[points["effective_to"].notna()].iloc[0]
    lon, lat = _six_metres_east(lifted)
    last = dt.date.fromisoformat(lifted.effective_to)
    code = _code_for(lifted)
    on = {day: _reasons(checker.check(Premises.parse(industry=code, lon=lon, lat=lat, as_of=day)))
          for day in (last, last + dt.timedelta(days=1))}  # fmt: skip
    assert lifted["id"] in on[last] and lifted["id"] not in on[last + dt.timedelta(days=1)]
