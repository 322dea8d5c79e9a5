"""QGIS styles, File Geodatabase and raster legends, checked without QGIS.

(tests/qgis opens the same files in QGIS itself.)
"""

from __future__ import annotations

import sqlite3
import warnings
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from pyogrio.raw import read_arrow

from geo.convert import convert_frame, convert_xy
from geo.errors import EcozoneWarning
from geo.io import write_vector
from geo.io.gpkg_styles import QgisStyle, read_layer_styles, write_layer_styles
from geo.raster import grid_for, write_geotiff
from layers.kinds import KINDS
from maps.qgis_style import (
    field_aliases,
    kind_style,
    style_for_frame,
    style_store,
    verdict_style,
    write_options,
)
from maps.style import CATEGORY_STYLES, LAYER_STYLES, VERDICT_STYLES
from zoning.check.result import VERDICT_ZH, VERDICTS


@pytest.fixture
def results():
    return gpd.GeoDataFrame(
        {
            "site_id": ["a", "b", "c"],
            "verdict": ["prohibited", "compliant", VERDICTS[2]],
            "dist_redline_m": [0.0, 120.5, np.nan],
            "flag": [True, False, True],
            "n": np.array([1, 2, 3], dtype="int64"),
        },
        geometry=[
            shapely.box(116.6, 39.9, 116.61, 39.91),
            shapely.Point(116.7, 39.8),
            shapely.box(116.5, 39.7, 116.51, 39.71),
        ],
        crs=4326,
    )


def test_verdict_style_follows_the_engines_verdicts():
    qml = ET.fromstring(verdict_style("polygon").qml.split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "verdict"
    cats = renderer.find("categories").findall("category")
    assert [c.get("value") for c in cats[: len(VERDICTS)]] == list(VERDICTS)
    assert [c.get("label") for c in cats[: len(VERDICTS)]] == [VERDICT_ZH[v] for v in VERDICTS]
    symbols = {s.get("name"): s for s in renderer.find("symbols")}
    for i, v in enumerate(VERDICTS):
        fill = symbols[str(i)].find("layer/Option/Option[@name='color']").get("value")
        expected = VERDICT_STYLES[v].fill.lstrip("#")
        rgb = ",".join(str(int(expected[j : j + 2], 16)) for j in (0, 2, 4))
        assert fill.startswith(rgb + ",")


def test_kind_styles_come_from_the_map_palette():
    for kind in KINDS:
        qml = ET.fromstring(kind_style(kind).qml.split("\n", 1)[1])
        r = qml.find("renderer-v2")
        if kind in CATEGORY_STYLES:
            assert r.get("type") == "categorizedSymbol"
            assert r.get("attr") == CATEGORY_STYLES[kind][0]
        else:
            assert r.get("type") == "singleSymbol"
        line = LAYER_STYLES[kind].color.lstrip("#")
        rgb = ",".join(str(int(line[j : j + 2], 16)) for j in (0, 2, 4))
        assert rgb in ET.tostring(r, encoding="unicode")


def test_every_category_a_kind_allows_has_a_style():
    # (the kinds registry names the values; maps.style is their one palette)
    for kind, (column, styles) in CATEGORY_STYLES.items():
        (spec,) = [c for c in KINDS[kind].columns if c.name == column]
        assert set(styles) == set(spec.allowed), kind


def test_styled_geopackage_is_written_atomically_with_its_style(results, tmp_path):
    out = tmp_path / "results.gpkg"
    write_vector(results, out, **write_options(results, out))
    styles = read_layer_styles(out)
    assert list(styles) == ["results"]
    assert "categorizedSymbol" in styles["results"].qml
    assert "PropertyIsEqualTo" in styles["results"].sld
    con = sqlite3.connect(out)
    row = con.execute(
        "SELECT f_geometry_column, useAsDefault FROM layer_styles WHERE f_table_name='results'"
    ).fetchone()
    con.close()
    assert row == ("geom", 1)
    assert pyogrio.read_dataframe(out, layer="results")["site_id"].tolist() == ["a", "b", "c"]
    # a second style for the same layer becomes the default, the first is kept
    write_layer_styles(out, [("results", QgisStyle("mine", "<qgis/>"))])
    assert read_layer_styles(out)["results"].name == "mine"


def test_field_aliases_are_chinese():
    aliases = field_aliases(["verdict", "dist_redline_m", "area_m2", "unknown"])
    assert aliases["verdict"] == "结论"
    assert aliases["dist_redline_m"] == f"距{KINDS['redline'].label_zh}距离（米）"
    assert "unknown" not in aliases


def test_filegdb_with_aliases_and_one_class_per_geometry_type(results, tmp_path):
    out = tmp_path / "results.gdb"
    with pytest.warns(EcozoneWarning, match="one geometry type"):
        write_vector(results, out, **write_options(results, out))
    names = sorted(n for n, _ in pyogrio.list_layers(out))
    assert names == ["results_point", "results_polygon"]
    poly = pyogrio.read_dataframe(out, layer="results_polygon")
    assert poly["site_id"].tolist() == ["a", "c"]
    assert poly["flag"].tolist() == [1, 1] and poly["n"].tolist() == [1, 3]
    meta = read_arrow(out, layer="results_polygon")[1].schema.field("verdict").metadata
    assert meta[b"GDAL:OGR:alternative_name"].decode() == "结论"
    # replacing keeps only the new data
    only_points = results.iloc[[1]]
    write_vector(only_points, out, layer="results")
    assert [n for n, _ in pyogrio.list_layers(out)] == ["results"]


def test_store_styles_every_layer_and_version(tmp_path):
    from layers import LayerStore

    path = tmp_path / "store.gpkg"
    with LayerStore(path) as st:
        wells = gpd.GeoDataFrame(
            {"feature_id": ["w1"], "name": ["井"]}, geometry=[shapely.Point(116.6, 39.9)], crs=4326
        )
        st.import_layer(wells, name="well", kind="well", source="t")
        st.import_layer(wells, name="well", kind="well", source="t")
        assert style_store(st) == 3  # well__v1, well__v2 and the latest view
    styles = read_layer_styles(path)
    assert set(styles) == {"well__v1", "well__v2", "well"}
    assert "SimpleMarker" in styles["well"].qml


def test_class_geotiff_carries_colour_table_and_category_names(tmp_path):
    grid = grid_for((500000.0, 4400000.0, 501000.0, 4401000.0), resolution=100, crs="EPSG:4548")
    arr = np.zeros(grid.shape, dtype="uint8")
    arr[:5] = 1
    arr[5:] = 2
    classes = {1: ("#5aae61", "已覆盖"), 2: ("#f768a1", "未覆盖")}
    path = write_geotiff(tmp_path / "c.tif", arr, grid, nodata=0, classes=classes)
    with rasterio.open(path) as src:
        cmap = src.colormap(1)
    assert cmap[1][:3] == (0x5A, 0xAE, 0x61) and cmap[2][:3] == (0xF7, 0x68, 0xA1)
    aux = ET.parse(f"{path}.aux.xml").getroot()
    assert [c.text for c in aux.iter("Category")] == [None, "已覆盖", "未覆盖"]
    assert len(aux.findall(".//GDALRasterAttributeTable/Row")) == 2
    # the same file without classes drops the stale legend
    write_geotiff(path, arr, grid, nodata=0)
    assert not (tmp_path / "c.tif.aux.xml").exists()


def test_convert_frame_is_convert_xy_on_every_vertex():
    g = gpd.GeoDataFrame(
        {"id": [1, 2]},
        geometry=[shapely.Point(116.4, 39.9), shapely.box(116.5, 39.8, 116.6, 39.9)],
        crs=4326,
    )
    out = convert_frame(g, src="gcj02", dst="gk")
    assert out.crs.to_epsg() == 4548
    xy = shapely.get_coordinates(g.geometry.values)
    ex, ey = convert_xy(xy[:, 0], xy[:, 1], src="gcj02", dst="EPSG:4548")
    np.testing.assert_allclose(shapely.get_coordinates(out.geometry.values), np.c_[ex, ey])
    assert g.geometry.iloc[0].x == 116.4  # input untouched
    back = convert_frame(out, src="EPSG:4548", dst="gcj02")
    np.testing.assert_allclose(shapely.get_coordinates(back.geometry.values), xy, atol=1e-7)


def test_style_for_frame_picks_the_geometry(results):
    pts = results.iloc[[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "SimpleMarker" in style_for_frame(pts, "verdict").qml
        assert "SimpleFill" in style_for_frame(results, "verdict").qml
        assert "SimpleFill" in style_for_frame(results, "gaps").qml
