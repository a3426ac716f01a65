"""Benchmark: premises checks per second, the library against a hand-written PostGIS baseline.

    python bench/check_speed.py [--single 2000] [--batch 20000] [--baseline 2000]

Data: the Laoshan demo scaled to 20,000 buildings and 100,000 POIs, loaded into a throwaway PostGIS
with its default durability settings (GiST-indexed, analysed). Candidates: random points over the
district with a rotating mix of industries. The library checks on its in-process index, for
batches both with full results (every message, the evidence, the address proof) and in brief
(verdict and reason ids, what the baseline returns and ``siteselect batch`` writes); the
baseline runs one prepared SQL statement per candidate over one connection on the local socket
(pipelined for the batch). Both run in the same process, one after the other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from bench.scaled_demo import describe, load_scaled, random_candidates
from siteselect.check import Premises
from siteselect.index import Catalog
from siteselect.store import Store
from tests.support.postgis import fresh_database, postgis_server
from tests.support.postgis_baseline import PostgisBaseline

DAY = dt.date(2026, 11, 1)
FLOOR = 2


def timed(run, n: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds per check."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / n


def line(label: str, seconds: float, n: int) -> str:
    return f"{label:26} {1 / seconds:>10,.0f} checks/s  {seconds * 1e6:9.1f} µs each  ({n:,} checks)"


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
        layers = load_scaled(store)
        print(f"data: {describe(layers)}")
        snapshot = Catalog(store).current()
        checker = snapshot.checker
        cases = random_candidates(layers, max(args.single, args.batch, args.baseline))
        premises = [Premises.parse(industry=c, lon=x, lat=y, as_of=DAY, floor=FLOOR) for x, y, c in cases]
        checker.check_many(premises[:500])  # build the cell maps of every rule once

        single = timed(lambda: [checker.check(p) for p in premises[: args.single]], args.single)
        batch = timed(lambda: checker.check_many(premises[: args.batch]), args.batch)
        brief = timed(lambda: checker.verdicts(premises[: args.batch]), args.batch)

        u = make_url(url)
        conninfo = f"host={server.unixsocketdir} port={u.port} user={u.username} dbname={u.database}"
        baseline = PostgisBaseline(conninfo, snapshot.versions)
        day, todo = DAY.isoformat(), cases[: args.baseline]
        try:
            for x, y, c in cases[:50]:
                baseline.check(x, y, c, day, FLOOR)  # prepare the statement
            base_single = timed(lambda: [baseline.check(x, y, c, day, FLOOR) for x, y, c in todo], len(todo))
            base_batch = timed(lambda: baseline.check_pipelined(todo, day, FLOOR), len(todo))
        finally:
            baseline.close()

        print(line("library, single checks", single, args.single))
        print(line("library, batch checks", batch, args.batch))
        print(line("library, batch verdicts", brief, args.batch) + "  (verdict and reason ids)")
        print(line("PostGIS baseline, single", base_single, len(todo)))
        print(line("PostGIS baseline, pipelined", base_batch, len(todo)))
        print(f"speed-up: single {base_single / single:.1f}x (target 20x), "
              f"batch {base_batch / batch:.1f}x with full results, {base_batch / brief:.1f}x with verdicts "
              f"and reason ids as the baseline returns (target 100x)")  # fmt: skip


if __name__ == "__main__":
    main()
