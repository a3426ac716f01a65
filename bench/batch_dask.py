"""Benchmark: batch checking and scoring, one process against two single-threaded Dask workers.

    python bench/batch_dask.py [--counts 1000000 10000000] [--rows-per-file 100000]
                               [--scheduler apart|in-driver]

Data: the Laoshan demo in an embedded SQLite store; candidates: deterministic points over the
district with a rotating mix of industries, written as partitioned Parquet. Both ways read the
same files and write Parquet parts. One process judges file by file over the whole snapshot (its
memory does not grow with the job either); the cluster runs ``siteselect.batch.run`` on two
workers of one thread each. By default the scheduler and the workers are started as on a cluster
of machines (``dask scheduler``, ``dask worker``), each in a process of its own, so the driver's
peak memory is its own; ``--scheduler in-driver`` runs them as the ``LocalCluster`` of
``siteselect.batch.local_cluster``, whose scheduler lives in the driver's process. Each way runs
in a fresh process; the driver's, the scheduler's and each worker's peak memory are printed, and
how far the driver's rose above what it held as the job began (imports and layers). The results
of the two ways are compared by an order-independent digest of every row. Cluster start-up
(starting the processes and importing the library into the workers) is not timed, as loading the
layers is not timed for either.

Beside the wall times it prints the CPU seconds each way used per million candidates (every
thread of the one process; the cluster's driver, scheduler and workers), which other work on the
machine does not change, and the load average when each row was measured.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaled_demo import CANDIDATE_CODES
from siteselect.batch import CLUSTER_SETTINGS, assess, local_cluster, run
from siteselect.candidates import read_file
from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.store import Store


def write_candidates(shape: shapely.Geometry, n: int, per_file: int, folder: Path) -> None:
    """``n`` points inside ``shape`` as Parquet files of ``per_file`` rows, the same for a given n."""
    folder.mkdir(parents=True)
    minx, miny, maxx, maxy = shape.bounds
    for number, first in enumerate(range(0, n, per_file)):
        size = min(per_file, n - first)
        rng = np.random.default_rng([5, number])
        xs, ys = np.empty(0), np.empty(0)
        while len(xs) < size:
            x, y = rng.uniform(minx, maxx, size), rng.uniform(miny, maxy, size)
            keep = shapely.contains_xy(shape, x, y)
            xs, ys = np.concatenate([xs, x[keep]]), np.concatenate([ys, y[keep]])
        refs = np.arange(first, first + size)
        pd.DataFrame({
            "ref": refs.astype(str), "lon": xs[:size], "lat": ys[:size],
            "industry": np.array(CANDIDATE_CODES)[refs % len(CANDIDATE_CODES)], "floor": 2,
        }).to_parquet(folder / f"candidates-{number:05d}.parquet", index=False)  # fmt: skip


Measured = dict[str, Any]  # seconds, driver_mb, driver_cpu; for the cluster also the scheduler's and workers'


def one_process(url: str, inputs: Path, out: Path) -> Measured:
    snapshot = Catalog(Store(url)).current()
    start, cpu = time.perf_counter(), _cpu_s()
    out.mkdir()
    for path in sorted(inputs.iterdir()):
        assess(snapshot, read_file(path).table).to_parquet(out / path.name, index=False)
    return {"seconds": time.perf_counter() - start, "driver_mb": _peak_mb(), "driver_cpu": _cpu_s() - cpu}


def cluster(url: str, inputs: Path, out: Path, layout: str) -> Measured:
    snapshot = Catalog(Store(url)).current()
    with _cluster(layout, out.parent) as client:
        client.wait_for_workers(2)
        client.run(importlib.import_module, "siteselect.batch")  # start-up: what one process did too
        start, cpu = time.perf_counter(), _cpu_s()
        worker_cpu, scheduler_cpu = client.run(_cpu_s), client.run_on_scheduler(_cpu_s)
        importlib.import_module("dask.dataframe")  # imported by the first batch: not the job's memory
        before = psutil.Process().memory_info().rss / 2**20  # the driver's peak for the job: above this
        run(snapshot, [inputs], out, client=client)
        seconds = time.perf_counter() - start
        worker_cpu = {w: s - worker_cpu[w] for w, s in client.run(_cpu_s).items()}
        workers, scheduler = client.run(_peak_mb), client.run_on_scheduler(_peak_mb)
        scheduler_cpu = client.run_on_scheduler(_cpu_s) - scheduler_cpu
    driver_cpu = _cpu_s() - cpu
    if layout == "in-driver":  # the scheduler's share is the driver's own
        scheduler_cpu, driver_cpu = driver_cpu, 0.0
    return {
        "seconds": seconds, "driver_mb": _peak_mb(), "driver_job_mb": max(_peak_mb() - before, 0.0),
        "driver_cpu": driver_cpu,
        "scheduler_mb": scheduler, "scheduler_cpu": scheduler_cpu,
        "worker_mb": [workers[w] for w in sorted(workers)],
        "worker_cpu": [worker_cpu[w] for w in sorted(workers)],
    }  # fmt: skip


@contextlib.contextmanager
def _cluster(layout: str, folder: Path) -> Iterator[Any]:
    """A client of two single-threaded workers and a scheduler: started as on a cluster of
    machines, each in a process of its own (``apart``), or as ``siteselect.batch.local_cluster``,
    with the scheduler in this process (``in-driver``). Either way with Dask's diagnostics eased."""
    from distributed import Client

    if layout == "in-driver":
        with local_cluster(2) as c, Client(c) as client:
            yield client
        return
    settings = {
        "DASK_" + k.upper().replace(".", "__").replace("-", "_"): str(v) for k, v in CLUSTER_SETTINGS.items()
    }
    env, file = os.environ | settings, folder / f"scheduler-{os.getpid()}.json"
    dask, common = [sys.executable, "-m", "dask"], ["--no-dashboard", "--scheduler-file", str(file)]
    started = [
        subprocess.Popen([*dask, "scheduler", "--port", "0", *common], env=env, stderr=subprocess.DEVNULL)
    ]
    try:
        workers = [*dask, "worker", "--nworkers", "2", "--nthreads", "1", *common]
        started.append(subprocess.Popen(workers, env=env, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not file.exists():
            if time.monotonic() > deadline or started[0].poll() is not None:
                raise SystemExit("the Dask scheduler did not start")
            time.sleep(0.1)
        with Client(scheduler_file=str(file), timeout=60) as client:
            yield client
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(30)
        file.unlink(missing_ok=True)


def _cpu_s() -> float:
    """CPU seconds this process has used, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    """This process's peak resident memory, its own. Not ``ru_maxrss``: Linux carries that over a
    fork and exec, so a process started by a larger one reports the larger one's resident memory
    when it started (the driver and the one process reported this script's, which grows with the
    candidates it writes and the results it reads)."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024


def digest(folder: Path) -> tuple[int, int]:
    """Rows and an order-independent digest of every result row in a folder of Parquet files."""
    rows, total = 0, 0
    for path in sorted(folder.glob("*.parquet")):
        frame = pd.read_parquet(path)
        rows += len(frame)
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
        total = (total + int(hashed.sum(dtype=np.uint64))) % 2**64
    return rows, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--rows-per-file", type=int, default=100_000)
    parser.add_argument("--scheduler", choices=["apart", "in-driver"], default="apart",
                        help="the scheduler in a process of its own, as on a cluster of machines\n"
                             "(the driver's memory is then its own), or in the driver's, as a\n"
                             "LocalCluster")  # fmt: skip
    parser.add_argument("--way", choices=["one", "cluster"], help=argparse.SUPPRESS)  # one measured run
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        measured = (
            one_process(args.url, args.inputs, args.out)
            if args.way == "one"
            else cluster(args.url, args.inputs, args.out, args.scheduler)
        )
        print(json.dumps(measured))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        files = write_demo(Path(folder) / "demo")
        for layer in LOAD_ORDER:
            load_file(Store(url), layer, files[layer])
        districts = Catalog(Store(url)).current().layer("districts").features
        shape = districts[districts["level"] == "district"].geometry.iloc[0]
        print(f"{'candidates':>10}  {'one process':>21}  {'2 workers, 1 thread each':>24}  "
              f"{'CPU s per million':>25}  {'per worker':>10}  {'peak MB':>33}  {'load':>9}  =")  # fmt: skip
        for n in args.counts:
            inputs = Path(folder) / f"in-{n}"
            write_candidates(shape, n, args.rows_per_file, inputs)
            load = os.getloadavg()[0]
            one = _measure("one", url, inputs, Path(folder) / f"one-{n}")
            two = _measure("cluster", url, inputs, Path(folder) / f"cluster-{n}", args.scheduler)
            same = digest(Path(folder) / f"one-{n}") == digest(Path(folder) / f"cluster-{n}")
            print(_row(n, one, two, same, (load, os.getloadavg()[0])), flush=True)
            for path in Path(folder).glob(f"*-{n}"):
                subprocess.run(["rm", "-rf", str(path)], check=True)
        where = "in a process of its own" if args.scheduler == "apart" else "in the driver's process"
        print(LEGEND.format(where=where))


LEGEND = """The scheduler ran {where}. CPU s per million: the one process; the cluster (driver +
scheduler + workers). per worker: candidates per CPU second of a worker. peak MB: one process; the
driver (in brackets, how far its peak rose above what it held as the job began); the scheduler;
each worker. load: 1-minute load average before and after the row. =: the two ways' results
equal, by a digest of every row."""


def _row(n: int, one: Measured, two: Measured, same: bool, load: tuple[float, float]) -> str:
    per_million = 1e6 / n
    driver, scheduler = two["driver_cpu"] * per_million, two["scheduler_cpu"] * per_million
    workers = sum(two["worker_cpu"]) * per_million
    worker_mb = ", ".join(f"{m:,.0f}" for m in two["worker_mb"])
    return (
        f"{n:>10,}  {n / one['seconds']:>8,.0f}/s ({one['seconds']:6.1f} s)  "
        f"{n / two['seconds']:>11,.0f}/s ({two['seconds']:6.1f} s)  "
        f"{one['driver_cpu'] * per_million:>5.1f}; {driver + scheduler + workers:>4.1f} "
        f"({driver:.1f} + {scheduler:.1f} + {workers:.1f})  {1e6 / workers:>8,.0f}/s  "
        f"{one['driver_mb']:>4,.0f}; {two['driver_mb']:>4,.0f} ({two['driver_job_mb']:.1f}); "
        f"{two['scheduler_mb']:>4,.0f}; {worker_mb}  "
        f"{load[0]:>4.1f}–{load[1]:<4.1f}  {same}"
    )  # fmt: skip


def _measure(way: str, url: str, inputs: Path, out: Path, scheduler: str = "apart") -> Measured:
    done = subprocess.run(
        [sys.executable, __file__, "--way", way, "--url", url, "--inputs", str(inputs), "--out", str(out),
         "--scheduler", scheduler],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the {way} run failed:\n{done.stderr[-3000:]}")
    result: Measured = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
