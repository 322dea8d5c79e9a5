"""Compliance reports: JSON schema, self-contained HTML, DOCX table, PDF."""

import json
import re

import pytest
from docx import Document

from tests.zoning.conftest import rect, sites_frame
from zoning.check import SiteChecker
from zoning.project import Project
from zoning.report import SECTIONS, build_report, find_pdf_engine, render_html, write_reports

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def checked(tongzhou_pack, layers):
    checker = SiteChecker(tongzhou_pack, layers, missing_layers="skip")
    # a site half inside red line RL-1 (1000..2000 m east/north of the centre)
    site = sites_frame([rect(1500, 1200, 2500, 1800)], ids=["A"])
    project = Project(name=EVIL, project_type="construction", flags=frozenset({"sewage"}))
    return checker.check(site, project=project), project


@pytest.fixture(scope="module")
def report(checked):
    result, project = checked
    return build_report(result, project=project)


def test_report_verdict_matches_check(checked, report):
    result, _ = checked
    assert report["schema"] == "ecozone.report/1"
    assert report["verdict"]["code"] == result.sites["verdict"].iloc[0] == "prohibited"
    assert "redline.inside" in report["verdict"]["deciding_rules"]


def test_sanxian_table_has_four_sections_in_order(report):
    assert [row["section"] for row in report["sanxian_table"]] == list(SECTIONS)
    redline = report["sanxian_table"][0]
    assert redline["conclusion_zh"] == "不符合"
    assert any("001_" in s for s in redline["sources"])


def test_overlap_share_reported(report):
    inside = next(f for f in report["findings"] if f["rule_id"] == "redline.inside")
    # the site is 1000 m × 600 m and half of it (500 m × 600 m) lies in the red line
    assert inside["overlap_pct"] == pytest.approx(50.0, abs=0.2)
    assert inside["overlap_m2"] == pytest.approx(report["site"]["area_m2"] / 2, rel=2e-3)


def test_every_finding_cites_a_source(report):
    assert report["findings"]
    for finding in report["findings"]:
        assert finding["citations"], finding["rule_id"]


def test_stamp_makes_report_reproducible(report):
    stamp = report["stamp"]
    assert stamp["pack"]["name"] == "tongzhou"
    assert stamp["input_checksum"] and len(stamp["input_checksum"]) == 64
    assert {"redline", "well"} <= set(stamp["layers"])
    assert all(meta["checksum"] for meta in stamp["layers"].values())


def test_json_round_trip(report, tmp_path):
    written = write_reports(report, tmp_path, formats=["json"])
    assert json.loads(written["json"].read_text(encoding="utf-8")) == report


def test_html_escapes_project_name_and_has_no_external_url(report):
    html = render_html(report, map_png=b"\x89PNG\r\n\x1a\nfake")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h2>三线一单符合性分析" in html
    assert "data:image/png;base64," in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']?(https?:|//)""", html)
    assert urls == []
    assert not re.search(r"https?://", html)


def test_docx_table_reads_back(report, tmp_path):
    path = write_reports(report, tmp_path, formats=["docx"])["docx"]
    doc = Document(str(path))
    table = doc.tables[0]
    header = [c.text for c in table.rows[0].cells]
    assert header == ["类别", "分析内容", "结论", "依据"]
    labels = [row.cells[0].text for row in table.rows[1:]]
    assert labels == [zh for zh, _ in SECTIONS.values()]
    assert table.rows[1].cells[2].text == "不符合"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert EVIL in text  # python-docx stores text as text: nothing to escape, nothing runs
    assert "依据" in text


@pytest.mark.skipif(find_pdf_engine() is None, reason="no PDF engine (chromium/weasyprint)")
def test_pdf_written(report, tmp_path):
    written = write_reports(report, tmp_path, formats=["pdf"])
    data = written["pdf"].read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 5_000
