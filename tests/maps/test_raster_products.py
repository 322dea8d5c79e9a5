"""Tests of maps/raster.py: the GeoTIFF products reopen with the right content."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely

from geo.errors import InputFormatError
from maps.raster import (
    COVERAGE_CLASSES,
    DISTANCE_NODATA,
    park_coverage_raster,
    park_distance_raster,
    rasterize_layer,
)
from zoning.coverage.measure import park_service_coverage

GK = "EPSG:4548"
X0, Y0 = 500_000.0, 4_420_000.0
_TO_LL = pyproj.Transformer.from_crs(GK, 4326, always_xy=True)


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def to_ll(geom):
    dense = shapely.segmentize(geom, 10.0)
    return shapely.transform(dense, lambda xy: np.column_stack(_TO_LL.transform(*xy.T)))


def layer(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[to_ll(g) for g in geoms], crs=4326)


@pytest.fixture
def world():
    park = layer([box(0, 0, 2000, 2000)])
    res = layer(
        [box(2100, 1000, 2300, 1200), box(3000, 1000, 3200, 1200), box(2400, 500, 2600, 700)],
        population=[1.0, 2.0, 3.0],
        kind=["a", "b", "a"],
    )
    return park, res


def _assert_geotiff(src, *, nodata, dtype):
    assert src.crs.to_epsg() == 4548  # the local Gauss-Krüger zone
    assert src.nodata == nodata
    assert src.dtypes[0] == dtype
    assert src.profile["tiled"] is True
    assert src.block_shapes[0] == (256, 256)
    assert src.compression.name.lower() == "deflate"
    assert src.overviews(1), "overviews are built"


@pytest.mark.parametrize("method", ["vector", "raster"])
def test_park_coverage_raster(tmp_path, world, method):
    park, res = world
    path = park_coverage_raster(park, res, tmp_path / "cov.tif", resolution_m=10, method=method)
    with rasterio.open(path) as src:
        _assert_geotiff(src, nodata=0, dtype="uint8")
        arr = src.read(1)
        assert src.res == (10.0, 10.0)
        assert "1=" in src.tags()["classes"]
    assert set(np.unique(arr)) == {0, 1, 2}
    # block areas 40 000, 40 000, 40 000 m²: 20 000 of the last one is covered
    assert (arr == 1).sum() == pytest.approx(600, abs=12)
    assert (arr == 2).sum() == pytest.approx(600, abs=12)
    cov = park_service_coverage(park, res)
    assert 100 * (arr == 1).sum() / (arr > 0).sum() == pytest.approx(cov.value, abs=1.0)
    assert set(COVERAGE_CLASSES) == {0, 1, 2}


def test_park_coverage_raster_bad_method(tmp_path, world):
    park, res = world
    with pytest.raises(InputFormatError, match="`method`"):
        park_coverage_raster(park, res, tmp_path / "x.tif", method="grid")


def test_park_distance_raster(tmp_path, world):
    park, _ = world
    area = layer([box(-1000, -1000, 4000, 3000)])
    path = park_distance_raster(park, tmp_path / "dist.tif", area_of=area, resolution_m=20)
    with rasterio.open(path) as src:
        _assert_geotiff(src, nodata=DISTANCE_NODATA, dtype="float32")
        arr = src.read(1)
        # pixel centre 1 010 m east of the park edge, at mid-height
        row, col = src.index(X0 + 3010, Y0 + 1010)
        assert arr[row, col] == pytest.approx(1010, abs=20)
        row, col = src.index(X0 + 1000, Y0 + 1000)
        assert arr[row, col] == 0
        row, col = src.index(X0 + 2700, Y0 + 2700)  # diagonal from the corner
        assert arr[row, col] == pytest.approx(math.hypot(700, 700), abs=20)
        # the margin outside the area is nodata
        row, col = src.index(X0 - 1500, Y0 + 1000)
        assert arr[row, col] == DISTANCE_NODATA
        assert src.tags()["unit"] == "m"


def test_rasterize_layer_presence_value_and_text(tmp_path, world):
    _, res = world
    pres = rasterize_layer(res, tmp_path / "p.tif", resolution_m=10)
    with rasterio.open(pres) as src:
        _assert_geotiff(src, nodata=0, dtype="uint8")
        assert int(src.read(1).sum()) == 3 * 400
    val = rasterize_layer(res, tmp_path / "v.tif", resolution_m=10, column="population")
    with rasterio.open(val) as src:
        _assert_geotiff(src, nodata=DISTANCE_NODATA, dtype="float32")
        arr = src.read(1)
        assert sorted(np.unique(arr[arr != DISTANCE_NODATA]).tolist()) == [1.0, 2.0, 3.0]
        assert (arr == 3.0).sum() == 400
    txt = rasterize_layer(res, tmp_path / "t.tif", resolution_m=10, column="kind")
    with rasterio.open(txt) as src:
        assert src.tags()["codes"] == "1=a; 2=b"
        arr = src.read(1)
        assert (arr == 1).sum() == 800 and (arr == 2).sum() == 400
    with pytest.raises(InputFormatError, match="no column 'nope'"):
        rasterize_layer(res, tmp_path / "n.tif", resolution_m=10, column="nope")
