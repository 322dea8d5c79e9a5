"""WKB of 2-D points by numpy (geo/io/wkb.py): shapely's bytes and readings, or shapely's."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from geo.errors import CRSDetectionError, RowRejectedWarning
from geo.io import read_vector
from geo.io.chunks import iter_vector_chunks
from geo.io.wkb import wkb_array, wkb_point_xy

_ODD = [None, shapely.Point(), shapely.Point(1, 2, 3), shapely.LineString([(0, 0), (1, 1)])]
_ODD_IDS = ["null", "empty", "3d", "line"]


def _points(n: int = 500, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])
    xy[:3] = [[-0.0, 0.0], [1e308, -1e-308], [116.123456789012345, 39.9]]
    return shapely.points(xy)


def test_point_wkb_equals_shapely_byte_for_byte():
    pts = _points()
    got = wkb_array(pts)
    assert got.type == pa.binary() and got.null_count == 0
    assert got.to_pylist() == list(shapely.to_wkb(pts, flavor="iso"))
    assert shapely.equals(shapely.from_wkb(got.to_numpy(zero_copy_only=False)), pts).all()


def test_point_wkb_from_coordinates_known_already_is_the_same():
    pts = _points()
    got = wkb_array(pts, shapely.get_coordinates(pts))
    assert got.equals(wkb_array(pts))
    with pytest.raises(ValueError, match="rows"):
        wkb_array(pts, shapely.get_coordinates(pts)[1:])


@pytest.mark.parametrize("odd", _ODD, ids=_ODD_IDS)
def test_wkb_of_other_geometries_is_shapelys(odd):
    geoms = np.array([shapely.Point(116, 40), odd, shapely.Point(117, 41)], dtype=object)
    got = wkb_array(geoms)
    assert got.to_pylist() == list(shapely.to_wkb(geoms, flavor="iso"))


@pytest.mark.parametrize("kind", ["binary", "large_binary", "sliced", "chunked"])
def test_point_coordinates_are_what_shapely_reads(kind):
    pts = _points()
    wkb = shapely.to_wkb(pts, flavor="iso")
    values = pa.array(wkb, pa.large_binary() if kind == "large_binary" else pa.binary())
    want = shapely.get_coordinates(shapely.from_wkb(wkb))
    if kind == "sliced":  # an Arrow slice: its offsets start inside the buffer
        values, want = values.slice(7, 300), want[7:307]
    elif kind == "chunked":
        values = pa.chunked_array([values.slice(0, 100), values.slice(100)])
    got = wkb_point_xy(values)
    assert got is not None and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)  # every bit (-0.0 and 1e308 included)


@pytest.mark.parametrize(
    "odd",
    [*_ODD, "big-endian", "srid", "nan"],
    ids=[*_ODD_IDS, "big-endian", "srid", "nan"],
)
def test_anything_but_plain_points_is_left_to_shapely(odd):
    pts = list(shapely.to_wkb(_points(20), flavor="iso"))
    if odd == "big-endian":
        pts[5] = shapely.to_wkb(shapely.Point(116, 40), byte_order=0)
    elif odd == "srid":  # EWKB with its SRID: 25 bytes
        pts[5] = shapely.to_wkb(shapely.set_srid(shapely.Point(116, 40), 4326), include_srid=True)
    elif odd == "nan":  # a point written with NaN (how WKB writes an empty point)
        pts[5] = shapely.to_wkb(shapely.points(np.nan, 40.0), flavor="iso")
    else:
        pts[5] = None if odd is None else shapely.to_wkb(odd, flavor="iso")
    assert wkb_point_xy(pa.array(pts, pa.binary())) is None
    assert wkb_point_xy(pa.array([], pa.binary())) is None
    assert wkb_point_xy(pa.array(["POINT (1 2)"])) is None  # text is no WKB


def test_streamed_geoparquet_points_are_what_geopandas_reads(tmp_path):
    pts = _points(2_000, seed=7)
    sites = gpd.GeoDataFrame({"site_id": [f"s{i}" for i in range(len(pts))]},
                             geometry=pts, crs="EPSG:4326")  # fmt: skip
    sites = sites[(sites.geometry.x.abs() < 180) & (sites.geometry.y.abs() < 90)]
    path = tmp_path / "sites.parquet"
    sites.to_parquet(path)
    want = gpd.read_parquet(path)
    assert wkb_point_xy(pq.read_table(path)["geometry"]) is not None  # the numpy path
    got = list(iter_vector_chunks(path, chunk_size=300))
    assert len(got) > 1
    geoms = np.concatenate([np.asarray(c.geometry.array, dtype=object) for c in got])
    assert shapely.equals_exact(geoms, np.asarray(want.geometry.array), tolerance=0).all()
    assert all(c.crs == want.crs for c in got)
    assert [i for c in got for i in c["site_id"].tolist()] == want["site_id"].tolist()


def test_streamed_geoparquet_with_an_odd_row_reads_as_before(tmp_path):
    geoms = np.array([shapely.Point(116, 40), shapely.Point(), shapely.Point(117, 41)] * 4,
                     dtype=object)  # fmt: skip
    path = tmp_path / "odd.parquet"
    gpd.GeoDataFrame({"n": range(len(geoms))}, geometry=geoms, crs="EPSG:4326").to_parquet(path)
    with pytest.warns(RowRejectedWarning, match="geometry is empty"):
        got = list(iter_vector_chunks(path, chunk_size=6))
    kept = np.concatenate([np.asarray(c.geometry.array, dtype=object) for c in got])
    assert len(kept) == 8 and not shapely.is_empty(kept).any()  # the reader rejects empties
    issues = [i for c in got for i in c.attrs.get("issues", [])]
    assert sorted(i["row"] for i in issues) == [2, 5, 8, 11]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4548"])
def test_points_read_as_coordinates_are_validated_as_the_whole_file_reader_does(tmp_path, crs):
    rng = np.random.default_rng(3)
    if crs == "EPSG:4326":
        xy = np.column_stack([rng.uniform(115, 118, 40), rng.uniform(39, 41, 40)])
        xy[[3, 17, 31]] = [[200.0, 40.0], [116.0, -95.0], [-181.0, 91.0]]  # beyond ±180/±90
    else:  # Gauss-Krüger metres; three rows far outside the zone's area of use
        xy = np.column_stack([rng.uniform(4.4e5, 5.6e5, 40), rng.uniform(4.3e6, 4.5e6, 40)])
        xy[[3, 17, 31]] = [[9e7, 4.4e6], [5e5, -9e7], [-9e7, 9e7]]
    path = tmp_path / "pts.parquet"
    gdf = gpd.GeoDataFrame({"site_id": [f"s{i}" for i in range(40)]},
                           geometry=shapely.points(xy), crs=crs)  # fmt: skip
    gdf.to_parquet(path)
    assert wkb_point_xy(pq.read_table(path)["geometry"]) is not None  # the coordinates path
    with pytest.warns(RowRejectedWarning, match="out of range"):
        want = read_vector(path)
    with pytest.warns(RowRejectedWarning, match="out of range"):
        got = list(iter_vector_chunks(path, chunk_size=15))
    issues = [i for c in got for i in c.attrs["issues"]]
    assert issues == want.attrs["issues"] and len(issues) == 3
    assert [i["row"] for i in issues] == [4, 18, 32]
    both = pd.concat(got, ignore_index=True)
    assert both["site_id"].tolist() == want["site_id"].tolist()
    assert shapely.equals_exact(
        np.asarray(both.geometry.array), np.asarray(want.geometry.array), tolerance=0
    ).all()


def test_points_read_as_coordinates_all_out_of_range_name_the_crs(tmp_path):
    path = tmp_path / "far.parquet"
    gpd.GeoDataFrame(geometry=shapely.points([[5e5, 4.4e6], [5.1e5, 4.41e6]]),
                     crs="EPSG:4326").to_parquet(path)  # fmt: skip
    with pytest.raises(CRSDetectionError, match="no coordinate fits the CRS") as whole:
        read_vector(path)
    with pytest.raises(CRSDetectionError, match="no coordinate fits the CRS") as chunked:
        list(iter_vector_chunks(path, chunk_size=1))
    assert "x 500000…500000" in str(chunked.value)  # the first chunk's one row
    assert "y 4.4e+06…4.4e+06" in str(chunked.value)
    assert "x 500000…510000" in str(whole.value)
