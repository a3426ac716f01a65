"""What checks make once per question and keep: bounded, because requests name the questions.

A checker keeps, per industry and day (and district), the rules in force and the prohibited
entries that apply, and the address proofs per building, house number and day. Anyone may ask
``/check`` for any day, so past ``DAYS_KEPT`` questions (or another bound the keeper names) kept
everything is let go and made anew as it is asked again: cheaper than ordering by last use, and
the days asked in practice are a handful.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

DAYS_KEPT = 4096  # a few days of every industry asked

V = TypeVar("V")


class Kept(Generic[V]):
    """``make(*args)`` made once per key while fewer than ``most`` are kept (default ``DAYS_KEPT``).
    Emptied by a new dict, not cleared: a thread that found a value holds it meanwhile."""

    def __init__(self, most: int | None = None):
        self.most = DAYS_KEPT if most is None else most
        self._kept: dict[Hashable, V] = {}

    def get(self, key: Hashable, make: Callable[..., V], *args: Any) -> V:
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= self.most:
                self._kept = {}
            found = self._kept[key] = make(*args)
        return found

    def __len__(self) -> int:
        return len(self._kept)
