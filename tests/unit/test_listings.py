"""Operators' listings in the library: seeding, revisions, ownership, refusals, and the audit trail."""

import pytest

from siteselect import listings
from siteselect.audit import entries as audit_log
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError, StaleWriteError


def _fields(**more):
    return {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": 120.0,
            "use": "office", "status": "available", "lon": 120.445, "lat": 36.131} | more  # fmt: skip


def test_listings_start_as_the_vacancies_layer_once(store):
    vacancies = store.read_layer("vacancies")
    listings.seed(store)  # may have been seeded by an earlier reader of this copy
    assert listings.seed(store) == 0
    assert {x["id"] for x in listings.all_listings(store)} >= set(vacancies["id"])


def test_a_listing_is_created_changed_and_deleted_with_its_revision(store, users):
    made = listings.create(store, users["a"], _fields())
    assert (
        made["id"].startswith("V-") and made["revision"] == 1 and listings.etag(made) == f'"{made["id"]}-1"'
    )
    changed = listings.update(
        store, users["a"], made["id"], {"rent": 60.0}, if_match=listings.etag(made), merge=True
    )
    assert changed["revision"] == 2 and changed["rent"] == 60.0 and changed["area_m2"] == 120.0
    with pytest.raises(StaleWriteError, match="changed since"):
        listings.update(
            store, users["a"], made["id"], {"rent": 1.0}, if_match=listings.etag(made), merge=True
        )
    listings.delete(store, users["a"], made["id"], if_match=listings.etag(changed))
    with pytest.raises(NotFoundError):
        listings.get(store, made["id"])
    log = [(e["action"], e["target"], e["outcome"]) for e in audit_log(store, users["clerk"])]
    assert log[-4:] == [("create", made["id"], "ok"), ("patch", made["id"], "ok"),
                        ("patch", made["id"], "refused"), ("delete", made["id"], "ok")]  # fmt: skip


def test_operators_write_their_own_parks_only_and_clerks_alone_pre_file(store, users):
    with pytest.raises(PermissionDeniedError, match="park-001"):
        listings.create(store, users["b"], _fields())
    with pytest.raises(PermissionDeniedError, match="pre-filing is verified by a clerk"):
        listings.create(store, users["a"], _fields(prefiled=True))
    made = listings.create(store, users["a"], _fields())
    filed = listings.update(store, users["clerk"], made["id"], {"prefiled": True}, if_match="*", merge=True)
    assert filed["prefiled"] is True


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"lon": None, "lat": None}, "geometry: a vacancy needs a Point"),
        ({"lon": "120.4", "lat": 36.1}, "geometry: a vacancy needs a Point"),
        ({"lon": float("nan"), "lat": 36.1}, "geometry: a vacancy needs a Point"),
        ({"area_m2": -3.0}, "area_m2"),
        ({"status": "sold"}, "status"),
        ({"id": "V-mine"}, "id: set by the server"),
        ({"park_id": "park-999"}, "park_id 'park-999' is not a known park"),
    ],
)
def test_bad_fields_are_refused_by_name_and_change_nothing(store, users, fields, words):
    before = listings.all_listings(store)
    body = {k: v for k, v in _fields(**fields).items() if v is not None}
    with pytest.raises((InvalidInputError, PermissionDeniedError), match=words):
        listings.create(store, users["a"], body)
    assert listings.all_listings(store) == before
    assert audit_log(store, users["clerk"])[-1]["outcome"] == "refused"


@pytest.mark.parametrize(
    ("patch", "merge", "words"),
    [
        ({"status": None}, True, "status"),  # a merge patch's null removes a required field
        ({"area_m2": "big"}, True, "area_m2"),
        ({"floor": 2.5}, True, "floor"),
        (_fields(lon=None, lat=None), False, "geometry"),  # a replacement without a point
    ],
)
def test_a_write_with_a_null_or_a_wrong_type_is_refused_by_name(store, users, patch, merge, words):
    made = listings.create(store, users["a"], _fields())
    with pytest.raises(InvalidInputError, match=words):
        listings.update(store, users["a"], made["id"], patch, if_match="*", merge=merge)
    assert listings.get(store, made["id"]) == made


def test_the_stamp_changes_with_every_committed_write_and_with_nothing_else(store, users):
    listings.seed(store)
    before = listings.stamp(store)
    assert before[0] is True and listings.stamp(store) == before  # reading changes nothing
    made = listings.create(store, users["a"], _fields())
    created = listings.stamp(store)
    changed = listings.update(store, users["a"], made["id"], {"rent": 60.0}, if_match="*", merge=True)
    updated = listings.stamp(store)
    with pytest.raises(StaleWriteError):  # refused: nothing written, nothing counted
        stale = listings.etag(made)
        listings.update(store, users["a"], made["id"], {"rent": 1.0}, if_match=stale, merge=True)
    assert listings.stamp(store) == updated
    listings.delete(store, users["a"], made["id"], if_match=listings.etag(changed))
    assert len({before, created, updated, listings.stamp(store)}) == 4
