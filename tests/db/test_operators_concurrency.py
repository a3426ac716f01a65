"""Operators' writes through two API workers over PostGIS: immediate effect, no lost write, and of
two writers racing on the same revision exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from siteselect import accounts, listings
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.store import Store
from tests.support.races import MERGE, lost, patch_pairs, race
from tests.support.serve import running_service

pytestmark = pytest.mark.postgis
VACANCIES = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def service(postgis, demo_files):
    from tests.support.postgis import fresh_database

    with fresh_database(postgis, "concurrency") as url:
        store = Store(url)
        for layer in LOAD_ORDER:
            load_file(store, layer, demo_files[layer])
        users = {"admin": ("admin", []), "op-a": ("operator", ["park-001"]),
                 "op-a2": ("operator", ["park-001"]), "op-b": ("operator", ["park-002"])}  # fmt: skip
        tokens = {}
        for name, (role, parks) in users.items():
            accounts.add_user(store, name, role, parks)
            tokens[name] = {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"}
        with running_service(url, workers=2) as base:
            yield base, tokens, store
        store.close()


def _feature(area: float, park: str = "park-001") -> dict:
    props = {"park_id": park, "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": area, "rent": 60.0,
             "use": "office", "status": "available"}  # fmt: skip
    point = {"type": "Point", "coordinates": [120.445, 36.131]}
    return {"type": "Feature", "geometry": point, "properties": props}


def test_both_workers_serve(service):
    base, _, _ = service
    pids = {httpx.get(f"{base}/health").json()["worker"] for _ in range(40)}
    assert len(pids) == 2


def test_a_published_vacancy_is_in_the_very_next_match_and_a_leased_one_is_not(service):
    base, tokens, _ = service
    for n in range(8):  # fresh connections: the two workers take turns as the kernel hands them out
        area = 4000.0 + n
        made = httpx.post(f"{base}{VACANCIES}", json=_feature(area), headers=tokens["op-a"])
        assert made.status_code == 201
        wanted = {"industry": "6513", "wanted": {"area_min": area, "area_max": area}, "limit": 5}
        found = httpx.post(f"{base}/match", json=wanted).json()
        assert [r["id"] for r in found["results"]] == [made.json()["id"]]
        leased = httpx.patch(f"{base}{VACANCIES}/{made.json()['id']}", json={"status": "leased"},
                             headers=tokens["op-a"] | MERGE | {"If-Match": made.headers["etag"]})  # fmt: skip
        assert leased.status_code == 200
        assert httpx.post(f"{base}/match", json=wanted).json()["results"] == []


def test_two_operators_writing_the_same_vacancy_one_wins_the_other_gets_412(service):
    base, tokens, store = service
    target = next(x for x in listings.all_listings(store) if x["park_id"] == "park-001")
    path = f"{VACANCIES}/{target['id']}"
    for n in range(10):
        tag = httpx.get(f"{base}{path}").headers["etag"]
        writes = [(path, {"rent": 100.0 + n}, tokens["op-a"] | {"If-Match": tag}),
                  (path, {"rent": 200.0 + n}, tokens["op-a2"] | {"If-Match": tag})]  # fmt: skip
        assert sorted(race(base, writes)) == [200, 412]
        assert listings.get(store, target["id"])["rent"] in (100.0 + n, 200.0 + n)


def test_concurrent_patches_of_different_fields_lose_nothing_and_every_loser_gets_412(service):
    base, tokens, store = service
    target = next(x for x in listings.all_listings(store) if x["park_id"] == "park-001")
    path, writers = f"{VACANCIES}/{target['id']}", (tokens["op-a"], tokens["op-a2"])
    refusals = _stale_refusals(store, target["id"])
    same_tag = patch_pairs(base, path, writers, 25, star=False)
    assert all(sorted(r.statuses) == [200, 412] for r in same_tag), [r.statuses for r in same_tag]
    assert lost(same_tag) == []
    assert _stale_refusals(store, target["id"]) - refusals == 25  # every 412 is in the audit log
    any_tag = patch_pairs(base, path, writers, 25, star=True)
    assert all(r.statuses == [200, 200] for r in any_tag) and lost(any_tag) == []


def _stale_refusals(store: Store, target: str) -> int:
    with store.engine.connect() as conn:
        rows = conn.execute(store.accounts["audit"].select()).mappings().all()
    return sum(
        1 for r in rows if r["target"] == target and r["outcome"] == "refused" and "since" in r["detail"]
    )


def test_two_operators_writing_the_same_park_one_wins_and_different_parks_both_do(service):
    base, tokens, store = service
    a, b = "/ogc/collections/parks/items/park-001", "/ogc/collections/parks/items/park-002"
    tag = httpx.get(f"{base}{a}").headers["etag"]
    writes = [(a, {"address": "株洲路153号甲"}, tokens["op-a"] | {"If-Match": tag}),
              (a, {"address": "株洲路153号乙"}, tokens["op-a2"] | {"If-Match": tag})]  # fmt: skip
    assert sorted(race(base, writes)) == [200, 412]
    tag_a, tag_b = (httpx.get(f"{base}{p}").headers["etag"] for p in (a, b))
    writes = [(a, {"name": "创新园A"}, tokens["op-a"] | {"If-Match": tag_a}),
              (b, {"name": "海尔园B"}, tokens["op-b"] | {"If-Match": tag_b})]  # fmt: skip
    assert race(base, writes) == [200, 200]  # another park's new version is not a conflict
    names = store.read_layer("parks").set_index("id")["name"]
    assert names["park-001"] == "创新园A" and names["park-002"] == "海尔园B"


def test_a_thousand_concurrent_writes_through_two_workers_lose_none(service):
    base, tokens, store = service
    existing = [x["id"] for x in listings.all_listings(store)][:500]
    jobs = [("patch", vid, 1000.0 + i) for i, vid in enumerate(existing)]
    jobs += [("post", None, 5000.0 + i) for i in range(1000 - len(jobs))]
    local = threading.local()

    def send(job: tuple[str, str | None, float]) -> tuple[tuple[str, str | None, float], int, dict]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=tokens["admin"], timeout=60)
        kind, vid, value = job
        if kind == "patch":
            r = local.client.patch(
                f"{VACANCIES}/{vid}", json={"rent": value}, headers=MERGE | {"If-Match": "*"}
            )
        else:
            r = local.client.post(VACANCIES, json=_feature(value, park="park-002"))
        return job, r.status_code, r.json()

    before = len(listings.all_listings(store))
    with ThreadPoolExecutor(32) as pool:
        done = list(pool.map(send, jobs))
    acknowledged = [(job, body) for job, status, body in done if status in (200, 201)]
    assert len(acknowledged) == 1000, [s for _, s, _ in done if s not in (200, 201)][:5]
    stored = {x["id"]: x for x in listings.all_listings(store)}
    for (kind, vid, value), body in acknowledged:
        if kind == "patch":
            assert stored[vid]["rent"] == value
        else:
            assert stored[body["id"]]["area_m2"] == value
    assert len(stored) == before + sum(1 for (kind, _, _), _ in acknowledged if kind == "post")
