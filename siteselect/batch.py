"""Batch work: check and score every candidate of a city, in one process or on a Dask cluster.

Candidates are partitioned by their H3 parent cell. Each partition travels to a worker with a
*regional* snapshot: the features of its parent cell and a halo of neighbouring cells wider than
the largest distance any rule, list entry or criterion looks (the district outline, the rules and
every transit stop travel whole, and district-wide figures go along), so a partition's results are
exactly those of the whole district in one process.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from siteselect import scoring
from siteselect.check import checker_for, cyclic_gc_paused
from siteselect.coords import to_wgs84
from siteselect.errors import InvalidInputError, SiteSelectError
from siteselect.grid import cell_polygons, disk, edge_length_m, point_cells
from siteselect.index import Snapshot
from siteselect.match import Constraints, scorer_for
from siteselect.premises import Premises

PARENT_RES = 6  # cells of ~36 km²: a district is a few dozen partitions
RESULT_COLUMNS = ["ref", "industry", "verdict", "score", "reasons", "error"]
MAX_LOOK_M = 1000.0  # the farthest any rule (200 m), list entry (≤ 1,000 m) or criterion (500 m) looks


class BatchError(SiteSelectError):
    """A batch could not run: the cluster is unreachable, or the candidate file was refused."""


@dataclass
class Candidates:
    """Candidates read from a file, and the rows that could not be read."""

    table: pd.DataFrame  # ref, lon, lat, industry, floor
    problems: list[str]


def read_candidates(path: str | Path, on_bad: str = "skip") -> Candidates:
    """Read ``ref,industry,lon,lat[,floor,coordsys]`` rows; bad rows are named and skipped, or refuse
    the file. Coordinates in another system than WGS-84 are converted as a check converts them."""
    if on_bad not in ("skip", "refuse"):
        raise InvalidInputError(f"on_bad must be 'skip' or 'refuse', got {on_bad!r}")
    rows, problems = [], []
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):  # line 1 is the header
            try:
                p = Premises.parse(
                    **{k: v for k, v in row.items() if k in ("industry", "lon", "lat", "floor", "coordsys")}
                )
                if p.lon is None or p.lat is None:
                    raise InvalidInputError("lon and lat are required in a batch")
            except SiteSelectError as exc:
                problems.append(f"{path}, line {n}: {exc}")
                continue
            rows.append((row.get("ref") or str(n - 1), p.lon, p.lat, p.industry, p.floor, p.coordsys))
    if problems and on_bad == "refuse":
        raise BatchError(f"{len(problems)} bad row(s), nothing run:\n" + "\n".join(problems[:50]))
    table = pd.DataFrame(rows, columns=["ref", "lon", "lat", "industry", "floor", "coordsys"])
    for system in set(table["coordsys"]) - {"wgs84", "cgcs2000"}:
        at = (table["coordsys"] == system).to_numpy()
        lon, lat = to_wgs84(
            table.loc[at, "lon"].to_numpy(float), table.loc[at, "lat"].to_numpy(float), system
        )
        table.loc[at, "lon"], table.loc[at, "lat"] = lon, lat
    return Candidates(table.drop(columns="coordsys"), problems)


CHUNK = 50_000  # candidates checked at a time: full results of millions would not fit in memory


def assess(snapshot: Snapshot, table: pd.DataFrame) -> pd.DataFrame:
    """Check and score candidates in this process: one row of results each, in the given order."""
    with cyclic_gc_paused():  # the scores and frames too, not only the checks
        return _assess_chunks(snapshot, table)


def _assess_chunks(snapshot: Snapshot, table: pd.DataFrame) -> pd.DataFrame:
    if len(table) > CHUNK:
        return pd.concat([_assess(snapshot, table.iloc[i : i + CHUNK]) for i in range(0, len(table), CHUNK)],
                         ignore_index=True)  # fmt: skip
    return _assess(snapshot, table)


def _assess(snapshot: Snapshot, table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    floors = [None if pd.isna(f) else int(f) for f in table["floor"]]
    checks = checker_for(snapshot).verdicts([
        Premises(industry=c, lon=float(x), lat=float(y), floor=f, ref=str(r))
        for r, x, y, c, f in zip(table["ref"], table["lon"], table["lat"], table["industry"], floors)
    ])  # fmt: skip
    score = np.full(len(table), np.nan)
    points = snapshot.frame.points(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    xy = shapely.get_coordinates(points)
    codes = table["industry"].to_numpy()
    for code in np.unique(codes).tolist():
        rows = np.flatnonzero(codes == code)
        nan = np.full(len(rows), np.nan)
        scores, _ = scorer_for(snapshot).criteria(xy[rows], code, nan, nan, Constraints())
        score[rows] = scoring.totals(scores, scoring.normalize_weights(scoring.default_weights(code)))
    return pd.DataFrame({
        "ref": table["ref"].to_numpy(),
        "industry": table["industry"].to_numpy(),
        "verdict": [c.verdict for c in checks],
        "score": np.round(score, 6),
        "reasons": [";".join(c.reasons) for c in checks],
        "error": [c.error for c in checks],
    })  # fmt: skip


def partitions(snapshot: Snapshot, table: pd.DataFrame) -> Iterator[tuple[Snapshot, pd.DataFrame]]:
    """Candidates grouped by H3 parent cell, each with the regional snapshot it needs."""
    parents = point_cells(table["lon"].to_numpy(float), table["lat"].to_numpy(float), PARENT_RES)
    pois = snapshot.layer("pois").features
    transit = {"pois": pois["category"].isin(["metro", "bus"]).to_numpy()}  # nearest stops may be far
    district = scorer_for(snapshot).district_figures()
    for parent in np.unique(parents).tolist():
        rows = np.flatnonzero(parents == parent)
        ring = disk(parent, _halo_rings())
        region = shapely.union_all(cell_polygons(ring))
        yield snapshot.region(region, district, transit), table.iloc[rows]


def _halo_rings() -> int:
    """Rings of parent cells whose width exceeds the farthest look (10% below the average edge)."""
    edge = edge_length_m(PARENT_RES)
    return max(1, math.ceil(MAX_LOOK_M / (1.5 * edge * 0.9)))


def assess_distributed(snapshot: Snapshot, table: pd.DataFrame, client: Any) -> pd.DataFrame:
    """As :func:`assess`, partition by partition on a Dask cluster; the same results, in order."""
    futures = [
        client.submit(assess, region, part, pure=False) for region, part in partitions(snapshot, table)
    ]
    results = (
        pd.concat(client.gather(futures), ignore_index=True)
        if futures
        else pd.DataFrame(columns=RESULT_COLUMNS)
    )
    order = pd.Series(np.arange(len(table)), index=table["ref"].to_numpy())
    return results.iloc[np.argsort(order.loc[results["ref"]].to_numpy(), kind="stable")].reset_index(
        drop=True
    )


def connect(scheduler: str, timeout_s: float = 5.0) -> Any:
    """A Dask client for ``tcp://host:port``, or a clear error within ``timeout_s`` seconds."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        raise BatchError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s: {exc}"
        ) from None
