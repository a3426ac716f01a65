"""Browser libraries for reports and the web map, from the project's npm dependencies.

Government intranets reach no CDN: Leaflet comes from the registry package installed by ``npm ci``
(see ``package.json``) and is served by the service or embedded in a report, and so does
protomaps-leaflet, which draws the web map's buildings from the service's vector tiles. The wheel
carries them inside the package (``hatch_build.py``); a checkout reads them from ``node_modules``.
The few images Leaflet's stylesheet names are inlined as data URIs, so neither a report nor the web
map ever asks for them.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from pathlib import Path

from siteselect.errors import SiteSelectError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGED = Path(__file__).resolve().parent / "_web"  # where the wheel puts them


def node_modules() -> Path:
    """Where ``npm ci`` put the packages: ``SITESELECT_NODE_MODULES`` or the project's own folder."""
    return Path(os.environ.get("SITESELECT_NODE_MODULES") or PROJECT_ROOT / "node_modules")


def _package_file(package: str, name: str) -> Path:
    """A file of an npm package's ``dist`` folder: the wheel's copy, or the checkout's."""
    packaged = PACKAGED / package / name
    if packaged.is_file():
        return packaged
    path = node_modules() / package / "dist" / name
    if not path.is_file():
        raise SiteSelectError(f"{path} is missing: run `npm ci` in the project folder (make does it)")
    return path


def _leaflet_file(name: str) -> Path:
    return _package_file("leaflet", name)


@functools.cache
def leaflet_js() -> str:
    return _leaflet_file("leaflet.js").read_text(encoding="utf-8")


@functools.cache
def protomaps_leaflet_js() -> str:
    """protomaps-leaflet's browser build (the global ``protomapsL``)."""
    return _package_file("protomaps-leaflet", "protomaps-leaflet.js").read_text(encoding="utf-8")


@functools.cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined."""
    css = _leaflet_file("leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(_leaflet_file(match.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
