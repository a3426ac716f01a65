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
PLACES_KEPT = 100_000  # findings by building and floor: a city has 200,000 buildings

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


class KeptDict(dict[Hashable, V]):
    """A dict of at most ``most`` values, all let go past that: looked up as a dict (a loop that
    asks once a premises pays no call), filled through :meth:`keep`, or, given ``make``, by
    ``make(key)`` for a key missing from ``self[key]``. A served checker is asked about every
    building and floor of a city, which kept without a bound only grew."""

    def __init__(self, most: int = PLACES_KEPT, make: Callable[[Any], V] | None = None):
        super().__init__()
        self.most, self.make = most, make

    def keep(self, key: Hashable, value: V) -> V:
        if len(self) >= self.most:
            self.clear()  # a thread that found a value holds it meanwhile
        self[key] = value
        return value

    def __missing__(self, key: Hashable) -> V:
        if self.make is None:
            raise KeyError(key)
        return self.keep(key, self.make(key))
