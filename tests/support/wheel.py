"""The wheel built from this checkout, as ``pip wheel`` builds it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(dist: Path) -> Path:
    """Build the wheel into ``dist`` (without build isolation: hatchling is a test dependency)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ROOT],
        check=True,
    )
    (wheel,) = dist.glob("siteselect-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "siteselect/_web/leaflet/leaflet.js" in names
        assert "siteselect/_web/protomaps-leaflet/protomaps-leaflet.js" in names
    return wheel


def venv_with_project_dependencies(path: Path) -> Path:
    """A new virtual environment that sees the dependencies installed in the project's own, through
    a path file (not its editable install of siteselect: path files there are not read), so that a
    test installs the wheel without downloading or unpacking them again. Its ``bin`` folder."""
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    site = subprocess.run(
        [path / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path / "bin"
