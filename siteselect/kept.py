"""What checks make once per question and keep: bounded, because requests name the questions.

A checker keeps, per industry and day (and district), the rules in force and the prohibited
entries that apply. Anyone may ask ``/check`` for any day, so past ``DAYS_KEPT`` questions kept
everything is let go and made anew as it is asked again: cheaper than ordering by last use, and
the days asked in practice are a handful.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

DAYS_KEPT = 4096  # a few days of every industry asked

V = TypeVar("V")


class Kept(Generic[V]):
    """``make()`` made once per key while fewer than ``most`` are kept (default ``DAYS_KEPT``)."""

    def __init__(self, most: int | None = None):
        self.most = DAYS_KEPT if most is None else most
        self._kept: dict[Hashable, V] = {}

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= self.most:
                self._kept = {}
            found = self._kept[key] = make()
        return found

    def __len__(self) -> int:
        return len(self._kept)
