"""Tests for geo.measure: ellipsoidal areas, lengths, distances and metric buffers.

Expectations come from pyproj.Geod(ellps="WGS84") directly (an independent call on
the same vertices) or from plane geometry, never from ecozone's own output.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely import ops
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from geo.errors import CRSDetectionError, GeometryError
from geo.measure import (
    area_m2,
    buffer_m,
    distance_m,
    geodesic_area,
    geodesic_length,
    geodesic_perimeter,
    measure,
)

WGS84_GEOD = pyproj.Geod(ellps="WGS84")
LON0, LAT0 = 116.40, 39.90  # Beijing
M_PER_DEG_LAT = 111_000.0


def _square(side_m: float, lon: float = LON0, lat: float = LAT0) -> Polygon:
    """A lon/lat box of roughly side_m × side_m metres."""
    dlat = side_m / M_PER_DEG_LAT
    dlon = side_m / (M_PER_DEG_LAT * math.cos(math.radians(lat)))
    return shapely.box(lon, lat, lon + dlon, lat + dlat)


def _ref_area(geom) -> float:
    return abs(WGS84_GEOD.geometry_area_perimeter(geom)[0])


def _ref_perimeter(geom) -> float:
    # Every ring, holes included (like shapely's length and GIS "Shape_Length"); note
    # that Geod.geometry_area_perimeter itself leaves interior rings out.
    rings = shapely.get_rings(shapely.get_parts(geom))
    return sum(WGS84_GEOD.line_length(*ring.xy) for ring in rings)


def _star(n: int = 23, r_deg: float = 0.2) -> Polygon:
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.where(np.arange(n) % 2 == 0, r_deg, r_deg * 0.45)
    return Polygon(np.column_stack([LON0 + r * np.cos(ang), LAT0 + r * np.sin(ang)]))


def _holed() -> Polygon:
    outer = _square(5_000)
    minx, miny, maxx, maxy = outer.bounds
    w, h = maxx - minx, maxy - miny
    holes = [
        shapely.box(minx + 0.1 * w, miny + 0.1 * h, minx + 0.4 * w, miny + 0.4 * h).exterior,
        shapely.box(minx + 0.6 * w, miny + 0.6 * h, minx + 0.9 * w, miny + 0.8 * h).exterior,
    ]
    return Polygon(outer.exterior, holes=[list(h.coords)[::-1] for h in holes])


POLYGONS = {
    "1m2": _square(1.0),
    "1ha": _square(100.0),
    "1km2": _square(1_000.0),
    "100km2": _square(10_000.0),
    "20000km2": _square(141_421.0, lon=115.8, lat=39.2),
    "star": _star(),
    "holes": _holed(),
    "multipolygon": MultiPolygon([_square(2_000.0), _holed(), _square(300.0, lon=117.0)]),
    "guangxi": _square(50_000.0, lon=108.0, lat=22.5),
}


@pytest.mark.parametrize("name", list(POLYGONS))
def test_geodesic_area_matches_pyproj_geod(name):
    geom = POLYGONS[name]
    got = geodesic_area(geom, "EPSG:4326")
    assert got == pytest.approx(_ref_area(geom), rel=1e-4)


def test_area_size_range_is_what_it_says():
    assert _ref_area(POLYGONS["1m2"]) == pytest.approx(1.0, rel=0.02)
    assert _ref_area(POLYGONS["20000km2"]) == pytest.approx(2e10, rel=0.02)


def test_holes_are_subtracted():
    holed = POLYGONS["holes"]
    full = Polygon(holed.exterior)
    holes = sum(_ref_area(Polygon(r)) for r in holed.interiors)
    got = geodesic_area(holed, 4326)
    assert got == pytest.approx(_ref_area(full) - holes, rel=1e-6)
    assert got < geodesic_area(full, 4326)


def test_orientation_does_not_matter():
    poly = POLYGONS["star"]
    reversed_ = shapely.reverse(poly)
    assert geodesic_area(reversed_, 4326) == pytest.approx(geodesic_area(poly, 4326), rel=1e-12)


@pytest.mark.parametrize("name", ["1ha", "100km2", "holes", "multipolygon"])
def test_geodesic_area_gk_input(name):
    geom = POLYGONS[name]
    to_gk = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    gk = ops.transform(to_gk.transform, geom)
    # expected: Geod on the GK vertices transformed back to lon/lat by pyproj
    back = pyproj.Transformer.from_crs(4548, 4326, always_xy=True)
    expected = _ref_area(ops.transform(back.transform, gk))
    got = geodesic_area(gpd.GeoSeries([gk], crs="EPSG:4548"))
    assert got[0] == pytest.approx(expected, rel=1e-4)
    # and close to the planar GK area (scale factor ~1 near the central meridian)
    assert got[0] == pytest.approx(gk.area, rel=5e-4)


def test_geodesic_area_prefixed_gk_input():
    geom = POLYGONS["1km2"]
    t = pyproj.Transformer.from_crs(4326, 4527, always_xy=True)
    gk = ops.transform(t.transform, geom)
    assert gk.bounds[0] > 39_000_000
    assert geodesic_area(gk, "EPSG:4527") == pytest.approx(_ref_area(geom), rel=1e-4)


def test_array_input_points_lines_missing_empty():
    geoms = np.array(
        [
            POLYGONS["1km2"],
            Point(LON0, LAT0),
            LineString([(LON0, LAT0), (LON0 + 0.1, LAT0)]),
            None,
            Polygon(),
            shapely.GeometryCollection([POLYGONS["1ha"], Point(LON0, LAT0)]),
        ],
        dtype=object,
    )
    areas = geodesic_area(geoms, 4326)
    assert areas.shape == (6,)
    assert areas[0] == pytest.approx(_ref_area(POLYGONS["1km2"]), rel=1e-6)
    assert areas[1] == 0.0
    assert areas[2] == 0.0
    assert np.isnan(areas[3])
    assert areas[4] == 0.0
    assert areas[5] == pytest.approx(_ref_area(POLYGONS["1ha"]), rel=1e-6)


@pytest.mark.parametrize("name", ["1ha", "100km2", "star", "holes", "multipolygon"])
def test_geodesic_perimeter_matches_pyproj(name):
    geom = POLYGONS[name]
    assert geodesic_perimeter(geom, 4326) == pytest.approx(_ref_perimeter(geom), rel=1e-6)


def test_perimeter_without_holes_equals_geod_perimeter():
    geom = POLYGONS["star"]
    expected = WGS84_GEOD.geometry_area_perimeter(geom)[1]
    assert geodesic_perimeter(geom, 4326) == pytest.approx(expected, rel=1e-6)


def test_geodesic_length_lines():
    line = LineString([(LON0, LAT0), (LON0 + 0.05, LAT0 + 0.02), (LON0 + 0.1, LAT0 - 0.03)])
    expected = WGS84_GEOD.line_length(*line.xy)
    assert geodesic_length(line, 4326) == pytest.approx(expected, rel=1e-6)
    multi = MultiLineString([line, [(117, 40), (117, 40.1)]])
    expected_multi = expected + WGS84_GEOD.inv(117, 40, 117, 40.1)[2]
    assert geodesic_length(multi, 4326) == pytest.approx(expected_multi, rel=1e-6)
    # polygons and points have no line parts
    lengths = geodesic_length([POLYGONS["1km2"], Point(1, 1), None], 4326)
    assert lengths[:2].tolist() == [0.0, 0.0]
    assert np.isnan(lengths[2])


def test_geodesic_length_gk_input():
    t = pyproj.Transformer.from_crs(4548, 4326, always_xy=True)
    line = LineString([(450_000, 4_420_000), (455_000, 4_423_000)])
    lon, lat = t.transform(*line.xy)
    expected = WGS84_GEOD.line_length(lon, lat)
    assert geodesic_length(gpd.GeoSeries([line], crs=4548))[0] == pytest.approx(expected, rel=1e-6)


def _densify(geom, step_deg=0.01):
    return shapely.segmentize(geom, step_deg)


@pytest.mark.parametrize("name", ["1km2", "100km2", "20000km2", "star", "holes", "guangxi"])
def test_equal_area_method_matches_geodesic_on_densified(name):
    geom = _densify(POLYGONS[name])
    gs = gpd.GeoSeries([geom], crs="EPSG:4326")
    fast = area_m2(gs, method="equal_area").iloc[0]
    assert fast == pytest.approx(_ref_area(geom), rel=1e-4)


def test_equal_area_many_features_spread_over_china():
    geoms = [
        _densify(_square(20_000.0, lon=lon, lat=lat))
        for lon, lat in [(75.0, 39.0), (116.4, 39.9), (126.6, 45.7), (108.3, 22.8), (91.1, 29.6)]
    ]
    gs = gpd.GeoSeries(geoms, crs=4326)
    fast = area_m2(gs, method="equal_area").to_numpy()
    expected = np.array([_ref_area(g) for g in geoms])
    np.testing.assert_allclose(fast, expected, rtol=1e-4)


def test_area_m2_series_shape_and_methods():
    gdf = gpd.GeoDataFrame(
        {"k": [1, 2, 3]},
        geometry=[POLYGONS["1ha"], POLYGONS["holes"], None],
        crs=4326,
        index=["a", "b", "c"],
    )
    for method in ("geodesic", "equal_area"):
        s = area_m2(gdf, method=method)
        assert isinstance(s, pd.Series)
        assert s.name == "area_m2"
        assert list(s.index) == ["a", "b", "c"]
        assert s["b"] == pytest.approx(_ref_area(POLYGONS["holes"]), rel=1e-4)
        assert np.isnan(s["c"])
    with pytest.raises(ValueError, match="method"):
        area_m2(gdf, method="planar")


def test_area_in_degrees_would_be_wrong_web_mercator_too():
    # guards the reason for this module: 3857 inflates areas ~1.7x at Beijing
    gs = gpd.GeoSeries([POLYGONS["100km2"]], crs=4326)
    merc = gs.to_crs(3857).area.iloc[0]
    ours = area_m2(gs).iloc[0]
    assert merc / ours == pytest.approx(1 / math.cos(math.radians(LAT0)) ** 2, rel=0.01)
    # and a 3857-labelled input is measured correctly after transforming to lon/lat
    assert geodesic_area(gs.to_crs(3857))[0] == pytest.approx(ours, rel=1e-6)


# --- buffers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "crs"),
    [(LON0, LAT0, "EPSG:4326"), (108.3, 22.8, "EPSG:4326"), (75.9, 39.5, "EPSG:4490"),
     (450_000.0, 4_420_000.0, "EPSG:4548"), (2.35, 48.85, "EPSG:4326")],
    ids=["beijing", "nanning", "kashgar", "gk-4548", "paris-utm"],
)  # fmt: skip
def test_buffer_30m_point_area(x, y, crs):
    ring = buffer_m(gpd.GeoSeries([Point(x, y)], crs=crs), 30.0)
    assert ring.crs == pyproj.CRS(crs)
    poly = ring.iloc[0]
    assert poly.contains(Point(x, y))
    to_ll = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lonlat = ops.transform(to_ll.transform, poly)
    assert _ref_area(lonlat) == pytest.approx(math.pi * 30.0**2, rel=5e-3)


def test_buffer_radius_is_30m_in_every_direction():
    ring = buffer_m(Point(LON0, LAT0), 30.0, "EPSG:4326").iloc[0]
    lon, lat = np.asarray(ring.exterior.coords).T
    _, _, d = WGS84_GEOD.inv(np.full(lon.size, LON0), np.full(lat.size, LAT0), lon, lat)
    np.testing.assert_allclose(d, 30.0, rtol=2e-3)


def test_buffer_line_and_per_feature_distance():
    # straight 1 km line: buffer area = 2·d·L + π·d² (plane geometry, 64-gon ends)
    t = pyproj.Transformer.from_crs(4548, 4326, always_xy=True)
    lon, lat = t.transform([450_000, 451_000], [4_420_000, 4_420_000])
    line = LineString(np.column_stack([lon, lat]))
    gs = gpd.GeoSeries([line, Point(LON0, LAT0)], crs=4326, index=[7, 8])
    out = buffer_m(gs, [50.0, 10.0])
    assert list(out.index) == [7, 8]
    assert out.crs.to_epsg() == 4326
    line_area = _ref_area(out.iloc[0])
    assert line_area == pytest.approx(2 * 50 * 1000 + math.pi * 50**2, rel=5e-3)
    assert _ref_area(out.iloc[1]) == pytest.approx(math.pi * 100, rel=5e-3)


def test_buffer_keeps_missing_and_empty():
    out = buffer_m(np.array([None, Point(), Point(LON0, LAT0)], dtype=object), 30, 4326)
    assert out.iloc[0] is None
    assert out.iloc[1].is_empty
    assert not out.iloc[2].is_empty


def test_buffer_rejects_bad_distance():
    with pytest.raises(GeometryError, match="distance_m"):
        buffer_m([Point(LON0, LAT0)], float("nan"), 4326)
    with pytest.raises(GeometryError, match="distance_m"):
        buffer_m([Point(LON0, LAT0), Point(LON0, LAT0)], [1.0, 2.0, 3.0], 4326)


# --- distances ----------------------------------------------------------------------


def test_distance_points_vs_geod_inv():
    rng = np.random.default_rng(7)
    lon1 = rng.uniform(115.5, 117.5, 200)
    lat1 = rng.uniform(39.5, 41.0, 200)
    az = rng.uniform(0, 360, 200)
    dist = rng.uniform(1, 10_000, 200)
    lon2, lat2, _ = WGS84_GEOD.fwd(lon1, lat1, az, dist)
    a = shapely.points(lon1, lat1)
    b = shapely.points(lon2, lat2)
    got = distance_m(a, b, "EPSG:4326")
    expected = WGS84_GEOD.inv(lon1, lat1, lon2, lat2)[2]
    assert np.abs(got - expected).max() < 0.01


def test_distance_points_in_gk_input():
    a = gpd.GeoSeries([Point(450_000, 4_420_000)], crs=4548)
    b = gpd.GeoSeries([Point(453_000, 4_424_000)], crs=4548)
    t = pyproj.Transformer.from_crs(4548, 4326, always_xy=True)
    lo1, la1 = t.transform(450_000, 4_420_000)
    lo2, la2 = t.transform(453_000, 4_424_000)
    expected = WGS84_GEOD.inv(lo1, la1, lo2, la2)[2]
    assert distance_m(a, b)[0] == pytest.approx(expected, abs=0.01)


def test_distance_point_to_polygon_and_broadcast():
    box_ = POLYGONS["1km2"]
    minx, miny, maxx, maxy = box_.bounds
    midx = (minx + maxx) / 2
    # a point 500 m north of the box's top edge (a parallel): nearest point straight south
    lon2, lat2, _ = WGS84_GEOD.fwd(midx, maxy, 0.0, 500.0)
    got = distance_m([box_, box_], [Point(lon2, lat2), Point(midx, (miny + maxy) / 2)], 4326)
    assert got[0] == pytest.approx(500.0, rel=1e-3)
    assert got[1] == 0.0
    many = distance_m(Point(LON0, LAT0), [Point(LON0, LAT0 + 0.01), None], 4326)
    assert many[0] == pytest.approx(WGS84_GEOD.inv(LON0, LAT0, LON0, LAT0 + 0.01)[2], abs=0.01)
    assert np.isnan(many[1])


def test_distance_length_mismatch():
    with pytest.raises(GeometryError, match="must match"):
        distance_m([Point(0, 0)] * 2, [Point(0, 0)] * 3, 4326)


# --- measure() and argument checks --------------------------------------------------


def test_measure_adds_columns_to_a_copy():
    line = LineString([(LON0, LAT0), (LON0 + 0.02, LAT0)])
    gdf = gpd.GeoDataFrame(
        {"name": ["park", "well", "road", "none"]},
        geometry=[POLYGONS["holes"], Point(LON0, LAT0), line, None],
        crs="EPSG:4326",
        index=[3, 4, 5, 6],
    )
    before = gdf.copy()
    out = measure(gdf)
    assert "area_m2" not in gdf.columns  # input untouched
    pd.testing.assert_frame_equal(gdf, before)
    assert list(out.index) == [3, 4, 5, 6]
    assert out.crs == gdf.crs
    assert out.loc[3, "area_m2"] == pytest.approx(_ref_area(POLYGONS["holes"]), rel=1e-6)
    assert out.loc[3, "perimeter_m"] == pytest.approx(_ref_perimeter(POLYGONS["holes"]), rel=1e-6)
    assert out.loc[3, "length_m"] == 0.0
    assert out.loc[4, ["area_m2", "perimeter_m", "length_m"]].tolist() == [0.0, 0.0, 0.0]
    assert out.loc[5, "length_m"] == pytest.approx(WGS84_GEOD.line_length(*line.xy), rel=1e-6)
    assert out.loc[5, "area_m2"] == 0.0
    assert out.loc[6, ["area_m2", "perimeter_m", "length_m"]].isna().all()


def test_measure_gk_input():
    t = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    gk = ops.transform(t.transform, POLYGONS["100km2"])
    out = measure(gpd.GeoDataFrame(geometry=[gk], crs=4548))
    assert out.crs.to_epsg() == 4548
    assert out["area_m2"].iloc[0] == pytest.approx(_ref_area(POLYGONS["100km2"]), rel=1e-4)


def test_missing_crs_raises():
    with pytest.raises(CRSDetectionError, match="crs="):
        geodesic_area([POLYGONS["1ha"]])
    with pytest.raises(CRSDetectionError, match="crs="):
        measure(gpd.GeoDataFrame(geometry=[POLYGONS["1ha"]]))


def test_conflicting_crs_raises():
    gs = gpd.GeoSeries([POLYGONS["1ha"]], crs=4326)
    with pytest.raises(CRSDetectionError, match="differs"):
        geodesic_area(gs, "EPSG:4548")


def test_wrong_crs_label_is_caught():
    gk_as_lonlat = gpd.GeoSeries([shapely.box(450_000, 4_420_000, 451_000, 4_421_000)], crs=4326)
    with pytest.raises(CRSDetectionError, match="label is wrong"):
        geodesic_area(gk_as_lonlat)


def test_non_geometry_rejected():
    with pytest.raises(GeometryError, match="not a shapely geometry"):
        geodesic_area([POLYGONS["1ha"], "POINT (1 2)"], 4326)


@pytest.mark.parametrize(("radius_m", "tolerance_m"), [(500.0, 5e-4), (3_000.0, 0.02)])
def test_buffer_radius_at_a_zone_edge_is_on_the_ellipsoid(radius_m, tolerance_m):
    # 109.45°E, 22.8°N is 1.45° from its zone's central meridian: a plane buffer of
    # 3 000 m reached 0.83 m short of 3 000 m on the ellipsoid; drawn at the centre's
    # scale, what is left is the scale's change across the disc (x·r²/2R²)
    ring = buffer_m(Point(109.45, 22.8), radius_m, "EPSG:4326").iloc[0]
    lon, lat = np.asarray(ring.exterior.coords).T
    _, _, d = WGS84_GEOD.inv(np.full(lon.size, 109.45), np.full(lat.size, 22.8), lon, lat)
    np.testing.assert_allclose(d, radius_m, rtol=0, atol=tolerance_m)


def test_distance_to_a_polygon_at_a_zone_edge_is_geodesic_to_a_millimetre():
    from tests.geodesy import geod_of_shortest_lines

    square = shapely.box(109.44, 22.79, 109.45, 22.80)
    lon, lat, _ = WGS84_GEOD.fwd(109.45, 22.795, 90.0, 2_500.0)  # 2.5 km east of its side
    got = distance_m(square, Point(lon, lat), "EPSG:4326")[0]
    t = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)
    a = shapely.transform(square, lambda xy: np.column_stack(t.transform(*xy.T)))
    b = Point(t.transform(lon, lat))
    want = geod_of_shortest_lines(np.array([a]), np.array([b]), 4545)[0]
    assert got == pytest.approx(want, abs=1e-3)
    assert got == pytest.approx(2_500.0, abs=0.01)  # the side runs along a meridian
    assert shapely.distance(a, b) - got > 0.6  # the plane: 70 cm long
