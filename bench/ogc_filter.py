"""Benchmark: OGC API items over 100,000 POIs, filtered (CQL2) beside unfiltered, SQLite and PostGIS.

    python bench/ogc_filter.py [--count 100000] [--repeat 15]

Each request goes through the service in-process for a page of at most 100 features with its
``numberMatched``; the median of ``--repeat`` runs is printed with the features matched. The
unfiltered request is the baseline, measured in the same run: it is paged from the layer the
worker holds in memory, where a filter is one SQL query to the store. The PostGIS server is a
throwaway one from Debian's packages with PostgreSQL's default durability settings; set
SITESELECT_BENCH_POSTGIS_URL to use another.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.load_pois, and the throwaway-server helper of the tests

from api.app import create_app  # noqa: E402
from bench.load_pois import synthetic_pois  # noqa: E402
from siteselect.settings import Settings  # noqa: E402
from siteselect.store import Store  # noqa: E402
from siteselect.validation import validate_frame  # noqa: E402

BOX = "POLYGON((120.50 36.15, 120.52 36.15, 120.52 36.17, 120.50 36.17, 120.50 36.15))"
REQUESTS = {
    "unfiltered (baseline)": {},
    "property: category=dining": {"category": "dining"},
    "CQL2: industry = '6210' AND name LIKE '商户1%'": {"filter": "industry = '6210' AND name LIKE '商户1%'"},
    "CQL2: S_INTERSECTS(geometry, 2 km box)": {"filter": f"S_INTERSECTS(geometry, {BOX})"},
    "CQL2: S_DWITHIN(geometry, point, 300 m)": {
        "filter": "S_DWITHIN(geometry, POINT(120.55 36.18), 300, meters)"
    },
    "CQL2: S_DWITHIN 300 m AND category = 'retail'": {
        "filter": "S_DWITHIN(geometry, POINT(120.55 36.18), 300, meters) AND category = 'retail'"
    },
}


def load(url: str, count: int) -> None:
    store = Store(url)
    try:
        store.write_layer("pois", validate_frame("pois", synthetic_pois(count), "synthetic"), source="bench")
    finally:
        store.close()


def measure(url: str, repeat: int) -> dict[str, tuple[float, int]]:
    out = {}
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        for name, params in REQUESTS.items():
            times, matched = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                r = client.get("/ogc/collections/pois/items", params={"limit": 100, **params})
                times.append(time.perf_counter() - start)
                assert r.status_code == 200, r.text
                matched = r.json()["numberMatched"]
            out[name] = (statistics.median(times), matched)
    return out


def report(store: str, results: dict[str, tuple[float, int]]) -> None:
    baseline = results["unfiltered (baseline)"][0]
    for name, (seconds, matched) in results.items():
        ratio = seconds / baseline
        print(f"{store:8} {name:48} {seconds * 1000:8.1f} ms  {matched:>8,} matched  {ratio:5.2f}× baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"{args.count:,} POIs; a page of at most 100 features and numberMatched; median of {args.repeat}")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sqlite = f"sqlite:///{folder / 'bench.db'}"
        load(sqlite, args.count)
        report("SQLite", measure(sqlite, args.repeat))
        url = os.environ.get("SITESELECT_BENCH_POSTGIS_URL")
        if url is None:
            from tests.support.postgis import fresh_database, postgis_server

            server = stack.enter_context(postgis_server(durable=True))
            url = stack.enter_context(fresh_database(server, "bench"))
        load(url, args.count)
        report("PostGIS", measure(url, args.repeat))


if __name__ == "__main__":
    main()
