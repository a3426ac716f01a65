"""What operators rely on: liveness and readiness, request ids, JSON logs with no secret in them,
Prometheus metrics gathered across workers, and the check of an environment file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.observe import REQUESTS
from siteselect.cli import main
from siteselect.settings import Settings
from tests.support.serve import free_port, wait_until_answers


def _client(url: str) -> TestClient:
    return TestClient(create_app(Settings(_env_file=None, database_url=url)))  # type: ignore[call-arg]


def test_ready_when_the_store_and_the_layers_are_and_live_either_way(demo_db, sqlite_url):
    with _client(demo_db) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
    with _client(sqlite_url) as client:  # a new, empty store: alive, not ready
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["problems"] == [
            "snapshot: no rules layer loaded",
            "snapshot: no pois layer loaded",
        ]


def test_every_answer_carries_a_request_id_the_proxys_when_it_is_a_plain_token(demo_db):
    with _client(demo_db) as client:
        made = client.get("/health").headers["x-request-id"]
        assert len(made) == 32 and made != client.get("/health").headers["x-request-id"]
        assert (
            client.get("/health", headers={"X-Request-ID": "nginx-42"}).headers["x-request-id"] == "nginx-42"
        )
        odd = client.get("/nowhere", headers={"X-Request-ID": "a b<script>"})
        assert odd.status_code == 404 and odd.headers["x-request-id"] != "a b<script>"


def test_metrics_have_a_series_per_known_method_and_one_for_every_invented_one(demo_db):
    with _client(demo_db) as client:
        for n in range(20):
            assert client.request(f"INVENTED{n}", "/health").status_code == 405
        methods = {s.labels["method"] for metric in REQUESTS.collect() for s in metric.samples}
    assert "other" in methods and not any(m.startswith("INVENTED") for m in methods), methods


@pytest.fixture(scope="module")
def served(demo_db, tmp_path_factory):
    """``siteselect serve`` with two workers, its standard error kept."""
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "siteselect.cli", "--database-url", demo_db, "serve", "--port", str(port),
             "--workers", "2"],
            stderr=err,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_answers(f"{base}/health", proc)
            _both_workers_up(base)
            yield base, log
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _both_workers_up(base: str) -> None:
    deadline, seen = time.monotonic() + 120, set()
    while len(seen) < 2 and time.monotonic() < deadline:  # the second may still be starting
        seen.add(json.loads(_get(f"{base}/health")[2])["worker"])
        time.sleep(0.1)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _count(metrics: str, route: str, status: str) -> float:
    prefix = f'siteselect_requests_total{{method="GET",route="{route}",status="{status}"}} '
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


def test_one_json_log_line_a_request_with_its_id_and_never_a_secret(served):
    base, log = served
    secret = "ss_not-for-the-log-0123456789"
    status, headers, _ = _get(f"{base}/me?password=hunter2", {"Authorization": f"Bearer {secret}"})
    assert status == 401
    rid = headers["x-request-id"]
    deadline = time.monotonic() + 10  # the line is written once the answer has gone
    while True:
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        mine = [x for x in lines if x.get("request_id") == rid]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (line,) = mine
    assert line | {"ms": 0, "time": 0} == {
        "time": 0, "level": "info", "logger": "siteselect.access", "message": "request", "request_id": rid,
        "method": "GET", "path": "/me", "route": "/me", "status": 401, "ms": 0, "client": "127.0.0.1",
    }  # fmt: skip
    text = log.read_text()
    assert secret not in text and "hunter2" not in text
    assert all(x.startswith("{") for x in text.splitlines())  # uvicorn's own lines are JSON too


def test_metrics_count_every_request_whichever_worker_answered(served):
    base, _ = served
    before = _count(_get(f"{base}/metrics")[2].decode(), "/health", "200")
    with ThreadPoolExecutor(8) as pool:  # at once, so that both workers take some
        answers = list(pool.map(lambda _: _get(f"{base}/health"), range(200)))
    assert [a[0] for a in answers] == [200] * 200
    workers = {json.loads(a[2])["worker"] for a in answers}
    assert _get(f"{base}/layers/nope/versions")[0] == 404
    # A worker counts a request once its answer is sent: the other may be asked for the metrics first.
    for _ in range(50):
        metrics = _get(f"{base}/metrics")[2].decode()
        if (
            _count(metrics, "/layers/{layer}/versions", "404")
            and _count(metrics, "/health", "200") - before >= 200
        ):
            break
        time.sleep(0.1)
    assert _count(metrics, "/health", "200") - before == 200
    assert _count(metrics, "/layers/{layer}/versions", "404") == 1  # by route template, not path
    assert "siteselect_request_duration_seconds_bucket" in metrics
    assert "siteselect_snapshot_age_seconds" in metrics and "siteselect_snapshot_build_seconds" in metrics
    assert "siteselect_store_errors_total" in metrics
    assert len(workers) == 2  # two workers did answer


def test_config_check_names_a_bad_or_unknown_setting(tmp_path: Path, capsys):
    good = tmp_path / "good.env"
    good.write_text(
        "SITESELECT_DATABASE_URL=postgresql+psycopg://app:s3cret@db/siteselect\nSITESELECT_H3_RESOLUTION=10\n"
    )
    assert main(["config", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "SITESELECT_H3_RESOLUTION=10" in out and "s3cret" not in out
    bad = tmp_path / "bad.env"
    bad.write_text(
        "SITESELECT_H3_RESOLUTION=42\nSITESELECT_BASEMAP=http://tiles/x.png\nSITESELECT_WORKRES=4\n"
    )
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "SITESELECT_H3_RESOLUTION='42'" in err and "less than or equal to 12" in err
    assert "SITESELECT_BASEMAP='http://tiles/x.png'" in err
    assert "SITESELECT_WORKRES is not a setting" in err
    assert main(["config", "check", str(tmp_path / "missing.env")]) == 2
