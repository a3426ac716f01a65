"""Benchmark: a building tile at zoom 15 at city size, uncached and cached, SQLite and PostGIS.

    python bench/tile_speed.py [--buildings 200000] [--tiles 20]

The demo's district with ``--buildings`` buildings (as bench/scaled_demo.py makes them). For
``--tiles`` random zoom-15 tiles over the district, through the service in-process: the first
request of a tile (drawn), the second (kept) and one naming its ETag (304), beside the targets
(50 ms drawn, 5 ms kept) and the baseline of the same area as the bbox GeoJSON the web map asked
for before it drew tiles (``/basemap/buildings?bbox=``). Medians, with the tile's buildings and
bytes, the CPU time this process spent on a drawn tile (on SQLite that is all of it: what it
would take on an idle machine), and the machine's load average. The PostGIS server is a
throwaway one from Debian's packages; set SITESELECT_BENCH_POSTGIS_URL to use another.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import numpy as np
import shapely
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.scaled_demo, and the throwaway-server helper of the tests

from api.app import create_app  # noqa: E402
from bench.scaled_demo import scaled_layers  # noqa: E402
from siteselect.settings import Settings  # noqa: E402
from siteselect.store import Store  # noqa: E402
from siteselect.tiles import tile_bounds, to_mercator  # noqa: E402
from siteselect.validation import validate_frame  # noqa: E402
from tests.support.serve import running_service  # noqa: E402

Z = 15


def load(url: str, layers: dict) -> None:
    store = Store(url)
    try:
        for name in ("districts", "buildings"):
            store.write_layer(name, validate_frame(name, layers[name], "synthetic"), source="bench")
    finally:
        store.close()


def tiles_over(district: shapely.Geometry, count: int, seed: int = 3) -> list[tuple[int, int, int]]:
    """Random zoom-15 tiles whose centre lies in the district."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = district.bounds
    out: list[tuple[int, int, int]] = []
    while len(out) < count:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if district.contains(shapely.Point(lon, lat)):
            n = 2**Z
            y = (1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n
            out.append((Z, int((lon + 180) / 360 * n), int(y)))
    return out


def timed(get: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``get(*args, **kwargs)``, the seconds it took, and the CPU seconds this process spent meanwhile."""
    cpu, start = time.process_time(), time.perf_counter()
    answer = get(*args, **kwargs)
    return answer, time.perf_counter() - start, time.process_time() - cpu


def measure(url: str, tiles: list[tuple[int, int, int]]) -> dict[str, list[float]]:
    """In-process (the app under Starlette's test client): each tile drawn, then kept, with the
    CPU time of each, and the bbox GeoJSON of the same area. Then over HTTP (uvicorn in its own
    process, one connection kept alive, as a browser asks): each tile drawn, kept and revalidated."""
    got: dict[str, list[float]] = defaultdict(list)
    paths = [f"/tiles/buildings/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        client.get("/tiles/buildings/0/0/0.mvt")  # the first tile of a layer builds its index
        for (z, x, y), path in zip(tiles, paths):
            r, *drawn = timed(client.get, path)
            kept, *again = timed(client.get, path)
            assert r.status_code in (200, 204) and kept.content == r.content, r.text
            for key, value in zip(("drawn", "drawn CPU", "kept", "kept CPU"), (*drawn, *again)):
                got[key].append(value)
            decoded = mapbox_vector_tile.decode(r.content) if r.content else {}
            got["features"].append(len(decoded.get("buildings", {}).get("features", [])))
            got["mvt kB"].append(len(r.content) / 1000)
            box = to_mercator(np.array([shapely.box(*tile_bounds(z, x, y))], dtype=object), inverse=True)[0]
            bbox = ",".join(f"{v:.7f}" for v in box.bounds)
            r, seconds, _ = timed(client.get, "/basemap/buildings", params={"bbox": bbox})
            assert r.status_code == 200, r.text
            got["geojson"].append(seconds)
            got["json kB"].append(len(r.content) / 1000)
    with running_service(url) as base, httpx.Client(base_url=base) as http:
        http.get("/tiles/buildings/0/0/0.mvt")
        for path in paths:
            r, seconds, _ = timed(http.get, path)
            got["HTTP drawn"].append(seconds)
            got["HTTP kept"].append(timed(http.get, path)[1])
            revalidated, seconds_304, _ = timed(http.get, path, headers={"If-None-Match": r.headers["etag"]})
            assert revalidated.status_code == 304
            got["HTTP 304"].append(seconds_304)
    return got


def report(store: str, got: dict[str, list[float]]) -> None:
    ms = {k: statistics.median(v) * 1000 for k, v in got.items()}
    mvt, json = statistics.median(got["mvt kB"]), statistics.median(got["json kB"])
    print(
        f"{store:8} in-process: drawn {ms['drawn']:6.1f} ms (target 50; CPU {ms['drawn CPU']:5.1f} ms)  "
        f"kept {ms['kept']:5.2f} ms (target 5; CPU {ms['kept CPU']:4.2f} ms)  "
        f"| bbox GeoJSON (baseline) {ms['geojson']:6.1f} ms\n"
        f"{'':8} over HTTP:  drawn {ms['HTTP drawn']:6.1f} ms  kept {ms['HTTP kept']:5.2f} ms  "
        f"304 {ms['HTTP 304']:5.2f} ms  | {statistics.median(got['features']):.0f} buildings a tile, "
        f"{mvt:.1f} kB as MVT, {json:.1f} kB as GeoJSON"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--tiles", type=int, default=20)
    args = parser.parse_args()
    layers = scaled_layers(buildings=args.buildings)
    district = layers["districts"][layers["districts"]["level"] == "district"].geometry.iloc[0]
    tiles = tiles_over(district, args.tiles)
    print(f"{args.buildings:,} buildings; {args.tiles} random zoom-{Z} tiles; medians")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sqlite = f"sqlite:///{folder / 'bench.db'}"
        load(sqlite, layers)
        report("SQLite", measure(sqlite, tiles))
        url = os.environ.get("SITESELECT_BENCH_POSTGIS_URL")
        if url is None:
            from tests.support.postgis import fresh_database, postgis_server

            server = stack.enter_context(postgis_server(durable=True))
            url = stack.enter_context(fresh_database(server, "bench"))
        load(url, layers)
        report("PostGIS", measure(url, tiles))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
