"""Compliance reports: JSON schema, sources by title, one language, notes in every format."""

import json
import re

import pytest
from docx import Document
from docx.shared import Mm
from shapely.geometry import Polygon

from tests.zoning.conftest import at, make_layers, rect, sites_frame
from tests.zoning.report_data import report_pack
from zoning.check.engine import SiteChecker
from zoning.project import Project
from zoning.report.build import (
    SECTIONS,
    build_report,
    render_html,
    report_notes,
    write_reports,
)

EVIL = "<script>alert(1)</script>"
SEED_001 = "001_1c6d450321da7557.txt"
HEADERS_ZH = ["类别", "管控要求", "项目情况", "符合性分析", "结论", "依据"]
HEADERS_EN = ["Category", "Requirement", "Project situation", "Analysis", "Conclusion", "Source"]
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")


@pytest.fixture(scope="module")
def pack():
    return report_pack()


@pytest.fixture(scope="module")
def checker(pack):
    return SiteChecker(pack, make_layers())


@pytest.fixture(scope="module")
def checked(checker):
    # a site half inside red line RL-1 (1000..2000 m east/north of the centre)
    site = sites_frame([rect(1500, 1200, 2500, 1800)], ids=["A"])
    project = Project(name=EVIL, project_type="construction", flags=frozenset({"sewage"}))
    return checker.check(site, project=project), project


@pytest.fixture(scope="module")
def report(checked, pack):
    result, project = checked
    return build_report(result, project=project, pack=pack)


@pytest.fixture(scope="module")
def repaired_report(checker, pack):
    """A self-intersecting (bow-tie) polygon: repaired by the check, with a note."""
    a, b, c, d = at(-500, -500), at(500, 500), at(500, -500), at(-500, 500)
    bowtie = Polygon([a, b, c, d, a])
    assert not bowtie.is_valid
    with pytest.warns(Warning):
        result = checker.check(sites_frame([bowtie], ids=["bow"]), project=Project(name="蝴蝶"))
    return build_report(result, project=Project(name="蝴蝶"), pack=pack)


def _heading_above(path, line: int) -> str:
    """The nearest "一、…" chapter heading above ``line``, read straight from the text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i in range(line - 1, -1, -1):
        if re.match(r"^\s*[一二三四五六七八九十]+、", lines[i]):
            return lines[i].strip()
    raise AssertionError("no chapter heading above")


def test_report_verdict_matches_check(checked, report):
    result, _ = checked
    assert report["schema"] == "ecozone.report/1"
    assert report["lang"] == "zh"
    assert report["verdict"]["code"] == result.sites["verdict"].iloc[0] == "prohibited"
    assert "redline.inside" in report["verdict"]["deciding_rules"]


def test_sanxian_table_columns_and_conclusions(report):
    table = report["sanxian_table"]
    assert [row["section"] for row in table] == list(SECTIONS)
    for row in table:
        for key in ("requirements", "situation", "analysis"):
            assert row[f"{key}_zh"] and row[f"{key}_en"], (row["section"], key)
    by = {row["section"]: row for row in table}
    assert by["redline"]["conclusion_zh"] == "不符合"
    # the pack has no 资源利用上线 rule: never 符合 without a rule behind it
    assert by["resource_cap"]["conclusion"] == "not_assessed"
    assert "符合" != by["resource_cap"]["conclusion_zh"]
    # the access-list entry has no checkable condition: needs review, not 符合
    assert by["access_list"]["conclusion"] == "needs_review"


def test_citations_read_title_section_and_quote(report):
    seeds = __import__("tests.conftest", fromlist=["SEEDS"]).SEEDS
    redline = report["sanxian_table"][0]
    first = redline["sources"][0]
    assert first.startswith("《北京市“十四五”时期生态环境保护规划》")
    # the quoted sentence, in the plan's official script (the stored copy is traditional)
    assert "：“严守生态保护红线" in first and "嚴" not in first
    if (seeds / SEED_001).is_file():  # the heading comes from the plan's own text
        assert _heading_above(seeds / SEED_001, 370) == "五、提升生態系統品質和穩定性"
        plan = "《北京市“十四五”时期生态环境保护规划》"
        assert first.startswith(plan + "五、提升生态系统品质和稳定性")
    law = next(s for s in redline["sources"] if "自然资发〔2022〕142号" in s)
    assert law.startswith("《关于加强生态保护红线管理的通知（试行）》")
    every = json.dumps(report, ensure_ascii=False)
    texts = [c for f in report["findings"] for c in f["citations"]]
    assert texts and not any(re.search(r"\d{3}_[0-9a-f]{16}", t) for t in texts)
    assert "第370行" not in "".join(texts)  # line numbers live in JSON and the appendix
    assert '"line": "370"' in every


def test_appendix_keeps_line_numbers(report):
    plan = next(s for s in report["sources"] if s.get("id") == "beijing-14th-eco-plan")
    assert plan["number"] == "京政发〔2021〕35号" and plan["issuer"] == "北京市人民政府"
    assert {p["line"] for p in plan["places"]} >= {"370", "366"}
    html = render_html(report)
    assert "第370行" in html and "京政发〔2021〕35号" in html
    # the line numbers refer to the stored copy, which is in traditional characters
    assert "存档文本为繁体字版" in html
    assert "stored copy is in traditional characters" in render_html(report, lang="en")


def test_stamp_is_a_table_not_json(report, tmp_path):
    html = render_html(report)
    stamp = report["stamp"]
    assert stamp["input_checksum"] in html
    for meta in stamp["layers"].values():
        assert meta["checksum"] in html
    assert '"input_checksum"' not in html  # no raw JSON block
    path = write_reports(report, tmp_path, formats=["docx"])["docx"]
    doc = Document(str(path))
    stamp_table = doc.tables[-1]
    assert any(stamp["input_checksum"] in c.text for r in stamp_table.rows for c in r.cells)
    assert not any(p.text.lstrip().startswith("{") for p in doc.paragraphs)


def test_json_round_trip(report, tmp_path):
    written = write_reports(report, tmp_path, formats=["json"])
    assert json.loads(written["json"].read_text(encoding="utf-8")) == report


def test_html_escapes_and_has_no_external_url(report):
    html = render_html(report, map_png=b"\x89PNG\r\n\x1a\nfake")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "三线一单符合性分析</h2>" in html
    assert "data:image/png;base64," in html
    assert not re.search(r"https?://", html)


def test_every_note_in_html_and_docx(report, tmp_path):
    assert {n["kind"] for n in report["notes"]} >= {"demo_data", "assumption"}
    html = render_html(report)
    doc = Document(str(write_reports(report, tmp_path, formats=["docx"])["docx"]))
    text = "\n".join(p.text for p in doc.paragraphs)
    for note in report_notes(report, "zh"):
        assert note["text"] in html
        assert note["text"] in text


def test_repaired_polygon_note_in_every_format(repaired_report, tmp_path):
    repair = [n for n in repaired_report["notes"] if n["kind"] == "repair"]
    assert repair, repaired_report["notes"]
    written = write_reports(repaired_report, tmp_path, formats=["html", "docx", "json"])
    assert repair[0]["text"] in written["html"].read_text(encoding="utf-8")
    doc = Document(str(written["docx"]))
    assert any(repair[0]["text"] in p.text for p in doc.paragraphs)
    en = render_html(repaired_report, lang="en")
    assert repair[0]["text_en"] in en


def test_docx_is_a4_with_heading_styles_and_six_columns(report, tmp_path):
    doc = Document(str(write_reports(report, tmp_path, formats=["docx"])["docx"]))
    section = doc.sections[0]
    assert abs(section.page_width - Mm(210)) < Mm(0.5)
    assert abs(section.page_height - Mm(297)) < Mm(0.5)
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads[0].startswith("1 ") and any("三线一单符合性分析" in h for h in heads)
    assert any(h.startswith("附录A") for h in heads) and any(h.startswith("附录B") for h in heads)
    assert any(p.style.name == "Heading 2" for p in doc.paragraphs)
    sanxian = next(t for t in doc.tables if t.rows[0].cells[0].text == "类别")
    assert [c.text for c in sanxian.rows[0].cells] == HEADERS_ZH
    assert [r.cells[0].text for r in sanxian.rows[1:]] == [zh for zh, _ in SECTIONS.values()]
    assert sanxian.rows[1].cells[4].text == "不符合"
    assert "《北京市“十四五”时期生态环境保护规划》" in sanxian.rows[1].cells[5].text
    # East Asian font names in the styles (Word/WPS pick CJK glyphs from them)
    styles_xml = doc.styles.element.xml
    assert 'w:eastAsia="宋体"' in styles_xml and 'w:eastAsia="黑体"' in styles_xml


def _all_texts(doc):
    yield from (p.text for p in doc.paragraphs)
    for t in doc.tables:
        for r in t.rows:
            for c in r.cells:
                yield c.text


def test_zh_docx_has_no_latin_only_sentences(report, tmp_path):
    doc = Document(str(write_reports(report, tmp_path, formats=["docx"])["docx"]))
    bad = [t for t in _all_texts(doc) if LATIN_SENTENCE.search(t) and not CJK.search(t)]
    assert bad == []


def test_en_documents_are_english(report, tmp_path):
    written = write_reports(report, tmp_path, formats=["docx", "html"], lang="en")
    doc = Document(str(written["docx"]))
    sanxian = next(t for t in doc.tables if t.rows[0].cells[0].text == "Category")
    assert [c.text for c in sanxian.rows[0].cells] == HEADERS_EN
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads and not any(CJK.search(h) for h in heads)
    html = written["html"].read_text(encoding="utf-8")
    assert 'lang="en"' in html and "Appendix A. Sources cited" in html
    assert "<th>管控要求</th>" not in html and "附录" not in html  # (quotes stay Chinese)


def test_a3_landscape_map_page(report, tmp_path):
    from docx.enum.section import WD_ORIENT

    png = tmp_path / "m.png"
    from maps.printmap import print_map_bytes

    png.write_bytes(print_map_bytes({}, title="t", extent=(116.6, 39.8, 116.8, 39.95), dpi=40))
    path = write_reports(report, tmp_path, formats=["docx"], map_png=png.read_bytes(),
                         map_page="a3")["docx"]  # fmt: skip
    doc = Document(str(path))
    a3 = [s for s in doc.sections if s.orientation == WD_ORIENT.LANDSCAPE]
    assert a3 and abs(a3[0].page_width - Mm(420)) < Mm(0.5)
    assert abs(doc.sections[-1].page_width - Mm(210)) < Mm(0.5)  # back to A4 after the map
    assert 'class="map a3"' in render_html(report, map_png=png.read_bytes(), map_page="a3")


def test_bad_lang_is_refused(checked):
    result, project = checked
    with pytest.raises(ValueError, match="--lang"):
        build_report(result, project=project, lang="fr")


def test_line_site_reports_its_length_inside(checker, pack):
    from pyproj import Geod
    from shapely.geometry import LineString

    line = LineString([at(500, 1500), at(2500, 1500)])  # crosses RL-1 (1000..2000 m east)
    result = checker.check(sites_frame([line], ids=["L"]), project=Project(name="管线"))
    report = build_report(result, project=Project(name="管线"), pack=pack)
    inside = next(f for f in report["findings"] if f["rule_id"] == "redline.inside")
    a, b = at(1000, 1500), at(2000, 1500)
    expected = Geod(ellps="GRS80").line_length([a[0], b[0]], [a[1], b[1]])
    assert inside["length_m"] == pytest.approx(expected, rel=0.01)
    row = report["sanxian_table"][0]
    assert any(f"区内长度 {inside['length_m']:,.1f} m" in s for s in row["situation_zh"])
    assert f"length inside {inside['length_m']:,.1f} m" in render_html(report, lang="en")


def test_the_stamp_names_how_distances_were_measured(report, tmp_path):
    from zoning.check.notes import MEASUREMENT
    from zoning.report.html import stamp_rows

    assert report["stamp"]["measurement"] == MEASUREMENT
    rows = dict(stamp_rows(report, "zh"))
    assert "椭球面距离" in rows["量算方法"] and MEASUREMENT in rows["量算方法"]
    assert "ellipsoid" in dict(stamp_rows(report, "en"))["Measurement"]
    doc = Document(str(write_reports(report, tmp_path, formats=["docx"])["docx"]))
    assert any("椭球面距离" in c.text for r in doc.tables[-1].rows for c in r.cells)
    # a result stamped before the method was: said, not assumed
    old = {**report, "stamp": {k: v for k, v in report["stamp"].items() if k != "measurement"}}
    assert "未记录" in dict(stamp_rows(old, "zh"))["量算方法"]
    # each method says how it chose the nearest feature; an older result keeps its own
    assert "最近要素按椭球面距离选取" in rows["量算方法"]
    older = {**report, "stamp": {**report["stamp"], "measurement": "ellipsoidal/1"}}
    assert "最近要素按平面距离选取" in dict(stamp_rows(older, "zh"))["量算方法"]
