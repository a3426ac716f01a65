"""Matching premises for an entrepreneur on the Laoshan demo."""

import shutil

import numpy as np
import pandas as pd
import pytest

from siteselect import accounts, listings, scoring
from siteselect.check import checker_for
from siteselect.errors import InvalidInputError
from siteselect.grid import point_cells
from siteselect.index import Catalog, LayerIndex, Snapshot
from siteselect.match import Constraints, Scorer, _best_first, compare, match, scorer_for, surface
from siteselect.store import Store


@pytest.fixture(scope="module")
def snapshot(demo_db):
    return Catalog(Store(demo_db)).current()


def test_ranked_results_with_explained_criteria(snapshot):
    result = match(snapshot, "6239", Constraints(area_min=40, area_max=300, max_rent=150), limit=5)
    results = result["results"]
    assert 1 <= len(results) <= 5 and result["family"] == "catering"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    for r in results:
        assert r["verdict"] in ("permitted", "review") and r["flagged"] == (r["verdict"] == "review")
        assert 0 <= r["stability"] <= 1
        for criterion in r["criteria"].values():
            assert criterion["explanation_zh"] and criterion["explanation_en"]
            assert criterion["missing"] or 0 <= criterion["score"] <= 100


def test_constraint_filters_are_exact(snapshot):
    c = Constraints(area_min=50, area_max=150, max_rent=100, streets=("金家岭街道",), floor_min=1,
                    floor_max=5, uses=("office", "commercial"))  # fmt: skip
    result = match(snapshot, "6513", c, limit=200)
    assert result["results"]
    for r in result["results"]:
        assert 50 <= r["area_m2"] <= 150 and r["rent"] <= 100 and 1 <= r["floor"] <= 5
        assert r["street"] == "金家岭街道" and r["use"] in ("office", "commercial")
    vacancies = snapshot.layer("vacancies").features
    available = vacancies[vacancies["status"] == "available"]
    assert result["counts"]["candidates"] <= len(available)
    assert all(r["kind"] == "vacancy" for r in result["results"])


def test_prefiled_only_and_addresses(snapshot):
    prefiled = match(snapshot, "6513", Constraints(prefiled_only=True), limit=200)
    assert prefiled["results"] and all(r["prefiled"] for r in prefiled["results"])
    with_addresses = match(snapshot, "6513", Constraints(include_addresses=True), limit=200)
    kinds = {r["kind"] for r in with_addresses["results"]}
    assert kinds == {"vacancy", "address"}
    address = next(r for r in with_addresses["results"] if r["kind"] == "address")
    assert address["criteria"]["cost"]["missing"] and address["criteria"]["cost"]["score"] is None


def test_prohibited_candidates_are_set_apart_with_their_reason(snapshot):
    result = match(snapshot, "9013", limit=200)  # internet cafés: schools, residential buildings
    assert result["excluded"]
    ranked = {r["id"] for r in result["results"]}
    for entry in result["excluded"]:
        assert entry["id"] not in ranked and entry["verdict"] == "prohibited" and entry["reasons"]


def test_ranking_is_reproducible(snapshot):
    a = match(snapshot, "6232", Constraints(max_rent=120), limit=10)
    b = match(snapshot, "6232", Constraints(max_rent=120), limit=10)
    assert a == b


def test_weights_change_the_order(snapshot):
    cheap = match(snapshot, "6232", weights={"cost": 1}, limit=5)
    near = match(snapshot, "6232", weights={"access": 1}, limit=5)
    assert cheap["weights"]["cost"] == 1.0 and near["weights"]["access"] == 1.0
    assert [r["id"] for r in cheap["results"]] != [r["id"] for r in near["results"]]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"constraints": Constraints(streets=("火星街道",))}, "streets: unknown"),
        ({"weights": {"cost": 0}}, "above zero"),
        ({"weights": {"cost": -1}}, "non-negative"),
        ({"limit": 0}, "limit must be"),
        ({"code": "62"}, "is not a GB/T 4754 class code"),
    ],
)
def test_bad_requests(snapshot, kwargs, words):
    code = kwargs.pop("code", "6232")
    with pytest.raises(InvalidInputError, match=words):
        match(snapshot, code, **kwargs)


def test_min_above_max_is_refused():
    with pytest.raises(InvalidInputError, match="area_min 90 is above area_max 40"):
        Constraints(area_min=90, area_max=40)


def test_compare_two_to_five_sites(snapshot):
    vacancy = snapshot.layer("vacancies").features.iloc[0]["id"]
    result = compare(snapshot, "6232", [{"vacancy_id": vacancy}, {"lon": 120.46, "lat": 36.105, "rent": 90}])
    assert result["sites"][0]["id"] == vacancy
    assert all("reasons" in s and s["criteria"] for s in result["sites"])
    with pytest.raises(InvalidInputError, match="compare 2 to 5 sites"):
        compare(snapshot, "6232", [{"vacancy_id": vacancy}] * 6)
    with pytest.raises(InvalidInputError, match="does not exist"):
        compare(snapshot, "6232", [{"vacancy_id": "nope"}, {"vacancy_id": vacancy}])


def test_surface_covers_the_district_with_shares_and_scores(snapshot):
    cells = surface(snapshot, "9013", res=8)
    assert len(cells) > 100 and cells.crs.to_epsg() == 4326
    assert cells["permitted_share"].between(0, 1).all()
    assert (cells["permitted_share"] < 1).any() and (cells["permitted_share"] == 1).any()
    assert cells["score"].between(0, 100).all()
    with pytest.raises(InvalidInputError, match="res must be from 6 to 11"):
        surface(snapshot, "9013", res=13)


def _with_vacancies(snapshot: Snapshot, vacancies) -> Snapshot:
    """The snapshot with other vacancies, indexed as the catalog indexes live listings."""
    layer = snapshot.layer("vacancies")
    v = vacancies.reset_index(drop=True)
    cells = point_cells(v.geometry.x, v.geometry.y, layer.version.h3_resolution)
    index = LayerIndex.build(layer.version, v, v["id"].to_numpy(object), cells, snapshot.frame)
    return Snapshot(snapshot.layers | {"vacancies": index}, snapshot.frame)


def test_stale_listings_rank_lower_and_say_so(snapshot):
    v = snapshot.layer("vacancies").features
    twin = v[v["status"] == "available"].iloc[[0, 0]].copy()
    twin["id"] = ["fresh", "stale"]
    today = pd.Timestamp.now(tz="UTC")
    twin["updated_at"] = [today.date().isoformat(), (today - pd.Timedelta(days=90)).date().isoformat()]
    result = match(_with_vacancies(snapshot, twin), "6513", limit=5, stale_after_days=30)
    ranked = [(r["id"], r["stale"]) for r in result["results"]]
    assert ranked == [("fresh", False), ("stale", True)]
    fresh, stale = result["results"]
    assert stale["score"] == pytest.approx(fresh["score"] * 0.8, abs=0.11)


def test_a_listing_change_recounts_only_the_vacancies_and_matches_as_from_scratch(demo_db, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    wanted = Constraints(include_addresses=True)
    catalog = Catalog(Store(url))
    before = catalog.current()
    match(before, "6513", wanted, limit=20)  # the pool and its counts are made
    addresses = scorer_for(before)._address_part
    clerk = accounts.add_user(catalog.store, "clerk", "clerk")
    gone = [r["id"] for r in match(before, "6513", wanted, limit=20)["results"] if r["kind"] == "vacancy"][:3]
    for vid in gone:
        listings.update(catalog.store, clerk, vid, {"status": "leased"}, if_match="*", merge=True)
    assert catalog.refresh() == ["vacancies"]
    live = catalog.current()
    after = match(live, "6513", wanted, limit=20)
    assert scorer_for(live)._address_part is addresses  # kept, with its counts
    assert checker_for(live)._cache is checker_for(before)._cache  # its maps and shared findings too
    fresh = Catalog(Store(url)).current()
    assert after["results"] == match(fresh, "6513", wanted, limit=20)["results"]
    assert not {r["id"] for r in after["results"]} & set(gone)
    _, xy, _ = scorer_for(live).pool
    _assert_same_facts(
        scorer_for(live).pool_facts("6513"), scorer_for(live).facts(xy, "6513")
    )  # counted whole


def _assert_same_facts(a, b):
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_same_facts(value, b[key])
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b[key])
        else:
            assert value == b[key]


def test_catering_ranks_ground_and_low_floors_first_by_a_scored_and_explained_criterion(snapshot):
    top = match(snapshot, "6239", limit=10)["results"]  # 奶茶
    for r in top:
        floor = r["criteria"]["floor"]
        assert not floor["missing"] and "1–2" in floor["explanation_zh"]
        assert (floor["score"] == 100.0) == (r["floor"] in (1, 2))
    weights = scoring.default_weights("6239")
    unfloored = match(snapshot, "6239", weights=weights | {"floor": 0.0}, limit=10)["results"]
    low = [sum(r["floor"] in (1, 2) for r in results) for results in (top, unfloored)]
    assert low[0] > low[1]  # the preference moves ground and first floors up
    assert max(r["floor"] for r in top) < max(r["floor"] for r in unfloored)
    high = match(snapshot, "6239", Constraints(floor_min=10), limit=5)[
        "results"
    ]  # asked for: kept, scored low
    assert high and all(r["floor"] >= 10 and r["criteria"]["floor"]["score"] < 10 for r in high)
    office = match(snapshot, "7231", limit=3)["results"]  # no preference: left out of the total, and said so
    assert all(r["criteria"]["floor"]["missing"] for r in office)


def test_park_filter_keeps_the_parks_vacancies_and_an_unknown_park_is_refused(snapshot):
    park = snapshot.layer("parks").features["id"].iloc[0]
    result = match(snapshot, "6513", Constraints(parks=(park,)), limit=200)
    assert result["results"] and all(r["park_id"] == park for r in result["results"])
    with pytest.raises(InvalidInputError, match="parks: unknown"):
        match(snapshot, "6513", Constraints(parks=("park-nowhere",)))


def test_on_request_every_premises_left_out_is_listed_with_its_reason(snapshot):
    brief = match(snapshot, "9013", Constraints(area_max=100), limit=5)
    full = match(snapshot, "9013", Constraints(area_max=100), limit=5, include_excluded=True)
    assert full["counts"]["checked"] == full["counts"]["candidates"] >= brief["counts"]["checked"]
    prohibited = [x for x in full["excluded"] if x["verdict"] == "prohibited"]
    assert len(prohibited) == full["counts"]["excluded"] >= brief["counts"]["excluded"]
    assert all(x["messages"] and x["messages"][0]["zh"] and x["messages"][0]["basis"] for x in prohibited)
    filtered = [x for x in full["excluded"] if x.get("filter")]
    assert len(filtered) == full["counts"]["filtered"]["area_max"] > 0
    assert all(x["filter"] == "area_max" and x["value"] > 100 and x["wanted"] == 100 for x in filtered)
    ranked = {r["id"] for r in full["results"]}
    assert not ranked & {x["id"] for x in full["excluded"]}
    assert full["results"] == brief["results"]  # listing what was left out changes no ranking


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 5000])
def test_candidates_are_read_best_first_in_the_order_a_full_sort_gives(n):
    rng = np.random.default_rng(n)
    key = rng.integers(0, 40, n).astype(float)  # many ties, ordered by id
    ids = np.array([f"V{i:05d}" for i in rng.permutation(n)], dtype=object)
    chunks = list(_best_first(key, ids, 64))
    assert all(len(c) == 64 for c in chunks[:-1]) and all(0 < len(c) <= 64 for c in chunks)
    assert [i for c in chunks for i in c] == np.lexsort((ids, key)).tolist()


def test_a_listing_moved_has_only_its_new_place_counted_again(demo_db, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    catalog = Catalog(Store(url))
    before = catalog.current()
    scorer_for(before).warm()  # every count made, as the service makes them
    moved = match(before, "6513", limit=5)["results"][0]
    counted: list[int] = []
    real = Scorer._count
    monkeypatch.setattr(
        Scorer, "_count", lambda self, *a, **k: counted.append(len(a[1])) or real(self, *a, **k)
    )
    clerk = accounts.add_user(catalog.store, "clerk", "clerk")
    place = {"lon": moved["lon"] + 0.001, "lat": moved["lat"] + 0.001}
    listings.update(catalog.store, clerk, moved["id"], place, if_match="*", merge=True)
    assert catalog.refresh() == ["vacancies"]
    live = scorer_for(catalog.current())
    live.warm()
    assert counted and set(counted) == {1}  # the moved listing's new place, once a question
    _, xy, _ = live.pool
    _assert_same_facts(live.pool_facts("6513"), live.facts(xy, "6513"))  # as counted whole
    fresh = Catalog(Store(url)).current()
    assert match(catalog.current(), "6513", limit=10) == match(fresh, "6513", limit=10)
