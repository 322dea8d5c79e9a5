"""geo.scale: the point scale factor of the metric planes, against PROJ and pyproj.Geod."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from geo.errors import CRSDetectionError
from geo.scale import plane_scale, shortest_ends

GEOD = pyproj.Geod(ellps="GRS80")


def _grid(lon0: float, lat_lo: float, lat_hi: float, half_width_deg: float):
    lon, lat = np.meshgrid(
        lon0 + np.linspace(-half_width_deg, half_width_deg, 41), np.linspace(lat_lo, lat_hi, 41)
    )
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize(
    ("epsg", "lon0", "lats"),
    [(4548, 117.0, (18.0, 54.0)), (4545, 108.0, (18.0, 54.0)), (4536, 81.0, (30.0, 50.0)),
     (32650, 117.0, (0.0, 60.0)), (32750, 117.0, (-60.0, -1.0))],
    ids=["gk-117", "gk-108", "gk-81", "utm-50n", "utm-50s"],
)  # fmt: skip
def test_the_scale_factor_is_projs_across_the_zone_and_beyond(epsg, lon0, lats):
    lon, lat = _grid(lon0, *lats, half_width_deg=3.0)  # twice a 3-degree zone's half width
    crs = pyproj.CRS.from_epsg(epsg)
    x, y = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True).transform(lon, lat)
    want = pyproj.Proj(crs).get_factors(lon, lat, radians=False)
    k = plane_scale(epsg).k(x, y)
    np.testing.assert_allclose(k, want.meridional_scale, rtol=0, atol=5e-8)
    np.testing.assert_allclose(k, want.parallel_scale, rtol=0, atol=5e-8)  # conformal
    assert k.max() - k.min() > 1e-3  # the plane really stretches (1.2 mm per m at 3°)


def test_the_largest_scale_bounds_every_latitude():
    s = plane_scale(4545)
    for offset in (0.0, 50_000.0, 200_000.0):
        y = np.linspace(0.0, 6_000_000.0, 61)  # equator to 54°N
        assert (s.k(s.false_easting + offset, y) <= s.k_max(offset)).all()
        assert (s.k(s.false_easting - offset, y) <= s.k_max(offset)).all()


@pytest.mark.parametrize(
    ("epsg", "lon0", "lat0"),
    [(4548, 117.0, 40.0), (4545, 108.0, 22.5), (32650, 117.0, 5.0)],
    ids=["beijing", "guangxi", "utm-near-equator"],
)
def test_plane_lengths_made_ellipsoidal_are_geodesic_to_a_tenth_of_a_millimetre(epsg, lon0, lat0):
    rng = np.random.default_rng(epsg)
    n = 5_000
    lon = lon0 + rng.uniform(-1.6, 1.6, n)  # across the zone's edges
    lat = lat0 + rng.uniform(-1.0, 1.0, n)
    dist = rng.uniform(1.0, 10_000.0, n)
    lon2, lat2, _ = GEOD.fwd(lon, lat, rng.uniform(0.0, 360.0, n), dist)
    crs = pyproj.CRS.from_epsg(epsg)
    t = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    (x1, y1), (x2, y2) = t.transform(lon, lat), t.transform(lon2, lat2)
    plane = np.hypot(x2 - x1, y2 - y1)
    got = plane_scale(epsg).ellipsoidal(plane, x1, y1, x2, y2)
    np.testing.assert_allclose(got, dist, rtol=0, atol=1e-4)
    assert np.abs(plane - dist).max() > 1.0  # the plane alone is metres out at 10 km


def test_a_plane_length_drawn_at_a_point_is_the_ellipsoidal_length_there():
    s = plane_scale(4545)
    x, y = s.false_easting + 150_000.0, 2_500_000.0
    r = s.plane(3_000.0, x, y)
    # a radius drawn along the meridian: the scale is the same all along it
    assert s.ellipsoidal(r, x, y - r / 2, x, y + r / 2) == pytest.approx(3_000.0, abs=1e-5)
    assert r - 3_000.0 > 0.8  # 150 km off the central meridian: 28 cm per km


def test_a_crs_that_is_not_transverse_mercator_is_refused():
    with pytest.raises(CRSDetectionError, match="not a Transverse Mercator"):
        plane_scale(3857)
    with pytest.raises(CRSDetectionError, match="not a Transverse Mercator"):
        plane_scale("EPSG:4326")


def test_a_crs_given_as_text_or_object_is_its_epsg_codes_scale():
    assert plane_scale("EPSG:4548") == plane_scale(4548)
    assert plane_scale(pyproj.CRS.from_epsg(32650)) == plane_scale(32650)
    assert plane_scale(4548).k0 == 1.0 and plane_scale(32650).k0 == 0.9996


def test_shortest_ends_are_the_nearest_points_of_each_pair():
    a = np.array([shapely.Point(0, 0), shapely.box(10, 10, 20, 20), None], dtype=object)
    b = np.array(
        [shapely.LineString([(3, -5), (3, 5)]), shapely.Point(25, 15), shapely.Point(1, 1)]
    )
    ax, ay, bx, by = shortest_ends(a, b)
    np.testing.assert_allclose(
        np.column_stack([ax, ay, bx, by])[:2], [[0, 0, 3, 0], [20, 15, 25, 15]]
    )
    assert np.isnan([ax[2], ay[2], bx[2], by[2]]).all()  # a missing geometry: no line


def test_the_distance_of_geometry_pairs_is_their_shortest_lines_on_the_ellipsoid():
    s = plane_scale(4545)
    t = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)
    lon, lat, _ = GEOD.fwd(109.45, 22.8, 90.0, 2_000.0)
    point = shapely.Point(t.transform(lon, lat))
    meridian = shapely.LineString([t.transform(109.45, 22.799), t.transform(109.45, 22.801)])
    got = s.distance(np.array([point, point]), np.array([meridian, None]))
    assert got[0] == pytest.approx(2_000.0, abs=1e-3)  # (a short chord of the meridian)
    assert np.isnan(got[1])
    plane = shapely.distance(point, meridian)
    assert s.distance(point, meridian, plane) == pytest.approx(got[0], abs=1e-12)


def test_a_length_drawn_at_each_geometrys_centre():
    s = plane_scale(4545)
    x = s.false_easting + 150_000.0
    geoms = np.array(
        [shapely.Point(x, 2_500_000.0), shapely.box(x - 10, 2_499_990, x + 10, 2_500_010), None]
    )
    got = s.plane_at([100.0, 200.0, 300.0], geoms)
    want = s.plane([100.0, 200.0], x, 2_500_000.0)
    np.testing.assert_allclose(got[:2], want, rtol=1e-15)
    assert got[0] - 100.0 > 0.02 and np.isnan(got[2])
