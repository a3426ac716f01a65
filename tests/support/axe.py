"""An accessibility scan of a page with axe-core (from the project's npm packages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")


def severe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical violations on the page as it is now, each with the elements involved.

    Playwright's ``add_script_tag`` writes the script inline, which the pages' Content-Security-Policy
    refuses (as it should); evaluating axe's source through the DevTools protocol is not subject to
    the page's policy, and the scan then runs inside the page as axe's own loader would."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations.map((v) =>
            ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" "))})))"""
    )
    return [v for v in violations if v["impact"] in SEVERE]
