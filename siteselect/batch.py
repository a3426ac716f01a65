"""Batch work: check and score every candidate of a city, in one process or on a Dask cluster.

On Dask the driver only arranges the work. Candidates are read by the workers as a
``dask.dataframe``, one partition per candidates file, and shuffled by H3 parent cell, each cell's
candidates cut into slices of a bounded size (:func:`slices`) so that no task holds a large cell
whole and no worker's memory grows with the job. Each worker loads the layers once, from a
snapshot file the driver writes beside the results, and builds the *regional* snapshot of each
parent cell it meets itself, keeping the last few: the features of the cell and
a halo wider than the largest distance any rule, list entry or criterion looks (the district
outline, the rules and every transit stop travel whole, and district-wide figures go along), so a
partition's results are exactly those of the whole district in one process. Each worker writes
its results as Parquet parts, a chunk at a time as they come; the driver gathers only their names
and counts, and writes the manifest last: what it holds grows with the files, never the rows.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from siteselect import batch_output, scoring, snapshot_file
from siteselect.candidates import PROBLEMS_SHOWN, BatchError, check_on_bad, input_files, read_file, refusal
from siteselect.check import checker_for, cyclic_gc_paused
from siteselect.grid import cell_names, cell_polygons, point_cells
from siteselect.index import Snapshot
from siteselect.match import Constraints, scorer_for
from siteselect.premises import Premises

PARENT_RES = 5  # cells of ~250 km²: a district is a handful of regions, a city a few dozen
MAX_LOOK_M = 1000.0  # the farthest any rule (200 m), list entry (≤ 1,000 m) or criterion (500 m) looks
SLICE_ROWS = 50_000  # candidates of a parent cell in one slice at most: no task holds a large cell whole
SPREAD = 64  # partitions at least after the shuffle, and two per candidates file: few slices share one
REGIONS_KEPT = 16  # regions a worker process keeps built
HALO_MARGIN_M = 100.0  # for the straight edges of the halo drawn back in lon/lat (off by centimetres)
CHUNK = 50_000  # candidates checked at a time: full results of millions would not fit in memory
# Dask's diagnostics wake every process of a cluster many times a second (the workers' profiler
# every 10 ms, the event loop's health tick every 20 ms, the system and memory monitors): idle,
# they cost a two-worker cluster 0.07 CPU seconds a second, on a busy machine more than the
# scheduling itself. A batch cluster runs with them eased (the README gives them as
# environment variables for `dask scheduler` and `dask worker`).
CLUSTER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
}


def assess(snapshot: Snapshot, table: pd.DataFrame) -> pd.DataFrame:
    """Check and score candidates in this process: one row of results each, in the given order."""
    with cyclic_gc_paused():  # the scores and frames too, not only the checks
        return pd.concat(list(_judged(snapshot, table)), ignore_index=True)


def _judged(snapshot: Snapshot, table: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """The results of ``table``, ``CHUNK`` candidates at a time (at least one frame, maybe empty)."""
    for first in range(0, max(len(table), 1), CHUNK):
        yield _assess(snapshot, table.iloc[first : first + CHUNK])


def _assess(snapshot: Snapshot, table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame(columns=batch_output.RESULTS.names)
    # Plain Python values, taken column by column: iterating Arrow-backed strings or numpy
    # scalars one by one costs more than the premises made of them.
    floors = [None if math.isnan(f) else int(f) for f in table["floor"].to_numpy(float).tolist()]
    columns = [table[c].to_numpy(t).tolist() for c, t in (("ref", object), ("lon", float), ("lat", float),
                                                          ("industry", object))]  # fmt: skip
    checks = checker_for(snapshot).verdicts([
        Premises(industry=c, lon=x, lat=y, floor=f, ref=str(r)) for r, x, y, c, f in zip(*columns, floors)
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


def region_for(snapshot: Snapshot, parent: int) -> Snapshot:
    """The regional snapshot of one H3 parent cell: what its candidates' checks and scores read.

    Its halo is the cell grown by the farthest look and a margin, drawn in the snapshot's planar
    frame (metres): a region holds little more than its cell's features, where a ring of
    neighbouring cells would hold seven cells' worth."""
    cell = snapshot.frame.to_local(cell_polygons([parent]))
    shape = snapshot.frame.to_wgs84(shapely.buffer(cell, MAX_LOOK_M + HALO_MARGIN_M))[0]
    pois = snapshot.layer("pois").features
    transit = {"pois": pois["category"].isin(["metro", "bus"]).to_numpy()}  # nearest stops may be far
    district = snapshot.district or scorer_for(snapshot).district_figures()
    return snapshot.region(shape, district, transit)


def run(
    snapshot: Snapshot,
    inputs: Iterable[str | Path],
    out: str | Path,
    *,
    client: Any = None,
    on_bad: str = "skip",
    csv: str | Path | None = None,
) -> dict[str, Any]:
    """Check and score every candidate of ``inputs`` (CSV, Parquet or GeoParquet files, or folders
    of them) into the results folder ``out``, on the Dask cluster of ``client`` or, without one,
    partition by partition in this process. Bad rows are skipped and named, or refuse the batch
    (``on_bad``) before anything is written; ``csv`` also writes one CSV of every result. Returns
    the manifest, written last (see :mod:`siteselect.batch_output`)."""
    import dask
    from distributed import KilledWorker

    check_on_bad(on_bad)
    files, out = input_files(inputs), Path(out)
    scheduler = client if client is not None else "synchronous"
    rows = _candidates(files)
    if on_bad == "refuse":  # a first reading, so that nothing is written for a refused input
        (problems,) = dask.compute(_problems(rows), scheduler=scheduler)
        if len(problems["problem"]):
            raise refusal(list(problems["problem"]), int(problems["count"].sum()))
    started = time.perf_counter()
    batch_output.prepare(out)
    whole = Snapshot(
        snapshot.layers, snapshot.frame, snapshot.district or scorer_for(snapshot).district_figures()
    )
    path = snapshot_file.write(out, whole)
    try:
        good = rows[rows["problem"] == ""].drop(columns="problem")
        spread = good.shuffle(  # p2p: Dask's shuffle by worker-to-worker transfers, over disk
            on=["parent", "slice"],
            npartitions=max(SPREAD, 2 * rows.npartitions),
            shuffle_method="p2p" if client else "tasks",
        )
        written = spread.map_partitions(_assess_and_write, str(path), str(out), meta=_WRITTEN)
        parts, problems = dask.compute(written, _problems(rows), scheduler=scheduler)  # one reading
    except KilledWorker as exc:  # a task whose every worker died, more than Dask allows
        raise BatchError(f"the batch stopped, {out} holds no complete results: {exc}") from None
    finally:
        path.unlink(missing_ok=True)
    parts = parts.sort_values("file")
    manifest = {
        "rows": int(parts["rows"].sum()),
        "parts": parts.to_dict("records"),
        "skipped": int(problems["count"].sum()),
        "problems": list(problems["problem"])[:PROBLEMS_SHOWN],
        "inputs": [str(f) for f in files],
        "versions": whole.versions,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if csv is not None:
        files_in_order = list(parts["file"])
        if client is not None:  # the results stay off the driver
            client.submit(batch_output.write_csv, out, files_in_order, Path(csv), pure=False).result()
        else:
            batch_output.write_csv(out, files_in_order, Path(csv))
    batch_output.finish(out, manifest)
    return manifest


_ROWS = pd.DataFrame({
    "ref": pd.Series(dtype="str"), "lon": pd.Series(dtype=float), "lat": pd.Series(dtype=float),
    "industry": pd.Series(dtype="str"), "floor": pd.Series(dtype=float),
    "parent": pd.Series(dtype=np.int64), "slice": pd.Series(dtype=np.int64),
    "problem": pd.Series(dtype="str"),
})  # fmt: skip
_WRITTEN = pd.DataFrame({"file": pd.Series(dtype="str"), "rows": pd.Series(dtype=np.int64)})
_PROBLEMS = pd.DataFrame({"problem": pd.Series(dtype="str"), "count": pd.Series(dtype=np.int64)})


def _candidates(files: list[Path]) -> Any:
    """The candidates as a Dask frame, one partition per file, read on the workers; a bad row
    is kept with its complaint in ``problem`` (empty for a good one)."""
    import dask.dataframe as dd

    return dd.from_map(_read_partition, files, range(len(files)), meta=_ROWS, enforce_metadata=False)


def _read_partition(path: Path, number: int) -> pd.DataFrame:
    read = read_file(path)
    parents = point_cells(read.table["lon"].to_numpy(float), read.table["lat"].to_numpy(float), PARENT_RES)
    table = read.table.assign(parent=parents, slice=slices(parents, number), problem="")
    if read.problems:
        bad = pd.DataFrame({"ref": "", "lon": np.nan, "lat": np.nan, "industry": "", "floor": np.nan,
                            "parent": 0, "slice": 0, "problem": read.problems})  # fmt: skip
        table = pd.concat([table, bad], ignore_index=True)
    return table.astype(_ROWS.dtypes.to_dict())


def slices(parents: np.ndarray, number: int) -> np.ndarray:
    """Each candidate's slice of its parent cell, from its file alone (the file's ``number`` and
    cells), so that a task run again puts it in the same slice. No slice holds more than
    :data:`SLICE_ROWS` candidates, however many the job has: the workers' memory does not grow with it.

    A file holding more than that of a cell cuts them into slices of its own; one holding fewer
    shares a slice with the files beside it that hold about as many (a power of two of files,
    ``2**level``, whose shares of the cell fill a slice at most), so a quiet cell's candidates of
    many files come together (a task meets few cells, and a worker builds few regions)."""
    _, cell, counts = np.unique(parents, return_inverse=True, return_counts=True)
    firsts = np.cumsum(counts) - counts  # where each cell's candidates start, in cell order
    order = np.argsort(cell, kind="stable")
    place = np.empty(len(parents), np.int64)  # a candidate's place among its cell's in this file
    place[order] = np.arange(len(parents)) - np.repeat(firsts, counts)
    level = np.floor(np.log2(SLICE_ROWS / counts)).clip(0).astype(np.int64)[cell]
    # level, group of files and cut within the file, in bits 48+, 16-47 and 0-15 of one number
    return (level << 48) | ((number >> level) << 16) | (place // SLICE_ROWS)


def _problems(rows: Any) -> Any:
    """The first complaints of each partition, and how many there were: small, for the driver."""

    def first(part: pd.DataFrame) -> pd.DataFrame:
        said = part["problem"][part["problem"] != ""].iloc[:PROBLEMS_SHOWN].to_numpy()
        count = np.zeros(len(said), dtype=np.int64)
        count[:1] = (part["problem"] != "").sum()  # the partition's count, on its first complaint
        return pd.DataFrame({"problem": said, "count": count}).astype(_PROBLEMS.dtypes.to_dict())

    return rows.map_partitions(first, meta=_PROBLEMS)


def _assess_and_write(part: pd.DataFrame, snapshot_path: str, out: str) -> pd.DataFrame:
    """On a worker: each parent cell's candidates in a partition (one or more of its slices)
    judged with its region and written as their results come, a chunk at a time. A part is named
    after the cell and its first slice, so a task run again replaces its own parts."""
    written = []
    parents = part["parent"].to_numpy(np.int64)
    for parent in np.unique(parents).tolist():
        rows = part[parents == parent]
        name = f"{cell_names([parent])[0]}-{rows['slice'].min()}"
        results = _judged(_region(snapshot_path, parent), rows.drop(columns=["parent", "slice"]))
        with cyclic_gc_paused():
            written.append(batch_output.write_part(Path(out), name, results))
    return pd.DataFrame(written, columns=_WRITTEN.columns).astype(_WRITTEN.dtypes.to_dict())


@functools.lru_cache(maxsize=REGIONS_KEPT)
def _region(snapshot_path: str, parent: int) -> Snapshot:
    """A parent cell's region, built once in a process while among the last few used: the slices
    of a cell often meet on one worker (the snapshot file's name is new for every batch)."""
    return region_for(snapshot_file.load(snapshot_path), parent)


def local_cluster(n_workers: int) -> Any:
    """A Dask cluster on this machine for batches: ``n_workers`` processes of one thread each (a
    check holds Python's lock), with :data:`CLUSTER_SETTINGS`."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(CLUSTER_SETTINGS):  # read as the scheduler and the workers start
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


def connect(scheduler: str, timeout_s: float = 5.0) -> Any:
    """A Dask client for ``tcp://host:port``, or a clear error within ``timeout_s`` seconds."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        raise BatchError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s: {exc}"
        ) from None
