"""Expensive reads: each drawn once per snapshot and question, apart, and only a few at a time.

A suitability surface checks every sample point of thousands of cells: seconds of CPU, some of it
in long calls that hold the GIL for a tenth of a second or more. Drawn in request threads, four at
once held ``/check`` for seconds. So:

- a drawing is kept (per worker, by its key, least recently used first out, within ``CACHE_BYTES``:
  ``siteselect.bytes_cache``);
- it is drawn in a process of the worker's own (``expensive_concurrency`` of them, started on the
  first drawing, each with its own copy of the layers — read from the shared snapshot file where
  the service has a snapshot folder, else from the store — at a lower CPU priority), so it takes
  none of the worker's GIL and the worker's requests keep the CPU;
- the same question asked while it is drawn waits for that drawing;
- at most ``expensive_concurrency`` are drawn at once per worker (an anyio capacity limiter: the
  others wait without holding a thread), and with ``MAX_WAITING`` waiting already the next is told
  to come back later (503, Retry-After).

A drawing is a picklable function of a snapshot and its arguments: in a drawing process the
snapshot is that process's own, of the same layer versions as the worker's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import anyio
from fastapi import Request

from siteselect.bytes_cache import BytesCache
from siteselect.errors import StoreError
from siteselect.index import Catalog, Snapshot
from siteselect.settings import Settings
from siteselect.store import Store

CACHE_BYTES = 256 * 1024 * 1024  # a district surface at res 9 is some 3 MB, a street view less
MAX_WAITING = 8
DRAW_TIMEOUT_S = 300  # the first drawing also starts its process and reads the layers
NICENESS = 5  # a drawing process's CPU weight is a third of the worker's
Drawing = Callable[..., bytes]  # (snapshot, *args) -> body


class BusyError(StoreError):
    """Too many expensive requests waiting already (503 with Retry-After, as when the store is away)."""


class Expensive:
    """One worker's drawings: kept ones, those under way, the limiter and the drawing processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.drawings = BytesCache(CACHE_BYTES)
        self.underway: dict[Hashable, anyio.Event] = {}
        self.limiter = anyio.CapacityLimiter(settings.expensive_concurrency)
        self._pool: ProcessPoolExecutor | None = None

    async def drawn_once(self, key: Hashable, snapshot: Snapshot, draw: Drawing, *args: Any) -> bytes:
        """The body for ``key``: kept, or ``draw(snapshot, *args)`` when the limiter lets it."""
        while key in self.underway:  # asked again while it is drawn: wait for that drawing
            await self.underway[key].wait()
        body = self.drawings.get(key)
        if body is not None:
            return body
        if self.limiter.statistics().tasks_waiting >= MAX_WAITING:
            raise BusyError(f"{MAX_WAITING} expensive requests are waiting already; try again shortly")
        done = self.underway[key] = anyio.Event()
        try:
            async with self.limiter:
                body = await self._draw(snapshot, draw, args)
            return self.drawings.put(key, body)
        finally:
            del self.underway[key]
            done.set()

    async def _draw(self, snapshot: Snapshot, draw: Drawing, args: tuple[Any, ...]) -> bytes:
        if not self.settings.expensive_apart:
            return await anyio.to_thread.run_sync(lambda: draw(snapshot, *args))
        future = self._processes().submit(_draw_apart, snapshot.versions, draw, *args)
        try:
            with anyio.fail_after(DRAW_TIMEOUT_S):
                return await asyncio.wrap_future(future)
        except (TimeoutError, BrokenProcessPool):
            self.close()  # a new process for the next one
            raise BusyError("the drawing did not finish; try again shortly") from None

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawned, not forked: a fork would copy locks other threads hold
            self._pool = ProcessPoolExecutor(
                self.settings.expensive_concurrency,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_drawing_process,
                initargs=(self.settings.model_dump_json(),),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def expensive(request: Request) -> Expensive:
    state = request.app.state
    if not hasattr(state, "expensive"):  # made here: a limiter belongs to the running event loop
        state.expensive = Expensive(state.settings)
    worker: Expensive = state.expensive
    return worker


# ---- in a drawing process --------------------------------------------------------------------

_catalog: Catalog | None = None


def _start_drawing_process(settings_json: str) -> None:
    global _catalog
    os.nice(NICENESS)
    threading.Thread(target=_end_with, args=(os.getppid(),), daemon=True).start()
    settings = Settings.model_validate_json(settings_json)
    store = Store.from_settings(settings, service=True)
    _catalog = Catalog(store, settings, snapshot_dir=settings.snapshot_folder)  # the worker's file


def _end_with(worker: int) -> None:
    """End this process when its worker is gone, however the worker ended."""
    while os.getppid() == worker:
        time.sleep(1)
    os._exit(0)


def _draw_apart(versions: dict[str, int], draw: Drawing, *args: Any) -> bytes:
    assert _catalog is not None
    current = _catalog.current()
    return draw(current if current.versions == versions else _catalog.snapshot(versions), *args)
