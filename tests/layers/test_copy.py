"""``copy_layers`` and ``ecozone layers copy`` between GeoPackage and PostGIS stores."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ecozone.cli.layers_copy import copy as copy_cmd
from geo.errors import ChecksumMismatchError, LayerNotFoundError, StoreError
from layers.copy import copy_layers, open_any_store
from layers.postgis import PostGISLayerStore
from layers.store import LayerStore

TESTS = Path(__file__).resolve().parents[1]
try:  # tests/ is a package when run from the repository root
    from tests.postgis_server import postgis_unavailable_reason, shared_postgis
except ImportError:  # tests/ as a plain folder
    sys.path.insert(0, str(TESTS))
    from postgis_server import postgis_unavailable_reason, shared_postgis


@pytest.fixture(scope="session")
def pg_url() -> str:
    reason = postgis_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    return shared_postgis()


PG = pytest.mark.postgis
PAIRS = [
    pytest.param("gpkg", "gpkg", id="gpkg-gpkg"),
    pytest.param("gpkg", "postgis", id="gpkg-postgis", marks=PG),
    pytest.param("postgis", "gpkg", id="postgis-gpkg", marks=PG),
    pytest.param("postgis", "postgis", id="postgis-postgis", marks=PG),
]


@pytest.fixture
def locate(request, tmp_path):
    """Factory: ``locate(backend)`` gives a fresh store location (path or URL)."""

    def make(backend: str) -> str:
        if backend == "gpkg":
            return str(tmp_path / f"{uuid.uuid4().hex[:8]}.gpkg")
        url = request.getfixturevalue("pg_url")
        return f"{url}?schema=c_{uuid.uuid4().hex[:12]}"

    return make


def fill(store, frame) -> dict[tuple[str, int], str]:
    """Three versions of wells, one of parks; returns (name, version) → checksum."""
    out = {}
    for n in (2, 3, 5):
        layer = store.import_layer(frame("well", n), name="wells", kind="well",
                                   source=f"井 {n}", source_date="2023-05")  # fmt: skip
        out[("wells", layer.version)] = layer.checksum
    park = store.import_layer(frame("park", 4), name="parks", kind="park", source="公园",
                              synthetic=True)  # fmt: skip
    out[("parks", 1)] = park.checksum
    return out


def tamper(location: str, table: str) -> None:
    if "://" not in location:
        con = sqlite3.connect(location, isolation_level=None)
        for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            con.create_function(fn, 1, lambda g: 0)  # named by GDAL's R-tree triggers
        con.execute(f"UPDATE \"{table}\" SET name = 'tampered' WHERE fid = 1")
        con.close()
        return
    import psycopg

    url, _, query = location.partition("?")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"UPDATE {query.split('=')[1]}.\"{table}\" SET name = 'x' WHERE fid = 1")


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_copy_all_versions_keeps_checksums(locate, frame, src_kind, dst_kind):
    src_loc, dst_loc = locate(src_kind), locate(dst_kind)
    with open_any_store(src_loc) as src:
        sums = fill(src, frame)
        src_hist = src.history("wells")
    report = copy_layers(src_loc, dst_loc)
    assert report["action"].tolist() == ["copied"] * 4
    assert (report["src_version"] == report["dst_version"]).all()
    with open_any_store(dst_loc, create=False) as dst:
        for (name, version), checksum in sums.items():
            layer = dst.get(name, version)  # verified read
            assert layer.checksum == checksum
        hist = dst.history("wells")
        assert hist["version"].tolist() == [1, 2, 3]
        assert hist["row_count"].tolist() == [2, 3, 5]
        assert hist["source"].tolist() == src_hist["source"].tolist()
        assert hist["source_date"].tolist() == ["2023-05"] * 3
        assert dst.get("parks").synthetic and dst.get("parks").gdf["synthetic"].all()
        assert dst.stamp() == {"parks": {"version": 1, "checksum": sums[("parks", 1)]},
                               "wells": {"version": 3, "checksum": sums[("wells", 3)]}}  # fmt: skip
        # both kinds of destination keep the import times and source CRSs
        assert hist["created_at"].tolist() == src_hist["created_at"].tolist()
        assert hist["source_crs"].tolist() == src_hist["source_crs"].tolist()


def test_gpkg_copy_keeps_provenance_and_reruns_as_no_op(locate, frame):
    src_loc, dst_loc = locate("gpkg"), locate("gpkg")
    with LayerStore(src_loc) as src:
        sums = fill(src, frame)
        gk = frame("well", 4).to_crs("EPSG:4548")  # source_crs other than the storage CRS
        v4 = src.import_layer(gk, name="wells", kind="well", source="GK")
        sums[("wells", 4)] = v4.checksum
        before = {n: src.history(n) for n in ("wells", "parks")}
    report = copy_layers(src_loc, dst_loc)
    assert report["action"].tolist() == ["copied"] * 5
    with LayerStore(dst_loc, create=False) as dst:
        for name, hist in before.items():
            # versions, created_at (to the microsecond), source_crs, checksums, tables...
            pd.testing.assert_frame_equal(dst.history(name), hist)
        assert dst.history("wells")["source_crs"].tolist()[-1] == "EPSG:4548"
        for (name, version), checksum in sums.items():
            got = dst.get(name, version)  # verified read
            assert got.checksum == checksum
            assert got.created_at == before[name].set_index("version").loc[version, "created_at"]
    again = copy_layers(src_loc, dst_loc)
    assert again["action"].tolist() == ["present"] * 5
    assert (again["src_version"] == again["dst_version"]).all()
    with LayerStore(dst_loc, create=False) as dst:
        for name, hist in before.items():
            pd.testing.assert_frame_equal(dst.history(name), hist)


@pytest.mark.postgis
def test_round_trip_gpkg_postgis_gpkg(locate, frame):
    a, pg, b = locate("gpkg"), locate("postgis"), locate("gpkg")
    with open_any_store(a) as src:
        sums = fill(src, frame)
    copy_layers(a, pg)
    copy_layers(pg, b)
    with LayerStore(b, create=False) as back:
        got = {(r.name, int(r.version)): r.checksum
               for n in ("wells", "parks") for r in back.history(n).itertuples()}  # fmt: skip
    assert got == sums


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_rerun_copies_only_new_versions(locate, frame, src_kind, dst_kind):
    src_loc, dst_loc = locate(src_kind), locate(dst_kind)
    with open_any_store(src_loc) as src:
        fill(src, frame)
    copy_layers(src_loc, dst_loc, names=["wells"])
    with open_any_store(src_loc) as src:
        v4 = src.import_layer(frame("well", 7), name="wells", kind="well", source="新")
    report = copy_layers(src_loc, dst_loc, names=["wells"])
    assert report["action"].tolist() == ["present"] * 3 + ["copied"]
    with open_any_store(dst_loc, create=False) as dst:
        assert dst.list_layers()["name"].tolist() == ["wells"]
        assert dst.get("wells").checksum == v4.checksum and dst.get("wells").version == 4


def test_latest_only_and_unknown_names(locate, frame):
    src_loc, dst_loc = locate("gpkg"), locate("gpkg")
    with open_any_store(src_loc) as src:
        sums = fill(src, frame)
    with pytest.raises(LayerNotFoundError, match=r"no layer 'roads'.*parks, wells"):
        copy_layers(src_loc, dst_loc, names=["wells", "roads"])
    report = copy_layers(src_loc, dst_loc, names=["wells"], all_versions=False)
    assert report[["src_version", "dst_version"]].values.tolist() == [[3, 3]]
    with LayerStore(dst_loc, create=False) as dst:
        assert dst.get("wells").checksum == sums[("wells", 3)]
        assert dst.history("wells")["version"].tolist() == [3]
    report = copy_layers(src_loc, dst_loc, names=["wells"])  # the older versions follow
    assert report["action"].tolist() == ["copied", "copied", "present"]
    assert (report["src_version"] == report["dst_version"]).all()
    with LayerStore(dst_loc, create=False) as dst:
        assert dst.history("wells")["version"].tolist() == [1, 2, 3]
        assert dst.get("wells").version == 3  # still the latest


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_conflicting_version_copies_nothing(locate, frame, src_kind, dst_kind):
    src_loc, dst_loc = locate(src_kind), locate(dst_kind)
    with open_any_store(src_loc) as src:
        fill(src, frame)
    with open_any_store(dst_loc) as dst:
        other = dst.import_layer(frame("well", 9), name="wells", kind="well", source="other")
    with pytest.raises(StoreError, match=r"'wells' v1 differs.*Nothing was copied"):
        copy_layers(src_loc, dst_loc)
    with open_any_store(dst_loc, create=False) as dst:
        assert dst.list_layers()["name"].tolist() == ["wells"]
        assert dst.history("wells")["checksum"].tolist() == [other.checksum]


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_damaged_source_is_not_copied(locate, frame, src_kind, dst_kind):
    src_loc, dst_loc = locate(src_kind), locate(dst_kind)
    with open_any_store(src_loc) as src:
        fill(src, frame)
    tamper(src_loc, "wells__v2")
    with pytest.raises(ChecksumMismatchError, match="wells"):
        copy_layers(src_loc, dst_loc, names=["wells"])
    with open_any_store(dst_loc, create=False) as dst:  # v1 copied, stopped at v2
        assert dst.history("wells")["version"].tolist() == [1]


@pytest.mark.postgis
def test_restore_refuses_a_changed_layer(locate, frame):
    from dataclasses import replace

    with open_any_store(locate("gpkg")) as src:
        layer = src.import_layer(frame("well", 3), name="wells", kind="well", source="s")
    with PostGISLayerStore(locate("postgis")) as dst:
        forged = replace(layer, checksum="0" * 64)
        with pytest.raises(ChecksumMismatchError, match="nothing was stored"):
            dst.restore_version(forged)
        assert dst.list_layers().empty
        dst.restore_version(layer)
        with pytest.raises(StoreError, match="already has a version 1"):
            dst.restore_version(layer)


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_cli_copy(locate, frame, src_kind, dst_kind):
    src_loc, dst_loc = locate(src_kind), locate(dst_kind)
    with open_any_store(src_loc) as src:
        sums = fill(src, frame)
    runner = CliRunner()
    res = runner.invoke(copy_cmd, [src_loc, dst_loc, "--name", "parks", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(v["name"], v["dst_version"], v["action"]) for v in data["versions"]] == [
        ("parks", 1, "copied")
    ]
    assert data["versions"][0]["checksum"] == sums[("parks", 1)]
    res = runner.invoke(copy_cmd, [src_loc, dst_loc])
    assert res.exit_code == 0, res.output
    assert "3 version(s) copied, 1 already present" in res.stderr
    missing = locate(src_kind)
    res = runner.invoke(copy_cmd, [missing, dst_loc])
    assert res.exit_code == 1
    assert "No layer store" in res.output or "No ecozone layer store" in res.output


def test_open_any_store_rejects_other_urls(tmp_path):
    with pytest.raises(StoreError, match="Unsupported layer store URL 'mysql'"):
        open_any_store("mysql://x/y")
