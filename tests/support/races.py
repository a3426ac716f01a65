"""Writes sent at the same instant to a running service, to see that none is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

MERGE = {"Content-Type": "application/merge-patch+json"}


def race(base: str, writes: list[tuple[str, dict, dict]]) -> list[int]:
    """Send the PATCHes (path, body, headers) at the same instant, one thread each; their statuses."""
    start = threading.Barrier(len(writes))

    def send(write: tuple[str, dict, dict]) -> int:
        path, body, headers = write
        with httpx.Client(base_url=base, timeout=60) as client:
            client.get("/health")  # connected before the start
            start.wait()
            return client.patch(path, json=body, headers=headers | MERGE).status_code

    with ThreadPoolExecutor(len(writes)) as pool:
        return list(pool.map(send, writes))


@dataclass
class Round:
    """Two PATCHes of one listing sent at once: one sets the rent, the other the floor."""

    statuses: list[int]
    sent: dict[str, Any]  # field -> value, in the order sent
    stored: dict[str, Any]  # the listing's properties afterwards


def patch_pairs(base: str, path: str, headers: tuple[dict, dict], rounds: int, *, star: bool) -> list[Round]:
    """``rounds`` pairs, each made against the listing's current ETag (or ``*``); every value sent
    is new, so a lost write shows."""
    done = []
    for n in range(rounds):
        tag = "*" if star else httpx.get(f"{base}{path}").headers["etag"]
        sent = {"rent": 500.0 + n, "floor": 1 + n % 100}
        writes = [
            (path, {field: value}, h | {"If-Match": tag}) for (field, value), h in zip(sent.items(), headers)
        ]
        statuses = race(base, writes)
        done.append(Round(statuses, sent, httpx.get(f"{base}{path}").json()["properties"]))
    return done


def lost(rounds: list[Round]) -> list[Round]:
    """Rounds where an acknowledged change is not stored, or a refused one is."""
    return [
        r for r in rounds
        if any((status == 200) != (r.stored[field] == value)
               for status, (field, value) in zip(r.statuses, r.sent.items()))
    ]  # fmt: skip
