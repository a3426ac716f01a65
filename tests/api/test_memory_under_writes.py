"""Memory under listing writes: the served app, with its request threads and background refreshes,
keeps a bounded number of snapshots alive however many listing changes it has made them for, and
gives the memory the replaced ones freed back to the system."""

from __future__ import annotations

import gc
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from api import memory
from api.app import create_app
from siteselect import accounts
from siteselect.index import Snapshot
from siteselect.settings import Settings
from siteselect.store import Store

ITEMS = "/ogc/collections/vacancies/items"
MERGE = {"Content-Type": "application/merge-patch+json"}
WRITES = 12  # per writer: a publication and a rent change each


def _served(demo_db: str, tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    """The app over a copy of the demo, and an operator of park-001's credentials."""
    shutil.copy(demo_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    accounts.add_user(store, "operator", "operator", ["park-001"])
    auth = {"Authorization": f"Bearer {accounts.create_token(store, 'operator')[0]}"}
    store.close()
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    return TestClient(create_app(settings)), auth


def _writes_checks_and_matches(client: TestClient, auth: dict[str, str], note: Callable[[], None]) -> None:
    """Two operators publish and change listings while three readers check and match, each in a
    thread of its own; ``note`` is called after every answer. Every answer must be the expected one."""
    failures: list[str] = []

    def expect(r, status: int) -> None:
        if r.status_code != status:
            failures.append(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}")

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(WRITES):
            props = {"park_id": "park-001", "address": f"soak {rng.random():.9f}", "floor": 3,
                     "area_m2": 120.0, "rent": 55.0, "use": "office", "status": "available"}  # fmt: skip
            body = {"type": "Feature", "properties": props,
                    "geometry": {"type": "Point", "coordinates": [120.445, 36.131]}}  # fmt: skip
            made = client.post(ITEMS, json=body, headers=auth)
            expect(made, 201)
            if made.status_code == 201:
                tag = {"If-Match": made.headers["etag"]}
                changed = client.patch(
                    f"{ITEMS}/{made.json()['id']}", json={"rent": 60.0}, headers=auth | MERGE | tag
                )
                expect(changed, 200)
            note()

    def read(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(3 * WRITES):
            point = {"lon": 120.47 + rng.random() / 50, "lat": 36.10 + rng.random() / 50}
            expect(client.post("/check", json={"industry": "6210"} | point), 200)
            note()
            if n % 4 == 0:
                expect(client.post("/match", json={"industry": "6210", "limit": 5}), 200)
                note()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=read, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_listing_writes_mixed_with_checks_and_matches_keep_few_snapshots_alive(demo_db, tmp_path):
    seen: list[weakref.ref[Snapshot]] = []
    noting = threading.Lock()
    client, auth = _served(demo_db, tmp_path)
    with client:
        catalog = client.app.state.catalog  # type: ignore[attr-defined]

        def note() -> None:  # every snapshot the requests were answered from
            current = catalog.current()
            with noting:
                if all(ref() is not current for ref in seen):
                    seen.append(weakref.ref(current))

        _writes_checks_and_matches(client, auth, note)
        gc.collect()
        alive = sum(1 for ref in seen if ref() is not None)
        # The current one, and those whose checker, scorer, locator or gazetteer the current one's
        # are carried over from.
        assert len(seen) > WRITES and alive <= 5, f"{alive} of {len(seen)} snapshots still alive"


def _resident_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


@pytest.mark.skipif(memory.MALLOC_TRIM is None, reason="malloc_trim is glibc's")
def test_memory_freed_by_replaced_snapshots_goes_back_to_the_system(demo_db, tmp_path, monkeypatch):
    """What replaced snapshots freed is not kept by the allocator: once the service's own trim has
    run, trimming again gives little back (without it: tens of MiB after these writes)."""
    monkeypatch.setattr(memory, "EVERY_S", 0.2)
    client, auth = _served(demo_db, tmp_path)
    with client:
        give_back = client.app.state.give_back  # type: ignore[attr-defined]
        _writes_checks_and_matches(client, auth, lambda: None)
        gc.collect()  # the replaced snapshots, freed
        collected = time.monotonic()
        deadline = collected + 30
        while give_back.last_trim < collected and time.monotonic() < deadline:
            time.sleep(0.05)
        kept = _resident_mib()
        memory.MALLOC_TRIM(0)  # type: ignore[misc]
        held_back = kept - _resident_mib()
        assert give_back.trims > 0 and held_back < 4, f"{held_back:.1f} MiB freed but not given back"


SERVE_AND_COUNT = """
import gc, sys
import psutil
import pytest
from fastapi.testclient import TestClient
from api import memory
from api.app import create_app
from siteselect.settings import Settings

with TestClient(create_app(Settings(_env_file=None, database_url=sys.argv[1]))) as client:
    assert client.post("/check", json={"industry": "6210", "lon": 120.48, "lat": 36.11}).status_code == 200
    assert client.post("/match", json={"industry": "6210", "limit": 5}).status_code == 200
    gc.collect()
    print(len(gc.get_objects()), gc.get_freeze_count())
"""


def test_a_full_collection_in_the_service_scans_the_layers_not_the_libraries(demo_db):
    """What was loaded before the layers is frozen once at start (the libraries' tables alone are
    hundreds of thousands of objects); what is made from the layers is not, so it can be freed."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", SERVE_AND_COUNT, demo_db], cwd=root, capture_output=True, text=True, check=True
    )
    tracked, frozen = map(int, out.stdout.split())
    assert tracked < 100_000 < frozen, (tracked, frozen)


SERVE_ON_MANY_THREADS_AND_COUNT_HEAPS = """
import ctypes, ctypes.util, sys, tempfile, threading
from fastapi.testclient import TestClient
from api.app import create_app
from siteselect.settings import Settings

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]


def heaps():
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        return out.read().count(b"<heap nr=")


with TestClient(create_app(Settings(_env_file=None, database_url=sys.argv[1]))) as client:
    start = threading.Barrier(16)

    def ask(n):  # matches run on the app's request threads, checks on its event loop
        start.wait()
        for k in range(4):
            point = {"lon": 120.47 + n / 1000, "lat": 36.10 + k / 1000}
            assert client.post("/match", json={"industry": "6210", "limit": 5}).status_code == 200
            assert client.post("/check", json={"industry": "6210"} | point).status_code == 200

    clients = [threading.Thread(target=ask, args=(n,)) for n in range(16)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    # The request threads the app ran (idle ones stay a while): all threads but this one, the
    # clients' (ended), the test client's event loop and the service's trimming thread.
    print(threading.active_count() - 3, heaps())
"""


@pytest.mark.skipif(memory.MALLOPT is None, reason="the heaps' limit is glibc's")
def test_a_worker_allocates_from_few_heaps_however_many_threads_serve_it(demo_db):
    """Each heap keeps what was freed in it and grows to the most ever built in it at once, so a
    worker's memory grew with the number of heaps (see api/memory.py): it takes few, whatever the
    number of its request threads or of the libraries' (before the limit: 16 heaps here, eight per
    core)."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    out = subprocess.run(
        [sys.executable, "-c", SERVE_ON_MANY_THREADS_AND_COUNT_HEAPS, demo_db],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    request_threads, heaps = map(int, out.stdout.split())
    assert request_threads >= 8 and heaps <= memory.HEAPS, (request_threads, heaps)


@pytest.mark.skipif(memory.MALLOC_TRIM is None, reason="malloc_trim is glibc's")
def test_a_worker_gives_back_what_reading_its_layers_freed_as_it_starts(demo_db, tmp_path):
    """Once it answers, a worker has trimmed its heaps: not ``EVERY_S`` later (what reading a
    city's snapshot freed, 0.4 GiB, was held that long)."""
    client, _ = _served(demo_db, tmp_path)
    with client:
        give_back = client.app.state.give_back  # type: ignore[attr-defined]
        assert give_back.trims == 1 and time.monotonic() - give_back.last_trim < memory.EVERY_S
