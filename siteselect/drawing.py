"""What maps draw: the base-map setting, styles and verdict colours, and layer geometry turned into
compact GeoJSON.

Reports and the web map share these (the page gets them from the service). Geometry is simplified
below half a metre and rounded to 0.1 m (finer only adds bytes), and shifted to GCJ-02 when the
tiles beneath are in that datum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from siteselect.coords import transform_geometries
from siteselect.index import Snapshot
from siteselect.labels import both, en, zh
from siteselect.settings import Settings

DECIMALS = 6  # coordinates drawn to 0.1 m
SIMPLIFY_M = 0.5  # drawn outlines lose detail below this
VERDICT_GROUP = "verdicts"  # of the labels
BASE_STYLES = {
    "boundaries": ("行政区划 boundaries", {"color": "#455a64", "weight": 2, "dashArray": "6 4"}),
    "roads": ("道路 roads", {"color": "#bdbdbd", "weight": 6, "opacity": 0.9}),
    "buildings": ("建筑 buildings", {"color": "#9e9e9e", "weight": 1, "fillColor": "#e0e0e0",
                                   "fillOpacity": 0.6}),
}  # fmt: skip
Layer = tuple[list[shapely.Geometry], list[dict[str, Any]]]  # geometries in the local frame, properties
# Each carries white text at 4.5:1 or more (WCAG AA): the review amber is a dark one for that.
VERDICT_COLOURS = {"permitted": "#2e7d32", "review": "#b45309", "prohibited": "#c62828"}


def page_constants() -> dict[str, Any]:
    """What the web map shares with the reports — verdict colours and labels, the base layers'
    styles — as the service hands them to the page (which keeps no copy of its own)."""
    return {
        "verdictColours": VERDICT_COLOURS,
        "baseStyles": {name: style for name, (_, style) in BASE_STYLES.items()},
        "verdicts": {
            lang: {v: label(VERDICT_GROUP, v) for v in VERDICT_COLOURS}
            for lang, label in (("zh", zh), ("en", en))
        },
    }


@dataclass(frozen=True)
class Basemap:
    """What maps draw beneath the data (the ``basemap`` setting)."""

    tiles: str | None = None  # URL template, or None: vectors only
    gcj02: bool = False  # the tiles are in GCJ-02: shift what is drawn to match
    attribution: str = ""

    @classmethod
    def parse(cls, setting: str, attribution: str = "") -> Basemap:
        if setting == "none":
            return cls()
        return cls(setting.removeprefix("gcj02:"), setting.startswith("gcj02:"), attribution)

    @classmethod
    def from_settings(cls, settings: Settings) -> Basemap:
        return cls.parse(settings.basemap, settings.basemap_attribution)


def feature_collection(
    snapshot: Snapshot,
    geoms: Iterable[Any],
    props: Iterable[dict[str, Any]],
    basemap: Basemap,
    *,
    local: bool = True,
) -> dict[str, Any]:
    """GeoJSON of geometries in the snapshot's local frame (or, ``local=False``, in lon/lat)."""
    arr = np.asarray(list(geoms), dtype=object)
    if local:
        arr = snapshot.frame.to_wgs84(shapely.simplify(arr, SIMPLIFY_M))
    if basemap.gcj02:
        arr = transform_geometries(arr, "gcj02", inverse=True)
    arr = shapely.transform(arr, lambda xy: np.round(xy, DECIMALS))
    features = [
        {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
        for g, p in zip(arr, props)
    ]
    return {"type": "FeatureCollection", "features": features}


def near(snapshot: Snapshot, layer: str, area: shapely.Geometry | None) -> NDArray[np.intp]:
    """Rows of a layer's features that touch ``area`` (local frame; None: all of them)."""
    if not snapshot.has(layer):
        return np.empty(0, dtype=np.intp)
    index = snapshot.layer(layer)
    return np.arange(len(index.features)) if area is None else index.touching(area)


def base_layers(snapshot: Snapshot, area: shapely.Geometry | None = None) -> dict[str, Layer]:
    """District and street outlines, roads and buildings (within ``area``, cut to its box): the base
    map when no tiles are set."""
    return outline_layers(snapshot, area) | {"buildings": buildings_layer(snapshot, area)}


def outline_layers(snapshot: Snapshot, area: shapely.Geometry | None = None) -> dict[str, Layer]:
    """District and street outlines and roads (within ``area``, cut to its box)."""
    box = None if area is None else shapely.box(*area.bounds)
    out: dict[str, Layer] = {}
    if snapshot.has("districts"):
        districts = snapshot.layer("districts")
        rows = near(snapshot, "districts", box)
        rows = rows[districts.features["level"].to_numpy()[rows] != "community"]
        names = districts.features["name"].to_numpy()[rows]
        out["boundaries"] = _lines(shapely.boundary(districts.local[rows]), names, box)
    if snapshot.has("roads"):
        roads = snapshot.layer("roads")
        rows = near(snapshot, "roads", box)
        out["roads"] = _lines(roads.local[rows], roads.features["name"].to_numpy()[rows], box)
    return out


def buildings_layer(snapshot: Snapshot, area: shapely.Geometry | None = None) -> Layer:
    """The buildings that touch ``area`` (all of them when None), named with their use."""
    if not snapshot.has("buildings"):
        return [], []
    buildings = snapshot.layer("buildings")
    rows = near(snapshot, "buildings", area)
    feats = buildings.features.iloc[rows]
    props = [{"name": f"{n}（{both('uses', u)}）"} for n, u in zip(feats["name"], feats["use"])]
    return list(buildings.local[rows]), props


def _lines(lines: NDArray[np.object_], names: NDArray[np.object_], box: shapely.Geometry | None) -> Layer:
    """Lines cut to the box, each as one multiline; those with nothing left are dropped."""
    if box is not None:
        lines = shapely.clip_by_rect(lines, *box.bounds)
    geoms, props = [], []
    for line, name in zip(lines, names):
        parts = [p for p in shapely.get_parts(line) if p.geom_type == "LineString" and not p.is_empty]
        if parts:
            geoms.append(shapely.MultiLineString(parts))
            props.append({"name": str(name)})
    return geoms, props
