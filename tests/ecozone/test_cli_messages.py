"""CLI messages name CLI options, never Python keyword arguments (issue #15 §4)."""

from __future__ import annotations

import re

import ezdxf
import pytest
from click.testing import CliRunner
from pyproj import Transformer

from ecozone.cli._output import cli_words
from ecozone.cli.main import cli

PYTHON_SYNTAX = re.compile(r"\b\w+=['\"{]|\b(crs|zone|coords|driver|basemap|rasters)=")


def _dxf_square(path, *, prefixed: bool) -> None:
    """A 200 m square in Tongzhou drawn in CGCS2000 GK zone 39 metres."""
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
    x, y = to_gk.transform(116.70, 39.90)
    if prefixed:
        x += 39_000_000
    doc = ezdxf.new()
    pts = [(x, y), (x + 200, y), (x + 200, y + 200), (x, y + 200)]
    doc.modelspace().add_lwpolyline(pts, close=True, dxfattribs={"layer": "用地红线"})
    doc.saveas(path)


def _run(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_dxf_without_crs_names_the_options(tmp_path) -> None:
    path = tmp_path / "亦庄用地红线.dxf"
    _dxf_square(path, prefixed=False)
    res = _run(["check", str(path), "--pack", "tongzhou"])
    assert res.exit_code != 0
    assert "--crs EPSG:4548" in res.output and "--zone 39" in res.output
    assert not PYTHON_SYNTAX.search(res.output), res.output


@pytest.mark.parametrize("prefixed", [False, True])
def test_dxf_read_with_zone_only(tmp_path, prefixed: bool) -> None:
    path = tmp_path / "site.dxf"
    _dxf_square(path, prefixed=prefixed)
    res = _run(["check", str(path), "--pack", "tongzhou", "--zone", "39", "--json"])
    assert res.exit_code == 0, res.output
    epsg = "EPSG:4527" if prefixed else "EPSG:4548"  # zone 39, eastings with/without prefix
    assert '"verdict"' in res.output and epsg in res.output


def test_unsupported_output_fails_before_the_check(tmp_path) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text("lon,lat\n116.70,39.90\n", encoding="utf-8")
    res = _run(["check", str(sites), "--pack", "tongzhou", "--out", str(tmp_path / "r.foo")])
    assert res.exit_code != 0
    assert ".gpkg" in res.output and "driver" not in res.output
    assert "checked" not in res.output  # refused before any site was checked
    assert not (tmp_path / "r.foo").exists()


def test_tianditu_without_key_names_the_option(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    res = _run(
        ["map", "--pack", "tongzhou", "--basemap", "tianditu", "--out", str(tmp_path / "m.html")]
    )
    assert res.exit_code != 0
    assert "--basemap" in res.output and "TIANDITU_KEY" in res.output
    assert not PYTHON_SYNTAX.search(res.output), res.output


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "pass one, e.g. crs='EPSG:4548' or zone=39.",
            "pass one, e.g. --crs EPSG:4548 or --zone 39.",
        ),
        ("no CRS; pass crs=, e.g. crs='EPSG:4326'.", "no CRS; pass --crs, e.g. --crs EPSG:4326."),
        ("pass rasters={'landcover': PATH_TO_GEOTIFF}", "pass --landcover PATH"),
        ("use one of ['.gpkg'] or pass driver=.", "use one of ['.gpkg']."),
        ('use basemap="osm" or basemap="none"', "use --basemap osm or --basemap none"),
        ("coords='gcj02' for AMap points", "--coords gcj02 for AMap points"),
    ],
)
def test_cli_words(message: str, expected: str) -> None:
    assert cli_words(message) == expected
