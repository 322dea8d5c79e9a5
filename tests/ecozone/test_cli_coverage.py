"""``ecozone coverage``, ``gaps``, ``map`` and ``demo`` on the embedded demo store."""

import json
import re

import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from ecozone.cli.main import cli
from geo.measure import geodesic_area
from layers import open_store


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def test_coverage_json_matches_an_independent_measurement(runner):
    result = runner.invoke(cli, ["coverage", "--pack", "beijing", "--by", "none", "--json"])
    assert result.exit_code == 0, result.output
    metrics = {m["target_id"]: m for m in json.loads(result.stdout)["metrics"]}
    with open_store(None) as store:
        boundary = store.get_kind("boundary").gdf
        red = store.get_kind("redline").gdf
    beijing = boundary.loc[boundary["adcode"] == "110000"].geometry.iloc[0]
    inside = shapely.intersection(shapely.union_all(red.geometry.to_numpy()), beijing)
    expected = (
        100 * geodesic_area([inside], "EPSG:4326")[0] / geodesic_area([beijing], "EPSG:4326")[0]
    )
    got = metrics["redline.share"]
    assert got["value"] == pytest.approx(expected, abs=0.01)
    assert got["target"] == 26.1
    assert got["met"] == (expected >= 26.1)
    # not measurable without a land-cover raster: said, not crashed
    assert metrics["forest.share"]["measured"] is False
    assert "land-cover" in metrics["forest.share"]["reason"]


def test_coverage_writes_tables(runner, tmp_path):
    out = tmp_path / "cov.csv"
    result = runner.invoke(cli, ["coverage", "--pack", "tongzhou", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("指标,范围,现状值,目标,目标性质,是否达标,差距,依据")
    assert "达到力争目标" in text  # Tongzhou's own 45 % sponge aspiration
    assert "北京市通州区（对北京市市域目标的贡献）" in text  # municipal targets: contribution
    long = tmp_path / "long.csv"
    result = runner.invoke(
        cli, ["coverage", "--pack", "tongzhou", "--out", str(long), "--format", "long"]
    )
    assert result.exit_code == 0, result.output
    assert long.read_text(encoding="utf-8-sig").startswith("target_id,metric")


def test_gaps_and_candidates(runner, tmp_path):
    out = tmp_path / "gaps.gpkg"
    result = runner.invoke(
        cli, ["gaps", "--pack", "tongzhou", "--out", str(out), "--candidates", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"uncovered_residential", "pocket_park_candidates"} <= layers
    data = json.loads(result.stdout)
    gains = [c["gain_m2"] for c in data["candidates"]]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0


def test_map_html_offline(runner, tmp_path):
    out = tmp_path / "map.html"
    result = runner.invoke(
        cli,
        [
            "map",
            "--pack",
            "tongzhou",
            "--out",
            str(out),
            "--layers",
            "boundary,tongzhou_key_area,tongzhou_strict_zone",
        ],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "通州区严控区" in html  # the pack's name for its strict_zone ([zones.strict_zone])
    # no tag loads anything from outside (the inlined Leaflet source may mention its home page
    # in a string; maps/ overrides that attribution at run time)
    assert not re.search(
        r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html
    )


def test_map_png_and_geotiff(runner, tmp_path):
    png = tmp_path / "map.png"
    result = runner.invoke(
        cli, ["map", "--pack", "tongzhou", "--out", str(png), "--layers", "boundary,park"]
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tif = tmp_path / "cov.tif"
    result = runner.invoke(
        cli, ["map", "--pack", "tongzhou", "--out", str(tif), "--resolution", "50"]
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 4548
        assert ds.nodata is not None
        assert ds.overviews(1)
