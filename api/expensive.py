"""Expensive reads: each drawn once per snapshot and question, apart, and only a few at a time.

A suitability surface checks every sample point of thousands of cells: seconds of CPU, some of it
in long calls that hold the GIL for a tenth of a second or more. Drawn in request threads, four at
once held ``/check`` for seconds. So a drawing is kept (per worker, by its key, least recently used
first out, within ``CACHE_BYTES``); it is drawn in a child forked from the worker (which shares the
worker's snapshot without copying it, holds no GIL of the worker's, and runs at a lower CPU
priority, so the worker's own requests come first); at most ``expensive_concurrency`` are drawn at
once per worker (an anyio capacity limiter: the others wait without holding a thread); the same
question asked while it is drawn waits for that drawing; and when ``MAX_WAITING`` wait already,
the next is told to come back later (503, Retry-After).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection

import anyio
from fastapi import Request

from siteselect.errors import StoreError

CACHE_BYTES = 256 * 1024 * 1024  # a district surface at res 9 is some 2 MB, a street view less
MAX_WAITING = 8
DRAW_TIMEOUT_S = 120  # a child that takes longer is stopped
NICENESS = 10  # the child's CPU weight is a tenth of the worker's


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
    """The body for ``key``: kept, or drawn (apart) when the worker's limiter lets it."""
    drawings, limiter, underway = _state(request)
    while key in underway:  # the same question asked again while it is drawn: wait for that drawing
        await underway[key].wait()
    body = drawings.get(key)
    if body is not None:
        return body
    if limiter.statistics().tasks_waiting >= MAX_WAITING:
        raise BusyError(f"{MAX_WAITING} expensive requests are waiting already; try again shortly")
    apart_from_worker = request.app.state.settings.expensive_apart
    done = underway[key] = anyio.Event()
    try:
        body = await anyio.to_thread.run_sync(apart if apart_from_worker else _here, draw, limiter=limiter)
        return drawings.put(key, body)
    finally:
        del underway[key]
        done.set()


Underway = dict[Hashable, anyio.Event]


def _state(request: Request) -> tuple[Drawings, anyio.CapacityLimiter, Underway]:
    state = request.app.state
    if not hasattr(state, "expensive"):  # made here: a limiter belongs to the running event loop
        limiter = anyio.CapacityLimiter(state.settings.expensive_concurrency)
        state.expensive = (Drawings(), limiter, {})
    expensive: tuple[Drawings, anyio.CapacityLimiter, Underway] = state.expensive
    return expensive


def _here(draw: Callable[[], bytes]) -> bytes:
    return draw()


def apart(draw: Callable[[], bytes]) -> bytes:
    """``draw()`` in a child forked from this process at a lower CPU priority; its result, or the
    error it raised."""
    context = multiprocessing.get_context("fork")  # the child starts with this worker's snapshot
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(draw, writer), daemon=True)
    child.start()
    writer.close()
    try:
        if not reader.poll(DRAW_TIMEOUT_S):
            raise BusyError(f"a drawing took longer than {DRAW_TIMEOUT_S} s and was stopped")
        outcome, value = reader.recv()
    except EOFError:
        raise BusyError("the drawing stopped before it was done; try again shortly") from None
    finally:
        reader.close()
        child.kill()
        child.join()
    if outcome == "raised":
        raise value
    body: bytes = value
    return body


def _child(draw: Callable[[], bytes], writer: Connection) -> None:
    os.nice(NICENESS)
    try:
        writer.send(("drew", draw()))
    except Exception as exc:  # the request's error (a 422 …), raised again in the worker
        writer.send(("raised", exc))
    finally:
        writer.close()
        os._exit(0)  # nothing of the worker's (its connections, its exit handlers) is run here
