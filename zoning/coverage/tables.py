"""Coverage results as the table a planner hands on: wide, Chinese, rounded; CSV, XLSX, DOCX.

One row per target (judged at its own scope, or a contribution) and one row per
district contribution, with the columns

指标 / 范围 / 现状值 / 目标 / 目标性质 / 是否达标 / 差距 / 依据 / 单位 / 面积（km²） / 说明

Rounding: percentages, km² and m² per person to 2 decimals. Binding targets read
约束性 and 达标 / 未达标; aspirations (力争) read 力争（预期性） and 已达到力争目标 /
未达到力争目标. District rows are 贡献（不单独考核） or 无数据, never judged; a figure
built from part of the districts reads 部分数据，未判定 and names the districts in 说明.

The machine-readable long format stays :func:`zoning.coverage.measure.metrics_table` /
:func:`zoning.coverage.measure.write_metrics_csv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import InputFormatError
from zoning.coverage.metrics import MetricResult

__all__ = ["TABLE_COLUMNS", "citation_text", "coverage_table", "write_coverage_table"]

#: Columns of the wide table, in order.
TABLE_COLUMNS = (
    "指标",
    "范围",
    "现状值",
    "目标",
    "目标性质",
    "是否达标",
    "差距",
    "依据",
    "单位",
    "面积（km²）",
    "说明",
)

_UNIT_ZH = {"%": "%", "m2/person": "m²/人"}
_AREA_COLS = ("measured_km2", "covered_km2", "park_km2", "forest_km2")
_SIGN = {">=": "≥", "<=": "≤"}
#: DOCX column widths on A4 landscape (267 mm between 15 mm margins).
_DOCX_WIDTHS_MM = (30, 26, 16, 18, 14, 20, 24, 51, 8, 18, 42)


def _r2(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, 2) if math.isfinite(v) else None


def citation_text(result: MetricResult, pack: Any = None) -> str:
    """The citation of a result's target: 《title》 + section + quote.

    Parameters
    ----------
    result
        A measured (or not measured) target.
    pack
        The pack, whose target holds the full citation (with its quote).

    Returns
    -------
    str
        Formatted by :func:`zoning.sources.format_citation` where the source is known,
        else the short form.
    """
    cit: Any = result.citation
    if pack is not None and result.target_id:
        try:
            cit = pack.target(result.target_id).citation
        except (KeyError, AttributeError):
            pass
    if cit is None:
        return ""
    try:
        from zoning.sources import format_citation

        return format_citation(cit)
    except (ImportError, LookupError, ValueError, TypeError):  # unknown source: short form
        return str(cit)


def _area(row: Any) -> float | None:
    for col in _AREA_COLS:
        v = _r2(row.get(col))
        if v is not None:
            return v
    return None


def _mark(r: MetricResult) -> str:
    if r.status == "met":
        return f"✓ {r.status_zh}"
    if r.status == "unmet":
        return f"✗ {r.status_zh}"
    return r.status_zh


def _gap(r: MetricResult) -> str:
    if r.status not in ("met", "unmet"):
        return "—"
    if r.unit == "m2/person":
        g = r.gap_abs or 0.0
        return f"差{g:.2f} m²/人" if g > 0 else f"已超出{-g:.2f} m²/人"
    g = r.gap_pp or 0.0
    area = f"（{abs(r.gap_abs):.2f} km²）" if r.gap_abs is not None else ""
    return f"差{g:.2f}个百分点{area}" if g > 0 else f"已超出{-g:.2f}个百分点{area}"


def coverage_table(results: Sequence[MetricResult], *, pack: Any = None) -> pd.DataFrame:
    """The wide Chinese table of coverage results.

    Parameters
    ----------
    results
        From :func:`zoning.coverage.measure.measure_targets`.
    pack
        The pack, to cite each target by title, section and quote.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`; 现状值 and 面积（km²） numbers rounded to 2
        decimals ("无数据" where there is none).
    """
    rows: list[dict[str, Any]] = []
    for r in results:
        unit = _UNIT_ZH.get(r.unit, r.unit)
        cite = citation_text(r, pack)
        target = f"{_SIGN.get(r.comparison, r.comparison)} {r.target:g}{unit}" if r.target else "—"
        notes = [n["text"] for n in r.notes]
        value = _r2(r.value)
        details = r.details or {}
        area = _area(details)
        rows.append(
            {
                "指标": r.label,
                "范围": r.scope_name or r.scope or "",
                "现状值": "无数据" if value is None else value,
                "目标": target,
                "目标性质": r.nature_zh,
                "是否达标": _mark(r),
                "差距": _gap(r),
                "依据": cite,
                "单位": unit,
                "面积（km²）": area,
                "说明": "；".join(notes),
            }
        )
        bd = r.by_district
        if not r.measured or bd is None or bd.empty:
            continue
        for d in bd.to_dict(orient="records"):
            v = _r2(d.get("value"))
            ok = d.get("status", "contribution") == "contribution" and v is not None
            rows.append(
                {
                    "指标": r.label,
                    "范围": f"{d.get('name', '')}（分区贡献）",
                    "现状值": v if ok else "无数据",
                    "目标": "—",
                    "目标性质": r.nature_zh,
                    "是否达标": "贡献（不单独考核）" if ok else "无数据",
                    "差距": "—",
                    "依据": cite,
                    "单位": unit,
                    "面积（km²）": _area(d) if ok else None,
                    "说明": "" if ok else "该区无本指标的输入数据（未计入本值）",
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _write_docx(table: pd.DataFrame, path: Path, title: str, legend: str) -> Path:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    from geo.io.spreadsheet import neutralise_formulas

    def east_asian(style_or_run: Any, name: str) -> None:
        element = getattr(style_or_run, "element", None)
        if element is None:
            element = style_or_run._element
        rpr = element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), name)

    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.LANDSCAPE  # A4 landscape: eleven columns
    sec.page_width, sec.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Mm(15))
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(9)
    east_asian(normal, "SimSun")
    for name in ("Heading 1", "Heading 2", "Title"):
        doc.styles[name].font.name = "SimHei"
        east_asian(doc.styles[name], "SimHei")
    doc.add_heading(title, level=1)
    doc.add_paragraph(legend)
    safe = neutralise_formulas(table)
    # district rows repeat their target's label and citation: print them once
    repeat = safe["范围"].astype(str).str.endswith("（分区贡献）")
    safe.loc[repeat, ["指标", "依据"]] = "同上"
    grid = doc.add_table(rows=1, cols=len(safe.columns))
    grid.style = "Table Grid"
    grid.autofit = False
    for cell, head in zip(grid.rows[0].cells, safe.columns, strict=True):
        cell.text = str(head)
        run = cell.paragraphs[0].runs[0]
        run.bold = True
        east_asian(run, "SimHei")
    for rec in safe.itertuples(index=False):
        cells = grid.add_row().cells
        for cell, v in zip(cells, rec, strict=True):
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                text = "—"
            elif isinstance(v, float):
                text = f"{v:,.2f}"
            else:
                text = str(v)
            cell.text = text
    for col, mm in zip(grid.columns, _DOCX_WIDTHS_MM, strict=True):
        col.width = Mm(mm)  # the grid (LibreOffice, WPS) and each cell (Word)
        for cell in col.cells:
            cell.width = Mm(mm)
    from geo.io.atomic import replacing_file

    with replacing_file(path) as tmp:
        doc.save(str(tmp))
    return path


LEGEND = (
    "说明：目标按规划设定的范围评估（如市域目标只对全市判定）；分区行是各区对该目标的贡献，"
    "不单独考核。目标性质“约束性”指规划明确要求达到的数值，“力争（预期性）”指规划用“力争”"
    "表述的目标，未达到时记为“未达到力争目标”。部分区无输入数据时，合计值只由有数据的区计算，"
    "标为“部分数据，未判定”。百分比、面积（km²）、人均面积（m²/人）保留两位小数。"
)


def write_coverage_table(
    results: Sequence[MetricResult],
    path: str | Path,
    *,
    pack: Any = None,
    title: str | None = None,
) -> Path:
    """Write the wide coverage table as CSV (UTF-8 with BOM), XLSX or DOCX (A4), by suffix.

    Parameters
    ----------
    results
        From :func:`zoning.coverage.measure.measure_targets`.
    path
        ``.csv``, ``.xlsx`` or ``.docx``. Written atomically (an interrupted write
        leaves the old file).
    pack
        The pack (citations by title and section; document title).
    title
        Heading of the DOCX and name of the XLSX sheet.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputFormatError
        For another suffix.
    """
    from geo.io.spreadsheet import write_csv, write_xlsx

    path = Path(path)
    table = coverage_table(results, pack=pack)
    title = title or (f"{pack.title}目标达标评估" if pack is not None else "规划目标达标评估")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_csv(table, path)
    if suffix == ".xlsx":
        fmt = {"现状值": "0.00", "面积（km²）": "0.00"}
        return write_xlsx({"目标达标评估": table}, path, number_formats=fmt)
    if suffix == ".docx":
        return _write_docx(table, path, title, LEGEND)
    msg = f"--out {path}: unknown table format {suffix!r}; use .csv, .xlsx, .docx (or .json)"
    raise InputFormatError(msg)
