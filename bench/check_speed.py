"""Benchmark: premises checks per second, the library against a hand-written PostGIS baseline.

    python bench/check_speed.py [--single 10000] [--batch 20000] [--baseline 2000] [--rounds 7]

Data: the Laoshan demo scaled to 20,000 buildings and 100,000 POIs, loaded into a throwaway PostGIS
with its default durability settings (GiST-indexed, analysed). Candidates: random points over the
district with a rotating mix of industries. The library checks on its in-process index, single
checks and batches both with full results (every message, the evidence, the address proof) and in
brief (verdict and reason ids, what the baseline returns and ``siteselect batch`` writes); the
baseline runs one prepared SQL statement per candidate over one connection on the local socket
(pipelined for the batch). Both run in the same process, in alternating rounds; medians are
printed, with the speed-ups within each round beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from bench.scaled_demo import describe, load_scaled, random_candidates
from siteselect.check import checker_for
from siteselect.index import Catalog
from siteselect.premises import Premises
from siteselect.store import Store
from tests.support.postgis import fresh_database, postgis_server
from tests.support.postgis_baseline import PostgisBaseline

DAY = dt.date(2026, 11, 1)
FLOOR = 2


def timed(run: Callable[[], object], n: int) -> float:
    """Seconds per check."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / n


def line(label: str, seconds: list[float], n: int, note: str = "") -> str:
    mid = statistics.median(seconds)
    spread = f"{min(seconds) * 1e6:,.1f}–{max(seconds) * 1e6:,.1f}"
    return (
        f"{label:28} {1 / mid:>9,.0f} checks/s  {mid * 1e6:8.1f} µs each"
        f"  (median of {len(seconds)} rounds of {n:,}; {spread} µs){note}"
    )


def ratio(label: str, base: list[float], ours: list[float], target: int) -> str:
    """Speed-up of medians, and the range of speed-ups within a round (measured side by side)."""
    each = [b / o for b, o in zip(base, ours)]
    return (
        f"{label:34} {statistics.median(base) / statistics.median(ours):6.1f}x"
        f"  (rounds {min(each):.1f}–{max(each):.1f}x; target {target}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--single", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with ExitStack() as stack:
        server = stack.enter_context(postgis_server(durable=True))
        url = stack.enter_context(fresh_database(server, "checks"))
        store = Store(url)
        layers = load_scaled(store)
        print(f"data: {describe(layers)}")
        snapshot = Catalog(store).current()
        checker = checker_for(snapshot)
        cases = random_candidates(layers, max(args.single, args.batch, args.baseline))
        premises = [Premises.parse(industry=c, lon=x, lat=y, as_of=DAY, floor=FLOOR) for x, y, c in cases]
        checker.check_many(premises[:500])  # build the cell maps of every rule once

        u = make_url(url)
        conninfo = f"host={server.unixsocketdir} port={u.port} user={u.username} dbname={u.database}"
        baseline = stack.enter_context(closing(PostgisBaseline(conninfo, snapshot.versions)))
        day, todo = DAY.isoformat(), cases[: args.baseline]
        for x, y, c in cases[:50]:
            baseline.check(x, y, c, day, FLOOR)  # prepare the statement

        # Rounds alternate the library and the baseline, so that a slow spell of the machine
        # falls on both rather than on whichever ran then.
        runs: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            runs["single"].append(
                timed(lambda: [checker.check(p) for p in premises[: args.single]], args.single)
            )
            runs["single brief"].append(
                timed(lambda: [checker.verdicts([p]) for p in premises[: args.single]], args.single)
            )
            runs["base single"].append(
                timed(lambda: [baseline.check(x, y, c, day, FLOOR) for x, y, c in todo], len(todo))
            )
            runs["batch"].append(timed(lambda: checker.check_many(premises[: args.batch]), args.batch))
            runs["brief"].append(timed(lambda: checker.verdicts(premises[: args.batch]), args.batch))
            runs["base batch"].append(timed(lambda: baseline.check_pipelined(todo, day, FLOOR), len(todo)))

        print(line("library, single checks", runs["single"], args.single))
        print(line("library, single verdicts", runs["single brief"], args.single, "  verdict and reason ids"))
        print(line("library, batch checks", runs["batch"], args.batch))
        print(line("library, batch verdicts", runs["brief"], args.batch, "  verdict and reason ids"))
        print(line("PostGIS baseline, single", runs["base single"], len(todo)))
        print(line("PostGIS baseline, pipelined", runs["base batch"], len(todo)))
        print(ratio("speed-up, single (full results)", runs["base single"], runs["single"], 20))
        print(ratio("speed-up, single (as the baseline)", runs["base single"], runs["single brief"], 20))
        print(ratio("speed-up, batch (full results)", runs["base batch"], runs["batch"], 100))
        print(ratio("speed-up, batch (as the baseline)", runs["base batch"], runs["brief"], 100))


if __name__ == "__main__":
    main()
