"""ecozone in QGIS: the Processing plugin against the CLI, styled outputs, project, raster, FileGDB.

One module-scoped run does the expensive parts once: the ``ecozone`` command writes
its outputs (in-process), then one headless QGIS session (``_driver.py`` on Debian's
Python) runs every algorithm of the plugin on the same inputs and opens the CLI's
files. Each test then compares the two.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyogrio.raw import read_arrow

from ecozone.cli.main import cli
from geo.io.gpkg_styles import read_layer_styles
from layers import LayerStore, embedded_dataset_path
from zoning.check.result import VERDICT_ZH, VERDICTS
from zoning.pack import load_pack
from zoning.workflow import jurisdiction_area

from .conftest import ARTIFACTS, ROOT, copy_store, qgis_env, run_driver

PACK = "tongzhou"


def _cli(*args: str) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _make_inputs(store: Path, d: Path) -> dict[str, Path]:
    """Sites in and around Tongzhou (three polygons, one point, one outside) and parks."""
    with LayerStore(store) as st:
        area = jurisdiction_area(load_pack(PACK), st)
        strict = st.get_kind("tongzhou_strict_zone").gdf.geometry.iloc[0].representative_point()
        wells = st.get_kind("well").gdf
    well = wells.geometry[wells.within(area)].iloc[0]
    inside = area.representative_point()
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["s1", "s2", "s3", "s4"],
            "project_type": ["construction", "construction", "industrial", "construction"],
        },
        geometry=[
            shapely.box(strict.x - 0.004, strict.y - 0.004, strict.x + 0.004, strict.y + 0.004),
            shapely.box(well.x - 0.003, well.y - 0.003, well.x + 0.003, well.y + 0.003),
            inside,
            shapely.Point(110.0, 30.0),  # outside the pack's jurisdiction: an error row
        ],
        crs=4326,
    )
    paths = {"sites": d / "sites.gpkg", "points": d / "points.gpkg", "parks": d / "parks.gpkg"}
    sites.to_file(paths["sites"], layer="sites")
    points = gpd.GeoDataFrame(
        {"site_id": ["p1", "p2"]}, geometry=[inside, strict], crs=4326
    )  # AMap (GCJ-02) values, as a planner copies them
    points.to_file(paths["points"], layer="points")
    parks = gpd.GeoDataFrame(
        {"feature_id": ["qp1", "qp2"], "name": ["测试公园一", "测试公园二"]},
        geometry=[inside.buffer(0.003), strict.buffer(0.002)],
        crs=4326,
    )
    parks.to_file(paths["parks"], layer="parks")
    return paths


@pytest.fixture(scope="module")
def world(tmp_path_factory, qgis_available):
    """CLI outputs and one QGIS session over the same inputs."""
    d = tmp_path_factory.mktemp("qgis")
    demo = embedded_dataset_path()
    store = copy_store(demo, d / "store.gpkg")
    store_cli = copy_store(demo, d / "store_cli.gpkg")
    store_qgis = copy_store(demo, d / "store_qgis.gpkg")
    inp = _make_inputs(store, d)
    s = ["--store", store]
    _cli("check", inp["sites"], "--pack", PACK, "--out", d / "cli_check.gpkg", *s)
    _cli("check", inp["sites"], "--pack", PACK, "--out", d / "cli_check.gdb", *s)
    _cli("coverage", "--pack", PACK, "--out", d / "cli_cov.csv", *s)
    _cli("gaps", "--pack", PACK, "--out", d / "cli_gaps.gpkg", "--candidates", "3", *s)
    _cli("map", "--pack", PACK, "--out", d / "project" / "tongzhou.qgz", "--sites", inp["sites"],
         *s)  # fmt: skip
    _cli("map", "--pack", PACK, "--out", d / "coverage.tif", "--resolution", "50", *s)
    _cli("layers", "import", inp["parks"], "--kind", "park", "--name", "park_test",
         "--store", store_cli)  # fmt: skip
    common = {"PACK": PACK, "STORE": str(store)}
    project = d / "q_project.gpkg"  # a QGIS project's GeoPackage, with its own layer first
    gpd.read_file(inp["sites"]).to_file(project, layer="my_plots")
    spec = {
        "runs": {
            "check": {
                "alg": "ecozone:check",
                "params": {
                    **common,
                    "INPUT": str(inp["sites"]),
                    "OUTPUT": str(d / "q_check.gpkg"),
                    "REPORT_FOLDER": str(d / "report"),
                    "REPORT_SITE": "s1",
                    "REPORT_FORMATS": "json,html",
                },
            },
            "check_into_project": {  # an existing GeoPackage, opened when done
                "alg": "ecozone:check",
                "params": {**common, "INPUT": str(inp["sites"]), "OUTPUT": {"sink": str(project)}},
            },
            "check_cancel": {
                "alg": "ecozone:check",
                "params": {**common, "INPUT": str(inp["sites"]), "OUTPUT": str(d / "x.gpkg")},
                "cancel_after": 1,
            },
            "coverage": {
                "alg": "ecozone:coverage",
                "params": {**common, "OUTPUT": str(d / "q_cov.csv")},
            },
            "gaps": {
                "alg": "ecozone:gaps",
                "params": {**common, "CANDIDATES": 3, "OUTPUT": str(d / "q_gaps.gpkg")},
            },
            "import": {
                "alg": "ecozone:import_layer",
                "params": {
                    "INPUT": str(inp["parks"]),
                    "KIND": "park",
                    "NAME": "park_test",
                    "SOURCE": "parks.gpkg",
                    "STORE": str(store_qgis),
                },
            },
            "import_bad": {
                "alg": "ecozone:import_layer",
                "params": {"INPUT": str(inp["parks"]), "KIND": "well", "STORE": str(store_qgis)},
            },
            "convert": {
                "alg": "ecozone:convert",
                "params": {
                    "INPUT": str(inp["points"]),
                    "FROM": "gcj02",
                    "TO": "gk39",
                    "OUTPUT": str(d / "q_conv.gpkg"),
                },
            },
        },
        "vectors": {
            "cli_check": f"{d / 'cli_check.gpkg'}|layername=cli_check",
            "cli_gdb": f"{d / 'cli_check.gdb'}|layername=cli_check_polygon",
            "q_gaps": f"{d / 'q_gaps.gpkg'}|layername=uncovered_residential",
            "store_park": f"{store_qgis}|layername=park_test",
            "q_project": f"{project}|layername=q_project",
        },
        "projects": {"project": str(d / "project" / "tongzhou.qgz")},
        "rasters": {"coverage_tif": str(d / "coverage.tif")},
        "render": {
            "layers": [f"{d / 'cli_check.gpkg'}|layername=cli_check"],
            "context": [  # the project's styled layers under the result, top first
                f"{d / 'project' / 'tongzhou.gpkg'}|layername={name}"
                for name in ("well", "water_source_zone", "redline", "park", "boundary")
            ],
            "png": str(ARTIFACTS / "qgis_check_result.png"),
        },
    }
    seen = run_driver(spec, d)
    return {"dir": d, "store": store, "store_cli": store_cli, "store_qgis": store_qgis,
            "inputs": inp, "qgis": seen}  # fmt: skip


def _frame(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    # ecozone's GeoPackages also hold QGIS's layer_styles table: name the layer
    return pyogrio.read_dataframe(path, layer=layer or Path(path).stem)


def test_plugin_registers_the_ecozone_provider(world):
    q = world["qgis"]
    assert q["qgis"].startswith("3.")
    assert q["provider"] == "ecozone 三线一单"
    assert q["algorithms"] == sorted(
        f"ecozone:{n}" for n in ("check", "coverage", "gaps", "import_layer", "convert")
    )


def test_site_check_matches_the_cli(world):
    d, run = world["dir"], world["qgis"]["check"]
    assert run["ok"], run["errors"]
    assert run["progress"] and run["progress"][-1] == 100.0
    ours = _frame(d / "q_check.gpkg")
    cli_out = _frame(d / "cli_check.gpkg")
    assert len(ours) == 3  # s4 lies outside Tongzhou: an error row, as in the CLI
    pd.testing.assert_frame_equal(ours, cli_out)
    assert set(ours["verdict"]) <= set(VERDICTS)
    assert {"deciding_rules", "rules"} <= set(ours.columns)
    assert any(c.startswith("dist_") and c.endswith("_m") for c in ours.columns)
    errors = pd.read_csv(d / "q_check.errors.csv")
    assert errors["source_row"].tolist() == [4]
    report = json.loads((d / "report" / "report.json").read_text(encoding="utf-8"))
    assert "s1" in json.dumps(report, ensure_ascii=False)
    assert (d / "report" / "report.html").exists()
    # the log says what the verdicts rest on: demo layers, the batch's assumptions
    log = "\n".join(run["texts"])
    assert "演示数据" in log and "注（assumption）：" in log
    # a note that asks for something names the tool's parameter, not a CLI option
    assert "（参数 COORDS）" in log and "--coords" not in log


def test_site_check_into_a_project_geopackage_opens_the_verdicts(world):
    """QGIS opens the layer written, not the first of a GeoPackage holding others."""
    run, project = world["qgis"]["check_into_project"], world["dir"] / "q_project.gpkg"
    assert run["ok"], run["errors"]
    uri = f"{project}|layername=q_project"
    assert run["results"]["OUTPUT"] == uri
    assert run["to_load"] == [uri]  # the bare path would open my_plots
    assert world["qgis"]["q_project"]["valid"] and world["qgis"]["q_project"]["count"] == 3
    assert "verdict" in world["qgis"]["q_project"]["aliases"]
    pd.testing.assert_frame_equal(
        _frame(project, "my_plots"), gpd.read_file(world["inputs"]["sites"])
    )


def test_cancel_kills_the_worker(world):
    run = world["qgis"]["check_cancel"]
    assert not run["ok"]
    assert any("cancel" in e for e in run["errors"]), run["errors"]
    assert not (world["dir"] / "x.gpkg").exists()


def test_coverage_matches_the_cli(world):
    d, run = world["dir"], world["qgis"]["coverage"]
    assert run["ok"], run["errors"]
    ours = pd.read_csv(d / "q_cov.csv")
    pd.testing.assert_frame_equal(ours, pd.read_csv(d / "cli_cov.csv"))
    assert len(ours) >= 2  # targets (and their district rows) against the plan
    assert str(d / "q_cov.csv") in run["to_load"]


def test_gaps_match_the_cli(world):
    d, run = world["dir"], world["qgis"]["gaps"]
    assert run["ok"], run["errors"]
    for layer in ("uncovered_residential", "pocket_park_candidates"):
        pd.testing.assert_frame_equal(
            _frame(d / "q_gaps.gpkg", layer), _frame(d / "cli_gaps.gpkg", layer)
        )
    assert world["qgis"]["q_gaps"]["renderer"] == "singleSymbol"
    assert len(run["to_load"]) == 2


def test_import_validates_and_versions_like_the_cli(world):
    run = world["qgis"]["import"]
    assert run["ok"], run["errors"]
    with LayerStore(world["store_qgis"]) as a, LayerStore(world["store_cli"]) as b:
        ours, theirs = a.get("park_test"), b.get("park_test")
        assert (ours.version, ours.row_count, ours.checksum) == (1, 2, theirs.checksum)
        assert ours.source == "parks.gpkg"
    styled = world["qgis"]["store_park"]
    assert styled["valid"] and styled["renderer"] == "singleSymbol"
    bad = world["qgis"]["import_bad"]
    assert not bad["ok"]
    assert "LayerValidationError" in " ".join(bad["errors"])


def test_convert_matches_the_cli(world):
    d, run = world["dir"], world["qgis"]["convert"]
    assert run["ok"], run["errors"]
    ours = _frame(d / "q_conv.gpkg")
    assert ours.crs.to_epsg() == 4548  # zone 39 without prefix: CGCS2000 / 3-degree GK CM 117E
    src = _frame(world["inputs"]["points"], "points")
    for (x, y), got in zip(
        shapely.get_coordinates(src.geometry.values), ours.geometry, strict=True
    ):
        out = CliRunner().invoke(
            cli, ["coords", "convert", "--from", "gcj02", "--to", "gk39", str(x), str(y), "--json"]
        )
        assert out.exit_code == 0, out.output
        ex, ey = json.loads(out.output)["output"]
        assert got.x == pytest.approx(ex, abs=1e-6) and got.y == pytest.approx(ey, abs=1e-6)


def test_batch_result_opens_with_ecozone_verdict_style(world):
    seen = world["qgis"]["cli_check"]
    assert seen["valid"] and seen["renderer"] == "categorizedSymbol"
    assert seen["attr"] == "verdict"
    cats = seen["categories"]
    assert [c[0] for c in cats[: len(VERDICTS)]] == list(VERDICTS)
    assert [c[1] for c in cats[: len(VERDICTS)]] == [VERDICT_ZH[v] for v in VERDICTS]
    assert len({c[2] for c in cats[: len(VERDICTS)]}) == len(VERDICTS)  # distinct colours
    assert seen["aliases"]["verdict"] == "结论"
    styles = read_layer_styles(world["dir"] / "cli_check.gpkg")
    assert "StyledLayerDescriptor" in styles["cli_check"].sld


def test_filegdb_reads_back_with_identical_rows(world):
    d = world["dir"]
    # points and polygons mixed: one feature class per geometry type
    classes = [n for n, _ in pyogrio.list_layers(d / "cli_check.gdb")]
    assert sorted(classes) == ["cli_check_point", "cli_check_polygon"]
    gdb = pd.concat([_frame(d / "cli_check.gdb", c) for c in classes]).sort_values("source_row")
    gdb = gdb.reset_index(drop=True)
    gpkg = _frame(d / "cli_check.gpkg", "cli_check").sort_values("source_row")
    gpkg = gpkg.reset_index(drop=True)
    assert list(gdb.columns) == list(gpkg.columns)
    for col in gpkg.columns.drop("geometry"):
        a, b = gdb[col].to_numpy(), gpkg[col].to_numpy()
        if gpkg[col].dtype.kind == "f":
            np.testing.assert_allclose(a, b, equal_nan=True)
        elif gpkg[col].dtype == bool:  # FileGDB has no boolean type: 0/1
            assert a.astype(int).tolist() == b.astype(int).tolist(), col
        else:
            assert [str(v) for v in a] == [str(v) for v in b], col
    # FileGDB stores coordinates on its XY grid (1e-9° for lon/lat); polygons become multi
    far = shapely.hausdorff_distance(gdb.geometry.values, gpkg.geometry.values)
    assert (far < 1e-8).all(), far
    fields = read_arrow(d / "cli_check.gdb", layer="cli_check_polygon")[1].schema
    alias = fields.field("verdict").metadata[b"GDAL:OGR:alternative_name"].decode()
    assert alias == "结论"
    seen = world["qgis"]["cli_gdb"]
    assert seen["valid"] and seen["count"] == int((gpkg.geom_type == "Polygon").sum())


def test_project_opens_in_qgis_with_styled_layers(world):
    seen = world["qgis"]["project"]
    assert seen["read"] and seen["crs"] == "EPSG:4548"
    assert seen["layers"] and all(lyr["valid"] for lyr in seen["layers"])
    assert all(lyr["renderer"] for lyr in seen["layers"])
    names = {lyr["name"] for lyr in seen["layers"]}
    assert {"行政区划边界", "生态保护红线"} <= names
    # the check result mixes areas and a point: one layer each, in verdict colours
    sites = {lyr["name"]: lyr for lyr in seen["layers"] if lyr["name"].startswith("检查结论")}
    assert set(sites) == {"检查结论（面）", "检查结论（点）"}
    assert {lyr["renderer"] for lyr in sites.values()} == {"categorizedSymbol"}
    assert sum(lyr["count"] for lyr in sites.values()) == 3
    with LayerStore(world["store"]) as st:
        area = jurisdiction_area(load_pack(PACK), st)
    box = gpd.GeoSeries([shapely.box(*area.bounds)], crs=4326).to_crs(4548).total_bounds
    np.testing.assert_allclose(seen["extent"], box, atol=1.0)


def test_coverage_geotiff_has_a_legend_and_covers_the_jurisdiction(world):
    import rasterio

    d = world["dir"]
    with rasterio.open(d / "coverage.tif") as src:
        cmap = src.colormap(1)
        bounds = src.bounds
        crs = src.crs
    assert cmap[1][:3] != cmap[2][:3]
    aux = (d / "coverage.tif.aux.xml").read_text(encoding="utf-8")
    assert "未覆盖" in aux and "GDALRasterAttributeTable" in aux
    with LayerStore(world["store"]) as st:
        area = jurisdiction_area(load_pack(PACK), st)
    jb = gpd.GeoSeries([area], crs=4326).to_crs(crs.to_wkt()).total_bounds
    assert bounds.left <= jb[0] + 50 and bounds.right >= jb[2] - 50
    assert bounds.bottom <= jb[1] + 50 and bounds.top >= jb[3] - 50
    seen = world["qgis"]["coverage_tif"]
    assert seen["renderer"] == "paletted"
    assert [c[0] for c in seen["classes"]] == [1, 2]
    assert "未覆盖" in seen["classes"][1][2]


def test_screenshot_of_a_styled_result(world):
    from PIL import Image

    r = world["qgis"]["render"]
    assert r["saved"] and r["layers"] == 6
    png = ARTIFACTS / "qgis_check_result.png"
    img = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in np.unique(img, axis=0)}
    assert len(colours) > 3
    verdicts = set(_frame(world["dir"] / "cli_check.gpkg")["verdict"])
    fills = {c[0]: c[2] for c in world["qgis"]["cli_check"]["categories"] if c[0] in verdicts}

    def rgb(h):
        return tuple(int(h[i : i + 2], 16) for i in (1, 3, 5))

    # polygons are drawn with the verdict's fill (alpha-blended on white): its hue is there
    near = [np.abs(img.astype(int) - np.array(rgb(h))).sum(axis=1).min() for h in fills.values()]
    assert min(near) < 120


def test_qgis_process_runs_the_readme_command(world, tmp_path):
    """``qgis_process run ecozone:check -- INPUT=sites.gpkg PACK=tongzhou OUTPUT=out.gpkg``."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "ecozone_qgis").symlink_to(ROOT / "ecozone" / "qgis")
    home = tmp_path / "home"
    env = qgis_env(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        QGIS_PLUGINPATH=str(plugins),
        ECOZONE_STORE=str(world["store"]),
    )
    # Debian 12's /usr/bin/qgis_process wrapper adds --noversioncheck, which the 3.22
    # executable rejects; qgis_process.bin is the executable itself (docs/qgis.md)
    exe = "/usr/bin/qgis_process.bin"
    enable = subprocess.run(
        [exe, "plugins", "enable", "ecozone_qgis"], env=env, capture_output=True, text=True
    )
    assert enable.returncode == 0, enable.stderr
    out = tmp_path / "out.gpkg"
    proc = subprocess.run(
        [exe, "run", "ecozone:check", "--",
         f"INPUT={world['inputs']['sites']}", f"PACK={PACK}", f"OUTPUT={out}"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pd.testing.assert_frame_equal(_frame(out), _frame(world["dir"] / "cli_check.gpkg"))


def test_the_project_parameters_name_every_flag_and_activity_of_the_engine():
    # (reads the plugin's text: its help is kept literal, QGIS's Python has no engine)
    from ecozone.qgis.worker import _project
    from zoning.project import ACTIVITIES, FLAGS

    source = (ROOT / "ecozone" / "qgis" / "algorithms.py").read_text(encoding="utf-8")
    helps = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "").endswith("_HELP")
    }
    for name, vocabulary in (("_FLAGS_HELP", FLAGS), ("_ACTIVITY_HELP", ACTIVITIES)):
        listed = [w.strip() for w in helps[name].split("): ", 1)[1].split(",")]
        assert listed == list(vocabulary), name
    # the worker's project: Chinese names read, an activity alone is a project
    p = _project({"flags": "钢铁,化工", "activity": "线性基础设施"})
    assert p.flags == {"steel", "chemical"} and p.activity == "linear_infrastructure"
    assert p.project_type == "linear"
    assert _project({"activity": ""}) is None
