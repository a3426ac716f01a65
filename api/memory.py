"""A worker's heaps: few of them, and what replaced snapshots freed given back to the system.

Every listing written makes a new snapshot, and the one it replaces is freed once the last request
reading it ends and the cyclic collector has been round (a snapshot and its checker point to each
other). glibc's allocator gives a thread a heap ("arena") of its own while there are fewer than
eight per core: requests run on up to 40 threads, so a worker had 16 heaps here, and each snapshot
was built in whichever heap its writer's thread had. A heap keeps what was freed in it for reuse
in that heap only, so together they held ever more free memory: driven through the app's threads
(2,000 writes after warm-up, 815 listings added), a worker's heaps took 39 MiB more from the
system, 33 of them free, while what was in use grew by 6; its resident memory grew by 22 MiB. With
two heaps: 13 MiB more (4 free), 11 resident, and 30 MiB less throughout. So a worker allocates
from at most ``HEAPS`` heaps (``mallopt``, set as the service's package is imported, before the
libraries it loads start threads of their own: set when the app was made, a uvicorn worker
already had five): its Python threads take turns at the GIL, so they seldom wait for a heap's
lock. An operator's ``MALLOC_ARENA_MAX`` (or ``GLIBC_TUNABLES``) rules instead.

``malloc_trim`` hands the free pages of every heap back: each worker calls it once it has started,
and then a thread of its own does when a snapshot was made or a full collection freed something
since the last time, at most every ``EVERY_S``: a trim took 1-77 ms (median 16) at load average
14, without the GIL but holding each heap's lock in turn, so a thread that must allocate from it
meanwhile waits. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # this module is imported first of all (see api/__init__.py): nothing heavy
    from siteselect.index import Catalog

EVERY_S = 10.0
HEAPS = 2
M_ARENA_MAX = -8  # mallopt's parameter for the most heaps (glibc's malloc.h)
log = logging.getLogger(__name__)


def _glibc(name: str) -> Callable[..., int] | None:
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError):  # not glibc
        return None
    return function


MALLOC_TRIM = _glibc("malloc_trim")
MALLOPT = _glibc("mallopt")


def limit_heaps(heaps: int = HEAPS) -> bool:
    """Let this process's threads allocate from at most ``heaps`` heaps; whether it was set. Heaps
    made before stay, so it is called before any thread starts."""
    told = "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if MALLOPT is None or told:
        return False
    return MALLOPT(M_ARENA_MAX, heaps) == 1


class GiveBack:
    """A daemon thread that trims the heaps after snapshots were replaced."""

    def __init__(self, catalog: Catalog, every_s: float | None = None) -> None:
        self.catalog = catalog
        self.every_s = EVERY_S if every_s is None else every_s
        self.trims = 0
        self.last_trim = -float("inf")  # time.monotonic() when the last finished trim started
        self._built_at = catalog.built_at  # the snapshot the last trim saw
        self._collected = False  # a full collection freed something since the last trim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="give-back-memory", daemon=True)

    def start(self) -> GiveBack:
        """Trim at once, then watch: reading a city's snapshot leaves some 0.4 GiB freed in the
        heaps (what unpickling made on the way), which a worker otherwise held for its first
        ``every_s`` seconds."""
        if MALLOC_TRIM is not None:
            self.trim()
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
