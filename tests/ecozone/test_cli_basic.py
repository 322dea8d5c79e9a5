"""CLI tests for the foundation commands: coords, measure, layers."""

import json

import geopandas as gpd
import pytest
from click.testing import CliRunner
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon

from ecozone.cli.main import cli
from geo.chinacoords import gcj02_to_wgs84


@pytest.fixture
def runner():
    return CliRunner()


def run_json(runner, args):
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_help_lists_every_command(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("layers", "measure", "coords", "check", "coverage", "gaps", "map", "demo"):
        assert name in result.output


def test_coords_convert_single_gcj02(runner):
    data = run_json(
        runner, ["coords", "convert", "--from", "gcj02", "--to", "wgs84", "116.403963", "39.915119"]
    )
    lon, lat = gcj02_to_wgs84(116.403963, 39.915119)
    assert data["output"] == pytest.approx([float(lon), float(lat)], abs=1e-9)


def test_coords_convert_to_gk_northing_first(runner):
    data = run_json(
        runner,
        [
            "coords",
            "convert",
            "--from",
            "wgs84",
            "--to",
            "gk39",
            "--northing-first",
            "39.908",
            "116.397",
        ],
    )
    e, n = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(116.397, 39.908)
    assert data["output"] == pytest.approx([n, e], abs=1e-6)


def test_coords_convert_bad_number(runner):
    result = runner.invoke(cli, ["coords", "convert", "--from", "wgs84", "--to", "gcj02", "x", "1"])
    assert result.exit_code != 0
    assert "not numbers" in result.output


def test_coords_convert_csv(runner, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("name,lng,lat\na,116.4,39.9\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(
        cli,
        [
            "coords",
            "convert",
            "--from",
            "wgs84",
            "--to",
            "bd09",
            "--csv",
            str(src),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8-sig")
    assert "x_bd09" in text.splitlines()[0]


def test_measure_matches_geod(runner, tmp_path):
    poly = Polygon([(116.3, 39.9), (116.32, 39.9), (116.32, 39.915), (116.3, 39.915)])
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[poly], crs="EPSG:4326").to_file(path)
    data = run_json(runner, ["measure", str(path)])
    area, perimeter = Geod(ellps="WGS84").geometry_area_perimeter(poly)
    assert data["features"][0]["area_m2"] == pytest.approx(abs(area), rel=1e-4)
    assert data["features"][0]["perimeter_m"] == pytest.approx(perimeter, rel=1e-4)


def test_measure_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(cli, ["measure", str(tmp_path / "nope.shp")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_layers_import_history_show_export(runner, tmp_path):
    store = tmp_path / "s.gpkg"
    wells = gpd.GeoDataFrame(
        {"feature_id": ["w1", "w2"], "name": ["甲村水源井", "乙村水源井"]},
        geometry=[Point(116.7, 39.8), Point(116.71, 39.81)],
        crs="EPSG:4326",
    )
    src = tmp_path / "wells.geojson"
    wells.to_file(src)
    first = run_json(
        runner, ["layers", "import", str(src), "--kind", "well", "--store", str(store)]
    )
    assert first["version"] == 1 and first["row_count"] == 2
    wells.iloc[:1].to_file(src)
    second = run_json(
        runner, ["layers", "import", str(src), "--kind", "well", "--store", str(store)]
    )
    assert second["version"] == 2 and second["row_count"] == 1

    history = run_json(runner, ["layers", "history", "well", "--store", str(store)])
    assert [h["version"] for h in history] == [1, 2]
    listing = run_json(runner, ["layers", "list", "--store", str(store)])
    assert [(r["name"], r["version"]) for r in listing["layers"]] == [("well", 2)]
    shown = run_json(runner, ["layers", "show", "well", "--version", "1", "--store", str(store)])
    assert shown["row_count"] == 2
    assert {f["name"] for f in shown["features"]} == {"甲村水源井", "乙村水源井"}

    out = tmp_path / "v1.gpkg"
    result = runner.invoke(
        cli, ["layers", "export", "well", str(out), "--version", "1", "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out, layer="well")) == 2  # the file also holds layer_styles


def test_layers_import_wrong_geometry_is_clear(runner, tmp_path):
    poly = Polygon([(116.3, 39.9), (116.32, 39.9), (116.32, 39.915)])
    src = tmp_path / "notwells.geojson"
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[poly], crs="EPSG:4326").to_file(src)
    result = runner.invoke(
        cli, ["layers", "import", str(src), "--kind", "well", "--store", str(tmp_path / "s.gpkg")]
    )
    assert result.exit_code == 1
    assert "Error" in result.output and "point" in result.output.lower()
