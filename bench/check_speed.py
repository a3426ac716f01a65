"""Benchmark: premises checks per second, the library against a hand-written PostGIS baseline.

    python bench/check_speed.py [--single 2000] [--batch 20000] [--baseline 2000]

Data: the Laoshan demo scaled to 20,000 buildings and 100,000 POIs, loaded into a throwaway PostGIS
(GiST-indexed, analysed). Candidates: random points over the district with a rotating mix of
industries. The library checks on its in-process index; the baseline runs one prepared SQL
statement per candidate over one connection (pipelined for the batch), in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scaled demo and the PostGIS helpers live beside this file

from bench.scaled_demo import scaled_layers  # noqa: E402
from siteselect.check import Premises  # noqa: E402
from siteselect.demo import LOAD_ORDER  # noqa: E402
from siteselect.index import Catalog  # noqa: E402
from siteselect.load import load_frame  # noqa: E402
from siteselect.store import Store  # noqa: E402
from tests.support.postgis import fresh_database, postgis_server  # noqa: E402
from tests.support.postgis_baseline import PostgisBaseline  # noqa: E402

CODES = ["9013", "6210", "6232", "5227", "8040", "6513", "9011", "5265", "6110", "8222"]
DAY = dt.date(2026, 11, 1)


def candidates(district: shapely.Geometry, n: int, seed: int = 11) -> list[tuple[float, float, str]]:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = district.bounds
    out: list[tuple[float, float, str]] = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(district, x, y)
        out += [(a, b, CODES[(len(out) + i) % len(CODES)]) for i, (a, b) in enumerate(zip(x[keep], y[keep]))]
    return out[:n]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} checks/s  ({seconds / n * 1e6:8.1f} µs each, {n:,} checks)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=int, default=2000)
    args = parser.parse_args()
    with ExitStack() as stack:
        server = stack.enter_context(postgis_server(durable=True))
        url = stack.enter_context(fresh_database(server, "checks"))
        store = Store(url)
        layers = scaled_layers()
        for layer in LOAD_ORDER:
            frame = layers.get(layer)
            if frame is None:
                from siteselect.load import load_file
                from siteselect.specs import layers_dir

                load_file(store, layer, layers_dir() / "rules.yaml")
            else:
                load_frame(store, layer, frame, source=f"scaled {layer}")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"data: {len(layers['buildings']):,} buildings, {len(layers['pois']):,} POIs, "
              f"{len(layers['zones'])} zones, {len(layers['prohibited_addresses'])} prohibited addresses")  # fmt: skip
        snapshot = Catalog(store).current()
        checker = snapshot.checker
        districts = layers["districts"]
        district = districts[districts["level"] == "district"].geometry.iloc[0]
        cases = candidates(district, max(args.single, args.batch, args.baseline))
        premises = [Premises.parse(industry=c, lon=x, lat=y, as_of=DAY, floor=2) for x, y, c in cases]
        checker.check_many(premises[:200])  # warm the cell maps of every rule

        start = time.perf_counter()
        for p in premises[: args.single]:
            checker.check(p)
        lib_single = time.perf_counter() - start
        start = time.perf_counter()
        checker.check_many(premises[: args.batch])
        lib_batch = time.perf_counter() - start

        u = make_url(url)
        baseline = PostgisBaseline(
            f"host={server.unixsocketdir} port={u.port} user={u.username} dbname={u.database}",
            snapshot.versions,
        )
        try:
            for x, y, c in cases[:50]:
                baseline.check(x, y, c, DAY.isoformat(), 2)  # prepare the statement
            start = time.perf_counter()
            for x, y, c in cases[: args.baseline]:
                baseline.check(x, y, c, DAY.isoformat(), 2)
            base_single = time.perf_counter() - start
            start = time.perf_counter()
            baseline.check_pipelined(cases[: args.baseline], DAY.isoformat(), 2)
            base_batch = time.perf_counter() - start
        finally:
            baseline.close()

        per = {k: t / n for k, t, n in (("ls", lib_single, args.single), ("lb", lib_batch, args.batch),
                                          ("bs", base_single, args.baseline), ("bb", base_batch, args.baseline))}  # fmt: skip
        print(f"library, single checks   {rate(args.single, lib_single)}")
        print(f"library, batch checks    {rate(args.batch, lib_batch)}")
        print(f"PostGIS baseline, single {rate(args.baseline, base_single)}")
        print(f"PostGIS baseline, batch  {rate(args.baseline, base_batch)}  (pipelined)")
        print(f"speed-up single: {per['bs'] / per['ls']:.1f}x (target 20x); "
              f"batch: {per['bb'] / per['lb']:.1f}x (target 100x)")  # fmt: skip


if __name__ == "__main__":
    main()
