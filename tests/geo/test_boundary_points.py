"""Tests for 界址点 (boundary-point) tables → parcel polygons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest
import shapely
from pyproj import Geod, Transformer

from geo.errors import CRSDetectionError, EcozoneWarning, RowRejectedWarning
from geo.io import read_boundary_points, read_vector

# Two parcels in Beijing (Tongzhou and Daxing), lon/lat corners, not closed.
PARCELS = {
    "TZ-01": [(116.650, 39.900), (116.660, 39.900), (116.660, 39.908), (116.650, 39.908)],
    "DX-02": [(116.330, 39.720), (116.345, 39.721), (116.338, 39.732)],
}
BEIJING_BBOX = (115.42, 39.44, 117.51, 41.06)  # lon/lat extent of Beijing municipality
GEOD = Geod(ellps="GRS80")
# The tables above are not closed: each read notes the closing (asserted in
# test_closing_is_noted); the other tests are about something else.
pytestmark = pytest.mark.filterwarnings("ignore:.*已自动闭合:UserWarning")


def _rows(epsg: int) -> list[tuple[str, str, float, float]]:
    """(parcel, point, X = northing, Y = easting) in the survey convention."""
    to_gk = Transformer.from_crs(4326, epsg, always_xy=True)
    out = []
    for parcel, corners in PARCELS.items():
        for i, (lon, lat) in enumerate(corners, start=1):
            east, north = to_gk.transform(lon, lat)
            out.append((parcel, f"J{i}", north, east))
    return out


def _write_csv(path: Path, rows, *, title: bool = True, header="地块编号,点号,X,Y") -> Path:
    lines = ["某项目用地界址点坐标表"] if title else []
    lines.append(header)
    last = None
    for parcel, point, x, y in rows:
        lines.append(f"{parcel if parcel != last else ''},{point},{x:.4f},{y:.4f}")
        last = parcel
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check_parcels(gdf, epsg_expected: int) -> None:
    assert gdf.crs.to_epsg() == epsg_expected
    assert gdf["地块编号"].tolist() == list(PARCELS)
    assert gdf["point_count"].tolist() == [len(c) for c in PARCELS.values()]
    lonlat = gdf.to_crs(4326)
    for geom, corners in zip(lonlat.geometry, PARCELS.values(), strict=True):
        assert geom.geom_type == "Polygon"
        ring = np.asarray(geom.exterior.coords)
        np.testing.assert_allclose(ring[0], ring[-1])  # closed although the table is not
        np.testing.assert_allclose(ring[:-1], np.asarray(corners), atol=1e-7)  # < 1 cm
        minx, miny, maxx, maxy = geom.bounds
        assert BEIJING_BBOX[0] < minx < maxx < BEIJING_BBOX[2]
        assert BEIJING_BBOX[1] < miny < maxy < BEIJING_BBOX[3]
    # planar GK area vs ellipsoidal area: the GK scale error near CM 117°E is < 0.1 %
    for geom, corners in zip(gdf.geometry, PARCELS.values(), strict=True):
        lons, lats = zip(*corners, strict=True)
        geod_area = abs(GEOD.polygon_area_perimeter(lons, lats)[0])
        assert geom.area == pytest.approx(geod_area, rel=1e-3)


def test_zone_prefixed_eastings(tmp_path):
    rows = _rows(4527)
    # the survey convention: X ~ 4.4e6 m northing, Y ~ 39.4e6 m easting with zone prefix 39
    assert all(4.3e6 < x < 4.6e6 and 39.3e6 < y < 39.7e6 for _, _, x, y in rows)
    path = _write_csv(tmp_path / "jzd.csv", rows)
    gdf = read_vector(path)
    _check_parcels(gdf, 4527)
    # title = line 1, header = line 2: the parcels start on lines 3 and 7
    assert gdf["source_row"].tolist() == [3, 7]
    assert gdf["source_rows"].tolist() == ["3-6", "7-9"]
    assert [i for i in gdf.attrs["issues"] if "闭合" not in i["reason"]] == []


def test_zone_given_plain_eastings(tmp_path):
    rows = _rows(4548)
    assert all(300_000 < y < 700_000 for _, _, _, y in rows)
    path = _write_csv(tmp_path / "jzd.csv", rows)
    with pytest.raises(CRSDetectionError, match="zone"):
        read_vector(path)
    _check_parcels(read_vector(path, zone=39), 4548)
    _check_parcels(read_boundary_points(path, crs="EPSG:4548"), 4548)


def test_zone_contradicting_prefix(tmp_path):
    path = _write_csv(tmp_path / "jzd.csv", _rows(4527))
    with pytest.raises(CRSDetectionError, match="zone=40"):
        read_vector(path, zone=40)


def test_closed_ring_not_doubled(tmp_path):
    rows = _rows(4527)
    tz = [r for r in rows if r[0] == "TZ-01"]
    closed = [*tz, ("TZ-01", "J1", tz[0][2], tz[0][3])]
    gdf = read_vector(_write_csv(tmp_path / "c.csv", closed))
    assert len(gdf.geometry.iloc[0].exterior.coords) == len(tz) + 1
    assert not [i for i in gdf.attrs["issues"] if "闭合" in i["reason"]]


@pytest.mark.filterwarnings("default")
def test_closing_is_noted(tmp_path):
    from geo.errors import GeometryRepairedWarning

    path = _write_csv(tmp_path / "open.csv", _rows(4527))
    with pytest.warns(GeometryRepairedWarning, match="已自动闭合"):
        gdf = read_vector(path)
    closed = [i for i in gdf.attrs["issues"] if "闭合" in i["reason"]]
    assert [i["row"] for i in closed] == [3, 7]  # each parcel's first data row
    assert all(i["action"] == "repaired" for i in closed)


def test_ring_column_makes_hole(tmp_path):
    to_gk = Transformer.from_crs(4326, 4527, always_xy=True)
    outer = [(116.60, 39.90), (116.62, 39.90), (116.62, 39.92), (116.60, 39.92)]
    inner = [(116.605, 39.905), (116.61, 39.905), (116.61, 39.91), (116.605, 39.91)]
    lines = ["宗地号,圈号,点号,X坐标,Y坐标"]
    for ring, pts in ((1, outer), (2, inner)):
        for i, (lon, lat) in enumerate(pts, start=1):
            e, n = to_gk.transform(lon, lat)
            lines.append(f"Z1,{ring},J{i},{n:.3f},{e:.3f}")
    path = tmp_path / "hole.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gdf = read_vector(path)
    poly = gdf.geometry.iloc[0]
    assert poly.geom_type == "Polygon" and len(poly.interiors) == 1
    outer_area = shapely.Polygon([to_gk.transform(*p) for p in outer]).area
    inner_area = shapely.Polygon([to_gk.transform(*p) for p in inner]).area
    assert poly.area == pytest.approx(outer_area - inner_area, rel=1e-6)


def test_bad_point_rejects_its_parcel_only(tmp_path):
    rows = _rows(4527)
    path = _write_csv(tmp_path / "bad.csv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[7] = lines[7].rsplit(",", 1)[0] + ",39abc"  # parcel DX-02, point J2 (line 8)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(RowRejectedWarning, match="row 8"):
        gdf = read_vector(path)
    assert gdf["地块编号"].tolist() == ["TZ-01"]
    rejected = {(i["row"], i["action"]) for i in gdf.attrs["issues"] if "闭合" not in i["reason"]}
    assert rejected == {(8, "rejected"), (7, "rejected")}  # the point and its parcel


def test_xlsx_boundary_table(tmp_path):
    path = tmp_path / "界址点.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["界址点成果表"])
    ws.append(["地块编号", "界址点号", "X(m)", "Y(m)"])
    for parcel, point, x, y in _rows(4527):
        ws.append([parcel, point, x, y])
    wb.save(path)
    gdf = read_vector(path)
    _check_parcels(gdf, 4527)
    assert gdf["source_row"].tolist() == [3, 7]


def test_gis_order_columns_reported(tmp_path):
    # X holding eastings (GIS order) is not the survey convention: read, but say so.
    rows = [(p, pt, y, x) for p, pt, x, y in _rows(4527)]
    path = _write_csv(tmp_path / "gis.csv", rows)
    with pytest.warns(EcozoneWarning, match="GIS order"):
        gdf = read_vector(path)
    _check_parcels(gdf, 4527)
