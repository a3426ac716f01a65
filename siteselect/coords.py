"""Chinese coordinate systems, converted to and from WGS-84 over numpy arrays.

``wgs84`` and ``cgcs2000`` are the same at the accuracy that matters here. ``gcj02`` (Gaode, Tencent) is
WGS-84 moved by a published but non-invertible formula; ``bd09`` (Baidu) is GCJ-02 moved once more. PROJ
does not know either, so the formulas live here. Everything is stored in WGS-84: conversion happens only
when data comes in or goes out.

All functions take and return ``(lon, lat)`` arrays in degrees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siteselect.errors import InvalidInputError

Coordsys = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
COORDSYS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
# The offset applies in mainland China only; elsewhere the systems coincide. The usual bounding box.
_CHINA = (72.004, 0.8293, 137.8347, 55.8271)

Array = NDArray[np.float64]


def check_coordsys(name: str) -> Coordsys:
    """Return ``name`` if it is a known coordinate system, else raise ``InvalidInputError``."""
    if name not in COORDSYS:
        raise InvalidInputError(f"unknown coordinate system {name!r}; use one of {', '.join(COORDSYS)}")
    return name  # type: ignore[return-value]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each point lies where GCJ-02 shifts coordinates."""
    x, y = _arrays(lon, lat)
    minx, miny, maxx, maxy = _CHINA
    return (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)


def _gcj_offset(x: Array, y: Array) -> tuple[Array, Array]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 points."""
    dx, dy = x - 105.0, y - 35.0
    pi = np.pi
    waves = (20.0 * np.sin(6.0 * dx * pi) + 20.0 * np.sin(2.0 * dx * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * np.sqrt(np.abs(dx))
    dlat += waves
    dlat += (20.0 * np.sin(dy * pi) + 40.0 * np.sin(dy / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(dy / 12.0 * pi) + 320.0 * np.sin(dy * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * np.sqrt(np.abs(dx))
    dlon += waves
    dlon += (20.0 * np.sin(dx * pi) + 40.0 * np.sin(dx / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(dx / 12.0 * pi) + 300.0 * np.sin(dx / 30.0 * pi)) * 2.0 / 3.0
    radlat = y / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    inside = in_china(x, y)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Forward GCJ-02 transform (closed formula).

    >>> lon, lat = wgs84_to_gcj02([121.5272106], [31.1774276])
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (121.531541859, 31.175303984)
    """
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, tol: float = 1e-10) -> tuple[Array, Array]:
    """Inverse GCJ-02 by fixed-point iteration: the one-step inverse is off by up to 2 m."""
    gx, gy = _arrays(lon, lat)
    x, y = gx.copy(), gy.copy()
    for _ in range(30):  # converges in 3-5 steps; the bound only guards against a bad input
        fx, fy = wgs84_to_gcj02(x, y)
        ex, ey = fx - gx, fy - gy
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return x, y


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Baidu's further perturbation of GCJ-02."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    inside = in_china(x, y)
    return (
        np.where(inside, z * np.cos(theta) + 0.0065, x),
        np.where(inside, z * np.sin(theta) + 0.006, y),
    )


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike, tol: float = 1e-10) -> tuple[Array, Array]:
    """Inverse of :func:`gcj02_to_bd09`: Baidu's approximate inverse, refined by iteration."""
    bx, by = _arrays(lon, lat)
    x0, y0 = bx - 0.0065, by - 0.006
    z = np.sqrt(x0 * x0 + y0 * y0) - 0.00002 * np.sin(y0 * _X_PI)
    theta = np.arctan2(y0, x0) - 0.000003 * np.cos(x0 * _X_PI)
    x, y = z * np.cos(theta), z * np.sin(theta)
    for _ in range(30):
        fx, fy = gcj02_to_bd09(x, y)
        ex, ey = fx - bx, fy - by
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    inside = in_china(bx, by)
    return np.where(inside, x, bx), np.where(inside, y, by)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coordsys: str) -> tuple[Array, Array]:
    """Convert points given in ``coordsys`` to WGS-84."""
    match check_coordsys(coordsys):
        case "wgs84" | "cgcs2000":
            return _arrays(lon, lat)
        case "gcj02":
            return gcj02_to_wgs84(lon, lat)
        case "bd09":
            return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    raise AssertionError("unreachable")  # pragma: no cover


def from_wgs84(lon: ArrayLike, lat: ArrayLike, coordsys: str) -> tuple[Array, Array]:
    """Convert WGS-84 points to ``coordsys``."""
    match check_coordsys(coordsys):
        case "wgs84" | "cgcs2000":
            return _arrays(lon, lat)
        case "gcj02":
            return wgs84_to_gcj02(lon, lat)
        case "bd09":
            return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    raise AssertionError("unreachable")  # pragma: no cover


def transform_geometries(geoms: ArrayLike, coordsys: str, *, inverse: bool = False) -> NDArray:
    """Convert shapely geometries to WGS-84 (or, with ``inverse``, from WGS-84 to ``coordsys``)."""
    import shapely

    check_coordsys(coordsys)
    arr = np.asarray(geoms, dtype=object)
    if coordsys in ("wgs84", "cgcs2000"):
        return arr
    convert = from_wgs84 if inverse else to_wgs84

    def _apply(xy: Array) -> Array:
        x, y = convert(xy[:, 0], xy[:, 1], coordsys)
        return np.column_stack([x, y])

    return shapely.transform(arr, _apply)
