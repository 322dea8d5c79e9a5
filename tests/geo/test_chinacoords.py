"""Tests for geo.chinacoords: WGS84 ⇄ GCJ-02 ⇄ BD-09."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon

from geo.chinacoords import (
    SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_coords,
    convert_gdf,
    convert_geometry,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import CRSDetectionError, InputFormatError

# --- published reference vectors ------------------------------------------------------
# wandergis/coordtransform, test/app.js ("//result" block), input (116.404, 39.915) fed
# to each function; the same numbers are asserted by hutool's CoordinateUtilTest and
# the coordtransform_rs crate tests.
WANDERGIS_IN = (116.404, 39.915)
WANDERGIS_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
WANDERGIS_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
# These two are the published *approximate* inverses (one step, not iterated):
WANDERGIS_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
WANDERGIS_GCJ02_TO_WGS84 = (116.39775550083061, 39.91359571849836)

# hujiulong/gcoord, test/fixtures/china-cities.json (first cities; 7 decimals). Its
# WGS84/GCJ02 pairs come from a live map service and differ from the public formula by
# up to ~0.7 m, so they are compared at 1e-5°; BD09 was derived from GCJ02 by formula.
GCOORD_CITIES = [
    # name, WGS84, GCJ02, BD09
    ("驻马店", (114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    ("邵阳", (111.4622119, 27.242124), (111.4677938, 27.2388981), (111.4742271, 27.2451662)),
    ("那曲", (92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    ("沈阳", (123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    ("酒泉", (98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    ("钦州", (108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
]
CITY_IDS = [c[0] for c in GCOORD_CITIES]


def test_wgs84_to_gcj02_matches_published_vector():
    lon, lat = wgs84_to_gcj02(*WANDERGIS_IN)
    assert lon == pytest.approx(WANDERGIS_WGS84_TO_GCJ02[0], abs=1e-12)
    assert lat == pytest.approx(WANDERGIS_WGS84_TO_GCJ02[1], abs=1e-12)


def test_gcj02_to_bd09_matches_published_vector():
    lon, lat = gcj02_to_bd09(*WANDERGIS_IN)
    assert lon == pytest.approx(WANDERGIS_GCJ02_TO_BD09[0], abs=1e-12)
    assert lat == pytest.approx(WANDERGIS_GCJ02_TO_BD09[1], abs=1e-12)


def test_gcj02_to_wgs84_refines_published_one_step_inverse():
    lon, lat = gcj02_to_wgs84(*WANDERGIS_IN)
    # close to the published approximate value (it is off by a few cm) ...
    assert lon == pytest.approx(WANDERGIS_GCJ02_TO_WGS84[0], abs=2e-6)
    assert lat == pytest.approx(WANDERGIS_GCJ02_TO_WGS84[1], abs=2e-6)
    # ... and ours maps forward onto the input, better than the published one does
    ours = np.hypot(*np.subtract(wgs84_to_gcj02(lon, lat), WANDERGIS_IN))
    theirs = np.hypot(*np.subtract(wgs84_to_gcj02(*WANDERGIS_GCJ02_TO_WGS84), WANDERGIS_IN))
    assert ours < 1e-9
    assert ours < theirs


def test_bd09_to_gcj02_refines_published_formula():
    lon, lat = bd09_to_gcj02(*WANDERGIS_IN)
    assert lon == pytest.approx(WANDERGIS_BD09_TO_GCJ02[0], abs=3e-6)
    assert lat == pytest.approx(WANDERGIS_BD09_TO_GCJ02[1], abs=3e-6)
    back = gcj02_to_bd09(lon, lat)
    assert np.abs(np.subtract(back, WANDERGIS_IN)).max() < 1e-9


@pytest.mark.parametrize(("name", "wgs", "gcj", "bd"), GCOORD_CITIES, ids=CITY_IDS)
def test_gcoord_city_vectors(name, wgs, gcj, bd):
    assert np.abs(np.subtract(wgs84_to_gcj02(*wgs), gcj)).max() < 1e-5
    assert np.abs(np.subtract(gcj02_to_wgs84(*gcj), wgs)).max() < 1e-5
    # BD09 of the fixture is the formula applied to its GCJ02, rounded to 1e-7
    assert np.abs(np.subtract(gcj02_to_bd09(*gcj), bd)).max() < 1.5e-7
    assert np.abs(np.subtract(bd09_to_gcj02(*bd), gcj)).max() < 1.5e-7
    assert np.abs(np.subtract(bd09_to_wgs84(*bd), wgs)).max() < 1e-5


def test_vectorised_arrays_match_scalars():
    lons = np.array([c[1][0] for c in GCOORD_CITIES])
    lats = np.array([c[1][1] for c in GCOORD_CITIES])
    glon, glat = wgs84_to_gcj02(lons, lats)
    assert glon.shape == lons.shape
    for i in range(len(lons)):
        s_lon, s_lat = wgs84_to_gcj02(lons[i], lats[i])
        assert glon[i] == s_lon
        assert glat[i] == s_lat


def test_scalar_in_scalar_out_and_shape_kept():
    lon, _lat = wgs84_to_gcj02(116.4, 39.9)
    assert np.ndim(lon) == 0
    assert isinstance(lon, float)
    grid_lon, grid_lat = np.meshgrid(np.linspace(115, 118, 4), np.linspace(39, 41, 3))
    out_lon, out_lat = gcj02_to_wgs84(grid_lon, grid_lat)
    assert out_lon.shape == (3, 4)
    assert out_lat.shape == (3, 4)


def test_gcj_offset_is_hundreds_of_metres():
    lon, lat = np.meshgrid(np.linspace(75, 134, 30), np.linspace(18, 53, 30))
    glon, glat = wgs84_to_gcj02(lon, lat)
    dx = (glon - lon) * 111_320 * np.cos(np.radians(lat))
    dy = (glat - lat) * 110_574
    shift = np.hypot(dx, dy)
    assert shift.min() > 10
    assert shift.max() < 1_000


def test_round_trip_wgs_gcj_wgs_grid():
    lon, lat = np.meshgrid(np.linspace(73.5, 135.5, 200), np.linspace(3.5, 53.5, 200))
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_round_trips_bd09():
    lon, lat = np.meshgrid(np.linspace(73.5, 135.5, 100), np.linspace(3.5, 53.5, 100))
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7
    assert np.abs(back[1] - lat).max() < 1e-7
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7
    assert np.abs(back[1] - lat).max() < 1e-7


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(2.35, 48.85), (139.69, 35.69), (103.8, 0.5), (100.0, 56.0), (71.9, 40.0)],
    ids=["paris", "tokyo", "equator", "north", "west"],
)
@pytest.mark.parametrize(
    ("src", "dst"),
    [("wgs84", "gcj02"), ("gcj02", "wgs84"), ("gcj02", "bd09"), ("bd09", "gcj02"),
     ("wgs84", "bd09"), ("bd09", "wgs84")],
)  # fmt: skip
def test_out_of_china_not_shifted(lon, lat, src, dst):
    assert out_of_china(lon, lat)
    out_lon, out_lat = convert_coords(lon, lat, src=src, dst=dst)
    assert (out_lon, out_lat) == (lon, lat)


def test_out_of_china_rectangle_edges():
    lon = np.array([72.003, 72.005, 137.8346, 137.8348, 100, 100, 100, 100])
    lat = np.array([30, 30, 30, 30, 0.8292, 0.8294, 55.8270, 55.8272])
    expected = [True, False, False, True, True, False, False, True]
    assert out_of_china(lon, lat).tolist() == expected


def test_nan_handled_in_arrays():
    lon = np.array([116.4, np.nan, 121.5, 116.4])
    lat = np.array([39.9, 39.9, np.nan, 39.9])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84):
        out_lon, out_lat = fn(lon, lat)
        assert np.isnan(out_lon[1])
        assert np.isnan(out_lat[2])
        single = fn(116.4, 39.9)
        assert out_lon[0] == single[0]
        assert out_lat[3] == single[1]


def test_convert_coords_names_and_identity():
    assert set(SYSTEMS) == {"wgs84", "cgcs2000", "gcj02", "bd09"}
    lon, lat = convert_coords([116.4], [39.9], src="CGCS2000", dst="WGS-84")
    assert lon.tolist() == [116.4]
    assert lat.tolist() == [39.9]
    a = convert_coords(116.4, 39.9, src="cgcs2000", dst="GCJ-02")
    b = wgs84_to_gcj02(116.4, 39.9)
    assert a == b
    c = convert_coords(116.4, 39.9, src="Baidu", dst="wgs84")
    assert c == bd09_to_wgs84(116.4, 39.9)


@pytest.mark.parametrize("bad", ["utm", "EPSG:3857", "", 4326])
def test_unknown_system_raises(bad):
    with pytest.raises(InputFormatError, match="src"):
        convert_coords(116.4, 39.9, src=bad, dst="wgs84")


def test_mismatched_shapes_raise():
    with pytest.raises(InputFormatError, match="same shape"):
        wgs84_to_gcj02([116.4, 116.5], [39.9, 39.9, 40.0])


def test_non_convergence_is_reported():
    with pytest.raises(InputFormatError, match="did not converge"):
        gcj02_to_wgs84(116.4, 39.9, tolerance=1e-30, max_iter=2)


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(min_value=73.0, max_value=136.0),
    lat=st.floats(min_value=3.0, max_value=54.0),
)
def test_property_round_trips_over_china(lon, lat):
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert abs(w_lon - lon) < 1e-7
    assert abs(w_lat - lat) < 1e-7
    b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
    assert abs(b_lon - g_lon) < 0.02
    assert abs(b_lat - g_lat) < 0.02
    r_lon, r_lat = bd09_to_wgs84(b_lon, b_lat)
    assert abs(r_lon - lon) < 1e-7
    assert abs(r_lat - lat) < 1e-7


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(73.0, 136.0), st.floats(3.0, 54.0)), min_size=1, max_size=50))
def test_property_arrays_equal_pointwise(points):
    arr = np.array(points)
    lon, lat = gcj02_to_wgs84(arr[:, 0], arr[:, 1])
    for i, (x, y) in enumerate(points):
        s_lon, s_lat = gcj02_to_wgs84(x, y)
        assert abs(lon[i] - s_lon) < 1e-9
        assert abs(lat[i] - s_lat) < 1e-9


# --- geometries and GeoDataFrames -----------------------------------------------------


@pytest.fixture
def holed_polygon() -> Polygon:
    return Polygon(
        [(116.30, 39.90), (116.40, 39.90), (116.40, 40.00), (116.30, 40.00)],
        holes=[[(116.33, 39.93), (116.36, 39.93), (116.36, 39.96), (116.33, 39.96)]],
    )


def test_convert_geometry_polygon_with_hole(holed_polygon):
    out = convert_geometry(holed_polygon, src="wgs84", dst="gcj02")
    assert isinstance(out, Polygon)
    assert len(out.interiors) == 1
    coords = shapely.get_coordinates(holed_polygon)
    exp_lon, exp_lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    np.testing.assert_allclose(shapely.get_coordinates(out), np.column_stack([exp_lon, exp_lat]))


def test_convert_geometry_array_multipolygon_none_and_z(holed_polygon):
    multi = MultiPolygon([holed_polygon, affinity.translate(holed_polygon, 0.5, 0)])
    geoms = np.array([multi, None, Point(116.4, 39.9, 42.0)], dtype=object)
    out = convert_geometry(geoms, src="gcj02", dst="wgs84")
    assert out.shape == (3,)
    assert out[1] is None
    assert out[0].geom_type == "MultiPolygon"
    assert out[2].has_z
    assert out[2].z == 42.0
    exp = gcj02_to_wgs84(116.4, 39.9)
    assert (out[2].x, out[2].y) == pytest.approx(exp, abs=1e-12)
    back = convert_geometry(out, src="wgs84", dst="gcj02")
    assert shapely.equals_exact(back[0], multi, tolerance=1e-7)


def test_convert_gdf_returns_copy(holed_polygon):
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[holed_polygon, Point(116.4, 39.9)],
        crs="EPSG:4326",
        index=[10, 20],
    )
    before = gdf.copy()
    out = convert_gdf(gdf, src="gcj02", dst="wgs84")
    assert out is not gdf
    assert out.crs == gdf.crs
    assert list(out.index) == [10, 20]
    assert out["name"].tolist() == ["a", "b"]
    assert gdf.geometry.geom_equals(before.geometry).all()  # input untouched
    exp = gcj02_to_wgs84(116.4, 39.9)
    assert (out.geometry.iloc[1].x, out.geometry.iloc[1].y) == pytest.approx(exp, abs=1e-12)


def test_convert_gdf_cgcs2000_label_and_geoseries():
    gs = gpd.GeoSeries([Point(116.4, 39.9)], crs="EPSG:4490")
    out = convert_gdf(gs, src="wgs84", dst="bd09")
    assert isinstance(out, gpd.GeoSeries)
    assert out.crs.to_epsg() == 4490
    assert (out.iloc[0].x, out.iloc[0].y) == pytest.approx(wgs84_to_bd09(116.4, 39.9))


def test_convert_gdf_rejects_projected_or_missing_crs():
    gk = gpd.GeoDataFrame(geometry=[Point(450_000, 4_420_000)], crs="EPSG:4548")
    with pytest.raises(CRSDetectionError, match="projected"):
        convert_gdf(gk, src="gcj02", dst="wgs84")
    bare = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)])
    with pytest.raises(CRSDetectionError, match="set_crs"):
        convert_gdf(bare, src="gcj02", dst="wgs84")
