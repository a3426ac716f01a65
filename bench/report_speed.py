"""Benchmark: map reports (time and size) and the web map's first load in Chromium.

    python bench/report_speed.py [--reports 40]

Reports are drawn and stored by the library (check, scores, the folium map and the page kept in the
store, as ``POST /reports`` does) for
random places over the district and inside random buildings, with a rotating mix of industries, on
the Laoshan demo and on the demo scaled to 20,000 buildings and 100,000 POIs, whose reports hold
far more to draw. The web map is opened in Debian's Chromium (headless, Playwright) from uvicorn
on loopback over the demo, each time in a fresh browser context (nothing cached): the figure is
the time from navigation to the district drawn. In the same browser, after a search, the time
from a click on "compare" with 2, 3 or 5 results chosen to the comparison drawn, beside the same
``POST /compare`` fetched from the page with nothing drawn (the baseline). Targets: a single-site
report within 500 ms and 2 MB; the first load within 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaled_demo import CANDIDATE_CODES, describe, load_scaled, random_candidates
from siteselect import report
from siteselect.check import checker_for
from siteselect.demo import LOAD_ORDER, generate, write_demo
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.match import scorer_for
from siteselect.store import Store
from tests.support.pages import wait_until
from tests.support.serve import running_service

WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def demo_store(folder: Path) -> tuple[str, dict]:
    url = f"sqlite:///{folder / 'demo.db'}"
    store = Store(url)
    files = write_demo(folder / "demo")
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer])
    return url, generate()


def time_reports(url: str, layers: dict, n: int) -> None:
    store = Store(url)
    snapshot = Catalog(store).current()
    checker_for(snapshot).warm()
    scorer_for(snapshot).warm()
    places = _places(layers, n)
    singles, sizes, verdicts = [], [], []
    for x, y, code in places:
        request = report.ReportRequest(industry=code, sites=({"lon": x, "lat": y},))
        start = time.perf_counter()
        made = report.build(snapshot, request, generated_at=WHEN)
        report.save(store, made, request, WHEN)
        singles.append(time.perf_counter() - start)
        sizes.append(len(made.html.encode()))
        verdicts += made.verdicts
    compared, compared_sizes = [], []
    for k in range(0, n - 4, 5):
        sites = tuple({"lon": x, "lat": y} for x, y, _ in places[k : k + 5])
        request = report.ReportRequest(industry=CANDIDATE_CODES[k % len(CANDIDATE_CODES)], sites=sites)
        start = time.perf_counter()
        made = report.build(snapshot, request, generated_at=WHEN)
        report.save(store, made, request, WHEN)
        compared.append(time.perf_counter() - start)
        compared_sizes.append(len(made.html.encode()))
    mix = ", ".join(f"{v} {verdicts.count(v)}" for v in ("permitted", "review", "prohibited"))
    print(f"  single-site report ({n}; {mix}): median {ms(singles)}, p95 {ms(singles, 0.95)}, "
          f"max {max(singles) * 1000:.0f} ms; HTML median {mb(sizes)}, max {max(sizes) / 1e6:.2f} MB"
          f"   (target 500 ms, 2 MB)")  # fmt: skip
    print(f"  five-site comparison ({len(compared)}): median {ms(compared)}, "
          f"max {max(compared) * 1000:.0f} ms; HTML median {mb(compared_sizes)}, "
          f"max {max(compared_sizes) / 1e6:.2f} MB")  # fmt: skip


def _places(layers: dict, n: int) -> list[tuple[float, float, str]]:
    """Half random points over the district (mostly open land: review), half inside buildings."""
    anywhere = random_candidates(layers, n - n // 2)
    buildings = layers["buildings"].geometry.sample(n // 2, random_state=7).representative_point()
    inside = [(p.x, p.y, CANDIDATE_CODES[i % len(CANDIDATE_CODES)]) for i, p in enumerate(buildings)]
    return [place for pair in zip(anywhere, inside) for place in pair] + anywhere[len(inside) :]


def ms(values: list[float], q: float = 0.5) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f} ms"


def mb(sizes: list[int]) -> str:
    return f"{statistics.median(sizes) / 1e6:.2f} MB"


def first_loads(url: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with running_service(url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        outside: list[str] = []
        loads, bytes_in = [], []
        for _ in range(runs + 1):  # the first is the browser's first page too: reported apart
            context = browser.new_context(viewport={"width": 1300, "height": 850})
            page = context.new_page()
            page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else (
                outside.append(r.request.url), r.abort()))  # fmt: skip
            start = time.perf_counter()
            page.goto(f"{base}/")
            wait_until(page, "window.siteselect && window.siteselect.ready")
            loads.append(time.perf_counter() - start)
            bytes_in.append(page.evaluate(
                "performance.getEntriesByType('resource').reduce((s, e) => s + e.encodedBodySize, 0)"
                " + performance.getEntriesByType('navigation')[0].encodedBodySize"
            ))  # fmt: skip
            context.close()
        compare_times(browser, base, runs)
        browser.close()
    warm = loads[1:]
    print(f"  web map first load, fresh browser context ({runs} runs): median {ms(warm)}, "
          f"max {max(warm) * 1000:.0f} ms; {bytes_in[-1] / 1e6:.2f} MB transferred; "
          f"{len(outside)} requests outside 127.0.0.1   (target 1 s)")  # fmt: skip
    print(f"  (the very first load, the browser's first page since it started: {loads[0] * 1000:.0f} ms)")


def compare_times(browser: Any, base: str, runs: int) -> None:
    """The page's "compare" click to the comparison drawn, for 2, 3 and 5 results chosen, beside
    the request alone (the same body, fetched from the page)."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{base}/")
    wait_until(page, "window.siteselect && window.siteselect.ready")
    page.fill("#industry", "奶茶")
    page.press("#industry", "Enter")
    page.wait_for_selector("#results li")
    drawn: dict[int, list[float]] = {}
    asked: dict[int, list[float]] = {}
    picks = page.locator("#results li .pick")
    for _ in range(runs):
        for n in (2, 3, 5):
            for k in range(5):
                picks.nth(k).set_checked(k < n)
            start = time.perf_counter()
            page.click("#compare")
            page.wait_for_selector(f"#detail table.comparison thead th:nth-child({n + 1})")
            drawn.setdefault(n, []).append(time.perf_counter() - start)
            asked.setdefault(n, []).append(page.evaluate(COMPARE_ALONE) / 1000)
    page.close()
    for n in sorted(drawn):
        print(f"  compare {n} chosen → comparison drawn in Chromium ({runs} runs): median {ms(drawn[n])}, "
              f"max {max(drawn[n]) * 1000:.0f} ms; the request alone: median {ms(asked[n])}")  # fmt: skip


# The same POST /compare the page makes for the results chosen, timed in the page, nothing drawn.
COMPARE_ALONE = """(async () => {
    const s = window.siteselect.state, start = performance.now();
    const sites = [...s.picked].map((i) => ({vacancy_id: s.results[i].id}));
    const r = await fetch("/compare", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({...s.query, sites})});
    await r.json();
    return performance.now() - start;
})()"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, layers = demo_store(Path(folder))
        print(f"Laoshan demo: {describe(layers)}")
        time_reports(url, layers, args.reports)
        first_loads(url, args.loads)
        scaled_url = f"sqlite:///{Path(folder) / 'scaled.db'}"
        scaled = load_scaled(Store(scaled_url))
        print(f"scaled demo: {describe(scaled)}")
        time_reports(scaled_url, scaled, args.reports)


if __name__ == "__main__":
    main()
