"""Tests for geo.io readers: formats, encodings, damaged files, repairs, sniffing."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import ezdxf
import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from geo.chinacoords import gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from geo.errors import (
    CRSDetectionError,
    EcozoneWarning,
    GeometryRepairedWarning,
    InputFormatError,
    RowRejectedWarning,
)
from geo.io import (
    ReadIssue,
    detect_dbf_encoding,
    parse_coordinates,
    read_dxf,
    read_geojson,
    read_gpkg,
    read_kml,
    read_shapefile,
    read_table,
    read_vector,
    read_zip,
    sniff_format,
)

NAMES = ["通州区宋庄镇", "大兴区黄村镇", "北京经济技术开发区"]


@pytest.fixture
def points_gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": NAMES, "code": [1, 2, 3]},
        geometry=[
            shapely.Point(116.70, 39.92),
            shapely.Point(116.33, 39.72),
            shapely.Point(116.5, 39.8),
        ],
        crs="EPSG:4326",
    )


def _write_shp(gdf: gpd.GeoDataFrame, path: Path, encoding: str, *, cpg: str | None) -> Path:
    """Write a shapefile whose .dbf text is in ``encoding``; .cpg content as given (None: none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding=encoding)
    cpg_path = path.with_suffix(".cpg")
    if cpg is None:
        cpg_path.unlink(missing_ok=True)
    else:
        cpg_path.write_text(cpg)
    return path


def _geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    return path


def _feature(geometry: dict | None, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


# --- shapefile encodings -------------------------------------------------------------


def test_gbk_dbf_without_cpg_is_decoded(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "gbk.shp", "GBK", cpg=None)
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "通州区".encode("gbk") in raw  # really GBK on disk
    assert "通州区".encode() not in raw
    assert not shp.with_suffix(".cpg").exists()
    gdf = read_vector(shp)
    assert gdf["名称"].tolist() == NAMES
    assert gdf["code"].tolist() == [1, 2, 3]
    assert gdf["source_row"].tolist() == [1, 2, 3]
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["issues"] == []


def test_gb18030_dbf_with_cpg(tmp_path, points_gdf):
    # 𠀀 (U+20000) exists in GB18030 but not in GBK.
    gdf_in = points_gdf.assign(名称=[*NAMES[:2], "𠀀字地块"])
    shp = _write_shp(gdf_in, tmp_path / "gb.shp", "GB18030", cpg="GB18030")
    assert detect_dbf_encoding(shp) == "gb18030"
    assert read_shapefile(shp)["名称"].tolist() == gdf_in["名称"].tolist()


def test_cpg_with_code_page_number(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "cp.shp", "GBK", cpg="936")
    assert read_vector(shp)["名称"].tolist() == NAMES


def test_utf8_dbf_without_cpg(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "u.shp", "UTF-8", cpg=None)
    assert detect_dbf_encoding(shp) == "utf-8"
    assert read_vector(shp)["名称"].tolist() == NAMES


def test_encoding_argument_overrides(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "o.shp", "GBK", cpg="UTF-8")
    # The .cpg lies; the bytes do not decode as UTF-8, so detection falls back (warned).
    with pytest.warns(EcozoneWarning, match="cpg"):
        assert read_vector(shp)["名称"].tolist() == NAMES
    # An explicit encoding is used as given, no guessing.
    assert read_vector(shp, encoding="gbk")["名称"].tolist() == NAMES


def test_gbk_field_names(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"地块名": ["甲"]}, geometry=[shapely.Point(116.4, 39.9)], crs="EPSG:4326"
    )
    shp = _write_shp(gdf, tmp_path / "f.shp", "GBK", cpg=None)
    assert read_vector(shp).columns.tolist() == ["source_row", "地块名", "geometry"]


def test_zipped_gbk_shapefile(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "src" / "乡镇.shp", "GBK", cpg=None)
    zpath = tmp_path / "upload.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, f"data/{part.name}")
    gdf = read_vector(zpath)
    assert gdf["名称"].tolist() == NAMES
    assert gdf.crs.to_epsg() == 4326


# --- damaged inputs ------------------------------------------------------------------


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    with pytest.raises(InputFormatError, match=r"empty\.geojson.*0 bytes"):
        read_vector(empty)


def test_zero_byte_dbf(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "z.shp", "UTF-8", cpg="UTF-8")
    shp.with_suffix(".dbf").write_bytes(b"")
    with pytest.raises(InputFormatError, match=r"z\.dbf.*0 bytes"):
        read_vector(shp)


def test_truncated_shapefile(tmp_path):
    polys = gpd.GeoDataFrame(
        {"n": range(40)},
        geometry=[shapely.box(116 + i * 0.01, 39.9, 116.005 + i * 0.01, 39.905) for i in range(40)],
        crs="EPSG:4326",
    )
    shp = tmp_path / "cut.shp"
    pyogrio.write_dataframe(polys, shp, driver="ESRI Shapefile")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match=r"cut\.shp.*truncated"):
        read_vector(shp)


@pytest.mark.parametrize("missing", [".shx", ".dbf"], ids=["no-shx", "no-dbf"])
def test_missing_sibling(tmp_path, points_gdf, missing):
    shp = _write_shp(points_gdf, tmp_path / "s.shp", "UTF-8", cpg="UTF-8")
    shp.with_suffix(missing).unlink()
    with pytest.raises(InputFormatError, match=rf"\{missing} file is missing"):
        read_vector(shp)


def test_missing_shp_when_dbf_given(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "s.shp", "UTF-8", cpg="UTF-8")
    shp.unlink()
    with pytest.raises(InputFormatError, match=r"\.shp file is missing"):
        read_vector(shp.with_suffix(".dbf"))


def test_shp_dbf_record_mismatch(tmp_path, points_gdf):
    a = _write_shp(points_gdf, tmp_path / "a.shp", "UTF-8", cpg="UTF-8")
    b = _write_shp(points_gdf.iloc[:2], tmp_path / "b.shp", "UTF-8", cpg="UTF-8")
    shutil.copy(b.with_suffix(".dbf"), a.with_suffix(".dbf"))
    with pytest.raises(InputFormatError, match=r"3 shapes but the \.dbf 2 records"):
        read_vector(a)


def test_zip_without_shapefile(tmp_path):
    zpath = tmp_path / "notes.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(InputFormatError, match=r"no shapefile.*readme\.txt"):
        read_vector(zpath)


def test_zip_path_traversal_rejected(tmp_path, points_gdf):
    shp = _write_shp(points_gdf, tmp_path / "src" / "p.shp", "UTF-8", cpg="UTF-8")
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, part.name)
        zf.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(InputFormatError, match="outside the archive"):
        read_zip(zpath)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_zip_with_two_shapefiles_needs_layer(tmp_path, points_gdf):
    a = _write_shp(points_gdf, tmp_path / "src" / "a.shp", "UTF-8", cpg="UTF-8")
    _write_shp(points_gdf.iloc[:1], tmp_path / "src" / "b.shp", "UTF-8", cpg="UTF-8")
    zpath = tmp_path / "two.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for part in a.parent.iterdir():
            zf.write(part, part.name)
    with pytest.raises(InputFormatError, match=r"layer=.*a\.shp.*b\.shp"):
        read_vector(zpath)
    assert len(read_vector(zpath, layer="b")) == 1


def test_unrecognised_binary(tmp_path):
    junk = tmp_path / "data.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputFormatError, match=r"data\.bin.*GeoPackage.*DXF"):
        read_vector(junk)


def test_dwg_explains(tmp_path):
    dwg = tmp_path / "plan.dwg"
    dwg.write_bytes(b"AC1032" + bytes(200))
    with pytest.raises(InputFormatError, match="DXF"):
        read_vector(dwg)


# --- geometry checks -----------------------------------------------------------------


def test_bowtie_repaired_and_reported(tmp_path):
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[116.0, 39.0], [116.02, 39.02], [116.02, 39.0], [116.0, 39.02], [116.0, 39.0]]
        ],
    }
    square = {
        "type": "Polygon",
        "coordinates": [
            [[116.1, 39.0], [116.11, 39.0], [116.11, 39.01], [116.1, 39.01], [116.1, 39.0]]
        ],
    }
    path = _geojson(tmp_path / "b.geojson", [_feature(square, n=1), _feature(bowtie, n=2)])
    with pytest.warns(GeometryRepairedWarning, match="row 2"):
        gdf = read_vector(path)
    assert len(gdf) == 2
    assert gdf.geometry.is_valid.all()
    fixed = gdf.geometry.iloc[1]
    assert fixed.geom_type == "MultiPolygon"
    # Two triangles, each a quarter of the 0.02° square.
    assert fixed.area == pytest.approx(2 * 0.02**2 / 4, rel=1e-9)
    issues = gdf.attrs["issues"]
    assert [(i["row"], i["action"]) for i in issues] == [(2, "repaired")]
    assert issues[0]["source"] == str(path)
    assert "Self-intersection" in issues[0]["reason"]


def test_null_and_out_of_range_features_rejected(tmp_path):
    pt = {"type": "Point", "coordinates": [116.4, 39.9]}
    far = {"type": "Point", "coordinates": [216.4, 39.9]}
    path = _geojson(
        tmp_path / "n.geojson", [_feature(pt, n=1), _feature(None, n=2), _feature(far, n=3)]
    )
    with pytest.warns(RowRejectedWarning, match="row 2.*row 3"):
        gdf = read_geojson(path)
    assert gdf["n"].tolist() == [1]
    assert gdf["source_row"].tolist() == [1]
    assert [(i["row"], i["action"]) for i in gdf.attrs["issues"]] == [
        (2, "rejected"),
        (3, "rejected"),
    ]
    with pytest.raises(InputFormatError, match="row 2"):
        read_geojson(path, errors="raise")


def test_projected_numbers_in_geojson_are_not_lonlat(tmp_path):
    pt = {"type": "Point", "coordinates": [450000.0, 4420000.0]}
    path = _geojson(tmp_path / "p.geojson", [_feature(pt, n=1)])
    with pytest.raises(CRSDetectionError, match="crs="):
        read_vector(path)
    with pytest.warns(EcozoneWarning, match="overridden"):
        gdf = read_vector(path, crs="EPSG:4548")  # relabelled, not reprojected
    assert gdf.crs.to_epsg() == 4548


def test_read_issue_dataclass():
    issue = ReadIssue("a.csv", 3, "rejected", "bad")
    assert issue.as_dict() == {"source": "a.csv", "row": 3, "action": "rejected", "reason": "bad"}


# --- tables --------------------------------------------------------------------------


def test_csv_garbage_row_reported_by_line(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "name,lon,lat\nA,116.40,39.90\nB,116.41,abc\nC,116.42,39.92\n\nD,116.43,39.93\n",
        encoding="utf-8",
    )
    with pytest.warns(RowRejectedWarning, match="row 3"):
        gdf = read_vector(path)
    assert gdf["name"].tolist() == ["A", "C", "D"]
    # Line numbers as seen in an editor: header = line 1, blank line 5 skipped.
    assert gdf["source_row"].tolist() == [2, 4, 6]
    assert gdf.geometry.x.tolist() == [116.40, 116.42, 116.43]
    issues = gdf.attrs["issues"]
    assert len(issues) == 1
    assert issues[0]["row"] == 3 and issues[0]["action"] == "rejected"
    assert "abc" in issues[0]["reason"]
    with pytest.raises(InputFormatError, match=r"sites\.csv.*row 3"):
        read_vector(path, errors="raise")


def test_swapped_lat_lon_csv_fixed_and_reported(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text("id,lon,lat\n1,39.90,116.40\n2,39.95,116.45\n", encoding="utf-8")
    with pytest.warns(EcozoneWarning, match="swapped"):
        gdf = read_vector(path)
    assert gdf.geometry.x.tolist() == [116.40, 116.45]
    assert gdf.geometry.y.tolist() == [39.90, 39.95]
    assert gdf.crs.is_geographic
    issues = gdf.attrs["issues"]
    assert len(issues) == 1 and issues[0]["row"] is None and issues[0]["action"] == "repaired"


def test_coordinates_fitting_no_crs(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("lon,lat\n1000,2000\n1010,2010\n", encoding="utf-8")
    with pytest.raises(CRSDetectionError, match=r"odd\.csv"):
        read_vector(path)


def test_csv_without_coordinate_columns(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("名称,东坐标值,北坐标值\n甲,116.4,39.9\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"名称.*东坐标值.*lon_col"):
        read_vector(path)
    gdf = read_vector(path, lon_col="东坐标值", lat_col="北坐标值")
    assert (gdf.geometry.x.iloc[0], gdf.geometry.y.iloc[0]) == (116.4, 39.9)


def test_gbk_csv_with_units_in_headers(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("名称,经度(°),纬度（°）\n甲,116.40,39.90\n".encode("gbk"))
    gdf = read_vector(path)
    assert gdf["名称"].tolist() == ["甲"]
    assert (gdf.geometry.x.iloc[0], gdf.geometry.y.iloc[0]) == (116.40, 39.90)


def test_xlsx_with_chinese_headers(tmp_path):
    path = tmp_path / "点位.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["项目选址坐标"])  # a title row above the header
    ws.append(["名称", "经度", "纬度", "编码"])
    ws.append(["甲", 116.40, 39.90, "0101"])
    ws.append(["乙", "116°30′00″", 39.80, "0102"])
    ws.append(["丙", None, 39.70, "0103"])
    wb.save(path)
    with pytest.warns(RowRejectedWarning, match="row 5"):
        gdf = read_vector(path)
    assert gdf["名称"].tolist() == ["甲", "乙"]
    assert gdf["source_row"].tolist() == [3, 4]  # Excel row numbers
    assert gdf["编码"].tolist() == ["0101", "0102"]  # codes keep their leading zero
    assert gdf.geometry.x.tolist() == pytest.approx([116.40, 116.5])
    assert gdf.crs.is_geographic


def test_gcj02_csv_converted(tmp_path):
    wgs = np.array([[116.3975, 39.9087], [116.6586, 39.9097]])
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    path = tmp_path / "amap.csv"
    lines = ["name,lng,lat"] + [
        f"p{i},{float(x)!r},{float(y)!r}"
        for i, (x, y) in enumerate(zip(gcj_lon, gcj_lat, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gdf = read_vector(path, coords="gcj02")
    exp_lon, exp_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(gdf.geometry.x, exp_lon, atol=1e-9)
    np.testing.assert_allclose(gdf.geometry.y, exp_lat, atol=1e-9)
    # and the original WGS84 points come back (the GCJ-02 inverse is iterative)
    np.testing.assert_allclose(np.column_stack([gdf.geometry.x, gdf.geometry.y]), wgs, atol=1e-6)
    with pytest.warns(EcozoneWarning, match="coords='gcj02'"):  # the file name says AMap
        raw = read_vector(path)  # without coords= the offset stays: hundreds of metres
    assert np.abs(raw.geometry.x.to_numpy() - wgs[:, 0]).max() > 1e-3


def test_bd09_geojson_converted(tmp_path):
    bd_lon, bd_lat = wgs84_to_bd09(116.3975, 39.9087)
    pt = {"type": "Point", "coordinates": [float(bd_lon), float(bd_lat)]}
    path = _geojson(tmp_path / "baidu.geojson", [_feature(pt, n=1)])
    gdf = read_vector(path, coords="bd09")
    assert gdf.geometry.x.iloc[0] == pytest.approx(116.3975, abs=1e-6)
    assert gdf.geometry.y.iloc[0] == pytest.approx(39.9087, abs=1e-6)


def test_coords_rejects_unknown_system(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("lon,lat\n116.4,39.9\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="coords="):
        read_vector(path, coords="mars-grid")


def test_wkt_table(tmp_path):
    path = tmp_path / "wkt.csv"
    path.write_text(
        'name,wkt\nA,"POLYGON ((116.4 39.9, 116.41 39.9, 116.41 39.91, 116.4 39.9))"\nB,not wkt\n',
        encoding="utf-8",
    )
    with pytest.warns(RowRejectedWarning, match="row 3"):
        gdf = read_table(path)
    assert gdf["name"].tolist() == ["A"]
    assert gdf.geometry.iloc[0].geom_type == "Polygon"
    assert gdf.crs.is_geographic


# --- other formats -------------------------------------------------------------------


def test_gpkg_layers(tmp_path, points_gdf):
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(points_gdf, path, layer="sites")
    pyogrio.write_dataframe(points_gdf.iloc[:1], path, layer="one")
    with pytest.raises(InputFormatError, match=r"layer=.*sites.*one"):
        read_gpkg(path)
    with pytest.raises(InputFormatError, match="no layer named 'nope'"):
        read_gpkg(path, layer="nope")
    gdf = read_vector(path, layer="sites")
    assert gdf["名称"].tolist() == NAMES
    assert gdf["source_row"].tolist() == [1, 2, 3]


def test_kml_polygon_and_kmz(tmp_path):
    kml = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>doc</name>
<Folder><name>红线</name>
<Placemark><name>地块一</name>
<ExtendedData><Data name="面积"><value>12.5</value></Data></ExtendedData>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
116.40,39.90,0 116.42,39.90,0 116.42,39.92,0 116.40,39.92,0 116.40,39.90,0
</coordinates></LinearRing></outerBoundaryIs>
<innerBoundaryIs><LinearRing><coordinates>
116.405,39.905 116.41,39.905 116.41,39.91 116.405,39.91 116.405,39.905
</coordinates></LinearRing></innerBoundaryIs></Polygon></Placemark>
<Placemark><name>井</name><Point><coordinates>116.5,39.8,12</coordinates></Point></Placemark>
</Folder></Document></kml>"""
    path = tmp_path / "a.kml"
    path.write_text(kml, encoding="utf-8")
    gdf = read_kml(path)
    assert gdf["name"].tolist() == ["地块一", "井"]
    assert gdf["folder"].tolist() == ["红线", "红线"]
    assert gdf["source_row"].tolist() == [1, 2]
    poly = gdf.geometry.iloc[0]
    assert poly.geom_type == "Polygon" and len(poly.interiors) == 1
    assert poly.area == pytest.approx(0.02 * 0.02 - 0.005 * 0.005)
    assert gdf.geometry.iloc[1].equals(shapely.Point(116.5, 39.8))
    assert gdf.crs.to_epsg() == 4326
    kmz = tmp_path / "a.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", kml)
    assert read_vector(kmz)["name"].tolist() == ["地块一", "井"]


def test_dxf_polylines(tmp_path):
    doc = ezdxf.new()
    msp = doc.modelspace()
    square = [
        (448000.0, 4418000.0),
        (448100.0, 4418000.0),
        (448100.0, 4418100.0),
        (448000.0, 4418100.0),
    ]
    msp.add_lwpolyline(square, close=True, dxfattribs={"layer": "红线"})
    msp.add_text("标注")
    msp.add_lwpolyline(square[:2], dxfattribs={"layer": "道路"})
    hatch = msp.add_hatch(dxfattribs={"layer": "填充"})
    hatch.paths.add_polyline_path(
        [(449000, 4418000), (449010, 4418000), (449010, 4418010)], is_closed=True
    )
    path = tmp_path / "plan.dxf"
    doc.saveas(path)
    with pytest.raises(InputFormatError, match=r"plan\.dxf.*crs='EPSG:4548'"):
        read_vector(path)
    gdf = read_vector(path, crs="EPSG:4548")
    assert gdf.crs.to_epsg() == 4548
    assert gdf["entity"].tolist() == ["LWPOLYLINE", "LWPOLYLINE", "HATCH"]
    assert gdf["source_row"].tolist() == [1, 3, 4]  # the text entity (2) has no geometry
    assert gdf.geometry.iloc[0].geom_type == "Polygon"
    assert gdf.geometry.iloc[0].area == pytest.approx(100.0 * 100.0)
    assert gdf.geometry.iloc[1].geom_type == "LineString"
    assert gdf.geometry.iloc[2].area == pytest.approx(10 * 10 / 2)
    assert read_dxf(path, crs="EPSG:4548", layer="红线")["dxf_layer"].tolist() == ["红线"]


def test_parquet_and_plain_parquet_table(tmp_path, points_gdf):
    geo = tmp_path / "a.parquet"
    points_gdf.to_parquet(geo)
    gdf = read_vector(geo)
    assert gdf["名称"].tolist() == NAMES and gdf.crs.to_epsg() == 4326
    plain = tmp_path / "b.parquet"
    points_gdf.assign(lon=points_gdf.geometry.x, lat=points_gdf.geometry.y).drop(
        columns="geometry"
    ).to_parquet(plain)
    gdf2 = read_vector(plain)
    assert gdf2.geometry.equals(gdf.geometry)


# --- content sniffing ----------------------------------------------------------------


def test_misleading_suffixes(tmp_path, points_gdf):
    gj = tmp_path / "really_geojson.txt"
    pyogrio.write_dataframe(points_gdf, tmp_path / "src.geojson", driver="GeoJSON")
    shutil.copy(tmp_path / "src.geojson", gj)
    assert sniff_format(gj) == "geojson"
    assert read_vector(gj)["名称"].tolist() == NAMES

    gpkg = tmp_path / "really_gpkg.dat"
    pyogrio.write_dataframe(points_gdf, tmp_path / "src.gpkg", driver="GPKG")
    shutil.copy(tmp_path / "src.gpkg", gpkg)
    assert sniff_format(gpkg) == "gpkg"
    assert read_vector(gpkg)["名称"].tolist() == NAMES

    csv_as_xlsx = tmp_path / "really_csv.xlsx"
    csv_as_xlsx.write_text("lon,lat\n116.4,39.9\n", encoding="utf-8")
    assert sniff_format(csv_as_xlsx) == "table"
    assert len(read_vector(csv_as_xlsx)) == 1

    shp = _write_shp(points_gdf, tmp_path / "z" / "p.shp", "GBK", cpg=None)
    zipped = tmp_path / "really_zip.geojson"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, part.name)
    assert sniff_format(zipped) == "zip"
    assert read_vector(zipped)["名称"].tolist() == NAMES


# --- typed coordinates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("116.40,39.91", shapely.Point(116.40, 39.91)),
        ("116.40 39.91", shapely.Point(116.40, 39.91)),
        ("东经116°24′00″，北纬39°54′36″", shapely.Point(116.4, 39.91)),
        (
            "116.40 39.91; 116.41 39.92; 116.42 39.90",
            shapely.LineString([(116.40, 39.91), (116.41, 39.92), (116.42, 39.90)]),
        ),
        (
            "116.40,39.91\n116.41,39.92\n116.42,39.90\n116.40,39.91",
            shapely.Polygon([(116.40, 39.91), (116.41, 39.92), (116.42, 39.90)]),
        ),
        (
            "POLYGON 116.40 39.91; 116.41 39.92; 116.42 39.90",
            shapely.Polygon([(116.40, 39.91), (116.41, 39.92), (116.42, 39.90)]),
        ),
        ("POINT (116.4 39.9)", shapely.Point(116.4, 39.9)),
        ('{"type": "Point", "coordinates": [116.4, 39.9]}', shapely.Point(116.4, 39.9)),
    ],
    ids=["comma", "space", "dms", "line", "closed", "polygon-prefix", "wkt", "geojson"],
)
@pytest.mark.filterwarnings("ignore:.*已自动闭合:UserWarning")  # asserted below
def test_parse_coordinates(text, expected):
    geom = parse_coordinates(text)
    assert geom.geom_type == expected.geom_type
    assert shapely.equals_exact(geom, expected, tolerance=1e-9)


def test_pasted_ring_closed_with_a_note():
    with pytest.warns(GeometryRepairedWarning, match="已自动闭合"):
        poly = parse_coordinates("面 116.70,39.90; 116.71,39.90; 116.71,39.91")
    assert poly.geom_type == "Polygon" and len(poly.exterior.coords) == 4
    # a pasted 界址点 list (named corner points) is a polygon, closed with the same note
    with pytest.warns(GeometryRepairedWarning, match="已自动闭合"):
        table = parse_coordinates("J1 116.70,39.90\nJ2 116.71,39.90\nJ3 116.71,39.91")
    assert table.equals(poly)
    # without a name or a prefix, three points stay a line; hemisphere letters are no name
    assert parse_coordinates("116.70,39.90; 116.71,39.90; 116.71,39.91").geom_type == "LineString"
    assert parse_coordinates("E116.5 N39.9").equals(shapely.Point(116.5, 39.9))


def test_parse_coordinates_latitude_first_and_gcj():
    with pytest.warns(EcozoneWarning, match="latitude first"):
        assert parse_coordinates("39.91, 116.40").equals(shapely.Point(116.40, 39.91))
    gx, gy = wgs84_to_gcj02(116.40, 39.91)
    geom = parse_coordinates(f"{float(gx)!r},{float(gy)!r}", coords="gcj02")
    assert geom.x == pytest.approx(116.40, abs=1e-7) and geom.y == pytest.approx(39.91, abs=1e-7)


def test_parse_coordinates_projected_needs_crs():
    with pytest.raises(CRSDetectionError, match="crs="):
        parse_coordinates("450000 4420000")
    geom = parse_coordinates(
        "450000 4420000; 450100 4420000; 450100 4420100; 450000 4420000", crs="EPSG:4548"
    )
    assert geom.area == pytest.approx(100 * 100 / 2)


def test_parse_coordinates_errors_and_repair():
    with pytest.raises(InputFormatError):
        parse_coordinates("hello world")
    with pytest.raises(InputFormatError):
        parse_coordinates("")
    with pytest.warns(GeometryRepairedWarning):
        geom = parse_coordinates("POLYGON ((116 39, 116.02 39.02, 116.02 39, 116 39.02, 116 39))")
    assert geom.is_valid and geom.area == pytest.approx(2 * 0.02**2 / 4)


def test_projected_table_with_zone(tmp_path):
    to_gk = Transformer.from_crs(4326, 4548, always_xy=True)
    e, n = to_gk.transform([116.40, 116.45], [39.90, 39.95])
    path = tmp_path / "gk.csv"
    path.write_text(f"x,y\n{e[0]},{n[0]}\n{e[1]},{n[1]}\n", encoding="utf-8")
    with pytest.raises(CRSDetectionError, match="zone"):
        read_vector(path)
    gdf = read_vector(path, zone=39)
    assert gdf.crs.to_epsg() == 4548
    back = gdf.to_crs(4326)
    np.testing.assert_allclose(back.geometry.x, [116.40, 116.45], atol=1e-9)


def test_headerless_and_formatted_numbers(tmp_path):
    plain = tmp_path / "pts.txt"
    plain.write_text("116.40 39.90\n116.50 39.80\n", encoding="utf-8")
    gdf = read_vector(plain)
    assert gdf.geometry.x.tolist() == [116.40, 116.50]
    assert gdf["source_row"].tolist() == [1, 2]  # no header: data starts on line 1
    semi = tmp_path / "eu.csv"
    semi.write_bytes("名称;经度;纬度\n甲;116,4;39,9\n".encode("gbk"))
    assert read_vector(semi).geometry.iloc[0].equals(shapely.Point(116.4, 39.9))
    gk = tmp_path / "gk.csv"
    gk.write_text('点号,X,Y\nJ1,"4,420,000.5","39,450,000.25"\n', encoding="utf-8")
    # a single point cannot make a parcel: reported, not silently dropped
    with pytest.warns(RowRejectedWarning, match="fewer than 3"):
        assert len(read_vector(gk)) == 0
