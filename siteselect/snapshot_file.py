"""Snapshots written once to storage and loaded by every process that needs them.

Two uses. A batch's driver writes the snapshot it judges by (every layer at the versions in force,
with the district-wide figures a region cannot work out) beside the results; each worker process
loads it the first time a task asks and keeps it for the tasks that follow, so the layers cross
the network once per worker rather than once per task (:func:`write`, :func:`load`).

The service's workers share one prepared snapshot per set of layer versions (:func:`shared`): the
first to need it builds it — layers indexed, checker, scorer and gazetteer made — and writes it;
the others, and every restart, load it, which takes a fraction of the building. A worker that
serves already makes a new version's snapshot from its own and only offers it (:func:`offer`).
The file is named by a key of everything the snapshot is made from (the store, the versions, the
planar frame, the code and the libraries), so a file of other versions is never read.

Geometry arrays are written whole (shapely writes each geometry apart, a function call per point
on reading): points as their coordinates, others as WKB, each geometry once (see ``_Pickler``);
cell maps write themselves as three arrays.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import operator
import os
import pickle
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely
from geopandas.array import GeometryArray
from numpy.typing import NDArray

from siteselect.candidates import BatchError
from siteselect.geodesy import plain_points

KEPT = 2  # snapshots a process keeps: the current batch's, and one before it
KEPT_FILES = 3  # the service's files kept in its folder: the newest, and two before it
_loaded: OrderedDict[tuple[str, int, int], Any] = OrderedDict()  # snapshots, by file
_lock = threading.Lock()
loads = 0  # files read by this process (a worker reads each once)
log = logging.getLogger(__name__)
T = TypeVar("T")


def write(folder: Path, snapshot: Any) -> Path:
    """Write ``snapshot`` into ``folder`` under a new name; this process keeps it as loaded."""
    path = folder / f"_snapshot-{uuid.uuid4().hex}.pickle"
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as f:
        _Pickler(f).dump(snapshot)
    os.replace(temporary, path)
    with _lock:
        _keep(_key(path), snapshot)
    return path


def load(path: str | Path) -> Any:
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


def _keep(key: tuple[str, int, int], snapshot: Any) -> None:
    _loaded[key] = snapshot
    while len(_loaded) > KEPT:
        _loaded.popitem(last=False)


# ---- the service's prepared snapshots -----------------------------------------------------------


def key(parts: list[Any]) -> str:
    """The name of the file of a snapshot made from ``parts`` (the store, its versions, the
    frame…) by this code with these libraries."""
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(repr(parts).encode())
    return digest.hexdigest()[:32]


def shared(folder: Path, name: str, build: Callable[[], T]) -> T:
    """What is named ``name`` in ``folder`` (a prepared snapshot, see ``Catalog`` in the index): read from
    its file, or — by the one process that gets there first — built with ``build`` and written,
    while the others wait for it and then read it. A file that cannot be read is built and
    written again; a folder that others may write to is not used (a file there is code)."""
    global loads
    _private_folder(folder)
    path = folder / f"snapshot-{name}.pickle"
    started = time.perf_counter()
    # A file there is whole (written aside, then renamed): workers read it side by side. Only one
    # that finds none takes the lock, and waits there while another builds it.
    found: T | None = _read(path) if path.exists() else None
    if found is None:
        with _held(folder / f"snapshot-{name}.lock"):
            found = _read(path)
            if found is None:
                made = build()
                _written(path, made, "built and written to", started)
        if found is None:
            _prune(folder)
            return made
    loads += 1
    log.info("snapshot read from %s in %.1f s", path, time.perf_counter() - started)
    return found


def offer(folder: Path, name: str, made: Callable[[], Any]) -> None:
    """Write what ``made`` gives as ``name`` in ``folder`` unless a file of that name is there
    already (another process made it first): for the processes that start later."""
    _private_folder(folder)
    path = folder / f"snapshot-{name}.pickle"
    with _held(folder / f"snapshot-{name}.lock"):
        if path.exists():
            return
        started = time.perf_counter()
        _written(path, made(), "written to", started)
    _prune(folder)


def _written(path: Path, payload: Any, done: str, started: float) -> None:
    """Write ``payload`` to ``path`` and say so. A disk that is full is said too and goes no
    further: the process serves what it made, and the next one to need the file makes it again."""
    try:
        _write(path, payload)
        log.info("snapshot %s %s in %.1f s", done, path, time.perf_counter() - started)
    except OSError as exc:
        log.warning("snapshot file %s not written: %s", path, exc)


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stat = folder.stat()
    if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
        raise PermissionError(
            f"snapshot folder {folder}: must belong to this user and be writable by no one else"
        )


@contextlib.contextmanager
def _held(lock_path: Path) -> Iterator[None]:
    """An exclusive lock between processes, released by the system if its holder dies."""
    with lock_path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file is rebuilt, whatever broke in reading it
        log.warning("snapshot file %s not read (%s): built again", path, exc.__class__.__name__)
        return None


def _write(path: Path, payload: Any) -> None:
    temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            _Pickler(f).dump(payload)
        os.replace(temporary, path)  # whole or not at all
    finally:
        temporary.unlink(missing_ok=True)  # left only when writing failed (the disk full)


def _prune(folder: Path) -> None:
    """Remove all but the newest files (a process reading one keeps it open: it reads on)."""
    files = sorted(folder.glob("snapshot-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEPT_FILES:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".lock").unlink(missing_ok=True)


def _code_fingerprint() -> str:
    """This package's source and the versions of what its pickles are made of."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256(sys.version.encode())
        for package in ("numpy", "pandas", "geopandas", "shapely", "scipy", "pyproj"):
            digest.update(f"{package} {metadata.version(package)}".encode())
        for source in sorted(Path(__file__).parent.rglob("*.py")):
            digest.update(source.read_bytes())
        _fingerprint = digest.hexdigest()
    return _fingerprint


_fingerprint: str | None = None


class _Pickler(pickle.Pickler):
    """A pickler that writes geometry arrays as few objects as it can, each geometry once.

    An array of points is written as its coordinates (one float array), others as WKB; what was
    prepared is prepared again on reading, points aside (preparing a point saves no predicate any
    time). An array, or a single geometry, whose geometries were all written already as part of
    one array is written as positions in that one, so that it is read back as the same objects
    rather than copies (the gazetteer's house numbers and buildings are those of their layers).
    """

    def __init__(self, file: io.BufferedWriter | Any):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        # Every geometry array written whole, with the ids of its geometries sorted and their
        # positions: arrays rather than a dict by id, which for a city's three million geometries
        # held half a gigabyte while the file was written. The pickler's memo keeps each array
        # written alive, and with it its geometries and their ids.
        self._placed: list[tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.intp]]] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, GeometryArray):  # geopandas writes WKB itself: its array comes here
            return _geometry_array, (obj._data, obj.crs)
        if isinstance(obj, shapely.Geometry):
            within = self._within_one(np.array([obj], dtype=object))
            if within is not None:
                return operator.getitem, (within[0], int(within[1][0]))
            return _geometry, (shapely.to_wkb(obj), shapely.is_prepared(obj))
        if type(obj) is np.ndarray and obj.dtype == object and obj.size and _all_geometry(obj):
            flat = obj.ravel()
            within = self._within_one(flat)
            if within is not None:
                return _taken, (*within, obj.shape)
            if obj.ndim == 1:
                self._place(obj)
            if plain_points(flat):
                return _points, (shapely.get_coordinates(flat), obj.shape)
            return _geometries, (shapely.to_wkb(flat), shapely.is_prepared(flat), obj.shape)
        return NotImplemented

    def _place(self, array: NDArray[np.object_]) -> None:
        ids = _ids(array)
        ids[shapely.is_missing(array)] = -1  # a missing geometry is nobody's
        order = np.argsort(ids)
        self._placed.append((array, ids[order], order))

    def _within_one(self, flat: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.intp]] | None:
        """(the array written already that holds all these geometries, their positions in it), or None."""
        ids = _ids(flat)
        for array, sorted_ids, order in self._placed:
            first = np.searchsorted(sorted_ids, ids[:1]).clip(max=len(sorted_ids) - 1)
            if sorted_ids[first[0]] != ids[0]:
                continue  # a whole search only where the first is found
            at = np.searchsorted(sorted_ids, ids).clip(max=len(sorted_ids) - 1)
            if (sorted_ids[at] == ids).all():
                return array, order[at]
        return None


def _ids(flat: NDArray[np.object_]) -> NDArray[np.int64]:
    return np.fromiter(map(id, flat.tolist()), dtype=np.int64, count=len(flat))


def _all_geometry(obj: NDArray[np.object_]) -> bool:
    """Geometries, or None where missing (``from_wkb`` gives None back)."""
    return isinstance(obj.flat[0], shapely.Geometry) and bool(shapely.is_valid_input(obj).all())


def _geometry_array(data: NDArray[np.object_], crs: Any) -> GeometryArray:
    return GeometryArray(data, crs=crs)


def _geometry(wkb: bytes, prepared: bool) -> shapely.Geometry:
    geometry = shapely.from_wkb(wkb)
    if prepared:
        shapely.prepare(geometry)
    return geometry


def _geometries(wkb: NDArray[np.object_], prepared: NDArray[np.bool_], shape: tuple[int, ...]) -> Any:
    geometries = shapely.from_wkb(wkb)
    prepared &= shapely.get_type_id(geometries) != shapely.GeometryType.POINT
    if prepared.any():
        shapely.prepare(geometries[prepared])
    return geometries.reshape(shape)


def _points(xy: NDArray[np.float64], shape: tuple[int, ...]) -> Any:
    return shapely.points(xy).reshape(shape)


def _taken(array: NDArray[np.object_], positions: NDArray[np.intp], shape: tuple[int, ...]) -> Any:
    return array.ravel()[positions].reshape(shape)
