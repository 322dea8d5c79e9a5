"""ChunkWriter: categorical text as plain text, types kept, GeoPackage chunks that do not fit."""

from __future__ import annotations

import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from geo.io.stream_writer import ChunkWriter


def _chunk(start: int, texts: list[str], **extra) -> gpd.GeoDataFrame:
    n = len(texts)
    return gpd.GeoDataFrame(
        {"n": range(start, start + n), "text": pd.Categorical(texts), **extra},
        geometry=shapely.points([[116.0 + i / 100, 40.0] for i in range(n)]),
        crs="EPSG:4326",
    )


def test_categorical_text_reads_back_as_plain_text(tmp_path):
    # the chunks' categories differ (and so would their dictionaries and index widths)
    long = [f"规则{i};" * 40 for i in range(200)]
    chunks = [_chunk(0, ["甲", "乙", "甲"]), _chunk(3, [*long[:150], ""]), _chunk(154, ["丙"])]
    path = tmp_path / "out.parquet"
    with ChunkWriter(path) as w:
        for c in chunks:
            w.write(c)
    schema = pq.read_schema(path)
    assert schema.field("text").type == pa.string()  # not a dictionary: any reader sees text
    assert b"geo" in schema.metadata  # GeoParquet metadata written without Arrow's schema
    back = gpd.read_parquet(path)
    expected = pd.concat([c["text"].astype(str) for c in chunks], ignore_index=True)
    assert back["text"].tolist() == expected.tolist()
    assert back["n"].tolist() == list(range(155))
    assert back.crs.equals("EPSG:4326")
    assert shapely.equals(back.geometry.array, pd.concat([c.geometry for c in chunks]).array).all()


def test_a_column_needing_arrows_schema_keeps_its_type(tmp_path):
    when = pd.to_datetime(["2026-12-04 08:00"] * 2).tz_localize("Asia/Shanghai")
    path = tmp_path / "out.parquet"
    with ChunkWriter(path) as w:
        w.write(_chunk(0, ["甲", "乙"], when=when))
        w.write(_chunk(2, ["丙", "甲"], when=when))
    back = gpd.read_parquet(path)
    assert str(back["when"].dt.tz) == "Asia/Shanghai"  # lost without Arrow's schema
    assert back["text"].astype(str).tolist() == ["甲", "乙", "丙", "甲"]
    assert not pa.types.is_dictionary(pq.read_schema(path).field("text").type)


@pytest.mark.parametrize("suffix", [".gpkg", ".csv"])
def test_categorical_text_in_other_formats(tmp_path, suffix):
    from geo.io import read_vector

    path = tmp_path / f"out{suffix}"
    with ChunkWriter(path) as w:
        w.write(_chunk(0, ["甲", "=1+1"]))
        w.write(_chunk(2, ["乙"]))
    back = read_vector(path)
    texts = back["text"].astype(str).tolist()
    assert texts[0] == "甲" and texts[2] == "乙"
    assert texts[1] == ("'=1+1" if suffix == ".csv" else "=1+1")  # CSV: formula-safe


def test_repeated_text_gets_dictionary_pages_distinct_text_and_numbers_do_not(tmp_path):
    n = 1_000
    chunk = _chunk(0, ["甲", "乙"] * (n // 2), site_id=[f"S{i:05d}" for i in range(n)],
                   verdict=["符合", "数据不足"] * (n // 2), dist_m=np.arange(n) * 1.5)  # fmt: skip
    path = tmp_path / "out.parquet"
    with ChunkWriter(path) as w:
        w.write(chunk)
        w.write(chunk.assign(n=chunk["n"] + n))
    meta = pq.ParquetFile(path).metadata
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        paged = {group.column(i).path_in_schema: group.column(i).has_dictionary_page
                 for i in range(group.num_columns)}  # fmt: skip
        assert paged["text"] and paged["verdict"]  # categorical, repeated text
        assert not paged["site_id"] and not paged["dist_m"] and not paged["n"]
    back = gpd.read_parquet(path)
    assert back["site_id"].tolist() == chunk["site_id"].tolist() * 2
    assert back["verdict"].tolist() == chunk["verdict"].tolist() * 2
    assert back["dist_m"].tolist() == chunk["dist_m"].tolist() * 2


def _one_column(values) -> gpd.GeoDataFrame:
    n = len(values)
    return gpd.GeoDataFrame(
        {"a": values}, geometry=shapely.points(np.arange(n), np.arange(n)), crs="EPSG:4326"
    )


@pytest.mark.parametrize(
    ("first", "later", "kind", "shown"),
    [
        ([np.nan, np.nan], ["x", "y"], "number (Real)", "'x'"),  # GDAL wrote 0.0
        ([1.5, 2.5], [3.0, "十"], "number (Real)", "'十'"),
        ([1, 2], [np.nan, 1.5], "whole-number (Integer64)", "1.5"),  # GDAL wrote 1
        (np.array([1, 2], dtype="int32"), [3, 2**40], "whole-number (Integer)", str(2**40)),
        ([True, False], [True, 2], "yes/no (Boolean)", "2"),  # GDAL wrote True
        (pd.to_datetime(["2026-01-01", "2026-01-02"]), [None, "明天"], "date-time", "'明天'"),
    ],
)
def test_gpkg_refuses_a_chunk_its_first_chunks_fields_would_not_hold(
    tmp_path, first, later, kind, shown
):
    from geo.errors import InputFormatError

    path = tmp_path / "out.gpkg"
    _one_column(["旧"]).to_file(path, layer="out")  # a previous output
    with pytest.raises(InputFormatError) as err:
        with ChunkWriter(path) as w:
            w.write(_one_column(first))
            w.write(_one_column(later))
    msg = str(err.value)
    bad_row = 2 + next(i for i, v in enumerate(later) if str(v) == shown.strip("'")) + 1
    assert "'a'" in msg and kind in msg and shown in msg and f"row {bad_row} " in msg
    assert gpd.read_file(path)["a"].tolist() == ["旧"]  # the previous output is intact


@pytest.mark.parametrize(
    ("first", "later", "expected"),
    [
        ([None, None], ["x", 1.5], [None, None, "x", "1.5"]),  # a text field: any value
        (["x", "y"], [1, 2.5], ["x", "y", "1", "2.5"]),
        ([1, 2], [3.0, np.nan], [1, 2, 3, None]),  # whole numbers with a missing value
        ([1.5, 2.5], [3, True], [1.5, 2.5, 3.0, 1.0]),
        ([True, False], [1.0, None], [True, False, True, None]),
        (pd.Categorical(["甲", "乙"]), pd.Categorical(["丙", "甲"]), ["甲", "乙", "丙", "甲"]),
        (
            pd.to_datetime(["2026-01-01 08:00", "2026-01-02 00:00"]),
            [datetime.datetime(2026, 3, 1, 9, 30, 15), None],
            [*map(pd.Timestamp, ["2026-01-01 08:00", "2026-01-02", "2026-03-01 09:30:15"]), None],
        ),
    ],
)
def test_gpkg_writes_later_chunks_that_fit_as_they_are(tmp_path, first, later, expected):
    path = tmp_path / "out.gpkg"
    with ChunkWriter(path) as w:
        w.write(_one_column(first))
        w.write(_one_column(later))
    back = gpd.read_file(path)["a"].astype(object).where(lambda s: s.notna(), None)
    assert back.tolist() == expected


@pytest.mark.parametrize("expected_rows", [10**6, None])  # a child process; a thread
def test_gpkg_chunks_go_to_gdal_in_one_session_with_one_spatial_index(
    tmp_path, monkeypatch, expected_rows
):
    # each chunk appended in a session of its own had GDAL update the R-tree row by row
    import subprocess

    real, children = subprocess.Popen, []

    def popen(args, **kw):
        children.append(args)
        return real(args, **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    path = tmp_path / "out.gpkg"
    with ChunkWriter(path, expected_rows=expected_rows) as w:
        w.write(_chunk(0, ["甲", "乙"], d=[1.5, np.nan]))
        w.write(_chunk(2, ["丙"], d=[2.5]))
        w.write(_chunk(3, ["丁", "甲"], d=[np.nan, 4.0]))
    if expected_rows:  # many: GDAL beside this process
        assert len(children) == 1 and children[0][1].endswith("_gpkg_child.py")
    else:  # unknown (or a few): no process to start
        assert children == []
    info = pyogrio.read_info(path)
    assert info["features"] == 5 and info["geometry_type"] == "Point"
    assert info["capabilities"]["fast_spatial_filter"]  # the R-tree, built once
    assert dict(zip(info["fields"], info["dtypes"], strict=True)) == {
        "n": "int64", "text": "object", "d": "float64"
    }  # fmt: skip
    back = gpd.read_file(path)
    assert back["text"].tolist() == ["甲", "乙", "丙", "丁", "甲"]
    assert back["n"].tolist() == [0, 1, 2, 3, 4]
    assert back["d"].iloc[[0, 2, 4]].tolist() == [1.5, 2.5, 4.0]
    assert back["d"].iloc[[1, 3]].isna().all()
    assert back.crs.equals("EPSG:4326")
    near = gpd.read_file(path, bbox=(116.005, 39.9, 116.025, 40.1))  # through the index
    assert near["n"].tolist() == [1, 4]  # (each chunk's points start at 116.00°E)
    with ChunkWriter(tmp_path / "mixed.gpkg", expected_rows=expected_rows) as w:
        w.write(_one_column(["x", 2.0]))  # Arrow refuses a mixed column: its values' text
        w.write(_one_column(["z", 0.1 + 0.2]))
    back = gpd.read_file(tmp_path / "mixed.gpkg")["a"].tolist()
    assert back == ["x", "2", "z", "0.30000000000000004"]  # as GDAL writes 2.0; no digit lost


def test_gpkg_writer_that_stops_mid_stream_names_the_file_and_keeps_the_target(tmp_path):
    from geo.errors import InputFormatError

    path = tmp_path / "out.gpkg"
    _one_column(["旧"]).to_file(path, layer="out")  # a previous output
    with pytest.raises(InputFormatError, match="cannot write the data as GPKG") as err:
        with ChunkWriter(path, expected_rows=10**6) as w:
            w.write(_one_column(["新", "新"]))
            w._gpkg._proc.kill()  # GDAL's process dies (killed, out of memory …)
            w._gpkg._proc.wait()
            for _ in range(50):  # the writer learns of it at a later chunk, or at the end
                w.write(_one_column(["新" * 1000] * 100))
    assert str(path) in str(err.value)
    assert gpd.read_file(path)["a"].tolist() == ["旧"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]  # no temporary left


@pytest.mark.parametrize("process", [True, False])
def test_gpkg_error_of_gdal_reaches_the_writer_with_gdals_message(tmp_path, process):
    from geo.errors import InputFormatError
    from geo.io.stream_writer import _gpkg_arrow, _GpkgStream

    table = _gpkg_arrow(_one_column(["x"]))
    bad = tmp_path / "no such folder" / "out.gpkg"  # GDAL cannot create the file
    stream = _GpkgStream(bad, bad, "out", process=process)
    with pytest.raises(InputFormatError) as err:
        stream.start(table.schema, "geometry", "Point", "EPSG:4326")
        stream.put(table)
        stream.close()
    msg = str(err.value)
    assert str(bad) in msg and "cannot write the data as GPKG" in msg
    assert "no such folder" in msg.split("(", 1)[1]  # GDAL's own words, from the child


@pytest.mark.parametrize("expected_rows", [10**6, None])
def test_gpkg_refused_chunk_stops_gdal_and_keeps_the_target(tmp_path, expected_rows):
    import threading

    from geo.errors import InputFormatError

    path = tmp_path / "out.gpkg"
    _one_column(["旧"]).to_file(path, layer="out")
    with pytest.raises(InputFormatError):
        with ChunkWriter(path, expected_rows=expected_rows) as w:
            w.write(_one_column([1, 2]))
            w.write(_one_column(["三", 4]))  # a whole-number field: refused
    assert gpd.read_file(path)["a"].tolist() == ["旧"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]
    assert not [t for t in threading.enumerate() if t.name == "ecozone-gpkg-write"]


def test_gpkg_chunks_keep_the_files_other_layers_and_their_styles(tmp_path):
    from geo.io import read_vector, write_vector
    from geo.io.gpkg_styles import QgisStyle, read_layer_styles

    path = tmp_path / "project.gpkg"
    roads = _one_column(["路1", "路2"])
    write_vector(roads, path, layer="roads", style=QgisStyle(name="roads", qml="<qgis/>"))
    write_vector(roads.iloc[:1], path, layer="project")  # an older result: replaced
    with ChunkWriter(path, style=QgisStyle(name="verdicts", qml="<qgis/>")) as w:
        w.write(_one_column(["甲", "乙"]))
        w.write(_one_column(["丙"]))
    layers = {str(n) for n, _ in pyogrio.list_layers(path)} - {"layer_styles"}
    assert layers == {"project", "roads"}
    assert read_vector(path, layer="roads")["a"].tolist() == ["路1", "路2"]
    assert read_vector(path, layer="project")["a"].tolist() == ["甲", "乙", "丙"]
    styles = read_layer_styles(path)
    assert {k: v.name for k, v in styles.items()} == {"roads": "roads", "project": "verdicts"}


@pytest.mark.parametrize("kind", ["text", "sqlite"])
def test_gpkg_chunks_refuse_a_target_that_is_not_a_geopackage_before_writing(tmp_path, kind):
    from geo.errors import InputFormatError
    from tests.geo.test_writers import _not_a_geopackage

    path = tmp_path / "results.gpkg"
    content = _not_a_geopackage(path, kind)
    with pytest.raises(InputFormatError, match="not a GeoPackage"):
        with ChunkWriter(path):
            raise AssertionError("not reached: refused on entering")
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["results.gpkg"]  # no temporary left


def test_gpkg_child_that_warns_a_lot_does_not_block_the_writer(tmp_path, monkeypatch):
    # a child blocked writing a full stderr pipe would never read the stream
    import threading

    import geo.io.stream_writer as sw

    noisy = tmp_path / "noisy_child.py"
    noisy.write_text(
        "import sys\n"
        "for i in range(20000):\n"
        "    print(f'Warning {i}: a GDAL message about a row', file=sys.stderr)\n"
        "sys.stdin.buffer.read()\n"
    )
    monkeypatch.setattr(sw, "_GPKG_CHILD", noisy)
    table = sw._gpkg_arrow(_one_column(["x" * 1000] * 1000))
    done = []

    def feed():
        stream = sw._GpkgStream(tmp_path / "out.gpkg", tmp_path / "out.gpkg", "out", process=True)
        stream.start(table.schema, "geometry", "Point", "EPSG:4326")
        for _ in range(100):  # 100 MB: far more than a pipe holds
            stream.put(table)
        stream.close()
        done.append(True)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    feeder.join(timeout=60)
    assert done == [True]


def test_gpkg_child_dies_with_its_parent():
    # a web worker killed at its time limit (SIGKILL) must not leave its GDAL child
    # writing and indexing a file nobody waits for
    import subprocess
    import sys
    import time
    from pathlib import Path

    parent = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import os, time; "
        "from geo.io._gpkg_child import die_with; die_with(os.getppid()); "
        "print(1, flush=True); time.sleep(60)'], stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"  # the child has set its signal
        "print(child.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", parent], cwd=root, capture_output=True, text=True, timeout=60
    )
    child = int(run.stdout.split()[0])

    def alive() -> bool:
        try:
            state = Path(f"/proc/{child}/status").read_text()
        except FileNotFoundError:
            return False
        return "State:\tZ" not in state  # (a zombie has ended)

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive()


def test_gpkg_child_gives_sqlite_a_page_cache_that_holds_the_spatial_index_and_a_users_wins():
    # with SQLite's 2 MB default, GDAL rewrote each page of a million-point index
    # table about four times (benchmarks/RESULTS.md)
    from geo.io._gpkg_child import SQLITE_CACHE_MB, configure_gdal

    environ: dict[str, str] = {}
    configure_gdal(environ)
    assert environ == {"OGR_SQLITE_CACHE": SQLITE_CACHE_MB} and int(SQLITE_CACHE_MB) >= 16
    mine = {"OGR_SQLITE_CACHE": "256"}
    configure_gdal(mine)
    assert mine == {"OGR_SQLITE_CACHE": "256"}
