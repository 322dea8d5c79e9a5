"""Tests of geo/raster.py: metric grids, rasterising, distances and GeoTIFF writing."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.windows import Window
from shapely import affinity

from geo.errors import InputFormatError
from geo.raster import (
    distance_to,
    geotiff_writer,
    grid_for,
    inner_slices,
    iter_windows,
    overview_factors,
    pixel_area_m2,
    rasterize,
    write_geotiff,
)

GK = "EPSG:4548"  # CGCS2000 3-degree Gauss-Krüger CM 117E
X0, Y0 = 500_000.0, 4_420_000.0  # on the central meridian, near Beijing


def test_grid_snaps_to_resolution_multiples():
    g = grid_for((X0 + 3, Y0 + 7, X0 + 95, Y0 + 41), resolution=10, crs=GK)
    left, bottom, right, top = g.bounds
    assert (left, bottom, right, top) == (X0, Y0, X0 + 100, Y0 + 50)
    assert (g.width, g.height) == (10, 5)
    assert g.resolution == 10
    assert g.crs.to_epsg() == 4548


def test_grid_from_lonlat_data_uses_local_gauss_kruger_zone():
    gs = gpd.GeoSeries([shapely.box(116.30, 39.90, 116.32, 39.91)], crs=4326)
    g = grid_for(gs, resolution=20)
    assert g.crs.to_epsg() == 4548
    # about 1.7 km × 1.1 km of lon/lat box → pixel counts of that order
    assert 80 <= g.width <= 90
    assert 55 <= g.height <= 58


def test_grid_pad_adds_margin():
    g = grid_for((X0, Y0, X0 + 100, Y0 + 100), resolution=10, crs=GK, pad_m=50)
    assert g.bounds == (X0 - 50, Y0 - 50, X0 + 150, Y0 + 150)


@pytest.mark.parametrize("res", [0, -5, float("nan")], ids=["zero", "negative", "nan"])
def test_grid_rejects_bad_resolution(res):
    with pytest.raises(InputFormatError, match="resolution"):
        grid_for((X0, Y0, X0 + 10, Y0 + 10), resolution=res, crs=GK)


def test_grid_rejects_geographic_crs():
    with pytest.raises(InputFormatError, match="geographic CRS"):
        grid_for((116.0, 39.0, 117.0, 40.0), resolution=0.01, crs="EPSG:4326")


def test_grid_rejects_too_many_pixels():
    with pytest.raises(InputFormatError, match="coarser"):
        grid_for((X0, Y0, X0 + 10_000, Y0 + 10_000), resolution=1, crs=GK, max_pixels=1000)


def test_grid_needs_crs_for_shapely_input():
    with pytest.raises(InputFormatError, match="crs="):
        grid_for(shapely.box(0, 0, 1, 1), resolution=1)


def test_rasterize_burns_pixel_centres_inside():
    g = grid_for((X0, Y0, X0 + 100, Y0 + 100), resolution=10, crs=GK)
    # 30 m × 40 m block aligned to pixel edges: 12 pixels
    sq = shapely.box(X0 + 10, Y0 + 20, X0 + 40, Y0 + 60)
    arr = rasterize([sq], g)
    assert arr.dtype == np.uint8
    assert int(arr.sum()) == 12
    # shifted by 4 m: centres inside still 12, all_touched gets the extra row/column
    sq2 = affinity.translate(sq, 4, 4)
    assert int(rasterize([sq2], g).sum()) == 12
    assert int(rasterize([sq2], g, all_touched=True).sum()) == 4 * 5


def test_rasterize_values_window_and_reprojection():
    g = grid_for((X0, Y0, X0 + 100, Y0 + 100), resolution=10, crs=GK)
    a = shapely.box(X0, Y0, X0 + 50, Y0 + 100)
    b = shapely.box(X0 + 50, Y0, X0 + 100, Y0 + 100)
    gs = gpd.GeoSeries([a, b], crs=GK).to_crs(4326)
    arr = rasterize(gs, g, values=[3, 7], dtype="uint16")
    assert set(np.unique(arr)) == {3, 7}
    assert (arr[:, :5] == 3).all() and (arr[:, 5:] == 7).all()
    win = rasterize(gs, g, values=[3, 7], window=Window(4, 0, 2, 3), dtype="uint16")
    assert win.shape == (3, 2)
    assert win[:, 0].tolist() == [3, 3, 3] and win[:, 1].tolist() == [7, 7, 7]


def test_rasterize_empty_input_gives_fill():
    g = grid_for((X0, Y0, X0 + 30, Y0 + 30), resolution=10, crs=GK)
    arr = rasterize([], g, fill=9)
    assert arr.shape == (3, 3) and (arr == 9).all()


def test_distance_to_is_euclidean_in_metres():
    mask = np.zeros((5, 7), dtype=bool)
    mask[2, 3] = True
    d = distance_to(mask, resolution=10)
    assert d.dtype == np.float32
    assert d[2, 3] == 0
    assert d[2, 6] == pytest.approx(30)
    assert d[0, 1] == pytest.approx(math.hypot(20, 20))
    assert np.isinf(distance_to(np.zeros((2, 2), bool), resolution=1)).all()


def test_iter_windows_cover_grid_once_with_padding():
    g = grid_for((X0, Y0, X0 + 700, Y0 + 500), resolution=10, crs=GK)
    seen = np.zeros(g.shape, dtype=int)
    for w, padded in iter_windows(g, size=32, pad=5):
        rows, cols = inner_slices(w, padded)
        block = np.zeros((padded.height, padded.width), dtype=int)
        block[rows, cols] = 1
        assert block.sum() == w.width * w.height
        seen[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] += 1
        assert padded.col_off >= 0 and padded.col_off + padded.width <= g.width
    assert (seen == 1).all()


def test_pixel_area_is_ellipsoidal():
    # 100 km east of the central meridian the GK scale factor is ~1.000123
    g = grid_for((600_000, Y0, 600_100, Y0 + 100), resolution=100, crs=GK)
    to_ll = pyproj.Transformer.from_crs(GK, 4326, always_xy=True)
    xs = [600_000, 600_100, 600_100, 600_000]
    ys = [Y0, Y0, Y0 + 100, Y0 + 100]
    lon, lat = to_ll.transform(xs, ys)
    expected = abs(pyproj.Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0])
    assert pixel_area_m2(g) == pytest.approx(expected, rel=1e-6)
    assert pixel_area_m2(g) < 10_000 * (1 - 2e-4)


def test_overview_factors():
    assert overview_factors(10, 4) == [2]
    assert overview_factors(1000, 300) == [2, 4, 8]
    assert overview_factors(1, 1) == []


def test_write_geotiff_profile(tmp_path):
    g = grid_for((X0, Y0, X0 + 6000, Y0 + 4000), resolution=10, crs=GK)
    arr = np.zeros(g.shape, dtype="uint8")
    arr[100:200, 50:400] = 1
    out = write_geotiff(tmp_path / "x.tif", arr, g, nodata=0, tags={"k": "v"}, description="d")
    assert out.exists()
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4548
        assert src.nodata == 0
        assert src.profile["tiled"] is True
        assert src.block_shapes == [(256, 256)]
        assert src.compression.name.lower() == "deflate"
        assert src.overviews(1) == [2, 4, 8]
        assert src.transform == g.transform
        assert src.tags()["k"] == "v"
        assert src.descriptions == ("d",)
        np.testing.assert_array_equal(src.read(1), arr)
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"]  # no temporary left


def test_write_geotiff_shape_mismatch(tmp_path):
    g = grid_for((X0, Y0, X0 + 30, Y0 + 30), resolution=10, crs=GK)
    with pytest.raises(InputFormatError, match="does not match the grid"):
        write_geotiff(tmp_path / "x.tif", np.zeros((2, 2), "uint8"), g, nodata=0)


def test_geotiff_writer_leaves_nothing_on_error(tmp_path):
    g = grid_for((X0, Y0, X0 + 30, Y0 + 30), resolution=10, crs=GK)
    target = tmp_path / "y.tif"
    with (
        pytest.raises(RuntimeError, match="boom"),
        geotiff_writer(target, g, dtype="float32", nodata=-9999.0),
    ):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_iter_windows_unclipped_padding_reaches_outside():
    g = grid_for((X0, Y0, X0 + 100, Y0 + 100), resolution=10, crs=GK)
    ((_, padded),) = list(iter_windows(g, size=64, pad=3, clip=False))
    assert (padded.col_off, padded.row_off, padded.width, padded.height) == (-3, -3, 16, 16)
    # a window beyond the grid still rasterises at the right place
    left, _, _, top = g.window_bounds(padded)
    assert (left, top) == (X0 - 30, Y0 + 130)
    arr = rasterize([box_gk(-28, -28, -2, -2)], g, window=padded)
    assert int(arr.sum()) == 9
    assert arr[-3:, :3].all()  # bottom-left corner, outside the grid itself


def box_gk(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)
