"""Memory that replaced snapshots freed, given back to the system.

Every listing written makes a new snapshot, and the one it replaces is freed once the last request
reading it ends and the cyclic collector has been round (a snapshot and its checker point to each
other). glibc's allocator keeps what was freed for reuse rather than returning it, in the heap
("arena") of the thread that had it, one per request thread up to eight per core, and a new
snapshot seldom fits the holes of the old one. So a worker taking writes grew by some 6 MiB a
minute while what it held grew by 3.5-5 kB a listing. ``malloc_trim`` hands the free pages of every
arena back: a thread of each worker calls it when a snapshot was made or a full collection freed
something since the last time, at most every ``EVERY_S``: a trim took 1-77 ms (median 16) at
load average 14, without the GIL but holding each arena's lock in turn, so a thread that must
allocate from it meanwhile waits. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from siteselect.index import Catalog

EVERY_S = 10.0
log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


MALLOC_TRIM = _malloc_trim()


class GiveBack:
    """A daemon thread that trims the heaps after snapshots were replaced."""

    def __init__(self, catalog: Catalog, every_s: float | None = None) -> None:
        self.catalog = catalog
        self.every_s = EVERY_S if every_s is None else every_s
        self.trims = 0
        self.last_trim = -float("inf")  # time.monotonic() when the last finished trim started
        self._built_at = catalog.built_at  # the snapshot the last trim saw
        self._collected = True  # a full collection freed something: start-up's garbage, at first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="give-back-memory", daemon=True)

    def start(self) -> GiveBack:
        if MALLOC_TRIM is not None:
            gc.callbacks.append(self._after_collection)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2 and info["collected"]:
            self._collected = True

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            built_at = self.catalog.built_at
            if self._collected or built_at != self._built_at:
                self._collected, self._built_at = False, built_at
                self.trim()

    def trim(self) -> None:
        if MALLOC_TRIM is None:
            return
        started = time.monotonic()
        MALLOC_TRIM(0)
        self.last_trim = started
        self.trims += 1
        log.debug("heaps trimmed in %.1f ms", (time.monotonic() - started) * 1000)
