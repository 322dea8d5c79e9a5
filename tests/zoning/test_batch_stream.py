"""Streaming batches (zoning/check/batch.py, geo/io/chunks.py, geo/io/stream_writer.py).

The chunked, parallel batch must write exactly what the one-pass, one-core batch
writes (every column, row order, errors file) on 100 000 mixed sites with bad rows;
an interrupted write must leave the previous output intact; the ``rules`` column
must equal the old implementation's ``groupby(level=0).agg(";".join)``.
"""

from __future__ import annotations

import gc
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.errors import InputFormatError
from geo.io import read_vector
from geo.io.chunks import count_rows, iter_vector_chunks
from geo.io.stream_writer import ChunkWriter
from tests.frames import assert_frame_equal
from tests.zoning.conftest import at, make_layers, random_sites
from zoning.check.batch import BATCH_CHUNK, _chunk_rows, _output_frame, run_batch
from zoning.check.engine import SiteChecker

N = 100_000
CHUNK = 7_919


@pytest.fixture(scope="module")
def mixed_sites(tmp_path_factory) -> tuple:
    """100 000 points, lines and polygons plus bad rows, as a GeoParquet file."""
    gdf = random_sites(N, seed=16)
    gdf["site_id"] = [f"s{i}" for i in range(N)]
    rng = np.random.default_rng(16)
    gdf["project_type"] = rng.choice(["construction", "industrial", "other"], N)
    gdf["owner"] = rng.choice(["甲", "乙", "=cmd", ""], N)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    bad = rng.choice(N, 60, replace=False)
    empty, nan, outside, dup, dup_far, proj = np.split(bad, 6)
    geoms[empty] = shapely.Point()  # rejected by the reader
    geoms[nan] = shapely.points(np.full(len(nan), np.nan), np.full(len(nan), 40.0))
    geoms[outside] = shapely.points(*np.array([at(0, 51_000 + 10 * i) for i in range(10)]).T)
    gdf = gdf.set_geometry(geoms)
    ids = gdf["site_id"].to_numpy().copy()
    first = np.sort(rng.choice(np.arange(20), 10, replace=False))
    ids[dup] = ids[first]  # repeated ids, most of them many chunks later
    ids[dup_far] = ids[N - 1 - np.arange(10)]  # an id that comes again in a later chunk
    gdf["site_id"] = ids
    pt = gdf["project_type"].to_numpy().copy()
    pt[proj] = "spaceship"  # bad project type: a check error
    pt[dup[:3]] = "spaceship"  # a repeated id with a bad project: the repeat is reported
    gdf["project_type"] = pt
    path = tmp_path_factory.mktemp("stream") / "sites.parquet"
    gdf.to_parquet(path)
    return path, make_layers()


def _read(path):
    if path.suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, dtype=str)
    return gpd.read_file(path) if path.suffix == ".gpkg" else gpd.read_parquet(path)


@pytest.fixture(scope="module")
def one_pass(mixed_sites, pack, tmp_path_factory):
    """The one-pass, one-core batch; its verdict rows also written as .gpkg and .csv.

    ``run_batch`` writes a one-chunk batch with one ``ChunkWriter.write`` of the whole
    frame, which is what is done here for the other two formats (the check is the
    slow part: it runs once).
    """
    path, layers = mixed_sites
    folder = tmp_path_factory.mktemp("one")
    s = run_batch(
        path, pack=pack, store_or_layers=layers, out=folder / "one.parquet",
        chunk_size=N + 1_000, workers=1, keep_sites=True,
    )  # fmt: skip
    for suffix in (".gpkg", ".csv"):
        with ChunkWriter(folder / f"one{suffix}") as w:
            w.write(s.sites)
    return s, folder


@pytest.mark.slow  # ~8 s per output format on an idle 2-core machine (13 chunks)
@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".csv"])
def test_chunked_parallel_equals_one_pass(tmp_path, pack, mixed_sites, one_pass, suffix):
    path, layers = mixed_sites
    one, folder = one_pass
    many = run_batch(
        path, pack=pack, store_or_layers=layers, out=tmp_path / f"many{suffix}",
        chunk_size=CHUNK, workers=2, keep_sites=False,
    )  # fmt: skip
    assert many.sites is None  # nothing held all sites
    assert one.stamp["chunks"] == 1 and many.stamp["chunks"] == -(-N // CHUNK)
    a, b = _read(folder / f"one{suffix}"), _read(many.out)
    assert len(a) == one.checked and one.checked > 99_800
    if suffix == ".csv":
        assert_frame_equal(a, b)
    else:
        assert a.crs == b.crs
        assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
    ea = pd.read_csv(one.errors_out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    eb = pd.read_csv(many.errors_out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert_frame_equal(ea, eb)
    # every kind of bad row is there, once
    assert (ea["stage"] == "read").sum() == 20  # empty geometry, NaN coordinates
    assert (ea["status"] == "outside_jurisdiction").sum() == 10
    dups = ea[ea["reason"].str.contains("duplicated")]
    assert len(dups) >= 10 and dups["reason"].str.contains("first at row").all()
    assert (ea["reason"].str.contains("spaceship")).sum() >= 7  # 10 minus repeats
    assert one.by_verdict == many.by_verdict and one.errors == many.errors
    assert one.total == many.total == N
    if suffix == ".parquet":
        assert set(a.columns) >= {"site_id", "rules", "demo_data", "notes", "owner"}
        assert a["source_row"].is_monotonic_increasing


@pytest.mark.slow  # ~8 s on an idle 2-core machine (2 chunks)
def test_the_default_chunks_are_even_and_equal_one_pass(tmp_path, pack, mixed_sites, one_pass):
    path, layers = mixed_sites
    one, folder = one_pass
    even = run_batch(
        path, pack=pack, store_or_layers=layers, out=tmp_path / "even.parquet", workers=2,
        keep_sites=False,
    )  # fmt: skip
    # 100 000 sites on two lanes: two chunks of 50 000, not 80 000 + 20 000
    assert even.stamp["chunk_size"] == N // 2 and even.stamp["chunks"] == 2
    a, b = gpd.read_parquet(folder / "one.parquet"), gpd.read_parquet(even.out)
    assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
    assert one.by_verdict == even.by_verdict and one.errors == even.errors


@given(total=st.integers(1, 5_000_000), lanes=st.integers(1, 8))
@settings(max_examples=300, deadline=None)
def test_default_chunks_are_even_bounded_and_a_multiple_of_the_lanes(total, lanes):
    size = _chunk_rows(total, lanes)
    chunks = -(-total // size)
    if total > 2_000_000:
        assert size == BATCH_CHUNK  # large batches: the chunk that keeps 10 M within 1 GB
    elif total <= 80_000:
        assert chunks == 1  # one chunk, split over threads by the checker
    else:
        assert size <= 80_000
        assert chunks % lanes == 0  # whole rounds: the lanes finish together
        assert chunks * size - total < chunks  # the chunks differ by at most one row
        if chunks > lanes:  # no fewer chunks would do: one round less needs them above 80 000
            assert -(-total // (chunks - lanes)) > 80_000


def test_default_chunks_of_an_unknown_count_are_the_large_batch_chunk():
    assert _chunk_rows(None, 2) == BATCH_CHUNK
    assert _chunk_rows(1_000_000, 2) == 71_429  # 14 chunks: 7 rounds of two lanes
    assert _chunk_rows(100_000, 2) == 50_000


def test_a_store_error_comes_before_a_file_read_whole_is_read(tmp_path, pack, monkeypatch):
    # a GeoJSON file is read whole: the batch reads it only once the layers are loaded
    # (a GeoParquet file's first chunk is read meanwhile)
    import zoning.check.batch as batch_module
    from geo.io.chunks import streams

    src = tmp_path / "sites.geojson"
    random_sites(50, seed=3).to_file(src)
    assert not streams(src)
    reads = []
    real = batch_module.read_vector
    monkeypatch.setattr(
        batch_module, "read_vector", lambda *a, **k: reads.append(a) or real(*a, **k)
    )
    with pytest.raises(InputFormatError, match="store_or_layers"):
        run_batch(src, pack=pack, store_or_layers=42, out=tmp_path / "r.parquet")
    assert reads == []
    run_batch(src, pack=pack, store_or_layers=make_layers(), out=tmp_path / "r.parquet")
    assert len(reads) == 1


def test_repeated_id_across_chunks_reported_like_one_pass(tmp_path, pack):
    layers = make_layers()
    pts = [Point(at(100 * i, 0)) for i in range(6)]
    ids = ["a", "b", "c", "a", "b", "a"]
    g = gpd.GeoDataFrame({"site_id": ids}, geometry=pts, crs="EPSG:4326")
    g.loc[4, "geometry"] = Point()  # a repeat with an empty geometry: the geometry wins
    outs = [
        run_batch(g, pack=pack, store_or_layers=layers, out=tmp_path / f"{k}.csv", chunk_size=k)
        for k in (1, 2, 6)
    ]
    errs = [pd.read_csv(s.errors_out, encoding="utf-8-sig") for s in outs]
    for e in errs[1:]:
        assert_frame_equal(errs[0], e)
    e = errs[0]
    assert e["source_row"].tolist() == [4, 5, 6]
    assert "first at row 1" in e["reason"].iloc[0] and "first at row 1" in e["reason"].iloc[2]
    assert "空几何" in e["reason"].iloc[1]
    assert [s.checked for s in outs] == [3, 3, 3]


@pytest.mark.parametrize("filter_bits", [4, 27])
@pytest.mark.parametrize("run_max", [4, 1 << 21])
def test_seen_ids_give_the_first_row_of_every_repeat(monkeypatch, run_max, filter_bits):
    # the repeated-id table against a dict, over many chunks, with merging capped at
    # a few ids (many unmerged runs) and not (one run per power of two), with a filter
    # that lets nearly every id through to the runs (16 slots) and the real one
    from zoning.check import batch

    monkeypatch.setattr(batch, "_RUN_MAX", run_max)
    monkeypatch.setattr(batch, "_FILTER_BITS", filter_bits)
    rng = np.random.default_rng(3)
    seen = batch._SeenIds()
    first: dict[str, int] = {}
    row = 0
    for size in rng.integers(1, 40, 60):
        ids = np.asarray([f"id{v}" for v in rng.integers(0, 400, size)], dtype=object)
        ids = np.unique(ids)  # a chunk's own repeats are the check's to find
        rows = np.arange(row + 1, row + 1 + len(ids))
        row += len(ids)
        want = [first.get(i, -1) for i in ids]
        for i, r in zip(ids, rows, strict=True):
            first.setdefault(i, int(r))
        assert seen.remember(ids, rows).tolist() == want
    assert len(seen.runs) > (3 if run_max == 4 else 0)
    ids_kept = sum(len(k1) for k1, _, _ in seen.runs)
    assert ids_kept == len(first)
    assert sum(a.nbytes for run in seen.runs for a in run) == 16 * ids_kept  # bytes per id
    assert seen.filter is not None and seen.filter.nbytes == 1 << (filter_bits - 3)


def test_seen_ids_give_the_first_of_an_id_repeated_within_a_chunk():
    # one id twice in a chunk (the check reports the second), then in later chunks:
    # the first row is the earlier of the two, however the runs were sorted and merged
    from zoning.check import batch

    seen = batch._SeenIds()
    ids = [f"id{i}" for i in range(50)]
    assert (seen.remember([*ids[:10], "id3"], np.arange(1, 12)) == -1).all()
    for start in range(10, 50, 10):  # the first run (with the repeat) merged into others
        rows = np.arange(start + 2, start + 12)
        assert (seen.remember(ids[start : start + 10], rows) == -1).all()
    assert [len(run[0]) for run in seen.runs] == [31, 20]
    assert seen.remember(["id3", "id0", "id49", "new"], np.arange(100, 104)).tolist() == [
        4,
        1,
        51,
        -1,
    ]


def test_point_grids_built_beside_the_first_chunks_change_nothing(tmp_path, pack, monkeypatch):
    # a batch known to bring many points builds its layers' point grids at once, on a
    # thread of its own, while the first chunks are checked exactly: the same rows
    from zoning.check import engine, relations

    layers = make_layers()
    path = tmp_path / "sites.parquet"
    random_sites(6_000, seed=21).to_parquet(path)
    before = run_batch(
        path, pack=pack, store_or_layers=layers, out=tmp_path / "before.parquet",
        chunk_size=1_000, workers=2,
    )  # fmt: skip
    monkeypatch.setattr(engine, "GRID_AFTER_POINTS", 1_000)
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 1_000)
    checkers = []
    expect = engine.SiteChecker.expect_points

    def spy(self, points):
        checkers.append((self, points))
        return expect(self, points)

    monkeypatch.setattr(engine.SiteChecker, "expect_points", spy)
    after = run_batch(
        path, pack=pack, store_or_layers=layers, out=tmp_path / "after.parquet",
        chunk_size=1_000, workers=2,
    )  # fmt: skip
    ((checker, points),) = checkers
    assert 1_500 < points < 2_500  # a third of the sites are points
    assert all(ix._grid is not False for ix in checker.index.values())  # every grid built
    assert not any(t.name == "ecozone-point-grids" for t in threading.enumerate())
    a, b = gpd.read_parquet(before.out), gpd.read_parquet(after.out)
    assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)


def test_interrupted_write_leaves_previous_output(tmp_path, pack, monkeypatch):
    layers = make_layers()
    sites = random_sites(3_000, seed=5)
    for suffix in (".parquet", ".gpkg", ".csv"):
        out = tmp_path / f"r{suffix}"
        if suffix == ".gpkg":  # a GeoPackage output goes into a copy of the file
            sites.iloc[:1].to_file(out, layer="r")
        else:
            out.write_bytes(b"previous result")
        previous = out.read_bytes()
        calls = {"n": 0}
        real = ChunkWriter.write

        def failing(self, gdf, _real=real, _calls=calls, **kw):
            _calls["n"] += 1
            if _calls["n"] == 2:  # the second chunk: the file is half written
                raise OSError(28, "No space left on device")
            _real(self, gdf, **kw)

        monkeypatch.setattr(ChunkWriter, "write", failing)
        with pytest.raises(OSError, match="No space"):
            run_batch(sites, pack=pack, store_or_layers=layers, out=out, chunk_size=1_000)
        monkeypatch.undo()
        assert out.read_bytes() == previous
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
        run_batch(sites, pack=pack, store_or_layers=layers, out=out, chunk_size=1_000)
        assert len(_read(out)) == 3_000


def test_a_failing_check_in_one_lane_stops_the_batch_and_keeps_the_output(
    tmp_path, pack, monkeypatch
):
    # chunks are checked two at once: a check that fails in one thread surfaces, the
    # other lane's chunk is not written after it, and the previous file stays
    layers = make_layers()
    sites = random_sites(6_000, seed=6)
    out = tmp_path / "r.parquet"
    out.write_bytes(b"previous result")
    calls = {"n": 0}
    real = SiteChecker.check
    lock = threading.Lock()

    def failing(self, *args, **kwargs):
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n == 3:
            raise RuntimeError("check failed on the third chunk")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SiteChecker, "check", failing)
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="third chunk"):
        run_batch(sites, pack=pack, store_or_layers=layers, out=out, chunk_size=1_000,
                  workers=2, progress=lambda done, total: seen.append(done))  # fmt: skip
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert seen == [1_000, 2_000]  # the chunks checked before the failure, no more


def test_rules_column_equals_groupby_join(pack):
    layers = make_layers()
    sites = random_sites(5_000, seed=9)
    sites["source_row"] = np.arange(1, len(sites) + 1)
    result = SiteChecker(pack, layers).check(sites, workers=1)
    frame = _output_frame(result, sites)
    f = result.findings
    old = f.set_index("site_id")["rule_id"].astype(str).groupby(level=0, sort=False).agg(";".join)
    expect = result.sites["site_id"].map(old).fillna("")
    assert (frame["rules"].to_numpy() == expect.to_numpy()).all()
    assert (frame["rules"] != "").sum() > 1_000


def test_point_rows_are_written_at_their_own_coordinates_after_repeats(tmp_path, pack):
    """Points are written from the coordinates the check read once (CheckResult.site_xy)."""
    layers = make_layers()
    rng = np.random.default_rng(11)
    pts = shapely.points([at(x, y) for x, y in rng.uniform(-3_000, 3_000, (1_000, 2))])
    ids = [f"p{i % 700}" for i in range(1_000)]  # rows 701-1000 repeat earlier chunks' ids
    g = gpd.GeoDataFrame({"site_id": ids}, geometry=pts, crs="EPSG:4326")
    s = run_batch(g, pack=pack, store_or_layers=layers, out=tmp_path / "r.parquet",
                  chunk_size=150)  # fmt: skip
    got = gpd.read_parquet(s.out)
    assert s.checked == len(got) == 700 and s.errors == 300
    assert got["source_row"].tolist() == list(range(1, 701))
    assert shapely.equals(got.geometry.array, pts[:700]).all()
    ck = SiteChecker(pack, layers)
    one = ck.check(g.iloc[:700], workers=1, relations=False)  # (as a batch's chunk)
    np.testing.assert_array_equal(one.site_xy(), shapely.get_coordinates(one.sites.geometry))
    assert ck.check(random_sites(50, seed=2), workers=1, relations=False).site_xy() is None
    assert ck.check(g.iloc[:700], workers=1).site_xy() is None  # frames built: no arrays
    one.sites = one.sites.iloc[::-1]  # replaced by the caller: its geometries are the truth
    assert one.site_xy() is None


def test_geoparquet_output_reads_back(tmp_path, pack):
    layers = make_layers()
    sites = random_sites(2_000, seed=3)
    s = run_batch(sites, pack=pack, store_or_layers=layers, out=tmp_path / "r.parquet",
                  chunk_size=300)  # fmt: skip
    got = gpd.read_parquet(s.out)
    assert got.crs.to_epsg() == 4326 and len(got) == s.checked == 2_000
    assert set(got.geom_type) == {"Point", "LineString", "Polygon"}
    assert shapely.equals(got.geometry.array, sites.geometry.array).all()


@pytest.mark.parametrize("fmt", ["parquet", "gpkg", "csv"])
def test_iter_vector_chunks_equals_read_vector(tmp_path, fmt):
    g = random_sites(500, seed=2)
    g["site_id"] = [f"x{i}" for i in range(500)]
    g.loc[7, "geometry"] = Point()
    g.loc[300, "geometry"] = Point(np.nan, 1.0)
    path = tmp_path / f"s.{fmt}"
    if fmt == "parquet":
        g.to_parquet(path)
    elif fmt == "gpkg":
        g.to_file(path)
    else:
        pts = g[g.geom_type == "Point"]
        pd.DataFrame(
            {"site_id": pts["site_id"], "lon": pts.geometry.x, "lat": pts.geometry.y}
        ).to_csv(path, index=False)
    with pytest.warns(UserWarning):
        whole = read_vector(path)
    with pytest.warns(UserWarning):
        parts = list(iter_vector_chunks(path, chunk_size=97))
    joined = pd.concat(parts, ignore_index=True)
    assert_frame_equal(pd.DataFrame(joined), pd.DataFrame(whole))
    issues = [i for p in parts for i in p.attrs["issues"]]
    assert issues == whole.attrs["issues"] and len(issues) >= 1
    for p in parts:  # each chunk carries the issues of its own rows
        rows = p["source_row"]
        assert all(rows.min() - 97 <= i["row"] <= rows.max() + 97 for i in p.attrs["issues"])
    assert count_rows(path) == (500 if fmt != "csv" else None)


def test_streaming_a_parquet_file_holds_no_more_than_a_chunk(tmp_path):
    # pre-buffered row groups stayed cached until the file was read through
    # (apache/arrow#39808): 10 M points held ~200 MB of pages. Arrow's memory while
    # streaming must stay well below the file's size (measured: 5 MB for a 28 MB file
    # read 10 000 rows at a time, against 32 MB with pre-buffering).
    import pyarrow as pa

    n = 1_000_000
    rng = np.random.default_rng(5)
    pts = shapely.points(rng.uniform(116.0, 117.0, n), rng.uniform(39.5, 40.5, n))
    path = tmp_path / "many.parquet"
    gpd.GeoDataFrame({"v": rng.random(n)}, geometry=pts, crs=4326).to_parquet(
        path, row_group_size=50_000
    )
    del pts
    gc.collect()  # what earlier tests of this process left to Arrow is not the stream's
    base = pa.total_allocated_bytes()
    held = 0
    for chunk in iter_vector_chunks(path, chunk_size=10_000):
        assert len(chunk) == 10_000
        held = max(held, pa.total_allocated_bytes() - base)
    assert held < path.stat().st_size / 2, (held, base, path.stat().st_size)


def test_lanes_never_exceed_the_cores(pack, monkeypatch):
    # each lane holds a chunk: --workers 64 on 2 cores must not hold 64 chunks
    from zoning.check import batch

    checker = SiteChecker(pack, make_layers())
    monkeypatch.setattr(batch, "available_cores", lambda: 2)
    extra = batch._check_kwargs(checker, None, "rules")
    assert batch._lanes(checker, extra, 64, 1_000_000, 40_000) == 2
    assert batch._lanes(checker, extra, None, 1_000_000, 40_000) == 2
    assert batch._lanes(checker, extra, 1, 1_000_000, 40_000) == 1
    assert batch._lanes(checker, extra, 64, 40_000, 40_000) == 1  # one chunk: split by checker
    assert batch._lanes(checker, extra, None, None, 40_000) == 2  # row count unknown
    assert batch._lanes(checker, {}, None, 1_000_000, 40_000) == 1  # check takes no workers


def _hash_of_each(texts: list[str]) -> list[tuple[int, int]]:
    """Each text hashed alone (an array of one): the reference for any array."""
    from zoning.check.batch import _ID_SEEDS, _text_hashes

    return [tuple(int(h[0]) for h in _text_hashes([t], _ID_SEEDS)) for t in texts]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=40))
def test_a_text_hash_depends_on_the_text_only(texts):
    # the same text gets the same hashes in any array: one length or mixed lengths,
    # Arrow string or large string, chunked, sliced, or a list of str
    import pyarrow as pa

    from zoning.check.batch import _ID_SEEDS, _text_hashes

    want = _hash_of_each(texts)
    arrays = [
        texts,
        pa.array(texts, type=pa.string()),
        pa.array(["pad", *texts], type=pa.large_string()).slice(1),
        pa.chunked_array([pa.array(texts[:1]), pa.array(texts[1:], type=pa.string())]),
    ]
    for arr in arrays:
        h1, h2 = _text_hashes(arr, _ID_SEEDS)
        assert list(zip(h1.tolist(), h2.tolist(), strict=True)) == want
    distinct = {t: h for t, h in zip(texts, want, strict=True)}
    assert len(set(distinct.values())) == len(distinct)  # no two texts share both hashes


def test_text_hashes_tell_apart_ids_that_differ_little():
    from zoning.check.batch import _ID_SEEDS, _text_hashes

    ids = [f"S{i:08d}" for i in range(200_000)] + [str(i) for i in range(200_000)]
    ids += ["", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00", "a" * 8, "a" * 9, "北京市通州区"]
    h1, h2 = _text_hashes(ids, _ID_SEEDS)
    assert len(np.unique(h1)) == len(ids)  # not even the first hash collides
    assert len(np.unique(h2)) == len(ids)
    # a missing id hashes as "", as the check names it
    import pyarrow as pa

    m1, m2 = _text_hashes(pa.array([None, ""], type=pa.string()), _ID_SEEDS)
    assert m1[0] == m1[1] == h1[400_000] and m2[0] == m2[1] == h2[400_000]


def test_site_ids_of_any_column_type_are_the_checks_texts():
    from zoning.check.batch import _ID_SEEDS, _site_id_texts, _text_hashes

    def hashes(values, dtype=None):
        g = gpd.GeoDataFrame(
            {"site_id": pd.Series(values, dtype=dtype)},
            geometry=[Point(116.4, 39.9)] * len(values), crs="EPSG:4326",
        )  # fmt: skip
        return [h.tolist() for h in _text_hashes(_site_id_texts(g), _ID_SEEDS)]

    want = [h.tolist() for h in _text_hashes(["1", "22", ""], _ID_SEEDS)]
    assert hashes(["1", "22", None]) == want  # Arrow strings, a missing one
    assert hashes(["1", "22", None], dtype=object) == want
    assert hashes(["1", "22", ""], dtype="string[python]") == want
    assert hashes([1, 22, 3])[0][:2] == want[0][:2]  # integers: their text


def test_a_file_read_whole_gives_the_writer_its_row_count(tmp_path, pack, monkeypatch):
    # a CSV's rows are known once it is read: a large GeoPackage output is then written
    # by GDAL in a child process, as for a GeoParquet input of the same rows
    import zoning.check.batch as batch_module

    src = tmp_path / "sites.csv"
    pts = random_sites(300, seed=4)
    pts = pts[pts.geom_type == "Point"]
    pd.DataFrame({"site_id": [f"s{i}" for i in range(len(pts))], "lon": pts.geometry.x,
                  "lat": pts.geometry.y}).to_csv(src, index=False)  # fmt: skip
    told = []
    real = batch_module.ChunkWriter

    def writer(path, **kwargs):
        told.append(kwargs.get("expected_rows"))
        return real(path, **kwargs)

    monkeypatch.setattr(batch_module, "ChunkWriter", writer)
    run_batch(src, pack=pack, store_or_layers=make_layers(), out=tmp_path / "r.gpkg")
    assert told == [len(pts)]
