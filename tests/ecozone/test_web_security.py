"""Bad input and attacks against the web app: limits, zips, formats, paths, escaping, auth."""

from __future__ import annotations

import io
import json
import re
import socket
import stat
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from shapely.geometry import mapping

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings, load_settings, parse_tokens
from geo.errors import InputFormatError
from tests.ecozone._webdata import at, build_store, live_server, rect

TOKEN = "correct-horse-battery-staple"
LIMITS = {
    "max_upload_mb": 1.0,
    "max_unzipped_mb": 20.0,
    "max_zip_ratio": 100.0,
    "max_vertices": 2000,
    "threads": 2,
}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("websec") / "store.gpkg")


@pytest.fixture(scope="module")
def base(store_path):
    settings = WebSettings(api_token=f"alice:{TOKEN}", **LIMITS)
    app = create_app(str(store_path), settings=settings)

    def boom() -> None:
        raise RuntimeError("secret detail /srv/private/path")

    app.add_api_route("/boom", boom)  # an endpoint that fails unexpectedly
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(base):
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


def assert_error(r, status, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert "Traceback" not in r.text
    if code is not None:
        assert err["code"] == code, err
    return err


def parse(client, name, data, **form):
    return client.post("/api/parse", files={"file": (name, data)}, data=form)


def _zip(members: dict[str, bytes], *, attrs: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if attrs and name in attrs:
                info.external_attr = attrs[name] << 16
            zf.writestr(info, data)
    return buf.getvalue()


# --------------------------------------------------------------------------- size limits


def test_upload_over_the_limit_is_413(client):
    big = b"lon,lat\n" + b"116.7,39.9\n" * 120_000  # 1.3 MB > 1 MB
    err = assert_error(parse(client, "big.csv", big), 413, "too_large")
    assert "1.0 MB" in err["message"]
    body = json.dumps({"coordinates": "116.7,39.9", "project": {"name": "x" * 150}})
    r = client.post(
        "/api/check",
        content=body.encode() + b" " * 1_100_000,
        headers={"content-type": "application/json"},
    )
    assert_error(r, 413, "too_large")


def test_chunked_upload_is_cut_off_while_streaming(base):
    """A body without Content-Length is refused once it passes the limit, not at its end."""
    host, port = base.removeprefix("http://").split(":")
    boundary = "ecozoneboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nlon,lat\n"
    ).encode()
    chunk = b"116.7,39.9\n" * 6000  # 66 kB
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            (
                "POST /api/parse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            ).encode()
        )
        s.settimeout(0.2)
        answer = b""
        for i in range(1500):  # would be ~100 MB
            data = head if i == 0 else chunk
            try:
                s.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                sent += len(data)
                answer += s.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        s.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024  # answered long before the 100 MB were sent


# --------------------------------------------------------------------------- zips


def test_zip_path_traversal_is_refused(client):
    for name in ("../../evil.shp", "/etc/evil.shp", "C:/evil.shp", "a/../../evil.shp"):
        data = _zip({name: b"x", "ok.dbf": b"y"})
        assert_error(parse(client, "site.zip", data), 422, "zip_traversal")


def test_zip_links_are_refused(client):
    data = _zip({"site.shp": b"/etc/passwd"}, attrs={"site.shp": stat.S_IFLNK | 0o777})
    assert_error(parse(client, "site.zip", data), 422, "zip_link")


def test_decompression_bombs_are_refused(client):
    by_ratio = _zip({"site.shp": b"\0" * (10 * 1024 * 1024)})  # 10 MB of zeros, ~10 kB
    assert len(by_ratio) < 100_000
    err = assert_error(parse(client, "site.zip", by_ratio), 422, "zip_bomb")
    assert "bomb" in err["message"]
    by_size = _zip({"site.shp": b"\0" * (21 * 1024 * 1024)})  # beyond 20 MB unpacked
    err = assert_error(parse(client, "site.zip", by_size), 422, "zip_bomb")
    assert "unpacks to" in err["message"]
    # an .xlsx is a zip too
    assert_error(
        parse(client, "sites.xlsx", _zip({"xl/workbook.xml": b"\0" * 10_000_000})), 422, "zip_bomb"
    )


def test_damaged_zip(client):
    good = _zip({"site.shp": b"abc" * 100})
    assert_error(parse(client, "site.zip", good[: len(good) // 2]), 422)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("sites.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
        ("sites.geojson", b"%PDF-1.7\n" + b"1 0 obj\n" * 8),
        ("sites.csv", b"\xd0\xcf\x11\xe0" + b"\0" * 64),  # old .xls
        ("site.gpkg", b"SQLite format 3\x00" + b"\0" * 100),  # not accepted here
    ],
    ids=["png-as-csv", "pdf-as-geojson", "xls", "gpkg"],
)
def test_only_listed_formats_by_content(client, name, data):
    assert_error(parse(client, name, data), 415, "unsupported_format")


def test_text_that_is_not_a_table(client):
    r = parse(client, "site.geojson", b"<html><script>alert(1)</script></html>")
    assert 400 <= r.status_code < 500
    assert "<script>" not in r.json()["error"]["message"] or r.headers["content-type"].startswith(
        "application/json"
    )


def test_empty_upload(client):
    assert_error(parse(client, "empty.csv", b""), 422, "empty_file")


def test_user_names_never_become_server_paths(client):
    target = Path(tempfile.gettempdir()) / f"ecozone_evil_{uuid.uuid4().hex}.geojson"
    name = "../../../../../../" + str(target).lstrip("/")
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": mapping(rect(100, 100, 200, 200)), "properties": {}}
        ],
    }
    r = parse(client, name, json.dumps(fc).encode())
    assert r.status_code == 200, r.text
    assert not target.exists()
    assert r.json()["file"] == target.name  # only the last component is shown
    # library messages name the user's file, never the server's temporary folder
    r = parse(client, "../x/broken.geojson", b'{"type": "FeatureCollection", "features": [')
    err = assert_error(r, 422)
    assert "ecozone-upload-" not in err["message"] and tempfile.gettempdir() not in err["message"]


def test_temporary_folders_are_removed(client):
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("ecozone-upload-*"))
    lon, lat = at(500, 500)
    for _ in range(3):
        parse(client, "a.csv", f"lon,lat\n{lon},{lat}\n".encode())
        parse(client, "a.zip", _zip({"../a.shp": b"x"}))
    time.sleep(0.2)
    assert set(tmp.glob("ecozone-upload-*")) <= before


def test_vertex_limit_on_uploads(client):
    ring = [at(1000 + 10 * i, 1000 + (i % 2)) for i in range(2500)] + [at(1000, 1000)]
    fc = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": ring},
    }
    assert_error(parse(client, "long.geojson", json.dumps(fc).encode()), 422, "too_many_vertices")


# --------------------------------------------------------------------------- escaping


def _import(client, name, data, token=TOKEN, **form):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    form.setdefault("kind", "redline")
    form.setdefault("source", "test")
    return client.post(
        f"/api/layers/{name}", files={"file": ("layer.geojson", data)}, data=form, headers=headers
    )


def test_user_strings_are_escaped_in_pages(client):
    evil = "<img src=x onerror=alert(1)>"
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(rect(-500, -500, -400, -400)),
                "properties": {"feature_id": "X1", "name": "<script>alert(1)</script>"},
            }
        ],
    }
    r = client.post(
        "/api/layers/evil_layer",
        files={"file": ("<svg onload=alert(2)>.geojson", json.dumps(fc).encode())},
        data={"kind": "redline", "source": evil},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 201, r.text
    page = client.get("/layers").text
    assert evil not in page and "<svg onload" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;svg onload=alert(2)&gt;.geojson" in page


def test_report_escapes_project_name(client):
    lon, lat = at(300, 300)
    body = {"coordinates": f"{lon},{lat}", "project": {"name": "<script>alert(1)</script>"}}
    html = client.post("/api/check/report?format=html", json=body).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --------------------------------------------------------------------------- auth and audit


def test_imports_need_the_token(client):
    fc = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": mapping(rect(0, 0, 10, 10)), "properties": {}}
            ],
        }
    ).encode()
    assert_error(_import(client, "redline", fc, token=None), 401, "unauthorised")
    assert_error(_import(client, "redline", fc, token="wrong-token-value"), 401, "unauthorised")
    r = client.post(
        "/api/layers/redline",
        files={"file": ("a.geojson", fc)},
        data={"kind": "redline", "source": "s"},
        headers={"Authorization": f"Basic {TOKEN}"},
    )
    assert_error(r, 401)
    log = client.get("/api/audit").json()
    denied = [e for e in log if e["outcome"] == "denied"]
    assert len(denied) >= 3 and all(e["who"] == "anonymous" for e in denied)
    assert all(TOKEN not in json.dumps(e) for e in log)  # the token is never logged
    # validation errors are recorded too, with the holder's name
    assert_error(_import(client, "Bad Name", fc), 422, "layer_invalid")
    assert_error(_import(client, "redline", fc, kind="volcano"), 422, "invalid_request")
    rejected = [e for e in client.get("/api/audit").json() if e["outcome"] == "rejected"]
    assert rejected[0]["who"] == "alice"


def test_imports_disabled_without_token(store_path, tmp_path):
    copy = tmp_path / "store.gpkg"
    copy.write_bytes(store_path.read_bytes())
    app = create_app(str(copy), settings=WebSettings(threads=1))
    with live_server(app) as url, httpx.Client(base_url=url) as c:
        r = c.post(
            "/api/layers/redline",
            files={"file": ("a.geojson", b"{}")},
            data={"kind": "redline", "source": "s"},
            headers={"Authorization": "Bearer anything-at-all"},
        )
        err = assert_error(r, 403, "imports_disabled")
        assert "ECOZONE_API_TOKEN" in err["message"]
        assert "imports-disabled" in c.get("/layers").text


def test_token_settings(monkeypatch):
    assert parse_tokens("alice:aaaaaaaaaaaaaaaa,bob:bbbbbbbbbbbbbbbb") == {
        "aaaaaaaaaaaaaaaa": "alice",
        "bbbbbbbbbbbbbbbb": "bob",
    }
    (only,) = parse_tokens("a-single-token-value").values()
    assert only == "api-token"  # never a value derived from the token
    with pytest.raises(InputFormatError, match="at least 12"):
        parse_tokens("short")
    monkeypatch.setenv("ECOZONE_API_TOKEN", "bob:bbbbbbbbbbbbbbbb")
    assert load_settings().tokens() == {"bbbbbbbbbbbbbbbb": "bob"}
    assert "bbbbbbbbbbbbbbbb" not in load_settings().to_env()
    with pytest.raises(InputFormatError, match="basemap"):
        load_settings(basemap="javascript:alert(1)")
    with pytest.raises(InputFormatError, match="port"):
        load_settings(port=0)


# --------------------------------------------------------------------------- errors


def test_errors_are_json_without_traceback(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.delete("/api/check"), 405, "method_not_allowed")
    r = client.post(
        "/api/parse",
        content=b"--x\r\ngarbage",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= r.status_code < 500 and "error" in r.json()
    err = assert_error(client.get("/boom"), 500, "internal")
    assert "secret detail" not in err["message"] and "/srv/private" not in client.get("/boom").text


def test_security_headers(client):
    for path in ("/check", "/api/packs", "/static/app/app.js"):
        h = client.get(path).headers
        assert h["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in h["content-security-policy"]


def test_time_limit_answers_504(store_path, tmp_path):
    copy = tmp_path / "store.gpkg"
    copy.write_bytes(store_path.read_bytes())
    app = create_app(str(copy), settings=WebSettings(time_limit_s=0.001, threads=1))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        lon, lat = at(100, 100)
        err = assert_error(
            c.post("/api/check", json={"coordinates": f"{lon},{lat}"}), 504, "timeout"
        )
        assert "time limit" in err["message"]
        assert_error(c.get("/api/coverage?pack=beijing"), 504, "timeout")
        # the server still answers
        assert c.get("/api/health").status_code == 200


def test_no_external_urls_in_any_page(client):
    pattern = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
    for path in ("/check", "/check?lang=en", "/coverage", "/layers", "/api"):
        assert not pattern.search(client.get(path).text), path
