"""WKB of 2-D points by numpy (geo/io/wkb.py): shapely's bytes and readings, or shapely's."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from geo.errors import RowRejectedWarning
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
