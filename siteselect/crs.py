"""The coordinate reference systems features are served in (OGC API Features, Part 2).

Everything is stored in WGS-84 longitude, latitude (CRS84); other systems are converted at the
edge, out for ``crs`` and in for ``bbox-crs`` and ``filter-crs``. Axis order is the CRS's own:
EPSG:4326 and EPSG:4490 (CGCS2000, China's national datum) are latitude first, CRS84 and
EPSG:3857 (web Mercator, metres) easting first. CGCS2000 is converted by the same step as every
other Chinese system (``siteselect.coords``): equal to WGS-84 at the accuracy of these layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

from siteselect.coords import from_wgs84, to_wgs84
from siteselect.errors import InvalidInputError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
XY = NDArray[np.float64]


@dataclass(frozen=True)
class Crs:
    """One system: its URI, whether latitude comes first, and the coordsys or EPSG code behind it."""

    uri: str
    lat_first: bool
    coordsys: str | None = None  # a system of siteselect.coords
    epsg: int | None = None  # a projected system, through pyproj


SUPPORTED = {
    crs.uri: crs
    for crs in (
        Crs(CRS84, lat_first=False, coordsys="wgs84"),
        Crs(f"{EPSG}4326", lat_first=True, coordsys="wgs84"),
        Crs(f"{EPSG}4490", lat_first=True, coordsys="cgcs2000"),
        Crs(f"{EPSG}3857", lat_first=False, epsg=3857),
    )
}
# Short names clients also write, e.g. ``EPSG:4490``.
ALIASES = {"CRS84": CRS84, "OGC:CRS84": CRS84} | {
    f"EPSG:{uri.rsplit('/', 1)[1]}": uri for uri in SUPPORTED if uri.startswith(EPSG)
}


def check_crs(text: str, field: str = "crs") -> Crs:
    """The system a URI (or a short name such as ``EPSG:4490``) names, or a clear error."""
    uri = ALIASES.get(text.strip(), text.strip())
    if uri not in SUPPORTED:
        raise InvalidInputError(f"{field} {text!r} is not supported; use one of {', '.join(SUPPORTED)}")
    return SUPPORTED[uri]


@cache
def _mercator(inverse: bool) -> Transformer:
    source, target = ("EPSG:3857", "EPSG:4326") if inverse else ("EPSG:4326", "EPSG:3857")
    return Transformer.from_crs(source, target, always_xy=True)


def _from_crs84(crs: Crs) -> Callable[[XY], XY]:
    def convert(xy: XY) -> XY:
        if crs.epsg is not None:
            x, y = _mercator(False).transform(xy[:, 0], xy[:, 1])
        else:
            x, y = from_wgs84(xy[:, 0], xy[:, 1], crs.coordsys or "wgs84")
        return np.column_stack([y, x] if crs.lat_first else [x, y])

    return convert


def _to_crs84(crs: Crs) -> Callable[[XY], XY]:
    def convert(xy: XY) -> XY:
        a, b = xy[:, 0], xy[:, 1]
        x, y = (b, a) if crs.lat_first else (a, b)
        if crs.epsg is not None:
            lon, lat = _mercator(True).transform(x, y)
        else:
            lon, lat = to_wgs84(x, y, crs.coordsys or "wgs84")
        return np.column_stack([lon, lat])

    return convert


def from_crs84(geoms: ArrayLike, crs: Crs) -> NDArray[np.object_]:
    """Stored (CRS84) geometries in ``crs``, in its axis order."""
    arr = np.asarray(geoms, dtype=object)
    return arr if crs.uri == CRS84 else shapely.transform(arr, _from_crs84(crs))


def to_crs84(geoms: ArrayLike, crs: Crs) -> NDArray[np.object_]:
    """Geometries written in ``crs`` (its axis order) as CRS84."""
    arr = np.asarray(geoms, dtype=object)
    return arr if crs.uri == CRS84 else shapely.transform(arr, _to_crs84(crs))


def bbox_to_crs84(box: tuple[float, float, float, float], crs: Crs) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``crs`` (its axis order) as a CRS84 ``minlon, minlat, maxlon, maxlat``:
    the bounds of the box's outline converted (densified, as Mercator's edges are not meridians)."""
    if crs.uri == CRS84:
        return box
    outline = shapely.segmentize(shapely.box(*box), (box[2] - box[0]) / 16)
    minx, miny, maxx, maxy = shapely.bounds(to_crs84([outline], crs)[0]).tolist()
    return minx, miny, maxx, maxy
