"""Print maps: Chinese glyphs, PNG/PDF output, legend, true-metre scale bar, north arrow."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from fontTools.ttLib import TTFont
from geopandas.testing import assert_geodataframe_equal
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread
from matplotlib.patches import PathPatch
from matplotlib.text import Text

from geo.errors import InputFormatError
from layers.kinds import KINDS
from maps._assets import cjk_font
from maps.printmap import (
    _true_north_angle,
    nice_scale_length,
    polygon_path,
    print_map,
    print_map_bytes,
)

GEOD = pyproj.Geod(ellps="GRS80")
TITLE = "北京市生态保护红线示意图"


def _square(lon: float, lat: float, half_m: float) -> shapely.Polygon:
    """A square of about 2*half_m metres a side, corners built with pyproj.Geod."""
    corners = []
    for az in (45.0, 135.0, 225.0, 315.0):
        x, y, _ = GEOD.fwd(lon, lat, az, half_m * math.sqrt(2))
        corners.append((x, y))
    return shapely.Polygon(corners)


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    redline = gpd.GeoDataFrame(
        {"feature_id": ["r1", "r2"], "name": ["红线一", "红线二"], "synthetic": [True, True]},
        geometry=[_square(116.40, 39.90, 3000), _square(116.50, 39.85, 2000)],
        crs="EPSG:4326",
    )
    boundary = gpd.GeoDataFrame(
        {
            "feature_id": ["b1"],
            "name": ["东城区"],
            "synthetic": [False],
            "adcode": ["110101"],
            "level": ["district"],
        },
        geometry=[_square(116.45, 39.88, 9000)],
        crs="EPSG:4326",
    ).to_crs("EPSG:4548")
    units = gpd.GeoDataFrame(
        {
            "feature_id": ["c1", "c2"],
            "name": ["单元一", "单元二"],
            "synthetic": [True, True],
            "category": ["priority", "general"],
        },
        geometry=[_square(116.38, 39.83, 2500), _square(116.52, 39.93, 2500)],
        crs="EPSG:4326",
    )
    wells = gpd.GeoDataFrame(
        {"feature_id": ["w1", "w2"], "name": ["井一", "井二"], "synthetic": [True, True]},
        geometry=[shapely.Point(116.42, 39.87), shapely.Point(116.47, 39.91)],
        crs="EPSG:4326",
    )
    return {"boundary": boundary, "control_unit": units, "redline": redline, "well": wells}


@pytest.fixture
def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": ["s1", "s2"], "verdict": ["prohibited", "compliant"]},
        geometry=[shapely.Point(116.40, 39.90), shapely.Point(116.55, 39.80)],
        crs="EPSG:4326",
    )


def _text_artists(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    for legend in fig.legends:
        out += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return out


def _by_gid(fig: Figure, gid: str) -> list:
    return fig.findobj(lambda a: a.get_gid() == gid)


# ---------------------------------------------------------------------------- font


def test_cjk_font_has_chinese_glyphs():
    family, path, index = cjk_font()
    found = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
    assert str(found) == path or getattr(found, "path", None) == path
    font = FT2Font(path, face_index=index)
    for ch in TITLE + "演示数据非官方图例":
        assert font.get_char_index(ord(ch)) != 0, ch
    # The check discriminates: matplotlib's default font has no such glyph.
    dejavu = FT2Font(font_manager.findfont(FontProperties(family="DejaVu Sans")))
    assert dejavu.get_char_index(ord("生")) == 0


def _render_text(s: str, prop: FontProperties) -> np.ndarray:
    fig = Figure(figsize=(3, 0.6), dpi=100)
    fig.text(0.05, 0.3, s, fontproperties=prop, fontsize=20)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return imread(io.BytesIO(buf.getvalue()))


def test_chinese_renders_as_glyphs_not_boxes():
    family, _, _ = cjk_font()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = _render_text("生态", FontProperties(family=family))
    with pytest.warns(UserWarning, match="missing from font"):
        boxes = _render_text("生态", FontProperties(family="DejaVu Sans"))
    ink_good = (good[..., :3].mean(axis=2) < 0.5).sum()
    assert ink_good > 50
    assert not np.array_equal(good, boxes)


# --------------------------------------------------------------------------- output


def test_png_with_chinese_title(tmp_path, layers, sites):
    out = tmp_path / "map.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "Glyph missing" warning fails the test
        fig = print_map(layers, title=TITLE, out=out, sites=sites, dpi=80)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    texts = _texts(fig)
    assert TITLE in texts
    assert "图例" in texts
    kinds = [KINDS[k].label_zh for k in ("redline", "boundary", "well")]
    for label in [*kinds, "选址", "不符合（禁止类）", "北"]:
        assert any(label in t for t in texts), label
    assert any(t.startswith("演示数据，非官方") for t in texts)
    # The title area has ink (glyphs drawn, not an empty band).
    img = imread(io.BytesIO(data))
    top = img[: int(img.shape[0] * 0.08), :, :3].mean(axis=2)
    assert (top < 0.5).sum() > 100


def test_pdf_embeds_cjk_font(tmp_path, layers):
    _, path, index = cjk_font()
    postscript = FT2Font(path, face_index=index).postscript_name
    out = tmp_path / "map.pdf"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        print_map(layers, title=TITLE, out=out, lang="zh")
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    # TrueType (Type 42) embedding: a subset of the CJK font, never Type 3 outlines.
    assert re.search(rb"/BaseFont /[A-Z]{6}\+" + re.escape(postscript.encode()), pdf)
    assert b"/FontFile2" in pdf
    assert b"/Type3" not in pdf
    if shutil.which("pdffonts") is None:
        return
    # poppler reads every font as the TrueType it is said to be (matplotlib's own
    # subsets of the CFF font were OpenType in a TrueType slot: "Mismatch between
    # font type and embedded font file"), and gives the text back
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows and all("CID TrueType" in r and " yes yes yes " in r for r in rows), fonts.stdout
    assert "Mismatch" not in fonts.stderr
    page = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True)
    assert "Mismatch" not in page.stderr
    for label in (TITLE, "图例", "北", "演示数据，非官方"):
        assert label in page.stdout, label


def test_pdf_text_is_drawn_as_on_the_png(layers):
    """The PDF's own fonts (just the map's characters) are used only while it is saved."""
    from maps.printmap import _truetype_text

    fig = print_map(layers, title=TITLE, lang="zh", dpi=60)
    before = [(t, t.get_fontproperties()) for t in _text_artists(fig)]
    with _truetype_text(fig):
        during = [t.get_fontproperties() for t, _ in before]
        files = {fp.get_file() for fp in during}
        assert all(f and f.endswith(".ttf") for f in files)
        _, path, index = cjk_font()
        with TTFont(path, fontNumber=index, lazy=True) as face:
            width = face["hmtx"][face.getBestCmap()[ord("图")]][0]
        for f in files:  # small TrueType fonts, with the face's glyph widths
            with TTFont(f) as small:
                assert "glyf" in small and os.path.getsize(f) < 200_000
                glyph = small.getBestCmap().get(ord("图"))
                assert glyph is None or small["hmtx"][glyph][0] == width
    assert [t.get_fontproperties() for t, _ in before] == [fp for _, fp in before]
    assert not any(os.path.exists(f) for f in files)  # removed


def test_print_map_bytes_english(layers):
    png = print_map_bytes(layers, title="Red line", lang="en", dpi=60)
    assert png[:4] == b"\x89PNG"
    fig = print_map(layers, title="Red line", lang="en", dpi=60)
    texts = _texts(fig)
    assert "Legend" in texts and "图例" not in texts
    assert KINDS["redline"].label_en in texts
    assert "N" in texts


def test_demo_label_only_for_synthetic(layers):
    assert _by_gid(print_map(layers, title="t", dpi=50), "demo-label")
    real = {k: v.assign(synthetic=False) for k, v in layers.items()}
    assert not _by_gid(print_map(real, title="t", dpi=50), "demo-label")


def test_inputs_not_modified(layers, sites):
    before = {k: v.copy(deep=True) for k, v in layers.items()}
    sites_before = sites.copy(deep=True)
    print_map(layers, title="t", sites=sites, dpi=50)
    for k, v in layers.items():
        assert_geodataframe_equal(v, before[k])
    assert_geodataframe_equal(sites, sites_before)


# ------------------------------------------------------------------ scale and north


def test_scale_bar_is_true_metres(layers):
    fig = print_map(layers, title="比例尺", dpi=50)
    ax = fig.axes[0]
    label = _by_gid(fig, "scalebar-label")[0].get_text()
    value, unit = label.split()
    length = float(value) * (1000 if unit == "km" else 1)
    bars = _by_gid(fig, "scalebar")
    xs = [b.get_x() for b in bars] + [b.get_x() + b.get_width() for b in bars]
    assert max(xs) - min(xs) == pytest.approx(length)
    # Independent check: convert the bar's ends to lon/lat and measure on the ellipsoid.
    axis_crs = pyproj.CRS.from_user_input(
        re.search(r"EPSG:(\d+)", fig.texts[-1].get_text()).group(0)
    )
    to_ll = pyproj.Transformer.from_crs(axis_crs, 4326, always_xy=True)
    y = bars[0].get_y()
    lon0, lat0 = to_ll.transform(min(xs), y)
    lon1, lat1 = to_ll.transform(max(xs), y)
    _, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
    assert dist == pytest.approx(length, rel=2e-3)
    # The bar is a readable share of the map width.
    x0, x1 = ax.get_xlim()
    assert 0.1 <= length / (x1 - x0) <= 0.3
    # The axes span the data: the boundary square (18 km a side) fits inside.
    y0, y1 = ax.get_ylim()
    assert y1 - y0 >= 18_000 and x1 - x0 >= 18_000


def test_extent_limits_the_view(layers):
    extent = (116.35, 39.85, 116.45, 39.95)
    fig = print_map(layers, title="局部", extent=extent, dpi=50)
    ax = fig.axes[0]
    y0, y1 = ax.get_ylim()
    # 0.1° of latitude is about 11.1 km on the ellipsoid; the view covers it but not 3x.
    _, _, ns = GEOD.inv(116.40, 39.85, 116.40, 39.95)
    assert ns <= (y1 - y0) < 1.5 * ns
    with pytest.raises(InputFormatError, match="extent"):
        print_map(layers, title="x", extent=(500000, 4400000, 510000, 4410000))


def test_north_arrow_points_to_true_north():
    crs = pyproj.CRS.from_epsg(4548)  # central meridian 117°E
    # Meridian convergence γ ≈ Δλ·sin φ; east of the central meridian true north
    # leans west of grid north (counter-clockwise, positive here).
    lon, lat = 118.4, 40.0
    expected = (lon - 117.0) * math.sin(math.radians(lat))
    assert _true_north_angle(crs, lon, lat) == pytest.approx(expected, abs=0.02)
    assert _true_north_angle(crs, 117.0, lat) == pytest.approx(0.0, abs=1e-6)


def test_nice_scale_length():
    assert nice_scale_length(10_000) == 2000
    assert nice_scale_length(23_000) == 5000
    assert nice_scale_length(60_000) == 10_000
    assert nice_scale_length(3_000) == 500


def test_polygon_path_keeps_holes():
    ring = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(3, 3), (7, 3), (7, 7), (3, 7)]]
    )
    # The hole drawn with the same orientation as the shell must still stay empty.
    path = polygon_path(np.array([ring, shapely.box(20, 0, 30, 10)], dtype=object))
    fig = Figure(figsize=(3, 1), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.add_patch(PathPatch(path, facecolor="black", edgecolor="none"))
    ax.set_xlim(0, 30)
    ax.set_ylim(0, 10)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    img = np.asarray(canvas.buffer_rgba())[..., 0]

    def pixel(x: float, y: float) -> int:  # data -> image row/column
        return int(img[int((10 - y) * 10), int(x * 10)])

    assert pixel(1, 1) == 0  # shell
    assert pixel(5, 5) == 255  # hole
    assert pixel(25, 5) == 0  # second polygon
    assert pixel(15, 5) == 255  # between


def test_bad_arguments(layers):
    with pytest.raises(InputFormatError, match=r"\.png or \.pdf"):
        print_map(layers, title="x", out="map.svg")
    with pytest.raises(InputFormatError, match="lang="):
        print_map(layers, title="x", lang="de")
    with pytest.raises(InputFormatError, match="out="):
        print_map_bytes(layers, title="x", out="a.png")


def test_single_site_and_empty_layers():
    site = gpd.GeoDataFrame(
        {"site_id": ["S-1"]}, geometry=[shapely.Point(116.4, 39.9)], crs="EPSG:4326"
    )
    empty = gpd.GeoDataFrame({"feature_id": [], "name": []}, geometry=[], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = print_map({"redline": empty}, title="单个选址", sites=site, dpi=50)
    x0, x1 = fig.axes[0].get_xlim()
    y0, y1 = fig.axes[0].get_ylim()
    assert min(x1 - x0, y1 - y0) >= 1000  # a readable frame around a lone point
    assert "S-1" in _texts(fig)


@pytest.mark.parametrize(
    ("page", "orientation", "inches"),
    [
        ("A4", "landscape", (11.69, 8.27)),
        ("A4", "portrait", (8.27, 11.69)),
        ("A3", "landscape", (16.54, 11.69)),
    ],
)
def test_page_sizes(layers, page, orientation, inches):
    from maps.printmap import page_size

    assert page_size(page, orientation) == inches
    fig = print_map(layers, title="纸张", dpi=40, figsize=page_size(page, orientation))
    assert (fig.get_figwidth(), fig.get_figheight()) == pytest.approx(inches)
    # the map and the legend do not overlap, on either orientation
    renderer = fig.canvas.get_renderer()
    map_box = fig.axes[0].get_window_extent(renderer)
    legend_box = fig.legends[0].get_window_extent(renderer)
    assert not map_box.overlaps(legend_box)
    if orientation == "portrait":
        assert legend_box.y1 <= map_box.y0  # legend below the map
        assert map_box.width > 0.8 * fig.bbox.width  # the map keeps the page's width
    else:
        assert legend_box.x0 >= map_box.x1


def test_unknown_page_is_refused():
    from maps.printmap import page_size

    with pytest.raises(InputFormatError, match="A4"):
        page_size("Letter")


def test_pdf_is_written_when_its_own_fonts_cannot_be_made(tmp_path, layers, monkeypatch, caplog):
    """The faster fonts failing (a damaged font file) leaves matplotlib's embedding."""
    import zoning.report.pdf

    def broken(*args):
        raise ValueError("damaged glyph table")

    monkeypatch.setattr(zoning.report.pdf, "truetype_subset", broken)
    out = tmp_path / "map.pdf"
    print_map(layers, title=TITLE, out=out, lang="zh", dpi=60)
    assert out.read_bytes().startswith(b"%PDF") and b"/FontFile" in out.read_bytes()
    assert "damaged glyph table" in caplog.text
