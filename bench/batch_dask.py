"""Benchmark: batch checking and scoring, one process against a two-worker Dask LocalCluster.

    python bench/batch_dask.py [--counts 1000000 5000000]

Data: the Laoshan demo in an embedded SQLite store; candidates: random points over the district
with a rotating mix of industries. Prints candidates per second for each way, in the same run, and
the largest memory a worker reached.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaled_demo import CANDIDATE_CODES
from siteselect.batch import assess
from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.store import Store


def candidates(snapshot, n: int, seed: int = 5) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    districts = snapshot.layer("districts").features
    shape = districts[districts["level"] == "district"].geometry.iloc[0]
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shape.bounds
    xs, ys = [], []
    while sum(map(len, xs)) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(shape, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
    lon, lat = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    codes = np.array(CANDIDATE_CODES)[np.arange(n) % len(CANDIDATE_CODES)]
    return pd.DataFrame(
        {"ref": np.arange(n).astype(str), "lon": lon, "lat": lat, "industry": codes, "floor": 2}
    )


def worker_peak_mb(client) -> list[float]:  # type: ignore[no-untyped-def]
    def peak() -> float:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return sorted(client.run(peak).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1_000_000, 5_000_000])
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'demo.db'}")
        files = write_demo(Path(folder) / "demo")
        for layer in LOAD_ORDER:
            load_file(store, layer, files[layer])
        snapshot = Catalog(store).current()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit="8GiB")  # fmt: skip
        with cluster, Client(cluster) as client:
            for n in args.counts:
                table = candidates(snapshot, n)
                start = time.perf_counter()
                single = assess(snapshot, table)
                one = time.perf_counter() - start
                start = time.perf_counter()
                spread = assess_distributed(snapshot, table, client)
                two = time.perf_counter() - start
                same = single.equals(spread)
                print(f"{n:>10,} candidates: one process {n / one:>8,.0f}/s ({one:6.1f} s), "
                      f"2-worker LocalCluster {n / two:>8,.0f}/s ({two:6.1f} s), equal: {same}")  # fmt: skip
                del single, spread
            print(f"worker peak memory: {', '.join(f'{m:,.0f} MB' for m in worker_peak_mb(client))}")


if __name__ == "__main__":
    main()
