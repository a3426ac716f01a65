"""Who may write what, route by route: anonymous, a clerk, the operator of park A, the operator of
park B and an admin, each against every write route; and the data stewards of two departments
against the loading routes. Every refusal is audited and changes nothing; every write is audited."""

from __future__ import annotations

import io
import shutil

import pytest
import sqlalchemy as sa
import xlsxwriter
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, listings
from siteselect.settings import Settings
from siteselect.store import Store
from tests.support.department_files import ENFORCEMENT, acceptance_xlsx, prohibited_xlsx

ITEMS = "/ogc/collections/vacancies/items"
PARKS = "/ogc/collections/parks/items"
IN_A, IN_B, IN_NEITHER = [120.445, 36.131], [120.428, 36.116], [120.44, 36.12]
ROLES = ("anonymous", "clerk", "operator-a", "operator-b", "admin")
STEWARD_ROLES = ("anonymous", "clerk", "operator-a", "steward-enforcement", "steward-housing", "admin")


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("rights") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    accounts.add_user(store, "operator-b", "operator", ["park-002"])
    accounts.add_user(store, "clerk", "clerk")
    accounts.add_user(store, "admin", "admin")
    accounts.add_user(store, "steward-enforcement", "steward", department="enforcement")
    accounts.add_user(store, "steward-housing", "steward", department="housing")
    auth = {"anonymous": {}} | {
        name: {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"}
        for name in ROLES[1:] + STEWARD_ROLES[3:5]
    }
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, auth, store


def _vacancy(coordinates=IN_A, **props):
    base = {"park_id": "park-001", "address": "株洲路153号2层", "floor": 2, "area_m2": 80.0,
            "status": "available"}  # fmt: skip
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coordinates},
            "properties": base | props}  # fmt: skip


PARK_A = {
    "type": "Feature",
    "geometry": None,
    "properties": {"name": "青岛国际创新园", "address": "株洲路153号"},
}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.44, 36.12], [120.45, 36.12], [120.45, 36.13], [120.44, 36.12]]],
}
# route: (method, path, body); {id} is a fresh listing of park A
ROUTES = {
    "create in A": ("POST", ITEMS, _vacancy()),
    "replace": ("PUT", f"{ITEMS}/{{id}}", _vacancy(rent=50.0)),
    "patch": ("PATCH", f"{ITEMS}/{{id}}", {"rent": 55.0}),
    "verify pre-filing": ("PATCH", f"{ITEMS}/{{id}}", {"prefiled": True}),
    "move to park B": ("PATCH", f"{ITEMS}/{{id}}", {"park_id": "park-002"}),
    "delete": ("DELETE", f"{ITEMS}/{{id}}", None),
    "patch park A": ("PATCH", f"{PARKS}/park-001", {"address": "株洲路153号"}),
    "replace park A": ("PUT", f"{PARKS}/park-001", PARK_A),
    "create a park": ("POST", PARKS, {"type": "Feature", "geometry": SQUARE, "properties": {"name": "新园"}}),
    "delete park A": ("DELETE", f"{PARKS}/park-001", None),
    "create a zone": ("POST", "/ogc/collections/zones/items", {"type": "Feature"}),
    "patch a zone": ("PATCH", "/ogc/collections/zones/items/Z0001", {"name": "x"}),
    "pre-file": ("POST", "/filings", lambda lid: _filing(lid)),
    "approve a filing": ("POST", "/filings/{filing}/approve", None),
    "return a filing": ("POST", "/filings/{filing}/return", {"reason": "产权证号与登记簿不符"}),
    "upload park A's sheet": ("POST", "/parks/park-001/premises.xlsx", lambda lid: _sheet(lid)),
}
#                       anonymous clerk op-a op-b admin
EXPECTED = {
    "create in A":       (401, 403, 201, 403, 201),
    "replace":           (401, 200, 200, 403, 200),
    "patch":             (401, 200, 200, 403, 200),
    "verify pre-filing": (401, 200, 403, 403, 200),
    "move to park B":    (401, 403, 403, 403, 200),
    "delete":            (401, 403, 204, 403, 204),
    "patch park A":      (401, 403, 200, 403, 200),
    "replace park A":    (401, 403, 200, 403, 200),
    "create a park":     (401, 403, 403, 403, 403),
    "delete park A":     (401, 403, 403, 403, 403),
    "create a zone":     (401, 403, 403, 403, 403),
    "patch a zone":      (401, 403, 403, 403, 403),
    "pre-file":          (401, 403, 201, 403, 201),
    "approve a filing":  (401, 200, 403, 403, 200),
    "return a filing":   (401, 200, 403, 403, 200),
    "upload park A's sheet": (401, 403, 200, 403, 200),
}  # fmt: skip
CASES = [(route, role, EXPECTED[route][n]) for route in ROUTES for n, role in enumerate(ROLES)]


@pytest.mark.parametrize(("route", "role", "status"), CASES, ids=[f"{r}-{who}" for r, who, _ in CASES])
def test_each_role_on_each_write_route(service, route, role, status):
    client, auth, store = service
    method, path, body = ROUTES[route]
    listing = client.post(ITEMS, json=_vacancy(), headers=auth["admin"]).json()
    filing = (
        client.post("/filings", json=_filing(listing["id"]), headers=auth["admin"]).json()
        if "{filing}" in path
        else {}
    )
    before = (store.counts(), listings.all_listings(store), _audit(client, auth), _filings(store))
    headers = auth[role] | {"If-Match": "*"} if method in ("PUT", "PATCH", "DELETE") else auth[role]
    body = body(listing["id"]) if callable(body) else body
    sent = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = client.request(
        method, path.format(id=listing["id"], filing=filing.get("id")), headers=headers, **sent
    )
    assert r.status_code == status, r.text
    log = _audit(client, auth)
    if status == 401:  # nobody to name: nothing is written nor recorded
        assert (store.counts(), listings.all_listings(store), log, _filings(store)) == before
    elif status >= 400:
        assert (store.counts(), listings.all_listings(store), _filings(store)) == (*before[:2], before[3])
        assert len(log) == len(before[2]) + 1 and log[-1]["outcome"] == "refused"
        assert log[-1]["actor"] == f"{role.split('-')[0]}:{role}"
    elif route == "approve a filing":  # the filing, then its listing marked pre-filed
        assert [e["action"] for e in log[len(before[2]) :]] == ["approve", "prefile"]
        assert all(e["outcome"] == "ok" for e in log[len(before[2]) :])
    else:
        assert len(log) == len(before[2]) + 1 and log[-1]["outcome"] == "ok"


def _audit(client, auth):
    return client.get("/audit", headers=auth["admin"]).json()


def _filings(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(store.accounts["filings"]).order_by("id")).all()


def _filing(listing_id):
    return {"vacancy_id": listing_id, "certificate_no": "鲁(2024)崂山区不动产权第0001号",
            "owner": "创新园公司", "registered_use": "办公", "valid_until": "2099-12-31"}  # fmt: skip


def _sheet(listing_id):
    """A park sheet changing one premises' rent (its address too vague to be placed: the
    coordinates stand)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("房源")
    for r, row in enumerate([["编号", "地址", "面积", "租金", "状态", "经度", "纬度"],
                             [listing_id, "园区A座2层", 80, 66.6, "可租", *IN_A]]):  # fmt: skip
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def test_an_admin_cannot_move_a_listing_to_a_park_that_does_not_exist(service):
    client, auth, store = service
    listing = client.post(ITEMS, json=_vacancy(), headers=auth["admin"]).json()
    r = client.patch(
        f"{ITEMS}/{listing['id']}", json={"park_id": "park-404"}, headers=auth["admin"] | {"If-Match": "*"}
    )
    assert r.status_code == 422 and "park-404" in r.json()["detail"]
    assert listings.get(store, listing["id"])["park_id"] == "park-001"
    assert _audit(client, auth)[-1]["outcome"] == "refused"


@pytest.mark.parametrize(
    ("coordinates", "words"),
    [(IN_B, "inside park park-002"), (IN_NEITHER, "outside the outline of park park-001")],
)
def test_an_operator_places_listings_inside_its_own_park_only(service, coordinates, words):
    client, auth, store = service
    before = listings.all_listings(store)
    r = client.post(ITEMS, json=_vacancy(coordinates), headers=auth["operator-a"])
    assert r.status_code == 403 and words in r.json()["detail"]
    listing = client.post(ITEMS, json=_vacancy(), headers=auth["operator-a"]).json()
    lon, lat = coordinates
    moved = client.patch(f"{ITEMS}/{listing['id']}", json={"lon": lon, "lat": lat},
                         headers=auth["operator-a"] | {"If-Match": "*"})  # fmt: skip
    assert moved.status_code == 403 and words in moved.json()["detail"]
    assert [x for x in listings.all_listings(store) if x["id"] != listing["id"]] == before
    assert (listings.get(store, listing["id"])["lon"], listings.get(store, listing["id"])["lat"]) == tuple(
        IN_A
    )
    # an admin places a listing wherever in the district
    assert client.post(ITEMS, json=_vacancy(coordinates), headers=auth["admin"]).status_code == 201


# Reports: anyone may make one (a clerk signed in is named as its clerk); the register is read by
# clerks and admins only. A refusal is audited; a report made or a register read is not an audit entry.
REPORT = {"industry": "网吧", "sites": [{"vacancy_id": "V00006"}], "as_of": "2026-06-01"}
REPORT_ROUTES = {
    "make a report": ("POST", "/reports"),
    "read the register": ("GET", "/reports?industry=9013"),
}
#                            anonymous clerk op-a op-b admin
REPORT_EXPECTED = {
    "make a report":     (201, 201, 201, 201, 201),
    "read the register": (401, 200, 403, 403, 200),
}  # fmt: skip
REPORT_CASES = [
    (route, role, REPORT_EXPECTED[route][n]) for route in REPORT_ROUTES for n, role in enumerate(ROLES)
]


@pytest.mark.parametrize(
    ("route", "role", "status"), REPORT_CASES, ids=[f"{r}-{who}" for r, who, _ in REPORT_CASES]
)
def test_each_role_on_each_report_route(service, route, role, status):
    client, auth, store = service
    method, path = REPORT_ROUTES[route]
    body = REPORT | {"filing": {"application_no": f"rights-{role}"}} if method == "POST" else None
    before = (_reports(store), _audit(client, auth))
    r = client.request(method, path, json=body, headers=auth[role])
    assert r.status_code == status, r.text
    reports, log = _reports(store), _audit(client, auth)
    if status == 403:
        assert reports == before[0] and len(log) == len(before[1]) + 1 and log[-1]["outcome"] == "refused"
    elif method == "POST":
        assert reports == before[0] + 1 and log == before[1]
        assert r.json()["filing"].get("clerk") == ("clerk" if role == "clerk" else None)
    else:
        assert (reports, log) == before


def _reports(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(store.reports)).scalar_one()


PROHIBITED = "/layers/prohibited_addresses"
ENTRY = ["崂山区深圳路116号", "违法建筑", "全部行业", "2026年4月2日"]  # ids come from the address
# route: (path, query, file); files: the enforcement bureau's list, the market regulator's, records
STEWARD_ROUTES = {
    "try a list": (f"{PROHIBITED}/loads", {}, "enforcement"),
    "load a list": (f"{PROHIBITED}/loads", {"dry_run": "false"}, "enforcement"),
    "load a list without department": (f"{PROHIBITED}/loads", {"dry_run": "false"}, "anyone's"),
    "load another department's": (
        f"{PROHIBITED}/loads",
        {"department": "崂山区市场监督管理局", "dry_run": "false"},
        "another",
    ),
    "replace everyone's": (f"{PROHIBITED}/loads", {"replace_all": "true", "dry_run": "false"}, "enforcement"),
    "problem workbook": (f"{PROHIBITED}/loads/problems", {}, "enforcement"),
    "try acceptance records": ("/layers/buildings/records/acceptance", {}, "acceptance"),
    "load acceptance records": ("/layers/buildings/records/acceptance", {"dry_run": "false"}, "acceptance"),
    "load roads": ("/layers/roads/loads", {"dry_run": "false"}, "enforcement"),
    "restore a list": (f"{PROHIBITED}/versions/1/restore", None, None),
    "restore roads": ("/layers/roads/versions/1/restore", None, None),
}
#                                   anonymous clerk op-a st-enf st-hou admin
STEWARD_EXPECTED = {
    "try a list":                     (401, 403, 403, 200, 422, 200),
    "load a list":                    (401, 403, 403, 200, 422, 200),
    "load a list without department": (401, 403, 403, 200, 422, 422),
    "load another department's":      (401, 403, 403, 403, 403, 200),
    "replace everyone's":             (401, 403, 403, 403, 403, 200),
    "problem workbook":               (401, 403, 403, 200, 200, 200),
    "try acceptance records":         (401, 403, 403, 403, 200, 200),
    "load acceptance records":        (401, 403, 403, 403, 200, 200),
    "load roads":                     (401, 403, 403, 403, 403, 422),
    "restore a list":                 (401, 403, 403, 200, 200, 200),
    "restore roads":                  (401, 403, 403, 403, 403, 200),
}  # fmt: skip
STEWARD_CASES = [
    (route, role, STEWARD_EXPECTED[route][n])
    for route in STEWARD_ROUTES
    for n, role in enumerate(STEWARD_ROLES)
]
WRITES = {"load a list", "load a list without department", "load another department's", "replace everyone's",
          "load acceptance records", "load roads", "restore a list", "restore roads"}  # fmt: skip


@pytest.fixture(scope="module")
def department_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    return {
        "enforcement": prohibited_xlsx(folder / "e.xlsx", [[*ENTRY, ENFORCEMENT]]).read_bytes(),
        "anyone's": prohibited_xlsx(folder / "a.xlsx", [["崂山区深圳路71号", *ENTRY[1:], None]]).read_bytes(),
        "another": prohibited_xlsx(folder / "m.xlsx", [["松岭路102号", *ENTRY[1:], None]]).read_bytes(),
        "acceptance": acceptance_xlsx(
            folder / "r.xlsx", [["项目", "崂山区香港东路2号", "370212JG2026001", "2026-03-01", "商业"]]
        ).read_bytes(),
    }


@pytest.mark.parametrize(
    ("route", "role", "status"), STEWARD_CASES, ids=[f"{r}-{who}" for r, who, _ in STEWARD_CASES]
)
def test_each_role_on_each_loading_route(service, department_files, route, role, status):
    """A steward loads, tries and restores its own department's entries and the layers its
    department keeps; an admin loads for any department (a list without one then names none: 422).
    The housing bureau's steward loading the list the enforcement bureau's has just loaded is a
    422 too: its entries' ids (made from their addresses) are the enforcement bureau's now."""
    client, auth, store = service
    path, query, file = STEWARD_ROUTES[route]
    before = (store.counts(), _audit(client, auth))
    if query is None:
        r = client.post(path, json={"why": "清单有误"}, headers=auth[role])
    else:
        r = client.post(path, params={"filename": "x.xlsx"} | query, content=department_files[file],
                        headers=auth[role] | {"Content-Type": "application/octet-stream"})  # fmt: skip
    assert r.status_code == status, r.text
    log = _audit(client, auth)
    if status >= 400 or route not in WRITES:  # refusals and dry runs change nothing
        assert store.counts() == before[0]
    if status == 401 or (status < 400 and route not in WRITES) or status == 422:
        assert log == before[1]  # nobody to name, or nothing written nor refused
    elif status == 403:
        assert len(log) == len(before[1]) + 1 and log[-1]["outcome"] == "refused"
        assert log[-1]["actor"] == f"{role.split('-')[0]}:{role}"
    else:
        assert (
            len(log) == len(before[1]) + 1 and log[-1]["outcome"] == "ok" and log[-1]["actor"].endswith(role)
        )
