"""Benchmark: serving a whole city — start-up, memory, matching, checks, and a new layer version.

    python bench/city_serving.py [--districts 10] [--scale 1] [--seconds 20] [--change-seconds 60]
                                 [--store postgresql+psycopg://SUPERUSER@HOST:PORT/DB]

The city is ten demo-like districts side by side (``bench.scaled_demo.city_sized``: 200,000
buildings, 1,000,000 POIs, 100,000 vacancies, 500,000 certified addresses at ``--scale 1``), made
from a fixed seed, loaded into a throwaway PostGIS (PostgreSQL's default durability) by the owner
role, and served as in production: uvicorn with 2 workers (httptools, uvloop) as the service's
role (``--store``: a database of a server of your own instead, loaded on the first run and reused
by the next, the city being the same). Measured, each beside its target:

- start-up: from starting uvicorn until each worker answers (target 15 s): at the first start,
  when one worker builds the snapshot and writes it to the shared folder (``SITESELECT_SNAPSHOT_DIR``)
  while the other waits and reads it, and at a restart, when both read it;
- memory: each worker's resident and unique set size once serving (target 2 GB), and at its
  highest while a new version arrives and after it;
- a top-10 match over the city's vacancies, one request at a time (target 100 ms);
- ``POST /check`` under 64 keep-alive connections (wrk), points anywhere in the city (p99 target 25 ms);
- a new version of a department's prohibited-address list while wrk sends checks: how long until
  every worker answers with it, and the p99 of the checks meanwhile, beside the p99 without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from bench.scaled_demo import CANDIDATE_CODES, city_sized, load_city, random_candidates
from siteselect import city, listings
from siteselect.load import load_frame
from siteselect.settings import Settings
from siteselect.store import Store
from tests.support.postgis import fresh_database, postgis_server, two_roles
from tests.support.serve import free_port

CONNECTIONS, WORKERS = 64, 2
HEALTHCHECK_S = 120  # as `siteselect serve` sets it: indexing a city holds the GIL for seconds
LUA = """local bodies = {%s}
local n = 0
request = function()
  n = n %% #bodies + 1
  return wrk.format("POST", "/check", {["Content-Type"] = "application/json"}, bodies[n])
end
"""


def wrk(url: str, seconds: int, script: Path, pids: list[int] | None = None) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms) and non-2xx answers of POST /check over CONNECTIONS, and how
    many of the connections each worker of ``pids`` held halfway through."""
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "30s",
           "-s", str(script), url]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as run:
        time.sleep(seconds / 2)
        held = [_connections(pid, int(url.split(":")[2].split("/")[0])) for pid in pids or []]
        out = run.communicate(timeout=seconds + 120)[0]
    if run.returncode:
        raise RuntimeError(f"wrk failed ({run.returncode})")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": int(errors.group(1)) if errors else 0,
            "held": held}  # fmt: skip


def _connections(pid: int, port: int) -> int:
    """The connections to ``port`` a worker holds open (the kernel hands each to one worker)."""
    connections = psutil.Process(pid).net_connections(kind="tcp")
    return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in connections)


def start(
    service_url: str, owner_url: str, extent: tuple[float, ...], port: int, snapshots: Path
) -> tuple[Any, dict[int, tuple[float, float]]]:
    """Start uvicorn; return it and, by worker pid, the seconds until that worker first answered
    and the CPU seconds it had used by then (what the machine's load does not stretch)."""
    env = {"SITESELECT_DATABASE_URL": service_url, "SITESELECT_DATABASE_OWNER_URL": owner_url,
           "SITESELECT_EXTENT": json.dumps(list(extent)),
           "SITESELECT_SNAPSHOT_DIR": str(snapshots)}  # fmt: skip
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(WORKERS), "--http", "httptools", "--loop", "uvloop",
               "--no-access-log", "--log-level", "warning",
               "--timeout-worker-healthcheck", str(HEALTHCHECK_S)]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(command, env=os.environ | env)
    first: dict[int, float] = {}
    cpu: dict[int, float] = {}
    try:
        while len(first) < WORKERS:
            if proc.poll() is not None or time.monotonic() - started > 2400:
                raise RuntimeError("the service did not start")
            try:
                with httpx.Client(timeout=2) as fresh:  # a new connection: either worker may take it
                    pid = fresh.get(f"http://127.0.0.1:{port}/health").json()["worker"]
                if pid not in first:
                    first[pid] = time.monotonic() - started
                    cpu[pid] = sum(psutil.Process(pid).cpu_times()[:2])
            except httpx.HTTPError:
                time.sleep(0.2)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=60)
        raise
    return proc, {pid: (first[pid], cpu[pid]) for pid in first}


def memory(pids: list[int]) -> list[tuple[float, float]]:
    """(resident, unique) GiB of each worker."""
    out = []
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        out.append((info.rss / 2**30, info.uss / 2**30))
    return out


def matches(base: str) -> tuple[list[float], list[float]]:
    """Top-10 matches one at a time: the first of each industry, then four more of each (ms)."""
    first: list[float] = []
    again: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for round_ in range(5):
            for code in CANDIDATE_CODES:
                started = time.perf_counter()
                r = client.post("/match", json={"industry": code, "limit": 10})
                took = (time.perf_counter() - started) * 1000
                r.raise_for_status()
                (first if round_ == 0 else again).append(took)
    return first, again


class PeakMemory(threading.Thread):
    """The highest resident and unique set size of each worker while it runs (GiB)."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak = pids, {pid: (0.0, 0.0) for pid in pids}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for pid, (rss, uss) in zip(self.pids, memory(self.pids)):
                self.peak[pid] = (max(rss, self.peak[pid][0]), max(uss, self.peak[pid][1]))


def new_version(
    base: str, owner: Store, settings: Settings, script: Path, seconds: int, pids: list[int]
) -> dict[str, Any]:
    """A new prohibited-address list (one entry fewer than the store's) while wrk runs: when each
    worker serves it, and each worker's memory at its highest meanwhile."""
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(wrk(f"{base}/check", seconds, script)))
    peak = PeakMemory(pids)
    peak.start()
    runner.start()
    time.sleep(3)
    entries = owner.read_layer("prohibited_addresses").iloc[1:]  # fewer than the last run's too
    started = time.monotonic()
    version = load_frame(owner, "prohibited_addresses", entries, source="city prohibited, one fewer",
                         settings=settings).version  # fmt: skip
    stored = time.monotonic() - started
    serving: dict[int, float] = {}
    deadline = started + 1800  # a worker builds the new snapshot, the other reads it
    while len(serving) < WORKERS and time.monotonic() < deadline:
        with httpx.Client(timeout=30) as fresh:
            health = fresh.get(f"{base}/health").json()
        if health["layers"].get("prohibited_addresses") == version:
            serving.setdefault(health["worker"], time.monotonic() - started)
        else:
            time.sleep(0.05)
    # A worker serves the version once a check is answered from it: checks on fresh connections
    # (either worker) until twenty in a row carry it.
    body = {"industry": "6210", "lon": 120.46, "lat": 36.1}
    in_a_row = 0
    while in_a_row < 20 and time.monotonic() < deadline:
        with httpx.Client(timeout=60) as fresh:
            answer = fresh.post(f"{base}/check", json=body).json()
        in_a_row = in_a_row + 1 if answer["layer_versions"]["prohibited_addresses"] == version else 0
    checked = time.monotonic() - started
    runner.join()
    peak.done.set()
    peak.join()
    return result | {"stored": stored, "serving": serving, "checked": checked, "version": version,
                     "peak": peak.peak}  # fmt: skip


@contextlib.contextmanager
def store_url(given: str | None) -> Iterator[str]:
    """The given database's URL, or a throwaway PostGIS's (PostgreSQL's default durability)."""
    if given:
        yield given
        return
    with postgis_server(durable=True) as server, fresh_database(server, "city") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--districts", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="of each district's 20,000 buildings …")
    parser.add_argument("--seconds", type=int, default=20, help="of wrk without a new version")
    parser.add_argument("--change-seconds", type=int, default=60, help="of wrk around a new version")
    parser.add_argument("--store", help="a superuser's URL of a database: the city loaded once, reused")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    started = time.perf_counter()
    layers = city_sized(args.districts, args.scale)
    made = time.perf_counter() - started
    counts = {name: len(layers[name]) for name in ("buildings", "pois", "vacancies", "house_numbers")}
    print(f"city: {args.districts} districts, " + ", ".join(f"{n:,} {k}" for k, n in counts.items())
          + f"; generated in {made:.1f} s")  # fmt: skip
    extent = city.extent(layers)
    settings = Settings(_env_file=None, extent=extent)  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory() as folder, store_url(args.store) as url:
        owner_url, service_url = two_roles(url)
        owner = Store(service_url, owner_url=owner_url)
        if owner.current_versions():
            print("the city was loaded into the given store by an earlier run")
        else:
            started = time.perf_counter()
            load_city(owner, layers, args.districts, settings)
            # The listings start as the vacancies layer. A worker seeds them on its first start,
            # but 100,000 rows take longer than the service's 5 s statement timeout: seeded here,
            # as the owner, as a deployment of that size must do before its first start.
            listings.seed(owner)
            print(f"loaded into PostGIS in {time.perf_counter() - started:.1f} s (owner role)")
        script = Path(folder) / "check.lua"
        bodies = [json.dumps({"industry": c, "lon": x, "lat": y, "floor": 2})
                  for x, y, c in random_candidates(layers, 1000)]  # fmt: skip
        script.write_text(LUA % ", ".join(json.dumps(b) for b in bodies))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        snapshots = Path(folder) / "snapshots"
        print(f"uvicorn {WORKERS} workers (httptools, uvloop) over PostGIS as the service's role;"
              f" load average {psutil.getloadavg()[0]:.1f} at the start")  # fmt: skip
        proc, first = start(service_url, owner_url, extent, port, snapshots)
        took = ", ".join(f"{s:.1f} s ({c:.1f} s CPU)" for s, c in sorted(first.values()))
        print(f"  first start (one worker builds and writes the snapshot, the other reads it): {took}")
        proc.terminate()
        proc.wait(timeout=60)
        size = sum(p.stat().st_size for p in snapshots.glob("snapshot-*.pickle")) / 2**30
        proc, first = start(service_url, owner_url, extent, port, snapshots)
        try:
            pids = sorted(first)
            print(f"  restart at load average {psutil.getloadavg()[0]:.1f}:")
            for pid in pids:
                print(f"  start-up: worker {pid} answered after {first[pid][0]:.1f} s ({first[pid][1]:.1f} s"
                      f" CPU), reading the snapshot's file ({size:.2f} GiB) (target 15 s)")  # fmt: skip
            first_match, match_again = matches(base)
            wrk(f"{base}/check", 5, script)  # both workers' cell maps warm
            for pid, (rss, uss) in zip(pids, memory(pids)):
                print(f"  memory: worker {pid} resident {rss:.2f} GiB, unique {uss:.2f} GiB (target 2 GB)")
            print(f"  top-10 match: first of each industry median {statistics.median(first_match):.0f} ms"
                  f" (max {max(first_match):.0f}); again median {statistics.median(match_again):.0f} ms,"
                  f" max {max(match_again):.0f} ms (target 100 ms)")  # fmt: skip
            quiet = wrk(f"{base}/check", args.seconds, script, pids)
            print(f"  POST /check, {CONNECTIONS} connections, {args.seconds} s:"
                  f" {quiet['rps']:,.0f} requests/s,"
                  f" p50 {quiet['p50']:.1f} ms, p99 {quiet['p99']:.1f} ms, non-2xx {quiet['errors']}"
                  " (p99 target 25 ms)")  # fmt: skip
            print(f"    closed loop: a p99 of 25 ms at {CONNECTIONS} connections needs at least"
                  f" {CONNECTIONS / 0.025:,.0f} requests/s; measured {quiet['rps']:,.0f}; the workers"
                  f" held {' and '.join(map(str, quiet['held']))} of the connections")  # fmt: skip
            change = new_version(base, owner, settings, script, args.change_seconds, pids)
            serving = ", ".join(f"worker {p} after {s:.1f} s" for p, s in sorted(change["serving"].items()))
            print(f"  new prohibited-address list (version {change['version']}): stored in"
                  f" {change['stored']:.1f} s; reported by {serving}; checks answered from it on both"
                  f" after {change['checked']:.1f} s")  # fmt: skip
            print(
                f"  POST /check meanwhile ({args.change_seconds} s): {change['rps']:,.0f} requests/s,"
                f" p50 {change['p50']:.1f} ms, p99 {change['p99']:.1f} ms, non-2xx {change['errors']}"
            )
            for pid in pids:
                rss, uss = change["peak"][pid]
                print(f"  memory meanwhile: worker {pid} at most {rss:.2f} GiB resident, {uss:.2f} unique")
            time.sleep(15)  # the replaced snapshot freed and the heaps trimmed (api/memory.py)
            for pid, (rss, uss) in zip(pids, memory(pids)):
                print(f"  memory after: worker {pid} resident {rss:.2f} GiB, unique {uss:.2f} GiB")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            owner.close()
    print(f"machine: {psutil.cpu_count()} cores, load average {psutil.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
