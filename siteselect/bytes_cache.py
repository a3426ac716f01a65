"""Bodies kept in memory by key, least recently used first out, within a byte budget: drawn tiles,
surfaces and other answers a worker draws once and serves again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class BytesCache:
    """Bodies by key, within ``max_bytes``. Each counts its length and ``ENTRY_BYTES`` (what
    keeping any body costs), so that empty ones, such as tiles of empty sea, are bounded too; the
    latest body is kept even when it alone is over the budget."""

    ENTRY_BYTES = 200

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0  # bytes counted against max_bytes
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> bytes:
        """Keep ``body`` (unless another is kept for ``key`` already); return it."""
        with self._lock:
            if key not in self._bodies:
                self._bodies[key] = body
                self.size += len(body) + self.ENTRY_BYTES
            while self.size > self.max_bytes and len(self._bodies) > 1:
                self.size -= len(self._bodies.popitem(last=False)[1]) + self.ENTRY_BYTES
            return body

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._bodies

    def __len__(self) -> int:
        with self._lock:
            return len(self._bodies)
