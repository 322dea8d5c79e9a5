"""The dask engine gives the in-memory engine's results, on local clusters.

Layers and pack are the hand-made ones of tests/zoning/conftest.py (fixtures
``layers`` and ``pack``). Sites are generated in fixtures, vectorised.
"""

from __future__ import annotations

import hashlib
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from tests.frames import assert_frame_equal

pytest.importorskip("dask_geopandas")
pytest.importorskip("distributed")

from geo.errors import CRSDetectionError, InputFormatError
from zoning.check.batch import run_batch
from zoning.check.distributed import (
    check_sites_dask,
    dask_client,
    hilbert_keys,
    run_batch_dask,
)
from zoning.check.engine import check_sites

C_LON, C_LAT = 116.70, 39.90  # centre of the hand-made layers
M_LAT = 1 / 111_000.0  # degrees per metre, roughly (the sites need not be exact)
TYPES = np.array(["construction", "industrial", "residential", "agriculture"], dtype=object)


def make_sites(layers, n: int, *, seed: int = 0, broken: bool = True) -> gpd.GeoDataFrame:
    """N points, segments and small polygons around the layers; a third near vertices."""
    rng = np.random.default_rng(seed)
    m_lon = M_LAT / np.cos(np.radians(C_LAT))
    lon = C_LON + rng.uniform(-7000, 7000, n) * m_lon
    lat = C_LAT + rng.uniform(-7000, 7000, n) * M_LAT
    anchors = np.concatenate(
        [shapely.get_coordinates(g.geometry.to_numpy()) for k, g in layers.items()
         if k != "boundary"]
    )  # fmt: skip
    near = rng.random(n) < 0.35
    pick = anchors[rng.integers(0, len(anchors), near.sum())]
    d = rng.choice([0.5, 5.0, 29.0, 31.0, 99.0, 101.0, 299.0, 301.0, 501.0], near.sum())
    az = rng.uniform(0, 2 * np.pi, near.sum())
    lon[near] = pick[:, 0] + d * np.sin(az) * m_lon
    lat[near] = pick[:, 1] + d * np.cos(az) * M_LAT
    kind = rng.integers(0, 3, n)
    size = rng.uniform(10, 400, n)
    dx, dy = size * m_lon, size * M_LAT
    geoms = shapely.points(lon, lat)
    line = kind == 1
    geoms[line] = shapely.linestrings(
        np.stack([np.c_[lon, lat], np.c_[lon + dx, lat + dy / 2]], axis=1)[line]
    )
    poly = kind == 2
    geoms[poly] = shapely.box(lon, lat, lon + dx, lat + dy)[poly]
    flags = np.where(rng.random(n) < 0.2, "sewage", "")
    sites = gpd.GeoDataFrame(
        {
            "site_id": np.char.add("s", np.arange(n).astype(str)).astype(object),
            "project_type": TYPES[rng.integers(0, len(TYPES), n)],
            "flags": flags.astype(object),
            "owner": np.char.add("业主", (np.arange(n) % 97).astype(str)).astype(object),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    if broken:  # rows the check reports as errors, and one it repairs
        sites.loc[3, "geometry"] = None
        sites.loc[7, "geometry"] = shapely.Polygon()
        sites.loc[11, "project_type"] = "spaceport"
        sites.loc[13, "geometry"] = shapely.Polygon(
            [
                (C_LON, C_LAT),
                (C_LON + 0.01, C_LAT + 0.01),
                (C_LON + 0.01, C_LAT),
                (C_LON, C_LAT + 0.01),
            ]
        )  # a bow-tie
    return sites


@pytest.fixture(scope="module")
def client():
    with dask_client(n_workers=2) as c:
        yield c


def by_site(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("site_id", kind="stable").reset_index(drop=True)


def test_100k_sites_same_as_in_memory(layers, pack, client):
    sites = make_sites(layers, 100_000)
    with pytest.warns(Warning) as seen_mem:
        mem = check_sites(sites, pack=pack, layers=layers)
    with pytest.warns(Warning) as seen_dask:
        dsk = check_sites_dask(sites, pack=pack, layers=layers, client=client)
    assert {w.category for w in seen_mem} == {w.category for w in seen_dask}
    assert dsk.stamp["engine"] == "dask" and dsk.stamp["partitions"] >= 4
    assert dsk.stamp["layers"] == mem.stamp["layers"]
    # same rows, same order (the input's)
    assert dsk.sites["site_id"].tolist() == mem.sites["site_id"].tolist()
    dist = [c for c in mem.sites.columns if c.startswith("dist_")]
    assert len(dist) == len(set(layers) & set(pack.layer_kinds()))  # one per indexed layer
    cols = ["site_id", "verdict", "deciding_rules", "area_m2", *dist]
    assert_frame_equal(
        pd.DataFrame(dsk.sites[cols]), pd.DataFrame(mem.sites[cols]), check_exact=True
    )
    assert dsk.sites.geometry.geom_equals_exact(mem.sites.geometry, 0).all()
    # every finding and relation, compared per site
    assert_frame_equal(by_site(dsk.findings), by_site(mem.findings))
    assert_frame_equal(by_site(dsk.relations), by_site(mem.relations))
    assert_frame_equal(by_site(dsk.errors), by_site(mem.errors))
    assert set(mem.errors["site_id"]) == {"s3", "s7", "s11"}
    assert mem.counts() == dsk.counts()
    assert mem.counts()["prohibited"] > 100 and mem.counts()["restricted"] > 100


def test_scheduler_address_and_input_order(layers, pack, client):
    """A running cluster by its address; other CRSs; rows keep the input's order."""
    sites = make_sites(layers, 3_000, seed=2, broken=False).to_crs("EPSG:4548")
    sites = sites.iloc[::-1]
    mem = check_sites(sites, pack=pack, layers=layers)
    dsk = check_sites_dask(
        sites, pack=pack, layers=layers, client=client.scheduler.address, npartitions=7
    )
    assert dsk.stamp["partitions"] == 7
    assert_frame_equal(
        pd.DataFrame(dsk.sites.drop(columns="geometry")),
        pd.DataFrame(mem.sites.drop(columns="geometry")),
    )


def test_bad_input_is_refused_before_any_work(layers, pack, client, tmp_path):
    sites = make_sites(layers, 20, broken=False)
    dup = sites.assign(site_id=["a", "b"] * 10)
    with pytest.raises(InputFormatError, match=r"duplicated site_id values \['a', 'b'\]"):
        check_sites_dask(dup, pack=pack, layers=layers, client=client)
    with pytest.raises(CRSDetectionError, match="no CRS"):
        check_sites_dask(sites.set_crs(None, allow_override=True), pack=pack, layers=layers,
                         client=client)  # fmt: skip
    path = tmp_path / "dup.parquet"
    dup.to_parquet(path)
    with pytest.raises(InputFormatError, match="duplicated site_id"):
        run_batch_dask(path, pack=pack, store=layers, out=tmp_path / "out", scheduler=client)
    text = tmp_path / "sites.csv"
    text.write_text("lon,lat\n116.7,39.9\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="GeoParquet"):
        run_batch_dask(text, pack=pack, store=layers, out=tmp_path / "out", scheduler=client)
    # a folder of parts checked into itself (its part files would be cleared first), or
    # the errors file over the input: refused, the input intact
    parts = tmp_path / "parts"
    parts.mkdir()
    sites.to_parquet(parts / "part.00000.parquet")
    for out, errors in ((parts, None), (tmp_path / "res", parts / "part.00000.parquet")):
        with pytest.raises(InputFormatError, match="input"):
            run_batch_dask(parts / "part.00000.parquet", pack=pack, store=layers, out=out,
                           errors_out=errors, scheduler=client)  # fmt: skip
    assert len(gpd.read_parquet(parts / "part.00000.parquet")) == 20


def test_hilbert_keys_match_dask_geopandas_order():
    import dask_geopandas

    rng = np.random.default_rng(5)
    pts = gpd.GeoSeries(shapely.points(rng.uniform(116, 117, 500), rng.uniform(39, 40, 500)))
    bounds = tuple(pts.total_bounds)
    ref = (
        dask_geopandas.from_geopandas(pts, npartitions=3)
        .hilbert_distance(total_bounds=bounds)
        .compute()
    )
    assert np.array_equal(hilbert_keys(pts.to_numpy(), bounds), ref.to_numpy().astype(np.uint64))
    geoms = np.array([None, shapely.Point(), pts.iloc[0]], dtype=object)
    keys = hilbert_keys(geoms, bounds)
    assert keys[:2].tolist() == [0, 0] and keys[2] == ref.iloc[0]


# the kinds the hand-made pack's nearest rules read (its "rules" distances), and all
RULE_DISTANCES = ["redline", "water_source_zone", "well"]


@pytest.mark.parametrize("distances", ["rules", "all"])
def test_run_batch_dask_matches_run_batch(layers, pack, client, tmp_path, distances):
    """The same ``distances`` option gives run_batch's columns and values (issue #16)."""
    sites = make_sites(layers, 8_000, seed=1)
    src = tmp_path / "sites.parquet"
    sites.to_parquet(src, row_group_size=1_000)
    mem = run_batch(
        sites, pack=pack, store_or_layers=layers, out=tmp_path / "mem.parquet",
        distances=distances,
    )  # fmt: skip
    seen: list[tuple[int, int]] = []
    dsk = run_batch_dask(
        src, pack=pack, store=layers, out=tmp_path / "out", scheduler=client,
        progress=lambda done, total: seen.append((done, total)), distances=distances,
    )  # fmt: skip
    parts = sorted(os.listdir(tmp_path / "out"))
    assert parts == [f"part.{i:05d}.parquet" for i in range(8)]  # one per row group
    got = gpd.read_parquet(tmp_path / "out")
    want = gpd.read_parquet(tmp_path / "mem.parquet")
    assert got["source_row"].is_monotonic_increasing  # the input's order
    assert got.columns.tolist() == want.columns.tolist()
    dist = sorted(c for c in got.columns if c.startswith("dist_"))
    kinds = sorted(set(layers) & set(pack.layer_kinds())) if distances == "all" else RULE_DISTANCES
    assert dist == [f"dist_{k}_m" for k in kinds]
    assert got[dist].notna().any().all()  # computed, not empty columns
    assert_frame_equal(
        pd.DataFrame(by_site(got).drop(columns="geometry")),
        pd.DataFrame(by_site(want).drop(columns="geometry")),
        check_dtype=False,
    )
    assert by_site(got).geometry.geom_equals_exact(by_site(want).geometry, 0).all()
    for key in ("total", "checked", "errors", "by_verdict"):
        assert getattr(dsk, key) == getattr(mem, key), key
    assert dsk.repaired == 1  # the bow-tie
    err_m = pd.read_csv(mem.errors_out, encoding="utf-8-sig")
    err_d = pd.read_csv(dsk.errors_out, encoding="utf-8-sig")
    assert_frame_equal(err_d, err_m)
    assert dsk.errors_out == tmp_path / "out.errors.csv"
    assert dsk.stamp["input_checksum"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert dsk.stamp["engine"] == "dask" and dsk.stamp["sites"] == 8_000
    assert seen[-1] == (8_000, 8_000) and len(seen) == 8
    if distances == "all":  # a rerun replaces the parts instead of adding to them
        again = run_batch_dask(src, pack=pack, store=layers, out=tmp_path / "out", scheduler=client)
        assert again.checked == dsk.checked and len(gpd.read_parquet(tmp_path / "out")) == len(got)
        # the default is run_batch's: the distances the pack's rules read
        default = gpd.read_parquet(tmp_path / "out").columns
        assert sorted(c for c in default if c.startswith("dist_")) == [
            f"dist_{k}_m" for k in RULE_DISTANCES
        ]


def test_check_sites_dask_distances_and_workers_option(layers, pack, client, tmp_path):
    """check_sites_dask takes check_sites' ``distances``; bad options fail before any work;
    ``n_workers`` does not resize a running cluster, and says so."""
    sites = make_sites(layers, 2_000, seed=4)
    with pytest.warns(Warning):  # the bow-tie's repair, the unknown project type
        mem = check_sites(sites, pack=pack, layers=layers, distances="rules")
    with pytest.warns(Warning) as seen:
        dsk = check_sites_dask(
            sites, pack=pack, layers=layers, client=client.scheduler.address,
            distances="rules", n_workers=3,
        )  # fmt: skip
    said = [str(w.message) for w in seen if issubclass(w.category, UserWarning)]
    assert any(m.startswith("n_workers=3 does not apply to a running dask cluster") for m in said)
    assert dsk.stamp["workers"] == 2  # the running cluster's own
    assert sorted(c for c in dsk.sites.columns if c.startswith("dist_")) == [
        f"dist_{k}_m" for k in RULE_DISTANCES
    ]
    assert_frame_equal(
        pd.DataFrame(dsk.sites.drop(columns="geometry")),
        pd.DataFrame(mem.sites.drop(columns="geometry")),
    )
    assert_frame_equal(by_site(dsk.relations), by_site(mem.relations))
    assert_frame_equal(by_site(dsk.findings), by_site(mem.findings))
    src = tmp_path / "sites.parquet"
    sites.to_parquet(src)
    out = tmp_path / "out"
    with pytest.raises(InputFormatError, match=r"distances: \['road'\] are not layer kinds"):
        run_batch_dask(src, pack=pack, store=layers, out=out, scheduler=client,
                       distances="redline,road")  # fmt: skip
    with pytest.raises(InputFormatError, match="n_workers must be a whole number >= 1"):
        run_batch_dask(src, pack=pack, store=layers, out=out, n_workers=0)
    assert not out.exists()  # refused before any work


def test_workers_size_the_local_cluster_and_do_not_change_results(layers, pack, tmp_path):
    """``n_workers`` (``--workers``) sets the local cluster ecozone starts; 1 or 2 workers
    write identical parts and errors."""
    sites = make_sites(layers, 4_000, seed=6)
    src = tmp_path / "sites.parquet"
    sites.to_parquet(src, row_group_size=800)
    runs = {}
    for n in (1, 2):
        runs[n] = run_batch_dask(
            src, pack=pack, store=layers, out=tmp_path / f"out{n}", n_workers=n,
            memory_limit="1GB", distances="all",
        )  # fmt: skip
        assert runs[n].stamp["workers"] == n
    one, two = (gpd.read_parquet(tmp_path / f"out{n}") for n in (1, 2))
    assert len(one) == runs[1].checked == 4_000 - 3  # three rows are errors
    assert one["source_row"].is_monotonic_increasing
    assert_frame_equal(one, two, check_exact=True)
    assert runs[1].by_verdict == runs[2].by_verdict
    errors = [(tmp_path / f"out{n}.errors.csv").read_bytes() for n in (1, 2)]
    assert errors[0] == errors[1] and errors[0].count(b"\n") == 4  # header + 3 rows


def test_input_larger_than_worker_memory(layers, pack, tmp_path):
    """Workers limited to 700 MB check a 750 MB input and write partitioned GeoParquet.

    (A worker process needs about 250 MB for Python and its libraries; the rest of
    its limit holds one row group and its verdicts at a time.)
    """
    n, width, limit = 30_000, 25_000, 700e6
    sites = make_sites(layers, n, seed=3, broken=False)
    # incompressible text, distinct per site: one Arrow buffer cut into n strings
    # (30 000 Python strings of 25 kB took 15 s to turn into a text column)
    raw = np.frombuffer(os.urandom(n * width // 2).hex().encode(), dtype=np.uint8)
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw))
    sites["note"] = pd.Series(pd.arrays.ArrowStringArray(text), index=sites.index)
    del raw, text
    assert sites.memory_usage(deep=True).sum() > limit  # the premise of the test
    src = tmp_path / "big.parquet"
    sites.to_parquet(src, row_group_size=750)
    expected = check_sites(sites.drop(columns="note"), pack=pack, layers=layers).sites
    summary = run_batch_dask(
        src, pack=pack, store=layers, out=tmp_path / "out", n_workers=2, memory_limit=limit
    )
    assert summary.checked == n and summary.errors == 0
    parts = sorted((tmp_path / "out").iterdir())
    assert len(parts) == pq.ParquetFile(src).metadata.num_row_groups == 40
    got = pq.read_table(tmp_path / "out", columns=["site_id", "verdict", "note"]).to_pandas()
    assert got["site_id"].tolist() == sites["site_id"].tolist()
    assert got["verdict"].tolist() == expected["verdict"].astype(str).tolist()
    assert (
        got["note"].iloc[[0, n // 2, n - 1]].tolist()
        == sites["note"].iloc[[0, n // 2, n - 1]].tolist()
    )
