"""Pre-filing in the library: an operator files, a clerk approves or returns, and once approved every
check of the premises shows it pre-filed with the filing's number, until the filing expires."""

import datetime as dt

import pytest

from siteselect import filings, listings
from siteselect.audit import entries as audit_log
from siteselect.check import checker_for
from siteselect.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from siteselect.index import Catalog
from siteselect.premises import Premises, today
from tests.support.workbench import building_in_park


def _unfiled_listing(store, users):
    """A new listing of park A in a building where no other listing is pre-filed."""
    at = building_in_park(store, "park-001")
    made = listings.create(
        store,
        users["a"],
        {
            "park_id": "park-001",
            "address": "株洲路153-1号5层01室",
            "floor": 5,
            "area_m2": 120.0,
            "status": "available",
            "lon": at["lon"],
            "lat": at["lat"],
        },
    )
    vac = checker_for(Catalog(store).current()).locator.vacancies
    building = vac.loc[vac["id"] == made["id"], "building_id"].iloc[0]
    assert building == at["id"]
    for other in vac.loc[(vac["building_id"] == building) & vac["prefiled"], "id"]:
        listings.update(store, users["clerk"], other, {"prefiled": False}, if_match="*", merge=True)
    return made


def _facts(vacancy_id, **more):
    until = (today() + dt.timedelta(days=365)).isoformat()
    return {
        "vacancy_id": vacancy_id,
        "certificate_no": "鲁(2024)青岛市崂山区不动产权第0012345号",
        "owner": "青岛国际创新园有限公司",
        "registered_use": "办公",
        "valid_until": until,
    } | more


def _proof(store, vacancy_id, as_of=None):
    check = checker_for(Catalog(store).current()).check(
        Premises(industry="6513", vacancy_id=vacancy_id, as_of=as_of)
    )
    return check["address_proof"]


def test_an_approved_filing_shows_in_every_check_of_the_premises_until_it_expires(store, users):
    listing = _unfiled_listing(store, users)
    assert _proof(store, listing["id"])["prefiled"] is False
    filed = filings.file(store, users["a"], _facts(listing["id"]))
    assert filed["status"] == "pending" and filed["number"] is None
    assert _proof(store, listing["id"])["prefiled"] is False  # waiting for a clerk counts for nothing
    done = filings.decide(store, users["clerk"], filed["id"], approve=True)
    assert done["status"] == "approved" and done["number"].startswith("YBA-")
    proof = _proof(store, listing["id"])
    assert proof["prefiled"] is True and listing["id"] in proof["prefiled_vacancies"]
    assert proof["prefilings"] == [
        {
            "vacancy_id": listing["id"],
            "number": done["number"],
            "approved_on": today().isoformat(),
            "valid_until": filed["valid_until"],
        }
    ]
    after = dt.date.fromisoformat(filed["valid_until"]) + dt.timedelta(days=1)
    assert _proof(store, listing["id"], as_of=after)["prefiled"] is False  # expired
    assert listings.get(store, listing["id"])["prefiled"] is True
    log = [(e["action"], e["outcome"]) for e in audit_log(store, users["clerk"])][-3:]
    assert log == [("file", "ok"), ("approve", "ok"), ("prefile", "ok")]


def test_a_returned_filing_names_its_reason_and_may_be_filed_again(store, users):
    listing = _unfiled_listing(store, users)
    filed = filings.file(store, users["a"], _facts(listing["id"]))
    with pytest.raises(InvalidInputError, match="already waiting"):
        filings.file(store, users["a"], _facts(listing["id"]))
    with pytest.raises(InvalidInputError, match="reason"):
        filings.decide(store, users["clerk"], filed["id"], approve=False, reason=" ")
    returned = filings.decide(store, users["clerk"], filed["id"], approve=False, reason="证书已过期")
    assert returned["status"] == "returned" and returned["reason"] == "证书已过期"
    with pytest.raises(InvalidInputError, match="already returned"):
        filings.decide(store, users["clerk"], filed["id"], approve=True)
    assert _proof(store, listing["id"])["prefiled"] is False
    assert filings.file(store, users["a"], _facts(listing["id"]))["status"] == "pending"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"certificate_no": ""}, "certificate_no"),
        ({"owner": "x" * 201}, "owner: at most 200"),
        ({"valid_until": "2020-01-01"}, "already expired"),
        ({"valid_until": "明年"}, "valid_until"),
        ({"area": 3}, "area: not a fact"),
    ],
)
def test_bad_facts_are_refused_naming_the_field(store, users, change, words):
    listing = _unfiled_listing(store, users)
    with pytest.raises(InvalidInputError, match=words):
        filings.file(store, users["a"], _facts(listing["id"], **change))
    assert filings.filings_of(store, users["clerk"]) == []
    assert audit_log(store, users["clerk"])[-1]["outcome"] == "refused"


def test_operator_b_never_sees_nor_files_park_a_filings(store, users):
    listing = _unfiled_listing(store, users)
    filed = filings.file(store, users["a"], _facts(listing["id"]))
    assert filings.filings_of(store, users["b"]) == []
    assert [f["id"] for f in filings.filings_of(store, users["a"])] == [filed["id"]]
    with pytest.raises(PermissionDeniedError):
        filings.filings_of(store, users["b"], park="park-001")
    with pytest.raises(PermissionDeniedError, match="not run by operator-b"):
        filings.file(store, users["b"], _facts(listing["id"]))
    with pytest.raises(PermissionDeniedError):
        filings.decide(store, users["b"], filed["id"], approve=True)
    with pytest.raises(NotFoundError):
        filings.decide(store, users["clerk"], 10_000, approve=True)
    refusals = [e for e in audit_log(store, users["clerk"]) if e["outcome"] == "refused"]
    assert len(refusals) == 4 and all(
        e["actor"].startswith(("operator:operator-b", "clerk:")) for e in refusals
    )
    assert filings.filings_of(store, users["clerk"], status="pending")[0]["status"] == "pending"


def test_a_filing_approved_just_after_midnight_in_china_is_approved_on_that_day():
    decided = {
        "number": "YBA-2026-000001",
        "decided_at": "2026-11-30T16:30:00+00:00",
        "valid_until": "2027-12-01",
    }
    assert filings.proof(decided)["approved_on"] == "2026-12-01"  # 00:30 in Qingdao
    assert filings.proof(decided | {"decided_at": "2026-11-30T15:59:00+00:00"})["approved_on"] == "2026-11-30"
