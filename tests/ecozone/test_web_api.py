"""The REST API and pages of ecozone.web, served by uvicorn on 127.0.0.1.

Expected verdicts come from the beijing rule pack's rules and the hand-made layers
of ``_webdata`` (positions placed with pyproj.Geod), not from the app's output.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import zipfile

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, mapping

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from geo.chinacoords import wgs84_to_gcj02
from tests.ecozone._webdata import (
    BEIJING,
    C_LAT,
    C_LON,
    REDLINE,
    REDLINE_2,
    SOURCE_CENTRE,
    area_m2,
    at,
    build_store,
    live_server,
    make_layers,
    rect,
)

TOKEN = "alice:correct-horse-battery-staple"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("webapi") / "store.gpkg")


@pytest.fixture(scope="module")
def base(store_path):
    settings = WebSettings(api_token=TOKEN, max_vertices=5000, threads=2)
    with live_server(create_app(str(store_path), settings=settings)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base):
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


def check(client, **body):
    r = client.post("/api/check", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def rule_ids(report):
    return {f["rule_id"] for f in report["findings"]}


# --------------------------------------------------------------------------- info


def test_health_packs_and_openapi(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["layers"] == len(make_layers())
    packs = {p["name"]: p for p in client.get("/api/packs").json()}
    assert {"beijing", "tongzhou", "daxing"} <= set(packs)
    assert packs["beijing"]["default"] is True
    spec = client.get("/openapi.json").json()
    for path, method in [
        ("/api/check", "post"),
        ("/api/check/batch", "post"),
        ("/api/layers", "get"),
        ("/api/layers/{name}/history", "get"),
        ("/api/coverage", "get"),
        ("/api/layers/{name}", "post"),
    ]:
        assert method in spec["paths"][path], path
    # the offline API page lists them; Swagger UI (CDN scripts) is not served
    page = client.get("/api").text
    assert "/api/check/batch" in page
    assert client.get("/docs").status_code == 404


def test_layers_and_history(client):
    layers = {x["name"]: x for x in client.get("/api/layers").json()}
    assert layers["redline"]["kind"] == "redline"
    assert layers["redline"]["row_count"] == 2
    assert layers["redline"]["synthetic"] is True
    assert len(layers["redline"]["checksum"]) == 64
    hist = client.get("/api/layers/redline/history").json()
    assert [h["version"] for h in hist] == [1]
    r = client.get("/api/layers/nosuchlayer/history")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------- checks


def test_point_inside_red_line_is_prohibited(client):
    lon, lat = at(1500, 1500)
    rep = check(client, pack="beijing", coordinates=f"{lon},{lat}")
    assert rep["verdict"]["code"] == "prohibited"
    assert "redline.inside" in rep["verdict"]["deciding_rules"]
    f = next(f for f in rep["findings"] if f["rule_id"] == "redline.inside")
    assert f["feature_ids"] == ["RL-1"]
    # the citation names the plan by its title; the seed file and line stay in `sources`
    assert any(c.startswith("《北京市“十四五”时期生态环境保护规划》") for c in f["citations"])
    assert any(s["source"] == "001_1c6d450321da7557.txt" and s["line"] for s in f["sources"])
    assert rep["schema"] == "ecozone.report/1"
    assert rep["stamp"]["pack"]["name"] == "beijing"
    assert rep["stamp"]["layers"]["redline"]["version"] == 1


def test_temporary_land_use_makes_it_restricted(client):
    lon, lat = at(1500, 1500)
    rep = check(
        client, coordinates=f"{lon},{lat}", project={"temporary_land_use": True, "name": "临时"}
    )
    assert rep["verdict"]["code"] == "restricted"
    assert "redline.temporary" in rule_ids(rep)
    assert "redline.inside" not in rule_ids(rep)


def test_point_away_from_everything_gets_the_access_list(client):
    lon, lat = at(6000, -4000)
    rep = check(client, geometry={"type": "Point", "coordinates": [lon, lat]})
    # the unit's entry "禁止新建高污染项目" has no condition a machine can check: a person
    # must judge it, so the site is 需人工核实, never 符合 (#11 §2)
    assert rep["verdict"]["code"] == "needs_review"
    assert rule_ids(rep) >= {"control_unit.access"}
    assert not rule_ids(rep) & {"redline.inside", "well.30m.polluting", "water_source.grade1"}
    dist = {r["kind"]: r["distance_m"] for r in rep["relations"] if r["distance_m"] is not None}
    # nearest red line corner is (2000, 1000) m from the centre; the site is at (6000, -4000)
    expected = ((6000 - 2000) ** 2 + (4000 + 1000) ** 2) ** 0.5
    assert dist["redline"] == pytest.approx(expected, rel=0.01)


def test_point_checks_run_without_a_thread_once_the_checker_is_built(store_path):
    """The first point check builds the checker in a thread; later ones run in the loop.

    Both paths give the same report, and the in-loop path keeps the notes of the
    parse (a latitude-first point is swapped and says so).
    """
    import threading

    # (another pack preselected: the server builds that one as it starts, not beijing)
    app = create_app(str(store_path), settings=WebSettings(threads=2, default_pack="tongzhou"))
    packs = app.state.packs
    built_in: list[int] = []
    real_get = packs.get

    def get(name):
        if name == "beijing":
            built_in.append(threading.get_ident())
        return real_get(name)

    packs.get = get
    lon, lat = at(6000, -4000)
    body = {"pack": "beijing", "coordinates": f"{lat},{lon}"}  # latitude first
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        assert packs.ready("beijing") is None
        first = c.post("/api/check", json=body).json()
        assert len(built_in) == 1  # in a pool thread: the loop never builds a checker
        assert packs.ready("beijing") is not None
        second = c.post("/api/check", json=body).json()
        assert len(built_in) == 1  # the built checker, taken without waiting
    for rep in (first, second):
        rep["stamp"].pop("checked_at")
        rep.pop("generated_at")
    assert first == second
    assert any("latitude first" in n for n in second["notes"])
    assert second["site"]["geometry"]["coordinates"] == pytest.approx([lon, lat])


def test_points_sent_together_are_checked_in_one_pass_each_as_alone(store_path):
    """Concurrent point checks share engine passes; each answer is its own check's."""
    import asyncio

    app = create_app(str(store_path), settings=WebSettings(threads=2))
    offsets = [(1500, 1500), (6000, -4000), (2500, 900), (-300, 700), (40, 25), (0, 0)] * 4
    types = ["construction", "industrial", None, "residential"]
    bodies = [
        {"pack": "beijing", "coordinates": "{},{}".format(*at(e, n)),
         "project": {"project_type": types[i % len(types)], "name": f"p{i}"}}
        for i, (e, n) in enumerate(offsets)
    ]  # fmt: skip

    async def together(url: str) -> list[dict]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as ac:
            answers = await asyncio.gather(*(ac.post("/api/check", json=b) for b in bodies))
        assert all(r.status_code == 200 for r in answers)
        return [r.json() for r in answers]

    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        c.post("/api/check", json=bodies[0])  # builds the checker
        batcher = app.state.batcher
        before = (batcher.passes, batcher.points)
        reports = asyncio.run(together(url))
        passes, points = batcher.passes - before[0], batcher.points - before[1]
        alone = [c.post("/api/check", json=b).json() for b in bodies]  # one at a time
    assert points == len(bodies)
    assert passes < points  # requests that came in together shared a pass
    for a, b in zip(reports, alone, strict=True):
        for rep in (a, b):
            rep.pop("generated_at")
            rep["stamp"].pop("checked_at")
        assert a == b  # stamp (input checksum of this site only) included
    assert {r["verdict"]["code"] for r in reports} >= {"prohibited", "needs_review"}


@pytest.mark.parametrize(
    ("body", "single"),
    [
        ({"geometry": {"type": "Point", "coordinates": [116.4, 39.9]}}, True),
        ({"geometry": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}},
         True),
        ({"geometry": {"type": "MultiPoint", "coordinates": [[116.4, 39.9]]}}, False),
        ({"geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}, False),
        ({"coordinates": "116.40,39.91"}, True),
        ({"coordinates": "POINT (116.40 39.91)"}, True),
        ({"coordinates": "116.40,39.91;116.41,39.92"}, False),
        ({"coordinates": "1" * 300}, False),  # long text: parsed in a thread
    ],
)  # fmt: skip
def test_is_single_point(body, single):
    from ecozone.web.checks import is_single_point
    from ecozone.web.schemas import CheckRequest

    assert is_single_point(CheckRequest(**body)) is single


def test_polygon_overlap_is_measured(client):
    # 600 × 400 m; its western 100 m strip lies inside the red line square (x 1000–2000)
    site = rect(1900, 1200, 2500, 1600)
    rep = check(client, geometry=mapping(site), project={"project_type": "industrial"})
    assert rep["verdict"]["code"] == "prohibited"
    f = next(f for f in rep["findings"] if f["rule_id"] == "redline.inside")
    inside = area_m2(site.intersection(REDLINE))
    assert f["overlap_m2"] == pytest.approx(inside, rel=0.01)
    assert f["overlap_pct"] == pytest.approx(100 * inside / area_m2(site), rel=0.01)
    assert "industry.catalogue" in rule_ids(rep)  # industrial projects in Beijing


def test_well_30m_rule_depends_on_flags(client):
    lon, lat = at(0, -2010)  # 10 m north of the well
    plain = check(client, coordinates=f"{lon},{lat}")
    assert "well.30m.requirement" in rule_ids(plain)
    polluting = check(client, coordinates=f"{lon},{lat}", project={"flags": ["sewage"]})
    assert polluting["verdict"]["code"] == "prohibited"
    assert "well.30m.polluting" in rule_ids(polluting)


def test_grade1_source_zone_allows_water_supply(client):
    lon, lat = SOURCE_CENTRE
    assert check(client, coordinates=f"{lon},{lat}")["verdict"]["code"] == "prohibited"
    rep = check(client, coordinates=f"{lon},{lat}", project={"water_supply": True})
    assert "water_source.grade1.supply" in rule_ids(rep)
    assert rep["verdict"]["code"] != "prohibited"


def test_gcj02_input_is_converted(client):
    lon, lat = at(1950, 1500)  # 50 m inside the red line's eastern edge
    glon, glat = wgs84_to_gcj02(lon, lat)
    # GCJ-02 is offset hundreds of metres: read as WGS84 the site falls outside
    wrong = check(client, coordinates=f"{glon},{glat}", coords="wgs84")
    assert wrong["verdict"]["code"] != "prohibited"
    right = check(client, coordinates=f"{glon},{glat}", coords="gcj02")
    assert right["verdict"]["code"] == "prohibited"
    assert right["site"]["centroid_lonlat"] == pytest.approx([lon, lat], abs=1e-6)


@pytest.mark.parametrize(
    ("epsg", "swap"),
    [(4548, False), (4527, False), (4527, True)],
    ids=["gk-plain", "gk-prefixed", "gk-northing-first"],
)
def test_gauss_krueger_input(client, epsg, swap):
    lon, lat = at(1500, 1500)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    text = f"{y:.3f},{x:.3f}" if swap else f"{x:.3f},{y:.3f}"
    rep = check(client, coordinates=text, coords="gk", gk_zone=39)
    assert rep["verdict"]["code"] == "prohibited"
    assert rep["site"]["centroid_lonlat"] == pytest.approx([lon, lat], abs=1e-6)


def test_include_map_returns_nearby_features(client):
    lon, lat = at(1500, 1500)
    rep = client.post(
        "/api/check?include_map=true", json={"coordinates": f"{lon},{lat}", "lang": "en"}
    ).json()
    m = rep["map"]
    assert m["site"]["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    kinds = {layer["kind"]: layer for layer in m["layers"]}
    red = kinds["redline"]["features"]["features"]
    assert [f["properties"]["feature_id"] for f in red] == ["RL-1"]  # RL-2 is 5 km west
    assert red[0]["properties"]["hit"] is True
    assert kinds["redline"]["style"]["label"] == "Ecological protection red line"
    w, s, e, n = m["window"]
    assert w < lon < e and s < lat < n


def test_check_errors_are_4xx_json(client):
    cases = [
        ({}, "no_site"),
        (
            {"coordinates": "116.7,39.9", "geometry": {"type": "Point", "coordinates": [1, 2]}},
            "no_site",
        ),
        ({"coordinates": "not coordinates"}, "input_format"),
        ({"coordinates": "500000,4400000"}, "crs"),
        ({"coordinates": "450000,4400000", "coords": "gk"}, "gk_zone_missing"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0]]]}}, "input_format"),
        ({"geometry": {"type": "GeometryCollection", "geometries": []}}, "geometry"),
        ({"coordinates": "116.7,39.9", "pack": "../../etc/passwd"}, "unknown_pack"),
        ({"coordinates": "116.7,39.9", "project": {"industry_code": "??"}}, "input_format"),
        # division 26 is C's (C2614): no code of section A, and refused as the CLI refuses it
        ({"coordinates": "116.7,39.9", "project": {"industry_code": "A2614"}}, "input_format"),
        ({"coordinates": "116.7,39.9", "project": {"flags": ["dancing"]}}, "invalid_request"),
        ({"coordinates": "116.7,39.9", "surprise": 1}, "invalid_request"),
    ]
    for body, code in cases:
        r = client.post("/api/check", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == code, (body, err)
        assert err["message"] and "Traceback" not in err["message"]
    r = client.post(
        "/api/check", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_vertex_limit(client):
    ring = shapely.Point(at(8000, 8000)).buffer(0.01, quad_segs=2000)  # > 5000 vertices
    assert shapely.get_num_coordinates(ring) > 5000
    r = client.post("/api/check", json={"geometry": mapping(ring)})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "too_many_vertices"
    text = ";".join(f"{C_LON + i * 1e-6},{C_LAT}" for i in range(6000))
    r = client.post("/api/check", json={"coordinates": text})
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_vertices"


# --------------------------------------------------------------------------- reports


@pytest.fixture(scope="module")
def report_body():
    lon, lat = at(1500, 1500)
    return {
        "coordinates": f"{lon},{lat}",
        "project": {"name": "<script>alert(1)</script>", "project_type": "industrial"},
    }


def test_report_html_escapes_user_text(client, report_body):
    r = client.post("/api/check/report?format=html", json=report_body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "attachment" in r.headers["content-disposition"]
    html = r.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "不符合（禁止类）" in html
    assert "data:image/png;base64," in html  # the site map is embedded
    assert not re.search(r"""(src|href)=["']?https?://""", html)


def test_report_docx_opens(client, report_body):
    import docx

    r = client.post("/api/check/report?format=docx", json=report_body)
    assert r.status_code == 200
    doc = docx.Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    text += "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
    assert "<script>alert(1)</script>" in text  # plain text in Word, not markup
    assert "生态保护红线" in text


def test_report_json_matches_check(client, report_body):
    rep = client.post("/api/check/report?format=json", json=report_body).json()
    assert rep["verdict"]["code"] == "prohibited"
    assert rep["project"]["name"] == "<script>alert(1)</script>"


@pytest.mark.slow
def test_report_pdf(client, report_body):
    from zoning.report.build import find_pdf_engine

    if find_pdf_engine() is None:
        pytest.skip("no PDF engine (Debian chromium) installed")
    r = client.post("/api/check/report?format=pdf", json=report_body)
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF")


# --------------------------------------------------------------------------- uploads


def _parse(client, name, data, **form):
    return client.post("/api/parse", files={"file": (name, data)}, data=form)


def test_parse_geojson_csv_kml_and_zip(client, tmp_path):
    site = rect(1200, 1200, 1400, 1400)
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": mapping(site), "properties": {"n": 1}}],
    }
    r = _parse(client, "site.geojson", json.dumps(fc).encode())
    assert r.status_code == 200, r.text
    got = shapely.geometry.shape(r.json()["geometry"])
    assert got.equals_exact(site, 1e-7)

    lon, lat = at(1500, 1500)
    csv = f"name,lon,lat\nA,{lon},{lat}\n".encode()
    r = _parse(client, "points.csv", csv)
    assert r.status_code == 200, r.text
    assert r.json()["geometry"]["coordinates"] == pytest.approx([lon, lat])

    # zipped shapefile, and the same zip renamed: the content decides, not the name
    gdf = gpd.GeoDataFrame({"name": ["地块"]}, geometry=[site], crs="EPSG:4326")
    shp = tmp_path / "site.shp"
    gdf.to_file(shp, engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in tmp_path.glob("site.*"):
            zf.write(p, p.name)
    for name in ("site.zip", "renamed.txt"):
        r = _parse(client, name, buf.getvalue())
        assert r.status_code == 200, r.text
        got = shapely.normalize(shapely.geometry.shape(r.json()["geometry"]))
        assert got.equals_exact(shapely.normalize(site), 1e-7)  # shapefiles turn rings

    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>p</name>
<Point><coordinates>{lon},{lat}</coordinates></Point></Placemark></Document></kml>"""
    r = _parse(client, "p.kml", kml.encode())
    assert r.status_code == 200, r.text
    assert r.json()["geometry"]["coordinates"] == pytest.approx([lon, lat])


def test_parse_xlsx_gcj02(client):
    lon, lat = at(1500, 1500)
    glon, glat = wgs84_to_gcj02(lon, lat)
    buf = io.BytesIO()
    pd.DataFrame({"名称": ["甲"], "经度": [glon], "纬度": [glat]}).to_excel(buf, index=False)
    r = _parse(client, "sites.xlsx", buf.getvalue(), coords="gcj02")
    assert r.status_code == 200, r.text
    assert r.json()["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)


def test_parse_boundary_point_table(client):
    # 界址点 table: X = northing, Y = easting with zone prefix 39 (EPSG:4527)
    t = Transformer.from_crs(4326, 4527, always_xy=True)
    corners = list(REDLINE.exterior.coords)[:-1]
    rows = ["点号,X坐标,Y坐标"]
    for i, (lo, la) in enumerate(corners, start=1):
        e, n = t.transform(lo, la)
        rows.append(f"J{i},{n:.3f},{e:.3f}")
    r = _parse(client, "界址点.csv", "\n".join(rows).encode("utf-8"), coords="gk", gk_zone="39")
    assert r.status_code == 200, r.text
    got = shapely.geometry.shape(r.json()["geometry"])
    assert got.geom_type == "Polygon"
    assert area_m2(got) == pytest.approx(area_m2(REDLINE), rel=1e-4)


def test_parse_dxf_gauss_krueger(client, tmp_path):
    import ezdxf

    t = Transformer.from_crs(4326, 4548, always_xy=True)
    pts = [t.transform(*c) for c in list(REDLINE_2.exterior.coords)[:-1]]
    doc = ezdxf.new()
    doc.modelspace().add_lwpolyline(pts, close=True)
    path = tmp_path / "site.dxf"
    doc.saveas(path)
    r = _parse(client, "site.dxf", path.read_bytes(), coords="gk", gk_zone="39")
    assert r.status_code == 200, r.text
    got = shapely.geometry.shape(r.json()["geometry"])
    assert area_m2(got) == pytest.approx(area_m2(REDLINE_2), rel=1e-3)


# --------------------------------------------------------------------------- batch


def _batch_csv():
    inside = at(1500, 1500)
    away = at(8000, -8000)
    return (
        "site_id,name,lon,lat,项目类型\n"
        f'S1,=HYPERLINK("http://evil"),{inside[0]},{inside[1]},工业\n'
        f"S2,-12.5,{away[0]},{away[1]},\n"
        "S3,bad row,not-a-number,39.9,\n"
        f"S4,@SUM(A1),{away[0]},{away[1]},火箭\n"
    ).encode()


def test_batch_csv_results_and_errors(client):
    r = client.post(
        "/api/check/batch", files={"file": ("sites.csv", _batch_csv())}, data={"pack": "beijing"}
    )
    assert r.status_code == 200, r.text
    res = r.json()
    s = res["summary"]
    assert s["total"] == 4 and s["checked"] == 2 and s["errors"] == 2
    reasons = {str(e["source_row"]): e["reason"] for e in res["errors"]}
    assert set(reasons) == {"4", "5"}  # CSV lines (header = line 1)
    out = base64.b64decode(res["results"]["content_base64"]).decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    by_id = table.set_index("site_id")
    assert by_id.loc["S1", "verdict"] == "prohibited"
    assert by_id.loc["S2", "verdict"] == "needs_review"  # an unjudgeable access-list entry
    # spreadsheet formulas are neutralised, plain numbers kept
    assert by_id.loc["S1", "name"] == '\'=HYPERLINK("http://evil")'
    assert by_id.loc["S2", "name"] == "-12.5"
    assert not any(v.startswith(("=", "+", "@")) for v in table.to_numpy().ravel())


def test_batch_gpkg_and_zip(client, tmp_path):
    r = client.post(
        "/api/check/batch", files={"file": ("sites.csv", _batch_csv())}, data={"format": "gpkg"}
    )
    assert r.status_code == 200, r.text
    path = tmp_path / "out.gpkg"
    path.write_bytes(base64.b64decode(r.json()["results"]["content_base64"]))
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert "layer_styles" in layers  # QGIS opens it with ecozone's verdict colours
    gdf = gpd.read_file(path, layer=next(n for n in layers if n != "layer_styles"))
    assert sorted(gdf["site_id"]) == ["S1", "S2"]
    assert gdf.crs.to_epsg() == 4326
    r = client.post(
        "/api/check/batch", files={"file": ("sites.csv", _batch_csv())}, data={"output": "zip"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert sorted(zf.namelist()) == ["errors.csv", "results.csv", "summary.json"]
        errors = zf.read("errors.csv").decode("utf-8-sig")
        assert "reason" in errors.splitlines()[0]


def test_batch_xlsx_workbook(client, tmp_path):
    import openpyxl

    r = client.post(
        "/api/check/batch", files={"file": ("sites.csv", _batch_csv())}, data={"format": "xlsx"}
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["results"]["filename"] == "results.xlsx"
    assert res["results"]["media_type"].endswith("spreadsheetml.sheet")
    path = tmp_path / "results.xlsx"
    path.write_bytes(base64.b64decode(res["results"]["content_base64"]))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["场地结论", "触发规则", "错误"]
    sites = wb["场地结论"]
    header = [c.value for c in sites[1]]
    ids = [row[header.index("场地编号")] for row in sites.iter_rows(min_row=2, values_only=True)]
    assert sorted(ids) == ["S1", "S2"]
    errors = list(wb["错误"].iter_rows(min_row=2, values_only=True))
    assert sorted(str(e[0]) for e in errors) == ["4", "5"]


# --------------------------------------------------------------------------- coverage


def test_coverage_metrics(client):
    res = client.get("/api/coverage", params={"pack": "beijing"}).json()
    m = {x["metric"]: x for x in res["metrics"]}
    red = m["redline_share"]
    expected = 100 * (area_m2(REDLINE) + area_m2(REDLINE_2)) / area_m2(BEIJING)
    assert red["value"] == pytest.approx(expected, rel=0.005)
    assert red["target"] == pytest.approx(26.1)
    assert red["met"] is False
    assert red["gap_pp"] == pytest.approx(26.1 - expected, rel=0.005)
    assert red["citation"]
    names = {d["name"] for d in red["by_district"]}
    assert names == {"通州区", "朝阳区"}
    # judged at its own scope; districts are contributions, never judged
    assert red["status"] == "unmet" and red["status_zh"] == "未达标"
    assert {d["status"] for d in red["by_district"]} == {"contribution"}
    assert all("met" not in d for d in red["by_district"])
    eco = m["eco_control_share"]
    assert eco["binding"] is False and eco["nature_zh"] == "力争（预期性）"
    assert red["citation_text"].startswith("《")
    assert m["forest_share"]["measured"] is False and m["forest_share"]["reason"]
    r = client.get("/api/coverage", params={"pack": "nowhere"})
    assert r.status_code == 422


def test_coverage_map_is_offline(client):
    r = client.get("/coverage/map", params={"pack": "beijing"})
    assert r.status_code == 200
    assert "L.map" in r.text or "leaflet" in r.text.lower()
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?://""", r.text)


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("path", ["/check", "/coverage", "/layers", "/api"])
def test_pages_are_self_contained(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp


def test_language_switch(client):
    zh = client.get("/check").text
    assert "场址检查" in zh and "检查" in zh
    r = client.get("/check", params={"lang": "en"})
    assert "Site check" in r.text and "Project attributes" in r.text
    assert r.cookies.get("ecozone_lang") == "en"
    again = client.get("/coverage", cookies={"ecozone_lang": "en"})
    assert "Plan targets and coverage" in again.text
    assert client.get("/", follow_redirects=False).status_code == 307


def test_static_assets_served(client):
    for path in (
        "/static/maps/leaflet/leaflet.js",
        "/static/maps/leaflet-draw/leaflet.draw.js",
        "/static/maps/leaflet/leaflet.css",
        "/static/app/check.js",
        "/static/app/app.css",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert len(r.content) > 100


# --------------------------------------------------------------------------- import


def test_import_new_version_is_used_by_checks(client, store_path):
    lon, lat = at(8000, -8000)
    before = check(client, coordinates=f"{lon},{lat}")
    assert "redline.inside" not in rule_ids(before)
    new = gpd.GeoDataFrame(
        {"feature_id": ["RL-9"], "name": ["新红线"]},
        geometry=[Point(lon, lat).buffer(0.001)],
        crs="EPSG:4326",
    )
    body = new.to_json().encode()
    r = client.post(
        "/api/layers/redline",
        files={"file": ("redline_v2.geojson", body)},
        data={"kind": "redline", "source": "京政发〔2024〕1号", "source_date": "2024-06-30"},
        headers={"Authorization": f"Bearer {TOKEN.split(':', 1)[1]}"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["layer"]["version"] == 2
    hist = client.get("/api/layers/redline/history").json()
    assert [h["version"] for h in hist] == [1, 2]
    assert hist[1]["source"] == "京政发〔2024〕1号"
    after = check(client, coordinates=f"{lon},{lat}")
    assert after["verdict"]["code"] == "prohibited"
    assert after["stamp"]["layers"]["redline"]["version"] == 2
    log = client.get("/api/audit").json()
    assert log[0]["who"] == "alice" and log[0]["outcome"] == "ok" and log[0]["version"] == 2
    assert log[0]["file"] == "redline_v2.geojson"
    assert "alice" in client.get("/layers").text
    audit_file = store_path.with_name(store_path.name + ".audit.jsonl")
    assert json.loads(audit_file.read_text().splitlines()[-1])["layer"] == "redline"


def test_serve_command_validates_options():
    from click.testing import CliRunner

    from ecozone.cli.serve import serve

    runner = CliRunner()
    r = runner.invoke(serve, ["--help"])
    assert r.exit_code == 0 and "--max-upload-mb" in r.output and "ECOZONE_API_TOKEN" in r.output
    r = runner.invoke(serve, ["--basemap", "javascript:alert(1)"])
    assert r.exit_code == 1 and "basemap" in r.output
    r = runner.invoke(serve, ["--port", "70000"])
    assert r.exit_code == 1 and "port" in r.output


def test_screening_radii_in_the_answer(client):
    lon, lat = at(0, -1950)  # 50 m north of the well W-1
    rep = check(client, geometry={"type": "Point", "coordinates": [lon, lat]}, radii=[100, 3000])
    rows = rep["screening"]
    well = next(r for r in rows if r["feature_id"] == "W-1")
    assert well["radius_m"] == 100 and well["direction_zh"] == "南"
    assert well["distance_m"] == pytest.approx(50.0, abs=0.5)
    assert all(r["distance_m"] <= 3000 for r in rows)
    # no radii: no screening (the point fast path stays lean)
    assert "screening" not in check(client, geometry={"type": "Point", "coordinates": [lon, lat]})
    bad = client.post("/api/check", json={"coordinates": f"{lon},{lat}", "radii": [0]})
    assert bad.status_code == 422


def test_reference_layer_on_the_map_without_a_basemap(tmp_path):
    """Roads a bureau imports (kind `reference`) are drawn on the page's reference map."""
    from layers import LayerStore
    from tests.ecozone._webdata import at

    path = build_store(tmp_path / "store.gpkg")
    road = gpd.GeoDataFrame(
        {"feature_id": ["G1"], "name": ["京哈高速"]},
        geometry=[shapely.LineString([at(-5000, 0), at(5000, 0)])],
        crs="EPSG:4326",
    )
    with LayerStore(path) as st:
        st.import_layer(road, name="roads", kind="reference", source="测试道路")
    app = create_app(str(path), settings=WebSettings(processes=0))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        ctx = c.get("/api/map/context", params={"pack": "beijing"}).json()
    kinds = [item["kind"] for item in ctx["layers"]]
    assert kinds[0] == "reference"  # drawn first, under everything
    names = [f["properties"]["name"] for f in ctx["layers"][0]["features"]["features"]]
    assert names == ["京哈高速"]


def test_map_legend_uses_the_packs_zone_names(client):
    """A zone kind is called what the pack calls it ([zones.KIND] name), not the registry label."""
    from layers.kinds import KINDS
    from zoning.pack import load_pack

    pack = load_pack("tongzhou")
    lon, lat = at(-6000, 5000)  # inside the key area and next to the strict-control zone
    rep = client.post(
        "/api/check?include_map=true",
        json={"coordinates": f"{lon},{lat}", "pack": "tongzhou", "lang": "zh"},
    ).json()
    labels = {layer["kind"]: layer["style"]["label"] for layer in rep["map"]["layers"]}
    assert labels["key_area"] == pack.zones["key_area"].name
    assert labels["strict_zone"] == pack.zones["strict_zone"].name
    others = set(labels) - {"key_area", "strict_zone"}
    assert others  # e.g. the boundary: registry labels
    for kind in others:
        assert labels[kind] == pack.kind_label(kind) == KINDS[kind].label_zh, kind


def test_map_context_shows_the_jurisdiction_once_with_its_districts(client):
    """The context map's boundary: the pack's own area once, then its districts (not again)."""
    for name in ("beijing", "tongzhou"):
        ctx = client.get("/api/map/context", params={"pack": name}).json()
        layer = next(x for x in ctx["layers"] if x["kind"] == "boundary")
        ids = [f["properties"]["feature_id"] for f in layer["features"]["features"]]
        assert ids and len(ids) == len(set(ids))  # no boundary feature drawn twice


def test_the_server_prepares_before_the_first_request(store_path):
    """At start: the worker processes and the default pack's checker, no request needed (#16)."""
    import time

    app = create_app(str(store_path), settings=WebSettings(processes=1, default_pack="beijing"))
    pool, packs = app.state.heavy, app.state.packs
    assert pool.pids() == [] and packs.ready("beijing") is None  # nothing before the start
    with live_server(app):
        deadline = time.monotonic() + 60
        while not (pool.pids() and packs.ready("beijing")) and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = pool.pids()
        assert len(workers) == 1 and packs.ready("beijing") is not None
    time.sleep(0.5)
    for pid in workers:  # stopped with the server
        status = f"/proc/{pid}/status"
        assert not os.path.exists(status) or "zombie" in open(status).read()


def test_batch_json_answer_refuses_results_too_large_to_carry(store_path, tmp_path, monkeypatch):
    # a 302 MB results CSV (the largest upload's) in base64 passed a worker's memory and
    # was answered 413 "needs more memory"; now the answer says what to ask for
    from ecozone.web import batch as web_batch
    from ecozone.web.checks import PackCache
    from ecozone.web.errors import ApiError
    from layers import open_store

    src = tmp_path / "sites.csv"
    src.write_bytes(_batch_csv())
    monkeypatch.setattr(web_batch, "JSON_RESULTS_MB", 1e-4)  # about 100 bytes
    with open_store(store_path) as store:
        entry = PackCache(store).get("beijing")
        with pytest.raises(ApiError) as err:
            web_batch.run_batch_file(entry, src, tmp_path / "a", fmt="csv", read_options={},
                                     label="sites.csv", output="json")  # fmt: skip
        assert err.value.status == 413 and err.value.code == "too_large"
        assert "output=zip" in err.value.message and "sites.csv" in err.value.message
        answer, name = web_batch.run_batch_file(
            entry, src, tmp_path / "b", fmt="csv", read_options={}, label="sites.csv",
            output="zip",
        )  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(answer)) as zf:
        assert "site_id" in zf.read(name).decode("utf-8-sig").splitlines()[0]
