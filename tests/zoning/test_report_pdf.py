"""The report as a document: the PDF's fonts and text (poppler), the DOCX through LibreOffice.

The PDF is printed by headless Chromium; ``pdffonts`` must list real embedded fonts
(no Type 3) and ``pdftotext`` must give the Chinese text back. The DOCX is converted
by LibreOffice headless to prove it opens and renders; its first page is kept as a
PNG in ``tests/artifacts/`` for a human to look at.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.zoning.conftest import make_layers, rect, sites_frame
from tests.zoning.report_data import report_pack
from zoning.check.engine import SiteChecker
from zoning.project import Project
from zoning.report.build import build_report, find_pdf_engine, report_notes, write_reports

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
NAME = "通州测试物流园"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdffonts") is None, reason="poppler-utils not installed (scripts/system-deps.sh)"
)
needs_chromium = pytest.mark.skipif(find_pdf_engine() is None, reason="no chromium")
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="libreoffice-writer-nogui not installed (scripts/system-deps.sh)",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from maps.sitemap import site_map_png

    pack = report_pack()
    layers = make_layers()
    checker = SiteChecker(pack, layers)
    site = sites_frame([rect(1500, 1200, 2500, 1800)], ids=["A"])
    project = Project(name=NAME, project_type="construction", flags=frozenset({"sewage"}))
    result = checker.check(site, project=project)
    report = build_report(result, project=project, pack=pack)
    png = site_map_png(result.sites, layers, dpi=60)
    out = tmp_path_factory.mktemp("report")
    return report, write_reports(report, out, map_png=png)


def _run(*cmd: str, timeout: float = 180) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return proc.stdout


def _fonts(pdf: Path) -> list[list[str]]:
    lines = _run("pdffonts", str(pdf)).splitlines()[2:]
    return [line.split() for line in lines if line.strip()]


@needs_chromium
@needs_poppler
def test_pdf_has_real_embedded_fonts(written):
    _, paths = written
    fonts = _fonts(paths["pdf"])
    assert fonts, "no fonts in the PDF"
    assert not [f for f in fonts if "Type" in f and "3" in f[f.index("Type") + 1 :][:1]]
    names = [f[0] for f in fonts]
    assert any("NotoSerifCJK" in n for n in names) and any("NotoSansCJK" in n for n in names)
    assert all(f[-5] == "yes" for f in fonts)  # emb column


@needs_chromium
@needs_poppler
def test_pdf_text_extracts_in_chinese_on_a4(written):
    report, paths = written
    text = _run("pdftotext", "-layout", str(paths["pdf"]), "-")
    assert "三线一单符合性分析" in text
    assert NAME in text
    assert report["verdict"]["label_zh"] in text
    info = _run("pdfinfo", str(paths["pdf"]))
    assert "(A4)" in info
    squashed = "".join(text.split())  # lines wrap where the page ends them
    notes = report_notes(report, "zh")
    assert notes
    for note in notes:
        assert "".join(note["text"].split()) in squashed


@needs_soffice
@needs_poppler
def test_docx_renders_in_libreoffice(written, tmp_path):
    _, paths = written
    profile = tmp_path / "lo-profile"
    _run(
        "soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
        "pdf", "--outdir", str(tmp_path), str(paths["docx"]), timeout=300,
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    assert pdf.is_file()
    assert "(A4)" in _run("pdfinfo", str(pdf))
    text = _run("pdftotext", str(pdf), "-")
    assert "三线一单符合性分析" in text and NAME in text
    assert not [f for f in _fonts(pdf) if f[1:3] == ["Type", "3"]]
    ARTIFACTS.mkdir(exist_ok=True)
    _run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(ARTIFACTS / "report-docx-page1"))  # fmt: skip
    png = ARTIFACTS / "report-docx-page1.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
