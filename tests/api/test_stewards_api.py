"""Data stewards upload department files as kept: dry run, problems, confirm, restore."""

from __future__ import annotations

import io

import pytest
import python_calamine
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect import accounts
from siteselect.settings import Settings
from siteselect.store import Store
from tests.support.department_files import ENFORCEMENT, copy_store, prohibited_xlsx
from tests.unit.test_department_loads import NEW_LIST

LAYER = "prohibited_addresses"
LOADS = f"/layers/{LAYER}/loads"
OCTETS = {"Content-Type": "application/octet-stream"}
PEOPLE = (
    ("执法局数据员", "steward", "enforcement"),
    ("住建局数据员", "steward", "housing"),
    ("admin", "admin", None),
    ("clerk", "clerk", None),
)


@pytest.fixture
def service(tmp_path, demo_db):
    url = copy_store(demo_db, tmp_path)
    store = Store(url)
    for name, role, department in PEOPLE:
        accounts.add_user(store, name, role, department=department)
    tokens = {n: accounts.create_token(store, n)[0] for n, _, _ in PEOPLE}
    auth = {n: {"Authorization": f"Bearer {t}"} | OCTETS for n, t in tokens.items()}
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        yield client, auth, store


def _token(headers: dict[str, str]) -> dict[str, str]:
    return {"Authorization": headers["Authorization"]}


def test_a_steward_tries_then_confirms_a_workbook(service, tmp_path):
    client, auth, store = service
    body = prohibited_xlsx(tmp_path / "清单.xlsx", NEW_LIST).read_bytes()
    counts = store.counts()
    dry = client.post(LOADS, params={"filename": "清单.xlsx"}, content=body, headers=auth["执法局数据员"])
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert store.counts() == counts
    assert plan["dry_run"] and plan["departments"] == [ENFORCEMENT]
    assert plan["summary"]["added"] == len(NEW_LIST) and plan["summary"]["removed"] == 10
    assert plan["mapping"]["生效日期"] == "effective_from"
    assert {f["properties"]["change"] for f in plan["changed"]["features"]} == {"added", "removed"}
    assert all({"address", "industry", "before_zh", "after_zh"} <= set(v) for v in plan["verdicts"])

    params = {"filename": "清单.xlsx", "dry_run": "false", "based_on": plan["based_on"]}
    done = client.post(LOADS, params=params, content=body, headers=auth["执法局数据员"])
    assert done.status_code == 200, done.text[:3000]
    assert done.json()["version"] == plan["based_on"] + 1
    assert store.resolve_version(LAYER).loaded_by == "执法局数据员"
    stale = client.post(LOADS, params=params, content=body, headers=auth["执法局数据员"])
    assert stale.status_code == 412

    back = client.post(
        f"/layers/{LAYER}/versions/1/restore", json={"why": "清单有误"}, headers=_token(auth["admin"])
    )
    assert back.status_code == 200 and "清单有误" in back.json()["source"]


def test_problems_come_back_by_sheet_row_and_header_and_as_a_workbook(service, tmp_path):
    client, auth, _ = service
    body = prohibited_xlsx(tmp_path / "x.xlsx", [["海尔路1号", "x", "*", "明天", ENFORCEMENT]]).read_bytes()
    bad = client.post(LOADS, params={"filename": "x.xlsx"}, content=body, headers=auth["执法局数据员"])
    assert bad.status_code == 422
    (problem,) = bad.json()["problems"]
    assert (problem["sheet"], problem["line"], problem["header"]) == ("禁设地址", 4, "生效日期")
    sheet = client.post(
        f"{LOADS}/problems", params={"filename": "x.xlsx"}, content=body, headers=auth["执法局数据员"]
    )
    assert sheet.status_code == 200
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(sheet.content)).get_sheet_by_index(0)
    assert rows.to_python()[1][2:6] == [4, "生效日期", "effective_from", "明天"]


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("clerk", {"filename": "x.xlsx"}, 403),
        (None, {"filename": "x.xlsx"}, 401),
        ("执法局数据员", {"filename": "../x.xlsx"}, 422),
        ("执法局数据员", {"filename": "x.exe"}, 422),
        ("执法局数据员", {"filename": "x.xlsx", "replace_all": "true"}, 403),
        ("执法局数据员", {"filename": "x.xlsx", "coordsys": "mars"}, 422),
    ],
)
def test_refused_uploads_change_nothing(service, tmp_path, who, params, status):
    client, auth, store = service
    body = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST).read_bytes()
    counts = store.counts()
    headers = auth[who] if who else OCTETS
    response = client.post(LOADS, params=params | {"dry_run": "false"}, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert store.counts() == counts


def test_acceptance_records_are_joined_over_http(service, tmp_path):
    import datetime as dt

    from tests.support.department_files import acceptance_xlsx

    client, auth, _ = service
    rows = [
        ["项目", "崂山区香港东路2号", "370212JG2026001", dt.date(2026, 3, 1), "商业"],
        ["x", "无名路1号", "N", "2026-03-01", "其他"],
    ]
    body = acceptance_xlsx(tmp_path / "a.xlsx", rows).read_bytes()
    url = "/layers/buildings/records/acceptance"
    dry = client.post(url, params={"filename": "a.xlsx"}, content=body, headers=auth["住建局数据员"]).json()
    assert dry["summary"]["changed"] == 1 and dry["unmatched"][0]["line"] == 4
    done = client.post(url, params={"filename": "a.xlsx", "dry_run": "false", "based_on": dry["based_on"]},
                       content=body, headers=auth["住建局数据员"])  # fmt: skip
    assert done.status_code == 200 and done.json()["version"] == dry["based_on"] + 1
    wrong = client.post("/layers/zones/records/acceptance", params={"filename": "a.xlsx"}, content=body,
                        headers=auth["执法局数据员"])  # fmt: skip
    assert wrong.status_code == 422


def _audit(client, auth):
    return client.get("/audit", headers=_token(auth["admin"])).json()


@pytest.mark.parametrize(
    ("who", "url", "params"),
    [
        ("执法局数据员", LOADS, {"department": "崂山区市场监督管理局"}),  # another department's entries
        ("执法局数据员", LOADS, {"department": "market"}),
        ("执法局数据员", "/layers/buildings/records/acceptance", {}),  # the housing bureau's layer
        ("执法局数据员", "/layers/roads/loads", {}),  # a layer no department's steward keeps
        ("住建局数据员", LOADS, {"replace_all": "true"}),
    ],
)
@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_a_steward_is_refused_other_departments_data_and_the_refusal_is_audited(
    service, tmp_path, who, url, params, dry_run
):
    client, auth, store = service
    body = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST).read_bytes()
    counts, logged = store.counts(), len(_audit(client, auth))
    r = client.post(url, params=params | {"filename": "x.xlsx", "dry_run": dry_run}, content=body,
                    headers=auth[who])  # fmt: skip
    assert r.status_code == 403, r.text
    assert store.counts() == counts
    log = _audit(client, auth)
    assert len(log) == logged + 1 and log[-1]["outcome"] == "refused" and log[-1]["actor"] == f"steward:{who}"


def test_a_steward_without_a_department_loads_nothing(service, tmp_path):
    client, _auth, store = service
    accounts.add_user(store, "无部门", "steward", department="market")
    with store.engine.begin() as conn:  # as a steward made before stewards had departments
        u = store.accounts["users"]
        conn.execute(u.update().where(u.c.name == "无部门").values(department=None))
    headers = {"Authorization": f"Bearer {accounts.create_token(store, '无部门')[0]}"} | OCTETS
    assert client.get("/me", headers=headers).json()["department"] is None
    body = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST).read_bytes()
    r = client.post(LOADS, params={"filename": "x.xlsx"}, content=body, headers=headers)
    assert r.status_code == 403 and "department" in r.json()["detail"]


def test_a_stewards_load_is_its_own_departments_and_is_audited(service, tmp_path):
    client, auth, _store = service
    me = client.get("/me", headers=_token(auth["执法局数据员"])).json()
    assert (me["department"], me["department_name"]) == ("enforcement", ENFORCEMENT)
    rows = [[*row[:4], None] for row in NEW_LIST]  # no department column: the steward's own
    body = prohibited_xlsx(tmp_path / "x.xlsx", rows).read_bytes()
    dry = client.post(LOADS, params={"filename": "x.xlsx"}, content=body, headers=auth["执法局数据员"])
    assert dry.status_code == 200 and dry.json()["departments"] == [ENFORCEMENT]
    others = [["深圳路113号", "违法建筑", "*", "2026-04-02", "崂山区市场监督管理局"]]
    theirs = prohibited_xlsx(tmp_path / "y.xlsx", others).read_bytes()
    bad = client.post(LOADS, params={"filename": "y.xlsx"}, content=theirs, headers=auth["执法局数据员"])
    assert bad.status_code == 422 and bad.json()["problems"][0]["header"] == "责任部门"
    params = {"filename": "x.xlsx", "dry_run": "false"}
    done = client.post(LOADS, params=params, content=body, headers=auth["执法局数据员"])
    assert done.status_code == 200, done.text
    entry = _audit(client, auth)[-1]
    assert (entry["actor"], entry["action"], entry["outcome"]) == ("steward:执法局数据员", "load-layer", "ok")
    assert entry["after"]["version"] == done.json()["version"] and entry["after"]["departments"] == [
        ENFORCEMENT
    ]


def test_a_steward_restores_only_its_own_departments_entries(service, tmp_path):
    client, auth, store = service
    first = store.resolve_version(LAYER)
    before = store.read_layer(LAYER)
    body = prohibited_xlsx(tmp_path / "x.xlsx", NEW_LIST).read_bytes()
    params = {"filename": "x.xlsx", "dry_run": "false"}
    assert client.post(LOADS, params=params, content=body, headers=auth["执法局数据员"]).status_code == 200
    market = [["深圳路113号", "违法建筑", "*", "2026-04-02", "崂山区市场监督管理局"]]
    theirs = prohibited_xlsx(tmp_path / "m.xlsx", market).read_bytes()
    r = client.post(
        LOADS, params=params | {"filename": "m.xlsx"}, content=theirs, headers=_token(auth["admin"]) | OCTETS
    )
    assert r.status_code == 200, r.text
    now = store.read_layer(LAYER)

    back = client.post(f"/layers/{LAYER}/versions/{first.version}/restore", json={"why": "清单有误"},
                       headers=_token(auth["执法局数据员"]))  # fmt: skip
    assert back.status_code == 200, back.text
    after = store.read_layer(LAYER)
    mine = after["department"] == ENFORCEMENT
    assert sorted(after.loc[mine, "id"]) == sorted(before.loc[before["department"] == ENFORCEMENT, "id"])
    assert sorted(after.loc[~mine, "id"]) == sorted(now.loc[now["department"] != ENFORCEMENT, "id"])
    assert _audit(client, auth)[-1]["action"] == "restore-layer"
    roads = client.post(
        "/layers/roads/versions/1/restore", json={"why": "x"}, headers=_token(auth["执法局数据员"])
    )
    assert roads.status_code == 403
