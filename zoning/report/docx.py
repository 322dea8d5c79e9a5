"""The compliance report as a Word document (python-docx): A4, 宋体/黑体, Word heading styles.

The document holds what the HTML report holds, in one language (:func:`zoning.report.build.view`):
numbered headings in Word's own "Heading 1"/"Heading 2" styles (so that a table of
contents picks them up), the 三线一单 table with the columns reviewers use
(类别 / 管控要求 / 项目情况 / 符合性分析 / 结论 / 依据), every finding with its sources
(《title》 + section heading + quoted sentence), every note of the check, the site map
(optionally on its own A3 landscape page), and two appendices: the sources with the
line numbers cited, and the reproducibility stamp as a small table.

Fonts: body text 宋体 (headings 黑体) for East Asian text and Times New Roman for Latin
text; the font table names Noto Serif CJK SC / Noto Sans CJK SC as the alternates a
system without 宋体/黑体 (Linux, LibreOffice) substitutes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoning.report.common import _atomic_write_bytes
from zoning.report.html import view

__all__ = ["write_docx"]

SERIF, SANS, LATIN = "宋体", "黑体", "Times New Roman"
#: Alternates for systems without the Chinese Windows fonts (w:altName in the font table).
ALT_FONTS = {SERIF: "Noto Serif CJK SC", SANS: "Noto Sans CJK SC"}


def _set_fonts(style_or_run: Any, east_asia: str, latin: str = LATIN) -> None:
    """Word picks CJK glyphs from the eastAsia font attribute, Latin ones from ascii/hAnsi."""
    from docx.oxml.ns import qn

    element = style_or_run.element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def _set_lang(style: Any) -> None:
    """Mark East Asian text as zh-CN (Word and fontconfig then pick Simplified glyphs)."""
    from docx.oxml.ns import qn

    rpr = style.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _add_alt_fonts(doc: Any) -> None:
    """Name Noto CJK as the alternate of 宋体/黑体 in the document's font table."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from lxml import etree

    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    for rel in doc.part.rels.values():
        if rel.reltype != RT.FONT_TABLE:
            continue
        part = rel.target_part
        root = etree.fromstring(part.blob)
        for name, alt in ALT_FONTS.items():
            font = etree.SubElement(root, f"{{{ns}}}font", {f"{{{ns}}}name": name})
            etree.SubElement(font, f"{{{ns}}}altName", {f"{{{ns}}}val": alt})
            etree.SubElement(font, f"{{{ns}}}charset", {f"{{{ns}}}val": "86"})
            etree.SubElement(font, f"{{{ns}}}family", {f"{{{ns}}}val": "auto"})
            etree.SubElement(font, f"{{{ns}}}pitch", {f"{{{ns}}}val": "variable"})
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page(section: Any, *, a3_landscape: bool = False) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    if a3_landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(420), Mm(297)
        section.left_margin = section.right_margin = Mm(12)
        section.top_margin = section.bottom_margin = Mm(12)
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin, section.right_margin = Mm(25), Mm(20)
        section.top_margin = section.bottom_margin = Mm(25)


def _styles(doc: Any) -> None:
    from docx.shared import Pt, RGBColor

    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    _set_fonts(normal, SERIF)
    _set_lang(normal)
    for name, size in (("Title", 18), ("Heading 1", 14), ("Heading 2", 12)):
        style = doc.styles[name]
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = RGBColor(0, 0, 0)
        _set_fonts(style, SANS)
    for name in ("Table Grid", "List Bullet"):
        _set_fonts(doc.styles[name], SERIF)


def _table(doc: Any, header: list[str], rows: list[list[Any]], widths_mm: list[float]) -> Any:
    """A grid table; a cell value may be a string or a list of lines."""
    from docx.shared import Mm, Pt

    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.autofit = False
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)  # the grid LibreOffice and WPS lay out by
    for cell, text, width in zip(table.rows[0].cells, header, widths_mm, strict=True):
        cell.text = text
        run = cell.paragraphs[0].runs[0]
        run.bold = True
        _set_fonts(run, SANS)
        cell.width = Mm(width)
    for values in rows:
        cells = table.add_row().cells
        for cell, value, width in zip(cells, values, widths_mm, strict=True):
            lines = value if isinstance(value, list) else [value]
            cell.text = str(lines[0]) if lines else "—"
            for line in lines[1:]:
                cell.add_paragraph(str(line))
            cell.width = Mm(width)
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(9)
    return table


def _cite_text(c: Mapping[str, Any], lang: str) -> str:
    return str(c.get("text") if lang == "zh" else c.get("text_en"))


def write_docx(
    report: Mapping[str, Any],
    path: Path,
    *,
    map_png: bytes | None = None,
    lang: str | None = None,
    map_page: str = "a4",
) -> Path:
    """Write the report as a Word document that opens in Word, WPS and LibreOffice.

    Parameters
    ----------
    report
        A dict from :func:`zoning.report.build.build_report`.
    path
        Output ``.docx`` path (written atomically).
    map_png
        Optional site map.
    lang
        "zh" or "en"; default the report's ``lang``.
    map_page
        "a4" (the map in the text) or "a3" (on its own A3 landscape page).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from docx import Document
    from docx.enum.section import WD_SECTION
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    v = view(report, lang)
    lang, L = v["lang"], v["L"]
    colon, sep = L("colon"), L("sep")
    doc = Document()
    _page(doc.sections[0])
    _styles(doc)
    _add_alt_fonts(doc)
    title = doc.add_paragraph(v["title"], style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    n = 1
    doc.add_heading(f"{n} {L('h_project')}", level=1)
    facts = [[k, val] for k, val in v["facts"]]
    if v["attr_lines"]:
        facts.append([L("attr_sources"), v["attr_lines"]])
    _table(doc, [L("col_item"), L("col_value")], facts, [35, 130])

    n += 1
    doc.add_heading(f"{n} {L('h_notes')}", level=1)
    for note in v["notes"]:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(f"[{note['kind_label']}] ").bold = True
        p.add_run(note["text"])
    if not v["notes"]:
        doc.add_paragraph(L("no_notes"))

    if map_png:
        n += 1
        doc.add_heading(f"{n} {L('h_map')}", level=1)
        if map_page == "a3":
            sec = doc.add_section(WD_SECTION.NEW_PAGE)
            _page(sec, a3_landscape=True)
            doc.add_picture(io.BytesIO(map_png), height=Mm(250))
            _page(doc.add_section(WD_SECTION.NEW_PAGE))
        else:
            doc.add_picture(io.BytesIO(map_png), width=Mm(160))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER

    n += 1
    doc.add_heading(f"{n} {L('h_sanxian')}", level=1)
    header = [L(k) for k in ("col_section", "col_requirement", "col_situation", "col_analysis",
                             "col_conclusion", "col_source")]  # fmt: skip
    rows = [
        [r["label"], r["requirements"], r["situation"], r["analysis"], r["conclusion_label"],
         [_cite_text(c, lang) for c in r["citations"]] or ["—"]]
        for r in v["table"]
    ]  # fmt: skip
    _table(doc, header, rows, [18, 34, 30, 30, 17, 36])

    n += 1
    doc.add_heading(f"{n} {L('h_findings')}", level=1)
    for i, f in enumerate(v["findings"], start=1):
        label = f"（{f['outcome_label']}）" if lang == "zh" else f" ({f['outcome_label']})"
        doc.add_heading(f"{n}.{i} {f['title']}{label}", level=2)
        doc.add_paragraph(str(f["requirement"] or ""))
        if f["measured"]:
            doc.add_paragraph(sep.join(f["measured"]))
        if f["features"]:
            doc.add_paragraph(L("features") + colon + ", ".join(map(str, f["features"])))
        if f["units"]:
            doc.add_paragraph(L("units") + colon + sep.join(f["units"]))
        for key, items in (("entries", f["entries"]), ("exceptions", f["exceptions"])):
            if items:
                doc.add_paragraph(L(key) + colon)
                for item in items:
                    doc.add_paragraph(str(item), style="List Bullet")
        doc.add_paragraph(L("source") + colon)
        for c in f["citations"]:
            doc.add_paragraph(_cite_text(c, lang), style="List Bullet")
    if not v["findings"]:
        doc.add_paragraph(L("none_fired"))

    n += 1
    doc.add_heading(f"{n} {L('h_relations')}", level=1)
    rel_rows = [
        [r["kind"], str(r["feature"]), r["relation"],
         "—" if r["distance_m"] is None else f"{r['distance_m']:,.1f}",
         "—" if r["overlap_m2"] is None else f"{r['overlap_m2']:,.1f}"]
        for r in v["relations"]
    ]  # fmt: skip
    _table(doc, [L(k) for k in ("col_layer", "col_feature", "col_relation", "col_distance",
                                "col_overlap")], rel_rows, [35, 45, 30, 25, 30])  # fmt: skip

    if v["screening"]:
        n += 1
        doc.add_heading(f"{n} {L('h_screening')}", level=1)
        scr_rows = [
            [f"≤ {r['radius_m']:,.0f}", r["kind"], str(r["feature"]),
             f"{r['distance_m']:,.1f}", r["direction"]]
            for r in v["screening"]
        ]  # fmt: skip
        _table(doc, [L(k) for k in ("col_radius", "col_layer", "col_feature", "col_distance",
                                    "col_direction")], scr_rows, [25, 35, 55, 25, 25])  # fmt: skip

    doc.add_heading(L("h_app_sources"), level=1)
    src_rows = [
        [s["title"], s["issuer"], s["number"], s["date"],
         s["places"] + ([f"{L('file')}{colon}{s['file']}"] if s["file"] else [])
         + ([s["script_note"]] if s["script_note"] else [])]
        for s in v["sources"]
    ]  # fmt: skip
    _table(doc, [L(k) for k in ("col_title", "col_issuer", "col_number", "col_date",
                                "col_where")], src_rows, [45, 30, 25, 17, 48])  # fmt: skip

    doc.add_heading(L("h_app_stamp"), level=1)
    _table(doc, [L("col_item"), L("col_value")], [[k, val] for k, val in v["stamp"]], [40, 125])
    _atomic_write_bytes(Path(path), _docx_bytes(doc))
    return Path(path)


def _docx_bytes(doc: Any) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
