"""Benchmark: a department's .xlsx of addresses without coordinates, geocoded on load.

    python bench/department_load.py [--rows 100000] [--csv-rows 1000000]

On the Laoshan demo store: writes an .xlsx of ``--rows`` prohibited addresses as a department
keeps them (Chinese headers, a merged title row, addresses written in the usual variants: with or
without the province and city, full-width digits, Chinese numerals, a room), then prints, in the
same run, the time to read the file alone (calamine, header found, blank rows skipped) beside the
time to plan the load (read, map headers, place every address with the gazetteer, validate) and to
store it. Then the peak memory (RSS) of planning a ``--csv-rows`` CSV of the same rows, measured in
a child process, beside the memory the child held before reading it.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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
            f.write(f"ZF{i + 1:07d},{texts[i % len(texts)]},违法建筑,餐饮,2026/4/2,{DEPARTMENT}\r\n")


def _child(url: str, path: str) -> None:
    """Plan the CSV's load in this process and print the peak RSS before and after (MiB)."""
    store = Store(url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    plan = plan_load(store, "prohibited_addresses", path, LoadOptions(min_level="road"))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.0f} {peak:.0f} {seconds:.1f} {len(plan.features)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = f"sqlite:///{tmp / 'store.db'}"
        store = Store(url)
        files = write_demo(tmp / "demo")
        for layer in LOAD_ORDER:
            load_file(store, layer, files[layer], loaded_by="bench")
        texts = addresses(store, args.rows)
        xlsx = tmp / "禁设地址.xlsx"
        write_xlsx(xlsx, texts)
        size = xlsx.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {len(set(texts)):,} distinct addresses, {size:.1f} MB .xlsx")

        start = time.perf_counter()
        table = read_table(xlsx)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        plan = plan_load(store, "prohibited_addresses", xlsx, LoadOptions(min_level="road"))
        plan_s = time.perf_counter() - start
        start = time.perf_counter()
        commit(store, plan, loaded_by="bench")
        store_s = time.perf_counter() - start
        assert len(table.frame) == args.rows and len(plan.features) >= args.rows
        levels = plan.features["match_level"].value_counts().to_dict()
        print(f"  reading the file alone            {read_s:6.2f} s  {args.rows / read_s:>9,.0f} rows/s")
        print(f"  read, map, geocode and validate   {plan_s:6.2f} s  {args.rows / plan_s:>9,.0f} rows/s")
        whole = plan_s + store_s
        print(f"  … and store (the whole load)      {whole:6.2f} s  {args.rows / whole:>9,.0f} rows/s")
        print(f"  match levels: {levels}")

        if args.csv_rows:
            csv_path = tmp / "big.csv"
            write_csv(csv_path, texts, args.csv_rows)
            size = csv_path.stat().st_size / 1e6
            child = [sys.executable, __file__, "--child", url, str(csv_path)]
            out = subprocess.run(child, capture_output=True, text=True, check=True).stdout.split()
            before, peak, seconds, count = float(out[0]), float(out[1]), float(out[2]), int(out[3])
            print(
                f"{args.csv_rows:,}-row CSV ({size:.0f} MB, GB18030) planned in {seconds:.1f} s: peak RSS "
                f"{peak:,.0f} MiB, {before:,.0f} MiB before reading ({count:,} features after the load)"
            )


if __name__ == "__main__":
    main()
