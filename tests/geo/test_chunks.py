"""Tests for geo.io.chunks: a GeoPackage layer read in runs, through Arrow or GDAL's features."""

from __future__ import annotations

import sqlite3
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geo.io.chunks as chunks
from geo.errors import GeometryRepairedWarning, InputFormatError
from geo.io import read_vector
from geo.io.chunks import iter_vector_chunks
from tests.frames import assert_frame_equal

_GEOMS = [
    shapely.Point(116, 40), None, shapely.Point(116.1, 40.1), shapely.Point(),
    shapely.Point(116.2, 40.2, 3), shapely.box(116, 40, 116.1, 40.1), shapely.Point(116, 40),
]  # fmt: skip


def _fields(n: int) -> dict[str, object]:
    """One field of each kind that reads the same through Arrow (text with empty cells, whole
    numbers with and without, 16- and 64-bit, reals of 32 and 64 bits)."""
    return {
        "site_id": (["a", None, "北京", "", "x y", "z", "w"] * n)[:n],
        "i32": np.arange(n, dtype="int32"),
        "i64": np.arange(n, dtype="int64") + 2**40,
        "i16": np.arange(n, dtype="int16"),
        "f": np.linspace(-1e300, 1e300, n),
        "f32": np.arange(n, dtype="float32") / 3,
        "inull": pd.array([None if i % 3 == 1 else i for i in range(n)], dtype="Int64"),
    }


def _read_both(path, chunk_size, monkeypatch):
    """The chunks through Arrow, and through GDAL's features (the reader before Arrow)."""
    calls = []
    arrow_runs = chunks._gpkg_arrow_runs

    def counted(*args, **kwargs):
        calls.append(1)
        return arrow_runs(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(chunks, "_gpkg_arrow_runs", counted)
        through_arrow = list(iter_vector_chunks(path, chunk_size=chunk_size))
    with monkeypatch.context() as m:
        m.setattr(chunks, "_arrow_reads_as_ogr", lambda info: False)
        by_feature = list(iter_vector_chunks(path, chunk_size=chunk_size))
    return through_arrow, by_feature, bool(calls)


def _assert_same_chunks(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
        assert a.dtypes.equals(b.dtypes) and a.crs == b.crs
        assert a.attrs["issues"] == b.attrs["issues"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # the rejected rows, compared below
@pytest.mark.parametrize("n", [7, 40])
def test_gpkg_chunks_through_arrow_equal_gdals_features(tmp_path, monkeypatch, n):
    geoms = (_GEOMS * 6)[:n]
    path = tmp_path / "s.gpkg"
    gpd.GeoDataFrame(_fields(n), geometry=geoms, crs="EPSG:4326").to_file(path)
    got, want, used_arrow = _read_both(path, 3, monkeypatch)
    assert used_arrow
    _assert_same_chunks(got, want)
    rejected = [i["row"] for c in got for i in c.attrs["issues"] if i["action"] == "rejected"]
    assert rejected[:2] == [2, 4]  # the null and the empty geometry, by their file rows


def test_gpkg_points_through_arrow_are_the_same_doubles(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    xy = np.column_stack([rng.uniform(73, 135, 1000), rng.uniform(18, 53, 1000)])
    xy[0] = [116.123456789012345, 39.98765432109876]
    path = tmp_path / "p.gpkg"
    gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(1000)]}, geometry=shapely.points(xy), crs=4326
    ).to_file(path)
    got, want, used_arrow = _read_both(path, 256, monkeypatch)
    assert used_arrow
    _assert_same_chunks(got, want)
    read = np.concatenate([shapely.get_coordinates(c.geometry.array) for c in got])
    assert np.array_equal(read, xy)


@pytest.mark.parametrize(
    "field",
    [
        pd.array([True, None, False], dtype="boolean"),  # Arrow: objects; GDAL: 1.0/NaN
        pd.to_datetime(["2020-01-01", None, "2021-02-03"]),
        [True, False, True],
    ],
    ids=["yes-no-with-empty", "date-time", "yes-no"],
)
def test_gpkg_layer_with_a_field_arrow_reads_otherwise_is_read_by_feature(
    tmp_path, monkeypatch, field
):
    path = tmp_path / "t.gpkg"
    gpd.GeoDataFrame(
        {"site_id": ["a", "b", "c"], "x": field}, geometry=_GEOMS[:1] * 3, crs=4326
    ).to_file(path)
    got, want, used_arrow = _read_both(path, 2, monkeypatch)
    assert not used_arrow
    _assert_same_chunks(got, want)
    joined = pd.concat(got, ignore_index=True)
    assert_frame_equal(pd.DataFrame(joined), pd.DataFrame(read_vector(path)))


def _unclosed_ring_blob() -> bytes:
    """A GeoPackage geometry blob (no envelope) of a polygon whose ring is not closed."""
    ring = [(116.0, 40.0), (116.1, 40.0), (116.1, 40.1), (116.0, 40.1)]
    wkb = struct.pack("<BIII", 1, 3, 1, len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", 4326) + wkb


@pytest.mark.parametrize("arrow", [True, False])
def test_gpkg_unclosed_ring_is_closed_with_a_warning_on_either_path(tmp_path, monkeypatch, arrow):
    path = tmp_path / "ring.gpkg"
    boxes = [shapely.box(116, 40, 116.1, 40.1)] * 4
    gpd.GeoDataFrame({"site_id": list("abcd")}, geometry=boxes, crs=4326).to_file(
        path,
        layer="ring",
        SPATIAL_INDEX="NO",  # (the index's triggers need GDAL's SQL)
    )
    with sqlite3.connect(path) as con:
        con.execute("UPDATE ring SET geom = ? WHERE fid = 3", (_unclosed_ring_blob(),))
    if not arrow:
        monkeypatch.setattr(chunks, "_arrow_reads_as_ogr", lambda info: False)
    with pytest.warns(GeometryRepairedWarning, match=r"ring\.gpkg.*unclosed polygon ring"):
        got = pd.concat(list(iter_vector_chunks(path, chunk_size=2)), ignore_index=True)
    assert len(got) == 4 and shapely.equals(got.geometry.array, np.array(boxes)).all()


def test_gpkg_damaged_mid_layer_names_the_file(tmp_path):
    path = tmp_path / "cut.gpkg"
    n = 20000
    gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(n)]},
        geometry=shapely.points(np.full(n, 116.0), np.linspace(39, 41, n)),
        crs=4326,
    ).to_file(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\0" * (len(data) - len(data) // 2))
    with pytest.raises(InputFormatError, match=r"cut\.gpkg"):
        list(iter_vector_chunks(path, chunk_size=1000))


def test_gpkg_run_with_a_curve_is_read_by_feature_as_before(tmp_path, monkeypatch):
    # Arrow hands GDAL's curves to shapely, which has none; GDAL's features linearise them
    path = tmp_path / "curve.gpkg"
    geoms = [shapely.box(116, 40, 116.1, 40.1), shapely.Point(116, 40)] * 3
    gpd.GeoDataFrame({"site_id": list("abcdef")}, geometry=geoms, crs=4326).to_file(
        path, layer="c", SPATIAL_INDEX="NO"
    )
    arc = struct.pack("<BII", 1, 8, 3) + struct.pack("<6d", 116, 40, 116.05, 40.05, 116.1, 40)
    with sqlite3.connect(path) as con:  # a circular string, in a GeoPackage blob
        blob = b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", 4326) + arc
        con.execute("UPDATE c SET geom = ? WHERE fid = 3", (blob,))
    got, want, used_arrow = _read_both(path, 2, monkeypatch)
    assert used_arrow
    _assert_same_chunks(got, want)
    assert got[1].geometry.iloc[0].geom_type == "LineString"  # the arc, linearised
    assert got[0].geometry.iloc[0].geom_type == "Polygon"  # other runs through Arrow
