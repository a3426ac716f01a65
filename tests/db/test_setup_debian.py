"""The production set-up, run here: ``deploy/setup-debian.sh`` installs the wheel, makes the
database's two roles and the schema on a PostgreSQL server, writes the settings, the systemd unit
and the nginx site; systemd then runs the unit and nginx runs as Debian would run it, and the
service is driven over HTTPS: the page, a check, an operator's write; systemd restarts it when
it dies and stops it on request.

Where systemd is not the machine's init (a container), a private systemd manager runs the unit
(``tests/support/systemd.py``), with a drop-in for what this machine cannot give the service
(``_HERE``); ``systemd-analyze verify`` checks the unit as written."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from dotenv import dotenv_values

from tests.conftest import ROOT
from tests.support import systemd
from tests.support.serve import free_port, wait_until_answers
from tests.support.wheel import build_wheel, venv_with_project_dependencies

pytestmark = [pytest.mark.postgis, pytest.mark.deploy]
CLIENT = "127.0.0.5"  # the browser's address, as nginx sees it (nginx talks to the service from 127.0.0.1)


def _unit(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#"
    )


def _here(log: Path) -> str:
    """The drop-in: only what this test machine cannot give the service as the unit asks."""
    lines = [
        "[Service]",
        # The interpreter and the dependencies of the test's virtual environment live in root's
        # home (a Python built there); a Debian install makes its venv from /usr/bin/python3.
        "User=root", "Group=root", "ProtectHome=read-only",
        f"StandardError=append:{log}",  # no journald here; the tests read the service's log lines
    ]  # fmt: skip
    if sysconfig.get_path("purelib").startswith(("/tmp/", "/var/tmp/")):
        lines.append("PrivateTmp=false")  # the project (and so the dependencies) is checked out in /tmp
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def deployed(postgis, tmp_path_factory, request) -> Iterator[dict[str, object]]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (make test installs it as root)")
    if why := systemd.available():
        pytest.fail(why)
    tmp = tmp_path_factory.mktemp("deploy")
    # The root stands for /: outside /tmp, which the unit makes private to the service.
    root = Path(tempfile.mkdtemp(prefix="siteselect-deploy-", dir="/srv"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))  # whatever fails below
    ports = {name: free_port() for name in ("app", "https", "http")}
    # The script keeps a virtual environment it finds: this one already has the dependencies, so the
    # wheel goes in without downloading them (the wheel test installs into an empty one).
    venv_with_project_dependencies(root / "opt/siteselect/venv")
    env = os.environ | {
        "WHEEL": str(build_wheel(tmp / "dist")), "ROOT": str(root), "SYSTEM": "0", "SERVER_NAME": "localhost",
        "WORKERS": "2", "APP_PORT": str(ports["app"]), "HTTPS_PORT": str(ports["https"]),
        "HTTP_PORT": str(ports["http"]), "DB_NAME": "deployed", "OWNER_ROLE": "deploy_owner",
        "APP_ROLE": "deploy_app", "PG_HOST": postgis.host, "PG_PORT": str(postgis.port),
        "PG_SUPERUSER": postgis.user,
    }  # fmt: skip
    subprocess.run(["bash", ROOT / "deploy" / "setup-debian.sh"], env=env, check=True, timeout=600)
    unit_file = root / "etc/systemd/system/siteselect.service"
    etc, venv = root / "etc/siteselect", root / "opt/siteselect/venv"
    owner = os.environ | dotenv_values(etc / "owner.env")  # a data steward loads the layers
    subprocess.run([venv / "bin/siteselect", "demo", "--out", tmp / "demo"], env=owner, check=True)
    operator = ["users", "add", "运营", "--role", "operator", "--park", "park-001"]
    subprocess.run([venv / "bin/siteselect", *operator], env=owner, check=True)
    made = subprocess.run([venv / "bin/siteselect", "tokens", "create", "运营"], env=owner, check=True,
                          capture_output=True, text=True)  # fmt: skip
    nginx_conf = _nginx_conf(tmp, root / "etc/nginx/sites-available/siteselect.conf")
    subprocess.run(["nginx", "-t", "-q", "-c", nginx_conf, "-p", tmp], check=True)
    with systemd.manager(tmp / "systemd") as manager:
        name = manager.install(unit_file, _here(tmp / "service.log"))
        manager.systemctl("start", name)
        nginx = subprocess.Popen(["nginx", "-c", str(nginx_conf), "-p", str(tmp)])
        try:
            health = f"http://127.0.0.1:{ports['app']}/health"
            wait_until_answers(health, log=tmp / "service.log")
            yield {
                "base": f"https://localhost:{ports['https']}", "http": f"http://localhost:{ports['http']}",
                "cert": etc / "tls/cert.pem", "token": made.stdout.split()[-1], "log": tmp / "service.log",
                "unit": unit_file, "env": etc / "siteselect.env", "venv": venv, "systemd": manager,
                "name": name, "health": health,
            }  # fmt: skip
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)
            manager.systemctl("stop", name, check=False)
            for sql in ("DROP DATABASE deployed", "DROP ROLE deploy_app", "DROP ROLE deploy_owner"):
                server = ["-h", postgis.host, "-p", str(postgis.port), "-U", postgis.user, "-d", "postgres"]
                subprocess.run(["psql", *server, "-c", sql], check=True)


def _nginx_conf(tmp: Path, site: Path) -> Path:
    """Debian's main nginx.conf in short, with its paths in ``tmp``: the site is included as is."""
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
user root;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return conf


@pytest.fixture(scope="module")
def browser(deployed) -> Iterator[httpx.Client]:
    """HTTP/2 over TLS, trusting the set-up's certificate only, from the client's own address."""
    tls = ssl.create_default_context(cafile=str(deployed["cert"]))
    transport = httpx.HTTPTransport(http2=True, verify=tls, local_address=CLIENT, retries=2)
    with httpx.Client(base_url=str(deployed["base"]), transport=transport, timeout=60) as client:
        yield client


def test_the_unit_is_valid_and_its_settings_check(deployed):
    if shutil.which("systemd-analyze"):
        done = subprocess.run(["systemd-analyze", "verify", deployed["unit"]], capture_output=True, text=True)
        assert [x for x in done.stderr.splitlines() if "siteselect.service" in x] == []  # no unknown key
    unit = _unit(deployed["unit"])
    assert unit["ExecStart"].endswith("--workers 2") and unit["User"] == "siteselect"
    checked = subprocess.run([deployed["venv"] / "bin/siteselect", "config", "check", deployed["env"]],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert "deploy_app" in checked.stdout and "***" in checked.stdout  # the password is never printed


def _snapshot_lines(log: Path) -> list[str]:
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    return [x["message"] for x in lines if x["logger"] == "siteselect.snapshot_file"]


def test_the_workers_share_one_snapshot_file_in_the_services_own_folder(deployed):
    folder = Path(dotenv_values(deployed["env"])["SITESELECT_SNAPSHOT_DIR"] or "")
    state = Path(_unit(deployed["unit"])["ReadWritePaths"])
    assert folder.parent == state and folder.stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_uid == os.getuid()  # the service's user (root here, see _here)
    deadline = time.monotonic() + 120  # the second worker may still be reading it
    while len(_snapshot_lines(deployed["log"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    (path,) = folder.glob("snapshot-*.pickle")
    made = [x.rsplit(" in ", 1)[0] for x in _snapshot_lines(deployed["log"])]
    assert made == [f"snapshot built and written to {path}", f"snapshot read from {path}"]  # one each


def test_the_page_over_https_and_http2_compressed_and_cached(deployed, browser):
    page = browser.get("/")
    assert page.status_code == 200 and page.http_version == "HTTP/2"
    assert "max-age" in page.headers["strict-transport-security"]
    script = browser.get("/static/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    assert script.headers["cache-control"] == "public, max-age=86400"
    assert "Leaflet" in script.text[:500]
    redirect = httpx.get(f"{deployed['http']}/", follow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://")
    assert browser.get("/ready").json()["ready"] is True
    assert browser.get("/metrics").status_code == 403  # monitoring reads it on the machine itself


def test_a_check_carries_the_proxys_request_id_and_the_clients_address_into_the_log(deployed, browser):
    answer = browser.post("/check", json={"industry": "9013", "lon": 120.452, "lat": 36.1075})
    assert answer.status_code == 200 and answer.json()["verdict"] in ("permitted", "review", "prohibited")
    rid = answer.headers["x-request-id"]
    assert len(rid) == 32  # nginx's $request_id
    for _ in range(50):
        lines = [json.loads(x) for x in deployed["log"].read_text().splitlines() if rid in x]
        if lines:
            break
        time.sleep(0.1)
    assert [(x["route"], x["status"], x["client"]) for x in lines] == [("/check", 200, CLIENT)]


def test_an_operators_write_goes_through_as_the_services_restricted_role(deployed, browser):
    headers = {"Authorization": f"Bearer {deployed['token']}"}
    feature = {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
        "properties": {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5, "area_m2": 120.0,
                       "rent": 60.0, "use": "office", "status": "available"},
    }  # fmt: skip
    made = browser.post("/ogc/collections/vacancies/items", json=feature, headers=headers)
    assert made.status_code == 201, made.text
    other = feature | {"properties": feature["properties"] | {"park_id": "park-002"}}
    assert browser.post("/ogc/collections/vacancies/items", json=other, headers=headers).status_code == 403
    tls = ssl.create_default_context(cafile=str(deployed["cert"]))
    oversized = b"x" * (5 * 1024 * 1024)  # over HTTP/1.1: nginx answers before reading it all
    huge = httpx.post(f"{deployed['base']}/check", content=oversized, verify=tls, timeout=60)
    assert huge.status_code == 413  # refused by nginx before the service sees it


def _workers(server: psutil.Process) -> list[str]:
    """The server's worker processes (not multiprocessing's resource tracker beside them)."""
    commands = [" ".join(child.cmdline()) for child in server.children()]
    return [c for c in commands if "resource_tracker" not in c]


def test_systemd_runs_the_workers_restarts_the_service_when_it_dies_and_stops_it(deployed, browser):
    manager, name = deployed["systemd"], deployed["name"]
    assert manager.systemctl("is-active", name) == "active"
    first = psutil.Process(manager.main_pid(name))
    assert len(_workers(first)) == 2  # the unit's --workers 2, under the process systemd watches
    first.kill()  # Restart=on-failure, RestartSec=2
    deadline = time.monotonic() + 120
    while manager.main_pid(name) in (0, first.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert manager.main_pid(name) not in (0, first.pid)
    wait_until_answers(str(deployed["health"]), log=deployed["log"])
    assert (
        browser.post("/check", json={"industry": "9013", "lon": 120.452, "lat": 36.1075}).status_code == 200
    )
    again = psutil.Process(manager.main_pid(name))
    workers = again.children()  # the workers and multiprocessing's resource tracker
    manager.systemctl("stop", name)  # within TimeoutStopSec, every worker with it
    assert manager.systemctl("is-active", name, check=False) == "inactive"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in [again, *workers])
    manager.systemctl("start", name)  # as the other tests found it
    wait_until_answers(str(deployed["health"]), log=deployed["log"])
