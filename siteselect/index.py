"""The in-process H3 index of layer versions: the request path's source of candidates.

Each layer version is held as a GeoDataFrame, its geometry in the district's planar frame (edges
densified along great circles, prepared for fast predicates), and its H3 cells. Two questions are
answered from cells alone, with no false negatives:

- :meth:`LayerIndex.candidates`: which features may lie within r metres of one point;
- :meth:`LayerIndex.cell_map`: for every cell, which features may lie within r metres of any point
  of that cell — the form batch work wants, since a point then needs one dictionary look-up.

A :class:`Snapshot` is one version of every layer; the :class:`Catalog` keeps the current one in
step with the store and builds snapshots of earlier versions on request. The operators' live
listings are the vacancies of every snapshot it makes, so every reader sees the same vacancies.
"""

from __future__ import annotations

import gc
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from siteselect import filings, listings, snapshot_file
from siteselect.errors import NotFoundError
from siteselect.geodesy import LocalFrame, plain_points
from siteselect.grid import disc_cells, disk, point_cells, rings_for
from siteselect.settings import Settings
from siteselect.store import AWAY, LayerVersion, Store

NO_ROWS = np.empty(0, dtype=np.intp)


class CellMap(dict[int, NDArray[np.intp]]):
    """Cell → rows of features. Pickled as three arrays (cells, counts, rows): a map of a city's
    buildings holds a hundred thousand small arrays, each a call when read back one by one."""

    def __reduce__(self) -> tuple[Any, ...]:
        cells = np.fromiter(self.keys(), dtype=np.int64, count=len(self))
        counts = np.fromiter((len(v) for v in self.values()), dtype=np.intp, count=len(self))
        rows = np.concatenate(list(self.values())) if self else NO_ROWS
        return _cell_map, (cells, counts, rows)


def _cell_map(cells: NDArray[np.int64], counts: NDArray[np.intp], rows: NDArray[np.intp]) -> CellMap:
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return CellMap(zip(cells.tolist(), [rows[a:b] for a, b in zip(starts, ends)]))  # views of ``rows``


T = TypeVar("T")


def cell_pairs(cmap: CellMap, cells: list[int]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(position in ``cells``, feature row) for every candidate the cell map gives.

    >>> cell_pairs({7: np.array([0, 2])}, [7, 8, 7])
    (array([0, 0, 2, 2]), array([0, 2, 0, 2]))
    """
    if len(cells) == 1:  # a single check: no arrays to join (a fifth of its time)
        rows = cmap.get(cells[0], NO_ROWS)
        return np.zeros(len(rows), dtype=np.intp), rows
    # map() rather than comprehensions: a batch asks with every premises' cell.
    hits = list(map(cmap.get, cells, itertools.repeat(NO_ROWS, len(cells))))
    rows = np.concatenate(hits) if hits else NO_ROWS
    counts = np.fromiter(map(len, hits), dtype=np.intp, count=len(hits))
    return np.repeat(np.arange(len(cells)), counts), rows


log = logging.getLogger(__name__)


def prepared(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """The geometries, those that are not points prepared for fast predicates (a prepared point
    makes no predicate faster, and a city has a million and a half of them)."""
    if len(geometries):
        shapely.prepare(geometries[shapely.get_type_id(geometries) != shapely.GeometryType.POINT])
    return geometries


@dataclass(eq=False)
class LayerIndex:
    """One layer version: features, their planar geometry and their cells."""

    version: LayerVersion
    features: gpd.GeoDataFrame
    shapes: NDArray[np.object_] | None  # planar geometry in the snapshot's frame, prepared (see local)
    cells: NDArray[np.int64]  # sorted
    positions: NDArray[np.intp]  # row of ``features`` for each cell
    xy: NDArray[np.float64] | None = None  # a layer of plain points: their planar coordinates
    _maps: dict[Any, CellMap] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        version: LayerVersion,
        features: gpd.GeoDataFrame,
        fids: NDArray[np.object_],
        cells: NDArray[np.int64],
        frame: LocalFrame,
    ) -> LayerIndex:
        row_of = {fid: row for row, fid in enumerate(features["id"].tolist())}
        positions = np.fromiter((row_of[f] for f in fids), dtype=np.intp, count=len(fids))
        order = np.argsort(cells, kind="stable")
        shapes: NDArray[np.object_] | None = np.empty(0, dtype=object)
        xy: NDArray[np.float64] | None = None
        if "geometry" in features.columns and len(features):
            geometries = features.geometry.to_numpy()
            if plain_points(geometries):
                shapes, xy = None, frame.to_local_xy(shapely.get_coordinates(geometries))
            else:
                shapes = prepared(frame.to_local(geometries))
        return cls(version, features, shapes, cells[order], positions[order], xy)

    @property
    def local(self) -> NDArray[np.object_]:
        """Every feature's planar geometry. A layer of plain points keeps only their coordinates
        (a city's million POIs took 200 MB as point objects, 16 MB as coordinates) and makes its
        points when first asked: :meth:`planar` and :meth:`touching` answer from the coordinates."""
        if self.shapes is None:
            self.shapes = shapely.points(self.xy)
        return self.shapes

    def planar(self, rows: NDArray[np.intp]) -> NDArray[np.object_]:
        """The planar geometry of some features."""
        return shapely.points(self.xy[rows]) if self.xy is not None else self.local[rows]

    def coordinates(self) -> NDArray[np.float64]:
        """The planar coordinates (n × 2) of a layer's points."""
        return self.xy if self.xy is not None else shapely.get_coordinates(self.local).reshape(-1, 2)

    def touching(self, area: shapely.Geometry) -> NDArray[np.intp]:
        """Rows of the features whose planar geometry touches ``area`` (planar)."""
        if self.xy is None:
            return np.flatnonzero(shapely.intersects(self.local, area))
        shapely.prepare(area)
        return np.flatnonzero(shapely.intersects_xy(area, self.xy[:, 0], self.xy[:, 1]))

    def candidates(self, lon: float, lat: float, radius_m: float) -> NDArray[np.intp]:
        """Rows of features that may lie within ``radius_m`` of (lon, lat): never misses one."""
        disc = disc_cells(lon, lat, radius_m, self.version.h3_resolution)
        starts = np.searchsorted(self.cells, disc, side="left")
        ends = np.searchsorted(self.cells, disc, side="right")
        hits = [self.positions[s:e] for s, e in zip(starts, ends) if e > s]
        if not hits:
            return np.empty(0, dtype=np.intp)
        return np.unique(np.concatenate(hits))

    def subset(self, rows: NDArray[np.intp]) -> LayerIndex:
        """The same version limited to some features (a region of a partitioned batch)."""
        rows = np.sort(np.asarray(rows, dtype=np.intp))
        new_row = np.full(len(self.features), -1, dtype=np.intp)
        new_row[rows] = np.arange(len(rows))
        keep = new_row[self.positions] >= 0
        shapes = self.shapes[rows] if self.shapes is not None and len(self.shapes) else self.shapes
        return LayerIndex(
            self.version, self.features.iloc[rows].reset_index(drop=True), shapes,
            self.cells[keep], new_row[self.positions[keep]], None if self.xy is None else self.xy[rows],
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        state = {**self.__dict__, "_maps": {}}  # maps are rebuilt where they are used
        if self.xy is not None:
            state["shapes"] = None  # points made on asking: made again on asking
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.shapes is not None:
            prepared(self.shapes)  # preparation does not survive pickling

    def cell_map(
        self, radius_m: float | NDArray[np.float64], rows: NDArray[np.intp] | None = None
    ) -> CellMap:
        """Cell → rows of features that may lie within ``radius_m`` of a point in that cell.

        ``radius_m`` is one distance or one per feature; ``rows`` limits the map to some features
        (a rule's zone kinds). Maps are cached: a snapshot builds each one once.
        """
        radii = np.broadcast_to(np.asarray(radius_m, dtype=float), (len(self.features),))
        chosen = np.arange(len(self.features)) if rows is None else np.asarray(rows, dtype=np.intp)
        key = (radii[chosen].tobytes(), chosen.tobytes())
        if key not in self._maps:
            self._maps[key] = self._build_map(radii, chosen)
        return self._maps[key]

    def _build_map(self, radii: NDArray[np.float64], chosen: NDArray[np.intp]) -> CellMap:
        wanted = np.zeros(len(self.features), dtype=bool)
        wanted[chosen] = True
        collected: dict[int, set[int]] = {}
        for cell, row in zip(self.cells.tolist(), self.positions.tolist()):
            if not wanted[row]:
                continue
            radius = radii[row]
            near = [cell] if radius <= 0 else disk(cell, rings_for(cell, radius))
            for c in near:
                collected.setdefault(c, set()).add(row)
        return CellMap((c, np.fromiter(sorted(rs), dtype=np.intp)) for c, rs in collected.items())


class Snapshot:
    """One version of every loaded layer, indexed: what a check reads.

    ``district`` holds figures about the whole district that a regional snapshot (a partition of a
    batch) cannot work out from its own features: business shares by division, the typical rent.
    """

    def __init__(
        self,
        layers: dict[str, LayerIndex],
        frame: LocalFrame,
        district: dict[str, Any] | None = None,
        previous: Snapshot | None = None,
    ):
        self.layers = layers
        self.frame = frame
        self.district = district
        self._made: dict[str, Any] = {}
        self._making = threading.RLock()
        # Snapshots that follow one another (``previous``, the one this replaces, and those it
        # replaced) share the latest thing made from any of them under each name, with the layer
        # versions it was made from: what does not depend on the layers that changed is carried
        # over (see ``made_before``). The snapshots themselves do not point to one another, so
        # only those whose things are the latest stay alive.
        self._latest: dict[str, tuple[dict[str, int], Any]] = {} if previous is None else previous._latest
        self._ids = {name: idx.version.id for name, idx in layers.items()}

    def __getstate__(self) -> dict[str, Any]:
        return {"layers": self.layers, "frame": self.frame, "district": self.district}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._made, self._making, self._latest = {}, threading.RLock(), {}
        self._ids = {name: idx.version.id for name, idx in self.layers.items()}

    # Layers a region always keeps whole: small, and read district-wide (the district's outline,
    # the rules, the parks).
    WHOLE = ("districts", "rules", "parks")

    def region(
        self,
        shape: shapely.Geometry,
        district: dict[str, Any],
        keep: dict[str, NDArray[np.bool_]] | None = None,
    ) -> Snapshot:
        """The features that intersect ``shape`` (lon/lat), plus any ``keep`` marks, layer by layer;
        ``district`` is what it needs to know of the whole district (see the class)."""
        layers = {}
        for name, idx in self.layers.items():
            if name in self.WHOLE or "geometry" not in idx.features.columns:
                layers[name] = idx
                continue
            inside = shapely.intersects(idx.features.geometry.to_numpy(), shape)
            if keep and name in keep:
                inside |= keep[name]
            layers[name] = idx.subset(np.flatnonzero(inside))
        return Snapshot(layers, self.frame, self.district or district)

    def layer(self, name: str) -> LayerIndex:
        try:
            return self.layers[name]
        except KeyError:
            raise NotFoundError(f"layer {name!r} has no loaded version") from None

    def has(self, name: str) -> bool:
        return name in self.layers

    @property
    def versions(self) -> dict[str, int]:
        return {name: idx.version.version for name, idx in sorted(self.layers.items())}

    def made_before(self, name: str, reads: tuple[str, ...] | None = None) -> Any:
        """The latest thing made under ``name`` from a snapshot this one follows (see ``previous``
        in the constructor) whose layers ``reads`` are the same versions as this one's — by
        default every layer but the vacancies (the listings change without a new version) — or
        None."""
        if name not in self._latest:
            return None
        ids, thing = self._latest[name]
        if reads is None:
            reads = tuple(sorted((set(ids) | set(self._ids)) - {"vacancies"}))
        return thing if all(ids.get(n) == self._ids.get(n) for n in reads) else None

    def made_things(self) -> dict[str, Any]:
        """Everything made from this snapshot so far, by name (to be written with it)."""
        return dict(self._made)

    def adopt(self, made: dict[str, Any]) -> None:
        """Take things made from this snapshot elsewhere (read back with it from a file)."""
        with self._making:
            for name, thing in made.items():
                self._latest[name] = (self._ids, self._made.setdefault(name, thing))

    def made(self, name: str, make: Callable[[], T]) -> T:
        """What is made from this snapshot (its checker, scorer, gazetteer…), kept once made. The
        makers live above the data, in the modules that define them; the snapshot only keeps the
        result. No lock is held while making: a maker asks for other things made (the checker for
        the gazetteer) and takes locks of its own (Python 3.11's cached_property locks a property
        for every instance), so holding one here deadlocked two threads; two threads that race
        make it twice and keep the first."""
        if name not in self._made:
            made = make()
            with self._making:
                self._latest[name] = (self._ids, self._made.setdefault(name, made))
        return self._made[name]


def _packed(snapshot: Snapshot, stamp: Any) -> dict[str, Any]:
    """A prepared snapshot as written to its file: with its cell maps (a pickled layer leaves
    them out), what was made from it, and the stamp of the listings it holds."""
    maps = {name: idx._maps for name, idx in snapshot.layers.items() if idx._maps}
    return {"snapshot": snapshot, "maps": maps, "made": snapshot.made_things(), "stamp": stamp}


def _unpacked(packed: dict[str, Any]) -> tuple[Snapshot, Any]:
    snapshot: Snapshot = packed["snapshot"]
    for name, maps in packed["maps"].items():
        snapshot.layers[name]._maps.update(maps)
    snapshot.adopt(packed["made"])
    return snapshot, packed["stamp"]


def frame_for(settings: Settings) -> LocalFrame:
    """The planar frame centred on the district's extent."""
    minx, miny, maxx, maxy = settings.extent
    return LocalFrame(round((minx + maxx) / 2, 3), round((miny + maxy) / 2, 3))


FILING_COLUMNS = ("prefiling_no", "prefiled_on", "prefiled_until")


def with_filings(features: gpd.GeoDataFrame, approved: dict[str, dict[str, Any]]) -> gpd.GeoDataFrame:
    """The listings with their approved pre-filing's number, approval day and end (None without)."""
    ids = features["id"].tolist() if len(features) else []
    for column, key in zip(FILING_COLUMNS, ("number", "approved_on", "valid_until")):
        features[column] = [approved[i][key] if i in approved else None for i in ids]
    return features


class Catalog:
    """Snapshots of the store's layers: the current one kept in step, earlier ones on request.

    Once listings exist (they start as the vacancies layer), they stand in for the vacancies layer:
    a listing written through this catalog's store shows in the next snapshot after
    :meth:`refresh`, which a writer calls; other processes see it within ``max_age_s``.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        max_age_s: float = 1.0,
        prepare: Callable[[Snapshot], None] | None = None,
        snapshot_dir: Path | None = None,
    ):
        self.store = store
        # Where prepared snapshots are shared with the other workers (see ``snapshot_file``).
        self.snapshot_dir = snapshot_dir
        # Run on each new snapshot before it becomes current (the service builds its checker and
        # scorer there), so that requests keep the old one until the new one is ready to answer.
        self.prepare = prepare
        self.frame = frame_for(settings or Settings())
        self.max_age_s = max_age_s
        self._built: dict[int, LayerIndex] = {}  # by version id
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # held by the one background refresh under way
        self._current = Snapshot({}, self.frame)
        self._listings: tuple[Any, ...] | None = None  # the stamp of the listings in use
        self._checked_at = -math.inf
        self.built_at = time.time()  # when the current snapshot was made (for its age in the metrics)
        self.build_seconds = 0.0  # how long making it took
        self.refresh()

    def _index(self, version: LayerVersion) -> LayerIndex:
        if version.id not in self._built:
            features = self.store.read_layer(version.layer, version=version.version, bounded=False)
            fids, cells = self.store.read_cells(version.id)
            self._built[version.id] = LayerIndex.build(version, features, fids, cells, self.frame)
        return self._built[version.id]

    def refresh(self) -> list[str]:
        """Rebuild the current snapshot where a layer's version changed; return those layers."""
        with self._lock:
            versions = self.store.current_versions()
            changed = [
                name for name, v in versions.items()
                if name not in self._current.layers or self._current.layers[name].version.id != v.id
            ]  # fmt: skip
            stamp = listings.stamp(self.store) if "vacancies" in versions else None
            if stamp != self._listings and "vacancies" not in changed:
                changed.append("vacancies")
            if changed:
                started = time.perf_counter()
                if self.snapshot_dir is not None and changed != ["vacancies"]:
                    made = self._shared(versions, stamp)
                else:
                    previous = self._current if self._current.layers else None
                    made = self._made(versions, stamp, previous, self._listings)
                self._current = made
                self._listings = stamp
                ids = {v.id for v in versions.values()}  # older versions' indexes go with their snapshot
                self._built = {i: idx for i, idx in self._built.items() if i in ids}
                self.built_at, self.build_seconds = time.time(), time.perf_counter() - started
                if changed != ["vacancies"]:
                    # The replaced snapshot and what was made from it point to one another: only a
                    # full collection frees them, and with a city's objects in memory the collector
                    # seldom makes one of its own — it held two snapshots after a new version.
                    gc.collect()
            self._checked_at = time.monotonic()
            return changed

    def _made(
        self,
        versions: dict[str, LayerVersion],
        stamp: Any,
        previous: Snapshot | None,
        previous_stamp: Any = None,
    ) -> Snapshot:
        """A snapshot of the given versions with the listings as now, prepared; ``previous`` (made
        with the listings of ``previous_stamp``) lends what did not change."""
        live = stamp is not None and stamp[0]  # listings exist: they are the vacancies
        layers = {n: self._index(v) for n, v in versions.items() if not (live and n == "vacancies")}
        if live:
            kept = previous.layers.get("vacancies") if previous and previous_stamp == stamp else None
            if kept is None or kept.version.id != versions["vacancies"].id:
                kept = self._live_vacancies(versions["vacancies"])
            layers["vacancies"] = kept
        made = Snapshot(layers, self.frame, previous=previous)
        if self.prepare is not None:
            self.prepare(made)
        return made

    def _shared(self, versions: dict[str, LayerVersion], stamp: Any) -> Snapshot:
        """The snapshot of these versions, shared through the folder. A worker that serves already
        makes it from its own (the unchanged layers' indexes, and what is made only from them,
        are kept: reading the file would hold a second copy of them all until the old snapshot is
        freed) and writes it for workers that start later, unless one has. A worker starting reads
        the file the first to need it made and wrote, with the listings brought up to now."""
        store_id = self.store.engine.url.render_as_string(hide_password=True)
        parts = [store_id, self.frame.lon0, self.frame.lat0, sorted(
            (n, v.id, v.version, v.checksum, v.loaded_at.isoformat()) for n, v in versions.items()
        )]  # fmt: skip
        folder, name = self.snapshot_dir, snapshot_file.key(parts)
        assert folder is not None
        if self._current.layers:
            made = self._made(versions, stamp, self._current, self._listings)
            snapshot_file.offer(folder, name, lambda: _packed(made, stamp))
            return made
        made, written_at = _unpacked(
            snapshot_file.shared(folder, name, lambda: _packed(self._made(versions, stamp, None), stamp))
        )
        live = written_at is not None and written_at[0]
        for layer, idx in made.layers.items():  # its indexes serve the next versions too
            if not (layer == "vacancies" and live):
                self._built[idx.version.id] = idx
        if self.prepare is not None:
            self.prepare(made)  # made already: this only finds it so
        return made if written_at == stamp else self._made(versions, stamp, made, written_at)

    def _live_vacancies(self, version: LayerVersion) -> LayerIndex:
        """The live listings, indexed as a version of the vacancies layer."""
        features = with_filings(
            listings.as_frame(listings.all_listings(self.store, bounded=False)), filings.approved(self.store)
        )
        if not len(features):
            return LayerIndex.build(
                version, features, np.empty(0, dtype=object), np.empty(0, np.int64), self.frame
            )
        lon, lat = features.geometry.x.to_numpy(), features.geometry.y.to_numpy()
        cells = point_cells(lon, lat, version.h3_resolution)
        return LayerIndex.build(version, features, features["id"].to_numpy(object), cells, self.frame)

    def current(self, *, fresh_listings: bool = False) -> Snapshot:
        """The current snapshot, checked against the store at most every ``max_age_s`` seconds;
        ``fresh_listings`` checks the listings now (one small query), for a reader that must see a
        listing another process wrote a moment ago (matching, reports).

        Once there is one, no request waits for the layers: their check runs in the background,
        and while the store is away (or slow) the snapshot in memory keeps answering, with the
        listings as last read."""
        if not self._current.layers:
            self.refresh()  # nothing to answer from yet
        elif fresh_listings and self._listings_changed():
            self.refresh()
        elif self._due() and self._refreshing.acquire(blocking=False):
            threading.Thread(target=self._refresh_in_background, daemon=True).start()
        return self._current

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at > self.max_age_s

    def _listings_changed(self) -> bool:
        try:
            return self._listings is not None and listings.stamp(self.store) != self._listings
        except AWAY as exc:
            log.warning("the listings as last read: the store is away: %s", exc.__class__.__name__)
            return False

    def _refresh_in_background(self) -> None:
        try:
            self.refresh()
        except AWAY as exc:
            log.warning("layer versions not checked, the store is away: %s", exc.__class__.__name__)
            self._checked_at = time.monotonic()  # again after max_age_s
        finally:
            self._refreshing.release()

    def snapshot(self, versions: dict[str, int]) -> Snapshot:
        """A snapshot with the named version of some layers and the current one of the others."""
        current = self.current()
        layers = dict(current.layers)
        with self._lock:
            for name, number in versions.items():
                if name in layers and layers[name].version.version == number:
                    continue  # the current one (for vacancies: the live listings)
                layers[name] = self._index(self.store.resolve_version(name, version=number))
        return Snapshot(layers, self.frame)

    @property
    def versions(self) -> dict[str, int]:
        return self.current().versions
