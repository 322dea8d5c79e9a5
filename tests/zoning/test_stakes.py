"""Demarcation stakes (勘界定标): hand-made polygons drawn in the GK plane, known answers."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon

from geo.errors import CRSDetectionError, GeometryError, InputFormatError, RowRejectedWarning
from zoning.tasks.stakes import STAKE_TABLE_COLUMNS, demarcation_stakes, stakes_table, write_stakes

GK39 = 4548  # CGCS2000 GK zone 39 (117°E), Beijing
TO_LL = Transformer.from_crs(GK39, 4326, always_xy=True)
TO_GK = Transformer.from_crs(4326, GK39, always_xy=True)
E0, N0 = 470_000.0, 4_420_000.0  # a spot in Tongzhou, GK zone 39


def ll_polygon(shell_en, holes_en=()):
    """A lon/lat polygon whose vertices sit exactly at the given GK (E, N) points."""

    def conv(ring):
        e, n = np.asarray(ring, dtype=float).T
        lon, lat = TO_LL.transform(e, n)
        return list(zip(lon, lat, strict=True))

    return Polygon(conv(shell_en), [conv(h) for h in holes_en])


def rect_en(e0, n0, w, h):
    """Clockwise rectangle, starting at the south-west corner (not the NW one)."""
    return [(e0, n0), (e0, n0 + h), (e0 + w, n0 + h), (e0 + w, n0)]


def gk_xy(stakes):
    return stakes["y_east"].to_numpy(), stakes["x_north"].to_numpy()


def test_rectangle_known_stakes():
    # 120 m × 80 m, vertices given anticlockwise from the SE corner
    ring = [(E0 + 120, N0), (E0 + 120, N0 + 80), (E0, N0 + 80), (E0, N0)]
    gdf = gpd.GeoDataFrame({"feature_id": ["RL-00001"]}, geometry=[ll_polygon(ring)], crs=4326)
    s = demarcation_stakes(gdf, interval_m=50)
    # 120 m sides: ceil(120/50) = 3 pieces of 40 m; 80 m sides: 2 pieces of 40 m
    expected = [
        (N0 + 80, E0, "vertex"),  # NW corner first, then clockwise (east along the north side)
        (N0 + 80, E0 + 40, "interval"),
        (N0 + 80, E0 + 80, "interval"),
        (N0 + 80, E0 + 120, "vertex"),
        (N0 + 40, E0 + 120, "interval"),
        (N0, E0 + 120, "vertex"),
        (N0, E0 + 80, "interval"),
        (N0, E0 + 40, "interval"),
        (N0, E0, "vertex"),
        (N0 + 40, E0, "interval"),
    ]
    assert len(s) == len(expected)
    np.testing.assert_allclose(s["x_north"], [x for x, _, _ in expected], atol=1e-3)
    np.testing.assert_allclose(s["y_east"], [y for _, y, _ in expected], atol=1e-3)
    assert s["kind"].tolist() == [k for _, _, k in expected]
    assert s["kind_zh"].tolist() == ["拐点" if k == "vertex" else "加密点" for *_, k in expected]
    assert s["stake_id"].tolist() == [f"RL-00001-J{i:03d}" for i in range(1, 11)]
    np.testing.assert_allclose(s["dist_prev_m"], [0] + [40.0] * 9, atol=1e-3)
    np.testing.assert_allclose(s["cum_m"], np.arange(10) * 40.0, atol=1e-3)
    np.testing.assert_allclose(s["ring_perimeter_m"], 400.0, atol=1e-3)
    assert (s["gk_epsg"] == GK39).all()
    assert s.crs.to_epsg() == 4326
    # the point geometry is the lon/lat given
    np.testing.assert_allclose(s.geometry.x, s["lon"], atol=1e-12)
    np.testing.assert_allclose(s.geometry.y, s["lat"], atol=1e-12)


def test_turning_points_only_and_exact_interval():
    ring = rect_en(E0, N0, 100, 50)
    poly = ll_polygon(ring)
    only = demarcation_stakes(poly, interval_m=None)
    assert len(only) == 4 and (only["kind"] == "vertex").all()
    assert only["stake_id"].iloc[0] == "F1-J001"
    # sides of exactly the interval (within rounding) are not split
    exact = demarcation_stakes(poly, interval_m=50)
    assert len(exact) == 6  # the two 100 m sides get one extra stake each


def test_hole_has_its_own_sequence_clockwise_from_nw():
    shell = rect_en(E0, N0, 300, 300)
    hole = [(E0 + 100, N0 + 100), (E0 + 200, N0 + 100), (E0 + 200, N0 + 200), (E0 + 100, N0 + 200)]
    gdf = gpd.GeoDataFrame({"feature_id": ["RL-7"]}, geometry=[ll_polygon(shell, [hole])], crs=4326)
    s = demarcation_stakes(gdf, interval_m=100)
    outer, inner = s[s["ring"] == 0], s[s["ring"] == 1]
    assert len(outer) == 12 and len(inner) == 4
    assert inner["stake_id"].tolist() == [f"RL-7-H1-J{i:03d}" for i in range(1, 5)]
    # the hole (given anticlockwise) is numbered clockwise from its NW corner
    np.testing.assert_allclose(inner["y_east"], [E0 + 100, E0 + 200, E0 + 200, E0 + 100], atol=1e-3)
    np.testing.assert_allclose(
        inner["x_north"], [N0 + 200, N0 + 200, N0 + 100, N0 + 100], atol=1e-3
    )
    np.testing.assert_allclose(inner["cum_m"], [0, 100, 200, 300], atol=1e-3)
    np.testing.assert_allclose(inner["ring_perimeter_m"], 400.0, atol=1e-3)
    assert outer["stake_id"].iloc[0] == "RL-7-J001"


def test_multipolygon_parts_numbered_separately():
    a = ll_polygon(rect_en(E0, N0, 40, 40))
    b = ll_polygon(rect_en(E0 + 100, N0, 40, 40))
    s = demarcation_stakes(
        gpd.GeoDataFrame({"feature_id": ["M"]}, geometry=[MultiPolygon([a, b])], crs=4326),
        interval_m=50,
    )
    assert s["stake_id"].tolist() == [f"M-P{p}-J{i:03d}" for p in (1, 2) for i in range(1, 5)]
    assert s["part"].tolist() == [1] * 4 + [2] * 4


def _irregular(seed: int, n: int = 40, r: float = 400.0):
    """A star-shaped polygon around a GK point, radii random (GK coordinates)."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.3 * r, r, n)
    return list(zip(E0 + rad * np.cos(ang), N0 + rad * np.sin(ang), strict=True))


@pytest.mark.parametrize("interval", [7.5, 50.0, 120.0], ids=["7.5m", "50m", "120m"])
@pytest.mark.parametrize("seed", [1, 2, 3], ids=["s1", "s2", "s3"])
def test_stake_properties(seed, interval):
    shell = _irregular(seed)
    poly = ll_polygon(shell)
    s = demarcation_stakes(gpd.GeoSeries([poly], crs=4326), interval_m=interval)
    e, n = gk_xy(s)
    # consecutive stakes never further apart than the interval (+1 mm), incl. closing
    assert s["dist_prev_m"].max() <= interval + 1e-3
    step = np.hypot(np.diff(np.r_[e, e[0]]), np.diff(np.r_[n, n[0]]))
    assert step.max() <= interval + 2e-3  # from the mm-rounded coordinates
    # every vertex is a stake (of kind vertex), and only vertices are
    ring_gk = np.asarray(shell)
    vert = s[s["kind"] == "vertex"]
    assert len(vert) == len(ring_gk)
    d = np.hypot(
        vert["y_east"].to_numpy()[:, None] - ring_gk[:, 0],
        vert["x_north"].to_numpy()[:, None] - ring_gk[:, 1],
    )
    assert d.min(axis=0).max() < 1e-3
    # on the boundary (in GK, < 1 mm)
    boundary = shapely.LinearRing(ring_gk)
    assert shapely.distance(boundary, shapely.points(e, n)).max() < 1e-3
    # GK coordinates transform back to the lon/lat given
    lon, lat = TO_LL.transform(e, n)
    np.testing.assert_allclose(lon, s["lon"], atol=6e-9)
    np.testing.assert_allclose(lat, s["lat"], atol=6e-9)
    # cumulative distance + closing side = the GK perimeter
    perimeter = shapely.length(boundary)
    table = stakes_table(s)
    assert table["累计(m)"].iloc[-1] == pytest.approx(perimeter, abs=1e-3)
    assert table["界桩编号"].iloc[-1] == table["界桩编号"].iloc[0]
    assert s["ring_perimeter_m"].iloc[0] == pytest.approx(perimeter, abs=1e-3)
    # clockwise (negative shoelace area in E/N) and starting at the NW-most vertex
    assert (e * np.roll(n, -1) - np.roll(e, -1) * n).sum() < 0
    d_nw = np.hypot(ring_gk[:, 0] - ring_gk[:, 0].min(), ring_gk[:, 1] - ring_gk[:, 1].max())
    nw = ring_gk[np.argmin(d_nw)]
    assert (e[0], n[0]) == pytest.approx((nw[0], nw[1]), abs=1e-3)
    assert s["kind"].iloc[0] == "vertex"


def test_input_in_gk_crs_and_duplicate_vertices():
    ring = rect_en(E0, N0, 60, 60)
    dup = [ring[0], ring[0], ring[1], ring[2], ring[2], ring[3]]
    gdf = gpd.GeoDataFrame({"feature_id": ["G"]}, geometry=[Polygon(dup)], crs=GK39)
    s = demarcation_stakes(gdf, interval_m=30)
    assert (s["kind"] == "vertex").sum() == 4
    assert len(s) == 8
    np.testing.assert_allclose(s["ring_perimeter_m"], 240.0, atol=1e-3)


def test_zone_from_longitude_and_forced():
    # a square near 115.4°E lies in zone 38 (EPSG:4547)
    sq = shapely.box(115.40, 39.90, 115.402, 39.902)
    assert demarcation_stakes(sq)["gk_epsg"].iloc[0] == 4547
    forced = demarcation_stakes(sq, zone=39)
    assert forced["gk_epsg"].iloc[0] == GK39
    e, n = Transformer.from_crs(4326, GK39, always_xy=True).transform(115.40, 39.902)
    assert forced[["y_east", "x_north"]].iloc[0].tolist() == pytest.approx([e, n], abs=1e-3)
    with pytest.raises(CRSDetectionError, match="zone"):
        demarcation_stakes(sq, zone=60)


def test_errors_and_rejected_rows():
    poly = ll_polygon(rect_en(E0, N0, 40, 40))
    with pytest.raises(InputFormatError, match="interval_m"):
        demarcation_stakes(poly, interval_m=-5)
    with pytest.raises(InputFormatError, match="no CRS"):
        demarcation_stakes(gpd.GeoDataFrame(geometry=[poly]))
    with pytest.raises(InputFormatError, match="must be a shapely"):
        demarcation_stakes("RL-1")
    dup = gpd.GeoDataFrame({"feature_id": ["A", "A"]}, geometry=[poly, poly], crs=4326)
    with pytest.raises(InputFormatError, match="repeats ids"):
        demarcation_stakes(dup)
    with pytest.raises(InputFormatError, match="id_column"):
        demarcation_stakes(dup, id_column="nope")
    mixed = gpd.GeoDataFrame(
        {"feature_id": ["L", "P"]},
        geometry=[shapely.LineString([(116.7, 39.9), (116.71, 39.9)]), poly],
        crs=4326,
    )
    with pytest.warns(RowRejectedWarning, match="polygon L"):
        s = demarcation_stakes(mixed)
    assert set(s["feature_id"]) == {"P"}
    with pytest.warns(RowRejectedWarning), pytest.raises(GeometryError, match="no polygon"):
        demarcation_stakes(mixed.iloc[:1])


def test_inputs_not_mutated():
    gdf = gpd.GeoDataFrame(
        {"feature_id": ["X"]}, geometry=[ll_polygon(rect_en(E0, N0, 40, 40))], crs=4326
    )
    before = gdf.copy()
    demarcation_stakes(gdf)
    pd.testing.assert_frame_equal(pd.DataFrame(gdf), pd.DataFrame(before))


def test_table_and_writers(tmp_path):
    ring = rect_en(E0, N0, 120, 80)
    gdf = gpd.GeoDataFrame({"feature_id": ["=HYPERLINK(1)"]}, geometry=[ll_polygon(ring)], crs=4326)
    s = demarcation_stakes(gdf, interval_m=50)
    table = stakes_table(s)
    assert list(table.columns) == list(STAKE_TABLE_COLUMNS.values())
    assert list(table.columns) == ["界桩编号", "类型", "X(北)", "Y(东)", "经度", "纬度",
                                   "距上一桩(m)", "累计(m)"]  # fmt: skip
    assert len(table) == len(s) + 1
    assert table["距上一桩(m)"].iloc[-1] == pytest.approx(40.0, abs=1e-3)
    assert len(stakes_table(s, close=False)) == len(s)

    xlsx = write_stakes(s, tmp_path / "stakes.xlsx")
    back = pd.read_excel(xlsx, sheet_name="界桩成果表")
    assert len(back) == len(table)
    # a formula-like id is neutralised
    assert back["界桩编号"].iloc[0].startswith("'=HYPERLINK(1)-J001")
    np.testing.assert_allclose(back["X(北)"], table["X(北)"], atol=1e-9)
    from openpyxl import load_workbook

    ws = load_workbook(xlsx)["界桩成果表"]
    assert ws["A2"].data_type == "s"

    csv = write_stakes(s, tmp_path / "stakes.csv")
    back_csv = pd.read_csv(csv, encoding="utf-8-sig")
    assert list(back_csv.columns) == list(table.columns)
    assert back_csv["界桩编号"].iloc[0].startswith("'=")

    gpkg = write_stakes(s, tmp_path / "stakes.gpkg")
    pts = gpd.read_file(gpkg, layer="stakes")
    assert len(pts) == len(s) and (pts.geom_type == "Point").all()
    np.testing.assert_allclose(pts["x_north"], s["x_north"])
    from geo.io.writers import OutputExistsError

    with pytest.raises(OutputExistsError):
        write_stakes(s, tmp_path / "stakes.csv", overwrite=False)
    assert not math.isnan(pts["cum_m"].iloc[-1])
