"""Benchmark: POST /check latency alone and while four suitability surfaces are being drawn.

    python bench/surface_load.py [--seconds 15] [--workers 1]

The service runs as in production (uvicorn, httptools, uvloop) on the Laoshan demo in SQLite. One
client sends /check requests one after another (the latency a clerk sees); during the second phase
four other clients each ask for surfaces one after another, every one a new industry and so never
kept already (res 9 over the district: seconds of CPU each). Measured twice in the same run: the
baseline draws as every request did before, in the worker's own threads, four at once
(``SITESELECT_EXPENSIVE_APART=false``, ``SITESELECT_EXPENSIVE_CONCURRENCY=4``); the service's
defaults draw one at a time per worker, in a process of its own at a lower CPU priority.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.load import load_file
from siteselect.store import Store
from tests.support.serve import running_service

CHECKS = [
    {"industry": "6210", "address": "崂山区苗岭路28号"},
    {"industry": "9013", "lon": 120.452, "lat": 36.1075},
    {"industry": "5211", "lon": 120.47, "lat": 36.11, "floor": 2},
]
CODES = ["6210", "6220", "5211", "5212", "6232", "9013", "8040", "8930", "6233", "5243", "5251", "8391",
         "6239", "8030", "6121", "6129", "5252", "8393"]  # fmt: skip
DRAWERS = 4
BASELINE = {"SITESELECT_EXPENSIVE_APART": "false", "SITESELECT_EXPENSIVE_CONCURRENCY": str(DRAWERS)}


def check_latencies(base: str, seconds: float) -> list[float]:
    """Sequential /check requests for ``seconds``; their latencies in milliseconds."""
    took = []
    with httpx.Client(base_url=base, timeout=60) as client:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            start = time.perf_counter()
            response = client.post("/check", json=CHECKS[n % len(CHECKS)])
            took.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"/check answered {response.status_code}: {response.text[:200]}")
            n += 1
    return took


def draw_surfaces(base: str, codes: list[str], stop: threading.Event, statuses: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=300) as client:
        for code in codes:
            if stop.is_set():
                return
            statuses.append(client.get("/surface", params={"industry": code, "res": 9}).status_code)


def measure(db_url: str, env: dict[str, str], workers: int, seconds: float) -> dict[str, object]:
    with running_service(db_url, workers=workers, **env) as base:
        check_latencies(base, 3)  # warm: cell maps, the gazetteer
        with httpx.Client(base_url=base, timeout=300) as client:  # and the drawing process, if any
            assert client.get("/surface", params={"industry": "6210", "res": 7}).status_code == 200
        alone = check_latencies(base, seconds)
        stop, statuses = threading.Event(), []
        drawers = [
            threading.Thread(target=draw_surfaces, args=(base, CODES[i::DRAWERS], stop, statuses))
            for i in range(DRAWERS)
        ]
        for t in drawers:
            t.start()
        time.sleep(0.5)  # all four asked
        loaded = check_latencies(base, seconds)
        stop.set()
        for t in drawers:
            t.join()
    return {"alone": alone, "loaded": loaded, "surfaces": statuses}


def line(label: str, took: list[float]) -> str:
    p50, p99 = np.percentile(took, [50, 99])
    return f"  {label:<34} n={len(took):>6,}  p50 {p50:7.2f} ms  p99 {p99:8.2f} ms  max {max(took):8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = write_demo(Path(folder) / "demo")
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        store = Store(url)
        for layer in LOAD_ORDER:
            load_file(store, layer, files[layer])
        store.close()
        runs = {
            name: measure(url, env, args.workers, args.seconds)
            for name, env in (("baseline: in the worker's threads, 4 at once", BASELINE),
                              ("the service's defaults", {}))
        }  # fmt: skip
    print(f"uvicorn {args.workers} worker(s), demo in SQLite, {args.seconds:g} s a phase, one /check client")
    for name, run in runs.items():
        print(name)
        print(line("/check alone", run["alone"]))  # type: ignore[arg-type]
        print(line(f"/check, {DRAWERS} surfaces being drawn", run["loaded"]))  # type: ignore[arg-type]
        print(f"  surfaces answered meanwhile: {json.dumps(sorted(run['surfaces']))}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
