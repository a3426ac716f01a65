"""The in-process H3 index of the current layer versions: the request path's source of candidates.

Each layer is held as a GeoDataFrame plus two aligned arrays sorted by cell (cell, feature position),
so a query is a few binary searches. The catalog is rebuilt for a layer when its version changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from siteselect.errors import NotFoundError
from siteselect.grid import disc_cells
from siteselect.store import LayerVersion, Store


@dataclass(frozen=True)
class LayerIndex:
    """One layer version, its features and their cells."""

    version: LayerVersion
    features: gpd.GeoDataFrame
    cells: NDArray[np.int64]  # sorted
    positions: NDArray[np.intp]  # row of ``features`` for each cell

    @classmethod
    def build(
        cls,
        version: LayerVersion,
        features: gpd.GeoDataFrame,
        fids: NDArray[np.object_],
        cells: NDArray[np.int64],
    ) -> LayerIndex:
        row_of = {fid: row for row, fid in enumerate(features["id"].tolist())}
        positions = np.fromiter((row_of[f] for f in fids), dtype=np.intp, count=len(fids))
        order = np.argsort(cells, kind="stable")
        return cls(version, features, cells[order], positions[order])

    def candidates(self, lon: float, lat: float, radius_m: float) -> NDArray[np.intp]:
        """Rows of features that may lie within ``radius_m`` of (lon, lat): never misses one."""
        disc = disc_cells(lon, lat, radius_m, self.version.h3_resolution)
        starts = np.searchsorted(self.cells, disc, side="left")
        ends = np.searchsorted(self.cells, disc, side="right")
        hits = [self.positions[s:e] for s, e in zip(starts, ends) if e > s]
        if not hits:
            return np.empty(0, dtype=np.intp)
        return np.unique(np.concatenate(hits))

    def nearby(self, lon: float, lat: float, radius_m: float) -> gpd.GeoDataFrame:
        """The candidate features themselves."""
        return self.features.iloc[self.candidates(lon, lat, radius_m)]


class Catalog:
    """Indexes of the current version of every layer with geometry, kept in step with the store."""

    def __init__(self, store: Store):
        self.store = store
        self._layers: dict[str, LayerIndex] = {}
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> list[str]:
        """Rebuild the index of every layer whose current version changed; return their names."""
        rebuilt = []
        with self._lock:
            for name, version in self.store.current_versions().items():
                held = self._layers.get(name)
                if held is not None and held.version.id == version.id:
                    continue
                features = self.store.read_layer(name, version=version.version)
                fids, cells = self.store.read_cells(version.id)
                self._layers[name] = LayerIndex.build(version, features, fids, cells)
                rebuilt.append(name)
        return rebuilt

    def layer(self, name: str) -> LayerIndex:
        try:
            return self._layers[name]
        except KeyError:
            raise NotFoundError(f"layer {name!r} has no loaded version") from None

    @property
    def versions(self) -> dict[str, int]:
        return {name: idx.version.version for name, idx in self._layers.items()}
