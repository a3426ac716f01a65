"""Benchmark: premises checks per second, the library against a hand-written PostGIS baseline.

    python bench/check_speed.py [--single 10000] [--batch 20000] [--baseline 2000] [--rounds 7]
                                [--against GIT-REF]

Data: the Laoshan demo scaled to 20,000 buildings and 100,000 POIs, loaded into a throwaway PostGIS
with its default durability settings (GiST-indexed, analysed). Candidates: random points over the
district with a rotating mix of industries. The library checks on its in-process index, single
checks and batches both with full results (every message, the evidence, the address proof) and in
brief (verdict and reason ids, what the baseline returns and ``siteselect batch`` writes); the
baseline runs one prepared SQL statement per candidate over one connection on the local socket
(pipelined for the batch). Both run in the same process, in alternating rounds; medians are
printed, with the speed-ups within each round beside them.

``--against GIT-REF`` times an older checkout beside this one: the commit is exported to a
temporary folder and its library runs the same rounds in a process of its own (this venv's Python,
``bench/check_workload.py``), on the scaled demo as that checkout generates it (its own rules and
zones) in a second database of the same server, checking the same candidates. Each round then times
this checkout, the older one and the baseline in turn; every figure is printed for both, with the
ratio. ``--against 2d5bc45^`` is the code before the judgement moved into its steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ and tests/support helpers

from bench.check_workload import DAY, FLOOR, STEPS, Case, Workload, freeze_what_was_loaded, timed
from bench.scaled_demo import describe, load_scaled, random_candidates
from siteselect.index import Catalog
from siteselect.store import Store
from tests.support.postgis import fresh_database, postgis_server
from tests.support.postgis_baseline import PostgisBaseline

ROOT = Path(__file__).resolve().parents[1]
KINDS = {  # a round's timings: label, and what the figure holds
    "single": ("single checks", ""),
    "single brief": ("single verdicts", "  verdict and reason ids"),
    "batch": ("batch checks", ""),
    "brief": ("batch verdicts", "  verdict and reason ids"),
    **{f"step: {step}": (f"batch step: {step}", "") for step in [*STEPS, "results"]},
}
SLOWER_AT_MOST = 1.10  # no figure more than 10% slower than the older checkout's


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


def against(label: str, before: dict[str, list[float]], now: dict[str, list[float]], kind: str) -> str:
    """One figure of both checkouts, on the wall clock and of the CPU: medians, and now/before
    (below 1: faster now). The verdict goes by the CPU, which the machine's other jobs inflate
    far less than the wall clock (they take turns with both processes unevenly)."""
    cells, mid = [], 1.0
    for series in (kind, f"{kind}, CPU"):
        b, n = before[series], now[series]
        each = [x / y for x, y in zip(n, b)]
        mid = statistics.median(n) / statistics.median(b)
        cells.append(
            f"{statistics.median(b) * 1e6:7.1f} {statistics.median(n) * 1e6:7.1f} µs {mid:5.2f}"
            f" ({min(each):.2f}–{max(each):.2f})"
        )
    verdict = "ok" if mid <= SLOWER_AT_MOST else f"SLOWER by more than {SLOWER_AT_MOST - 1:.0%}"
    return f"{label:28} {cells[0]}   {cells[1]}  {verdict}"


class Before:
    """An older checkout running the same rounds in a process of its own (``check_workload.serve``)."""

    def __init__(self, ref: str, folder: Path, url: str, cases: list[Case], single: int, batch: int):
        commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
        self.name = _git("log", "-1", "--format=%h %s", commit).strip()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        # Its own library and bench/ first, then this workload module (imported by name, not from bench/).
        start = (
            f"import sys; sys.path[:0] = [{str(folder)!r}, {str(ROOT / 'bench')!r}]; "
            "import check_workload; check_workload.serve()"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", start],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._send({"url": url, "cases": cases, "single": single, "batch": batch})
        ready = self._receive()
        self.library, self.data, self.verdicts = ready["library"], ready["data"], ready["verdicts"]

    def round(self) -> dict[str, float]:
        self._send({})
        return self._receive()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def _receive(self) -> Any:
        assert self.process.stdout is not None
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit(
                f"the older checkout stopped (status {self.process.wait()}); its output is above"
            )
        return json.loads(answer)


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes: how shared it was while timing."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--single", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", metavar="GIT-REF", help="time this older commit beside this checkout")
    args = parser.parse_args()
    freeze_what_was_loaded()  # in both checkouts' processes
    with ExitStack() as stack:
        server = stack.enter_context(postgis_server(durable=True))
        url = stack.enter_context(fresh_database(server, "checks"))
        store = Store(url)
        layers = load_scaled(store)
        print(f"data: {describe(layers)}")
        snapshot = Catalog(store).current()
        cases = random_candidates(layers, max(args.single, args.batch, args.baseline))
        now = Workload(snapshot, cases, args.single, args.batch)
        before = None
        if args.against:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="siteselect-before-")))
            older = stack.enter_context(fresh_database(server, "checks_before"))
            before = stack.enter_context(
                closing(Before(args.against, folder, older, cases, args.single, args.batch))
            )
            same = sum(a == b for a, b in zip(before.verdicts, now.verdicts()))
            print(f"before: {before.name}\n  library {before.library}\n  data: {before.data}")
            print(f"  the same verdict in both for {same:,} of {len(cases):,} candidates")

        u = make_url(url)
        conninfo = f"host={server.unixsocketdir} port={u.port} user={u.username} dbname={u.database}"
        baseline = stack.enter_context(closing(PostgisBaseline(conninfo, snapshot.versions)))
        day, todo = DAY.isoformat(), cases[: args.baseline]
        for x, y, c in cases[:50]:
            baseline.check(x, y, c, day, FLOOR)  # prepare the statement

        print(f"load average as the rounds start: {load_average()}")
        # Each round times this checkout, the older one and the baseline in turn, so that a slow
        # spell of the machine falls on all of them rather than on whichever ran then.
        runs: dict[str, list[float]] = defaultdict(list)
        old: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for kind, seconds in now.round().items():
                runs[kind].append(seconds)
            for kind, seconds in (before.round() if before else {}).items():
                old[kind].append(seconds)
            runs["base single"].append(
                timed(lambda: [baseline.check(x, y, c, day, FLOOR) for x, y, c in todo], len(todo))
            )
            runs["base batch"].append(timed(lambda: baseline.check_pipelined(todo, day, FLOOR), len(todo)))

        for kind, (label, note) in KINDS.items():
            print(
                line(f"library, {label}", runs[kind], args.single if "single" in kind else args.batch, note)
            )
        print(line("PostGIS baseline, single", runs["base single"], len(todo)))
        print(line("PostGIS baseline, pipelined", runs["base batch"], len(todo)))
        speedups = [
            ("single (full results)", "base single", "single", 20),
            ("single (as the baseline)", "base single", "single brief", 20),
            ("batch (full results)", "base batch", "batch", 100),
            ("batch (as the baseline)", "base batch", "brief", 100),
        ]
        for label, base, kind, target in speedups:
            print(ratio(f"speed-up, {label}", runs[base], runs[kind], target))
        print(f"load average as the rounds end: {load_average()}")
        if before:
            for label, base, kind, target in speedups:
                print(ratio(f"before: speed-up, {label}", runs[base], old[kind], target))
            print(f"{'':28} {'wall clock: before, now, now/before (rounds)':45}  CPU: the same")
            for kind, (label, _) in KINDS.items():
                print(against(label, old, runs, kind))


if __name__ == "__main__":
    main()
