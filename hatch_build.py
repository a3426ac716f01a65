"""Build hook: the wheel carries the page assets installed by ``npm ci`` (Leaflet and
protomaps-leaflet), so an installed service needs neither Node nor the checkout. ``npm ci`` runs
first when they are not there yet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# What the pages and reports use, from node_modules, and where it goes inside the package:
# Leaflet's script, stylesheet and images with its licence (not its sources and source maps).
LEAFLET = "node_modules/leaflet"
ASSETS = {
    f"{LEAFLET}/dist/{name}": f"siteselect/_web/leaflet/{name}"
    for name in ("leaflet.js", "leaflet.css", "images")
}
ASSETS[f"{LEAFLET}/LICENSE"] = "siteselect/_web/leaflet/LICENSE"
# protomaps-leaflet's browser build, which draws the web map's buildings from vector tiles.
PROTOMAPS = "node_modules/protomaps-leaflet"
ASSETS[f"{PROTOMAPS}/dist/protomaps-leaflet.js"] = "siteselect/_web/protomaps-leaflet/protomaps-leaflet.js"
ASSETS[f"{PROTOMAPS}/LICENSE"] = "siteselect/_web/protomaps-leaflet/LICENSE"


class PageAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":  # a checkout reads node_modules
            return
        root = Path(self.root)
        if not all((root / source).exists() for source in ASSETS):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "building the wheel needs Leaflet from npm: install Node's npm, or run `npm ci`"
                )
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root, check=True)
        for source, target in ASSETS.items():
            build_data["force_include"][str(root / source)] = target
