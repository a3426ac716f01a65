"""The service while its PostGIS is away: routes that need the database answer 503 with
Retry-After within a bound (never a 500, never a hang), reads the snapshot in memory can answer keep
working, and writes work again once the server is back, without a restart.

These tests stop, block and freeze a server of their own (not the session's shared one).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from siteselect import accounts, listings
from siteselect.demo import LOAD_ORDER
from siteselect.load import load_file
from siteselect.store import Store
from tests.support.postgis import PostGISUnavailableError, fresh_database, postgis_server
from tests.support.serve import running_service

pytestmark = pytest.mark.postgis
VACANCIES = "/ogc/collections/vacancies/items"
MERGE = {"Content-Type": "application/merge-patch+json"}
BOUND_S = 3.0  # connecting gives up after 2 s (SITESELECT_DATABASE_CONNECT_TIMEOUT_S)
CHECK = {"industry": "6210", "address": "崂山区苗岭路28号"}
MATCH = {"industry": "奶茶", "limit": 3}
SITES = [{"lon": 120.452, "lat": 36.1075}, {"lon": 120.46, "lat": 36.11}]


@pytest.fixture(scope="module")
def server(demo_files):
    from tests.conftest import require_postgis

    try:
        with postgis_server() as executor:
            yield executor
    except PostGISUnavailableError as exc:
        if require_postgis():
            pytest.fail(f"PostGIS is required (SITESELECT_REQUIRE_POSTGIS=1) but unavailable: {exc}")
        pytest.skip(f"PostGIS not available: {exc}")


@pytest.fixture(scope="module")
def service(server, demo_files):
    with fresh_database(server, "faults") as url:
        store = Store(url)
        for layer in LOAD_ORDER:
            load_file(store, layer, demo_files[layer])
        accounts.add_user(store, "admin", "admin", [])
        token = {"Authorization": f"Bearer {accounts.create_token(store, 'admin')[0]}"}
        env = {"SITESELECT_DATABASE_STATEMENT_TIMEOUT_S": "1"}
        with running_service(url, workers=1, **env) as base:
            client = httpx.Client(base_url=base, timeout=30)
            report = client.post("/reports", json={"industry": "6210", "sites": SITES[:1]})
            assert report.status_code == 201
            assert client.get(report.json()["url"]).status_code == 200  # drawn once: held in memory
            _assert_answered(_answered_from_memory(client, report.json()["url"]), within_s=30)  # warm
            yield client, token, store, report.json()["url"]
        store.close()


def _timed(send) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = send()
    return response, time.monotonic() - start


def _a_listing(client: httpx.Client) -> tuple[str, str]:
    first = client.get(VACANCIES, params={"limit": 1}).json()["features"][0]
    return first["id"], client.get(f"{VACANCIES}/{first['id']}").headers["etag"]


def _patch(client: httpx.Client, token: dict, vid: str, tag: str, rent: float) -> httpx.Response:
    return client.patch(f"{VACANCIES}/{vid}", json={"rent": rent}, headers=token | MERGE | {"If-Match": tag})


def _needing_the_database(client: httpx.Client, token: dict, vid: str, tag: str) -> dict[str, httpx.Response]:
    return {
        "PATCH vacancy": _patch(client, token, vid, tag, 77.0),
        "GET /me": client.get("/me", headers=token),
        "GET unknown report": client.get("/reports/" + "0" * 64),
    }


def _answered_from_memory(client: httpx.Client, report_url: str) -> dict[str, tuple[httpx.Response, float]]:
    return {
        "/check": _timed(lambda: client.post("/check", json=CHECK)),
        "/check/batch": _timed(lambda: client.post("/check/batch", json={"items": [CHECK, CHECK]})),
        "/match": _timed(lambda: client.post("/match", json=MATCH)),
        "/compare": _timed(lambda: client.post("/compare", json={"industry": "6210", "sites": SITES})),
        "report": _timed(lambda: client.get(report_url)),
        "GET vacancies": _timed(lambda: client.get(VACANCIES)),  # the listings as last read
        "/": _timed(lambda: client.get("/")),
    }


def _assert_away(responses: dict[str, httpx.Response]) -> None:
    for name, response in responses.items():
        assert response.status_code == 503, (name, response.status_code, response.text)
        assert int(response.headers["Retry-After"]) > 0, name
        assert "database" in response.json()["detail"], name


def _assert_answered(answers: dict[str, tuple[httpx.Response, float]], within_s: float) -> None:
    for name, (response, took) in answers.items():
        assert response.status_code == 200, (name, response.status_code, response.text[:300])
        assert took < within_s, (name, took)


def _assert_writes_again(client: httpx.Client, token: dict, store: Store, vid: str, rent: float) -> None:
    deadline = time.monotonic() + 10
    while True:  # the first request after the restart may still find the old connections
        tag = client.get(f"{VACANCIES}/{vid}").headers.get("etag")
        response = _patch(client, token, vid, tag or "", rent) if tag else None
        if response is not None and response.status_code == 200:
            break
        assert time.monotonic() < deadline, response.text if response is not None else "no ETag"
        time.sleep(0.5)
    assert listings.get(store, vid)["rent"] == rent


def test_a_statement_past_its_timeout_is_cancelled_with_503(service, server):
    client, token, store, report_url = service
    vid, tag = _a_listing(client)
    blocker = sa.create_engine(f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/faults")
    with blocker.begin() as conn:  # another session holds the listings: every write waits for it
        conn.execute(sa.text("LOCK TABLE listings IN ACCESS EXCLUSIVE MODE"))
        response, took = _timed(lambda: _patch(client, token, vid, tag, 55.0))
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert 0.9 < took < BOUND_S  # the statement timeout is 1 s
        check, took = _timed(lambda: client.post("/check", json=CHECK))
        assert check.status_code == 200 and took < 0.5
        _assert_answered(_answered_from_memory(client, report_url), within_s=BOUND_S)  # /match: 1 s
    blocker.dispose()
    _assert_writes_again(client, token, store, vid, 56.0)


def test_while_the_server_is_down_503_and_reads_from_memory_then_recovery(service, server):
    client, token, store, report_url = service
    vid, tag = _a_listing(client)
    with server.stopped():
        start = time.monotonic()
        _assert_away(_needing_the_database(client, token, vid, tag))
        assert time.monotonic() - start < 4 * BOUND_S
        _assert_answered(_answered_from_memory(client, report_url), within_s=1.0)
    _assert_writes_again(client, token, store, vid, 61.0)
    _assert_answered(_answered_from_memory(client, report_url), within_s=5.0)


@contextmanager
def _not_answering(server) -> Iterator[None]:
    """The server's connections are cut and its postmaster frozen (SIGSTOP): a new connection is
    taken by the kernel and then never answered, as when a database host hangs."""
    pid = int(Path(server.datadir, "postmaster.pid").read_text().split()[0])
    admin = sa.create_engine(f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/postgres")
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ))  # fmt: skip
    admin.dispose()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_while_the_server_stops_answering_503_within_bounds_then_recovery(service, server):
    client, token, store, report_url = service
    vid, tag = _a_listing(client)
    with _not_answering(server):
        for name, response in _needing_the_database(client, token, vid, tag).items():
            assert response.status_code == 503, (name, response.text)
        _assert_answered(_answered_from_memory(client, report_url), within_s=BOUND_S)
        check, took = _timed(lambda: client.post("/check", json=CHECK))
        assert check.status_code == 200 and took < 0.5
    _assert_writes_again(client, token, store, vid, 62.0)
