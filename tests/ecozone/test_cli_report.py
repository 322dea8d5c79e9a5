"""``ecozone check --report`` (file attributes, --site, --each, --lang) and ``ecozone sources``."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from docx import Document
from shapely.geometry import Polygon, mapping

from ecozone.cli.main import cli
from layers import open_store
from tests.conftest import SEEDS
from tests.ecozone._webdata import build_store
from tests.zoning.report_data import PACK_TOML


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A store of hand-made layers, the report test pack, and a point in the red line."""
    root = tmp_path_factory.mktemp("clireport")
    store = build_store(root / "store.gpkg")
    pack = root / "reporttest.toml"
    pack.write_text(PACK_TOML, encoding="utf-8")
    with open_store(str(store)) as st:
        red = st.get_kind("redline").gdf.geometry.iloc[0]
    return {"store": str(store), "pack": str(pack), "inside": red.representative_point()}


def _sites_file(path, env, features):
    fc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def _feature(geom, **props):
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _run(env, *args):
    result = CliRunner().invoke(
        cli,
        ["check", *args, "--pack", env["pack"], "--store", env["store"]],
        catch_exceptions=False,
    )
    return result


@pytest.fixture(scope="module")
def two_sites(env, tmp_path_factory):
    p = env["inside"]
    far = p.buffer(0.0005).envelope
    path = tmp_path_factory.mktemp("sites") / "sites.geojson"
    return _sites_file(
        path,
        env,
        [
            _feature(
                p, site_id="A", 项目名称="红线内仓库", 项目类型="industrial", 行业代码="C2614"
            ),
            _feature(far, site_id="B", XMMC="第二个项目"),
        ],
    )


def test_name_and_type_from_the_file_with_their_origin(env, two_sites, tmp_path):
    out = tmp_path / "r"
    result = _run(env, str(two_sites), "--site", "A", "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    project = report["project"]
    assert project["name"] == "红线内仓库" and project["project_type"] == "industrial"
    assert project["industry_code"] == "C2614"
    assert project["attribute_sources"]["name"] == {"column": "项目名称"}
    note = next(n for n in report["notes"] if "项目属性来源" in n["text"])
    assert "项目名称取自输入文件字段“项目名称”" in note["text"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "红线内仓库" in html and note["text"] in html
    doc = Document(str(out / "report.docx"))
    assert "红线内仓库" in doc.tables[0].rows[1].cells[1].text


def test_options_override_the_file(env, two_sites, tmp_path):
    out = tmp_path / "r"
    result = _run(env, str(two_sites), "--site", "B", "--name", "选项名称", "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["project"]["name"] == "选项名称"
    assert report["project"]["attribute_sources"]["name"] == {"option": "--name"}
    assert report["site"]["site_id"] == "B"


def test_unknown_site_names_the_ids(env, two_sites, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["check", str(two_sites), "--site", "Z", "--report", str(tmp_path / "r"),
         "--pack", env["pack"], "--store", env["store"]],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "--site 'Z'" in result.output and "A, B" in result.output


def test_each_writes_numbered_reports_and_an_index(env, two_sites, tmp_path):
    out = tmp_path / "each"
    result = _run(env, str(two_sites), "--each", "--report", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "001_A" / "report.docx").is_file() and (out / "002_B" / "report.html").is_file()
    index = pd.read_csv(out / "index.csv", encoding="utf-8-sig")
    assert index["场址编号"].astype(str).tolist() == ["A", "B"]
    assert index["项目名称"].tolist() == ["红线内仓库", "第二个项目"]
    first = json.loads((out / "001_A" / "report.json").read_text(encoding="utf-8"))
    assert index["结论"].iloc[0] == first["verdict"]["label_zh"] == "不符合（禁止类）"
    assert 'href="001_A/report.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_each_needs_a_report_folder(env, two_sites):
    result = CliRunner().invoke(
        cli, ["check", str(two_sites), "--each", "--pack", env["pack"], "--store", env["store"]]
    )
    assert result.exit_code != 0 and "--each needs" in result.output


def test_lang_en_report(env, tmp_path):
    out = tmp_path / "en"
    p = env["inside"]
    result = _run(env, "--at", f"{p.x},{p.y}", "--lang", "en", "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["lang"] == "en"
    doc = Document(str(out / "report.docx"))
    heads = [x.text for x in doc.paragraphs if x.style.name == "Heading 1"]
    assert "Appendix B. Reproducibility" in heads
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>Requirement</th>" in html and "<th>管控要求</th>" not in html


def test_self_intersecting_polygon_note_in_html(env, tmp_path):
    p = env["inside"]
    d = 0.002
    bowtie = Polygon([(p.x, p.y), (p.x + d, p.y + d), (p.x + d, p.y), (p.x, p.y + d)])
    sites = _sites_file(tmp_path / "bow.geojson", env, [_feature(bowtie, 名称="蝴蝶形地块")])
    out = tmp_path / "bow"
    result = _run(env, str(sites), "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    repairs = [n for n in report["notes"] if n["kind"] == "repair"]
    assert repairs, report["notes"]
    for note in report["notes"]:
        assert note["text"] in html


def test_sources_list_and_show():
    runner = CliRunner()
    listed = runner.invoke(cli, ["sources", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    ids = {r["id"] for r in json.loads(listed.output)}
    assert {"beijing-14th-eco-plan", "redline-notice-2022", "gbt-50563-2010"} <= ids
    if SEEDS.is_dir():
        shown = runner.invoke(cli, ["sources", "show", "beijing-14th-eco-plan", "--line", "362"])
        assert shown.exit_code == 0, shown.output
        line = (SEEDS / "001_1c6d450321da7557.txt").read_text(encoding="utf-8").splitlines()[361]
        assert f">>   362  {line}" in shown.output  # the text as stored (traditional)
        assert "京政发〔2021〕35号" in shown.output
        # its section as reports print it, and the note saying why the two differ
        assert "\n五、提升生态系统品质和稳定性／" in shown.output
        assert "存档文本为繁体字版" in shown.output
        as_json = json.loads(runner.invoke(cli, ["sources", "show", "beijing-14th-eco-plan",
                                                 "--line", "362", "--json"]).output)  # fmt: skip
        assert as_json["section"][0].startswith("五、提升生态系统品质和稳定性")
        assert as_json["section_stored"][0].startswith("五、提升生態系統品質和穩定性")
        assert as_json["script"] == "traditional"
    law = runner.invoke(cli, ["sources", "show", "water-pollution-law"])
    assert law.exit_code == 0 and "not its full text" in law.output
    bad = runner.invoke(cli, ["sources", "show", "nope"])
    assert bad.exit_code != 0 and "ecozone sources list" in bad.output


def test_sources_show_without_texts(monkeypatch):
    monkeypatch.delenv("ECOZONE_SOURCES", raising=False)
    result = CliRunner().invoke(cli, ["sources", "show", "beijing-14th-eco-plan", "--line", "5"])
    assert result.exit_code != 0 and "ECOZONE_SOURCES" in result.output


def test_map_on_an_a3_landscape_page(env, tmp_path):
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    out = tmp_path / "a3"
    p = env["inside"]
    result = _run(env, "--at", f"{p.x},{p.y}", "--map-page", "a3", "--report", str(out))
    assert result.exit_code == 0, result.output
    doc = Document(str(out / "report.docx"))
    landscape = [s for s in doc.sections if s.orientation == WD_ORIENT.LANDSCAPE]
    assert landscape and abs(landscape[0].page_width - Mm(420)) < Mm(0.5)
    if (out / "report.pdf").is_file():
        import shutil
        import subprocess

        if shutil.which("pdfinfo"):
            info = subprocess.run(
                ["pdfinfo", "-f", "1", "-l", "20", str(out / "report.pdf")],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert "(A4)" in info and "(A3)" in info


def test_kml_placemark_name_is_the_project_name(env, tmp_path):
    p = env["inside"]
    kml = tmp_path / "site.kml"
    kml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><Placemark><name>某KML项目</name>"
        f"<Point><coordinates>{p.x},{p.y}</coordinates></Point></Placemark></Document></kml>",
        encoding="utf-8",
    )
    out = tmp_path / "kml"
    result = _run(env, str(kml), "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["project"]["name"] == "某KML项目"
    assert report["project"]["attribute_sources"]["name"] == {"column": "name"}
