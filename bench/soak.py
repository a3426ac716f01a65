"""Soak: mixed reads and writes on PostGIS through two uvicorn workers, for minutes.

    python bench/soak.py [--minutes 10] [--clients 24] [--peak-seconds 20]

A throwaway PostGIS with its default durability, set up as in production: an owner role holds the
schema and the service connects as its own role. The Laoshan demo is loaded, with an admin and one
operator per park. The service runs as people run it (uvicorn, 2 workers, httptools, uvloop).

``--clients`` clients then each send, one after another for ``--minutes``, a random mix: checks
(50%), matches (10%), reading a vacancy (10%), suitability surfaces (5%, a few industries: mostly
kept), and operators' writes — a listing published (10%) or its rent changed with the ETag just
read (15%). Reported: requests/s, p50/p99 by kind, every answer that was not expected (any 5xx,
any 4xx but a 412 of two operators racing), and each worker's resident memory every 10 s. At the
end the writes are counted three ways: acknowledged (201/200), stored (the listings' rows and
revisions) and audited (the log's ``ok`` rows), which must agree.

Then ``wrk`` sends POST /check over 16, 64 and 256 connections for ``--peak-seconds`` each, with
each worker's CPU use and the connections waiting in the listening socket's queue (set up by the
kernel, not yet accepted by a worker) sampled meanwhile: what bounds p99 at 256 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import shapely
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from siteselect import accounts
from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.load import load_file
from siteselect.store import Store
from tests.support.postgis import fresh_database, postgis_server, two_roles
from tests.support.serve import running_service

VACANCIES = "/ogc/collections/vacancies/items"
MERGE = {"Content-Type": "application/merge-patch+json"}
INDUSTRIES = ["6210", "9013", "5211", "8040", "6232", "6513", "8391"]
MIX = [("check", 50), ("match", 10), ("read", 10), ("surface", 5), ("publish", 10), ("rent", 15)]
SAMPLE_S = 10
WARM_S = 120  # memory is compared from here on: the snapshots' things are made and the heaps filled
LUA = """local bodies = {%s}
local n = 0
request = function()
  n = n %% #bodies + 1
  return wrk.format("POST", "/check", {["Content-Type"] = "application/json"}, bodies[n])
end
"""


class Tally:
    """What the clients saw: latencies by kind, unexpected answers, acknowledged writes."""

    def __init__(self) -> None:
        self.took: dict[str, list[float]] = collections.defaultdict(list)
        self.unexpected: collections.Counter[str] = collections.Counter()
        self.raced = 0
        self.published: list[str] = []
        self.rents: dict[str, int] = collections.Counter()  # acknowledged changes per listing


def points_inside(store: Store, n: int, seed: int = 5) -> list[tuple[float, float]]:
    """``n`` random points on the district's land (a check of a point at sea is a 422)."""
    districts = store.read_layer("districts")
    land = districts[districts["level"] == "district"].geometry.iloc[0]
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = land.bounds
    x, y = rng.uniform(minx, maxx, 20 * n), rng.uniform(miny, maxy, 20 * n)
    inside = shapely.contains_xy(land, x, y)
    return list(zip(x[inside].tolist(), y[inside].tolist()))[:n]


async def one(
    client: httpx.AsyncClient, kind: str, rng: random.Random, ctx: dict[str, Any], tally: Tally
) -> None:
    start = time.perf_counter()
    expected: tuple[int, ...] = (200,)
    if kind == "check":
        lon, lat = rng.choice(ctx["points"])
        r = await client.post("/check", json={"industry": rng.choice(INDUSTRIES), "lon": lon, "lat": lat})
    elif kind == "match":
        r = await client.post("/match", json={"industry": rng.choice(INDUSTRIES), "limit": 5})
    elif kind == "read":
        r = await client.get(f"{VACANCIES}/{rng.choice(ctx['listings'])[0]}")
    elif kind == "surface":
        r = await client.get("/surface", params={"industry": rng.choice(INDUSTRIES[:3]), "res": 8})
    elif kind == "publish":
        park, token = rng.choice(ctx["operators"])
        lon, lat = ctx["park_points"][park]
        props = {"park_id": park, "address": f"soak {rng.random():.9f}", "floor": 3, "area_m2": 120.0,
                 "rent": 55.0, "use": "office", "status": "available"}  # fmt: skip
        geometry = {"type": "Point", "coordinates": [lon, lat]}
        body = {"type": "Feature", "geometry": geometry, "properties": props}
        r = await client.post(VACANCIES, json=body, headers=token)
        expected = (201,)
        if r.status_code == 201:
            tally.published.append(r.json()["id"])
    else:  # rent: read the ETag, then change the rent against it
        vid, token = rng.choice(ctx["listings"])
        tag = (await client.get(f"{VACANCIES}/{vid}")).headers.get("etag", "")
        rent = round(rng.uniform(30, 150), 2)
        headers = token | MERGE | {"If-Match": tag}
        r = await client.patch(f"{VACANCIES}/{vid}", json={"rent": rent}, headers=headers)
        if r.status_code == 412:  # another client changed it in between: refused, as it should be
            tally.raced += 1
            expected = (412,)
        elif r.status_code == 200:
            tally.rents[vid] += 1
    tally.took[kind].append((time.perf_counter() - start) * 1000)
    if r.status_code not in expected:
        tally.unexpected[f"{kind} {r.status_code}"] += 1


async def client_loop(base: str, seed: int, until: float, ctx: dict[str, Any], tally: Tally) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < until:
            kind = rng.choices(kinds, weights)[0]
            try:
                await one(client, kind, rng, ctx, tally)
            except httpx.HTTPError as exc:
                tally.unexpected[f"{kind} {type(exc).__name__}"] += 1


def worker_pids(base: str) -> list[int]:
    pids: set[int] = set()
    for _ in range(200):
        with httpx.Client(base_url=base) as fresh:  # a new connection: either worker may take it
            pids.add(fresh.get("/health").json()["worker"])
        if len(pids) == 2:
            break
    return sorted(pids)


Sample = tuple[float, list[float], int, float]  # seconds in, each worker's MiB, listings published, load


def sample_memory(pids: list[int], stop: threading.Event, rows: list[Sample], tally: Tally) -> None:
    started = time.monotonic()
    procs = [psutil.Process(p) for p in pids]
    while not stop.wait(0 if not rows else SAMPLE_S):
        rss = [p.memory_info().rss / 2**20 for p in procs]
        rows.append((time.monotonic() - started, rss, len(tally.published), os.getloadavg()[0]))


def setup(url: str, demo: Path) -> tuple[str, str, dict[str, Any]]:
    owner_url, service_url = two_roles(url)
    store = Store(service_url, owner_url=owner_url)
    files = write_demo(demo)
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer])
    parks = store.read_layer("parks")
    operators, park_points = [], {}
    for park, geom in zip(parks["id"], parks.geometry):
        name = f"operator-{park}"
        accounts.add_user(store, name, "operator", [park])
        operators.append((park, {"Authorization": f"Bearer {accounts.create_token(store, name)[0]}"}))
        inside = geom.representative_point()
        park_points[park] = (inside.x, inside.y)
    points = points_inside(store, 2000)
    store.close()
    return owner_url, service_url, {"operators": operators, "park_points": park_points, "points": points}


def counts(store: Store, tally: Tally, revisions_before: dict[str, int]) -> dict[str, tuple[int, int, int]]:
    """(acknowledged, stored, audited) for publications and rent changes."""
    with store.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, revision FROM listings")).all())
        by_action = sa.text("SELECT action, count(*) FROM audit_log WHERE outcome = 'ok' GROUP BY action")
        audited = collections.Counter(dict(conn.execute(by_action).all()))
    stored_new = sum(1 for vid in tally.published if vid in rows)
    stored_changes = sum(rows[vid] - revisions_before[vid] for vid in tally.rents)
    return {
        "published": (len(tally.published), stored_new, audited["create"]),
        "rents changed": (sum(tally.rents.values()), stored_changes, audited["patch"]),
    }


def waiting_to_be_accepted(port: str) -> int:
    """Connections the kernel has set up on the service's port that no worker has accepted yet."""
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    return int(listening.split()[1]) if listening.strip() else 0


def wrk(url: str, connections: int, seconds: int, script: Path, pids: list[int]) -> dict[str, Any]:
    """Requests/s, p50/p99 (ms), non-2xx answers; each worker's CPU and the machine's, and the
    connections not yet accepted (after 1 s and at most), meanwhile."""
    workers: list[list[float]] = []
    machine: list[float] = []
    unaccepted: list[int] = []
    port = url.rsplit(":", 1)[1].split("/")[0]
    stop = threading.Event()
    procs = [psutil.Process(p) for p in pids]
    for p in procs:
        p.cpu_percent()
    psutil.cpu_percent()

    def sample() -> None:
        while not stop.wait(1):
            workers.append([p.cpu_percent() for p in procs])
            machine.append(psutil.cpu_percent())
            unaccepted.append(waiting_to_be_accepted(port))

    sampler = threading.Thread(target=sample)
    sampler.start()
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s",
           "-s", str(script), url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    stop.set()
    sampler.join()

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms("50"), "p99": ms("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "workers": np.mean(workers, axis=0).round().astype(int).tolist() if workers else [],
        "machine": float(np.mean(machine)) if machine else float("nan"),
        "unaccepted": (unaccepted[0], max(unaccepted)) if unaccepted else (0, 0),
    }  # fmt: skip


def report_soak(minutes: float, clients: int, elapsed: float, tally: Tally, memory: list[Sample],
                pids: list[int], ledger: dict[str, tuple[int, int, int]]) -> None:  # fmt: skip
    total = sum(len(v) for v in tally.took.values())
    print(f"soak: {minutes:g} min, {clients} clients, uvicorn 2 workers over PostGIS (service role)")
    print(f"  {total:,} requests in {elapsed:.0f} s: {total / elapsed:,.0f} requests/s")
    for kind, took in sorted(tally.took.items()):
        p50, p99 = np.percentile(took, [50, 99])
        print(f"  {kind:<8} n={len(took):>7,}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
    print(f"  unexpected answers: {dict(tally.unexpected) or 'none'}; 412s of racing writes: {tally.raced}")
    print(f"  resident memory (MiB) of workers {pids}, every {SAMPLE_S} s, with the listings published"
          " so far and the machine's load average (1 min):")  # fmt: skip
    for at, rss, published, load in memory:
        workers = "  ".join(f"{r:7.1f}" for r in rss)
        print(f"    {at:6.0f} s  {workers}  {published:6,}  load {load:5.1f}")
    # A sample swings by some 5 MiB (collections, trims): compare the first minute after warm-up
    # with the last, each by its mean.
    first = [row for row in memory if WARM_S <= row[0] < WARM_S + 60]
    last = [row for row in memory if row[0] >= memory[-1][0] - 55]
    if first and last and last[0][0] > first[-1][0]:
        grown = np.mean([r[1] for r in last], axis=0) - np.mean([r[1] for r in first], axis=0)
        listings = np.mean([r[2] for r in last]) - np.mean([r[2] for r in first])
        workers = "  ".join(f"{g:+.1f}" for g in grown)
        print(f"  after warm-up, the last minute's mean against the first's ({WARM_S}-{WARM_S + 60} s):"
              f" workers {workers} MiB, {listings:,.0f} listings more")  # fmt: skip
    for name, (acked, stored, audited) in ledger.items():
        verdict = "equal" if acked == stored == audited else "DIFFERENT"
        print(f"  {name}: acknowledged {acked:,}, stored {stored:,}, audited {audited:,} ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--peak-seconds", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder, postgis_server(durable=True) as server, \
            fresh_database(server, "soak") as url:  # fmt: skip
        owner_url, service_url, ctx = setup(url, Path(folder) / "demo")
        env = {"SITESELECT_DATABASE_OWNER_URL": owner_url}
        with running_service(service_url, workers=2, **env) as base:
            admin = Store(service_url)
            accounts.add_user(admin, "admin", "admin", [])
            listings_now = httpx.get(f"{base}{VACANCIES}", params={"limit": 10000}).json()["features"]
            tokens = dict(ctx["operators"])
            ctx["listings"] = [(f["id"], tokens[f["properties"]["park_id"]]) for f in listings_now
                               if f["properties"].get("park_id") in tokens]  # fmt: skip
            with admin.engine.connect() as conn:
                before = dict(conn.execute(sa.text("SELECT id, revision FROM listings")).all())
            pids = worker_pids(base)
            tally, memory, stop = Tally(), list[Sample](), threading.Event()
            sampler = threading.Thread(target=sample_memory, args=(pids, stop, memory, tally))
            sampler.start()
            started = time.monotonic()
            until = started + args.minutes * 60

            async def soak() -> None:
                await asyncio.gather(*(client_loop(base, n, until, ctx, tally) for n in range(args.clients)))

            asyncio.run(soak())
            elapsed = time.monotonic() - started
            stop.set()
            sampler.join()
            ledger = counts(admin, tally, before)
            report_soak(args.minutes, args.clients, elapsed, tally, memory, pids, ledger)

            script = Path(folder) / "check.lua"
            rng = random.Random(7)
            bodies = [json.dumps({"industry": rng.choice(INDUSTRIES), "lon": x, "lat": y})
                      for x, y in ctx["points"][:500]]  # fmt: skip
            script.write_text(LUA % ", ".join(json.dumps(b) for b in bodies))
            print(f"POST /check with wrk (2 threads), {args.peak_seconds} s each; CPU: each worker's (100% is"
                  " a core) and the whole machine's (100% is both cores), meanwhile")  # fmt: skip
            for connections in (16, 64, 256):
                r = wrk(f"{base}/check", connections, args.peak_seconds, script, pids)
                little = connections / r["rps"] * 1000  # the mean wait Little's law gives at that rate
                print(
                    f"  {connections:>3} connections: {r['rps']:7,.0f} requests/s  p50 {r['p50']:7.1f} ms"
                    f"  p99 {r['p99']:7.1f} ms  non-2xx {r['errors']}  workers {r['workers']}%"
                    f"  machine {r['machine']:.0f}%  connections/rate {little:.0f} ms"
                    f"  not yet accepted after 1 s {r['unaccepted'][0]}, at most {r['unaccepted'][1]}"
                )
            admin.close()


if __name__ == "__main__":
    main()
