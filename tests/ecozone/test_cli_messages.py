"""CLI messages name CLI options, never Python keyword arguments (issue #15 §4)."""

from __future__ import annotations

import re

import ezdxf
import geopandas as gpd
import pytest
import shapely
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


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["measure", "{gpkg}", "--out", "{gpkg}"], "--out"),
        (["coords", "convert", "--from", "gcj02", "--to", "wgs84", "--csv", "{csv}", "--out",
          "{csv}"], "--out"),
        (["clues", "{gpkg}", "--out", "{new}", "--table", "{gpkg}"], "--table"),
        (["stakes", "{gpkg}", "--out", "{gpkg}", "--overwrite"], "--out"),
        (["map", "--pack", "tongzhou", "--sites", "{gpkg}", "--out", "{qgz}"],
         "(the project's layers)"),  # a QGIS project writes its layers to <stem>.gpkg
        (["coverage", "--pack", "beijing", "--network", "{csv}", "--out", "{csv}"], "--out"),
        (["gaps", "--pack", "beijing", "--candidate-file", "{geojson}", "--out", "{geojson}"],
         "--out"),
    ],
)  # fmt: skip
def test_an_output_over_an_input_is_refused_and_the_input_kept(tmp_path, args, label) -> None:
    """A command refuses, before any work, to write an output over a file it reads."""
    frame = gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[shapely.box(116.70, 39.90, 116.702, 39.902)], crs="EPSG:4326"
    )
    files = {"gpkg": tmp_path / "plots.gpkg", "geojson": tmp_path / "plots.geojson"}
    frame.to_file(files["gpkg"])
    frame.to_file(files["geojson"])
    files["csv"] = tmp_path / "points.csv"
    files["csv"].write_text("lon,lat\n116.70,39.90\n", encoding="utf-8")
    before = {k: p.read_bytes() for k, p in files.items()}
    paths = {k: str(v) for k, v in files.items()}
    paths |= {"new": str(tmp_path / "new.gpkg"), "qgz": str(tmp_path / "plots.qgz")}
    res = _run([a.format(**paths) for a in args])
    assert res.exit_code != 0, res.output
    assert f"the output {label} is the input" in res.output, res.output
    assert "choose another path" in res.output
    assert {k: p.read_bytes() for k, p in files.items()} == before


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_print_table_never_cuts_a_cell(monkeypatch, terminal: bool) -> None:
    """A cell wider than the page wraps on a terminal and stays whole in a pipe."""
    import io
    import re

    from rich.cells import cell_len
    from rich.console import Console

    from ecozone.cli import _output

    page = io.StringIO()
    monkeypatch.setattr(_output, "Console", lambda **kw: Console(file=page, **kw))
    monkeypatch.setattr(
        _output, "console", Console(file=page, width=60, force_terminal=terminal, no_color=True)
    )
    cite = "《北京市“十四五”时期生态环境保护规划》四、深入打好污染防治攻坚战（二）第三款"
    _output.print_table("findings", ["rule", "source"], [["water_source.nearest", cite]])
    text = re.sub(r"\x1b\[[0-9;]*m", "", page.getvalue())  # (styles of a terminal)
    assert "…" not in text
    if terminal:  # wrapped within the 60 columns: every character kept, in order
        assert max(cell_len(ln) for ln in text.splitlines()) <= 60
        cells = [ln.split("│")[2].strip() for ln in text.splitlines() if ln.count("│") == 3]
        assert "".join(cells) == cite
    else:  # one line, whole
        assert any("water_source.nearest" in ln and cite in ln for ln in text.splitlines())
