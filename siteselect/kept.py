"""What checks make once per question and keep: bounded, because requests name the questions.

A checker keeps, per industry and day (and district), the rules in force and the prohibited
entries that apply, the address proofs per building, house number and day, and its findings per
building and floor. Anyone may ask ``/check`` for any day and any place, so past ``most`` kept
(``DAYS_KEPT`` unless the keeper names another bound) everything is let go and made anew as it is
asked again: cheaper than ordering by last use, and the days asked in practice are a handful.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

DAYS_KEPT = 4096  # a few days of every industry asked
PLACES_KEPT = 100_000  # findings by building and floor: a city has 200,000 buildings

V = TypeVar("V")


class Kept(dict[Hashable, V]):
    """A dict of at most ``most`` values, all let go past that. Looked up as a dict (a loop that
    asks once a premises pays no call of its own); filled through :meth:`made` or :meth:`keep`,
    or, given ``make``, by ``make(key)`` for a key missing from ``self[key]``. Cleared, not
    ordered: a thread that found a value holds it meanwhile."""

    def __init__(self, most: int | None = None, make: Callable[[Any], V] | None = None):
        super().__init__()
        self.most = DAYS_KEPT if most is None else most
        self.make = make

    def made(self, key: Hashable, make: Callable[..., V], *args: Any) -> V:
        """The value kept under ``key``, else ``make(*args)``, kept."""
        found = self.get(key)
        return self.keep(key, make(*args)) if found is None else found

    def keep(self, key: Hashable, value: V) -> V:
        if len(self) >= self.most:
            self.clear()
        self[key] = value
        return value

    def __missing__(self, key: Hashable) -> V:
        if self.make is None:
            raise KeyError(key)
        return self.keep(key, self.make(key))
