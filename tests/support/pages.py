"""Waiting on the pages in the browser tests, within their Content-Security-Policy."""

from __future__ import annotations

import json


def wait_until(page: object, expression: str, timeout_ms: int = 30_000) -> None:
    """Wait until a JavaScript expression is true. Playwright's ``wait_for_function`` polls with
    ``eval`` inside the page, which the pages' policy forbids (as it should); this polls with a
    timer from an evaluated promise, which the policy allows."""
    timed_out = json.dumps(f"timed out: {expression}")
    page.evaluate(  # type: ignore[attr-defined]
        f"""new Promise((resolve, reject) => {{
            const start = performance.now();
            const poll = () => ({expression}) ? resolve()
                : performance.now() - start > {timeout_ms} ? reject(new Error({timed_out}))
                : setTimeout(poll, 5);
            poll();
        }})"""
    )
