"""Who may write what, route by route: anonymous, a clerk, the operator of park A, the operator of
park B and an admin, each against every write route. Every refusal is audited and changes nothing;
every write is audited."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts, listings
from siteselect.settings import Settings
from siteselect.store import Store

ITEMS = "/ogc/collections/vacancies/items"
PARKS = "/ogc/collections/parks/items"
IN_A, IN_B, IN_NEITHER = [120.445, 36.131], [120.428, 36.116], [120.44, 36.12]
ROLES = ("anonymous", "clerk", "operator-a", "operator-b", "admin")


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
    auth = {"anonymous": {}} | {
        name: {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"} for name in ROLES[1:]
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
}  # fmt: skip
CASES = [(route, role, EXPECTED[route][n]) for route in ROUTES for n, role in enumerate(ROLES)]


@pytest.mark.parametrize(("route", "role", "status"), CASES, ids=[f"{r}-{who}" for r, who, _ in CASES])
def test_each_role_on_each_write_route(service, route, role, status):
    client, auth, store = service
    method, path, body = ROUTES[route]
    listing = client.post(ITEMS, json=_vacancy(), headers=auth["admin"]).json()
    before = (store.counts(), listings.all_listings(store), _audit(client, auth))
    headers = auth[role] | {"If-Match": "*"} if method in ("PUT", "PATCH", "DELETE") else auth[role]
    r = client.request(method, path.format(id=listing["id"]), json=body, headers=headers)
    assert r.status_code == status, r.text
    log = _audit(client, auth)
    if status == 401:  # nobody to name: nothing is written nor recorded
        assert (store.counts(), listings.all_listings(store), log) == before
    elif status >= 400:
        assert (store.counts(), listings.all_listings(store)) == before[:2]
        assert len(log) == len(before[2]) + 1 and log[-1]["outcome"] == "refused"
        assert log[-1]["actor"] == f"{role.split('-')[0]}:{role}"
    else:
        assert len(log) == len(before[2]) + 1 and log[-1]["outcome"] == "ok"


def _audit(client, auth):
    return client.get("/audit", headers=auth["admin"]).json()


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
