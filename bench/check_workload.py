"""The check benchmark's workload: what one round times. ``bench/check_speed.py`` runs it on this
checkout's library and, with ``--against``, on an older checkout's in a process of its own
(``serve``), so that both versions are timed side by side on the same machine at the same time.

Only this module calls the library's checker, and it adapts to the older interface (before the
judgement moved into its steps, the checker was ``snapshot.checker`` and ``Premises`` lived in
``siteselect.check``): the library itself is never changed for the benchmark's sake.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

DAY = dt.date(2026, 11, 1)
FLOOR = 2
WARM = 500  # checks run before timing: they build the cell maps of every rule once

Case = tuple[float, float, str]  # lon, lat, industry

# The steps of a batch check, each timed where the checker calls it: the methods that do it in this
# checkout and in the older one (where the checker did all of them itself). The results are what
# is left of a batch once it is judged.
STEPS = {
    "locating": ("locator.locate", "_locate", "_find_buildings"),
    "zone rules": ("_zone_rules",),
    "building rules": ("_share",),
    "prohibited list": ("listed.findings", "_apply_prohibited"),
}
JUDGING = "_judge"


def _library() -> tuple[Callable[[Any], Any], Any]:
    """The checker of a snapshot and the premises class, of whichever checkout is imported."""
    try:
        from siteselect.check import checker_for
        from siteselect.premises import Premises
    except ImportError:  # an older checkout

        def checker_for(snapshot: Any) -> Any:
            return snapshot.checker

        from siteselect.check import Premises  # type: ignore[attr-defined,no-redef]
    return checker_for, Premises


def freeze_what_was_loaded() -> None:
    """As the service does when it starts: what the process has loaded so far (modules, the
    libraries' tables) out of the cyclic collector's sight, before any layer is read. Otherwise a
    full collection scans several hundred thousand objects no check made, and whichever round's
    batch it lands in decides that round's figure."""
    gc.collect()
    gc.freeze()


def timed(run: Callable[[], object], n: int) -> float:
    """Seconds per check."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / n


def _both(run: Callable[[], object], n: int) -> tuple[float, float]:
    """Seconds per check on the wall clock, and of this process's CPU: the time other processes on
    a shared machine take from it inflates the first, not the second."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


class Workload:
    """Single checks and one batch on a snapshot, each with full results (every message, the
    evidence, the address proof) and in brief (verdict and reason ids, what the PostGIS baseline
    returns and ``siteselect batch`` writes)."""

    def __init__(self, snapshot: Any, cases: list[Case], single: int, batch: int):
        checker_for, premises = _library()
        self.checker = checker_for(snapshot)
        self.premises = [
            premises.parse(industry=c, lon=x, lat=y, as_of=DAY, floor=FLOOR) for x, y, c in cases
        ]
        self.single, self.batch = self.premises[:single], self.premises[:batch]
        self.checker.check_many(self.premises[:WARM])

    def verdicts(self) -> list[str]:
        """The verdict of every case (to compare two checkouts' answers)."""
        return [v.verdict for v in self.checker.verdicts(self.premises)]

    def round(self) -> dict[str, float]:
        """Seconds per check of each kind, timed one after the other; ``<kind>, CPU``: of the CPU."""
        checker, single, batch = self.checker, self.single, self.batch
        runs: dict[str, tuple[Callable[[], object], int]] = {
            "single": (lambda: [checker.check(p) for p in single], len(single)),
            "single brief": (lambda: [checker.verdicts([p]) for p in single], len(single)),
            "batch": (lambda: checker.check_many(batch), len(batch)),
            "brief": (lambda: checker.verdicts(batch), len(batch)),
        }
        out = {}
        for kind, (run, n) in runs.items():
            out[kind], out[f"{kind}, CPU"] = _both(run, n)
        return out | self.steps()

    def steps(self) -> dict[str, float]:
        """Seconds per check in each step of a batch with full results (and of the CPU)."""
        spent: dict[tuple[str, int], float] = defaultdict(float)
        n = len(self.batch)
        with _timing(self.checker, spent):
            whole = _both(lambda: self.checker.check_many(self.batch), n)
        out = {}
        for clock, (suffix, total) in enumerate([("", whole[0]), (", CPU", whole[1])]):
            out |= {f"step: {step}{suffix}": spent[step, clock] / n for step in STEPS}
            out[f"step: results{suffix}"] = total - spent[JUDGING, clock] / n
        return out


@contextmanager
def _timing(checker: Any, spent: dict[tuple[str, int], float]) -> Iterator[None]:
    """Add the time each step's methods take to ``spent`` while the block runs, by (step, clock):
    0 the wall clock, 1 the CPU (the checker's methods are wrapped on the instance, and unwrapped
    after)."""
    wrapped = []
    for step, paths in [*STEPS.items(), (JUDGING, (JUDGING,))]:
        for path in paths:
            *owners, name = path.split(".")
            owner = checker
            for attr in owners:
                owner = getattr(owner, attr, None)
            if owner is not None and hasattr(owner, name):
                setattr(owner, name, _timer(getattr(owner, name), step, spent))
                wrapped.append((owner, name))
    try:
        yield
    finally:
        for owner, name in wrapped:
            delattr(owner, name)


def _timer(method: Callable[..., Any], step: str, spent: dict[tuple[str, int], float]) -> Callable[..., Any]:
    def timed_method(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[step, 0] += time.perf_counter() - wall
            spent[step, 1] += time.process_time() - cpu

    return timed_method


def serve() -> None:
    """Serve an older checkout's rounds: read the set-up (database URL, cases, sizes) as one JSON
    line, load the scaled demo as that checkout generates it, answer with its verdicts, then answer
    each further line with a round's timings. Answers are JSON lines on stdout; anything the
    library prints goes to stderr."""
    answers, sys.stdout = sys.stdout, sys.stderr
    setup = json.loads(sys.stdin.readline())

    import siteselect
    from bench.scaled_demo import describe, load_scaled
    from siteselect.index import Catalog
    from siteselect.store import Store

    freeze_what_was_loaded()
    store = Store(setup["url"])
    layers = load_scaled(store)
    cases = [(float(x), float(y), str(c)) for x, y, c in setup["cases"]]
    work = Workload(Catalog(store).current(), cases, setup["single"], setup["batch"])
    _answer(answers, {"library": siteselect.__file__, "data": describe(layers), "verdicts": work.verdicts()})
    for _ in sys.stdin:
        _answer(answers, work.round())


def _answer(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()
