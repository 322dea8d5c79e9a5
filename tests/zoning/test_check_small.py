"""The single-site fast path of the check and the report against the general path.

A check of a few sites (``SiteChecker.check`` of a small frame, or
``SiteChecker.check_geometry``) keeps the engine's arrays and builds the result frames
only when they are read; ``build_report`` and ``site_to_dict`` then answer from the
arrays. The general path is a batch of many sites (frames built at once), read
through the frames. Both must give the same report for every site: same verdicts,
rules, feature ids and texts, numbers equal to 1e-9 relative. The sites are random
points, lines and polygons over the embedded demo store (Beijing plains).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import InputFormatError
from layers.store import LayerStore
from tests.frames import assert_frame_equal
from zoning.check.engine import SMALL_RESULT, CheckResult, SiteChecker
from zoning.pack import load_pack
from zoning.project import Project
from zoning.report.build import build_report
from zoning.workflow import load_pack_layers

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"
BOX = (116.25, 39.65, 116.95, 40.15)  # Beijing plains, as the web load benchmark
N_POINTS, N_LINES, N_POLYGONS = 120, 40, 40
PROJECTS = {
    "sewage_exit": Project(
        project_type="construction", flags=frozenset({"sewage"}), exits=((116.6, 39.9),)
    ),
    "industrial": Project(project_type="industrial", industry_code="C2614"),
    "unknown": None,
}

pytestmark = pytest.mark.skipif(not DEMO.is_file(), reason="demo store not built")


@pytest.fixture(scope="module")
def demo_layers(tmp_path_factory):
    copy = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    shutil.copyfile(DEMO, copy)
    with LayerStore(copy, create=False) as store:
        return {name: load_pack_layers(load_pack(name), store) for name in ("tongzhou", "beijing")}


@pytest.fixture(scope="module", params=["tongzhou", "beijing"])
def checker(request, demo_layers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rules on layers the demo lacks are skipped
        return SiteChecker(
            load_pack(request.param), demo_layers[request.param], missing_layers="skip"
        )


def random_sites(seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    n = N_POINTS + N_LINES + N_POLYGONS
    x = rng.uniform(BOX[0], BOX[2], n)
    y = rng.uniform(BOX[1], BOX[3], n)
    points = shapely.points(x[:N_POINTS], y[:N_POINTS])
    a, b = N_POINTS, N_POINTS + N_LINES
    ends = np.column_stack([x[a:b] + rng.uniform(-0.02, 0.02, N_LINES), y[a:b]])
    lines = shapely.linestrings(np.stack([np.column_stack([x[a:b], y[a:b]]), ends], axis=1))
    polys = shapely.buffer(
        shapely.points(x[b:], y[b:]), rng.uniform(0.0005, 0.01, N_POLYGONS), quad_segs=3
    )
    geoms = np.concatenate([points, lines, polys])
    ids = [f"s{i}" for i in range(n)]
    return gpd.GeoDataFrame({"site_id": ids}, geometry=geoms, crs="EPSG:4326")


def assert_same(a, b, path="report"):
    """Equal structures; floats equal to 1e-9 relative (NaN equals NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"{path}: {a} != {b}"
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=0.0), f"{path}: {a} != {b}"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def comparable(report: dict) -> dict:
    """A report without what differs by construction (time, input checksum, site id)."""
    out = dict(report)
    out.pop("generated_at")
    stamp = dict(out.pop("stamp"))
    for k in ("checked_at", "input_checksum", "sites"):
        stamp.pop(k)
    out["stamp"] = stamp
    out["site"] = {k: v for k, v in out["site"].items() if k != "site_id"}
    return out


def site_dict(res: CheckResult, sid: str) -> dict:
    d = res.site_to_dict(sid)
    d.pop("site_id")
    return d


@pytest.mark.parametrize("project_name", list(PROJECTS), ids=list(PROJECTS))
def test_single_site_reports_equal_batch_reports(checker, project_name):
    project = PROJECTS[project_name]
    sites = random_sites()
    batch = checker.check(sites, project=project)
    assert len(sites) > SMALL_RESULT and type(batch) is CheckResult  # the general path
    # sites outside the pack's jurisdiction are not checked, on every path (#11)
    assert set(batch.errors["status"]) <= {"outside_jurisdiction"}
    outside = set(batch.errors["site_id"])
    assert len(outside) < len(sites)
    kinds = shapely.get_type_id(sites.geometry.to_numpy())
    assert set(kinds.tolist()) == {0, 1, 3}  # points, lines, polygons
    verdicts = set()
    for i, (sid, geom) in enumerate(zip(sites["site_id"], sites.geometry, strict=True)):
        if i % 2:
            one = checker.check_geometry(geom, site_id="site", project=project)
        else:
            frame = gpd.GeoDataFrame({"site_id": ["site"]}, geometry=[geom], crs="EPSG:4326")
            one = checker.check(frame, project=project)
        assert type(one) is not CheckResult  # the fast path
        if sid in outside:
            assert len(one.sites) == 0
            assert list(one.errors["status"]) == ["outside_jurisdiction"]
            continue
        fast = build_report(one, project=project)
        general = build_report(batch, site_id=sid, project=project)
        assert_same(comparable(fast), comparable(general), f"{sid} report")
        assert_same(site_dict(one, "site"), site_dict(batch, sid), f"{sid} site_to_dict")
        verdicts.add(fast["verdict"]["code"])
    # the sample reaches more than one verdict and some findings with features
    assert len(verdicts) >= 2


def test_lazy_frames_equal_batch_frames(checker):
    sites = random_sites(seed=3).iloc[::7]
    project = PROJECTS["sewage_exit"]
    batch = checker.check(sites, project=project)
    outside = set(batch.errors["site_id"])
    for sid, geom in zip(sites["site_id"], sites.geometry, strict=True):
        one = checker.check_geometry(geom, site_id=sid, project=project)
        if sid in outside:  # outside the jurisdiction: an error on both paths
            assert list(one.errors["status"]) == ["outside_jurisdiction"]
            continue
        for name in ("sites", "relations", "findings"):
            a = getattr(batch, name)
            a = pd.DataFrame(a[a["site_id"] == sid]).reset_index(drop=True)
            b = pd.DataFrame(getattr(one, name)).reset_index(drop=True)
            drop = [c for c in ("geometry", "band") if c in a.columns]
            assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop), rtol=1e-9)
        assert len(one.errors) == 0
        assert list(one.errors.columns) == ["site_id", "source_row", "reason", "status"]


def test_check_geometry_equals_check_of_a_frame(checker):
    geom = shapely.Point(116.66, 39.91)
    project = PROJECTS["industrial"]
    a = checker.check_geometry(geom, site_id="p1", project=project)
    frame = gpd.GeoDataFrame({"site_id": ["p1"]}, geometry=[geom], crs="EPSG:4326")
    b = checker.check(frame, project=project)
    assert a.stamp["input_checksum"] == b.stamp["input_checksum"]
    assert_same(site_dict(a, "p1"), site_dict(b, "p1"))
    # no project: an unknown project, as a frame without project columns
    c = checker.check_geometry(geom, site_id="p1")
    d = checker.check(frame)
    assert c.stamp["input_checksum"] == d.stamp["input_checksum"]
    assert_same(site_dict(c, "p1"), site_dict(d, "p1"))


def test_small_result_pickles_and_copies_as_a_plain_result(checker):
    res = checker.check_geometry(shapely.Point(116.7, 39.85), project=PROJECTS["sewage_exit"])
    back = pickle.loads(pickle.dumps(res))
    assert type(back) is CheckResult
    assert type(copy.deepcopy(res)) is CheckResult
    other = dataclasses.replace(res, stamp={"note": "replaced"})
    assert type(other) is CheckResult and other.stamp == {"note": "replaced"}
    assert other.sites["verdict"].tolist() == res.sites["verdict"].tolist()
    assert_frame_equal(
        pd.DataFrame(back.findings).drop(columns="band"),
        pd.DataFrame(res.findings).drop(columns="band"),
    )
    assert_same(site_dict(back, "site"), site_dict(res, "site"))


def test_replaced_frames_are_what_the_report_reads(checker):
    res = checker.check_geometry(shapely.Point(116.7, 39.85), project=PROJECTS["industrial"])
    sites = res.sites.copy()
    sites["verdict"] = "prohibited"
    res.sites = sites
    assert build_report(res)["verdict"]["code"] == "prohibited"


def test_bad_site_of_a_small_check(checker):
    res = checker.check_geometry(shapely.Point(float("nan"), 39.9))
    assert len(res.errors) == 1
    assert "坐标无效" in res.errors["reason"].iloc[0]
    assert len(res.sites) == 0
    with pytest.raises(InputFormatError, match="holds no site"):
        build_report(res)
    with pytest.raises(InputFormatError, match="not in the check result"):
        res.site_to_dict("site")
    with pytest.raises(InputFormatError, match="shapely geometry"):
        checker.check_geometry("POINT (116 40)")  # type: ignore[arg-type]


def test_check_each_gives_each_site_the_result_of_checking_it_alone(checker):
    """One pass over many sites with their own projects = each site checked alone.

    Same findings, relations, errors and stamp (input checksum included: it covers
    the site alone), whatever else is in the pass.
    """
    sites = random_sites(seed=5).iloc[::4]
    geoms = [*sites.geometry, shapely.Point(float("nan"), 39.9), shapely.Point()]
    names = list(PROJECTS)
    projects = [PROJECTS[names[i % len(names)]] for i in range(len(geoms))]
    results = checker.check_each(geoms, projects=projects)
    assert len(results) == len(geoms)
    for geom, project, res in zip(geoms, projects, results, strict=True):
        alone = checker.check_geometry(geom, project=project)
        a_stamp, b_stamp = dict(alone.stamp), dict(res.stamp)
        a_stamp.pop("checked_at"), b_stamp.pop("checked_at")
        assert b_stamp == a_stamp  # the same input checksum: this site only
        assert_frame_equal(res.errors, alone.errors)
        if len(alone.errors):
            assert len(res.sites) == 0
            continue
        assert_same(site_dict(res, "site"), site_dict(alone, "site"))
        rep_a, rep_b = build_report(alone, project=project), build_report(res, project=project)
        rep_a.pop("generated_at"), rep_b.pop("generated_at")
        rep_a["stamp"].pop("checked_at"), rep_b["stamp"].pop("checked_at")
        assert_same(rep_b, rep_a)
        for name in ("sites", "relations", "findings"):
            a = pd.DataFrame(getattr(alone, name)).reset_index(drop=True)
            b = pd.DataFrame(getattr(res, name)).reset_index(drop=True)
            drop = [c for c in ("geometry", "band") if c in a.columns]
            assert_frame_equal(b.drop(columns=drop), a.drop(columns=drop))
    # the pass mixed projects with and without exits, and a site with no checked result
    assert {p is not None and bool(p.exits) for p in projects} == {True, False}


def test_check_each_refuses_mismatched_input(checker):
    with pytest.raises(InputFormatError, match="one project per geometry"):
        checker.check_each([shapely.Point(116.7, 39.9)], projects=[])
    with pytest.raises(InputFormatError, match="geometry 0"):
        checker.check_each(["POINT (116 40)"], projects=[None])  # type: ignore[list-item]
    assert checker.check_each([], projects=[]) == []
