"""Parallel checks, distances only where used, and the bounding-box skip.

``SiteChecker.check(workers=N)`` must give exactly the one-worker result, the
checker must be usable from several threads at once, ``distances="rules"`` must not
change a verdict or finding, and skipping sites by bounding box must never change a
relation.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.errors import InputFormatError
from tests.frames import assert_frame_equal
from tests.zoning.conftest import LONLAT, make_layers, random_sites
from tests.zoning.test_check import _assert_same
from zoning.check.engine import SiteChecker, check_sites
from zoning.check.relations import LayerIndex, far_from, prepare_sites, relate_layer


def _mixed(n: int, seed: int) -> gpd.GeoDataFrame:
    """Points, lines, polygons, bad rows and sites outside the jurisdiction."""
    sites = random_sites(n, seed=seed)
    rng = np.random.default_rng(seed)
    sites["project_type"] = rng.choice(["construction", "industrial", "other", ""], n)
    sites["flags"] = rng.choice(["", "sewage", "vocs"], n)
    geoms = sites.geometry.to_numpy().copy()
    bow = Polygon([(116.7, 39.9), (116.71, 39.91), (116.71, 39.9), (116.7, 39.91)])
    geoms[5] = shapely.Point()  # empty: an error row
    geoms[17] = bow  # self-intersecting: repaired
    geoms[29] = Point(121.47, 31.23)  # Shanghai: outside the jurisdiction
    geoms[41] = LineString([(121.4, 31.2), (121.5, 31.3)])
    sites = sites.set_geometry(gpd.GeoSeries(geoms, crs=LONLAT))
    sites.loc[53, "project_type"] = "no such type"  # a bad project attribute
    return sites


def _without_outside_rows(rel: pd.DataFrame, kinds: set[str]) -> pd.DataFrame:
    keep = ~((rel["relation"] == "outside") & ~rel["kind"].isin(kinds))
    return pd.DataFrame(rel[keep]).reset_index(drop=True)


@pytest.fixture(scope="module")
def mixed() -> gpd.GeoDataFrame:
    return _mixed(3000, seed=7)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_workers_give_the_one_worker_result(pack, layers, mixed):
    ck = SiteChecker(pack, layers)
    one = ck.check(mixed, workers=1, chunk_size=700)
    assert not one.errors.empty and set(one.errors["status"]) == {
        "invalid_input", "outside_jurisdiction"
    }  # fmt: skip
    assert {"prohibited", "restricted", "compliant"} <= set(one.sites["verdict"])
    calls: list[tuple[int, int]] = []
    for workers in (2, 3):
        calls.clear()
        many = ck.check(
            mixed, workers=workers, chunk_size=700, progress=lambda d, t: calls.append((d, t))
        )
        _assert_same(one, many)
        assert_frame_equal(one.errors, many.errors)
        assert calls == [(min(a + 700, len(one.sites)), len(one.sites))
                         for a in range(0, len(one.sites), 700)]  # fmt: skip
    # one chunk cut into sub-blocks, and the automatic choice
    _assert_same(one, ck.check(mixed, workers=2))
    _assert_same(one, ck.check(mixed))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_small_chunks_go_to_the_threads_whole_and_a_single_chunk_is_cut(
    pack, layers, mixed, monkeypatch
):
    """Enough small chunks: one block a chunk; one chunk: a block a thread. Same result."""
    ck = SiteChecker(pack, layers)
    one = ck.check(mixed, workers=1)
    sizes: list[int] = []
    check_block = ck._check_block

    def counted(s, pos, *args):
        sizes.append(len(pos))
        return check_block(s, pos, *args)

    monkeypatch.setattr(ck, "_check_block", counted)
    n = len(one.sites)
    _assert_same(one, ck.check(mixed, workers=2, chunk_size=300))
    assert sizes == [min(300, n - a) for a in range(0, n, 300)]  # whole chunks
    sizes.clear()
    _assert_same(one, ck.check(mixed, workers=2, chunk_size=n))
    assert sorted(sizes) == [n // 2, n - n // 2]  # the one chunk, cut in two
    sizes.clear()
    _assert_same(one, ck.check(mixed, workers=3, chunk_size=n // 2 + 1))
    assert len(sizes) == 6  # two chunks for three threads: each cut in three


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_one_checker_from_several_threads_at_once(pack, layers, mixed):
    ck = SiteChecker(pack, layers)  # fresh: every lazy cache is made under the threads
    parts = [mixed.iloc[i::4] for i in range(4)]
    got: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(i: int) -> None:
        try:
            barrier.wait()
            got[i] = ck.check(parts[i], workers=2, chunk_size=300)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    alone = SiteChecker(pack, layers)
    for i in range(4):
        _assert_same(alone.check(parts[i], workers=1), got[i])


_COLD_RACE = """
import threading
import numpy as np, shapely
from tests.zoning.conftest import make_layers, make_pack, random_sites
from zoning.check.engine import SiteChecker

pack, layers = make_pack(), make_layers()
sites = random_sites(16000, seed=3)
x0, y0, x1, y1 = sites.total_bounds
cx, cy, r0 = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 0.45

def wavy():  # a detailed boundary: GEOS indexes it for a while on first use
    t = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    r = r0 * (1 + 0.05 * np.sin(40 * t))
    return shapely.Polygon(np.c_[cx + r * np.cos(t), cy + r * np.sin(t)])

N = 6
parts = [sites.iloc[i::N] for i in range(N)]
one = SiteChecker(pack, layers, jurisdiction=wavy())
for p in parts[:2]:
    one.check(p, workers=1)
print("alone", getattr(one, "_warmed", False))  # one thread: never warmed
for _ in range(4):  # fresh checkers: each round races on new lazy indexes
    checker = SiteChecker(pack, layers, jurisdiction=wavy(),
                          extents={k: wavy() for k in pack.layer_kinds()})
    barrier = threading.Barrier(N)
    out = [None] * N

    def run(i):
        barrier.wait()
        out[i] = checker.check(parts[i], workers=1).sites["verdict"].tolist()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    [t.start() for t in threads]
    [t.join() for t in threads]
same = all(out[i] == one.check(parts[i], workers=1).sites["verdict"].tolist()
           for i in range(N))
print("shared", getattr(checker, "_warmed", False), same)
"""


def test_a_fresh_checker_shared_by_threads_does_not_crash():
    """Six threads checking at once on a fresh checker, each on one thread (workers=1).

    GEOS builds a prepared polygon's indexes on first use without a lock; before the
    checks warmed a shared cold checker, this crashed the process (heap corruption or
    a segmentation fault) in 5 runs of 6. Run in a child process, so a crash fails
    this test only. A checker used from one thread is never warmed (no cost).
    """
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _COLD_RACE], cwd=root, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["alone", "False", "shared", "True", "True"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_distances_rules_keeps_verdicts_findings_and_its_columns(pack, layers, mixed):
    ck = SiteChecker(pack, layers)
    full = ck.check(mixed)
    want = {r.layer for r in pack.rules if r.predicate == "nearest"} & set(ck.kinds)
    assert want and set(ck.kinds) - want  # the test pack leaves some kinds out
    assert ck.distance_kinds("rules") == want
    for distances in ("rules", sorted(want), ",".join(sorted(want))):
        some = ck.check(mixed, distances=distances, workers=2, chunk_size=1000)
        dist = {c for c in some.sites.columns if c.startswith("dist_")}
        assert dist == {f"dist_{k}_m" for k in want}
        sa = pd.DataFrame(full.sites[list(some.sites.columns)])
        assert_frame_equal(
            sa.drop(columns="geometry"), pd.DataFrame(some.sites).drop(columns="geometry")
        )
        assert_frame_equal(full.findings.drop(columns="band"), some.findings.drop(columns="band"))
        # relations: the same pairs; "outside" rows only for the kinds measured
        assert_frame_equal(
            _without_outside_rows(full.relations, want),
            pd.DataFrame(some.relations).reset_index(drop=True),
        )
    one = ck.check(mixed, distances=["well"])
    assert [c for c in one.sites.columns if c.startswith("dist_")] == ["dist_well_m"]
    assert np.array_equal(
        one.sites["dist_well_m"].to_numpy(), full.sites["dist_well_m"].to_numpy(), equal_nan=True
    )
    assert one.site_to_dict(one.sites["site_id"].iloc[0])["distances_m"].keys() == {"well"}
    small = ck.check(mixed.iloc[:3], distances="rules")  # lazy small result
    assert set(small.to_dict()["sites"][0]["distances_m"]) == want
    # single-site checks and the defaults keep every distance
    assert {f"dist_{k}_m" for k in ck.kinds} <= set(ck.check(mixed.iloc[:3]).sites.columns)
    via = check_sites(mixed.iloc[:50], pack=pack, layers=layers, distances="rules", workers=1)
    assert {c for c in via.sites.columns if c.startswith("dist_")} == {f"dist_{k}_m" for k in want}


def test_bad_workers_and_distances_are_named(checker, mixed):
    with pytest.raises(InputFormatError, match="workers"):
        checker.check(mixed.iloc[:5], workers=0)
    with pytest.raises(InputFormatError, match="--distances"):
        checker.check(mixed.iloc[:5], distances=["well", "no_such_kind"])


# --------------------------------------------------------------------------- box skip


def _well_index() -> LayerIndex:
    wells = make_layers()["well"]
    return LayerIndex(
        "well",
        wells.geometry.to_numpy(),
        wells["feature_id"].to_numpy(dtype=object),
        wells["name"].to_numpy(dtype=object),
        {},
    )


_WELLS = _well_index()
_LB = _WELLS.bounds


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-0.2, 0.2, allow_nan=False), st.floats(-0.2, 0.2, allow_nan=False)),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from([30.0, 500.0, 2000.0, 10_000.0]),
)
def test_box_skip_never_drops_a_site_within_the_radius(offsets, radius):
    from pyproj import CRS

    ea = CRS.from_epsg(3857)  # any CRS: point sites have no area
    lon = np.array([o[0] for o in offsets]) + np.where(
        np.array([o[0] for o in offsets]) < 0, _LB[0], _LB[2]
    )
    lat = np.array([o[1] for o in offsets]) + np.where(
        np.array([o[1] for o in offsets]) < 0, _LB[1], _LB[3]
    )
    block = prepare_sites(shapely.points(lon, lat), ea_crs=ea)
    far = far_from(_WELLS, block, radius)
    # the truth: metric (GK) distance of each site to its nearest well
    m = _WELLS.metric(int(block.epsg[0]))
    d = shapely.distance(block.metric_geoms()[:, None], m.geoms[None, :]).min(axis=1)
    assert (d[far] > radius).all()
    # the relations with the skip equal a search without it (radius beyond every site)
    got = relate_layer(_WELLS, block, within_m=None, nearest_max_m=radius, ea_crs=ea)
    ref = relate_layer(_WELLS, block, within_m=None, nearest_max_m=1e7, ea_crs=ea)
    beyond = ~(ref.nearest_m <= radius)
    assert np.array_equal(got.nearest_feature, np.where(beyond, -1, ref.nearest_feature))
    assert np.array_equal(got.nearest_m, np.where(beyond, np.nan, ref.nearest_m), equal_nan=True)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_box_skip_near_layer_edges_changes_no_result(pack, layers):
    rng = np.random.default_rng(5)
    n = 4000
    # sites scattered around the box of each layer, many just beyond 10 km
    boxes = np.array([shapely.total_bounds(g.geometry.to_numpy()) for g in layers.values()])
    b = boxes[rng.integers(0, len(boxes), n)]
    side = rng.integers(0, 4, n)
    gap = rng.choice([0.0, 0.05, 0.089, 0.09, 0.091, 0.117, 0.118, 0.119, 0.2], n)
    lon = rng.uniform(b[:, 0], b[:, 2])
    lat = rng.uniform(b[:, 1], b[:, 3])
    lon = np.where(side == 0, b[:, 0] - gap, np.where(side == 1, b[:, 2] + gap, lon))
    lat = np.where(side == 2, b[:, 1] - gap, np.where(side == 3, b[:, 3] + gap, lat))
    sites = gpd.GeoDataFrame(
        {"site_id": [f"e{i}" for i in range(n)]}, geometry=shapely.points(lon, lat), crs=LONLAT
    )
    ck = SiteChecker(pack, layers, jurisdiction=None)
    got = ck.check(sites, workers=1)
    # the same sites with a search radius far beyond every one: nothing is skipped
    wide = SiteChecker(pack, layers, jurisdiction=None, nearest_max_m=1e6).check(sites)
    for kind in ck.kinds:
        d_wide = wide.sites[f"dist_{kind}_m"].to_numpy()
        want = np.where(d_wide <= ck.nearest_max_m, d_wide, np.nan)
        assert np.array_equal(got.sites[f"dist_{kind}_m"].to_numpy(), want, equal_nan=True)
    # nearest rules are information: the verdicts do not depend on the radius
    assert got.sites["verdict"].tolist() == wide.sites["verdict"].tolist()
    assert np.isnan(got.sites[[f"dist_{k}_m" for k in ck.kinds]].to_numpy()).any()


def test_point_coverage_by_grid_equals_geos_covers():
    from tests.zoning.conftest import C_LAT, C_LON, disc
    from zoning.check.parts import _GRID_CELLS, covers_whole

    ring = disc(C_LON, C_LAT, 5000, n=90).difference(disc(C_LON, C_LAT, 1500, n=37))
    area = shapely.union(ring, disc(C_LON + 0.09, C_LAT, 2000, n=11))
    shapely.prepare(area)
    rng = np.random.default_rng(2)
    b = area.bounds
    n = 5000
    x = rng.uniform(b[0] - 0.01, b[2] + 0.01, n)
    y = rng.uniform(b[1] - 0.01, b[3] + 0.01, n)
    verts = shapely.get_coordinates(area)  # on the boundary: covered
    xs = np.linspace(b[0], b[2], _GRID_CELLS + 1)  # on the grid's cell edges
    ys = np.linspace(b[1], b[3], _GRID_CELLS + 1)
    x = np.concatenate([x, verts[:, 0], rng.choice(xs, n), rng.uniform(b[0], b[2], n)])
    y = np.concatenate([y, verts[:, 1], rng.uniform(b[1], b[3], n), rng.choice(ys, n)])
    pts = shapely.points(x, y)
    got = covers_whole(area, pts)
    want = shapely.covers(area, pts)
    assert np.array_equal(got, want)
    # a block's own coordinates (xy_ll) give the same answers
    assert np.array_equal(covers_whole(area, pts, np.column_stack([x, y])), want)
    assert want.sum() > n // 4 and (~want).sum() > n // 4
    # mixed with lines: the lines take the GEOS path, in place
    line = shapely.LineString([(C_LON, C_LAT + 0.02), (C_LON + 0.001, C_LAT + 0.021)])
    mixed = np.concatenate([pts[:3000], [line], pts[3000:]])
    assert np.array_equal(covers_whole(area, mixed), shapely.covers(area, mixed))


def test_automatic_threads_weigh_lines_and_polygons():
    # 10 000 points are one thread's work; 10 000 polygons (or 30 000 points) are worth
    # every core
    import os

    from zoning.check.prepared import NON_POINT_WEIGHT, PARALLEL_MIN_SITES, auto_workers

    cores = len(os.sched_getaffinity(0))
    pts = shapely.points(np.zeros((10_000, 2)))
    polys = shapely.buffer(pts, 1.0)
    assert auto_workers(pts) == 1
    assert auto_workers(polys) == cores
    assert auto_workers(shapely.points(np.zeros((PARALLEL_MIN_SITES + 1, 2)))) == cores
    few = PARALLEL_MIN_SITES // NON_POINT_WEIGHT  # exactly the threshold: one thread
    assert auto_workers(polys[:few]) == 1
    assert auto_workers(polys[: few + 1]) == cores


def test_many_points_outside_and_straddling_equal_geos(checker):
    # >= 2 000 points take the coverage grid for the jurisdiction test and the
    # straddle flag; points on the boundary (its vertices) are inside, none straddles
    jur = checker.jurisdiction
    assert jur is not None
    rng = np.random.default_rng(11)
    b = jur.bounds
    pad = 0.2 * max(b[2] - b[0], b[3] - b[1])
    x = rng.uniform(b[0] - pad, b[2] + pad, 3000)
    y = rng.uniform(b[1] - pad, b[3] + pad, 3000)
    verts = shapely.get_coordinates(jur)
    verts = verts[rng.choice(len(verts), min(len(verts), 400), replace=False)]
    pts = shapely.points(np.concatenate([x, verts[:, 0]]), np.concatenate([y, verts[:, 1]]))
    ids = [f"p{i}" for i in range(len(pts))]
    res = checker.check(gpd.GeoDataFrame({"site_id": ids}, geometry=pts, crs=LONLAT))
    outside = set(res.errors.loc[res.errors["status"] == "outside_jurisdiction", "site_id"])
    want = {ids[i] for i in np.flatnonzero(~shapely.intersects(jur, pts))}
    assert outside == want and 0 < len(want) < 3000
    assert len(res.sites) == len(pts) - len(want)
    assert not res.sites["straddles_jurisdiction"].any()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_verdict_columns_from_the_arrays_equal_those_from_the_frames(pack, layers, mixed):
    """A batch chunk (``relations=False``) builds no findings frame for its verdict rows."""
    from dataclasses import replace

    from zoning.check.result import CheckResult, verdict_columns

    # half the layers' extent leaves the wells: insufficient data findings, notes
    ck = SiteChecker(pack, layers, extents={"well": shapely.box(116.0, 39.0, 116.5, 40.5)})
    lazy = ck.check(mixed, relations=False, chunk_size=700)
    assert "findings" not in lazy.__dict__.get("_frames", {"findings": None})  # lazy
    got = verdict_columns(lazy)
    assert "findings" not in lazy._frames  # read from the arrays
    plain = replace(lazy)  # a plain CheckResult of the same frames
    assert type(plain) is CheckResult
    want = verdict_columns(plain)
    assert any(len(c) > 1 for c in got[0].categories)  # sites with findings
    assert any("missing_data" in c for c in got[2].categories)  # and notes
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)
    keys, frame_keys = lazy.finding_keys(), plain.finding_keys()
    np.testing.assert_array_equal(keys.site, frame_keys.site)
    assert list(keys.rule) == list(frame_keys.rule)
    np.testing.assert_array_equal(keys.insufficient, frame_keys.insufficient)
    # findings replaced by the caller: they are the truth
    lazy.findings = lazy.findings.iloc[::-1].reset_index(drop=True)
    assert list(lazy.finding_keys().rule) == list(frame_keys.rule)[::-1]
    # findings in any order (not by site, then rule): the same notes and sets of rules
    rules, _, notes = verdict_columns(lazy)
    assert list(notes) == list(got[2])
    assert [sorted(t.split(";")) for t in rules] == [sorted(t.split(";")) for t in got[0]]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_coded_sites_hold_the_sites_values_with_their_texts_coded(pack, layers, mixed):
    """A batch's verdict rows take the verdict texts as categoricals: the same values."""
    from dataclasses import replace

    ck = SiteChecker(pack, layers, extents={"well": shapely.box(116.0, 39.0, 116.5, 40.5)})
    res = ck.check(mixed, relations=False, chunk_size=700)  # several blocks joined
    coded = res.coded_sites()
    assert "sites" not in res._frames  # from the arrays, the text frame not built
    sites = res.sites
    assert list(coded.columns) == list(sites.columns)
    for col in ("verdict", "verdict_zh", "deciding_rules"):
        assert isinstance(coded[col].dtype, pd.CategoricalDtype)
        assert coded[col].astype(str).tolist() == sites[col].astype(str).tolist()
    assert (coded["deciding_rules"].astype(str).str.contains(";")).any()  # lists of rules
    assert (coded["deciding_rules"].astype(str) == "").any()  # and sites without one
    other = [c for c in sites.columns if c not in ("verdict", "verdict_zh", "deciding_rules")]
    assert_frame_equal(pd.DataFrame(coded[other]), pd.DataFrame(sites[other]), check_dtype=False)
    assert res.coded_sites() is sites  # once built, the frame itself
    plain = replace(res)
    assert plain.coded_sites() is plain.sites  # a plain result: its frame as it is
