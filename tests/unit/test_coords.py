import numpy as np
import pytest

from siteselect import coords
from siteselect.errors import InvalidInputError

# (lat, lng) pairs: published WGS-84 -> GCJ-02 vectors.
WGS_TO_GCJ = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]


@pytest.mark.parametrize(("wgs", "gcj"), WGS_TO_GCJ)
def test_forward_gcj02_matches_published_vectors(wgs, gcj):
    lon, lat = coords.wgs84_to_gcj02([wgs[1]], [wgs[0]])
    assert abs(lon[0] - gcj[1]) < 1e-9
    assert abs(lat[0] - gcj[0]) < 1e-9


def _laoshan_grid():
    lon, lat = np.meshgrid(np.linspace(120.38, 120.98, 61), np.linspace(35.86, 36.37, 52))
    return lon.ravel(), lat.ravel()


def _metres(lon1, lat1, lon2, lat2):
    from siteselect.geodesy import point_distance_m

    return point_distance_m(lon1, lat1, lon2, lat2)


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_round_trip_over_laoshan_within_1cm(system):
    lon, lat = _laoshan_grid()
    shifted = coords.from_wgs84(lon, lat, system)
    moved = _metres(lon, lat, *shifted)
    assert moved.min() > 100  # the offset is real: hundreds of metres at Laoshan
    back = coords.to_wgs84(*shifted, system)
    assert _metres(lon, lat, *back).max() < 0.01


def test_one_step_inverse_would_not_be_good_enough():
    lon, lat = _laoshan_grid()
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    flon, flat = coords.wgs84_to_gcj02(glon, glat)
    naive = _metres(lon, lat, 2 * glon - flon, 2 * glat - flat)
    assert naive.max() > 0.3  # metres: why gcj02_to_wgs84 iterates


def test_points_outside_mainland_china_are_unchanged():
    lon, lat = np.array([2.35, -74.0, 151.2]), np.array([48.85, 40.7, -33.9])
    for system in ("gcj02", "bd09"):
        out_lon, out_lat = coords.from_wgs84(lon, lat, system)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)
        back = coords.to_wgs84(lon, lat, system)
        np.testing.assert_array_equal(back[0], lon)


def test_cgcs2000_equals_wgs84():
    lon, lat = _laoshan_grid()
    out = coords.to_wgs84(lon, lat, "cgcs2000")
    np.testing.assert_array_equal(out[0], lon)


def test_bd09_forward_is_gcj02_plus_baidu_perturbation():
    # Baidu's offset on top of GCJ-02 is about 1 km at Laoshan, north-east.
    glon, glat = coords.wgs84_to_gcj02([120.47], [36.10])
    blon, blat = coords.gcj02_to_bd09(glon, glat)
    assert 0.006 < blon[0] - glon[0] < 0.0075
    assert 0.005 < blat[0] - glat[0] < 0.0075


def test_unknown_coordinate_system_is_named():
    with pytest.raises(InvalidInputError, match="unknown coordinate system 'epsg3857'"):
        coords.to_wgs84([120.0], [36.0], "epsg3857")
