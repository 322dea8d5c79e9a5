"""The report as a document: the PDF's fonts and text (poppler), the DOCX through LibreOffice.

The PDF is printed by headless Chromium; ``pdffonts`` must list real embedded fonts
(no Type 3) and ``pdftotext`` must give the Chinese text back. The fonts it embeds are
assembled from glyphs converted once and kept in the user cache: they must be those
fontTools' subsetter and a conversion of the subset give. The DOCX is converted
by LibreOffice headless to prove it opens and renders; its first page is kept as a
PNG in ``tests/artifacts/`` for a human to look at.
"""

import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest

from tests.zoning.conftest import make_layers, rect, sites_frame
from tests.zoning.report_data import report_pack
from zoning.check.engine import SiteChecker
from zoning.project import Project
from zoning.report import pdf
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


# --------------------------------------------------------------- the fonts' glyph cache

_SERIF = ("NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC")
needs_noto = pytest.mark.skipif(
    pdf._font_file(*_SERIF) is None, reason="fonts-noto-cjk not installed (scripts/system-deps.sh)"
)
TEXT = "三线一单符合性分析：生态保护红线 30 m（饮用水水源井）ABC-123。"


@pytest.fixture
def fresh_faces(tmp_path, monkeypatch):
    """A new user cache, and no face or font kept from an earlier test (a new process)."""
    monkeypatch.setenv("ECOZONE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ECOZONE_FONT_CACHE", raising=False)

    def clear():
        pdf._face.cache_clear()
        pdf.truetype_subset.cache_clear()

    clear()
    yield clear
    clear()


def _subsetter_font(path, index, text):
    """The reference: fontTools' subsetter cuts the CFF face, then every glyph is converted."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return _converted_subset(font, text)


def _converted_subset(font, text):
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    opts = subset.Options()
    opts.notdef_outline, opts.name_IDs, opts.layout_features = True, ["*"], []
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    order, glyph_set, glyphs = font.getGlyphOrder(), font.getGlyphSet(), {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"], glyf = newTable("loca"), newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, glyphs
    font["glyf"] = glyf
    del font["CFF "]
    glyf.compile(font)
    for name, glyph in glyphs.items():
        font["hmtx"][name] = (font["hmtx"][name][0], getattr(glyph, "xMin", 0))
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion, maxp.numGlyphs, maxp.maxZones = 0x00010000, len(order), 1
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                 "maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours",
                 "maxComponentDepth"):  # fmt: skip
        setattr(maxp, attr, 0)
    font["head"].glyphDataFormat, font["post"].formatType = 0, 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    buf = BytesIO()
    font.save(buf)
    return buf.getvalue()


def _opened(data):
    from fontTools.ttLib import TTFont

    # as stored: compiling a table gives its stored values, not recalculated ones
    return TTFont(BytesIO(data), recalcBBoxes=False, recalcTimestamp=False)


@needs_noto
def test_assembled_font_is_the_subsetters(fresh_faces):
    path, index = pdf._font_file(*_SERIF)
    ours = _opened(pdf.truetype_subset(path, index, TEXT))
    ref = _opened(_subsetter_font(path, index, TEXT))
    assert ours.getGlyphOrder() == ref.getGlyphOrder()
    assert ours.getGlyphOrder()[0] == ".notdef"
    assert ours.getBestCmap() == ref.getBestCmap()
    assert set(ours.getBestCmap()) == {ord(c) for c in TEXT}
    for name in ref.getGlyphOrder():
        assert ours["glyf"][name].compile(ours["glyf"], recalcBBoxes=False) == ref["glyf"][
            name
        ].compile(ref["glyf"], recalcBBoxes=False)
    assert ours["hmtx"].metrics == ref["hmtx"].metrics
    # the bounds and maxima read from the glyph headers are those fontTools recalculated
    for tag in ("hhea", "maxp", "OS/2", "name", "post"):
        assert ours[tag].compile(ours) == ref[tag].compile(ref), tag
    skip = {"checkSumAdjustment", "modified"}
    head = {k: v for k, v in vars(ours["head"]).items() if k not in skip}
    assert head == {k: v for k, v in vars(ref["head"]).items() if k not in skip}


@needs_noto
def test_characters_a_face_lacks_are_left_out(fresh_faces):
    path, index = pdf._font_file(*_SERIF)
    font = _opened(pdf.truetype_subset(path, index, "红线\ue000\U0010fffd"))
    assert set(font.getBestCmap()) == {ord("红"), ord("线")}
    assert len(font.getGlyphOrder()) == 3  # .notdef and the two hanzi


@needs_noto
def test_glyphs_are_converted_once_and_kept_in_the_user_cache(fresh_faces, tmp_path, monkeypatch):
    path, index = pdf._font_file(*_SERIF)
    first = pdf.truetype_subset(path, index, TEXT)
    (kept,) = tmp_path.glob("pdf-glyphs-*.json")
    fresh_faces()  # a later process: every glyph from the file, none converted
    asked = []

    def convert(font, codepoints):
        asked.append(set(codepoints))
        return real(font, codepoints)

    real = pdf._convert
    monkeypatch.setattr(pdf, "_convert", convert)
    assert pdf.truetype_subset(path, index, TEXT) == first
    assert asked == []
    pdf.truetype_subset(path, index, TEXT + "湿地")  # new characters: those alone
    assert asked == [{ord("湿"), ord("地")}]
    assert f'"{ord("湿")}"' in kept.read_text(encoding="utf-8")


@needs_noto
def test_an_unusable_glyph_cache_is_ignored(fresh_faces, tmp_path, monkeypatch):
    path, index = pdf._font_file(*_SERIF)
    first = pdf.truetype_subset(path, index, TEXT)
    (kept,) = tmp_path.glob("pdf-glyphs-*.json")
    kept.write_text('{"key": "another font", "glyphs": {"20013": [1, "x", 1, 1, "!!"]}}')
    fresh_faces()
    assert pdf.truetype_subset(path, index, TEXT) == first  # converted again
    kept.write_text("{not json")
    fresh_faces()
    assert pdf.truetype_subset(path, index, TEXT) == first
    assert pdf.read_json(kept)["glyphs"]  # written again, whole


@needs_noto
def test_glyph_cache_is_bounded_and_can_be_switched_off(fresh_faces, tmp_path, monkeypatch):
    path, index = pdf._font_file(*_SERIF)
    monkeypatch.setattr(pdf, "_GLYPHS_MAX", 4)
    font = _opened(pdf.truetype_subset(path, index, TEXT))
    assert set(font.getBestCmap()) == {ord(c) for c in TEXT}  # every glyph all the same
    (kept,) = tmp_path.glob("pdf-glyphs-*.json")
    assert len(pdf.read_json(kept)["glyphs"]) <= 4
    kept.unlink()
    fresh_faces()
    monkeypatch.setenv("ECOZONE_FONT_CACHE", "0")
    pdf.truetype_subset(path, index, TEXT)
    assert not list(tmp_path.glob("pdf-glyphs-*.json"))
