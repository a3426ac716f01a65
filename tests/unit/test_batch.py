"""Batch work on Dask: partitioned by H3 parent cells with a halo, equal to one process."""

import time

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from siteselect.batch import BatchError, assess, assess_distributed, connect, partitions, read_candidates
from siteselect.cli import main
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
    table["floor"] = [None if i % 3 else 2 for i in range(len(table))]
    return table


def test_partitions_cover_every_candidate_once(snapshot, candidates):
    parts = list(partitions(snapshot, candidates))
    assert len(parts) > 5
    refs = pd.concat([p for _, p in parts])["ref"]
    assert sorted(refs) == sorted(candidates["ref"])
    region, _ = parts[0]
    assert len(region.layer("buildings").features) < len(snapshot.layer("buildings").features)


def test_two_worker_cluster_equals_one_process(snapshot, candidates):
    single = assess(snapshot, candidates)
    assert set(single["verdict"]) == {"prohibited", "review", "permitted"}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        distributed = assess_distributed(snapshot, candidates, client)
    pd.testing.assert_frame_equal(distributed, single)


def test_unreachable_scheduler_fails_fast_and_clearly():
    start = time.monotonic()
    with pytest.raises(BatchError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        connect("tcp://127.0.0.1:9", timeout_s=2)
    assert time.monotonic() - start < 10


def test_bad_rows_are_named_and_skipped_or_refused(tmp_path, demo_db, capsys):
    path = tmp_path / "candidates.csv"
    path.write_text(
        "ref,industry,lon,lat,floor\n"
        "a,6210,120.456,36.101,2\nb,62,120.456,36.101,\nc,6210,east,36.1,\nd,6513,120.46,36.105,\n",
        encoding="utf-8",
    )
    read = read_candidates(path, "skip")
    assert list(read.table["ref"]) == ["a", "d"]
    assert [p.split(": ", 1)[0] for p in read.problems] == [f"{path}, line 3", f"{path}, line 4"]
    with pytest.raises(BatchError, match="2 bad row"):
        read_candidates(path, "refuse")
    out = tmp_path / "results.csv"
    assert main(["--database-url", demo_db, "batch", str(path), "--out", str(out)]) == 0
    assert "skipped:" in capsys.readouterr().err
    results = pd.read_csv(out, dtype=str)
    assert list(results["ref"]) == ["a", "d"] and results["verdict"].notna().all()
    assert main(["--database-url", demo_db, "batch", str(path), "--out", str(out), "--on-bad", "refuse"]) == 2


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
