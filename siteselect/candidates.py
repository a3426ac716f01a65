"""Candidate files of a batch: CSV, Parquet or GeoParquet, one file or a folder of partitions.

Every row is validated as a check validates its premises (:meth:`Premises.parse` decides, and words
its complaints); rows are judged by the few distinct (industry, floor, coordinate system) values
they share, and only rows that look wrong are parsed one by one, so millions of rows cost seconds.
A bad row is named by file, line (CSV) or row (Parquet), field and value. A file that is missing,
unreadable or lacks a column is an error naming it: a batch never runs on part of its input.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siteselect.coords import to_wgs84
from siteselect.errors import InvalidInputError, SiteSelectError
from siteselect.premises import Premises

SUFFIXES = (".csv", ".parquet", ".geoparquet")
FIELDS = ("ref", "industry", "lon", "lat", "floor", "coordsys")
TABLE_COLUMNS = ["ref", "lon", "lat", "industry", "floor"]
PROBLEMS_SHOWN = 50  # complaints shown; the rest are counted


class BatchError(SiteSelectError):
    """A batch could not run: the cluster is unreachable, or its input or output was refused."""


@dataclass
class Candidates:
    """Candidates read from a file, and a complaint for each row that could not be read."""

    table: pd.DataFrame  # ref, lon, lat (WGS-84), industry, floor (NaN where none)
    problems: list[str]


def input_files(paths: Iterable[str | Path]) -> list[Path]:
    """The candidate files named: files, folders of them (names starting ``_`` or ``.`` are not
    data, as in Hive-style datasets) or glob patterns; anything missing is named."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.name[0] not in "_.")
            if not inside:
                raise BatchError(f"candidates folder {path} holds no {', '.join(SUFFIXES)} files")
            found += inside
        elif path.is_file():
            found.append(path)
        elif matches := sorted(glob.glob(str(given))):
            found += [Path(m) for m in matches]
        else:
            raise BatchError(f"candidates file {path} is missing")
    for path in found:
        if path.suffix not in SUFFIXES:
            raise BatchError(f"candidates file {path}: not one of {', '.join(SUFFIXES)}")
    return found


def read_candidates(path: str | Path, on_bad: str = "skip") -> Candidates:
    """One candidates file in memory; bad rows are named and skipped, or refuse the file."""
    check_on_bad(on_bad)
    read = read_file(Path(path), ref_prefix="")
    if read.problems and on_bad == "refuse":
        raise refusal(read.problems, len(read.problems))
    return read


def check_on_bad(on_bad: str) -> None:
    if on_bad not in ("skip", "refuse"):
        raise InvalidInputError(f"on_bad must be 'skip' or 'refuse', got {on_bad!r}")


def refusal(problems: list[str], bad: int) -> BatchError:
    """The error of a batch refused for its bad rows: how many, and the first of them."""
    return BatchError(f"{bad} bad row(s), nothing run:\n" + "\n".join(problems[:PROBLEMS_SHOWN]))


def read_file(path: Path, ref_prefix: str | None = None) -> Candidates:
    """Read and validate one file. A row without a ref is called by its line (CSV) or row number,
    after ``ref_prefix`` (by default the file's name and a colon, unique across partitions)."""
    prefix = f"{path.name}:" if ref_prefix is None else ref_prefix
    raw = _read_raw(path)
    missing = [c for c in ("industry", "lon", "lat") if c not in raw.columns]
    if missing:
        raise BatchError(f"candidates file {path} has no column {', '.join(missing)}")
    if path.suffix == ".csv":
        return parse_rows(raw, lambda i: f"{path}, line {i + 2}", lambda i: f"{prefix}{i + 1}")
    return parse_rows(raw, lambda i: f"{path}, row {i + 1}", lambda i: f"{prefix}{i + 1}")


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise BatchError(f"candidates file {path} is missing")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return _read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pyarrow's errors are among these
        kind = "CSV" if path.suffix == ".csv" else "Parquet"
        raise BatchError(f"candidates file {path} cannot be read as {kind}: {exc}") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    """Parquet columns as they are; GeoParquet points as lon and lat in WGS-84."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    if b"geo" not in (pq.read_schema(path).metadata or {}):
        return pq.read_table(path).to_pandas()
    frame = gpd.read_parquet(path)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    points = frame.geometry.geom_type == "Point"
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table["lon"] = np.where(points, frame.geometry.x.where(points), np.nan)
    table["lat"] = np.where(points, frame.geometry.y.where(points), np.nan)
    return table


def parse_rows(
    raw: pd.DataFrame, where: Callable[[int], str], default_ref: Callable[[int], str]
) -> Candidates:
    """Validate raw rows as :meth:`Premises.parse` does; ``where(i)`` names row ``i`` in a complaint.

    The distinct (industry, floor, coordinate system) values are parsed once each; a row whose
    values failed there, or whose lon or lat is not a finite number in range, is parsed alone,
    which words the complaint (or accepts it, where Python reads a number pandas did not)."""
    n = len(raw)
    combo, parsed = _parse_combinations(raw, n)
    good = parsed.ok[combo]
    industry, floor, coordsys = parsed.industry[combo], parsed.floor[combo], parsed.coordsys[combo]
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(float, copy=True)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(float, copy=True)
    good &= (np.abs(lon) <= 180) & (np.abs(lat) <= 90)  # False for NaN
    problems, keep = [], good.copy()
    for i in np.flatnonzero(~good).tolist():
        try:
            p = Premises.parse(**{f: _text(raw[f].iat[i]) for f in FIELDS[1:] if f in raw.columns})
        except SiteSelectError as exc:
            problems.append(f"{where(i)}: {exc}")
            continue
        keep[i], lon[i], lat[i] = True, p.lon, p.lat
        industry[i], floor[i], coordsys[i] = p.industry, np.nan if p.floor is None else p.floor, p.coordsys
    table = pd.DataFrame({
        "ref": pd.array(_refs(raw, n, default_ref)[keep], dtype="str"),
        "lon": lon[keep], "lat": lat[keep],
        "industry": pd.array(industry[keep], dtype="str"), "floor": floor[keep],
    })  # fmt: skip
    _to_wgs84(table, coordsys[keep])
    return Candidates(table, problems)


@dataclass
class _Parsed:
    """What Premises.parse made of each distinct (industry, floor, coordinate system)."""

    ok: np.ndarray
    industry: np.ndarray
    floor: np.ndarray
    coordsys: np.ndarray


def _parse_combinations(raw: pd.DataFrame, n: int) -> tuple[np.ndarray, _Parsed]:
    """The combination of each row, and each combination parsed."""
    codes, uniques = [], []
    for field in ("industry", "floor", "coordsys"):
        column = raw[field] if field in raw.columns else pd.Series(np.full(n, "", dtype=object))
        c, u = pd.factorize(column, use_na_sentinel=False)
        codes.append(c.astype(np.int64))
        uniques.append(np.asarray(u, dtype=object))
    sizes = [max(1, len(u)) for u in uniques]
    combined = np.unique((codes[0] * sizes[1] + codes[1]) * sizes[2] + codes[2], return_inverse=True)
    keys, inverse = combined[0], combined[1]
    parsed = _Parsed(
        np.zeros(len(keys), dtype=bool), np.full(len(keys), "", dtype=object),
        np.full(len(keys), np.nan), np.full(len(keys), "wgs84", dtype=object),
    )  # fmt: skip
    for j, key in enumerate(keys.tolist()):
        a, rest = divmod(key, sizes[1] * sizes[2])
        b, c = divmod(rest, sizes[2])
        try:
            p = Premises.parse(
                industry=_text(uniques[0][a]), lon=0.0, lat=0.0,
                floor=_text(uniques[1][b]), coordsys=_text(uniques[2][c]) or "wgs84",
            )  # fmt: skip
        except SiteSelectError:
            continue
        parsed.ok[j], parsed.industry[j], parsed.coordsys[j] = True, p.industry, p.coordsys
        parsed.floor[j] = np.nan if p.floor is None else p.floor
    return inverse, parsed


def _text(value: object) -> str:
    """A value as a CSV would give it: '' for none, 2 for 2.0."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _refs(raw: pd.DataFrame, n: int, default_ref: Callable[[int], str]) -> np.ndarray:
    """Each row's ref, or its default where it has none."""
    if "ref" not in raw.columns:
        refs = np.full(n, "", dtype=object)
    elif pd.api.types.is_float_dtype(raw["ref"]):  # a number column with gaps: 7.0 is ref 7
        refs = np.array([_text(v) for v in raw["ref"]], dtype=object)
    else:
        refs = raw["ref"].astype("str").fillna("").to_numpy(object)
    for i in np.flatnonzero(refs == "").tolist():
        refs[i] = default_ref(i)
    return refs


def _to_wgs84(table: pd.DataFrame, coordsys: np.ndarray) -> None:
    """Coordinates given in another system than WGS-84 converted as a check converts them."""
    for system in set(coordsys.tolist()) - {"wgs84", "cgcs2000"}:
        at = coordsys == system
        lon, lat = to_wgs84(
            table.loc[at, "lon"].to_numpy(float), table.loc[at, "lat"].to_numpy(float), system
        )
        table.loc[at, "lon"], table.loc[at, "lat"] = lon, lat
