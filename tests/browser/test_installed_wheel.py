"""The wheel as an intranet's IT department installs it: built from this checkout, installed into a
fresh virtual environment, run from an empty folder, the page and a report loaded in Chromium."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.pages import wait_until
from tests.support.serve import free_port, running
from tests.support.wheel import build_wheel, venv_with_project_dependencies


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; its ``bin`` folder. The dependencies are those of the
    project's own environment; ``pip check`` confirms they meet the wheel's requirements."""
    wheel = build_wheel(tmp_path_factory.mktemp("dist"))
    bin_dir = venv_with_project_dependencies(tmp_path_factory.mktemp("venv") / "venv")
    pip = [bin_dir / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-index", wheel], check=True)
    subprocess.run([*pip, "check"], check=True)
    return bin_dir


def test_the_installed_wheel_serves_the_page_and_a_report_with_nothing_failing(
    installed: Path, tmp_path: Path, watched
) -> None:
    here = tmp_path / "empty"  # nothing of the checkout: no layers/, no node_modules/
    here.mkdir()
    env = {"SITESELECT_DATABASE_URL": f"sqlite:///{here / 'store.db'}", "SITESELECT_NODE_MODULES": str(here)}
    where = subprocess.run(
        [installed / "python", "-c", "import siteselect, api; print(siteselect.__file__, api.__file__)"],
        cwd=here, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert str(ROOT) not in where and str(installed.parent) in where
    subprocess.run(
        [installed / "siteselect", "demo", "--out", "demo"], cwd=here, env=os.environ | env, check=True
    )
    port = free_port()
    command = [str(installed / "siteselect"), "serve", "--port", str(port)]
    with running(command, port, env=env, cwd=str(here)) as base:
        page = watched.page
        page.goto(f"{base}/")
        wait_until(page, "window.siteselect && window.siteselect.ready")
        page.fill("#industry", "奶茶")
        page.click("#search")
        page.locator("#results li").nth(0).click()
        page.click("#detail .make-report")
        page.wait_for_selector("#detail .report-link:not([hidden])")
        page.goto(base + page.get_attribute("#detail .report-link", "href"))
        page.wait_for_selector(".leaflet-container")
        assert page.evaluate("typeof L") == "object"  # Leaflet, embedded in the report from the wheel
        watched.assert_clean()
