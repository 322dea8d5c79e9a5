"""Issue #13 §8: audit and identity, disclosure, and input the app used to get wrong.

- every import attempt with a valid token is audited whatever its outcome (400 too
  many files or fields, 413 too large, refused input), under the token's name;
- tokens have names (``ECOZONE_API_TOKENS="name:token,..."``; the single-token
  variable still works) and the audit never shows a value derived from a token;
- no server path in any answer (``/api/parse`` notes and issues);
- a valid KML with more than 2 KB before ``<kml`` is read;
- an empty FeatureCollection is an error (4xx, CLI exit 1);
- a GeoJSON declaring ``crs`` EPSG:999999 is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import tempfile

import httpx
import pytest
from click.testing import CliRunner

from ecozone.cli.main import cli
from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings, load_settings
from tests.ecozone._webdata import C_LAT, C_LON, build_store, live_server

ALICE = "alice-token-0123456789"
LEGACY = "legacy-single-token-98765"


def test_named_tokens_and_the_single_token_variable(monkeypatch):
    monkeypatch.setenv("ECOZONE_API_TOKENS", f"alice:{ALICE},bob:bob-token-0123456789")
    monkeypatch.delenv("ECOZONE_API_TOKEN", raising=False)
    assert load_settings().tokens() == {ALICE: "alice", "bob-token-0123456789": "bob"}
    monkeypatch.delenv("ECOZONE_API_TOKENS")
    monkeypatch.setenv("ECOZONE_API_TOKEN", LEGACY)
    assert load_settings().tokens() == {LEGACY: "api-token"}  # nothing derived from it
    monkeypatch.setenv("ECOZONE_API_TOKENS", f"alice:{ALICE}")
    assert load_settings().tokens() == {ALICE: "alice", LEGACY: "api-token"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("audit") / "store.gpkg")
    settings = WebSettings(
        api_token=f"alice:{ALICE},{LEGACY}", threads=2, processes=1, max_upload_mb=0.2
    )
    with live_server(create_app(str(store), settings=settings)) as url:
        yield url


def _fc(features: list | None = None) -> bytes:
    if features is None:
        features = [
            {
                "type": "Feature",
                "properties": {"feature_id": "P-9", "name": "园"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[C_LON, C_LAT], [C_LON + 0.01, C_LAT], [C_LON + 0.01, C_LAT + 0.01],
                         [C_LON, C_LAT]]
                    ],
                },
            }
        ]  # fmt: skip
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_every_import_attempt_is_audited_by_name(server):
    auth = {"Authorization": f"Bearer {ALICE}"}
    form = {"kind": "park", "source": "审计测试"}
    with httpx.Client(base_url=server, timeout=60) as c:
        before = len(c.get("/api/audit", params={"limit": 1000}).json())
        answers = [
            # two files: too many files (400)
            c.post(
                "/api/layers/park_a",
                files=[("file", ("a.geojson", _fc())), ("file", ("b.geojson", _fc()))],
                data=form,
                headers=auth,
            ),
            # too many fields (400)
            c.post(
                "/api/layers/park_a",
                files={"file": ("a.geojson", _fc())},
                data={**form, **{f"x{i}": "1" for i in range(12)}},
                headers=auth,
            ),
            # larger than the upload limit (413)
            c.post(
                "/api/layers/park_a",
                files={"file": ("a.geojson", _fc() + b" " * 300_000)},
                data=form,
                headers=auth,
            ),
            # refused input (422)
            c.post(
                "/api/layers/park_a", files={"file": ("a.geojson", b"{")}, data=form, headers=auth
            ),
            # accepted (201), with the unnamed single token
            c.post(
                "/api/layers/park_a",
                files={"file": ("a.geojson", _fc())},
                data=form,
                headers={"Authorization": f"Bearer {LEGACY}"},
            ),
        ]
        statuses = [r.status_code for r in answers]
        assert statuses[:4] == [400, 400, 413, 422] and statuses[4] == 201, statuses
        log = c.get("/api/audit", params={"limit": 1000}).json()
    new = log[: len(log) - before]  # newest first
    assert len(new) == 5
    by_status = {e.get("status", 201 if e["outcome"] == "ok" else None): e for e in new}
    assert set(by_status) == {400, 413, 422, 201}
    assert {e["who"] for e in new} == {"alice", "api-token"}
    text = json.dumps(log)
    for token in (ALICE, LEGACY):
        assert token not in text
        assert hashlib.sha256(token.encode()).hexdigest()[:8] not in text


def test_no_server_path_in_parse_answers(server):
    open_ring = _fc(
        [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[C_LON, C_LAT], [C_LON + 0.01, C_LAT], [C_LON, C_LAT + 0.01]]],
                },
            },
            {"type": "Feature", "properties": {}, "geometry": None},
        ]
    )
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.post("/api/parse", files={"file": ("我的场址.geojson", open_ring)})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["notes"] or body["issues"]
    assert tempfile.gettempdir() not in r.text and "ecozone-upload" not in r.text
    assert "我的场址.geojson" in r.text


def test_kml_with_a_long_prologue(server):
    prologue = "<!-- " + "注释 " * 1500 + " -->\n"
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + prologue + '<kml xmlns="http://www.opengis'
        '.net/kml/2.2"><Placemark><name>甲</name><Point><coordinates>'
        f"{C_LON},{C_LAT}</coordinates></Point></Placemark></kml>"
    ).encode()
    assert kml.index(b"<kml") > 2048
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.post("/api/parse", files={"file": ("site.kml", kml)})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["geometry"]["type"] == "Point"


def test_empty_feature_collection_is_an_error(server, tmp_path):
    empty = _fc([])
    with httpx.Client(base_url=server, timeout=60) as c:
        for path in ("/api/parse", "/api/check/batch"):
            r = c.post(path, files={"file": ("empty.geojson", empty)})
            assert r.status_code == 422, (path, r.text[:300])
            assert "no usable feature" in r.text or "no site" in r.text
    sites = tmp_path / "empty.geojson"
    sites.write_bytes(empty)
    out = tmp_path / "results.csv"
    res = CliRunner().invoke(cli, ["check", str(sites), "--out", str(out)])
    assert res.exit_code == 1 and "no site" in res.output
    assert not out.exists()


def test_unknown_declared_crs_is_refused(server):
    fc = json.loads(_fc())
    fc["crs"] = {"type": "name", "properties": {"name": "EPSG:999999"}}
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.post("/api/parse", files={"file": ("site.geojson", json.dumps(fc).encode())})
    assert r.status_code == 422
    assert "EPSG:999999" in r.json()["error"]["message"]
