"""Read layer files (GeoJSON, GeoPackage, Shapefile, CSV, and YAML/JSON records) and write them out.

Reading only parses: it returns raw values with the geometry converted to WGS-84, and leaves every
judgement to :mod:`siteselect.validation`. Parse failures that belong to one row (a bad WKT, a lon that is
not a number) are reported like any other bad value, together with the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import yaml

from siteselect.coords import check_coordsys, transform_geometries
from siteselect.errors import InvalidInputError, LayerValidationError, Problem
from siteselect.validation import is_missing

VECTOR_SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
}
RECORD_SUFFIXES = {".yaml", ".yml"}


def read_layer_file(path: str | Path, coordsys: str = "wgs84") -> pd.DataFrame:
    """Read one layer file into a frame of raw values, geometry in WGS-84.

    The result has an ``id`` column (if the file has one), the attribute columns, and a
    ``geometry`` column of shapely geometries (absent for record files such as rules).
    """
    path = Path(path)
    check_coordsys(coordsys)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix in RECORD_SUFFIXES or (suffix == ".json" and _is_record_json(path)):
        return _read_records(path)
    elif suffix in VECTOR_SUFFIXES:
        frame = _read_vector(path)
    else:
        known = ", ".join(sorted([*VECTOR_SUFFIXES, ".csv", *RECORD_SUFFIXES]))
        raise InvalidInputError(f"{path}: unknown file type {suffix!r}; use one of {known}")
    if "geometry" in frame.columns:
        frame["geometry"] = transform_geometries(frame["geometry"].to_numpy(), coordsys)
    return frame


def _is_record_json(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"[")


def _read_records(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in RECORD_SUFFIXES else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot be parsed: {exc}") from exc
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidInputError(f"{path}: expected a list of records (mappings)")
    return pd.DataFrame.from_records(data).astype(object)


def _read_vector(path: Path) -> pd.DataFrame:
    try:
        gdf = pyogrio.read_dataframe(path, fid_as_index=False)
    except pyogrio.errors.DataSourceError as exc:
        raise InvalidInputError(f"{path}: cannot be read: {exc}") from exc
    if gdf.crs is not None and not _is_wgs84(gdf.crs):
        gdf = gdf.to_crs("EPSG:4326")
    frame = pd.DataFrame(gdf.drop(columns="geometry")).astype(object)
    frame["geometry"] = gdf.geometry.array
    return frame


def _is_wgs84(crs: Any) -> bool:
    epsg = crs.to_epsg()
    return epsg in (4326, 4490) or crs.equals("OGC:CRS84")


def _read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    source = str(path)
    problems: list[Problem] = []
    if {"lon", "lat"} <= set(frame.columns):
        geoms = _points_from_columns(frame, source, problems)
        frame = frame.drop(columns=["lon", "lat"])
    elif "geometry" in frame.columns:
        geoms = _shapes_from_wkt(frame["geometry"].tolist(), source, problems)
    else:
        geoms = None
    if problems:
        raise LayerValidationError(problems)
    frame = frame.astype(object)
    if geoms is not None:
        frame["geometry"] = geoms
    return frame


def _points_from_columns(frame: pd.DataFrame, source: str, problems: list[Problem]) -> np.ndarray:
    coords = {}
    for name in ("lon", "lat"):
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce")
        for row in np.flatnonzero(values.isna().to_numpy()):
            problems.append(Problem(source, int(row), name, frame[name].iloc[row], "is not a number"))
        coords[name] = values.to_numpy(dtype=float)
    return shapely.points(coords["lon"], coords["lat"])


def _shapes_from_wkt(texts: list[str], source: str, problems: list[Problem]) -> np.ndarray:
    geoms = np.empty(len(texts), dtype=object)
    for row, text in enumerate(texts):
        if is_missing(text):
            continue
        try:
            geoms[row] = shapely.from_wkt(text)
        except shapely.errors.GEOSException as exc:
            problems.append(Problem(source, row, "geometry", text[:80], f"is not WKT: {exc}"))
    return geoms


def write_layer_file(gdf: gpd.GeoDataFrame, path: str | Path, coordsys: str = "wgs84") -> None:
    """Write a layer to GeoJSON, GeoPackage, Shapefile or CSV (WKT), converting out of WGS-84."""
    path = Path(path)
    check_coordsys(coordsys)
    suffix = path.suffix.lower()
    has_geometry = "geometry" in gdf.columns
    out = gdf.copy()
    for column in out.columns:
        if column != "geometry":
            out[column] = out[column].map(_flatten)
    if has_geometry:
        moved = transform_geometries(out["geometry"].to_numpy(), coordsys, inverse=True)
        out = gpd.GeoDataFrame(out.drop(columns="geometry"), geometry=moved, crs="EPSG:4326")
    if suffix == ".csv":
        frame = pd.DataFrame(out)
        if has_geometry:
            frame["geometry"] = shapely.to_wkt(out.geometry.to_numpy(), rounding_precision=-1)
        frame.to_csv(path, index=False)
    elif suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(pd.DataFrame(gdf).to_dict("records"), allow_unicode=True))
    elif suffix == ".shp" and has_geometry and out.geom_type.str.removeprefix("Multi").nunique() > 1:
        kinds = ", ".join(sorted(out.geom_type.unique()))
        raise InvalidInputError(f"{path}: a Shapefile holds one geometry type, this layer has {kinds}")
    elif suffix in VECTOR_SUFFIXES and has_geometry:
        pyogrio.write_dataframe(out, path, driver=VECTOR_SUFFIXES[suffix])
    else:
        raise InvalidInputError(f"{path}: cannot write this layer as {suffix!r}")


def _flatten(value: Any) -> Any:
    """File formats hold scalars: lists become 'a;b', mappings JSON text."""
    if isinstance(value, list):
        return ";".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value
