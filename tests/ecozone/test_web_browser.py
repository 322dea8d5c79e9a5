"""The pages in a real browser: headless Chromium (Debian ``chromium``) driven by Playwright.

The app runs with uvicorn on 127.0.0.1 over a temporary copy of the demo store.
The test uploads a site file, draws a polygon with the Leaflet.draw toolbar, reads
the verdict, downloads the DOCX report, opens the coverage page, and checks from
the browser's request log that nothing was requested outside 127.0.0.1.
Screenshots go to ``tests/artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from tests.ecozone._webdata import build_store, live_server
from zoning.report.browser import QUIET_FLAGS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = list(QUIET_FLAGS)
# Waits use locator assertions: ``page.wait_for_function`` polls by ``eval`` in the
# page, which the app's Content-Security-Policy (script-src 'self') rightly refuses.
WAIT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (scripts/system-deps.sh installs it)",
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from layers import embedded_dataset_path

    tmp = tmp_path_factory.mktemp("webbrowser")
    demo = embedded_dataset_path()
    if demo is None:  # a checkout without the built demo data: the hand-made layers
        return build_store(tmp / "store.gpkg")
    shutil.copyfile(demo, tmp / "store.gpkg")
    return tmp / "store.gpkg"


@pytest.fixture(scope="module")
def base(store):
    app = create_app(str(store), settings=WebSettings(threads=2, time_limit_s=120))
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, base):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)  # CI machines under load: waits are generous
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.errors = []  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("request", lambda req: pg.requests.append(req.url))
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))

    def on_dialog(d):
        pg.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    outside = [
        u
        for u in pg.requests
        if not (u.startswith(base + "/") or u.startswith(("data:", "blob:", "about:")))
    ]
    assert outside == [], f"requests outside {base}: {outside[:5]}"
    assert pg.errors == [], pg.errors
    assert pg.dialogs == [], "a script ran from user input"
    context.close()


def _redline_site(store: Path) -> dict:
    """A 60 m square around a point inside a red-line polygon of the store."""
    from layers import LayerStore

    with LayerStore(store) as s:
        red = s.get_kind("redline").gdf
    geom = red.geometry.iloc[0]
    p = geom.representative_point()
    d = 0.0003
    ring = [[p.x - d, p.y - d], [p.x + d, p.y - d], [p.x + d, p.y + d], [p.x - d, p.y + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_check_page_upload_draw_and_download(page, base, store, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with page.expect_response(lambda r: "/api/map/context" in r.url) as ctx:
        page.goto(base + "/check")
    assert ctx.value.status == 200
    page.wait_for_selector("#map.leaflet-container")
    page.wait_for_selector(".leaflet-draw-draw-polygon")

    # 1. upload a site file: a small polygon inside a red line
    site = _redline_site(store)
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": site, "properties": {"name": "地块"}}],
    }
    path = tmp_path / "site.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    page.check("input[name=mode][value=upload]")
    with page.expect_response(lambda r: r.url.endswith("/api/parse")) as parsed:
        page.set_input_files("#site-file", str(path))
    assert parsed.value.status == 200
    expect(page.locator("#site-status")).to_contain_text("site.geojson", timeout=WAIT_MS)
    page.fill("#p-name", "<script>alert(1)</script>")
    page.select_option("#p-type", "industrial")
    with page.expect_response(lambda r: "/api/check" in r.url) as checked:
        page.click("#run-check")
    assert checked.value.status == 200, checked.value.text()
    page.wait_for_selector("#result:not([hidden])")
    verdict = page.inner_text("#verdict")
    assert "不符合（禁止类）" in verdict  # the beijing pack prohibits building in a red line
    # the user's text is shown as text, never run
    assert page.inner_text("#result-project").endswith("<script>alert(1)</script>")
    assert page.locator("#findings li").count() >= 1
    # citations name the plan by its title and link to its text at the cited line
    assert "《北京市“十四五”时期生态环境保护规划》" in page.inner_text("#findings")
    assert page.locator('#findings a[href^="/sources/beijing-14th-eco-plan?line="]').count() >= 1
    assert page.locator("#map path.leaflet-interactive").count() > 0  # site and layers drawn
    page.screenshot(path=str(ARTIFACTS / "check_upload.png"), full_page=True)

    # 2. draw a polygon with the Leaflet.draw toolbar
    page.check("input[name=mode][value=draw]")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5
    page.click(".leaflet-draw-draw-polygon")
    pts = [(cx, cy), (cx + 120, cy), (cx + 120, cy + 90), (cx, cy + 90)]
    for x, y in pts:
        page.mouse.click(x, y)
        page.wait_for_timeout(150)
    page.mouse.click(*pts[0])  # clicking the first vertex closes the polygon
    expect(page.locator("#site-status")).to_contain_text("polygon", timeout=WAIT_MS)
    with page.expect_response(lambda r: "/api/check" in r.url) as checked:
        page.click("#run-check")
    assert checked.value.status == 200, checked.value.text()
    body = json.loads(checked.value.request.post_data)
    assert body["geometry"]["type"] == "Polygon"
    assert len(body["geometry"]["coordinates"][0]) == 5
    report = checked.value.json()
    expect(page.locator("#verdict")).to_have_class(
        re.compile(re.escape(report["verdict"]["code"])), timeout=WAIT_MS
    )
    page.screenshot(path=str(ARTIFACTS / "check_drawn.png"), full_page=True)

    # 3. download the DOCX report and open it
    import docx

    with page.expect_download() as dl:
        page.click("button.dl[data-format=docx]")
    out = tmp_path / "report.docx"
    dl.value.save_as(out)
    doc = docx.Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs)
    text += "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
    assert "三线一单" in text
    assert "<script>alert(1)</script>" in text


def test_english_and_batch(page, base, tmp_path):
    page.goto(base + "/check?lang=en")
    assert "Site check" in page.inner_text("header")
    page.click("#tab-batch")
    csv = tmp_path / "sites.csv"
    csv.write_text("name,lon,lat\n=1+1,116.70,39.90\nbad,x,39.9\n", encoding="utf-8")
    page.set_input_files("#batch-file", str(csv))
    with page.expect_response(lambda r: r.url.endswith("/api/check/batch")) as res:
        page.click("#run-batch")
    assert res.value.status == 200
    page.wait_for_selector("#batch-result:not([hidden])")
    assert page.locator("#batch-errors tbody tr").count() == 1
    # what every verdict rests on, in the page's language: demo layers, assumptions
    notes = page.locator("#batch-notes")
    expect(notes).to_contain_text("demonstration data (synthetic, not official)", timeout=WAIT_MS)
    expect(notes).to_contain_text("input coordinates taken as WGS84", timeout=WAIT_MS)
    # a note that asks for something says where this page takes it (no CLI option)
    expect(notes).to_contain_text(
        "(in the form above: “Coordinate system (upload/paste)”)", timeout=WAIT_MS
    )
    assert "--coords" not in notes.inner_text()
    with page.expect_download() as dl:
        page.click("#batch-download")
    out = tmp_path / "results.csv"
    dl.value.save_as(out)
    text = out.read_text(encoding="utf-8-sig")
    assert "'=1+1" in text
    page.screenshot(path=str(ARTIFACTS / "check_batch_en.png"), full_page=True)


def test_coverage_page(page, base):
    with page.expect_response(lambda r: "/api/coverage" in r.url, timeout=120_000) as res:
        page.goto(base + "/coverage")
    assert res.value.status == 200
    page.wait_for_selector("#metrics tbody tr", timeout=120_000)
    rows = page.locator("#metrics tbody tr")
    assert rows.count() >= 1
    assert "生态保护红线" in page.inner_text("#metrics")
    frame = page.frame_locator("#cov-map")
    frame.locator(".leaflet-container").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "coverage.png"), full_page=True)


def test_layers_page(page, base):
    page.goto(base + "/layers")
    assert page.locator("#layers tbody tr").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "layers.png"), full_page=True)
