"""An accessibility scan with axe-core (installed from npm with the project's other browser
libraries), injected into the page under test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it now is (its context must
    bypass the page's Content-Security-Policy: axe comes in as an inline script)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci`")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
