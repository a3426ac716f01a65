"""The operator's workbench over HTTP: suggestions, the building under a click, pre-filing from
filing to the check that shows it, a park's sheet, and what each premises is good for — each judged
by the same steps as every check and match."""

import datetime as dt
import io
import shutil

import pytest
import python_calamine
import xlsxwriter
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts
from siteselect.premises import CHINA_TZ
from siteselect.settings import Settings
from siteselect.store import Store
from tests.support.workbench import building_in_park

ITEMS = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("workbench") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    accounts.add_user(store, "operator-b", "operator", ["park-002"])
    accounts.add_user(store, "clerk", "clerk")
    auth = {
        n: {"Authorization": f"Bearer {accounts.create_token(store, n)[0]}"}
        for n in ("operator-a", "operator-b", "clerk")
    }
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, auth, store


def _new_listing(client, auth, store, **props):
    at = building_in_park(store, "park-001")
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [at["lon"], at["lat"]]},
        "properties": {
            "park_id": "park-001",
            "address": f"{at['address']}3层301室",
            "floor": 3,
            "area_m2": 90.0,
            "rent": 70.0,
            "use": "office",
            "status": "available",
        }
        | props,
    }
    r = client.post(ITEMS, json=feature, headers=auth["operator-a"])
    assert r.status_code == 201, r.text
    return r.json()["id"], at


def test_suggestions_hold_what_was_typed_and_resolve_where_they_say(service):
    client, _, _ = service
    found = client.get("/addresses/complete", params={"q": "株洲路15"}).json()
    assert found and all("株洲路15" in s["address"] for s in found)
    first = found[0]
    placed = client.get("/geocode", params={"q": first["address"]}).json()
    assert (placed["level"], placed["lon"], placed["lat"]) == (first["level"], first["lon"], first["lat"])
    assert first["building"]["id"] == placed["building_id"]
    assert client.get("/addresses/complete", params={"q": "x" * 201}).status_code == 422
    assert client.get("/addresses/complete", params={"q": "株洲路", "limit": 99}).status_code == 422


def test_a_click_finds_the_building_under_it_and_a_floor_it_lacks_is_refused(service):
    client, auth, store = service
    at = building_in_park(store, "park-001")
    got = client.get("/buildings/at", params={"lon": at["lon"], "lat": at["lat"]}).json()["building"]
    assert (got["id"], got["floors"]) == (at["id"], at["floors"])
    assert client.get("/buildings/at", params={"lon": 120.44, "lat": 36.12}).json() == {"building": None}
    before = client.get(f"{ITEMS}?limit=10000").json()["numberMatched"]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [at["lon"], at["lat"]]},
        "properties": {
            "park_id": "park-001",
            "address": at["address"],
            "floor": at["floors"] + 1,
            "area_m2": 50.0,
            "status": "available",
        },
    }
    r = client.post(ITEMS, json=feature, headers=auth["operator-a"])
    assert r.status_code == 422 and f"has {at['floors']} floors" in r.json()["detail"]
    assert client.get(f"{ITEMS}?limit=10000").json()["numberMatched"] == before


def test_an_approved_filing_shows_in_the_check_and_park_b_never_sees_it(service):
    client, auth, store = service
    vid, _ = _new_listing(client, auth, store)
    facts = {
        "vacancy_id": vid,
        "certificate_no": "鲁(2024)崂山区不动产权第0012345号",
        "owner": "创新园公司",
        "registered_use": "办公",
        "valid_until": "2099-12-31",
    }
    assert client.post("/filings", json=facts, headers=auth["operator-b"]).status_code == 403
    filed = client.post("/filings", json=facts, headers=auth["operator-a"])
    assert filed.status_code == 201, filed.text
    fid = filed.json()["id"]
    assert fid in [f["id"] for f in client.get("/filings?status=pending", headers=auth["clerk"]).json()]
    assert client.get("/filings", headers=auth["operator-b"]).json() == []
    assert client.get("/filings?park=park-001", headers=auth["operator-b"]).status_code == 403
    assert client.post(f"/filings/{fid}/approve", headers=auth["operator-b"]).status_code == 403
    assert client.post(f"/filings/{fid}/approve", headers=auth["operator-a"]).status_code == 403
    done = client.post(f"/filings/{fid}/approve", headers=auth["clerk"]).json()
    check = client.post("/check", json={"industry": "6513", "vacancy_id": vid}).json()
    proof = check["address_proof"]
    assert proof["prefiled"] is True
    assert {
        "vacancy_id": vid,
        "number": done["number"],
        "approved_on": _day_in_china(done["decided_at"]),
        "valid_until": "2099-12-31",
    } in proof["prefilings"]
    expired = client.post(
        "/check", json={"industry": "6513", "vacancy_id": vid, "as_of": "2100-01-01"}
    ).json()
    assert vid not in expired["address_proof"]["prefiled_vacancies"]
    refusals = [e for e in client.get("/audit", headers=auth["clerk"]).json() if e["outcome"] == "refused"]
    assert {e["actor"] for e in refusals[-4:]} == {"operator:operator-b", "operator:operator-a"}


def _xlsx(rows):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("房源")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def test_a_sheet_round_trip_refuses_a_bad_row_whole_and_loads_a_good_one(service):
    client, auth, _ = service
    down = client.get("/parks/park-001/premises.xlsx", headers=auth["operator-a"])
    assert down.status_code == 200
    assert client.get("/parks/park-001/premises.xlsx", headers=auth["operator-b"]).status_code == 403
    rows = (
        python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(down.content))
        .get_sheet_by_name("房源")
        .to_python()
    )
    rows = [r for r in rows if any(v != "" for v in r)]
    bad = [row[:] for row in rows]
    bad[2][2] = 0  # 楼层 0: no such floor
    bad[3][6] = "出租中"  # not a status
    before = client.get(f"{ITEMS}?limit=10000").json()
    url = "/parks/park-001/premises.xlsx?filename=park.xlsx"
    r = client.post(url, content=_xlsx(bad), headers=auth["operator-a"])
    assert r.status_code == 422
    named = {(p["sheet"], p["line"], p["header"]) for p in r.json()["problems"]}
    assert ("房源", 4, "状态") in named
    assert client.get(f"{ITEMS}?limit=10000").json()["features"] == before["features"]
    good = [row[:] for row in rows]
    good[1][4] = 55.5
    done = client.post(url, content=_xlsx(good), headers=auth["operator-a"]).json()
    assert done["changed"] == [rows[1][0]] and done["created"] == []
    assert client.get(f"{ITEMS}/{rows[1][0]}").json()["properties"]["rent"] == 55.5


def test_what_a_premises_is_good_for_agrees_with_check_and_match(service):
    client, auth, store = service
    vid, _ = _new_listing(client, auth, store, rent=500.0)
    seen = client.get(f"/premises/{vid}/outlook").json()
    park = client.get("/ogc/collections/parks/items/park-001").json()["properties"]
    assert [row["target"] for row in seen["industries"][: len(park["industries"])]] == park["industries"]
    for row in seen["industries"][:3]:
        code = row["industry"]["code"]
        check = client.post("/check", json={"industry": code, "vacancy_id": vid}).json()
        assert row["verdict"] == check["verdict"]
        assert [r["id"] for r in row["reasons"]] == [
            r["id"] for r in check["reasons"] if r["outcome"] != "passed"
        ]
        if row["verdict"] == "prohibited":  # set apart by the match, never ranked
            assert (row["rank"], row["improve"]) == (None, [])
            continue
        ranked = client.post("/match", json={"industry": code, "limit": 200}).json()["results"]
        ids = [r["id"] for r in ranked]
        assert row["rank"] == (ids.index(vid) + 1 if vid in ids else None)
        rent = next(w for w in row["improve"] if w["kind"] == "rent")  # 500 is far above the median
        assert rent["score"] > row["score"] and str(seen["typical_rent"]) in rent["message_en"]
    assert client.get("/premises/V-nope/outlook").status_code == 404


def _day_in_china(instant: str) -> str:
    return dt.datetime.fromisoformat(instant).astimezone(CHINA_TZ).date().isoformat()
