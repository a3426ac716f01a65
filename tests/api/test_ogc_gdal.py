"""A real client: GDAL's OAPIF driver (inside the pyogrio wheel) reads every collection from the
running service and gets the same features as the store."""

from __future__ import annotations

from collections.abc import Iterator

import pyogrio
import pytest
import shapely

from siteselect.specs import layer_specs
from siteselect.store import Store
from tests.support.serve import running_service


@pytest.fixture(scope="module")
def service(demo_db) -> Iterator[str]:
    with running_service(demo_db) as base:
        yield base


@pytest.mark.parametrize("layer", [name for name, spec in layer_specs().items() if spec.has_geometry])
def test_gdal_reads_every_collection(service, demo_db, layer):
    got = pyogrio.read_dataframe(f"OAPIF:{service}/ogc", layer=layer)
    stored = Store(demo_db).read_layer(layer)
    assert len(got) == len(stored)
    assert sorted(got["id"]) == sorted(stored["id"])
    got = got.set_index("id").loc[stored["id"]]
    same = shapely.equals_exact(got.geometry.to_numpy(), stored.geometry.to_numpy(), tolerance=1e-9)
    assert same.all()
