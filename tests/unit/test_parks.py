"""Operators describe their own parks: new versions of the parks layer, refusals named and audited."""

import pytest

from siteselect import accounts, parks
from siteselect.audit import entries as audit_log
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError, StaleWriteError


@pytest.fixture
def users(store):
    return {
        "a": accounts.add_user(store, "operator-a", "operator", ["park-001"]),
        "clerk": accounts.add_user(store, "clerk", "clerk"),
        "admin": accounts.add_user(store, "admin", "admin"),
    }


def test_an_operator_renames_its_park_as_a_new_version(store, users):
    frame, version = parks.current(store)
    before = parks.record(frame, "park-001")
    after = parks.update(
        store, users["a"], "park-001", {"name": "新名字园区"}, if_match=parks.etag(before), merge=True
    )
    assert after["name"] == "新名字园区" and after["address"] == before["address"]
    frame, newer = parks.current(store)
    assert newer == version + 1 and parks.record(frame, "park-001")["name"] == "新名字园区"
    assert parks.etag(after) != parks.etag(before)
    entry = audit_log(store, users["clerk"])[-1]
    assert (entry["action"], entry["target"], entry["outcome"]) == ("park patch", "park-001", "ok")


def test_a_replacement_clears_the_descriptive_fields_it_does_not_give(store, users):
    after = parks.update(store, users["admin"], "park-001", {"name": "只有名字"}, if_match="*", merge=False)
    assert after["name"] == "只有名字" and after["address"] is None and after["operator"] is not None


@pytest.mark.parametrize(
    ("who", "park", "body", "error", "words"),
    [
        ("a", "park-002", {"name": "x"}, PermissionDeniedError, "operator operator-a runs park-001"),
        ("clerk", "park-001", {"name": "x"}, PermissionDeniedError, "clerks verify premises"),
        ("a", "park-001", {"geometry": None}, PermissionDeniedError, "planning data"),
        ("a", "park-001", {"rent": 3}, InvalidInputError, "rent: not a field of a park"),
        ("a", "park-001", {"id": "park-009"}, InvalidInputError, "id: set by the server"),
        ("a", "park-404", {"name": "x"}, NotFoundError, "no park 'park-404'"),
    ],
)
def test_refusals_are_named_and_leave_the_parks_as_they_were(store, users, who, park, body, error, words):
    _, version = parks.current(store)
    with pytest.raises(error, match=words):
        parks.update(store, users[who], park, body, if_match="*", merge=True)
    assert parks.current(store)[1] == version


def test_a_stale_etag_is_refused(store, users):
    with pytest.raises(StaleWriteError, match="changed since"):
        parks.update(store, users["a"], "park-001", {"name": "x"}, if_match='"old"', merge=True)
