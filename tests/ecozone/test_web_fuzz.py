"""Property-based fuzzing of every API endpoint: no input may cause a 5xx.

Hypothesis generates request bodies, query strings, uploads and headers for each
endpoint of the OpenAPI description (about 200 examples in all, under a minute)
and sends them to the app served by uvicorn. Every answer must be below 500, and
every 4xx must be the JSON error shape ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from tests.ecozone._webdata import C_LAT, C_LON, build_store, live_server

TOKEN = "fuzz-token-0123456789"
FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run (CI stays deterministic)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("webfuzz") / "store.gpkg")
    s = WebSettings(
        api_token=TOKEN, max_upload_mb=0.5, max_vertices=500, threads=2, time_limit_s=20
    )
    with (
        live_server(create_app(str(store), settings=s)) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        yield c


SEEN: Counter[tuple[str, int]] = Counter()


def ok(r: httpx.Response) -> None:
    SEEN[(f"{r.request.method} {r.request.url.path}", r.status_code)] += 1
    assert r.status_code < 500, (r.status_code, r.request.method, r.request.url, r.text[:500])
    if r.status_code >= 400:
        err = r.json()["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str)
        assert "Traceback" not in r.text


# --------------------------------------------------------------------------- strategies

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.floats(min_value=C_LON - 0.2, max_value=C_LON + 0.2),
    st.floats(min_value=C_LAT - 0.2, max_value=C_LAT + 0.2),
    st.integers(min_value=-(10**20), max_value=10**20),
)
position = st.one_of(
    st.tuples(
        st.floats(min_value=C_LON - 0.1, max_value=C_LON + 0.1),
        st.floats(min_value=C_LAT - 0.1, max_value=C_LAT + 0.1),
    ).map(list),
    st.lists(floats, min_size=0, max_size=4),
)
coords_tree = st.recursive(position, lambda inner: st.lists(inner, max_size=6), max_leaves=30)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        floats.filter(lambda f: not isinstance(f, float) or math.isfinite(f)),
        st.text(max_size=20),
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
geometry = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "Point",
                "LineString",
                "Polygon",
                "MultiPoint",
                "MultiPolygon",
                "GeometryCollection",
                "Feature",
                "FeatureCollection",
                "Bogus",
            ]
        ),
        "coordinates": coords_tree,
    },
    optional={"geometry": json_values, "features": st.lists(json_values, max_size=2)},
)
coordinates_text = st.one_of(
    st.text(max_size=80),
    st.builds(lambda a, b: f"{a},{b}", floats, floats),
    st.lists(st.tuples(floats, floats), min_size=1, max_size=8).map(
        lambda ps: ";".join(f"{x} {y}" for x, y in ps)
    ),
    st.sampled_from(
        [
            "POLYGON((0 0,1 0,1 1,0 0))",
            "SRID=4548;POINT(500000 4400000)",
            "东经116°42′，北纬39°54′",
            '{"type":"Point","coordinates":[116.7,39.9]}',
            "POINT EMPTY",
            "LINESTRING(116.7 39.9, 116.7 39.9)",
        ]
    ),
)
project = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=40),
        "project_type": st.one_of(
            st.none(), st.sampled_from(["industrial", "residential", "construction", "rocket"])
        ),
        "industry_code": st.one_of(st.none(), st.text(max_size=8), st.just("C2614")),
        "flags": st.lists(st.sampled_from(["sewage", "vocs", "manure", "x"]), max_size=3),
        "development": st.sampled_from(["new", "expansion", "demolition"]),
        "temporary_land_use": st.one_of(st.booleans(), st.text(max_size=3)),
        "water_supply": st.booleans(),
        "exits": st.one_of(
            st.none(), st.text(max_size=30), st.lists(st.lists(floats, max_size=3), max_size=3)
        ),
    },
)
near = st.tuples(
    st.floats(min_value=C_LON - 0.05, max_value=C_LON + 0.05),
    st.floats(min_value=C_LAT - 0.05, max_value=C_LAT + 0.05),
)
plausible_site = st.one_of(
    near.map(lambda p: {"coordinates": f"{p[0]},{p[1]}"}),
    near.map(lambda p: {"geometry": {"type": "Point", "coordinates": list(p)}}),
    st.lists(near, min_size=3, max_size=8).map(
        lambda ps: {
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in [*ps, ps[0]]]]}
        }
    ),
    st.lists(near, min_size=2, max_size=5).map(
        lambda ps: {"geometry": {"type": "LineString", "coordinates": [list(p) for p in ps]}}
    ),
)
plausible_check = st.builds(
    lambda site, proj, extra: {**site, "project": proj, **extra},
    plausible_site,
    project,
    st.fixed_dictionaries(
        {},
        optional={
            "coords": st.sampled_from(["wgs84", "gcj02", "bd09"]),
            "lang": st.sampled_from(["zh", "en"]),
            "pack": st.sampled_from(["beijing", "tongzhou"]),
        },
    ),
)
check_body = st.one_of(
    plausible_check,
    st.fixed_dictionaries(
        {},
        optional={
            "pack": st.sampled_from(["beijing", "tongzhou", "nowhere", "../x", ""]),
            "geometry": st.one_of(st.none(), geometry, json_values),
            "coordinates": st.one_of(st.none(), coordinates_text),
            "coords": st.sampled_from(["wgs84", "cgcs2000", "gcj02", "bd09", "gk", "utm"]),
            "gk_zone": st.one_of(st.none(), st.integers(-5, 60)),
            "project": st.one_of(project, json_values),
            "lang": st.sampled_from(["zh", "en", "fr"]),
        },
    ),
    json_values,
)
plausible_csv = st.lists(
    st.tuples(near, st.sampled_from(["", "工业", "=1+1", "rocket"])), min_size=1, max_size=6
).map(
    lambda rows: ("lon,lat,项目类型\n" + "\n".join(f"{p[0]},{p[1]},{t}" for p, t in rows)).encode()
)
upload_bytes = st.one_of(
    plausible_csv,
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.builds(
        lambda rows: ("lon,lat,name\n" + "\n".join(f"{a},{b},{c}" for a, b, c in rows)).encode(),
        st.lists(st.tuples(floats, floats, st.text(max_size=5)), max_size=5),
    ),
    st.sampled_from(
        [
            b"PK\x03\x04" + b"\0" * 40,
            b"{",
            b'{"type":"FeatureCollection"}',
            b"<kml>",
            b"0\nSECTION\n2\nENTITIES\n0\nENDSEC\n0\nEOF\n",
        ]
    ),
)
filenames = st.one_of(
    st.sampled_from(["a.csv", "sites.xlsx", "../../etc/passwd", ""]),
    st.text(min_size=1, max_size=30),
)


# --------------------------------------------------------------------------- tests


@given(body=check_body, include_map=st.booleans())
@settings(FUZZ, max_examples=70)
def test_fuzz_check(client, body, include_map):
    ok(client.post("/api/check", params={"include_map": include_map}, json=body))


@given(
    raw=st.binary(max_size=200),
    ctype=st.sampled_from(
        ["application/json", "text/plain", "multipart/form-data; boundary=x", ""]
    ),
)
@settings(FUZZ, max_examples=15)
def test_fuzz_check_raw_bytes(client, raw, ctype):
    ok(client.post("/api/check", content=raw, headers={"content-type": ctype}))


@given(body=check_body, fmt=st.sampled_from(["json", "html", "docx", "xls"]))
@settings(FUZZ, max_examples=20)
def test_fuzz_report(client, body, fmt):
    ok(client.post("/api/check/report", params={"format": fmt}, json=body))


@given(
    data=upload_bytes,
    name=filenames,
    coords=st.sampled_from(["wgs84", "gcj02", "gk", "bogus"]),
    zone=st.one_of(st.none(), st.sampled_from(["39", "x", "99"])),
)
@settings(FUZZ, max_examples=30)
def test_fuzz_parse(client, data, name, coords, zone):
    form = {"coords": coords}
    if zone is not None:
        form["gk_zone"] = zone
    ok(client.post("/api/parse", files={"file": (name, data)}, data=form))


@given(
    data=st.one_of(plausible_csv, upload_bytes),
    name=filenames,
    pack=st.sampled_from(["beijing", "beijing", "x"]),
    fmt=st.sampled_from(["csv", "gpkg", "csv", "pdf"]),
    output=st.sampled_from(["json", "zip", "json", "x"]),
)
@settings(FUZZ, max_examples=20)
def test_fuzz_batch(client, data, name, pack, fmt, output):
    form = {"pack": pack, "format": fmt, "output": output}
    ok(client.post("/api/check/batch", files={"file": (name, data)}, data=form))


@given(
    name=st.text(max_size=60).filter(lambda s: "/" not in s and s not in (".", "..")),
    kind=st.sampled_from(["redline", "well", "park", "volcano"]),
    source=st.text(max_size=20),
    data=upload_bytes,
    token=st.sampled_from([None, TOKEN, "wrong-token-value", "two words"]),
)
@settings(FUZZ, max_examples=25)
def test_fuzz_import(client, name, kind, source, data, token):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    r = client.post(
        f"/api/layers/{quote(name, safe='')}",
        files={"file": ("layer.geojson", data)},
        data={"kind": kind, "source": source},
        headers=headers,
    )
    ok(r)


@given(
    path=st.sampled_from(
        [
            "/api/health",
            "/api/packs",
            "/api/layers",
            "/api/audit",
            "/api/coverage",
            "/api/map/context",
            "/api/layers/{}/history",
            "/coverage/map",
            "/check",
            "/layers",
        ]
    ),
    value=st.text(max_size=30),
    key=st.sampled_from(["pack", "limit", "lang", "x"]),
)
@settings(FUZZ, max_examples=30)
def test_fuzz_get(client, path, value, key):
    if "{}" in path:
        path = path.format(quote(value or "x", safe=""))
    ok(client.get(path, params={key: value}))


def test_spec_endpoints_are_all_fuzzed(client):
    """Every operation in the OpenAPI description is exercised above."""
    spec = client.get("/openapi.json").json()
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    covered = {
        ("POST", "/api/check"),
        ("POST", "/api/check/report"),
        ("POST", "/api/parse"),
        ("POST", "/api/check/batch"),
        ("POST", "/api/layers/{name}"),
        ("GET", "/api/health"),
        ("GET", "/api/packs"),
        ("GET", "/api/layers"),
        ("GET", "/api/audit"),
        ("GET", "/api/coverage"),
        ("GET", "/api/map/context"),
        ("GET", "/api/layers/{name}/history"),
    }
    assert ops == covered
    json.dumps(spec)  # the description itself is valid JSON


def test_fuzz_reached_the_checks():
    """The examples above were not all refused at the door: some sites were checked."""
    ok_checks = sum(
        n for (op, status), n in SEEN.items() if op == "POST /api/check" and status == 200
    )
    ok_reports = sum(
        n for (op, st_), n in SEEN.items() if op == "POST /api/check/report" and st_ == 200
    )
    assert ok_checks >= 10, SEEN
    assert ok_reports >= 1, SEEN
    assert SEEN[("POST /api/parse", 200)] >= 1, SEEN
    assert SEEN[("POST /api/check/batch", 200)] >= 1, SEEN


# ----------------------------------------------- hostile text, XML DOCTYPEs, rings (#13)

CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\ufffe", "\uffff"]
hostile_text = st.one_of(
    st.text(max_size=30),
    st.lists(
        st.one_of(st.sampled_from([*CONTROL, "=", "+", "-", "@", "\t", "\n", "项目"]),
                  st.characters()),
        max_size=12,
    ).map("".join),
)  # fmt: skip
DOCTYPES = [
    b"<!DOCTYPE x>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>',
]


def _kml(doctype: bytes, name: str, closed: bool) -> bytes:
    ring = f"{C_LON},{C_LAT} {C_LON + 0.01},{C_LAT} {C_LON + 0.01},{C_LAT + 0.01}"
    ring += f" {C_LON},{C_LAT}" if closed else ""
    body = (
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
        f"<name>{name}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    )
    return b'<?xml version="1.0" encoding="UTF-8"?>' + doctype + body.encode("utf-8", "replace")


def _zip_with_doctype(kind: str, doctype: bytes, name: str) -> bytes:
    """An XLSX (lon/lat sheet) or DOCX whose XML parts carry ``doctype``."""
    import io
    import zipfile

    buf = io.BytesIO()
    if kind == "xlsx":
        import pandas as pd

        df = pd.DataFrame({"lon": [C_LON], "lat": [C_LAT], "name": [name.replace("\x00", "")]})
        src = io.BytesIO()
        try:
            df.to_excel(src, index=False)
        except Exception:  # openpyxl refuses control characters: use a plain name
            src = io.BytesIO()
            df.assign(name="x").to_excel(src, index=False)
    else:
        src = io.BytesIO()
        with zipfile.ZipFile(src, "w") as z:
            z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
            z.writestr("word/document.xml", '<?xml version="1.0"?><document/>')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith(".xml"):
                data = data.replace(b"?>", b"?>" + doctype, 1)
            zout.writestr(item.filename, data)
    return buf.getvalue()


def _geojson_ring(name: str, closed: bool) -> bytes:
    ring = [[C_LON, C_LAT], [C_LON + 0.01, C_LAT], [C_LON + 0.01, C_LAT + 0.01]]
    ring += [[C_LON, C_LAT]] if closed else []
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name, "feature_id": "F-1"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    return json.dumps(fc).encode()


hostile_file = st.one_of(
    st.builds(lambda d, n, c: ("site.kml", _kml(d, n, c)), st.sampled_from(DOCTYPES),
              hostile_text, st.booleans()),
    st.builds(lambda d, n: ("sites.xlsx", _zip_with_doctype("xlsx", d, n)),
              st.sampled_from(DOCTYPES), hostile_text),
    st.builds(lambda d: ("site.docx", _zip_with_doctype("docx", d, "")),
              st.sampled_from(DOCTYPES)),
    st.builds(lambda n, c: ("site.geojson", _geojson_ring(n, c)), hostile_text, st.booleans()),
    st.builds(
        lambda rows: ("sites.csv", ("lon,lat,项目名称,行业代码\n" + "\n".join(
            f"{C_LON + i * 1e-3},{C_LAT},{a},{b}" for i, (a, b) in enumerate(rows))
        ).encode("utf-8", "surrogatepass")),
        st.lists(st.tuples(hostile_text.map(lambda s: s.replace(",", "").replace("\n", "")),
                           hostile_text.map(lambda s: s.replace(",", "").replace("\n", ""))),
                 min_size=1, max_size=4),
    ),
)  # fmt: skip


@given(
    name=hostile_text,
    code=st.one_of(st.none(), hostile_text.map(lambda s: s[:16])),
    exits=st.one_of(st.none(), hostile_text),
    fmt=st.sampled_from(["json", "html", "docx", "pdf"]),
    site=plausible_site,
)
@settings(FUZZ, max_examples=40)
def test_fuzz_hostile_text_in_every_field_and_format(client, name, code, exits, fmt, site):
    body = {**site, "project": {"name": name, "industry_code": code, "exits": exits}}
    data = json.dumps(body).encode()
    r = client.post(
        "/api/check/report",
        params={"format": fmt},
        content=data,
        headers={"content-type": "application/json"},
    )
    ok(r)
    ok(client.post("/api/check", content=data, headers={"content-type": "application/json"}))


@given(
    upload=hostile_file,
    endpoint=st.sampled_from(["parse", "batch", "batch-zip", "import"]),
    source=hostile_text,
)
@settings(FUZZ, max_examples=45)
def test_fuzz_hostile_files_on_every_upload_endpoint(client, upload, endpoint, source):
    name, data = upload
    files = {"file": (name, data)}
    if endpoint == "parse":
        r = client.post("/api/parse", files=files)
    elif endpoint.startswith("batch"):
        output = "zip" if endpoint == "batch-zip" else "json"
        r = client.post("/api/check/batch", files=files, data={"output": output})
    else:
        r = client.post(
            "/api/layers/fuzz_hostile",
            files=files,
            data={"kind": "park", "source": source or "s"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    ok(r)
    assert "root:x:0" not in r.text  # no external entity was ever resolved


def test_fuzz_hostile_inputs_with_a_full_tmpdir(tmp_path):
    """The same inputs with the server's temporary folder full: 413 or 4xx, never 5xx."""
    import subprocess
    import tempfile

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here (not root)")
    old = tempfile.tempdir
    tempfile.tempdir = str(mnt)
    try:
        store = build_store(tmp_path / "store.gpkg")
        s = WebSettings(api_token=TOKEN, threads=2, processes=1, time_limit_s=20)
        with (
            live_server(create_app(str(store), settings=s)) as url,
            httpx.Client(base_url=url, timeout=60) as c,
        ):
            (mnt / "filler").write_bytes(b"\0" * (1024 * 1024 - 8 * 1024))
            square = [[C_LON, C_LAT], [C_LON + 0.01, C_LAT], [C_LON + 0.01, C_LAT + 0.01],
                      [C_LON, C_LAT]]  # fmt: skip
            site = {"geometry": {"type": "Polygon", "coordinates": [square]}}
            statuses = set()
            for fmt in ("json", "html", "docx"):
                r = c.post("/api/check/report", params={"format": fmt}, json=site)
                ok(r)
                statuses.add(r.status_code)
            uploads = [
                ("site.kml", _kml(DOCTYPES[0], "甲", True) + b" " * 600_000),
                ("sites.csv", b"lon,lat\n" + f"{C_LON},{C_LAT}\n".encode() * 40_000),
                ("site.geojson", _geojson_ring("x", False) + b" " * 600_000),
            ]
            for name, data in uploads:
                for path in ("/api/parse", "/api/check/batch"):
                    r = c.post(path, files={"file": (name, data)})
                    ok(r)
                    statuses.add(r.status_code)
                    if r.status_code == 413:
                        assert "MB free" in r.json()["error"]["message"]
            assert 413 in statuses
    finally:
        tempfile.tempdir = old
        subprocess.run(["umount", "-l", str(mnt)], check=False)
