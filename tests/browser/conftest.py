"""Headless Chromium (Debian's) driven by Playwright, with every request beyond 127.0.0.1 blocked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support.serve import running_service

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def service(demo_db) -> Iterator[str]:
    with running_service(demo_db) as base:
        yield base


class Watched:
    """A page and what went wrong on it: console errors, page errors, failed or outside requests."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.problems: list[str] = []

    def assert_clean(self) -> None:
        assert self.problems == []


def _cancelled_tile(request) -> bool:
    """A vector tile the map cancelled: the view left its zoom before it came (no error to anyone)."""
    return urlparse(request.url).path.startswith("/tiles/") and request.failure == "net::ERR_ABORTED"


@pytest.fixture
def watched(browser, request) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1300, "height": 850}, locale="zh-CN")
    page = context.new_page()
    w = Watched(page)

    def only_here(route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            w.problems.append(f"outside request blocked: {url}")
            route.abort()

    page.route("**/*", only_here)
    page.on("console", lambda m: m.type == "error" and w.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: w.problems.append(f"page error: {e}"))
    page.on(
        "requestfailed", lambda r: _cancelled_tile(r) or w.problems.append(f"failed: {r.url} {r.failure}")
    )
    page.on("response", lambda r: r.status >= 400 and w.problems.append(f"HTTP {r.status}: {r.url}"))
    yield w
    ARTEFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    for n, p in enumerate(context.pages):
        p.screenshot(path=str(ARTEFACTS / f"{name}-{n}.png"), full_page=True)
    context.close()
