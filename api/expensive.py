"""Expensive reads: each drawn once per snapshot and question, and only a few at a time.

A suitability surface checks every sample point of thousands of cells: seconds of CPU. Drawn in
request threads, four at once held the GIL of their worker for seconds, and ``/check`` waited
behind them. So a drawing is kept (per worker, by its key, least recently used first out, within
``CACHE_BYTES``), at most ``expensive_concurrency`` are drawn at once per worker (an anyio
capacity limiter: the others wait without holding a thread), and when more than ``MAX_WAITING``
wait the next one is told to come back later (503, Retry-After).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import anyio
from fastapi import Request

from siteselect.errors import StoreError

CACHE_BYTES = 256 * 1024 * 1024  # a district surface at res 9 is some 2 MB, a street view less
MAX_WAITING = 8


class BusyError(StoreError):
    """Too many expensive requests waiting already (503 with Retry-After, as when the store is away)."""


class Drawings:
    """Response bodies by key, least recently used first out, within a byte budget."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> bytes:
        with self._lock:
            if key not in self._bodies:
                self._bodies[key] = body
                self._size += len(body)
            while self._size > self.max_bytes and len(self._bodies) > 1:
                self._size -= len(self._bodies.popitem(last=False)[1])
            return body


async def drawn_once(request: Request, key: Hashable, draw: Callable[[], bytes]) -> bytes:
    """The body for ``key``: kept, or drawn in a thread when the worker's limiter lets it."""
    drawings, limiter = _state(request)
    body = drawings.get(key)
    if body is not None:
        return body
    if limiter.statistics().tasks_waiting >= MAX_WAITING:
        raise BusyError(f"{MAX_WAITING} expensive requests are waiting already; try again shortly")

    def draw_unless_drawn() -> bytes:  # one drawn while this one waited is not drawn again
        return drawings.get(key) or drawings.put(key, draw())

    return await anyio.to_thread.run_sync(draw_unless_drawn, limiter=limiter)


def _state(request: Request) -> tuple[Drawings, anyio.CapacityLimiter]:
    state = request.app.state
    if not hasattr(state, "expensive"):  # made here: a limiter belongs to the running event loop
        state.expensive = (Drawings(), anyio.CapacityLimiter(state.settings.expensive_concurrency))
    expensive: tuple[Drawings, anyio.CapacityLimiter] = state.expensive
    return expensive
