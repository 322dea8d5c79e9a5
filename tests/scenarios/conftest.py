"""Fixtures of the scenario tests: the demo store, the placed sites, each interface's answers.

Everything here is computed once per session: the store is a copy of the embedded demo
store (``data/ecozone_demo.gpkg``); sites are placed on its features
(:func:`tests.scenarios._scenarios.place`); each interface checks every scenario once
(batch interfaces: one run per pack) and the tests compare the answers.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from geo.errors import GeometryRepairedWarning
from tests.scenarios import _answers as A
from tests.scenarios._scenarios import Placed, Scenario, exits_of, load_all, place, to_gcj02

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "ecozone_demo.gpkg"


@pytest.fixture(scope="session")
def scenarios() -> dict[str, Scenario]:
    return {s.id: s for s in load_all()}


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> Path:
    """A private copy of the demo store (checks never touch the embedded file)."""
    path = tmp_path_factory.mktemp("scenario_store") / "store.gpkg"
    shutil.copyfile(DEMO, path)
    return path


@pytest.fixture(scope="session")
def store(store_path):
    from layers import LayerStore

    with LayerStore(store_path) as st:
        yield st


@pytest.fixture(scope="session")
def frames(store) -> dict[str, gpd.GeoDataFrame]:
    """Every layer kind of the store as a lon/lat GeoDataFrame (for placing sites)."""
    listing = store.list_layers()
    return {k: store.get_kind(k).gdf.to_crs("EPSG:4326") for k in listing["kind"].unique()}


@pytest.fixture(scope="session")
def placed(scenarios, frames) -> dict[str, Placed | Exception]:
    out: dict[str, Placed | Exception] = {}
    for sid, sc in scenarios.items():
        try:
            out[sid] = place(sc, frames)
        except LookupError as exc:
            out[sid] = exc
    return out


def site_of(placed: dict[str, Any], sid: str) -> Placed:
    p = placed[sid]
    if isinstance(p, Exception):
        raise p
    return p


@pytest.fixture(scope="session")
def checkers(store) -> dict[str, Any]:
    """One SiteChecker per pack (built lazily)."""
    from zoning.check.engine import MissingLayerWarning
    from zoning.workflow import make_checker

    cache: dict[str, Any] = {}

    class _Lazy(dict):
        def __missing__(self, name: str) -> Any:
            # as the CLI and the web app build it: a layer kind the store lacks (the
            # demo has no river layer) makes its rules 数据不足, with a warning
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MissingLayerWarning)
                cache[name] = make_checker(name, store, missing_layers="skip")
            self[name] = cache[name]
            return cache[name]

    return _Lazy()


def input_frame(sc: Scenario, p: Placed) -> tuple[gpd.GeoDataFrame, str]:
    """The site as a one-row GeoDataFrame in the scenario's coordinate system."""
    geom = to_gcj02(p.geometry) if sc.coords == "gcj02" else p.geometry
    return gpd.GeoDataFrame({"site_id": [sc.id]}, geometry=[geom], crs="EPSG:4326"), sc.coords


@pytest.fixture(scope="session")
def api_answers(scenarios, placed, checkers) -> dict[str, dict[str, Any]]:
    """Python API, one scenario at a time: ``SiteChecker.check`` with a Project."""
    from zoning.project import Project

    out: dict[str, dict[str, Any]] = {}
    for sid, sc in scenarios.items():
        p = placed[sid]
        if isinstance(p, Exception):
            out[sid] = {"unplaced": str(p)}
            continue
        try:
            kw = A.project_kwargs(sc.project, exits_of(sc, p))
            gdf, coords = input_frame(sc, p)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GeometryRepairedWarning)  # a note says it
                res = checkers[sc.pack].check(gdf, project=Project(**kw), coords=coords)
            out[sid] = A.from_result(res, sid)
        except A.Unsupported as exc:
            out[sid] = {"unsupported": str(exc)}
        except Exception as exc:  # the test reports what the engine raised
            if A.is_outside(type(exc).__name__) or A.is_outside(exc):
                out[sid] = {"error": A.OUTSIDE}
            else:
                out[sid] = {"exception": f"{type(exc).__name__}: {exc}"}
    return out


def batch_frame(scs: list[Scenario], placed: dict[str, Any]) -> gpd.GeoDataFrame:
    """The scenarios of one pack as one batch: a row per site with project columns."""
    rows, geoms = [], []
    for sc in scs:
        p = placed[sc.id]
        if isinstance(p, Exception):
            continue
        try:
            row = A.project_row(sc.project, exits_of(sc, p))
        except A.Unsupported:
            continue
        rows.append({"site_id": sc.id, **row})
        geoms.append(p.geometry)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def by_pack(scenarios: dict[str, Scenario]) -> dict[str, list[Scenario]]:
    out: dict[str, list[Scenario]] = {}
    for sc in scenarios.values():
        out.setdefault(sc.pack, []).append(sc)
    return out


@pytest.fixture(scope="session")
def batch_answers(scenarios, placed, checkers, store) -> dict[str, dict[str, Any]]:
    """Python API, all scenarios of a pack at once: ``check_sites`` with per-row projects."""
    from zoning.check.engine import MissingLayerWarning, check_sites

    out: dict[str, dict[str, Any]] = {}
    for pack, scs in by_pack(scenarios).items():
        gdf = batch_frame(scs, placed)
        try:
            ch = checkers[pack]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MissingLayerWarning)
                warnings.simplefilter("ignore", GeometryRepairedWarning)
                res = check_sites(
                    gdf, pack=ch.pack, layers=_layers(ch, store), missing_layers="skip"
                )
        except Exception as exc:  # reported per scenario
            _failed(out, gdf, exc)
            continue
        for sid in gdf["site_id"]:
            out[sid] = A.from_result(res, sid)
    return out


def _failed(out: dict[str, Any], gdf: gpd.GeoDataFrame, exc: Exception) -> None:
    for sid in gdf["site_id"]:
        out[sid] = {"exception": f"{type(exc).__name__}: {exc}"}


def _layers(checker: Any, store: Any) -> dict[str, Any]:
    """The pack's layers as stored (Layer objects, with their extents)."""
    from zoning.workflow import load_pack_layers

    return load_pack_layers(checker.pack, store)


@pytest.fixture(scope="session")
def dask_answers(scenarios, placed, checkers, store) -> dict[str, dict[str, Any]]:
    """The dask engine (zoning.check.distributed), one local single-worker cluster for all packs."""
    pytest.importorskip("distributed")
    from zoning.check.distributed import check_sites_dask, dask_client
    from zoning.check.engine import MissingLayerWarning

    out: dict[str, dict[str, Any]] = {}
    with dask_client(n_workers=1, memory_limit="1GB") as client:
        for pack, scs in by_pack(scenarios).items():
            gdf = batch_frame(scs, placed)
            try:
                ch = checkers[pack]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MissingLayerWarning)
                    warnings.simplefilter("ignore", GeometryRepairedWarning)
                    res = check_sites_dask(
                        gdf, pack=ch.pack, layers=_layers(ch, store), client=client,
                        npartitions=2, missing_layers="skip",
                    )  # fmt: skip
            except Exception as exc:  # reported per scenario
                _failed(out, gdf, exc)
                continue
            for sid in gdf["site_id"]:
                out[sid] = A.from_result(res, sid)
    return out


@pytest.fixture(scope="session")
def cli_batch_answers(scenarios, placed, store_path, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """``ecozone check SITES.geojson --pack P --out x.csv``, one batch run per pack (CliRunner)."""
    import pandas as pd
    from click.testing import CliRunner

    from ecozone.cli.main import cli

    tmp = tmp_path_factory.mktemp("cli_batch")
    out: dict[str, dict[str, Any]] = {}
    runner = CliRunner()
    for pack, scs in by_pack(scenarios).items():
        gdf = batch_frame(scs, placed)
        src = tmp / f"{pack}.geojson"
        gdf.to_file(src, driver="GeoJSON")
        dst = tmp / f"{pack}.csv"
        r = runner.invoke(
            cli, ["check", str(src), "--pack", pack, "--out", str(dst), "--store", str(store_path)]
        )
        if r.exit_code != 0 and not dst.exists():
            for sid in gdf["site_id"]:
                out[sid] = {"exception": f"exit {r.exit_code}: {r.output[-500:]}"}
            continue
        rows = pd.read_csv(dst, dtype={"site_id": str}, encoding="utf-8-sig")
        errs_path = dst.with_name(dst.stem + ".errors.csv")
        errs = (
            pd.read_csv(errs_path, dtype={"site_id": str}, encoding="utf-8-sig")
            if errs_path.exists()
            else pd.DataFrame(columns=["site_id", "reason"])
        )
        for sid in gdf["site_id"]:
            hit = rows[rows["site_id"] == sid]
            if len(hit):
                out[sid] = A.from_batch_row(hit.iloc[0])
                continue
            e = errs[errs["site_id"].astype(str) == sid]
            out[sid] = (
                A.error_answer(" ".join(str(v) for v in e.iloc[0].to_dict().values()))
                if len(e)
                else {"error": "missing"}
            )
    return out


@pytest.fixture(scope="session")
def rest_answers(scenarios, placed, store_path) -> dict[str, dict[str, Any]]:
    """``POST /api/check`` on a real uvicorn server on 127.0.0.1, one request per scenario."""
    import httpx

    from ecozone.web.app import create_app
    from ecozone.web.settings import WebSettings
    from tests.ecozone._webdata import live_server

    out: dict[str, dict[str, Any]] = {}
    app = create_app(str(store_path), settings=WebSettings(max_vertices=5000, threads=1))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        for sid, sc in scenarios.items():
            p = placed[sid]
            if isinstance(p, Exception):
                continue
            try:
                project = A.rest_project(sc.project, exits_of(sc, p))
            except A.Unsupported:
                continue
            geom = to_gcj02(p.geometry) if sc.coords == "gcj02" else p.geometry
            body = {
                "pack": sc.pack,
                "geometry": gpd.GeoSeries([geom]).__geo_interface__["features"][0]["geometry"],
                "coords": sc.coords,
                "project": project,
            }
            r = client.post("/api/check", json=body)
            if r.status_code == 200:
                out[sid] = A.from_report(r.json())
            elif 400 <= r.status_code < 500:
                out[sid] = {**A.error_answer(r.text), "_status": r.status_code}
            else:
                out[sid] = {"exception": f"HTTP {r.status_code}: {r.text[:300]}"}
    return out
