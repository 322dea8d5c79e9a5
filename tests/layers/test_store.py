from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.errors import (
    ChecksumMismatchError,
    InputFormatError,
    LayerNotFoundError,
    LayerValidationError,
    MissingLayerError,
    StoreError,
)
from geo.version import __version__
from layers import default_store_path, embedded_dataset_path, open_store
from layers.layer import layer_checksum
from layers.store import LayerStore, MissingKindError

KILL_SCRIPT = Path(__file__).with_name("_kill_import.py")
REPO = Path(__file__).resolve().parents[2]


def features(layer) -> gpd.GeoDataFrame:
    """A layer's features sorted by id, for comparisons."""
    return layer.gdf.sort_values("feature_id").reset_index(drop=True)


def sqlite_names(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def tamper(path: Path, sql: str, params: tuple = ()) -> None:
    """Edit the GeoPackage behind ecozone's back with plain sqlite3."""
    con = sqlite3.connect(path)
    # GDAL's R-tree triggers call these SpatiaLite-style functions.
    for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(fn, 1, lambda g: 0)
    con.execute(sql, params)
    con.commit()
    con.close()


def test_import_list_get_history(store, frame):
    src = frame("water_source_zone", 3)
    v1 = store.import_layer(
        src, name="sources", kind="water_source_zone", source="京政发〔2021〕1号",
        source_date=date(2021, 3, 1),
    )  # fmt: skip
    assert (v1.version, v1.row_count, v1.kind, v1.crs) == (1, 3, "water_source_zone", "EPSG:4326")
    assert v1.source_date == "2021-03-01" and v1.created_at.tzinfo is not None
    assert v1.checksum == layer_checksum(v1.gdf)
    got = store.get("sources")
    assert got.checksum == v1.checksum and got.version == 1
    assert got.gdf["grade"].tolist() == ["1", "2", "quasi"]
    assert got.gdf.crs == "EPSG:4326"
    listed = store.list_layers()
    assert listed[["name", "kind", "version", "row_count"]].values.tolist() == [
        ["sources", "water_source_zone", 1, 3]
    ]
    assert listed.loc[0, "label_zh"] == "饮用水水源保护区"
    assert listed.loc[0, "source"] == "京政发〔2021〕1号"
    assert store.history("sources")["version"].tolist() == [1]
    assert not store.path.with_name("store.gpkg.lock").exists()  # lock file removed
    with sqlite3.connect(store.path) as con:  # the version that wrote it (geo.version)
        written = con.execute("SELECT ecozone_version FROM ecozone_layer_versions").fetchall()
    assert written == [(__version__,)]


def test_every_import_is_a_new_version_and_old_ones_stay_readable(store, frame):
    first = frame("park", 3)
    second = frame("park", 5)
    second["name"] = [f"新公园 {i}" for i in range(5)]
    v1 = store.import_layer(first, name="parks", kind="park", source="2022 survey")
    v2 = store.import_layer(second, name="parks", kind="park", source="2023 survey")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.checksum != v2.checksum
    old, new = store.get("parks", 1), store.get("parks")
    assert old.row_count == 3 and new.row_count == 5 and new.version == 2
    assert old.gdf["name"].tolist() == first["name"].tolist()
    assert new.gdf["name"].tolist() == second["name"].tolist()
    assert old.source == "2022 survey" and new.source == "2023 survey"
    hist = store.history("parks")
    assert hist["version"].tolist() == [1, 2]
    assert hist["checksum"].tolist() == [v1.checksum, v2.checksum]
    assert store.list_layers()["version"].tolist() == [2]
    # A later store sees the same versions.
    with LayerStore(store.path) as again:
        assert features(again.get("parks", 1)).equals(features(old))


def test_get_kind_returns_most_recent_import_of_that_kind(store, frame):
    store.import_layer(frame("redline", 2), name="redline_a", kind="redline", source="a")
    store.import_layer(frame("redline", 3), name="redline_b", kind="redline", source="b")
    assert store.get_kind("redline").name == "redline_b"
    store.import_layer(frame("redline", 4), name="redline_a", kind="redline", source="a2")
    latest = store.get_kind("redline")
    assert (latest.name, latest.version, latest.row_count) == ("redline_a", 2, 4)
    assert store.get_kind("redline", 1).row_count == 2
    assert store.get_kind("生态保护红线").name == "redline_a"


def test_missing_kind_and_missing_layer_errors(store, frame):
    store.import_layer(frame("well", 2), name="wells", kind="well", source="s")
    with pytest.raises(MissingKindError, match=r"holds no 公园绿地 / Park green space.*well"):
        store.get_kind("park")
    with pytest.raises(MissingLayerError):
        store.get_kind("park")
    with pytest.raises(LayerNotFoundError):
        store.get_kind("park")
    with pytest.raises(LayerNotFoundError, match=r"No layer named 'well'.*Layers: wells"):
        store.get("well")
    with pytest.raises(LayerNotFoundError, match=r"no version 3 .*versions: 1"):
        store.get("wells", 3)
    with pytest.raises(LayerNotFoundError):
        store.history("nothing")
    with pytest.raises(LayerValidationError, match="Unknown layer kind"):
        store.get_kind("forest")


def test_kind_is_fixed_per_name(store, frame):
    store.import_layer(frame("park", 2), name="green", kind="park", source="s")
    with pytest.raises(LayerValidationError, match="is of kind 'park'"):
        store.import_layer(frame("residential", 2), name="green", kind="residential", source="s")
    assert store.history("green")["version"].tolist() == [1]


@pytest.mark.parametrize(
    "name",
    ["Redline", "red line", "红线", "redline__v2", "_x", "1st", "gpkg_x", "a" * 49, ""],
    ids=["upper", "space", "chinese", "double-underscore", "leading-_", "digit", "reserved",
         "long", "empty"],
)  # fmt: skip
def test_bad_layer_names(store, frame, name):
    with pytest.raises(LayerValidationError, match="is not allowed"):
        store.import_layer(frame("well", 1), name=name, kind="well", source="s")


def test_source_and_source_date_are_checked(store, frame):
    with pytest.raises(LayerValidationError, match="name the document or file"):
        store.import_layer(frame("well", 1), name="w", kind="well", source=" ")
    with pytest.raises(LayerValidationError, match="not an ISO date"):
        store.import_layer(
            frame("well", 1), name="w", kind="well", source="s", source_date="3/2021"
        )
    layer = store.import_layer(frame("well", 1), name="w", kind="well", source="s",
                               source_date="2021-12")  # fmt: skip
    assert layer.source_date == "2021-12"


def test_invalid_layer_is_not_stored(store, frame):
    bad = frame("well", 2)
    bad.loc[0, "geometry"] = shapely.box(0, 0, 1, 1)
    with pytest.raises(LayerValidationError, match="must be points"):
        store.import_layer(bad, name="wells", kind="well", source="s")
    assert store.list_layers().empty
    assert not any(n.startswith("wells") for n in sqlite_names(store.path))


def test_checksum_mismatch_after_direct_sqlite_edit(store, frame):
    v1 = store.import_layer(frame("well", 3), name="wells", kind="well", source="s")
    v2 = store.import_layer(frame("well", 4), name="wells", kind="well", source="s")
    tamper(store.path, "UPDATE wells__v1 SET name = '篡改' WHERE feature_id = 'well-t1'")
    stored = pyogrio.read_dataframe(store.path, layer="wells__v1")
    actual = layer_checksum(stored)
    assert actual != v1.checksum
    for s in (store, LayerStore(store.path)):  # warm cache and fresh store alike
        with pytest.raises(ChecksumMismatchError) as err:
            s.get("wells", 1)
        msg = str(err.value)
        assert "'wells' version 1" in msg
        assert f"expected {v1.checksum}" in msg and f"got {actual}" in msg
        assert "re-import" in msg and "backup" in msg
    assert isinstance(err.value, StoreError)
    assert store.get("wells").checksum == v2.checksum  # other versions unaffected
    unchecked = store.get("wells", 1, verify=False)
    assert "篡改" in unchecked.gdf["name"].tolist()


def test_reimporting_a_read_back_layer_gives_the_same_checksum(store, frame):
    src = frame("control_unit", 3)
    v1 = store.import_layer(src, name="units", kind="control_unit", source="s")
    copy = store.import_layer(store.get("units").gdf, name="units_copy", kind="control_unit",
                              source="copy")  # fmt: skip
    assert copy.checksum == v1.checksum
    shuffled = store.import_layer(src.iloc[::-1], name="units_rev", kind="control_unit",
                                  source="rev")  # fmt: skip
    assert shuffled.checksum == v1.checksum


def test_tables_open_as_plain_gpkg_layers(store, frame):
    store.import_layer(frame("redline", 2), name="redline", kind="redline", source="a")
    store.import_layer(frame("redline", 3), name="redline", kind="redline", source="b")
    layers = {str(n): t for n, t in pyogrio.list_layers(store.path)}
    assert layers["redline__v1"] == layers["redline__v2"] == "MultiPolygon"
    assert layers["redline"] == "MultiPolygon"  # the latest view
    assert "ecozone_layer_versions" in layers
    latest = pyogrio.read_dataframe(store.path, layer="redline")
    assert latest["feature_id"].tolist() == ["redline-t0", "redline-t1", "redline-t2"]
    info = pyogrio.read_info(store.path, layer="redline__v1")
    assert info["crs"] == "EPSG:4326" and info["features"] == 2


def test_stamp_for_reports(store, frame):
    a = store.import_layer(frame("well", 2), name="wells", kind="well", source="s")
    b = store.import_layer(frame("park", 2), name="parks", kind="park", source="s")
    b2 = store.import_layer(frame("park", 3), name="parks", kind="park", source="s")
    expected = {
        "wells": {"version": 1, "checksum": a.checksum},
        "parks": {"version": 2, "checksum": b2.checksum},
    }
    assert store.stamp() == expected == store.versions()
    assert b.checksum != b2.checksum


def test_export_via_geo_io(store, frame, tmp_path):
    src = frame("control_unit", 3)
    store.import_layer(src, name="units", kind="control_unit", source="s")
    store.import_layer(frame("control_unit", 2), name="units", kind="control_unit", source="s")
    out = store.export("units", tmp_path / "units.geojson", version=1)
    back = pyogrio.read_dataframe(out)
    assert back["unit_code"].tolist() == src["unit_code"].tolist()
    # GeoJSON keeps 15 significant digits; the store holds MultiPolygons.
    np.testing.assert_allclose(
        shapely.get_coordinates(back.geometry.normalize()),
        shapely.get_coordinates(src.geometry.normalize()),
        atol=1e-9,
    )
    gpkg = store.export("units", tmp_path / "units.gpkg")
    assert pyogrio.read_info(gpkg, layer="units")["features"] == 2
    before = store.path.read_bytes()  # into the store's own file: refused, store kept
    with pytest.raises(InputFormatError, match=r"the output path \(OUT\) is the input layer store"):
        store.export("units", store.path)
    assert store.path.read_bytes() == before
    assert store.get("units").version == 2


def test_import_from_file_path(store, frame, tmp_path):
    gk = pyproj.CRS.from_epsg(4548)
    src = frame("park", 2).rename(columns={"name": "名称"}).to_crs(gk)
    path = tmp_path / "parks_gk.gpkg"
    pyogrio.write_dataframe(src, path, layer="parks", driver="GPKG")
    layer = store.import_layer(path, name="parks", kind="park", source=path.name)
    assert layer.source_crs == "EPSG:4548" and layer.crs == "EPSG:4326"
    assert layer.gdf["name"].tolist() == ["park 0", "park 1"]
    assert layer.gdf["source_row"].tolist() == [1, 2]
    expected = frame("park", 2).geometry
    assert np.allclose(shapely.get_coordinates(layer.gdf.geometry.normalize()),
                       shapely.get_coordinates(expected.normalize()), atol=1e-8)  # fmt: skip


def test_orphan_table_of_interrupted_import_is_ignored_and_dropped(store, frame):
    v1 = store.import_layer(frame("well", 2), name="wells", kind="well", source="s")
    # What a process killed after GDAL committed the table, but before the
    # metadata transaction, leaves behind: a pending row and a complete table.
    con = sqlite3.connect(store.path)
    con.execute("INSERT INTO ecozone_pending_imports VALUES ('wells__v2', 'wells', 2, 'x', 'h', 1)")
    con.commit()
    con.close()
    pyogrio.write_dataframe(frame("well", 5), store.path, layer="wells__v2", driver="GPKG")
    assert store.get("wells").version == 1  # ignored while pending
    with LayerStore(store.path) as again:
        assert again.list_layers()["version"].tolist() == [1]
        assert again.get("wells").checksum == v1.checksum
    names = sqlite_names(store.path)
    assert "wells__v2" not in names and "rtree_wells__v2_geom" not in names
    assert [str(n) for n, _ in pyogrio.list_layers(store.path)].count("wells__v2") == 0
    v2 = store.import_layer(frame("well", 3), name="wells", kind="well", source="s")
    assert v2.version == 2 and store.get("wells").row_count == 3


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("mode", ["import", "restore"])
def test_sigkill_during_import_keeps_previous_version(tmp_path, frame, mode):
    path = tmp_path / "kill.gpkg"
    with LayerStore(path) as s:
        v1 = s.import_layer(frame("redline", 3), name="big", kind="redline", source="v1")
    size0 = path.stat().st_size
    child = subprocess.Popen(
        [sys.executable, str(KILL_SCRIPT), str(path), "200000", "big", mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    # Wait until GDAL has written several MB of the new table, then kill.
    while child.poll() is None and time.monotonic() < deadline:
        if path.stat().st_size > size0 + 4_000_000:
            break
        time.sleep(0.002)
    assert child.poll() is None, f"import finished before the kill: {child.communicate()}"
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert "version" not in out
    with LayerStore(path) as s:
        assert s.list_layers()[["name", "version"]].values.tolist() == [["big", 1]]
        assert s.history("big")["version"].tolist() == [1]
        got = s.get("big")  # verifies the checksum
        assert got.checksum == v1.checksum and got.row_count == 3
        assert_geodataframe_equal(features(got), features(v1))
        with pytest.raises(LayerNotFoundError):
            s.get("big", 2)
        con = sqlite3.connect(path)
        assert con.execute("SELECT COUNT(*) FROM ecozone_pending_imports").fetchone() == (0,)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
        assert "big__v2" not in sqlite_names(path)
        again = s.import_layer(frame("redline", 5), name="big", kind="redline", source="v2")
        assert again.version == 2 and s.get("big").row_count == 5


@pytest.mark.slow
def test_reads_stay_consistent_during_an_import_in_another_process(tmp_path, frame):
    path = tmp_path / "busy.gpkg"
    with LayerStore(path) as s:
        v1 = s.import_layer(frame("redline", 3), name="big", kind="redline", source="v1")
    child = subprocess.Popen(
        [sys.executable, str(KILL_SCRIPT), str(path), "30000", "big"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reads, seen_versions = 0, set()
    while child.poll() is None:
        with LayerStore(path) as s:  # a fresh store: no cache, real reads
            got = s.get("big", 1)
            assert got.checksum == v1.checksum
            seen_versions.add(int(s.list_layers()["version"].iloc[0]))
        reads += 1
        time.sleep(0.03)  # leave the writer some air on 2-core CI machines
    out, err = child.communicate()
    assert child.returncode == 0, err
    assert reads >= 3
    assert seen_versions <= {1, 2}
    with LayerStore(path) as s:
        latest = s.get("big")
        assert latest.version == 2 and latest.row_count == 30000
        assert out.split()[-1] == latest.checksum


def test_closed_store_refuses_use(tmp_path):
    with LayerStore(tmp_path / "s.gpkg") as s:
        pass
    with pytest.raises(StoreError, match="is closed"):
        s.list_layers()


def test_empty_store_is_a_geopackage(tmp_path):
    path = tmp_path / "new" / "s.gpkg"
    with LayerStore(path) as s:
        assert s.list_layers().empty and s.stamp() == {}
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone() == (0x47504B47,)
    con.close()
    assert [str(n) for n, _ in pyogrio.list_layers(path)] == ["ecozone_layer_versions"]


def test_not_a_geopackage(tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("hello")
    with pytest.raises(StoreError, match="is not a GeoPackage"):
        LayerStore(path)
    with pytest.raises(StoreError, match="No layer store"):
        LayerStore(tmp_path / "missing.gpkg", create=False)


def test_open_store_rejects_unknown_url_schemes():
    with pytest.raises(StoreError, match="Unsupported layer store URL scheme 'mysql'"):
        open_store("mysql://user@localhost/ecozone")


def test_open_store_default_is_env_store_initialised_once(caplog, frame):
    env = Path(os.environ["ECOZONE_STORE"])
    assert not env.exists()
    demo = embedded_dataset_path()
    with caplog.at_level(logging.WARNING, logger="layers"), open_store() as store:
        assert store.path == env.absolute()
        if demo is None:
            assert store.list_layers().empty
            assert "No embedded demo dataset" in caplog.text
        else:
            con = sqlite3.connect(f"file:{demo}?mode=ro", uri=True)
            names = {r[0] for r in con.execute("SELECT name FROM ecozone_layer_versions")}
            con.close()
            assert set(store.list_layers()["name"]) == names
        store.import_layer(frame("well", 1), name="my_wells", kind="well", source="s")
    with open_store() as again:  # existing store is opened, not re-initialised
        assert "my_wells" in set(again.list_layers()["name"])


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG layout")
def test_open_store_without_env_uses_platform_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("ECOZONE_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "ecozone" / "ecozone.gpkg"
    with open_store() as store:
        assert store.path == default_store_path()
    assert default_store_path().exists()


def test_open_store_with_path_creates_empty_store(tmp_path):
    with open_store(tmp_path / "mine.gpkg") as store:
        assert store.list_layers().empty


def test_a_read_opens_one_sqlite_connection_for_its_metadata(store, frame, monkeypatch):
    # a connection's first statement reads the whole GeoPackage schema: get / get_kind
    # read the rows and the extent of a layer over one connection, not one per query
    store.import_layer(frame("park", 2), name="parks", kind="park", source="s", extent="110101")
    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(a) or connect(*a, **k))
    by_kind = store.get_kind("park")
    assert len(opened) == 1
    assert by_kind.extent == {"adcodes": ["110101"]}
    by_name = store.get("parks")
    assert len(opened) == 2
    assert (by_name.extent, by_name.version) == (by_kind.extent, by_kind.version)
    with pytest.raises(MissingKindError):  # the message still lists what the store holds
        store.get_kind("well")
    assert len(opened) == 3
