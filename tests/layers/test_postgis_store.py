"""The layer store contract, run against both backends: GeoPackage and PostGIS.

``store_factory`` is parametrised over ["gpkg", "postgis"]; every test using it holds
for both stores. The PostGIS tests start a real PostgreSQL + PostGIS server on
127.0.0.1 (tests/postgis_server.py) and skip, with the reason, only when its binaries
are missing (``bash scripts/system-deps.sh`` installs them).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import (
    ChecksumMismatchError,
    InputFormatError,
    LayerNotFoundError,
    LayerValidationError,
    MissingLayerError,
    StoreError,
)
from layers import layer_checksum
from layers.store import LayerStore, MissingKindError

ROOT = Path(__file__).resolve().parents[2]
try:  # tests/ is a package when run from the repository root
    from tests.postgis_server import postgis_unavailable_reason, shared_postgis
except ImportError:  # tests/ as a plain folder
    sys.path.insert(0, str(ROOT / "tests"))
    from postgis_server import postgis_unavailable_reason, shared_postgis


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the session's PostGIS server (one per test process)."""
    reason = postgis_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    return shared_postgis()


def _schema_url(url: str) -> str:
    """The server URL with a fresh schema, so that every test has an empty store."""
    return f"{url}?schema=t_{uuid.uuid4().hex[:12]}"


class Backend:
    """Where a test store lives, and how to damage it from outside ecozone."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location

    def open(self, **kw):
        if self.kind == "gpkg":
            return LayerStore(self.location, **kw)
        from layers.postgis import PostGISLayerStore

        return PostGISLayerStore(self.location, **kw)

    def sql(self, statement: str) -> list[tuple]:
        """Run one SQL statement directly on the store's database."""
        if self.kind == "gpkg":
            con = sqlite3.connect(self.location, isolation_level=None)
            for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
                # named by GDAL's R-tree triggers; never called when the geometry stays
                con.create_function(fn, 1, lambda g: 0)
            try:
                return con.execute(statement).fetchall()
            finally:
                con.close()
        import psycopg

        url, _, query = self.location.partition("?")
        schema = query.split("=", 1)[1]
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"SET search_path TO {schema}, public")
            cur = con.execute(statement)
            return cur.fetchall() if cur.description else []

    def tamper(self, table: str) -> None:
        self.sql(f"UPDATE \"{table}\" SET name = 'tampered' WHERE fid = 1")


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_factory(request, tmp_path) -> Backend:
    """A place for an empty store of either backend; ``.open()`` opens a store on it."""
    if request.param == "gpkg":
        return Backend("gpkg", str(tmp_path / "store.gpkg"))
    url = request.getfixturevalue("pg_url")
    return Backend("postgis", _schema_url(url))


@pytest.fixture
def any_store(store_factory):
    with store_factory.open() as s:
        yield s


# -- import, read, versions ------------------------------------------------------------


def test_import_returns_stored_layer(any_store, frame):
    gdf = frame("park", 3)
    layer = any_store.import_layer(
        gdf, name="parks", kind="park", source="公园名录 2023", source_date=date(2023, 6, 1)
    )
    assert (layer.name, layer.kind, layer.version, layer.row_count) == ("parks", "park", 1, 3)
    assert layer.source == "公园名录 2023" and layer.source_date == "2023-06-01"
    assert layer.crs == "EPSG:4326" and layer.gdf.crs.to_epsg() == 4326
    assert layer.checksum == layer_checksum(layer.gdf)
    assert not layer.synthetic
    # polygon layers are stored as multipolygons, ids and geometry unchanged
    assert set(layer.gdf.geom_type) == {"MultiPolygon"}
    assert layer.gdf["feature_id"].tolist() == gdf["feature_id"].tolist()
    for a, b in zip(layer.gdf.geometry, gdf.geometry, strict=True):
        assert a.equals(b)
    # ellipsoidal area filled in by validation: a 0.01° square near 39.9°N ≈ 0.95 km²
    assert np.all((layer.gdf["area_m2"] > 0.9e6) & (layer.gdf["area_m2"] < 1.0e6))
    again = any_store.get("parks")
    assert again.checksum == layer.checksum
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.gdf.drop(columns="geometry")),
        pd.DataFrame(layer.gdf.drop(columns="geometry")),
    )


def test_import_from_a_file_takes_read_options_in_both_stores(any_store, frame, tmp_path):
    """``read_kwargs`` reach geo.io.read_vector in either backend (they once did not in PostGIS)."""
    path = tmp_path / "two_layers.gpkg"
    frame("well", 2).to_file(path, layer="first", driver="GPKG")
    projected = frame("well", 4).to_crs("EPSG:4547")  # CGCS2000 3° GK zone 39, metres
    projected.to_file(path, layer="second", driver="GPKG")
    layer = any_store.import_layer(
        path, name="wells", kind="well", source="two_layers.gpkg", read_kwargs={"layer": "second"}
    )
    assert layer.row_count == 4
    assert layer.source_crs is not None and "4547" in layer.source_crs
    expected = frame("well", 4)
    assert layer.gdf["feature_id"].tolist() == expected["feature_id"].tolist()
    # reprojected back to lon/lat: within a millimetre of the original points (pyproj.Geod)
    import pyproj

    _, _, dist = pyproj.Geod(ellps="WGS84").inv(
        layer.gdf.geometry.x.to_numpy(), layer.gdf.geometry.y.to_numpy(),
        expected.geometry.x.to_numpy(), expected.geometry.y.to_numpy(),
    )  # fmt: skip
    assert np.all(dist < 1e-3)
    with pytest.raises(InputFormatError, match="third"):
        any_store.import_layer(
            path, name="wells", kind="well", source="x", read_kwargs={"layer": "third"}
        )
    assert any_store.history("wells")["version"].tolist() == [1]


def test_versions_history_and_stamp(any_store, frame):
    v1 = any_store.import_layer(frame("well", 2), name="wells", kind="well", source="a")
    v2 = any_store.import_layer(frame("well", 5), name="wells", kind="well", source="b")
    assert (v1.version, v2.version) == (1, 2)
    hist = any_store.history("wells")
    assert hist["version"].tolist() == [1, 2]
    assert hist["row_count"].tolist() == [2, 5]
    assert hist["source"].tolist() == ["a", "b"]
    assert hist["checksum"].tolist() == [v1.checksum, v2.checksum]
    assert hist["created_at"].is_monotonic_increasing
    old = any_store.get("wells", 1)
    assert old.row_count == 2 and len(old.gdf) == 2 and old.checksum == v1.checksum
    listing = any_store.list_layers()
    assert listing["name"].tolist() == ["wells"] and listing["version"].tolist() == [2]
    assert listing.columns.tolist() == [
        "name", "kind", "label_zh", "label_en", "version", "row_count", "synthetic",
        "source", "source_date", "created_at", "checksum", "crs", "source_crs", "table",
    ]  # fmt: skip
    assert any_store.stamp() == {"wells": {"version": 2, "checksum": v2.checksum}}
    assert any_store.versions() == any_store.stamp()


def test_get_kind_takes_latest_import(any_store, frame):
    any_store.import_layer(frame("well", 2), name="wells_a", kind="well", source="a")
    b = any_store.import_layer(frame("well", 3), name="wells_b", kind="well", source="b")
    assert any_store.get_kind("well").name == "wells_b"
    assert any_store.get_kind("well").checksum == b.checksum
    a2 = any_store.import_layer(frame("well", 4), name="wells_a", kind="well", source="a2")
    got = any_store.get_kind("well")
    assert (got.name, got.version, got.checksum) == ("wells_a", 2, a2.checksum)
    assert any_store.get_kind("well", version=1).row_count == 2
    with pytest.raises(MissingKindError, match="park") as info:
        any_store.get_kind("park")
    assert isinstance(info.value, LayerNotFoundError) and isinstance(info.value, MissingLayerError)
    with pytest.raises(LayerValidationError):
        any_store.get_kind("no_such_kind")


def test_missing_layer_and_version(any_store, frame):
    with pytest.raises(LayerNotFoundError, match=r"No layer named 'nope'.*\(none\)"):
        any_store.get("nope")
    any_store.import_layer(frame("redline"), name="redline", kind="redline", source="s")
    with pytest.raises(LayerNotFoundError, match="Layers: redline"):
        any_store.history("nope")
    with pytest.raises(LayerNotFoundError, match=r"no version 7.*versions: 1"):
        any_store.get("redline", 7)


def test_kind_is_fixed_per_name(any_store, frame):
    any_store.import_layer(frame("redline"), name="zones", kind="redline", source="s")
    with pytest.raises(LayerValidationError, match="is of kind 'redline'"):
        any_store.import_layer(frame("eco_control"), name="zones", kind="eco_control", source="s")
    assert any_store.history("zones")["version"].tolist() == [1]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "Red Line"}, "not allowed"),
        ({"name": "ecozone_x"}, "not allowed"),
        ({"source": "  "}, "source="),
        ({"source_date": "30/12/2021"}, "not an ISO date"),
    ],
    ids=["spaces", "reserved", "no-source", "bad-date"],
)
def test_rejected_arguments_store_nothing(any_store, frame, kw, match):
    args = {"name": "redline", "kind": "redline", "source": "s"} | kw
    with pytest.raises(LayerValidationError, match=match):
        any_store.import_layer(frame("redline"), **args)
    assert any_store.list_layers().empty


def test_invalid_features_store_nothing(any_store, frame):
    gdf = frame("well", 3)
    gdf.loc[2, "feature_id"] = gdf.loc[0, "feature_id"]
    with pytest.raises(LayerValidationError, match="well-t0"):
        any_store.import_layer(gdf, name="wells", kind="well", source="s")
    assert any_store.list_layers().empty


def test_synthetic_flag_and_file_input(any_store, frame, tmp_path):
    path = tmp_path / "units.geojson"
    frame("control_unit").to_file(path, driver="GeoJSON")
    layer = any_store.import_layer(
        path, name="units", kind="control_unit", source=path.name, synthetic=True
    )
    assert layer.synthetic and layer.gdf["synthetic"].all()
    assert any_store.list_layers()["synthetic"].tolist() == [True]
    assert set(layer.gdf["category"]) == {"priority", "key", "general"}


# -- integrity ------------------------------------------------------------------------


def test_tampered_table_fails_checksum(store_factory, frame):
    with store_factory.open() as store:
        layer = store.import_layer(frame("redline"), name="redline", kind="redline", source="s")
        store.get("redline")  # cached after a verified read
        store_factory.tamper(layer_table(store, "redline"))
        with pytest.raises(
            ChecksumMismatchError, match=f"fails its checksum: expected {layer.checksum}"
        ):
            store.get("redline")
        assert store.get("redline", verify=False).gdf["name"].iloc[0] == "tampered"
    with store_factory.open() as fresh, pytest.raises(ChecksumMismatchError):
        fresh.get_kind("redline")


def layer_table(store, name: str) -> str:
    return store.list_layers().set_index("name").loc[name, "table"]


def test_reopen_and_close(store_factory, frame):
    with store_factory.open() as store:
        layer = store.import_layer(frame("park"), name="parks", kind="park", source="s")
    with pytest.raises(StoreError, match="closed"):
        store.list_layers()
    with store_factory.open(create=False) as again:
        assert again.get("parks").checksum == layer.checksum
        assert again.stamp() == {"parks": {"version": 1, "checksum": layer.checksum}}


def test_export_round_trip(any_store, frame, tmp_path):
    any_store.import_layer(frame("well", 4), name="wells", kind="well", source="s")
    out = any_store.export("wells", tmp_path / "wells.geojson")
    back = gpd.read_file(out)
    assert sorted(back["feature_id"]) == [f"well-t{i}" for i in range(4)]
    assert back.crs.to_epsg() == 4326


def test_concurrent_imports_number_versions_without_gaps(store_factory, frame):
    with store_factory.open():
        pass  # create the store first
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with store_factory.open() as s:
                s.import_layer(frame("well", i + 1), name="wells", kind="well", source=f"t{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    with store_factory.open() as s:
        hist = s.history("wells")
        assert hist["version"].tolist() == [1, 2, 3, 4]
        assert sorted(hist["row_count"]) == [1, 2, 3, 4]
        for v in range(1, 5):
            assert s.get("wells", v).row_count == hist.set_index("version").loc[v, "row_count"]


def test_make_checker_reads_the_store(any_store, frame):
    from zoning.pack import load_pack
    from zoning.workflow import make_checker

    pack = load_pack("beijing")
    for kind in sorted(pack.layer_kinds()):
        if kind != "site_exit":
            any_store.import_layer(frame(kind), name=kind, kind=kind, source="test")
    checker = make_checker(pack, any_store)
    stamp = checker.layer_stamp
    assert stamp["redline"]["checksum"] == any_store.get("redline").checksum
    # a site inside the first red-line square (116.39–116.40°E, 39.90–39.91°N)
    sites = gpd.GeoDataFrame(
        {"site_id": ["in", "far"]},
        geometry=[shapely.Point(116.395, 39.905), shapely.Point(116.2, 39.7)],
        crs="EPSG:4326",
    )
    res = checker.check(sites)
    verdict = dict(zip(res.sites["site_id"], res.sites["verdict"].astype(str), strict=True))
    assert verdict["in"] == "prohibited"
    assert verdict["far"] != "prohibited"
    assert res.sites.set_index("site_id").loc["in", "dist_redline_m"] == 0


# -- restore_version (what ``ecozone layers copy`` writes with) -----------------------


def relations(backend: Backend) -> set[str]:
    """Every table, view, index and trigger of the store, to check that nothing was left."""
    if backend.kind == "gpkg":
        return {r[0] for r in backend.sql("SELECT name FROM sqlite_master")}
    rows = backend.sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema()"
    )
    return {r[0] for r in rows}


def source_versions(path: Path, frame) -> list:
    """wells v1-v3 (from EPSG:4548, so source_crs is not the storage CRS) and parks v1."""
    gk = "EPSG:4548"
    with LayerStore(path) as src:
        wells = [
            src.import_layer(frame("well", n).to_crs(gk), name="wells", kind="well",
                             source=f"井 {n}", source_date="2023-05")
            for n in (2, 3, 5)
        ]  # fmt: skip
        parks = src.import_layer(frame("park", 2), name="parks", kind="park", source="公园",
                                 synthetic=True)  # fmt: skip
    return [*wells, parks]


def test_restore_version_keeps_number_and_provenance(store_factory, tmp_path, frame):
    w1, w2, w3, parks = source_versions(tmp_path / "src.gpkg", frame)
    with store_factory.open() as store:
        for original in (w3, w1, parks):  # out of order: v3 before v1, v2 left out
            got = store.restore_version(original)
            for attr in ("name", "kind", "version", "source", "source_date", "source_crs",
                         "created_at", "checksum", "row_count", "synthetic"):  # fmt: skip
                assert getattr(got, attr) == getattr(original, attr), attr
            again = store.get(original.name, original.version)  # verified read
            assert again.created_at == original.created_at
            assert again.source_crs == original.source_crs
        assert w1.source_crs == "EPSG:4548"
        hist = store.history("wells")
        assert hist["version"].tolist() == [1, 3]
        assert hist["created_at"].tolist() == [pd.Timestamp(w1.created_at),
                                               pd.Timestamp(w3.created_at)]  # fmt: skip
        assert store.stamp() == {"parks": {"version": 1, "checksum": parks.checksum},
                                 "wells": {"version": 3, "checksum": w3.checksum}}  # fmt: skip
        assert store.get("parks").synthetic
        # the latest view stays on v3 after v1 came in; v2 may follow later
        assert store_factory.sql("SELECT count(*) FROM wells") == [(5,)]
        store.restore_version(w2)
        assert store.history("wells")["checksum"].tolist() == [w1.checksum, w2.checksum,
                                                               w3.checksum]  # fmt: skip
        assert store_factory.sql("SELECT count(*) FROM wells") == [(5,)]
        nxt = store.import_layer(frame("well", 4), name="wells", kind="well", source="新")
        assert nxt.version == 4 and nxt.created_at > w3.created_at
        assert store_factory.sql("SELECT count(*) FROM wells") == [(4,)]


def test_restore_version_refusals_store_nothing(store_factory, tmp_path, frame):
    from dataclasses import replace

    w1, w2, _, parks = source_versions(tmp_path / "src.gpkg", frame)
    duplicated = w2.gdf.copy()
    duplicated.loc[1, "feature_id"] = duplicated.loc[0, "feature_id"]
    with store_factory.open() as store:
        store.restore_version(w1)
        before = relations(store_factory)
        refusals = [
            (w1, StoreError, "already has a version 1"),
            (replace(w2, checksum="0" * 64), ChecksumMismatchError, "nothing was stored"),
            (replace(w2, version=0), LayerValidationError, "only stored layers restore"),
            (replace(parks, name="wells", version=2), LayerValidationError,
             "is of kind 'well'"),
            (replace(w2, gdf=duplicated), LayerValidationError, "well-t0"),
        ]  # fmt: skip
        for layer, error, match in refusals:
            with pytest.raises(error, match=match):
                store.restore_version(layer)
            assert store.list_layers()[["name", "version"]].values.tolist() == [["wells", 1]]
            assert store.history("wells")["checksum"].tolist() == [w1.checksum]
            assert relations(store_factory) == before, match
            if store_factory.kind == "gpkg":
                assert store_factory.sql("SELECT * FROM ecozone_pending_imports") == []
                assert not Path(store_factory.location + ".lock").exists()
        assert store.restore_version(w2).version == 2
        assert store.get("wells").checksum == w2.checksum


# -- both backends give the same checksum -----------------------------------------------

KINDS = [
    "boundary", "redline", "eco_control", "well", "water_source_zone", "park", "residential",
    "tongzhou_key_area", "tongzhou_strict_zone", "control_unit", "pollution_source",
]  # fmt: skip


@pytest.mark.postgis
def test_same_checksum_in_both_backends(pg_url, tmp_path, frame):
    from layers.postgis import PostGISLayerStore

    typed = frame("park", 3)
    typed["count"] = [1, 2, 3]
    typed["maybe"] = pd.array([1, None, 3], dtype="Int64")
    typed["ratio"] = [0.5, np.nan, np.inf]
    typed["flag"] = [True, False, True]
    typed["note"] = ["甲", None, "丙"]
    typed["empty"] = [None, None, None]
    typed["mixed"] = pd.Series([1, "a", None], dtype=object)
    typed["when"] = pd.to_datetime(["2020-01-01 08:00:00.123999", None, "2021-02-03 04:05:06"],
                                   format="ISO8601")  # fmt: skip
    typed["when_tz"] = typed["when"].dt.tz_localize("Asia/Shanghai")
    with (
        LayerStore(tmp_path / "s.gpkg") as gpkg,
        PostGISLayerStore(_schema_url(pg_url)) as pg,
    ):
        for kind in KINDS:
            a = gpkg.import_layer(frame(kind), name=kind, kind=kind, source="s")
            b = pg.import_layer(frame(kind), name=kind, kind=kind, source="s")
            assert a.checksum == b.checksum, kind
        a = gpkg.import_layer(typed, name="typed", kind="park", source="s")
        b = pg.import_layer(typed, name="typed", kind="park", source="s")
        assert a.checksum == b.checksum
        assert pg.get("typed").checksum == a.checksum
        assert b.gdf["maybe"].isna().tolist() == [False, True, False]
        assert b.gdf["mixed"].tolist()[:2] == ["1", "a"]  # as GeoPackage: text


# -- PostGIS specifics --------------------------------------------------------------------


@pytest.mark.postgis
def test_postgis_layout_index_and_view(pg_url, frame):
    from layers.postgis import PostGISLayerStore

    b = Backend("postgis", _schema_url(pg_url))
    with PostGISLayerStore(b.location) as store:
        store.import_layer(frame("park", 2), name="parks", kind="park", source="s")
        store.import_layer(frame("park", 4), name="parks", kind="park", source="s")
    idx = b.sql(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexdef ILIKE '%USING gist%'"
    )
    assert sorted(t for t, _ in idx) == ["parks__v1", "parks__v2"]
    assert b.sql("SELECT count(*) FROM parks") == [(4,)]  # the latest view
    cols = b.sql(
        "SELECT type, srid FROM geometry_columns WHERE f_table_schema = current_schema() "
        "AND f_table_name = 'parks__v1'"
    )
    assert cols == [("MULTIPOLYGON", 4326)]
    assert b.sql("SELECT value FROM ecozone_store_info WHERE key = 'schema_version'") == [("1",)]


@pytest.mark.postgis
def test_postgis_errors_name_the_problem(pg_url):
    from layers.postgis import PostGISLayerStore

    with pytest.raises(StoreError, match="No ecozone layer store"):
        PostGISLayerStore(_schema_url(pg_url), create=False)
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    port = int(host_port.split(":")[1])
    dead = f"postgresql://someone:s3cret@127.0.0.1:{port + 1 if port < 65535 else 1}/x"
    with pytest.raises(StoreError, match="Cannot connect") as info:
        PostGISLayerStore(dead)
    assert "s3cret" not in str(info.value) and "***" in str(info.value)
    with pytest.raises(StoreError, match="schema"):
        PostGISLayerStore(pg_url + "?schema=Bad-Name")


@pytest.mark.postgis
def test_postgis_killed_import_leaves_previous_version(pg_url, frame, tmp_path):
    """SIGKILL a process while it streams a layer: v1 stays intact, no trace of v2."""
    from layers.postgis import PostGISLayerStore

    b = Backend("postgis", _schema_url(pg_url))
    with PostGISLayerStore(b.location) as store:
        v1 = store.import_layer(frame("redline", 3), name="big", kind="redline", source="v1")
    child = textwrap.dedent(
        """
        import sys
        import geopandas as gpd, numpy as np, shapely
        from layers.postgis import PostGISLayerStore
        url, n = sys.argv[1], int(sys.argv[2])
        side = int(np.ceil(np.sqrt(n)))
        i = np.arange(n)
        x, y = 116.0 + (i % side) * 0.002, 39.5 + (i // side) * 0.002
        gdf = gpd.GeoDataFrame(
            {"feature_id": np.char.add("big-", i.astype(str)), "name": "demo"},
            geometry=shapely.box(x, y, x + 0.001, y + 0.001), crs="EPSG:4326")
        with PostGISLayerStore(url) as store:
            print("writing", flush=True)
            store.import_layer(gdf, name="big", kind="redline", source="killed")
        print("committed", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child, b.location, "400000"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "writing"
        copying = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%big__v2%'"
        deadline = time.monotonic() + 120
        while b.sql(copying) == [(0,)]:
            assert proc.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import never reached COPY"
            time.sleep(0.02)
        time.sleep(0.3)  # well inside the COPY of 400 000 features
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with PostGISLayerStore(b.location) as store:
        hist = store.history("big")
        assert hist["version"].tolist() == [1]
        assert store.get("big").checksum == v1.checksum  # verified read of v1
        assert b.sql("SELECT to_regclass('big__v2') IS NULL") == [(True,)]
        v2 = store.import_layer(frame("redline", 5), name="big", kind="redline", source="v2")
        assert v2.version == 2
        assert b.sql("SELECT count(*) FROM big") == [(5,)]


def test_open_store_accepts_postgresql_urls(pg_url):
    from layers import open_store
    from layers.postgis import PostGISLayerStore

    with open_store(_schema_url(pg_url)) as store:
        assert isinstance(store, PostGISLayerStore)


def test_import_sanity_in_both_stores(any_store, frame):
    """Both backends refuse a layer far from every jurisdiction, unless forced (#13 §7)."""
    from tests.ecozone._webdata import make_layers

    any_store.import_layer(make_layers()["boundary"], name="boundary", kind="boundary",
                           source="test")  # fmt: skip
    far = gpd.GeoDataFrame(
        {"feature_id": ["R1"], "name": ["红线"]},
        geometry=[shapely.box(0.0, 0.0, 0.01, 0.01)],
        crs="EPSG:4326",
    )
    with pytest.raises(LayerValidationError, match="0°, 0°"):
        any_store.import_layer(far, name="redline", kind="redline", source="doc")
    assert "redline" not in set(any_store.list_layers()["name"])
    layer = any_store.import_layer(far, name="redline", kind="redline", source="doc", force=True)
    assert "forced import" in any_store.history("redline")["source"].iloc[-1]
    assert layer.version == 1
