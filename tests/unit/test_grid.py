"""The H3 grid and the in-process index: small parcels always get a cell, and no candidate is missed."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siteselect import grid
from siteselect.errors import InvalidInputError
from siteselect.geodesy import LocalFrame, distances_m
from siteselect.index import LayerIndex
from siteselect.store import LayerVersion

RES = 9


def test_parcel_smaller_than_a_cell_still_has_cells():
    # a 5 m x 5 m kiosk, far smaller than a res-9 cell (~0.1 km²), placed off any cell centre
    kiosk = shapely.box(120.45001, 36.10001, 120.450065, 36.100055)
    cells = grid.geometry_cells(kiosk, RES)
    assert len(cells) >= 1
    hexes = grid.cell_polygons(cells)
    assert shapely.union_all(hexes).covers(kiosk)


def test_polygon_cells_cover_the_polygon():
    campus = shapely.Polygon([(120.44, 36.10), (120.455, 36.101), (120.452, 36.112), (120.441, 36.108)])
    cells = grid.geometry_cells(campus, RES)
    assert shapely.union_all(grid.cell_polygons(cells)).buffer(1e-9).covers(campus)


def test_point_gets_its_own_cell():
    (cell,) = grid.geometry_cells(shapely.Point(120.45, 36.1), RES)
    assert shapely.Point(120.45, 36.1).within(grid.cell_polygons([cell])[0])


@pytest.mark.parametrize("res", [-1, 16, 9.5, True])
def test_bad_resolution_is_refused(res):
    with pytest.raises(InvalidInputError, match="H3 resolution must be an integer from 0 to 15"):
        grid.disc_cells(120.45, 36.1, 100, res)


def test_negative_radius_is_refused():
    with pytest.raises(InvalidInputError, match="radius must be a non-negative number"):
        grid.disc_cells(120.45, 36.1, -1, RES)


def _random_features(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    """Points, kiosks of a few metres, and campus-size polygons around Laoshan."""
    lon = rng.uniform(120.40, 120.52, n)
    lat = rng.uniform(36.06, 36.16, n)
    geoms = []
    for i, (x, y) in enumerate(zip(lon, lat)):
        kind = i % 3
        if kind == 0:
            geoms.append(shapely.Point(x, y))
        else:
            size = 0.00004 if kind == 1 else rng.uniform(0.001, 0.004)
            geoms.append(shapely.box(x, y, x + size, y + size * 0.8))
    return gpd.GeoDataFrame({"id": [f"f{i}" for i in range(n)]}, geometry=geoms, crs=4326)


FRAME = LocalFrame(120.46, 36.11)


def _index(features: gpd.GeoDataFrame, res: int) -> LayerIndex:
    pos, cells = grid.geometries_cells(features.geometry.to_numpy(), res)
    version = LayerVersion(1, "zones", 1, pd.Timestamp.now(tz="UTC"), "t", "t", len(features), "", res)
    return LayerIndex.build(version, features, features["id"].to_numpy()[pos], cells, FRAME)


FEATURES = _random_features(np.random.default_rng(7), 900)
INDEXES = {res: _index(FEATURES, res) for res in (8, 9, 10)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lon=st.floats(120.40, 120.52),
    lat=st.floats(36.06, 36.16),
    radius=st.floats(0, 600),
    res=st.sampled_from([8, 9, 10]),
)
def test_index_never_misses_a_feature_within_the_radius(lon, lat, radius, res):
    exact = distances_m(lon, lat, FEATURES.geometry.to_numpy())
    truth = set(np.flatnonzero(exact <= radius))
    found = set(INDEXES[res].candidates(lon, lat, radius).tolist())
    assert truth <= found, f"missed {sorted(truth - found)[:5]}"


RADII = np.random.default_rng(3).choice([0.0, 10.0, 50.0, 200.0], len(FEATURES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lon=st.floats(120.40, 120.52), lat=st.floats(36.06, 36.16), res=st.sampled_from([8, 9, 10]))
def test_cell_map_never_misses_a_feature_within_its_radius(lon, lat, res):
    idx = INDEXES[res]
    found = idx.cell_map(RADII).get(grid.point_cells([lon], [lat], res)[0], np.empty(0, dtype=np.intp))
    exact = distances_m(lon, lat, FEATURES.geometry.to_numpy())
    truth = set(np.flatnonzero(exact <= RADII))
    assert truth <= set(found.tolist()), f"missed {sorted(truth - set(found.tolist()))[:5]}"


def test_cell_map_can_be_limited_to_some_features():
    rows = np.arange(0, len(FEATURES), 2)
    limited = INDEXES[9].cell_map(100.0, rows)
    assert set(np.concatenate(list(limited.values())).tolist()) == set(rows.tolist())


def test_index_narrows_the_search():
    idx = INDEXES[9]
    sizes = [len(idx.candidates(120.46, 36.11, 200)) for _ in range(3)]
    assert 0 < sizes[0] < len(FEATURES) / 5  # candidates, not everything


def test_disc_cells_cover_the_disc_exactly_enough():
    lon, lat, radius = 120.4567, 36.1234, 350.0
    disc = shapely.union_all(grid.cell_polygons(grid.disc_cells(lon, lat, radius, RES)))
    ring = np.linspace(0, 360, 72, endpoint=False)
    from siteselect.geodesy import GEOD

    x, y, _ = GEOD.fwd(np.full(72, lon), np.full(72, lat), ring, np.full(72, radius))
    assert disc.covers(shapely.MultiPoint(np.column_stack([x, y])))


def test_a_line_has_every_cell_it_passes_through():
    line = shapely.LineString([(120.40, 36.07), (120.47, 36.09), (120.49, 36.13)])
    cells = set(grid.geometry_cells(line, 10).tolist())
    xy = shapely.get_coordinates(shapely.segmentize(line, 0.00001))  # about a metre apart
    assert set(grid.point_cells(xy[:, 0], xy[:, 1], 10).tolist()) <= cells
