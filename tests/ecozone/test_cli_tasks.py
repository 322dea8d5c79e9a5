"""CLI tests for ``ecozone clues``, ``ecozone ledger`` and ``ecozone stakes``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Transformer
from shapely.geometry import Point, Polygon

from layers import LayerStore
from tests.zoning.conftest import at, disc, geodesic_area, rect

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"
ST = (116.66, 39.91)


def command(name: str):
    """The registered subcommand, or the module's command until it is registered."""
    from ecozone.cli.main import cli

    if name in cli.commands:
        return cli.commands[name]
    module = __import__(f"ecozone.cli.{name}", fromlist=[name])
    return getattr(module, name)


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, name, args, code=0):
    result = runner.invoke(command(name), [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def run_json(runner, name, args):
    return json.loads(invoke(runner, name, [*args, "--json"]).stdout)


def em(*recs):
    return json.dumps([{"month": m, "pollutant": p, "tonnes": t} for m, p, t in recs])


def near(e, n):
    return at(e, n, lon0=ST[0], lat0=ST[1])


@pytest.fixture
def store(tmp_path):
    """A small store: red lines, districts, key area, strict zones and sources."""
    path = tmp_path / "store.gpkg"
    frames = {
        "redline": gpd.GeoDataFrame(
            {"feature_id": ["RL-1", "RL-2"], "name": ["红线一", "红线二"]},
            geometry=[rect(0, 0, 1000, 1000), rect(3000, 0, 3120, 80)],
            crs=4326,
        ),
        "boundary": gpd.GeoDataFrame(
            {"feature_id": ["b1", "b2"], "name": ["甲区", "乙区"], "adcode": ["110101", "110102"],
             "level": ["district", "district"]},
            geometry=[rect(-5000, -5000, 2000, 5000), rect(2000, -5000, 8000, 5000)],
            crs=4326,
        ),
        "tongzhou_key_area": gpd.GeoDataFrame(
            {"feature_id": ["KEY"], "name": ["重点区域"]}, geometry=[disc(*ST, 750)], crs=4326
        ),
        "tongzhou_strict_zone": gpd.GeoDataFrame(
            {"feature_id": ["SZ-1"], "name": ["严控区一"]},
            geometry=[Polygon([near(-300, -200), near(0, -200), near(0, 100), near(-300, 100)])],
            crs=4326,
        ),
        "pollution_source": gpd.GeoDataFrame(
            {
                "feature_id": ["S1", "S2", "S3"],
                "name": ["=1+2", "餐饮甲", "区外"],
                "source_type": ["工业企业", "餐饮", "工业企业"],
                "emissions": [
                    em(("2025-01", "PM10", 1.0), ("2025-02", "PM10", 2.0)),
                    em(("2025-02", "PM10", 0.5), ("2025-02", "NOx", 4.0)),
                    em(("2025-02", "PM10", 99.0)),
                ],
            },
            geometry=[Point(near(-100, 0)), Point(near(400, 0)), Point(near(3000, 0))],
            crs=4326,
        ),
    }  # fmt: skip
    with LayerStore(path) as st:
        for kind, gdf in frames.items():
            st.import_layer(gdf, name=kind, kind=kind, source="test", synthetic=True)
    return path


# --------------------------------------------------------------------------- clues


def test_clues_command(runner, store, tmp_path):
    clues = gpd.GeoDataFrame(
        {"clue_id": ["A", "B", "C"]},
        geometry=[Point(at(500, 500)), rect(900, 100, 1100, 300), Point(at(2500, 0))],
        crs=4326,
    )
    src = tmp_path / "clues.geojson"
    clues.to_file(src)
    out, table = tmp_path / "out.gpkg", tmp_path / "table.csv"
    data = run_json(runner, "clues", [src, "--out", out, "--table", table, "--store", store])
    assert data["clues"] == 3 and data["in_redline"] == 2
    half = geodesic_area(rect(900, 100, 1000, 300))
    assert data["area_in_redline_m2"] == pytest.approx(half, rel=1e-4)
    result = gpd.read_file(out).set_index("clue_id")
    assert result.loc["B", "redline_ids"] == "RL-1"
    assert result.loc["B", "share_in_redline_pct"] == pytest.approx(50.0, rel=1e-3)
    assert result.loc["C", "district_name"] == "乙区"
    t = pd.read_csv(table, encoding="utf-8-sig", dtype={"区县代码": str})
    assert list(t.columns) == ["区县代码", "区县", "线索数", "红线内线索数", "红线内面积(km²)"]
    assert t["线索数"].tolist() == [2, 1, 3]
    # text output and an XLSX table
    xlsx = tmp_path / "table.xlsx"
    res = invoke(runner, "clues", [src, "--out", out, "--table", xlsx, "--store", store])
    assert "甲区" in res.stdout
    assert pd.read_excel(xlsx)["红线内线索数"].tolist() == [2, 0, 2]
    bad = invoke(runner, "clues", [src, "--out", out, "--table", tmp_path / "t.txt",
                                   "--store", store], code=2)  # fmt: skip
    assert "--table" in bad.output


def test_clues_cite_the_pack_that_asks_for_them(runner, store, tmp_path):
    """The plan source of the clue check is pack data ([clues]), not a constant in code."""
    from zoning.pack import load_pack

    src = tmp_path / "clues.geojson"
    gpd.GeoDataFrame({"clue_id": ["A"]}, geometry=[Point(at(500, 500))], crs=4326).to_file(src)
    args = [src, "--out", tmp_path / "o.gpkg", "--store", store]
    duty = load_pack("tongzhou").clues
    assert duty is not None and duty.citation.startswith("002_735b581d06638fbb.txt")
    seed = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "002_735b581d06638fbb.txt"
    if seed.exists():  # the cited lines say it: human activity in the red line, checked
        lines = seed.read_text(encoding="utf-8").splitlines()[671:674]
        assert any("人类活动" in ln and "核查" in ln for ln in lines)
    tz = run_json(runner, "clues", [*args, "--pack", "tongzhou"])
    assert tz["citation"] == duty.citation and tz["pack"] == "tongzhou"
    text = invoke(runner, "clues", [*args, "--pack", "tongzhou"]).stdout
    assert f"依据 / source: {duty.citation}" in text
    # a pack whose plan does not ask for it cites nothing rather than another plan
    assert load_pack("guangxi").clues is None
    gx = run_json(runner, "clues", [*args, "--pack", "guangxi"])
    assert gx["citation"] is None
    gx_text = invoke(runner, "clues", [*args, "--pack", "guangxi"]).stdout
    assert "未给出线索核查的规划依据" in gx_text


def test_clues_command_gcj02_input(runner, store, tmp_path):
    from geo.chinacoords import wgs84_to_gcj02

    lon, lat = at(500, 500)
    glon, glat = wgs84_to_gcj02(lon, lat)
    csv = tmp_path / "clues.csv"
    csv.write_text(f"编号,lon,lat\nX1,{float(glon)},{float(glat)}\n", encoding="utf-8")
    data = run_json(runner, "clues", [csv, "--coords", "gcj02", "--out", tmp_path / "o.gpkg",
                                      "--store", store])  # fmt: skip
    assert data["in_redline"] == 1


# --------------------------------------------------------------------------- ledger


def test_ledger_command(runner, store, tmp_path):
    data = run_json(runner, "ledger", ["--store", store])
    assert data["sources"] == 2 and data["sources_strict"] == 1
    assert data["tonnes_by_pollutant"] == {"NOx": 4.0, "PM10": 3.5}
    out = tmp_path / "ledger.xlsx"
    data = run_json(runner, "ledger", ["--month", "2025-02", "--out", out, "--store", store])
    assert data["months"] == ["2025-02"]
    pivot = pd.read_excel(out, sheet_name="pivot")
    row = pivot[(pivot["zone"] == "strict")].iloc[0]
    assert row["PM10"] == pytest.approx(2.0) and row["NOx"] == 0
    sources = pd.read_excel(out, sheet_name="sources")
    assert "'=1+2" in set(sources["name"])
    with pd.ExcelFile(out) as xf:
        assert xf.sheet_names[:3] == ["sources", "totals", "pivot"]
    text = invoke(runner, "ledger", ["--store", store, "--out", tmp_path / "l.csv"])
    assert "严控区" in text.stdout
    assert (tmp_path / "l.pivot.csv").exists()
    # the plan line and the zone labels are the pack's [ledger] data
    cited = run_json(runner, "ledger", ["--pack", "tongzhou", "--store", store])
    assert cited["citation"].startswith("002_735b581d06638fbb.txt")
    assert data["citation"] is None  # the default pack declares no [ledger]
    text = invoke(runner, "ledger", ["--pack", "tongzhou", "--store", store])
    assert "重点区域（严控区外） 排放量" in text.stdout
    assert "002_735b581d06638fbb.txt" in text.stderr


def test_ledger_command_errors(runner, store, tmp_path):
    res = invoke(runner, "ledger", ["--month", "2031-01", "--store", store], code=1)
    assert "2031-01" in res.output
    res = invoke(runner, "ledger", ["--month", "June", "--store", store], code=1)
    assert "YYYY-MM" in res.output
    empty = tmp_path / "empty.gpkg"
    LayerStore(empty).close()
    res = invoke(runner, "ledger", ["--store", empty], code=1)
    assert "pollution_source" in res.output


# --------------------------------------------------------------------------- stakes


def test_stakes_from_layer(runner, store, tmp_path):
    out = tmp_path / "stakes.xlsx"
    data = run_json(runner, "stakes", ["--layer", "redline", "--id", "RL-2", "--interval", "50",
                                       "--out", out, "--store", store])  # fmt: skip
    # RL-2 is 120 m × 80 m: 4 corners + 2 + 2 on the long sides + 1 + 1 on the short ones
    assert data["stakes"] == 10
    (ring,) = data["rings"]
    assert ring["perimeter_m"] == pytest.approx(400.0, abs=0.05)  # geodesic vs GK: 1e-4
    table = pd.read_excel(out, sheet_name="界桩成果表")
    assert table["界桩编号"].iloc[0] == "RL-2-J001" and len(table) == 11
    assert table["累计(m)"].iloc[-1] == pytest.approx(ring["perimeter_m"], abs=1e-3)
    # X is the northing, Y the easting of EPSG:4548
    e, n = Transformer.from_crs(4326, 4548, always_xy=True).transform(
        table["经度"].iloc[0], table["纬度"].iloc[0]
    )
    assert (table["X(北)"].iloc[0], table["Y(东)"].iloc[0]) == pytest.approx((n, e), abs=2e-3)

    res = invoke(runner, "stakes", ["--layer", "redline", "--id", "RL-9", "--out", out,
                                    "--store", store, "--overwrite"], code=2)  # fmt: skip
    assert "RL-9" in res.output
    res = invoke(runner, "stakes", ["--layer", "redline", "--id", "RL-2", "--out", out,
                                    "--store", store], code=1)  # fmt: skip
    assert "--overwrite" in res.output
    res = invoke(runner, "stakes", ["--layer", "redline", "--out", tmp_path / "x.csv",
                                    "--store", store], code=2)  # fmt: skip
    assert "--id" in res.output


def test_stakes_from_file(runner, tmp_path):
    poly = gpd.GeoDataFrame({"地块": ["A"]}, geometry=[rect(0, 0, 100, 100)], crs=4326)
    src = tmp_path / "parcel.geojson"
    poly.to_file(src)
    out = tmp_path / "stakes.gpkg"
    res = invoke(runner, "stakes", [src, "--interval", "0", "--out", out, "--id-column", "地块"])
    assert "A" in res.stdout
    pts = gpd.read_file(out, layer="stakes")
    assert pts["stake_id"].tolist() == [f"A-J{i:03d}" for i in range(1, 5)]
    csv = tmp_path / "s.csv"
    invoke(runner, "stakes", [src, "--interval", "30", "--out", csv])
    table = pd.read_csv(csv, encoding="utf-8-sig")
    assert table["界桩编号"].iloc[0] == "F1-J001"
    assert table["距上一桩(m)"].max() <= 30.001
    assert len(table) == 4 * 4 + 1  # each 100 m side in 4 pieces of 25 m, plus the closing row
    res = invoke(runner, "stakes", [src, "--layer", "redline", "--out", csv], code=2)
    assert "not both" in res.output


# --------------------------------------------------------------------------- demo data


def test_commands_on_demo_store(runner, tmp_path):
    if not DEMO.exists():
        pytest.skip("demo GeoPackage not built")
    store = tmp_path / "demo.gpkg"
    shutil.copy(DEMO, store)
    data = run_json(runner, "ledger", ["--month", "2025-06", "--store", store])
    assert data["sources"] > 10 and data["sources_strict"] > 0
    assert set(data["pollutants"]) >= {"PM10", "NOx"}
    with LayerStore(store) as st:
        rl = st.get_kind("redline").gdf
    fid = str(rl["feature_id"].iloc[0])
    out = tmp_path / "stakes.csv"
    data = run_json(runner, "stakes", ["--layer", "redline", "--id", fid, "--out", out,
                                       "--store", store])  # fmt: skip
    assert data["stakes"] >= sum(r["vertices"] for r in data["rings"])
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["距上一桩(m)"].max() <= 50.001
    # screen points at red-line vertices' neighbourhood: some inside, all districts known
    pts = rl.geometry.iloc[:20].representative_point()
    clues = gpd.GeoDataFrame({"clue_id": [f"K{i}" for i in range(20)]}, geometry=pts, crs=4326)
    src = tmp_path / "k.geojson"
    clues.to_file(src)
    data = run_json(runner, "clues", [src, "--out", tmp_path / "k.gpkg", "--store", store])
    assert data["in_redline"] == 20
    assert sum(r["clues"] for r in data["by_district"][:-1]) == 20
