"""A real client: GDAL's OAPIF driver (inside the pyogrio wheel) reads every collection from the
running service and gets the same features as the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pyogrio
import pytest
import shapely

from siteselect.specs import layer_specs
from siteselect.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(demo_db) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {"SITESELECT_DATABASE_URL": demo_db}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the service did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("layer", [name for name, spec in layer_specs().items() if spec.has_geometry])
def test_gdal_reads_every_collection(service, demo_db, layer):
    got = pyogrio.read_dataframe(f"OAPIF:{service}/ogc", layer=layer)
    stored = Store(demo_db).read_layer(layer)
    assert len(got) == len(stored)
    assert sorted(got["id"]) == sorted(stored["id"])
    got = got.set_index("id").loc[stored["id"]]
    same = shapely.equals_exact(got.geometry.to_numpy(), stored.geometry.to_numpy(), tolerance=1e-9)
    assert same.all()
