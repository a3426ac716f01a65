"""Concurrent writes through two uvicorn workers over one SQLite file: the merge is applied to the
listing as locked, so of two writers of the same revision one wins and the other gets 412, two
changes made against ``*`` both stay, and no acknowledged change is lost."""

from __future__ import annotations

import shutil

import pytest

from siteselect import accounts, listings
from siteselect.store import Store
from tests.support.races import lost, patch_pairs
from tests.support.serve import running_service

VACANCIES = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("concurrent") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    tokens = {}
    for name in ("op-a", "op-a2"):
        accounts.add_user(store, name, "operator", ["park-001"])
        tokens[name] = {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"}
    listings.seed(store)
    with running_service(url, workers=2) as base:
        yield base, tokens, store
    store.close()


def test_concurrent_patches_of_different_fields_lose_nothing_and_every_loser_gets_412(service):
    base, tokens, store = service
    target = next(x for x in listings.all_listings(store) if x["park_id"] == "park-001")
    path, writers = f"{VACANCIES}/{target['id']}", (tokens["op-a"], tokens["op-a2"])
    same_tag = patch_pairs(base, path, writers, 25, star=False)
    assert all(sorted(r.statuses) == [200, 412] for r in same_tag), [r.statuses for r in same_tag]
    assert lost(same_tag) == []
    any_tag = patch_pairs(base, path, writers, 25, star=True)
    assert all(r.statuses == [200, 200] for r in any_tag), [r.statuses for r in any_tag]
    assert lost(any_tag) == []
    with store.engine.connect() as conn:
        log = conn.execute(store.accounts["audit"].select()).mappings().all()
    refused = [e for e in log if e["target"] == target["id"] and e["outcome"] == "refused"]
    assert len(refused) == 25 and all("changed since" in e["detail"] for e in refused)
    assert sum(1 for e in log if e["target"] == target["id"] and e["outcome"] == "ok") == 75
