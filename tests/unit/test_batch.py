"""Batch work on Dask: candidates read as partitions, regions by H3 parent cell, results written by
the workers and equal to one process; bad rows, files, schedulers and workers met with clear errors."""

import json
import os
import signal
import threading
import time

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from distributed import Client

from siteselect import batch, snapshot_file
from siteselect.batch import assess, connect, region_for
from siteselect.batch_output import MANIFEST, manifest_of, read_results
from siteselect.candidates import BatchError, read_candidates
from siteselect.cli import main
from siteselect.grid import point_cells
from siteselect.index import Catalog
from siteselect.store import Store

CODES = ["6210", "9013", "6232", "5227", "6513", "9011", "8222"]


@pytest.fixture(scope="module")
def snapshot(demo_db):
    return Catalog(Store(demo_db)).current()


@pytest.fixture(scope="module")
def candidates(snapshot) -> pd.DataFrame:
    """Every house number and every vacancy of the demo, with a mix of industries."""
    frames = []
    for layer in ("house_numbers", "vacancies"):
        f = snapshot.layer(layer).features
        frames.append(pd.DataFrame({"ref": f["id"], "lon": f.geometry.x, "lat": f.geometry.y}))
    table = pd.concat(frames, ignore_index=True)
    table["industry"] = [CODES[i % len(CODES)] for i in range(len(table))]
    table["floor"] = [np.nan if i % 3 else 2.0 for i in range(len(table))]
    return table


@pytest.fixture(scope="module")
def single(snapshot, candidates) -> pd.DataFrame:
    """The candidates judged in one process, over the whole snapshot."""
    return _by_ref(assess(snapshot, candidates))


@pytest.fixture(scope="module")
def cluster():
    with batch.local_cluster(2) as c, Client(c) as client:
        yield client


def _by_ref(results: pd.DataFrame) -> pd.DataFrame:
    return results.sort_values("ref").reset_index(drop=True)


def _files(candidates: pd.DataFrame, folder, kinds=("parquet", "parquet", "csv", "geoparquet")):
    """The candidates as partitions of every kind a batch reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, (kind, part) in enumerate(zip(kinds, np.array_split(np.arange(len(candidates)), len(kinds)))):
        rows = candidates.iloc[part]
        if kind == "csv":
            rows.astype({"floor": "Int64"}).to_csv(folder / f"c{n}.csv", index=False)  # 2, not 2.0
        elif kind == "geoparquet":
            points = gpd.points_from_xy(rows["lon"], rows["lat"], crs=4326)
            gpd.GeoDataFrame(rows.drop(columns=["lon", "lat"]), geometry=points).to_parquet(
                folder / f"c{n}.parquet"
            )
        else:
            rows.to_parquet(folder / f"c{n}.parquet", index=False)
    return folder


def test_a_region_holds_fewer_features_and_judges_its_candidates_as_the_whole(snapshot, candidates, single):
    parents = point_cells(candidates["lon"], candidates["lat"], batch.PARENT_RES)
    assert len(np.unique(parents)) >= 3
    busiest = np.bincount(np.unique(parents, return_inverse=True)[1]).argmax()
    parent = int(np.unique(parents)[busiest])
    region = region_for(snapshot, parent)
    assert len(region.layer("buildings").features) < len(snapshot.layer("buildings").features)
    rows = candidates[parents == parent]
    pd.testing.assert_frame_equal(_by_ref(assess(region, rows)), single[single["ref"].isin(rows["ref"])]
                                  .reset_index(drop=True))  # fmt: skip


def test_two_worker_cluster_equals_one_process(snapshot, candidates, single, cluster, tmp_path):
    inputs = _files(candidates, tmp_path / "in")
    manifest = batch.run(snapshot, [inputs], tmp_path / "out", client=cluster, csv=tmp_path / "all.csv")
    assert set(single["verdict"]) == {"prohibited", "review", "permitted"}
    pd.testing.assert_frame_equal(_by_ref(read_results(tmp_path / "out")), single)
    assert manifest == manifest_of(tmp_path / "out") and manifest["rows"] == len(candidates)
    assert manifest["skipped"] == 0
    assert manifest["versions"] == snapshot.versions and len(manifest["inputs"]) == 4
    # each worker read the layers once, ran with the diagnostics eased, and the snapshot file is gone
    assert set(cluster.run(lambda: snapshot_file.loads).values()) == {1}
    assert set(cluster.run(lambda: dask.config.get("distributed.worker.profile.enabled")).values()) == {False}
    assert not list((tmp_path / "out").glob("_snapshot*")) and not list((tmp_path / "out").glob(".*"))
    written = pd.read_csv(tmp_path / "all.csv", dtype={"ref": str})
    assert len(written) == len(candidates) and set(written["ref"]) == set(candidates["ref"])


def test_a_cells_slices_stay_the_same_size_however_many_files_there_are():
    rng = np.random.default_rng(3)
    busy, quiet, rest = point_cells(np.array([120.45, 120.62, 120.7]), np.array([36.1, 36.2, 36.25]), 5)
    for files in (10, 100):  # a million candidates, then ten
        per_file = [
            rng.choice([busy, quiet, rest], size=100_000, p=[0.3, 0.005, 0.695]) for _ in range(files)
        ]
        per_file[3] = np.full(120_000, busy)  # one file of the busy cell alone
        groups = pd.concat(
            pd.DataFrame({"parent": p, "slice": batch.slices(p, n)}) for n, p in enumerate(per_file)
        ).value_counts()
        assert groups.max() <= batch.SLICE_ROWS and groups.sum() == sum(map(len, per_file))
        assert len(groups[busy]) >= (files * 30_000 + 120_000) // batch.SLICE_ROWS
        # a quiet cell's candidates of many files share a slice
        assert len(groups[quiet]) <= max(files // 32, 1)


def test_a_busy_cell_is_judged_in_slices_written_chunk_by_chunk(
    snapshot, candidates, single, tmp_path, monkeypatch
):
    monkeypatch.setattr(batch, "CHUNK", 100)  # results streamed into a part, never held whole
    monkeypatch.setattr(batch, "SLICE_ROWS", 300)
    batch.run(snapshot, [_files(candidates, tmp_path / "in")], tmp_path / "out")
    pd.testing.assert_frame_equal(_by_ref(read_results(tmp_path / "out")), single)
    parts = sorted((tmp_path / "out").glob("part-*"))
    cells = {p.name.rsplit("-", 1)[0] for p in parts}
    assert len(parts) > len(cells)  # a cell's candidates in several parts, for several workers
    assert max(pq.ParquetFile(p).metadata.num_row_groups for p in parts) > 1


def test_the_command_line_batch_here_and_on_a_scheduler_equals_one_process(
    demo_db, candidates, single, cluster, tmp_path
):
    inputs = _files(candidates, tmp_path / "in", kinds=("csv", "parquet"))
    here, there = tmp_path / "here", tmp_path / "there"
    assert main(["--database-url", demo_db, "batch", str(inputs), "--out", str(here)]) == 0
    pd.testing.assert_frame_equal(_by_ref(read_results(here)), single)
    assert [p["file"] for p in manifest_of(here)["parts"]] == sorted(p.name for p in here.glob("part-*"))
    scheduler = cluster.scheduler.address
    assert (
        main(["--database-url", demo_db, "batch", str(inputs), "--out", str(there), "--scheduler", scheduler])
        == 0
    )
    pd.testing.assert_frame_equal(_by_ref(read_results(there)), single)


def test_unreachable_scheduler_fails_fast_and_clearly(demo_db, tmp_path, capsys):
    start = time.monotonic()
    with pytest.raises(BatchError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        connect("tcp://127.0.0.1:9", timeout_s=2)
    assert time.monotonic() - start < 10
    path = tmp_path / "c.csv"
    path.write_text("ref,industry,lon,lat\na,6210,120.456,36.101\n", encoding="utf-8")
    args = ["--database-url", demo_db, "batch", str(path), "--out", str(tmp_path / "out")]
    assert main([*args, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_rows_are_named_and_skipped_or_refused(tmp_path, demo_db, capsys):
    path = tmp_path / "candidates.csv"
    path.write_text(
        "ref,industry,lon,lat,floor\n"
        "a,6210,120.456,36.101,2\nb,62,120.456,36.101,\nc,6210,east,36.1,\nd,6513,120.46,36.105,\n"
        "e,6513,120.46,NaN,\nf,6513,120.46,36.105,0\n",
        encoding="utf-8",
    )
    read = read_candidates(path, "skip")
    assert list(read.table["ref"]) == ["a", "d"]
    assert [p.split(": ", 1)[0] for p in read.problems] == [f"{path}, line {n}" for n in (3, 4, 6, 7)]
    assert "'62'" in read.problems[0] and "lon 'east'" in read.problems[1] and "floor 0" in read.problems[3]
    with pytest.raises(BatchError, match="4 bad row"):
        read_candidates(path, "refuse")
    out = tmp_path / "out"
    assert (
        main(
            [
                "--database-url",
                demo_db,
                "batch",
                str(path),
                "--out",
                str(out),
                "--csv",
                str(tmp_path / "r.csv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("skipped:") == 4 and f"{path}, line 4: lon 'east'" in err
    assert manifest_of(out)["skipped"] == 4
    results = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert sorted(results["ref"]) == ["a", "d"] and results["verdict"].notna().all()
    refused = tmp_path / "refused"
    assert (
        main(["--database-url", demo_db, "batch", str(path), "--out", str(refused), "--on-bad", "refuse"])
        == 2
    )
    assert "4 bad row(s), nothing run" in capsys.readouterr().err and not refused.exists()


def test_a_missing_or_corrupt_partition_is_named_and_no_output_is_presented_as_complete(
    snapshot, candidates, cluster, tmp_path
):
    inputs = _files(candidates, tmp_path / "in")
    out = tmp_path / "out"
    batch.run(snapshot, [inputs], out, client=cluster)
    assert manifest_of(out)["rows"] == len(candidates)
    with pytest.raises(BatchError, match=r"candidates file .*nowhere\.parquet is missing"):
        batch.run(snapshot, [inputs / "c0.parquet", inputs / "nowhere.parquet"], out, client=cluster)
    assert manifest_of(out)["rows"] == len(candidates)  # refused before anything was touched
    (inputs / "c1.parquet").write_bytes((inputs / "c1.parquet").read_bytes()[:300])  # cut short
    with pytest.raises(BatchError, match=r"candidates file .*c1\.parquet cannot be read as Parquet"):
        batch.run(snapshot, [inputs], out, client=cluster)
    assert not (out / MANIFEST).exists()  # the earlier results are no longer presented as these
    with pytest.raises(BatchError, match="holds no complete results"):
        read_results(out)
    (inputs / "c1.parquet").write_text("ref,industry\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"c1\.parquet cannot be read as Parquet"):
        batch.run(snapshot, [inputs], out)
    (inputs / "c1.parquet").unlink()
    (inputs / "c1.csv").write_text("ref,industry,lon\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"c1\.csv has no column lat"):
        batch.run(snapshot, [inputs], out)


def test_a_worker_killed_mid_job_leaves_the_others_to_finish_and_nothing_written_twice(
    snapshot, candidates, single, tmp_path
):
    inputs = _files(candidates, tmp_path / "in", kinds=("parquet",) * 6)
    out = tmp_path / "out"
    cluster = batch.local_cluster(2)
    with cluster, Client(cluster) as client:
        pids = client.run(os.getpid)
        done: dict[str, object] = {}
        job = threading.Thread(
            target=lambda: done.update(m=batch.run(snapshot, [inputs], out, client=client))
        )
        job.start()
        victim = _worker_judging(client, deadline=time.monotonic() + 120)
        assert victim and not (out / MANIFEST).exists(), "the job ended before a worker could be killed"
        os.kill(pids[victim], signal.SIGKILL)
        job.join(300)
        assert victim not in client.run(os.getpid) or client.run(os.getpid)[victim] != pids[victim]
    manifest = done["m"]
    assert isinstance(manifest, dict) and json.loads((out / MANIFEST).read_text())["rows"] == len(candidates)
    results = read_results(out)
    assert results["ref"].is_unique
    pd.testing.assert_frame_equal(_by_ref(results), single)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST, *(p["file"] for p in manifest["parts"])]
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_a_batch_leaves_the_cyclic_collector_as_it_found_it(snapshot, enabled):
    import gc

    table = pd.DataFrame(
        {"ref": ["a"], "lon": [120.46], "lat": [36.1], "industry": ["6513"], "floor": [None]}
    )
    (gc.enable if enabled else gc.disable)()
    try:
        assess(snapshot, table)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_the_collector_stays_paused_until_the_last_of_overlapping_batches_ends():
    import gc
    import threading

    from siteselect.check import cyclic_gc_paused

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with cyclic_gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with cyclic_gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()
        seen["after both ended"] = gc.isenabled()

    gc.enable()
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first ended": False, "after both ended": True}


def _worker_judging(client: Client, deadline: float) -> str | None:
    """The address of a worker at work on a partition's judgement (the job is under way)."""
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any("assess_and_write" in str(k) for k in keys):
                return str(worker)
        time.sleep(0.02)
    return None
