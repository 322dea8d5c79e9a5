"""``ecozone check`` end to end on the embedded demo store."""

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from docx import Document

from ecozone.cli.main import cli
from layers import open_store
from tests.frames import assert_frame_equal

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def demo_points():
    """A Tongzhou well and a point inside the first Tongzhou strict-control zone (WGS84).

    The well must lie in Tongzhou: the tongzhou pack refuses sites outside its
    jurisdiction (#11; the first well of the layer is in Daxing).
    """
    with open_store(None) as store:
        b = store.get_kind("boundary").gdf
        tongzhou = b[b["adcode"].astype(str) == "110112"].geometry.iloc[0]
        wells = store.get_kind("well").gdf.geometry
        well = wells[wells.within(tongzhou)].iloc[0]
        zone = store.get_kind("tongzhou_strict_zone").gdf.geometry.iloc[0]
    return well, zone.representative_point()


def test_single_site_report(tmp_path, demo_points):
    _, inside = demo_points
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--at",
            f"{inside.x},{inside.y}",
            "--pack",
            "tongzhou",
            "--project-type",
            "construction",
            "--name",
            EVIL,
            "--report",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rules = {f["rule_id"] for f in report["findings"]}
    assert "tongzhou.strict.construction" in rules
    assert "tongzhou.key.construction" not in rules  # the strict zone is not also "outside"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert EVIL not in html and "&lt;script&gt;" in html
    tables = Document(str(out / "report.docx")).tables
    table = next(t for t in tables if t.rows[0].cells[0].text == "类别")
    header = [c.text for c in table.rows[0].cells]
    assert header == ["类别", "管控要求", "项目情况", "符合性分析", "结论", "依据"]


def test_gcj02_input_matches_wgs84(demo_points):
    from geo.chinacoords import wgs84_to_gcj02

    well, _ = demo_points
    lon, lat = wgs84_to_gcj02(well.x + 0.0001, well.y)
    runner = CliRunner()
    args = ["check", "--pack", "beijing", "--flag", "sewage", "--json"]
    wgs = runner.invoke(cli, [*args, "--at", f"{well.x + 0.0001},{well.y}"])
    gcj = runner.invoke(cli, [*args, "--at", f"{float(lon)},{float(lat)}", "--coords", "gcj02"])
    assert wgs.exit_code == 0 and gcj.exit_code == 0, wgs.output + gcj.output
    a, b = json.loads(wgs.stdout), json.loads(gcj.stdout)
    site_a, site_b = a["sites"][0], b["sites"][0]
    assert site_a["verdict"] == site_b["verdict"] == "prohibited"  # ~8.5 m from a well
    assert site_a["deciding_rules"] == site_b["deciding_rules"]


def test_batch_reports_bad_rows_and_keeps_the_rest(tmp_path, demo_points):
    well, inside = demo_points
    src = tmp_path / "sites.csv"
    src.write_text(
        "name,lon,lat,project_type\n"
        f"near well,{well.x},{well.y},agriculture\n"
        "garbage,not-a-number,39.9,construction\n"
        f"strict zone,{inside.x},{inside.y},construction\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.csv"
    result = CliRunner().invoke(
        cli, ["check", str(src), "--pack", "tongzhou", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["checked"] == 2 and summary["errors"] == 1
    rows = pd.read_csv(out)
    assert len(rows) == 2
    assert {"verdict", "deciding_rules", "source_row"} <= set(rows.columns)
    errors = pd.read_csv(summary["errors_out"])
    assert errors["source_row"].tolist() == [3]  # line 3 of the CSV, the header is line 1


def test_batch_to_geopackage(tmp_path, demo_points):
    well, inside = demo_points
    sites = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[well, inside], crs="EPSG:4326")
    src = tmp_path / "sites.geojson"
    sites.to_file(src)
    out = tmp_path / "results.gpkg"
    result = CliRunner().invoke(cli, ["check", str(src), "--pack", "beijing", "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = gpd.read_file(out, layer="results")  # the file also holds layer_styles
    assert len(got) == 2 and got.crs is not None
    # a QGIS project's GeoPackage given as --out keeps its own layers
    project = tmp_path / "project.gpkg"
    sites.to_file(project, layer="my_plots")
    args = ["check", str(src), "--pack", "beijing", "--out", str(project)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert gpd.read_file(project, layer="my_plots")["name"].tolist() == ["a", "b"]
    assert len(gpd.read_file(project, layer="project")) == 2


def test_batch_out_over_its_sites_is_refused_and_the_sites_kept(tmp_path, demo_points):
    sites = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=list(demo_points), crs="EPSG:4326")
    src = tmp_path / "sites.gpkg"
    sites.to_file(src)
    before = src.read_bytes()
    result = CliRunner().invoke(cli, ["check", str(src), "--pack", "beijing", "--out", str(src)])
    assert result.exit_code == 1
    assert "the output out (--out) is the input file" in result.output
    assert "choose another path" in result.output
    assert src.read_bytes() == before


def test_batch_out_of_unknown_format_names_every_format(tmp_path, demo_points):
    src = tmp_path / "sites.geojson"
    gpd.GeoDataFrame(geometry=list(demo_points), crs="EPSG:4326").to_file(src)
    out = tmp_path / "results.txt"
    result = CliRunner().invoke(cli, ["check", str(src), "--pack", "beijing", "--out", str(out)])
    assert result.exit_code == 1
    assert "'.gpkg'" in result.output and ".xlsx" in result.output
    assert not out.exists()


def test_site_and_at_are_exclusive(tmp_path):
    result = CliRunner().invoke(cli, ["check", "--pack", "beijing"])
    assert result.exit_code == 2
    assert "SITES" in result.output


def test_dask_engine_on_a_single_row_group(tmp_path, demo_points):
    """One row group → one input partition, re-partitioned by Hilbert key (regression:
    the arrow shuffle turned geometries into WKB bytes)."""
    pytest.importorskip("dask_geopandas")
    well, inside = demo_points
    sites = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]}, geometry=[well, inside, inside], crs="EPSG:4326"
    )
    src = tmp_path / "sites.parquet"
    sites.to_parquet(src)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["check", str(src), "--pack", "tongzhou", "--out", str(out), "--engine", "dask", "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["checked"] == 3 and summary["errors"] == 0
    # a local cluster: the in-memory engine would be faster on this machine, and it says so
    assert "note: --engine dask" in result.stderr and "--scheduler ADDRESS" in result.stderr
    got = gpd.read_parquet(out)
    assert got["verdict"].tolist()[1] == got["verdict"].tolist()[2]


def test_dask_engine_honours_workers_and_distances(tmp_path, demo_points):
    """--distances gives the in-memory engine's columns and values on the dask engine;
    --workers sizes the local cluster; with --scheduler it does not apply, and says so
    (issue #16)."""
    pytest.importorskip("dask_geopandas")
    from zoning.check.dask_engine import dask_client

    well, inside = demo_points
    shifts = [(0.0, 0.0), (0.002, 0.0), (0.0, -0.003), (0.01, 0.01)]
    geoms = [shapely.Point(p.x + dx, p.y + dy) for p in (well, inside) for dx, dy in shifts]
    sites = gpd.GeoDataFrame(
        {"site_id": [f"p{i}" for i in range(len(geoms))], "owner": "某公司"},
        geometry=geoms, crs="EPSG:4326",
    )  # fmt: skip
    src = tmp_path / "sites.parquet"
    sites.to_parquet(src, row_group_size=3)
    runner = CliRunner()

    def run(out, *extra):
        res = runner.invoke(cli, ["check", str(src), "--pack", "tongzhou", "--out", str(out),
                                  "--json", *extra])  # fmt: skip
        assert res.exit_code == 0, res.output
        return res, gpd.read_parquet(out).sort_values("site_id").reset_index(drop=True)

    def same(got, want):
        cols = ["site_id", "verdict", "deciding_rules", "rules"]
        cols += [c for c in want.columns if c.startswith("dist_")]
        assert [c for c in got.columns if c.startswith("dist_")] == cols[4:]
        assert_frame_equal(pd.DataFrame(got[cols]), pd.DataFrame(want[cols]))
        return cols[4:]

    _, mem_all = run(tmp_path / "all.parquet", "--distances", "all")
    res, dsk_all = run(tmp_path / "dask_all", "--engine", "dask", "--workers", "1",
                       "--distances", "all")  # fmt: skip
    assert "--workers" not in res.stderr
    every = same(dsk_all, mem_all)
    _, mem_rules = run(tmp_path / "rules.parquet")  # --distances rules, the default
    with dask_client(n_workers=1, memory_limit="1GB") as client:
        address = client.scheduler.address
        res, dsk_rules = run(tmp_path / "dask_rules", "--engine", "dask", "--scheduler",
                             address, "--workers", "3")  # fmt: skip
    assert "warning: --workers 3 不适用于 --scheduler 指定的集群 / --workers does not apply" in (
        res.stderr
    )
    assert address in res.stderr
    assert "note: --engine dask" not in res.stderr  # a running cluster: no local one
    rules = same(dsk_rules, mem_rules)
    assert set(rules) < set(every)  # the option changed the columns, on both engines


def test_batch_to_xlsx_workbook(tmp_path, demo_points):
    import openpyxl

    well, inside = demo_points
    sites = tmp_path / "sites.csv"
    sites.write_text(
        f"site_id,lon,lat\nA,{inside.x},{inside.y}\nB,{well.x},{well.y}\nC,x,39.9\n",
        encoding="utf-8",
    )
    out = tmp_path / "结果.xlsx"
    res = CliRunner().invoke(cli, ["check", str(sites), "--pack", "tongzhou", "--out", str(out)])
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["场地结论", "触发规则", "错误"]
    header = [c.value for c in wb["场地结论"][1]]
    rows = list(wb["场地结论"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[header.index("场地编号")] for r in rows) == ["A", "B"]
    assert all(r[header.index("结论")] for r in rows)
    assert [r[0] for r in wb["错误"].iter_rows(min_row=2, values_only=True)] == [4]


def test_screening_radius_in_json(demo_points):
    from pyproj import Geod

    _, inside = demo_points
    res = CliRunner().invoke(
        cli,
        ["check", "--at", f"{inside.x},{inside.y}", "--pack", "tongzhou", "--radius", "300",
         "--radius", "1500", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout[res.stdout.index("{") :])["screening"]
    assert rows and {r["radius_m"] for r in rows} <= {300.0, 1500.0}
    assert all(r["distance_m"] <= r["radius_m"] for r in rows)
    assert [r["distance_m"] for r in rows] == sorted(r["distance_m"] for r in rows)
    assert {"kind", "label", "direction_zh"} <= set(rows[0])
    # the strict zone holding the site overlaps it; a well's distance is geodesic
    assert any(r["kind"] == "strict_zone" and r["direction_zh"] == "重叠" for r in rows)
    wells = [r for r in rows if r["kind"] == "well"]
    if wells:
        with open_store(None) as store:
            w = store.get_kind("well").gdf.set_index("feature_id").geometry
        g = w[wells[0]["feature_id"]]
        _, _, d = Geod(ellps="GRS80").inv(inside.x, inside.y, g.x, g.y)
        assert wells[0]["distance_m"] == pytest.approx(d, rel=1e-3)


@pytest.mark.parametrize("batch", [False, True], ids=["single", "in-memory batch"])
def test_scheduler_without_the_dask_engine_is_refused(tmp_path, demo_points, batch):
    # it used to be ignored in silence: the user believed a cluster did the work
    well, _ = demo_points
    if batch:
        sites = tmp_path / "sites.csv"
        sites.write_text(f"site_id,lon,lat\nw,{well.x},{well.y}\n", encoding="utf-8")
        args = [str(sites), "--out", str(tmp_path / "r.parquet")]
    else:
        args = ["--at", f"{well.x},{well.y}"]
    result = CliRunner().invoke(
        cli, ["check", *args, "--pack", "tongzhou", "--scheduler", "tcp://127.0.0.1:8786"]
    )
    assert result.exit_code == 2, result.output
    assert "--scheduler applies only to a batch on the dask engine" in result.output
    assert not (tmp_path / "r.parquet").exists()


def test_printed_tables_keep_every_cell_whole_in_a_pipe(demo_points):
    """Piped or saved, a printed check cuts no rule id, title, citation or feature name.

    Rich cuts a cell too wide for an 80-column page to "…"; the citation of a
    verdict pasted into an EIA document must survive whole, on its finding's line.
    """
    from zoning.sources import format_citation
    from zoning.workflow import make_checker

    _, inside = demo_points
    args = ["check", "--at", f"{inside.x},{inside.y}", "--pack", "tongzhou"]
    res = CliRunner().invoke(cli, args)  # (not a terminal, as a pipe or a file)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "…" not in res.stdout
    with open_store(None) as store:
        findings = make_checker("tongzhou", store).check_geometry(inside).findings
    cited = findings[findings["citations"].map(bool)]
    assert len(cited)
    for f in cited.itertuples():
        cites = "；".join(format_citation(c, quote=False) for c in f.citations)
        row = [ln for ln in lines if f" {f.rule_id} " in ln]
        assert any(f.title in ln and cites in ln for ln in row), f.rule_id
    screening = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)["screening"]
    assert screening
    for r in screening:
        assert any(f" {r['label']} " in ln and f"{r['distance_m']:,.1f} m" in ln for ln in lines)


def test_notes_name_the_options_on_the_terminal_and_none_in_the_report(tmp_path, demo_points):
    # a note asks for what the check lacked (coordinate system, industry code, flags);
    # the terminal names the options that give it, the report and the JSON do not
    _, inside = demo_points
    args = ["check", "--at", f"{inside.x},{inside.y}", "--pack", "tongzhou",
            "--project-type", "industrial"]  # fmt: skip
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code in (0, 1), shown.output
    text = " ".join(shown.output.split())  # (rich wraps long lines)
    assert "（命令行选项 --industry）" in text and "（命令行选项 --flag）" in text
    assert "（命令行选项 --coords）" in text
    out = tmp_path / "r"
    done = CliRunner().invoke(cli, [*args, "--report", str(out), "--json"])
    assert done.exit_code in (0, 1), done.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    asks = {a for n in report["notes"] for a in n.get("asks", ())}
    assert asks == {"coords", "industry_code", "flags"}
    html = (out / "report.html").read_text(encoding="utf-8")
    for option in ("--industry", "--flag", "--coords"):
        assert option not in html
