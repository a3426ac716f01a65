"""Reports over HTTP: made by POST, read by id, the same bytes after a restart or a newer layer."""

import shutil

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.load import load_file
from siteselect.settings import Settings
from siteselect.store import Store

BODY = {"industry": "网吧", "sites": [{"vacancy_id": "V00006"}], "as_of": "2026-06-01"}


@pytest.fixture
def db_url(demo_db, tmp_path):
    """A copy of the demo store this test may change."""
    path = tmp_path / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


def _client(url):
    return TestClient(create_app(Settings(_env_file=None, database_url=url)))  # type: ignore[call-arg]


def test_post_then_get_the_same_bytes_in_a_new_worker_and_after_a_new_layer(db_url, demo_files):
    with _client(db_url) as client:
        made = client.post("/reports", json=BODY)
        assert made.status_code == 201
        rid = made.json()["id"]
        assert made.headers["location"] == f"/reports/{rid}" and made.json()["verdicts"] == ["permitted"]
        page = client.get(f"/reports/{rid}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f'content="{rid}"' in page.text
        assert client.post("/reports", json=BODY).json()["id"] == rid  # same inputs, same id
    load_file(Store(db_url), "rules", demo_files["rules"], loaded_by="tests")  # rules version 2
    with _client(db_url) as other:  # another worker, newer layers: drawn again from the store
        again = other.get(f"/reports/{rid}")
        assert again.status_code == 200 and again.content == page.content
        newer = other.post("/reports", json=BODY).json()["id"]
        assert newer != rid  # the same request over newer layers is another report


@pytest.fixture(scope="module")
def client(demo_db):
    with _client(demo_db) as c:
        yield c


def test_comparison_report(client):
    body = {"industry": "9013", "sites": [{"vacancy_id": "V00006"}, {"lon": 120.46, "lat": 36.105}]}
    made = client.post("/reports", json=body)
    assert made.status_code == 201 and len(made.json()["verdicts"]) == 2
    assert "选址比较报告" in client.get(made.json()["url"]).text


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (BODY | {"sites": [{"lon": 120.46, "lat": 36.1}] * 6}, 422, "sites"),
        (BODY | {"sites": []}, 422, "sites"),
        (BODY | {"sites": [{"lon": 120.46, "lat": 360}]}, 422, "lat"),
        (BODY | {"sites": [{"vacancy_id": "V99999"}]}, 422, "V99999"),
        (BODY | {"sites": [{"lon": 121.9, "lat": 36.1}]}, 422, "outside"),
        (BODY | {"industry": "完全不存在的行业词"}, 422, "industry"),
        (BODY | {"as_of": "June"}, 422, "as_of"),
        (BODY | {"colour": "red"}, 422, "colour"),
    ],
)
def test_bad_report_requests(client, body, status, words):
    r = client.post("/reports", json=body)
    assert r.status_code == status and words in r.text


def test_unknown_report_is_404(client):
    assert client.get("/reports/0123456789abcdef01234567").status_code == 404
    assert client.get("/reports/" + "x" * 100).status_code in (404, 422)
