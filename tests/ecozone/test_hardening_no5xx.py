"""Issue #13 §3: inputs that reached 500 with a traceback now get a 4xx that says why.

- a NUL (or other control character) in the project name of a report;
- a zipped shapefile whose ``.cpg`` holds a NUL (parse and import);
- an XLSX whose sheet XML has a DOCTYPE (entities, external entities);
- a layer with an unclosed ring (web import, CLI);
- the server's TMPDIR full (DOCX report; an upload answered "check its encoding").
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from tests.ecozone._webdata import at, build_store, live_server

TOKEN = "hardening-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("no5xx") / "store.gpkg")
    settings = WebSettings(api_token=f"tester:{TOKEN}", threads=2, processes=1)
    with live_server(create_app(str(store), settings=settings)) as url:
        yield url


def _point() -> dict:
    lon, lat = at(-3000, 3000)
    return {"type": "Point", "coordinates": [lon, lat]}


def _square() -> dict:
    lon, lat = at(-3000, 3000)
    return json.loads(shapely.to_geojson(shapely.box(lon, lat, lon + 0.002, lat + 0.002)))


def _auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ud800", "\uffff"])
@pytest.mark.parametrize("fmt", ["json", "html", "docx"])
def test_control_character_in_project_name(server, char, fmt):
    body = {"geometry": _point(), "project": {"name": f"项目{char}名称"}}
    data = json.dumps(body).encode()  # "\ud800" travels as the JSON escape \\ud800
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.post(
            "/api/check/report",
            params={"format": fmt},
            content=data,
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    assert "project.name" in msg
    if char != "\ud800":  # a lone surrogate is refused by the JSON decoding itself
        assert f"U+{ord(char):04X}" in msg


def test_tabs_and_newlines_in_names_are_fine(server):
    body = {"geometry": _square(), "project": {"name": "项目\t一期\n二期"}}
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.post("/api/check/report", params={"format": "docx"}, json=body)
    assert r.status_code == 200
    assert r.content[:2] == b"PK"


def _shapefile_zip(folder: Path, cpg: bytes) -> Path:
    gdf = gpd.GeoDataFrame(
        {"name": ["场址"]},
        geometry=[
            shapely.Polygon(shapely.get_coordinates(shapely.from_geojson(json.dumps(_square()))))
        ],
        crs="EPSG:4326",
    )
    gdf.to_file(folder / "s.shp", encoding="utf-8")
    (folder / "s.cpg").write_bytes(cpg)
    out = folder / "s.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            zf.write(folder / f"s.{ext}", f"s.{ext}")
    return out


def test_shapefile_cpg_with_nul(server, tmp_path):
    path = _shapefile_zip(tmp_path, b"UTF\x00-8\x00")
    with httpx.Client(base_url=server, timeout=60) as c:
        files = {"file": ("site.zip", path.read_bytes(), "application/zip")}
        r = c.post("/api/parse", files=files)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["features"] == 1
        files = {"file": ("site.zip", path.read_bytes(), "application/zip")}
        r = c.post(
            "/api/layers/park_cpg",
            files=files,
            data={"kind": "park", "source": "hardening test"},
            headers=_auth(),
        )
        assert r.status_code == 201, r.text[:300]


def _xlsx_with_doctype(folder: Path, name: str, doctype: bytes) -> Path:
    lon, lat = at(-3000, 3000)
    plain = folder / "source.xlsx"
    pd.DataFrame({"lon": [lon], "lat": [lat], "name": ["甲"]}).to_excel(plain, index=False)
    out = folder / f"{name}.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(".xml"):
                data = data.replace(b"?>", b"?>" + doctype, 1)
            dst.writestr(item, data)
    return out


DOCTYPES = {
    "plain": b"<!DOCTYPE worksheet>",
    "entities": b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    "external": b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
}


@pytest.mark.parametrize("name", list(DOCTYPES))
def test_xlsx_with_doctype(server, tmp_path, name):
    path = _xlsx_with_doctype(tmp_path, name, DOCTYPES[name])
    with httpx.Client(base_url=server, timeout=60) as c:
        for endpoint in ("/api/parse", "/api/check/batch"):
            files = {"file": ("sites.xlsx", path.read_bytes(), "application/octet-stream")}
            r = c.post(endpoint, files=files)
            assert r.status_code < 500, (endpoint, r.text[:300])
            assert "root:" not in r.text  # no external entity was resolved
            if r.status_code >= 400:
                assert r.json()["error"]["message"]


def _open_ring_geojson(path: Path) -> Path:
    lon, lat = at(-3000, 3000)
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "未闭合"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def test_unclosed_ring_web_import_and_parse(server, tmp_path):
    path = _open_ring_geojson(tmp_path / "open.geojson")
    with httpx.Client(base_url=server, timeout=60) as c:
        files = {"file": ("open.geojson", path.read_bytes(), "application/geo+json")}
        r = c.post("/api/parse", files=files)
        assert r.status_code == 200, r.text[:300]
        assert any("unclosed" in n for n in r.json()["notes"])
        files = {"file": ("open.geojson", path.read_bytes(), "application/geo+json")}
        r = c.post(
            "/api/layers/park_open",
            files=files,
            data={"kind": "park", "source": "hardening test"},
            headers=_auth(),
        )
        assert r.status_code == 201, r.text[:300]


def test_unclosed_ring_cli_import(tmp_path):
    from ecozone.cli.main import cli

    store = build_store(tmp_path / "store.gpkg")
    path = _open_ring_geojson(tmp_path / "open.geojson")
    res = CliRunner().invoke(
        cli,
        ["layers", "import", str(path), "--name", "park_open", "--kind", "park",
         "--source", "test", "--store", str(store)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output


# ----------------------------------------------------------------- full TMPDIR


@pytest.fixture()
def tiny_tmp(tmp_path):
    """A 2 MB tmpfs as the process's temporary folder (root only)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")
    old = tempfile.tempdir
    tempfile.tempdir = str(mnt)
    try:
        yield mnt
    finally:
        tempfile.tempdir = old
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_tmpdir_answers_413_with_the_free_space(tiny_tmp, tmp_path):
    store = build_store(tmp_path / "store.gpkg")
    settings = WebSettings(threads=2, processes=1)
    with live_server(create_app(str(store), settings=settings)) as url:
        # leave about 40 KB free
        (tiny_tmp / "filler").write_bytes(b"\0" * (2 * 2**20 - 40 * 1024))
        big = b'{"type":"FeatureCollection","features":[]}' + b" " * (3 * 2**20)
        with httpx.Client(base_url=url, timeout=60) as c:
            r = c.post("/api/parse", files={"file": ("big.geojson", big, "application/json")})
            assert r.status_code == 413, r.text[:300]
            msg = r.json()["error"]["message"]
            assert "MB free" in msg and "encoding" not in msg
            body = {"geometry": _square(), "project": {"name": "满盘"}}
            r = c.post("/api/check/report", params={"format": "docx"}, json=body)
            assert r.status_code == 413, r.text[:300]
            assert "MB free" in r.json()["error"]["message"]
