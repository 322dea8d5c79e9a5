"""The planner's desk in a real browser: basemaps, the file flow, the batch map, map tools.

Headless Debian Chromium driven by Playwright, against uvicorn on 127.0.0.1 over a
copy of the demo store (as in test_web_browser.py). Each basemap case runs its own
server: no basemap (the reference map), an offline ``.mbtiles`` built by
``ecozone tiles``, and a GCJ-02 package whose tiles are drawn shifted, as AMap's are.
Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import ezdxf
import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from geo.chinacoords import gcj02_to_wgs84, wgs84_to_gcj02
from maps.tiles import build_tiles
from tests.ecozone._webdata import live_server
from tests.ecozone.test_web_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]
TO_GK = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
GEOD = Geod(ellps="GRS80")
# container pixel of a lon/lat pair on the page map
_PIXEL_OF = (
    "(c) => { var p = ECZ_PAGE_MAP.latLngToContainerPoint([c[1], c[0]]); return [p.x, p.y]; }"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    from layers import embedded_dataset_path

    tmp = tmp_path_factory.mktemp("desk")
    shutil.copyfile(embedded_dataset_path(), tmp / "store.gpkg")
    return tmp / "store.gpkg"


@pytest.fixture(scope="module")
def well(store) -> shapely.Point:
    from layers import LayerStore

    with LayerStore(store) as s:
        wells = s.get_kind("well").gdf
    return wells.geometry.iloc[0]


def _server(store: Path, **settings):
    app = create_app(str(store), settings=WebSettings(threads=2, processes=0, **settings))
    return live_server(app)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _page(browser, base: str):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    pg = context.new_page()
    pg.requests, pg.errors, pg.dialogs = [], [], []
    pg.on("request", lambda req: pg.requests.append(req.url))
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    return context, pg


def _only_local(pg, base: str) -> None:
    outside = [u for u in pg.requests if not u.startswith((base + "/", "data:", "blob:", "about:"))]
    assert outside == [], outside[:5]
    assert pg.errors == [], pg.errors


# ---------------------------------------------------------------------- no basemap


@pytest.fixture(scope="module")
def plain(store):
    with _server(store) as url:
        yield url


def test_reference_map_tools_and_chinese_draw(browser, plain, well) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context, pg = _page(browser, plain)
    with pg.expect_response(lambda r: "/api/map/context" in r.url):
        pg.goto(plain + "/check")
    pg.wait_for_selector(".district-label")
    assert "reference-map" in pg.get_attribute("#map", "class")
    labels = pg.locator(".district-label").all_inner_texts()
    assert "通州区" in labels and "朝阳区" in labels
    # Leaflet.draw speaks Chinese
    assert pg.get_attribute(".leaflet-draw-draw-polygon", "title") == "绘制面"
    # the scale bar has no miles
    assert pg.locator(".leaflet-control-scale-imperial").count() == 0
    # GK coordinates under the cursor, as pyproj computes them (1 mm)
    gk = pg.evaluate("([x, y]) => ECZ_MAP.gk(x, y)", [well.x, well.y])
    east, north = TO_GK.transform(well.x, well.y)
    assert gk["zone"] == 39 and gk["epsg"] == 4548
    assert abs(gk["x"] - east) < 1e-3 and abs(gk["y"] - north) < 1e-3
    box = pg.locator("#map").bounding_box()
    pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    text = pg.inner_text("#cursor-coords")
    assert "高斯-克吕格 39 带" in text and "EPSG:4548" in text
    # measure: two clicks 300 px apart on the map = the geodesic distance between them
    pg.click("#measure-toggle")
    x0, y0 = box["x"] + 400, box["y"] + 300
    pg.mouse.click(x0, y0)
    pg.mouse.click(x0 + 300, y0)
    shown = pg.inner_text("#measure-result")
    ends = pg.evaluate(
        """([a, b]) => [a, b].map(p => { var ll = ECZ_PAGE_MAP.containerPointToLatLng(p);
             return [ll.lng, ll.lat]; })""",
        [[400, 300], [700, 300]],
    )
    metres = float(GEOD.inv(*ends[0], *ends[1])[2])
    value = float(shown.split()[1])
    unit = shown.split()[2]
    assert value * (1000 if unit == "千米" else 1) == pytest.approx(metres, rel=1e-3)
    # at a zone's edge (109.45°E, 1.45° from its meridian) the plane is 0.03 % long:
    # the tool takes the zone's scale out, to Geod's length and area within 1 mm, 1e-6
    lon, lat, _ = GEOD.fwd(109.45, 22.8, 60.0, 3_000.0)
    got = pg.evaluate("(p) => ECZ_MAP.measure(p, false).length", [[109.45, 22.8], [lon, lat]])
    assert got == pytest.approx(3_000.0, abs=1e-3)
    square = [[109.44, 22.79], [109.46, 22.79], [109.46, 22.81], [109.44, 22.81]]
    area = pg.evaluate("(p) => ECZ_MAP.measure(p, true).area", square)
    lons, lats = [p[0] for p in square], [p[1] for p in square]
    want = abs(GEOD.polygon_area_perimeter(lons, lats)[0])
    assert area == pytest.approx(want, rel=1e-5)
    pg.screenshot(path=str(ARTIFACTS / "desk_reference_map.png"))
    _only_local(pg, plain)
    context.close()


def _dxf(path: Path, lonlat: tuple[float, float]) -> None:
    x, y = TO_GK.transform(*lonlat)
    doc = ezdxf.new()
    pts = [(x, y), (x + 120, y), (x + 120, y + 120), (x, y + 120)]
    doc.modelspace().add_lwpolyline(pts, close=True)
    doc.saveas(path)


@pytest.mark.parametrize("order", ["file_first", "system_first"])
def test_dxf_flow_in_any_order(browser, plain, tmp_path, order) -> None:
    path = tmp_path / "亦庄用地红线.dxf"
    _dxf(path, (116.70, 39.90))
    context, pg = _page(browser, plain)
    pg.goto(plain + "/check")
    pg.check("input[name=mode][value=upload]")
    if order == "file_first":
        with pg.expect_response(lambda r: r.url.endswith("/api/parse")) as first:
            pg.set_input_files("#site-file", str(path))
        assert first.value.status >= 400  # a DXF has no CRS: the page says so
        pg.wait_for_selector("#check-error:not([hidden])")
        with pg.expect_response(lambda r: r.url.endswith("/api/parse")) as again:
            pg.select_option("#coords", "gk")
            pg.fill("#gk-zone", "39")
            pg.dispatch_event("#gk-zone", "change")
        assert again.value.status == 200  # the chosen file was read again
        pg.click("#run-check")
    else:  # zone first, then the file, and 检查 at once, before the file is read
        pg.select_option("#coords", "gk")
        pg.fill("#gk-zone", "39")
        pg.set_input_files("#site-file", str(path))
        pg.click("#run-check")
    pg.wait_for_selector("#result:not([hidden])")
    assert pg.inner_text("#verdict").startswith("结论")
    pg.screenshot(path=str(ARTIFACTS / f"desk_dxf_{order}.png"))
    _only_local(pg, plain)
    context.close()


def test_large_site_asks_first(browser, plain) -> None:
    context, pg = _page(browser, plain)
    pg.goto(plain + "/check")
    pg.check("input[name=mode][value=paste]")
    pg.fill("#coord-text", "面 116.2,39.7; 116.9,39.7; 116.9,40.2; 116.2,40.2")
    with pg.expect_response(lambda r: "/api/check" in r.url) as answer:
        pg.click("#run-check")
    assert answer.value.status == 409
    for _ in range(100):  # the question comes after the answer is read (slow on a busy CI)
        if pg.dialogs:
            break
        pg.wait_for_timeout(100)
    pg.wait_for_timeout(300)  # and no second one
    # the server measured the pasted polygon and asked; the answer was "no": no check
    assert len(pg.dialogs) == 1 and "平方千米" in pg.dialogs[0]
    assert pg.locator("#result").is_hidden()
    assert pg.locator("#check-error").is_hidden()
    context.close()


def test_batch_results_on_a_map(browser, plain, tmp_path, well) -> None:
    csv = tmp_path / "sites.csv"
    csv.write_text(
        f"site_id,lon,lat\nW,{well.x},{well.y}\nF,116.50,40.30\nbad,x,39.9\n", encoding="utf-8"
    )
    context, pg = _page(browser, plain)
    pg.goto(plain + "/check")
    pg.click("#tab-batch")
    pg.set_input_files("#batch-file", str(csv))
    with pg.expect_response(lambda r: r.url.endswith("/api/check/batch")):
        pg.click("#run-batch")
    pg.wait_for_selector("#batch-map path.leaflet-interactive")
    assert pg.locator("#batch-map path.leaflet-interactive").count() == 2
    summary = pg.inner_text("#batch-summary")
    assert "总数" in summary and ("符合" in summary or "禁止" in summary)
    assert "prohibited" not in summary and "compliant" not in summary
    pg.locator("#batch-map path.leaflet-interactive").first.click(force=True)
    popup = pg.wait_for_selector(".batch-popup")
    assert "结论" in popup.inner_text() and "触发规则" in popup.inner_text()
    pg.screenshot(path=str(ARTIFACTS / "desk_batch_map.png"), full_page=True)
    _only_local(pg, plain)
    context.close()


# ------------------------------------------------------------------ offline package


@pytest.fixture(scope="module")
def mbtiles(store, tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from ecozone.cli.main import cli

    out = tmp_path_factory.mktemp("tiles") / "tongzhou.mbtiles"
    res = CliRunner().invoke(
        cli,
        ["tiles", "--pack", "tongzhou", "--out", str(out), "--zoom", "9-11", "--store", str(store)],
    )
    assert res.exit_code == 0, res.output
    return out


def test_offline_mbtiles_basemap(browser, store, mbtiles) -> None:
    with _server(store, basemap=str(mbtiles)) as base:
        context, pg = _page(browser, base)
        pg.goto(base + "/check?lang=zh")
        pg.wait_for_selector("img.leaflet-tile-loaded")
        tiles = [u for u in pg.requests if "/tiles/" in u]
        assert tiles and all(u.startswith(base + "/tiles/") for u in tiles)
        assert "reference-map" not in pg.get_attribute("#map", "class")
        pg.wait_for_timeout(500)
        pg.screenshot(path=str(ARTIFACTS / "desk_offline_mbtiles.png"))
        _only_local(pg, base)
        context.close()


# ------------------------------------------------------------------- GCJ-02 tiles


@pytest.fixture(scope="module")
def gcj_package(well, tmp_path_factory) -> Path:
    """An AMap-like package: a dark dot drawn at the well's GCJ-02 position."""
    gx, gy = wgs84_to_gcj02(well.x, well.y)
    dot = gpd.GeoDataFrame(
        {"feature_id": ["w"], "name": ["井"]},
        geometry=[shapely.Point(float(gx), float(gy)).buffer(0.00012)],
        crs="EPSG:4326",
    )
    out = tmp_path_factory.mktemp("gcj") / "amap_like.mbtiles"
    return build_tiles(
        {"redline": dot},
        out,
        zooms=[15, 16],
        bounds=(float(gx) - 0.01, float(gy) - 0.01, float(gx) + 0.01, float(gy) + 0.01),
        coordinate_system="gcj02",
    )


def test_gcj02_basemap_lines_up(browser, store, well, gcj_package) -> None:
    with _server(store, basemap=str(gcj_package)) as base:
        context, pg = _page(browser, base)
        with pg.expect_response(lambda r: "/api/map/context" in r.url):
            pg.goto(base + "/check")
        pg.wait_for_selector("#map.leaflet-container")
        # the page's converter is Python's, to 1e-9°
        got = pg.evaluate("([x, y]) => ECZ_COORDS.wgs84ToGcj02(x, y)", [well.x, well.y])
        want = [float(v) for v in wgs84_to_gcj02(well.x, well.y)]
        assert abs(got[0] - want[0]) < 1e-9 and abs(got[1] - want[1]) < 1e-9
        back = pg.evaluate("([x, y]) => ECZ_COORDS.gcj02ToWgs84(x, y)", want)
        ref = [float(v) for v in gcj02_to_wgs84(*want)]
        assert abs(back[0] - ref[0]) < 1e-9 and abs(back[1] - ref[1]) < 1e-9
        # check a site at the well (WGS84): it is drawn where the AMap-like tiles show it
        pg.check("input[name=mode][value=paste]")
        pg.fill("#coord-text", f"{well.x},{well.y}")
        pg.click("#run-check")
        pg.wait_for_selector("#result:not([hidden])")
        pg.locator("#map").scroll_into_view_if_needed()
        # (a block: the map that setView returns would be serialised back, 35 s)
        pg.evaluate("(c) => { ECZ_PAGE_MAP.setView([c[1], c[0]], 16, {animate: false}); }", want)
        pg.wait_for_selector("img.leaflet-tile-loaded")
        pg.wait_for_timeout(800)
        site = pg.evaluate(
            """() => { var out = null;
                 ECZ_PAGE_MAP.eachLayer(l => {
                   if (l.getLatLng && l.options && l.options.radius === 9) {
                     var p = ECZ_PAGE_MAP.latLngToContainerPoint(l.getLatLng());
                     out = [p.x, p.y]; } });
                 return out; }"""
        )
        assert site is not None
        expected = pg.evaluate(
            _PIXEL_OF,
            want,
        )
        assert abs(site[0] - expected[0]) < 0.5 and abs(site[1] - expected[1]) < 0.5
        for pane in (".leaflet-overlay-pane", ".leaflet-marker-pane"):
            pg.evaluate("(s) => { document.querySelector(s).style.display = 'none'; }", pane)
        box = pg.locator("#map").bounding_box()
        shot = ARTIFACTS / "desk_gcj02_alignment.png"
        pg.screenshot(path=str(shot))
        from PIL import Image

        image = Image.open(shot).convert("L")
        assert image.getpixel((round(box["x"] + site[0]), round(box["y"] + site[1]))) < 160
        # ...whereas the unconverted WGS84 position is hundreds of metres off: background
        raw = pg.evaluate(
            _PIXEL_OF,
            [well.x, well.y],
        )
        assert np.hypot(raw[0] - site[0], raw[1] - site[1]) > 100  # pixels at zoom 16
        if 0 <= raw[0] < box["width"] and 0 <= raw[1] < box["height"]:
            assert image.getpixel((round(box["x"] + raw[0]), round(box["y"] + raw[1]))) > 200
        _only_local(pg, base)
        context.close()
