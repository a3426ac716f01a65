"""Distances in metres on the WGS-84 ellipsoid.

A feature's distance from a point is measured in an azimuthal equidistant projection centred on that
point: distances from the centre are geodesic there, so the nearest point of a polygon's boundary is
found with planar geometry at no loss that matters (micrometres at district scale).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod, Transformer

GEOD = Geod(ellps="WGS84")


@lru_cache(maxsize=4096)
def _aeqd(lon: float, lat: float) -> Transformer:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def distances_m(lon: float, lat: float, geoms: ArrayLike) -> NDArray[np.float64]:
    """Geodesic distance from (lon, lat) to each geometry: 0 inside a polygon, else to its boundary."""
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return np.empty(0)
    forward = _aeqd(float(lon), float(lat))

    def _project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = forward.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    projected = shapely.transform(arr, _project)
    return np.asarray(shapely.distance(shapely.Point(0.0, 0.0), projected), dtype=np.float64)


def point_distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray:
    """Geodesic distance between points, element-wise."""
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=np.float64)
