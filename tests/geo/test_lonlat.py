"""geo.io.lonlat: the one conversion to WGS84 lon/lat (CRS, projection, coords, range, repair)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from geo.chinacoords import convert_coords
from geo.errors import CRSDetectionError, InputFormatError
from geo.io.lonlat import frame_to_lonlat, to_lonlat

GEOD = pyproj.Geod(ellps="GRS80")
LON, LAT = np.array([116.3975, 116.45, 117.2]), np.array([39.9087, 39.95, 40.1])


def _gk(lon, lat):
    return pyproj.Transformer.from_crs(4326, 4548, always_xy=True).transform(lon, lat)


def _dist_m(geoms, lon, lat):
    return GEOD.inv(shapely.get_x(geoms), shapely.get_y(geoms), lon, lat)[2]


def test_projected_geometries_come_back_to_the_same_points():
    e, n = _gk(LON, LAT)
    res = to_lonlat(shapely.points(e, n), crs="EPSG:4548")
    assert res.crs.to_epsg() == 4548 and not res.swapped and not res.repaired.any()
    assert np.all(_dist_m(res.geoms, LON, LAT) < 1e-3)


def test_without_a_crs_northing_first_gk_is_detected_and_swapped():
    e, n = _gk(LON, LAT)
    res = to_lonlat(list(shapely.points(n, e)), zone=39)  # survey order, no CRS
    assert res.swapped and res.crs.to_epsg() == 4548 and "4548" in res.description
    assert np.all(_dist_m(res.geoms, LON, LAT) < 1e-3)


def test_gcj02_lonlat_is_converted_like_chinacoords_and_refused_for_projected():
    glon, glat = convert_coords(LON, LAT, src="wgs84", dst="gcj02")
    res = to_lonlat(shapely.points(glon, glat), crs=4326, coords="gcj02")
    assert np.all(_dist_m(res.geoms, LON, LAT) < 1.0)  # the GCJ-02 inverse is iterative
    assert np.all(_dist_m(shapely.points(glon, glat), LON, LAT) > 100)  # it did move
    with pytest.raises(InputFormatError, match="coords='gcj02'"):
        to_lonlat(shapely.Point(448_000, 4_418_000), crs="EPSG:4548", coords="gcj02")


def test_coordinates_outside_lonlat_are_refused_with_the_callers_hint():
    with pytest.raises(CRSDetectionError, match=r"not lon/lat degrees.*--crs"):
        to_lonlat(shapely.Point(448_000, 4_418_000), crs=4326, source="sites.csv",
                  hint="pass --crs")  # fmt: skip


def test_repair_reports_each_reason_and_keeps_missing_geometries():
    bow = shapely.Polygon([(116, 39), (116.1, 39.1), (116.1, 39), (116, 39.1)])
    res = to_lonlat([bow, None, shapely.Point(116.4, 39.9)], crs=4326, repair="structure")
    assert res.repaired.tolist() == [True, False, False]
    assert "Self-intersection" in res.reasons[0]
    assert res.geoms[0].is_valid and res.geoms[0].geom_type == "MultiPolygon"
    assert res.geoms[1] is None
    untouched = to_lonlat([bow], crs=4326)
    assert not untouched.repaired.any() and not untouched.geoms[0].is_valid


def test_linework_repair_is_make_valids_default():
    bow = shapely.Polygon([(116, 39), (116.1, 39.1), (116.1, 39), (116, 39.1)])
    line = shapely.LineString([(116, 39), (116, 39)])  # collapsed: linework keeps it
    res = to_lonlat([bow, line], crs="EPSG:4326", repair="linework")
    assert res.repaired.tolist() == [True, True]
    assert all(shapely.equals_exact(res.geoms, shapely.make_valid(np.array([bow, line]))))
    assert shapely.is_valid(res.geoms).all()


def test_mark_mode_marks_bad_rows_and_converts_the_others():
    e, n = _gk(LON, LAT)
    bow = shapely.Polygon([(e[0], n[0]), (e[0] + 50, n[0] + 50), (e[0] + 50, n[0]),
                           (e[0], n[0] + 50)])  # fmt: skip
    geoms = [shapely.Point(e[0], n[0]), shapely.Point(np.nan, n[1]), None, bow]
    res = to_lonlat(geoms, crs="EPSG:4548", repair="linework", errors="mark")
    assert res.nonfinite.tolist() == [False, True, False, False]
    assert not res.outside.any() and res.repaired.tolist() == [False, False, False, True]
    assert _dist_m(res.geoms[:1], LON[:1], LAT[:1])[0] < 1e-3
    assert res.geoms[2] is None and res.geoms[3].is_valid
    # metres labelled lon/lat: raised by default, marked (and left unrepaired) on request
    wrong = [shapely.Point(LON[0], LAT[0]), bow, shapely.Point(np.inf, 0.0)]
    with pytest.raises(CRSDetectionError, match="not lon/lat degrees"):
        to_lonlat(wrong, crs=4326, repair="linework")
    res = to_lonlat(wrong, crs=4326, repair="linework", errors="mark")
    assert res.outside.tolist() == [False, True, False]
    assert res.nonfinite.tolist() == [False, False, True]
    assert not res.repaired.any() and res.geoms[1] is wrong[1]
    with pytest.raises(InputFormatError, match="errors"):
        to_lonlat(wrong, crs=4326, errors="skip")


def test_frame_to_lonlat_keeps_rows_and_columns():
    e, n = _gk(LON, LAT)
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c"]}, geometry=shapely.points(e, n),
                           crs=4548, index=[10, 20, 30])  # fmt: skip
    out = frame_to_lonlat(gdf)
    assert out.crs.to_epsg() == 4326 and out.index.tolist() == [10, 20, 30]
    assert out["name"].tolist() == ["a", "b", "c"] and gdf.crs.to_epsg() == 4548
    assert np.all(_dist_m(out.geometry.to_numpy(), LON, LAT) < 1e-3)


def test_marked_points_keep_their_coordinates_read_once_and_other_input_does_not():
    pts = shapely.points(np.column_stack([LON, LAT]))
    pts[1] = shapely.Point(np.nan, 39.9)  # a bad row stays in place, marked
    out = to_lonlat(pts, crs=4326, errors="mark", repair="linework")
    assert out.nonfinite.tolist() == [False, True, False]
    # what shapely reads from the returned geometries, NaN and all
    np.testing.assert_array_equal(out.xy, shapely.get_coordinates(out.geoms))
    # projected points: the coordinates of the converted points
    x, y = _gk(LON, LAT)
    gk = to_lonlat(shapely.points(x, y), crs=4548, errors="mark")
    np.testing.assert_array_equal(gk.xy, shapely.get_coordinates(gk.geoms))
    # anything but plain 2-D points everywhere: not read here
    mixed = np.array([*pts[[0, 2]], shapely.box(116, 39, 116.1, 39.1)], dtype=object)
    for geoms, errors in ((mixed, "mark"), (np.array([pts[0], None]), "mark"),
                          (shapely.points(np.column_stack([LON, LAT, LAT])), "mark"),
                          (pts[[0, 2]], "raise")):  # fmt: skip
        assert to_lonlat(geoms, crs=4326, errors=errors).xy is None
