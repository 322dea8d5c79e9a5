"""Tests for geo.io.write_vector: round trips, atomic replacement, GeoPackage layers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.errors import EcozoneWarning, InputFormatError
from geo.io import OutputExistsError, read_vector, write_vector

FORMATS = ["gpkg", "geojson", "parquet", "shp", "csv"]


@pytest.fixture
def polygons() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["通州地块", "大兴地块"], "面积": [1.5, 2.25], "级别": [1, 2]},
        geometry=[
            shapely.box(116.65, 39.90, 116.66, 39.91),
            shapely.Polygon(
                [(116.33, 39.72), (116.35, 39.72), (116.35, 39.74), (116.33, 39.74)],
                holes=[[(116.335, 39.725), (116.34, 39.725), (116.34, 39.73)]],
            ),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["水源井1", "水源井2"], "code": ["0101", "0102"]},
        geometry=[shapely.Point(116.41, 39.91), shapely.Point(116.52, 39.83)],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("ext", FORMATS)
def test_round_trip_polygons(tmp_path, polygons, ext):
    path = write_vector(polygons, tmp_path / f"地块.{ext}")
    assert path.exists()
    back = read_vector(path)
    assert back["名称"].tolist() == polygons["名称"].tolist()
    assert back["面积"].tolist() == polygons["面积"].tolist()
    assert back.crs.equals(polygons.crs)
    for a, b in zip(back.geometry, polygons.geometry, strict=True):
        assert a.normalize().equals_exact(b.normalize(), tolerance=1e-12)
    assert back.attrs["issues"] == []
    assert polygons.columns.tolist() == ["名称", "面积", "级别", "geometry"]  # input untouched


@pytest.mark.parametrize("ext", FORMATS)
def test_round_trip_points(tmp_path, points, ext):
    back = read_vector(write_vector(points, tmp_path / f"wells.{ext}"))
    assert back["名称"].tolist() == ["水源井1", "水源井2"]
    assert back.geometry.x.tolist() == points.geometry.x.tolist()
    assert back.geometry.y.tolist() == points.geometry.y.tolist()


def test_projected_round_trip_keeps_crs(tmp_path, polygons):
    gk = polygons.to_crs("EPSG:4548")
    for ext in ("gpkg", "shp", "parquet"):
        back = read_vector(write_vector(gk, tmp_path / f"gk.{ext}"))
        assert back.crs.to_epsg() == 4548


def test_shapefile_is_utf8_with_cpg(tmp_path, polygons):
    path = write_vector(polygons, tmp_path / "u.shp")
    assert path.with_suffix(".cpg").read_text().strip().upper() == "UTF-8"
    assert "通州地块".encode() in path.with_suffix(".dbf").read_bytes()


def test_shapefile_long_field_names_warned(tmp_path, points):
    with pytest.warns(EcozoneWarning, match="10 bytes"):
        write_vector(points.assign(very_long_field_name=1), tmp_path / "l.shp")


def test_csv_layout(tmp_path, points, polygons):
    path = write_vector(points, tmp_path / "p.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel/WPS show Chinese correctly
    table = pd.read_csv(path, encoding="utf-8-sig", dtype={"code": str})
    assert table["lon"].tolist() == [116.41, 116.52]
    assert table["lat"].tolist() == [39.91, 39.83]
    assert shapely.from_wkt(table["geometry"][0]).equals(shapely.Point(116.41, 39.91))
    assert table["code"].tolist() == ["0101", "0102"]
    poly_table = pd.read_csv(write_vector(polygons, tmp_path / "q.csv"), encoding="utf-8-sig")
    assert "lon" not in poly_table.columns
    assert shapely.from_wkt(poly_table["geometry"][1]).equals(polygons.geometry.iloc[1])


def test_failed_write_leaves_previous_file(tmp_path, points, polygons):
    path = write_vector(points, tmp_path / "keep.shp")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    mixed = pd.concat([points, polygons], ignore_index=True)  # shapefiles hold one type
    with pytest.raises(InputFormatError, match=r"keep\.shp"):
        write_vector(mixed, path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # untouched, and no temporary files left behind
    assert read_vector(path)["名称"].tolist() == ["水源井1", "水源井2"]


def test_overwrite_replaces_and_removes_stale_sidecars(tmp_path, points):
    path = write_vector(points, tmp_path / "w.shp")
    stale = tmp_path / "w.qix"
    stale.write_bytes(b"old spatial index")
    write_vector(points.iloc[:1], path)
    assert not stale.exists()
    assert len(read_vector(path)) == 1


def test_overwrite_false(tmp_path, points):
    path = write_vector(points, tmp_path / "x.geojson")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_vector(points, path, overwrite=False)
    with pytest.raises(FileExistsError):  # also a builtin FileExistsError
        write_vector(points, path, overwrite=False)


def test_gpkg_layers_added_and_replaced(tmp_path, points, polygons):
    path = tmp_path / "store.gpkg"
    write_vector(points, path, layer="wells")
    write_vector(polygons, path, layer="parcels")
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["parcels", "wells"]
    write_vector(points.iloc[:1], path, layer="wells")  # replace one layer, keep the other
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["parcels", "wells"]
    assert len(read_vector(path, layer="wells")) == 1
    assert len(read_vector(path, layer="parcels")) == 2
    with pytest.raises(OutputExistsError, match="layer 'wells'"):
        write_vector(points, path, layer="wells", overwrite=False)
    write_vector(points, path, layer="more", overwrite=False)  # a new layer is fine
    # Without layer= the layer is named after the file; the others stay (as in QGIS).
    write_vector(points, path)
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["more", "parcels", "store", "wells"]
    assert len(read_vector(path, layer="parcels")) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["store.gpkg"]


def _not_a_geopackage(path, kind: str) -> bytes:
    """Write a file that is not a GeoPackage: text, or an SQLite database of other tables."""
    import sqlite3

    if kind == "text":
        path.write_text("我的笔记 / my notes", encoding="utf-8")
    else:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (t TEXT)")
        con.commit()
        con.close()
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["text", "sqlite"])
def test_a_gpkg_target_that_is_not_a_geopackage_is_left_alone(tmp_path, points, kind):
    path = tmp_path / "mine.gpkg"
    content = _not_a_geopackage(path, kind)
    with pytest.raises(InputFormatError, match="not a GeoPackage"):
        write_vector(points, path)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["mine.gpkg"]
    path.write_bytes(b"")  # an empty file holds nothing to keep: replaced
    write_vector(points, path)
    assert len(read_vector(path)) == len(points)


@pytest.mark.parametrize("bad", ["out.txt", "out", "out.dwg"])
def test_unknown_suffix(tmp_path, points, bad):
    with pytest.raises(InputFormatError, match="suffix"):
        write_vector(points, tmp_path / bad)
    assert list(tmp_path.iterdir()) == []


def test_driver_argument(tmp_path, points):
    path = write_vector(points, tmp_path / "data.out", driver="GeoJSON")
    assert read_vector(path)["名称"].tolist() == ["水源井1", "水源井2"]
    with pytest.raises(InputFormatError, match="driver="):
        write_vector(points, tmp_path / "x.gpkg", driver="DWG")


def test_check_outputs_follows_links_and_refuses_what_is_not_a_layer_container(tmp_path, points):
    from geo.io.writers import check_outputs

    src = tmp_path / "sites.csv"
    src.write_text("lon,lat\n116.4,39.9\n", encoding="utf-8")
    hard = tmp_path / "hard.csv"
    hard.hardlink_to(src)
    (tmp_path / "sub").mkdir()
    for out in (src, hard, tmp_path / "sub" / ".." / "sites.csv"):
        with pytest.raises(InputFormatError, match="the output --out is the input file"):
            check_outputs(src, {"--out": out})
    new = tmp_path / "new.gpkg"  # not written yet: compared by path
    with pytest.raises(InputFormatError, match="outputs --out and --errors are one file"):
        check_outputs(src, {"--out": new, "--errors": tmp_path / "." / "new.gpkg"})
    check_outputs(src, {"--out": new, "--errors": tmp_path / "new.errors.csv"})
    check_outputs(None, {"--out": src})  # a frame in memory: nothing to keep
    # a .gpkg / .gdb output path holding something else: refused before any work
    notes = tmp_path / "notes.gpkg"
    _not_a_geopackage(notes, "text")
    folder = tmp_path / "mine.gdb"
    folder.mkdir()
    (folder / "readme.txt").write_text("mine", encoding="utf-8")
    for out, kind in ((notes, "GeoPackage"), (folder, "File Geodatabase")):
        with pytest.raises(InputFormatError, match=f"exists but is not a {kind}"):
            check_outputs(src, {"--out": out})
    write_vector(points, new)
    check_outputs(src, {"--out": new})  # a GeoPackage: its other layers will be kept


def test_check_outputs_against_several_inputs_names_the_one_hit(tmp_path):
    from geo.io.writers import check_outputs

    sites, network = tmp_path / "sites.csv", tmp_path / "roads.geojson"
    for path in (sites, network):
        path.write_text("x", encoding="utf-8")
    inputs = {"--sites": sites, "--network": network, "--landcover": None}
    with pytest.raises(InputFormatError, match="the output --out is the input --network file"):
        check_outputs(inputs, {"--out": network})
    check_outputs(inputs, {"--out": tmp_path / "table.csv", "(the candidates)": None})
    check_outputs({}, {"--out": sites})  # no input file: nothing read to keep


def test_gdb_keeps_other_feature_classes_and_refuses_another_folder(tmp_path, points, polygons):
    path = tmp_path / "project.gdb"
    write_vector(polygons, path, layer="plots")
    write_vector(points, path)  # the class named after the folder, beside "plots"
    write_vector(points.iloc[:1], path)  # replaced
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["plots", "project"]
    assert len(read_vector(path, layer="plots")) == 2
    assert len(read_vector(path, layer="project")) == 1
    other = tmp_path / "photos.gdb"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(InputFormatError, match="not a File Geodatabase"):
        write_vector(points, other)
    assert [p.name for p in other.iterdir()] == ["a.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.gdb", "project.gdb"]
