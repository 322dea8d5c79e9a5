"""The wrong verdicts of #11 §1, through every front door: CLI single and batch, the
dask engine and the REST API, on a copy of the embedded demo store.

The issue's first bullet: a point at 0,0 checked with ``--pack beijing`` (CLI ``--at``
and ``POST /api/check``) was 符合 in all four columns, while the batch path rejected
the same point; Jiangjin and Guangxi sites were "生态保护红线：未涉及" although the
store holds no red-line, control-unit or water-source data there. Now: 0,0 is
outside the jurisdiction on every path (exit code 1, REST 422, batch row status
``outside_jurisdiction``), and Jiangjin / Guangxi sites are 数据不足 with the missing
layers named; every answer says it rests on demonstration data.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import httpx
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ecozone.cli.main import cli
from layers.store import LayerStore

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"
pytestmark = pytest.mark.skipif(not DEMO.is_file(), reason="demo store not built")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("evidence") / "demo.gpkg"
    shutil.copyfile(DEMO, path)
    return path


@pytest.fixture(scope="module")
def places(store) -> dict[str, tuple[float, float]]:
    """A point inside each jurisdiction, from the boundary layer (data, not guesses)."""
    with LayerStore(store, create=False) as st:
        b = st.get_kind("boundary").gdf
    out = {}
    for code in ("500116", "450000"):
        p = shapely.point_on_surface(b[b["adcode"].astype(str) == code].geometry.iloc[0])
        out[code] = (round(p.x, 6), round(p.y, 6))
    return out


def run(*args: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # layer kinds the demo lacks: 数据不足, warned
        return CliRunner().invoke(cli, list(args))


def test_cli_single_null_island_is_refused(store):
    r = run("check", "--at", "0,0", "--pack", "beijing", "--store", str(store))
    assert r.exit_code == 1, r.output
    assert "管辖范围" in r.output and "outside the jurisdiction" in r.output
    assert "符合" not in r.output


@pytest.mark.parametrize(("pack", "code"), [("jiangjin", "500116"), ("guangxi", "450000")])
def test_cli_single_jiangjin_guangxi_insufficient_data(store, places, pack, code):
    lon, lat = places[code]
    r = run("check", "--at", f"{lon},{lat}", "--pack", pack, "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    site = json.loads(r.stdout)["sites"][0]
    assert site["verdict"] == "insufficient_data"
    assert site["verdict_zh"] == "数据不足（无法判定）"
    out = {f["rule_id"]: f["outcome"] for f in site["findings"]}
    assert out["redline.inside"] == out["control_unit.access"] == "insufficient_data"
    kinds = {n["kind"] for n in site["notes"]}
    assert {"missing_data", "demo_data", "assumption"} <= kinds
    text = run("check", "--at", f"{lon},{lat}", "--pack", pack, "--store", str(store))
    assert "数据不足" in text.output and "演示数据" in text.output
    assert "ecozone layers import" in text.output  # what to import


def _sites_csv(tmp_path: Path, places) -> Path:
    lon, lat = places["500116"]
    df = pd.DataFrame(
        {"site_id": ["zero", "jj1", "jj2"], "lon": [0.0, lon, lon + 0.001],
         "lat": [0.0, lat, lat + 0.001]}
    )  # fmt: skip
    path = tmp_path / "sites.csv"
    df.to_csv(path, index=False)
    return path


def test_cli_batch_agrees(store, places, tmp_path):
    src = _sites_csv(tmp_path, places)
    out = tmp_path / "r.csv"
    # --crs given: no detection from the other rows, so 0,0 reaches the check
    r = run("check", str(src), "--pack", "jiangjin", "--out", str(out), "--store", str(store),
            "--crs", "EPSG:4326", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["by_verdict"]["insufficient_data"] == 2 and summary["checked"] == 2
    assert summary["demo_data"] and summary["outside_jurisdiction"] == 1
    got = pd.read_csv(out)
    assert set(got["verdict"]) == {"insufficient_data"}
    assert got["demo_data"].str.contains("redline").all()
    assert got["notes"].str.contains("missing_data").all()
    errors = pd.read_csv(tmp_path / "r.errors.csv", encoding="utf-8-sig")
    assert list(errors["site_id"]) == ["zero"]
    assert list(errors["status"]) == ["outside_jurisdiction"]
    assert "zero" not in set(got["site_id"])
    # without --crs the reader rejects 0,0 already (it fits no system with the other
    # rows): never a verdict either
    r = run("check", str(src), "--pack", "jiangjin", "--out", str(out), "--store", str(store),
            "--json")  # fmt: skip
    assert r.exit_code == 0 and json.loads(r.stdout)["checked"] == 2
    errors = pd.read_csv(tmp_path / "r.errors.csv", encoding="utf-8-sig")
    assert list(errors["source_row"]) == [2] and list(errors["stage"]) == ["read"]


def test_cli_batch_zero_alone_is_outside_the_jurisdiction(store, tmp_path):
    src = tmp_path / "zero.csv"
    pd.DataFrame({"site_id": ["z"], "lon": [0.0], "lat": [0.0]}).to_csv(src, index=False)
    out = tmp_path / "z.csv"
    r = run("check", str(src), "--pack", "beijing", "--out", str(out), "--store", str(store),
            "--crs", "EPSG:4326", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["checked"] == 0
    errors = pd.read_csv(tmp_path / "z.errors.csv", encoding="utf-8-sig")
    assert list(errors["status"]) == ["outside_jurisdiction"]


def test_dask_engine_agrees(store, places, tmp_path):
    pytest.importorskip("dask.distributed")
    from zoning.check.distributed import dask_client, run_batch_dask
    from zoning.pack import load_pack

    lon, lat = places["500116"]
    import geopandas as gpd

    sites = gpd.GeoDataFrame(
        {"site_id": ["zero", "jj1"]},
        geometry=[shapely.Point(0, 0), shapely.Point(lon, lat)], crs="EPSG:4326",
    )  # fmt: skip
    src = tmp_path / "s.parquet"
    sites.to_parquet(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dask_client(n_workers=1) as client, LayerStore(store, create=False) as st:
            s = run_batch_dask(
                src, pack=load_pack("jiangjin"), store=st, out=tmp_path / "out",
                scheduler=client, missing_layers="skip",
            )  # fmt: skip
    assert s.checked == 1 and s.errors == 1 and s.outside_jurisdiction == 1
    assert s.by_verdict["insufficient_data"] == 1
    errors = pd.read_csv(s.errors_out, encoding="utf-8-sig")
    assert list(errors["status"]) == ["outside_jurisdiction"]
    got = gpd.read_parquet(next((tmp_path / "out").glob("*.parquet")))
    assert list(got["verdict"]) == ["insufficient_data"]
    assert "redline" in got["demo_data"].iloc[0]
    # the notes every site shares: the in-process batch's, word for word
    from zoning.check.batch import run_batch

    with warnings.catch_warnings(), LayerStore(store, create=False) as st:
        warnings.simplefilter("ignore")
        here = run_batch(src, pack="jiangjin", store_or_layers=st, out=tmp_path / "in.parquet",
                         missing_layers="skip")  # fmt: skip
    assert s.stamp["notes"] == here.stamp["notes"]
    assert any("新建" in n["text"] for n in s.stamp["notes"])


def test_rest_api_agrees(store, places):
    from ecozone.web.app import create_app
    from ecozone.web.settings import WebSettings
    from tests.ecozone._webdata import live_server

    lon, lat = places["500116"]
    app = create_app(str(store), settings=WebSettings(threads=2))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/api/check", json={"pack": "beijing", "coordinates": "0,0"})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "outside_jurisdiction" and "jurisdiction" in err["message"]
        r = c.post("/api/check", json={"pack": "jiangjin", "coordinates": f"{lon},{lat}"})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["verdict"]["code"] == "insufficient_data"
        kinds = {n["kind"] for n in report["notes"] if isinstance(n, dict)}
        assert {"missing_data", "demo_data"} <= kinds


def test_a_geometry_repaired_by_the_reader_is_a_repair_note(store, tmp_path):
    import geopandas as gpd

    bow = shapely.Polygon([(116.66, 39.90), (116.67, 39.91), (116.67, 39.90), (116.66, 39.91)])
    src = tmp_path / "bow.geojson"
    gpd.GeoDataFrame({"site_id": ["bow"]}, geometry=[bow], crs=4326).to_file(src)
    r = run("check", str(src), "--pack", "tongzhou", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    site = json.loads(r.stdout)["sites"][0]
    assert "repair" in [n["kind"] for n in site["notes"]]


def test_cli_batch_prints_what_every_verdict_assumed(store, tmp_path):
    # one project for every row (the options): its undeclared flags are named, on the
    # terminal and in the JSON summary; Beijing's new-steel ban is among the rules
    src = tmp_path / "bj.csv"
    pd.DataFrame({"site_id": ["t"], "lon": [116.66], "lat": [39.91]}).to_csv(src, index=False)
    args = ["check", str(src), "--pack", "beijing", "--out", str(tmp_path / "bj.csv.out.csv"),
            "--store", str(store), "--project-type", "industrial"]  # fmt: skip
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert "注 / note (assumption): 未申报的项目特征" in r.output
    assert "capacity.steel_coking" in r.output
    summary = json.loads(run(*args, "--json").stdout)
    assert any("capacity.steel_coking" in n["text"] for n in summary["notes"])
    # declaring the flag brings the rule in: the site is prohibited, the note drops it
    summary = json.loads(run(*args, "--flag", "steel", "--json").stdout)
    assert summary["by_verdict"]["prohibited"] == 1
    assert not any("capacity.steel_coking" in n["text"] for n in summary["notes"])
