"""A snapshot written once to storage every worker of a batch reads, and loaded once per process.

The driver writes the snapshot it judges by (every layer at the versions in force, with the
district-wide figures a region cannot work out) beside the results; each worker process loads it
the first time a task asks and keeps it for the tasks that follow, so the layers cross the
network once per worker rather than once per task.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

from siteselect.candidates import BatchError
from siteselect.index import Snapshot

KEPT = 2  # snapshots a process keeps: the current batch's, and one before it
_loaded: OrderedDict[tuple[str, int, int], Snapshot] = OrderedDict()
_lock = threading.Lock()
loads = 0  # files read by this process (a worker reads each once)


def write(folder: Path, snapshot: Snapshot) -> Path:
    """Write ``snapshot`` into ``folder`` under a new name; this process keeps it as loaded."""
    path = folder / f"_snapshot-{uuid.uuid4().hex}.pickle"
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as f:
        pickle.dump(snapshot, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, path)
    with _lock:
        _keep(_key(path), snapshot)
    return path


def load(path: str | Path) -> Snapshot:
    """The snapshot in ``path``, read once by this process."""
    global loads
    key = _key(Path(path))
    with _lock:  # threads of one worker wait for the one reading it
        if key not in _loaded:
            with Path(path).open("rb") as f:
                _keep(key, pickle.load(f))
            loads += 1
        _loaded.move_to_end(key)
        return _loaded[key]


def _key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise BatchError(
            f"the batch's snapshot {path} is not there: workers must share the results folder's storage"
        ) from None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def _keep(key: tuple[str, int, int], snapshot: Snapshot) -> None:
    _loaded[key] = snapshot
    while len(_loaded) > KEPT:
        _loaded.popitem(last=False)
