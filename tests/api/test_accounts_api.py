"""People sign in: passwords, session cookies, CSRF, the throttle on wrong passwords, and the
admin's users, tokens and audit trail; bearer tokens keep working for programs."""

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import COOKIE
from siteselect import accounts, sessions
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

ITEMS = "/ogc/collections/vacancies/items"
PASSWORD = "崂山-correct-horse"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory, demo_files):
    url = f"sqlite:///{tmp_path_factory.mktemp('accounts') / 'store.db'}"
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, demo_files[layer])
    people = [("admin", "admin", []), ("clerk", "clerk", []),
              ("operator-a", "operator", ["park-001"]), ("operator-b", "operator", ["park-002"])]  # fmt: skip
    for name, role, parks in people:
        accounts.add_user(store, name, role, parks)
        sessions.set_password(store, name, PASSWORD)
    outlines = store.read_layer("parks")
    PARK_POINTS.update(zip(outlines["id"], outlines.geometry.representative_point()))
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client.app, store


def _browser(service, base_url="http://testserver"):
    """A client with a cookie jar of its own, as one browser."""
    return TestClient(service[0], base_url=base_url)


def _with_cookie(service, secret):
    """A browser that sends a session cookie it was handed (replayed, or planted)."""
    return TestClient(service[0], headers={"Cookie": f"{COOKIE}={secret}"})


def _signed_in(service, name, password=PASSWORD):
    client = _browser(service)
    r = client.post("/session", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    return client, {"X-CSRF-Token": r.json()["csrf"]}


def _audit(service):
    return _signed_in(service, "admin")[0].get("/audit").json()


PARK_POINTS: dict[str, Any] = {}  # a point inside each park's outline, where its operator may publish


def _feature(**props):
    base = {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": 120.0,
            "rent": 75.0, "use": "office", "status": "available"}  # fmt: skip
    spot = PARK_POINTS[(base | props)["park_id"]]
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [spot.x, spot.y]},
            "properties": base | props}  # fmt: skip


def _new_user(service, role="clerk", parks=()):
    """A user of its own for a test that locks, disables or re-passwords it."""
    name = f"{role}-{len(accounts.users(service[1]))}"
    accounts.add_user(service[1], name, role, list(parks))
    sessions.set_password(service[1], name, PASSWORD)
    return name


def test_sign_in_sets_an_http_only_same_site_cookie_and_names_the_user(service):
    client = _browser(service)
    r = client.post("/session", json={"name": "operator-a", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    secret = client.cookies[COOKIE]
    assert secret not in r.text and len(r.json()["csrf"]) >= 40
    assert client.get("/me").json() == {"name": "operator-a", "role": "operator", "parks": ["park-001"]}
    assert client.get("/session").json()["user"]["csrf"] == r.json()["csrf"]


def test_the_cookie_is_secure_over_https(service):
    client = _browser(service, "https://testserver")
    r = client.post("/session", json={"name": "clerk", "password": PASSWORD})
    assert "secure" in r.headers["set-cookie"].lower()


def test_sign_in_gives_a_new_session_id_and_ends_the_one_the_browser_came_with(service):
    client, _ = _signed_in(service, "clerk")
    first = client.cookies[COOKIE]
    r = client.post("/session", json={"name": "clerk", "password": PASSWORD})
    second = client.cookies[COOKIE]
    assert r.status_code == 200 and second != first
    assert _with_cookie(service, first).get("/me").status_code == 401
    planted = _with_cookie(service, "planted-by-an-attacker")  # someone else's id is never adopted
    r = planted.post("/session", json={"name": "clerk", "password": PASSWORD})
    assert r.cookies[COOKIE] not in ("planted-by-an-attacker", first, second)


def test_wrong_passwords_and_unknown_names_get_the_same_401_and_are_audited(service):
    client = _browser(service)
    wrong = client.post("/session", json={"name": "clerk", "password": "not the password"})
    nobody = client.post("/session", json={"name": "nobody", "password": "not the password"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert COOKIE not in client.cookies
    refused = [e for e in _audit(service) if e["action"] == "sign-in" and e["outcome"] == "refused"]
    assert {e["target"] for e in refused} >= {"clerk", "nobody"}


def test_the_tenth_wrong_password_in_a_minute_is_throttled_and_locks_the_account(service):
    name = _new_user(service)
    client = _browser(service)
    answers = [client.post("/session", json={"name": name, "password": f"wrong-{n}"}) for n in range(10)]
    assert [a.status_code for a in answers] == [401] * 9 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 60
    right = client.post("/session", json={"name": name, "password": PASSWORD})
    assert right.status_code == 429 and COOKIE not in client.cookies  # locked: even the right one
    assert _signed_in(service, "clerk")[0].get("/me").status_code == 200  # other accounts are not


def test_a_session_past_its_lifetime_or_idle_too_long_is_refused(service):
    sessions_table = service[1].accounts["sessions"]
    for column in ("expires_at", "seen_at"):
        client, _ = _signed_in(service, "clerk")
        assert client.get("/me").status_code == 200
        with service[1].engine.begin() as conn:
            owned = sessions_table.c.id_hash == sessions._hash(client.cookies[COOKIE])
            conn.execute(
                sessions_table.update().where(owned).values({column: dt.datetime(2000, 1, 1, tzinfo=dt.UTC)})
            )
        assert client.get("/me").status_code == 401, column
        assert client.get("/session").json() == {"user": None}


def test_sign_out_ends_the_session(service):
    client, csrf = _signed_in(service, "clerk")
    secret = client.cookies[COOKIE]
    assert client.delete("/session", headers=csrf).status_code == 204
    assert COOKIE not in client.cookies
    assert _with_cookie(service, secret).get("/me").status_code == 401


def test_a_write_in_a_session_needs_its_csrf_token(service):
    client, csrf = _signed_in(service, "operator-a")
    count = len(client.get(ITEMS, params={"limit": 10000}).json()["features"])
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        r = client.post(ITEMS, json=_feature(), headers=headers)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert len(client.get(ITEMS, params={"limit": 10000}).json()["features"]) == count
    assert client.post(ITEMS, json=_feature(), headers=csrf).status_code == 201
    refusals = [e for e in _audit(service) if e["action"] == "csrf"]
    assert len(refusals) >= 2 and refusals[-1]["actor"] == "operator:operator-a"


def test_a_cross_site_form_post_is_refused(service):
    client, _ = _signed_in(service, "admin")
    form = {"name": "planted", "role": "admin"}
    r = client.post("/users", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code in (403, 422)
    assert "planted" not in [u["name"] for u in client.get("/users").json()]
    login = _browser(service).post("/session", json={"name": "clerk", "password": PASSWORD},
                                   headers={"Origin": "https://evil.example"})  # fmt: skip
    assert login.status_code == 403 and COOKIE not in login.cookies


def test_changing_ones_password_ends_every_other_session(service):
    name = _new_user(service)
    client, csrf = _signed_in(service, name)
    other, _ = _signed_in(service, name)
    bad = client.put(
        "/me/password", json={"current": "not it at all", "new": "another-long-one"}, headers=csrf
    )
    assert bad.status_code == 422 and "current" in bad.json()["detail"]
    short = client.put("/me/password", json={"current": PASSWORD, "new": "short"}, headers=csrf)
    assert short.status_code == 422 and "password" in short.json()["detail"]
    ok = client.put("/me/password", json={"current": PASSWORD, "new": "另一个足够长的新密码呀"}, headers=csrf)
    assert ok.status_code == 204
    assert client.get("/me").status_code == 200 and other.get("/me").status_code == 401
    assert _browser(service).post("/session", json={"name": name, "password": PASSWORD}).status_code == 401
    assert _signed_in(service, name, "另一个足够长的新密码呀")[0].get("/me").status_code == 200


def test_an_admin_resets_a_password_and_others_may_not(service):
    name = _new_user(service)
    victim, _ = _signed_in(service, name)
    clerk, clerk_csrf = _signed_in(service, "clerk")
    r = clerk.put(f"/users/{name}/password", json={"password": "taken-over-1234"}, headers=clerk_csrf)
    assert r.status_code == 403 and victim.get("/me").status_code == 200
    admin, csrf = _signed_in(service, "admin")
    assert (
        admin.put(f"/users/{name}/password", json={"password": "reset-by-admin-1"}, headers=csrf).status_code
        == 204
    )
    assert victim.get("/me").status_code == 401
    assert _signed_in(service, name, "reset-by-admin-1")[0].get("/me").status_code == 200
    actions = [(e["action"], e["outcome"]) for e in _audit(service) if e["target"] == name]
    assert ("reset-password", "refused") in actions and ("reset-password", "ok") in actions


def test_bearer_tokens_keep_working_and_stop_with_a_disabled_user(service):
    name = _new_user(service, "operator", ["park-001"])
    admin, csrf = _signed_in(service, "admin")
    made = admin.post("/tokens", json={"user": name, "label": "office script"}, headers=csrf)
    assert made.status_code == 201
    program = _browser(service)
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert program.post(ITEMS, json=_feature(), headers=bearer).status_code == 201  # no CSRF for tokens
    person, _ = _signed_in(service, name)
    assert admin.patch(f"/users/{name}", json={"disabled": True}, headers=csrf).json()["disabled"] is True
    assert program.get("/me", headers=bearer).status_code == 401
    assert person.get("/me").status_code == 401
    assert _browser(service).post("/session", json={"name": name, "password": PASSWORD}).status_code == 401
    listed = admin.get("/tokens").json()
    assert made.json()["token"] not in str(listed) and any(t["label"] == "office script" for t in listed)
    assert admin.delete(f"/tokens/{made.json()['id']}", headers=csrf).status_code == 204


def test_an_admin_adds_users_of_every_role_and_changes_them(service):
    admin, csrf = _signed_in(service, "admin")
    for role, parks, extra in (("steward", [], {"department": "market"}), ("clerk", [], {}),
                               ("operator", ["park-001", "park-002"], {})):  # fmt: skip
        r = admin.post("/users", json={"name": f"新{role}", "role": role, "parks": parks,
                                       "password": "first-password-1"} | extra, headers=csrf)  # fmt: skip
        assert r.status_code == 201 and r.json()["role"] == role
    steward = _signed_in(service, "新steward", "first-password-1")[0].get("/me").json()
    assert (steward["role"], steward["department"], steward["department_name"]) == (
        "steward",
        "market",
        "崂山区市场监督管理局",
    )
    moved = admin.patch("/users/新steward", json={"department": "housing"}, headers=csrf)
    assert moved.status_code == 200 and moved.json()["department"] == "housing"
    assert admin.get("/audit").json()[-1]["after"]["department"] == "housing"
    for body in ({"role": "steward"}, {"role": "steward", "department": "<b>x</b>"},
                 {"role": "clerk", "department": "market"}):  # fmt: skip
        bad = admin.post("/users", json={"name": "又一个"} | body, headers=csrf)
        assert bad.status_code == 422 and "department" in bad.json()["detail"], body
    assert admin.patch("/users/新clerk", json={"role": "steward"}, headers=csrf).status_code == 422
    became = admin.patch("/users/新clerk", json={"role": "steward", "department": "fire"}, headers=csrf)
    assert became.json()["department"] == "fire"
    back = admin.patch("/users/新clerk", json={"role": "clerk"}, headers=csrf)
    assert back.status_code == 200 and "department" not in back.json()
    moved = admin.patch("/users/新operator", json={"parks": ["park-002"]}, headers=csrf)
    assert moved.json()["parks"] == ["park-002"]
    bad = admin.patch("/users/新clerk", json={"role": "operator"}, headers=csrf)
    assert bad.status_code == 422 and "park" in bad.json()["detail"]
    self_lock = admin.patch("/users/admin", json={"disabled": True}, headers=csrf)
    assert self_lock.status_code == 403 and admin.get("/me").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x\x00y", "role": "clerk"}, "name"),
        ({"name": "坏\ud800", "role": "clerk"}, "name"),
        ({"name": "x" * 101, "role": "clerk"}, "name"),
        ({"name": "ok-name", "role": "king"}, "role"),
        ({"name": "ok-name", "role": "clerk", "password": "p" * 201}, "password"),
        ({"name": "ok-name", "role": "clerk", "password": "short"}, "password"),
        ({"name": "ok-name", "role": "clerk", "password": "ten chars\x00"}, "password"),
    ],
)
def test_bad_users_get_a_4xx_naming_the_field_and_nothing_is_added(service, body, field):
    admin, csrf = _signed_in(service, "admin")
    before = admin.get("/users").json()
    r = admin.post("/users", content=json.dumps(body), headers=csrf | JSON)  # \ud800 escaped, as JSON may
    assert 400 <= r.status_code < 500 and field in r.text
    assert admin.get("/users").json() == before


def test_hostile_sign_in_input_gets_a_4xx(service):
    client = _browser(service)
    bodies = [{"name": "a\x00", "password": PASSWORD}, {"name": "a", "password": "\ud800" * 20},
              {"name": "a" * 5000, "password": PASSWORD},
              {"name": "a", "password": "p" * 100_000}]  # fmt: skip
    for body in bodies:
        assert client.post("/session", content=json.dumps(body), headers=JSON).status_code == 422


def test_only_admins_see_users_and_tokens_and_each_refusal_is_audited(service):
    operator, csrf = _signed_in(service, "operator-a")
    for method, path in (("GET", "/users"), ("GET", "/tokens"), ("POST", "/tokens")):
        body = {"user": "operator-a"} if method == "POST" else None
        assert operator.request(method, path, json=body, headers=csrf).status_code == 403
    assert operator.get("/audit").status_code == 403
    refused = [
        e["action"]
        for e in _audit(service)
        if e["actor"] == "operator:operator-a" and e["outcome"] == "refused"
    ]
    assert {"list-users", "list-tokens", "create-token", "read-audit"} <= set(refused)


def test_the_audit_trail_filters_by_who_what_when_and_park_and_exports_csv(service):
    operator, csrf = _signed_in(service, "operator-b")
    operator.post(ITEMS, json=_feature(park_id="park-002", address='=HYPERLINK("x")'), headers=csrf)
    operator.post(ITEMS, json=_feature(), headers=csrf)  # another park's: refused
    admin, _ = _signed_in(service, "admin")
    mine = admin.get("/audit", params={"actor": "operator-b"}).json()
    assert mine and all("operator-b" in e["actor"] for e in mine)
    created = admin.get(
        "/audit", params={"actor": "operator-b", "action": "create", "park": "park-002"}
    ).json()
    assert [e["outcome"] for e in created] == ["ok"]
    refused = admin.get("/audit", params={"actor": "operator-b", "park": "park-001"}).json()
    assert refused == [] or all(e["park"] == "park-001" for e in refused)
    assert admin.get("/audit", params={"since": "2999-01-01T00:00:00Z"}).json() == []
    assert admin.get("/audit", params={"until": "2000-01-01T00:00:00Z"}).json() == []
    assert admin.get("/audit", params={"since": "yesterday"}).status_code == 422
    exported = admin.get("/audit", params={"actor": "operator-b", "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == len(mine) and {"actor", "action", "park", "outcome"} <= set(rows[0])
    assert all(not cell.startswith("=") for row in rows for cell in row.values())


def test_operator_a_signed_in_cannot_change_park_b_by_any_route_and_each_refusal_is_audited(service):
    from siteselect import listings

    b, b_csrf = _signed_in(service, "operator-b")
    theirs = b.post(ITEMS, json=_feature(park_id="park-002"), headers=b_csrf)
    a, csrf = _signed_in(service, "operator-a")
    mine = a.post(ITEMS, json=_feature(), headers=csrf)
    url, tag = f"{ITEMS}/{theirs.json()['id']}", theirs.headers["etag"]
    before = listings.all_listings(service[1])
    audited = len(_audit(service))
    tries = [
        ("PATCH", url, {"rent": 1.0}),
        ("PUT", url, _feature(park_id="park-002", rent=1.0)),
        ("DELETE", url, None),
        ("POST", ITEMS, _feature(park_id="park-002")),
        ("PATCH", f"{ITEMS}/{mine.json()['id']}", {"park_id": "park-002"}),  # moved into park B
        ("PATCH", "/ogc/collections/parks/items/park-002", {"name": "被改名的园区"}),
    ]
    for method, path, body in tries:
        headers = csrf | {"If-Match": tag if path == url else mine.headers["etag"]}
        r = a.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.text)
    assert listings.all_listings(service[1]) == before
    since = _audit(service)[audited:]
    refused = [e for e in since if e["actor"] == "operator:operator-a" and e["outcome"] == "refused"]
    assert len(refused) == len(tries) and all(e["outcome"] != "ok" or e["action"] == "sign-in" for e in since)


def test_the_audit_trail_reads_times_in_any_offset_as_the_same_instants(service):
    admin, csrf = _signed_in(service, "admin")
    admin.post("/tokens", json={"user": "clerk", "label": "offset"}, headers=csrf)
    beijing = dt.timezone(dt.timedelta(hours=8))
    minute_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).astimezone(beijing).isoformat()
    wanted = {"action": "create-token"}
    assert admin.get("/audit", params=wanted | {"since": minute_ago}).json()[-1]["target"] == "clerk"
    assert admin.get("/audit", params=wanted | {"until": minute_ago}).json() == []
