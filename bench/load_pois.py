"""Benchmark: load POIs (validated, with their H3 cells) into SQLite and into PostGIS.

    python bench/load_pois.py [--count 1000000]

Prints features per second for each store, with the time split between checking the rows
(validation and typing) and writing them (H3 cells, the version row, features and cells). The
PostGIS server is a throwaway one from Debian's packages with PostgreSQL's default durability
settings, reached over TCP on loopback; set SITESELECT_BENCH_POSTGIS_URL to use another.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from siteselect.store import Store
from siteselect.validation import validate_frame

ROOT = Path(__file__).resolve().parents[1]

CODES = ["6210", "6220", "6232", "5212", "5232", "8040", "6513", "7231", "9013", "5227"]
CATEGORY = {"62": "dining", "52": "retail"}


def synthetic_pois(count: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = rng.choice(CODES, count)
    frame = pd.DataFrame(
        {
            "id": [f"poi-{i:07d}" for i in range(count)],
            "name": [f"商户{i}" for i in range(count)],
            "category": [CATEGORY.get(c[:2], "business") for c in codes],
            "industry": codes,
        }
    )
    frame["geometry"] = shapely.points(rng.uniform(120.41, 120.70, count), rng.uniform(36.06, 36.30, count))
    return frame


def measure(url: str, frame: pd.DataFrame) -> tuple[float, float]:
    store = Store(url)
    try:
        start = time.perf_counter()
        gdf = validate_frame("pois", frame, "synthetic")
        checked = time.perf_counter()
        version = store.write_layer("pois", gdf, source="synthetic", loaded_by="bench")
        written = time.perf_counter()
        assert version.feature_count == len(frame)
        assert store.counts()["features"] == len(frame)
    finally:
        store.close()
    return checked - start, written - checked


def report(name: str, count: int, check_s: float, write_s: float) -> None:
    total = check_s + write_s
    print(
        f"{name:8} {count:>10,} features  check {check_s:6.2f} s  write {write_s:6.2f} s  "
        f"total {total:6.2f} s  {count / total:>9,.0f} features/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = synthetic_pois(args.count)
    print(f"loading {args.count:,} POIs with H3 cells (res 9); target: 50,000 features/s into each store")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        report("SQLite", args.count, *measure(f"sqlite:///{folder / 'bench.db'}", frame))
        url = os.environ.get("SITESELECT_BENCH_POSTGIS_URL")
        if url is None:
            sys.path.insert(0, str(ROOT))  # the throwaway-server helper lives with the tests
            from tests.support.postgis import fresh_database, postgis_server

            server = stack.enter_context(postgis_server(durable=True))
            url = stack.enter_context(fresh_database(server, "bench"))
        report("PostGIS", args.count, *measure(url, frame))


if __name__ == "__main__":
    main()
