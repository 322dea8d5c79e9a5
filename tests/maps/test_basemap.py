"""Basemap specifications and offline tile packages (.mbtiles / .pmtiles)."""

from __future__ import annotations

import io
import sqlite3

import geopandas as gpd
import pytest
import shapely
from PIL import Image

from geo.errors import InputFormatError
from maps.basemap import export_tiles, parse_basemap
from maps.tiles import TilePackage, build_tiles, lonlat_to_tile, tile_bounds


@pytest.mark.parametrize(
    ("spec", "kind", "system"),
    [
        ("none", "none", "wgs84"),
        ("", "none", "wgs84"),
        ("http://tiles.intranet/{z}/{x}/{y}.png", "xyz", "wgs84"),
        ("gcj02:http://amap.intranet/{z}/{x}/{y}.png", "xyz", "gcj02"),
        ("amap:https://webrd0{s}.example/{z}/{x}/{y}", "xyz", "gcj02"),
        ("bd09:http://bd.intranet/{z}/{x}/{y}.png", "xyz", "bd09"),
        ("tianditu:abc123", "xyz", "wgs84"),
        ("osm", "xyz", "wgs84"),
    ],
)
def test_parse_specs(spec, kind, system) -> None:
    b = parse_basemap(spec)
    assert (b.kind, b.system) == (kind, system)
    if kind == "xyz":
        assert "{z}" in b.url and "{x}" in b.url


def test_tianditu_has_labels_and_key() -> None:
    b = parse_basemap("tianditu:k-1:img")
    assert "LAYER=img" in b.url and "tk=k-1" in b.url
    assert len(b.overlays) == 1 and "LAYER=cia" in b.overlays[0]
    assert b.needs_internet


@pytest.mark.parametrize(
    "spec", ["google", "tianditu", "tianditu:", "http://x/{z}/{x}.png", "/no/such.mbtiles"]
)
def test_bad_specs_say_what_is_accepted(spec) -> None:
    with pytest.raises(InputFormatError, match=r"basemap|底图"):
        parse_basemap(spec)


def test_tile_math_round_trip() -> None:
    x, y = lonlat_to_tile(116.4, 39.9, 10)
    w, s, e, n = tile_bounds(10, x, y)
    assert w <= 116.4 < e and s <= 39.9 < n
    assert (e - w) == pytest.approx(360 / 1024)


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"feature_id": ["a", "b"], "name": ["甲区", "乙区"], "adcode": ["1", "2"]},
        geometry=[
            shapely.box(116.30, 39.80, 116.50, 40.00),
            shapely.box(116.50, 39.80, 116.70, 40.0),
        ],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("suffix", [".mbtiles", ".pmtiles"])
def test_build_and_read_package(tmp_path, districts, suffix) -> None:
    out = build_tiles({"boundary": districts}, tmp_path / f"ref{suffix}", zooms=range(8, 11))
    with TilePackage(out) as pkg:
        meta = pkg.metadata
        assert int(meta["minzoom"]) == 8 and int(meta["maxzoom"]) == 10
        x, y = lonlat_to_tile(116.5, 39.9, 10)
        png = pkg.get(10, x, y)
        assert pkg.get(10, 0, 0) is None  # nothing drawn far away
    image = Image.open(io.BytesIO(png))
    assert image.size == (256, 256)
    # the boundary line between the two districts (116.5°E) is drawn where it belongs:
    # near the tile's top edge (north of 39.80°N, inside the boxes)
    west, _, east, _ = tile_bounds(10, x, y)
    column = round((116.5 - west) / (east - west) * 256)
    pixels = image.convert("L")
    near = [pixels.getpixel((c, 8)) for c in range(column - 2, column + 3)]
    assert min(near) < 150
    assert pixels.getpixel((column + 60, 8)) > 200  # background beside it
    b = parse_basemap(str(out))
    assert b.kind == "package" and b.system == "wgs84" and not b.needs_internet


def test_mbtiles_rows_are_tms(tmp_path, districts) -> None:
    out = build_tiles({"boundary": districts}, tmp_path / "ref.mbtiles", zooms=[9])
    _, y = lonlat_to_tile(116.5, 39.9, 9)
    with sqlite3.connect(out) as db:
        rows = {r for (r,) in db.execute("SELECT tile_row FROM tiles WHERE zoom_level=9")}
    assert (2**9 - 1) - y in rows  # rows count from the south in MBTiles


def test_not_a_package(tmp_path) -> None:
    bad = tmp_path / "x.mbtiles"
    bad.write_bytes(b"not sqlite")
    with pytest.raises(InputFormatError, match="tile"):
        TilePackage(bad)


def test_too_many_tiles_refused(tmp_path, districts) -> None:
    with pytest.raises(InputFormatError, match="tiles"):
        build_tiles({"boundary": districts}, tmp_path / "big.mbtiles", zooms=range(8, 19))
    assert not (tmp_path / "big.mbtiles").exists()


def test_export_beside_page(tmp_path, districts) -> None:
    pkg = build_tiles({"boundary": districts}, tmp_path / "ref.mbtiles", zooms=[9, 10])
    page = tmp_path / "map.html"
    b = export_tiles(str(pkg), page)
    assert b.kind == "xyz" and b.url == "map_tiles/{z}/{x}/{y}.png"
    x, y = lonlat_to_tile(116.5, 39.9, 10)
    assert (tmp_path / "map_tiles" / "10" / str(x) / f"{y}.png").is_file()
