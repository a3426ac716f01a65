"""Benchmark: a department's .xlsx of addresses without coordinates, geocoded on load; and big CSVs.

    python bench/department_load.py [--rows 100000] [--csv-rows 100000 1000000] [--baseline-src DIR]
                                    [--dry-run-rows 1000000]

On the Laoshan demo store: writes an .xlsx of ``--rows`` prohibited addresses as a department
keeps them (Chinese headers, a merged title row, addresses written in the usual variants: with or
without the province and city, full-width digits, Chinese numerals, a room), then, in a child
process of its own on a copy of the store, the time to read the file alone (calamine, header
found, blank rows skipped; with the cycle collector as the load has it) beside the time to plan
the load (read, map headers, place every address with the gazetteer, validate) and to store it,
each also in CPU seconds (what a busy machine's other work does not add to).
Then, for each of ``--csv-rows``, the whole load of a GB18030 CSV of that many rows (read,
geocoded, validated, stored: ``load_file``) in a child process: rows per second and the peak
memory (RSS) beside what the child held before reading; and for ``--dry-run-rows`` the dry run
of such a CSV (``plan_load(judge=True)``: the change list and the verdicts that change). With
``--baseline-src`` (a checkout of an earlier release, e.g. ``git archive main | tar -x -C DIR``)
the same children also run that release's code, on the same files and a copy of the same store,
printed side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.load import LoadOptions, commit, load_file, plan_load
from siteselect.sheets import read_table
from siteselect.store import Store

HEADERS = ["编号", "详细地址", "禁设原因", "禁设行业", "生效日期", "责任部门"]
DEPARTMENT = "崂山区综合行政执法局"
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def addresses(store: Store, count: int, seed: int = 7) -> list[str]:
    """House-number addresses written as people write them, most of them distinct."""
    rng = np.random.default_rng(seed)
    numbers = store.read_layer("house_numbers")
    roads, nums = numbers["road"].to_numpy(), numbers["number"].to_numpy()
    picks = rng.integers(0, len(numbers), count)
    style = rng.integers(0, 4, count)
    out = []
    for i, (p, s) in enumerate(zip(picks, style)):
        road, num = roads[p], nums[p]
        room = f"{1 + i % 6}单元{(i // 6) % 30 + 1}0{i % 4 + 1}室"
        if s == 0:
            out.append(f"山东省青岛市崂山区{road}{num}号{room}")
        elif s == 1:
            out.append(f"崂山区{road}{num.translate(_FULL)}号")
        elif s == 2:
            out.append(f"青岛市{road}{num}号{room}")
        else:
            out.append(f"{road}{num}号 {room}")
    return out


def write_xlsx(path: Path, texts: list[str]) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = book.add_worksheet("禁设地址")
    ws.merge_range(0, 0, 0, len(HEADERS) - 1, "崂山区禁设地址清单")
    ws.write_row(1, 0, HEADERS)
    for i, text in enumerate(texts):
        ws.write_row(2 + i, 0, [f"ZF{i + 1:07d}", text, "违法建筑", "餐饮", "2026年4月2日", DEPARTMENT])
    book.close()


def write_csv(path: Path, texts: list[str], rows: int) -> None:
    with path.open("w", encoding="gb18030", newline="") as f:
        f.write(",".join(HEADERS) + "\r\n")
        for i in range(rows):
            f.write(f"ZF{i + 1:07d},{texts[i]},违法建筑,餐饮,2026/4/2,{DEPARTMENT}\r\n")


def _child(url: str, path: str, mode: str) -> None:
    """In this process: load (``load``) or dry-run (``dry``) the CSV and print the peak RSS before
    and after (MiB), the seconds and the features stored (or entries changed); or (``xlsx``) read
    the workbook alone, then plan and store its load, and print the three times and the levels."""
    store = Store(url)
    if mode == "xlsx":
        _xlsx_child(store, Path(path))
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    options = LoadOptions(min_level="road")
    if mode == "dry":
        plan = plan_load(store, "prohibited_addresses", path, options, judge=True)
        count = len(plan.entries)
    else:
        count = load_file(store, "prohibited_addresses", path, options=options).feature_count
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.0f} {peak:.0f} {seconds:.1f} {count}")


def _xlsx_child(store: Store, xlsx: Path) -> None:
    from siteselect import load

    paused = getattr(load, "collector_paused", contextlib.nullcontext)  # as this release's load reads
    times = []
    for step in ("read", "plan", "store"):
        start, cpu = time.perf_counter(), time.process_time()
        if step == "read":
            with paused():
                table = read_table(xlsx)
        elif step == "plan":
            plan = plan_load(store, "prohibited_addresses", xlsx, LoadOptions(min_level="road"))
        else:
            commit(store, plan, loaded_by="bench")
        times += [time.perf_counter() - start, time.process_time() - cpu]
    assert isinstance(plan.features, pd.DataFrame) and len(plan.features) >= len(table.frame)
    levels = ",".join(f"{k}={v}" for k, v in sorted(plan.features["match_level"].value_counts().items()))
    print(*(f"{t:.3f}" for t in times), levels)


def _demo(db: Path) -> Store:
    store = Store(f"sqlite:///{db}")
    files = write_demo(db.parent / f"{db.stem}-files")
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer], loaded_by="bench")
    return store


def _run(args: list[str], src: str | None) -> list[str]:
    """Run this script in a child process with the code of ``src`` (None: ours)."""
    env = os.environ | ({"PYTHONPATH": src} if src else {})
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{args[0]} failed ({src or 'ours'}):\n{done.stderr[-3000:]}")
    return done.stdout.split()


def _in_child(db: Path, path: Path, mode: str, src: str | None) -> list[str]:
    """Run ``mode`` on a private copy of the demo store in a child process (``src``: whose code)."""
    copy = db.with_name(f"{db.stem}-copy.db")
    shutil.copy(db, copy)
    try:
        return _run(["--child", f"sqlite:///{copy}", str(path), mode], src)
    finally:
        copy.unlink()


def _uptime() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _xlsx(tmp: Path, texts: list[str], runs: list[tuple[str, str | None]]) -> None:
    """The .xlsx load of ``texts`` by each release, in a child of its own."""
    xlsx = tmp / "禁设地址.xlsx"
    write_xlsx(xlsx, texts)
    size = xlsx.stat().st_size / 1e6
    distinct = len(set(texts))
    print(f"{len(texts):,}-row .xlsx ({distinct:,} distinct addresses, {size:.1f} MB), each in a child:")
    for name, src in runs:
        out = _in_child(tmp / f"demo-{name}.db", xlsx, "xlsx", src)
        read_s, read_cpu, plan_s, plan_cpu, store_s, store_cpu = (float(x) for x in out[:6])
        print(f"  {name}: ({_uptime()})")
        for label, seconds, cpu in (
            ("reading the file alone", read_s, read_cpu),
            ("read, map, geocode and validate", plan_s, plan_cpu),
            ("… and store (the whole load)", plan_s + store_s, plan_cpu + store_cpu),
        ):
            rate, cpu_rate = len(texts) / seconds, len(texts) / cpu
            print(f"    {label:34}{seconds:6.2f} s  {rate:>9,.0f} rows/s", end="")
            print(f"  ({cpu:.2f} s of CPU: {cpu_rate:,.0f} rows/s)")
        print(f"    match levels: {out[6]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--csv-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--dry-run-rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--baseline-src", help="a checkout of an earlier release, run beside this one")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--demo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.demo:  # the demo store, made by the code that will load into it
        _demo(Path(args.demo)).close()
        return
    runs = [("ours", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        store = _demo(tmp / "store.db")
        texts = addresses(store, max([args.rows, *args.csv_rows, *args.dry_run_rows]))
        store.close()
        for name, src in runs:  # what every load starts from, made by the code that loads into it
            _run(["--demo", str(tmp / f"demo-{name}.db")], src)
        if args.rows:  # --rows 0: the CSVs only
            _xlsx(tmp, texts[: args.rows], runs)
        for rows, mode in [(r, "load") for r in args.csv_rows] + [(r, "dry") for r in args.dry_run_rows]:
            csv_path = tmp / f"big-{rows}.csv"
            if not csv_path.exists():
                write_csv(csv_path, texts, rows)
            size = csv_path.stat().st_size / 1e6
            what = "the whole load (load_file)" if mode == "load" else "a dry run (plan_load, judged)"
            print(f"{rows:,}-row CSV ({size:.0f} MB, GB18030), {what}:")
            for name, src in runs:
                out = _in_child(tmp / f"demo-{name}.db", csv_path, mode, src)
                before, peak, seconds, count = float(out[0]), float(out[1]), float(out[2]), int(out[3])
                done = "features stored" if mode == "load" else "entries changed"
                print(
                    f"  {name:9} {seconds:7.1f} s {rows / seconds:>9,.0f} rows/s  peak RSS {peak:>6,.0f} MiB "
                    f"({before:,.0f} MiB before reading; {count:,} {done}; {_uptime()})"
                )


if __name__ == "__main__":
    main()
