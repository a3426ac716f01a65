"""HTTP as browsers and clients expect it: security headers on every page, HEAD, OPTIONS and Allow,
and bearer tokens kept out of URLs and the access log."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from siteselect.settings import Settings
from tests.support.serve import free_port

SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
FILLED = {"{layer}": "zones", "{collection_id}": "zones", "{feature_id}": "x", "{rid}": "0" * 24}


@pytest.fixture(scope="module")
def client(demo_db):
    with TestClient(create_app(Settings(_env_file=None, database_url=demo_db))) as client:  # type: ignore[call-arg]
        yield client


@pytest.fixture(scope="module")
def report_url(client):
    made = client.post("/reports", json={"industry": "9013", "sites": [{"address": "海口路42号"}]})
    assert made.status_code == 201
    return made.json()["url"]


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def _documented(client) -> dict[str, set[str]]:
    """Each path of the OpenAPI document, made concrete, with the methods the document gives every
    path that matches it (a collection of its own, /vacancies/items, also matches /{collection_id}/items)."""
    templates = {
        path: {m.upper() for m in operations}
        for path, operations in client.get("/openapi.json").json()["paths"].items()
    }
    paths: dict[str, set[str]] = {}
    for path in templates:
        concrete = path
        for name, value in FILLED.items():
            concrete = concrete.replace(name, value)
        paths[concrete] = set().union(
            *(methods for template, methods in templates.items() if _matches(template, concrete))
        )
    return paths


def _matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), path) is not None


def test_every_html_page_has_a_strict_policy_and_the_other_headers(client, report_url):
    pages = ["/", "/docs", "/redoc", report_url]
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        policy = _directives(r.headers["content-security-policy"])
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", SCRIPT.sub("", r.text)), path  # no inline handlers
        loads = re.findall(r"""(?:src|<link[^>]*href)\s*=\s*["']?([^"' >]+)""", SCRIPT.sub("", r.text))
        assert all(not re.match(r"(https?:)?//", url) for url in loads), (path, loads)  # all from here


def test_a_reports_inline_scripts_are_exactly_those_its_policy_names(client, report_url):
    r = client.get(report_url)
    allowed = set(_directives(r.headers["content-security-policy"])["script-src"])
    scripts = SCRIPT.findall(r.text)
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    assert len(scripts) >= 3 and hashes <= allowed
    assert allowed - hashes == {"'self'"}  # nothing else may run


def test_the_web_map_runs_no_inline_script(client):
    r = client.get("/")
    assert _directives(r.headers["content-security-policy"])["script-src"] == ["'self'"]
    assert SCRIPT.findall(r.text) == []  # the config is a JSON data block, which is never run


def test_json_answers_carry_the_headers_too(client):
    r = client.get("/layers")
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers


def test_redoc_is_served_without_its_cdn_logo(client):
    script = client.get("/static/redoc.js")
    assert script.status_code == 200 and "cdn.redoc.ly" not in script.text
    assert "/static-offline-docs/favicon.png" in script.text


def test_head_answers_as_get_does_without_a_body(client, report_url):
    for path in ["/", "/health", "/layers", "/static/app.js", "/docs", report_url, "/ogc/collections/zones"]:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == str(len(got.content)), path


def test_options_names_what_each_path_takes(client):
    for path, methods in _documented(client).items():
        r = client.options(path)
        expected = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
        assert r.status_code == 204, path
        assert set(r.headers["allow"].split(", ")) == expected, path
    assert client.options("/no/such/path").status_code == 404


def test_a_405_names_the_methods_the_path_takes(client):
    for path, methods in _documented(client).items():
        wrong = next(m for m in ("DELETE", "PUT", "POST", "PATCH") if m not in methods)
        r = client.request(wrong, path)
        assert r.status_code == 405, (wrong, path)
        assert set(r.headers["allow"].split(", ")) >= methods | {"OPTIONS"}, path
    r = client.post("/static/app.js")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"


def test_a_token_in_the_url_is_refused(client):
    r = client.get("/me?access_token=ss_secret")
    assert r.status_code == 401 and "access_token" in r.text and "Authorization" in r.text
    assert client.get("/layers?access_token=ss_secret").status_code == 401  # reads too: it leaked


def test_the_access_log_keeps_no_token_from_a_url(demo_db):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "info"],
        env={"SITESELECT_DATABASE_URL": demo_db, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the service did not start"
                time.sleep(0.3)
        for url in (f"{base}/me?access_token=ss_SECRET1", f"{base}/layers?limit=1&api_key=SECRET2"):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(url, timeout=10).close()
    finally:
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
    assert "GET /me?access_token=[redacted]" in log and "api_key=[redacted]" in log
    assert "SECRET" not in log


def test_the_policy_lets_in_the_tile_server_and_nothing_else(demo_db):
    tiles = "gcj02:http://{s}.tiles.intranet:8080/{z}/{x}/{y}.png"
    settings = Settings(_env_file=None, database_url=demo_db, basemap=tiles)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        policy = _directives(client.get("/").headers["content-security-policy"])
    assert policy["img-src"] == ["'self'", "data:", "http://*.tiles.intranet:8080"]
    assert policy["script-src"] == policy["default-src"] == ["'self'"]
