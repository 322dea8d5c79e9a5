"""Check results as a spreadsheet (结果表): sites, findings and errors, Chinese headers.

Planners pass results around in Excel/WPS. :func:`write_results_xlsx` writes one
workbook with three sheets — 场地结论 (one row per site, the verdict cell coloured
as on the maps), 触发规则 (one row per finding) and 错误 (rows that could not be
checked) — through :func:`geo.io.spreadsheet.write_xlsx` (formula-safe, atomic,
frozen header row).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError
from geo.io.spreadsheet import EXCEL_ROWS, write_xlsx
from zoning.check.result import VERDICT_COLOURS, VERDICT_ZH

__all__ = ["SHEET_NAMES", "check_sheet_rows", "results_sheets", "write_results_xlsx"]

#: Sheet names of the results workbook.
SHEET_NAMES = {"sites": "场地结论", "findings": "触发规则", "errors": "错误"}
_EXCEL_CELL = 32_000  # Excel keeps at most 32 767 characters in a cell

_SITE_HEADERS = {
    "site_id": "场地编号",
    "source_row": "源文件行号",
    "verdict_zh": "结论",
    "verdict": "结论代码",
    "deciding_rules": "决定性规则",
    "rules": "触发规则",
    "area_m2": "面积(m²)",
    "length_m": "长度(m)",
    "demo_data": "演示数据",
    "notes": "说明",
}
_FINDING_HEADERS = {
    "site_id": "场地编号",
    "rule_id": "规则编号",
    "outcome": "结果代码",
    "section": "三线一单类别",
    "title": "规则",
    "requirement": "管控要求",
    "distance_m": "距离(m)",
    "overlap_m2": "重叠面积(m²)",
    "overlap_pct": "重叠比例(%)",
    "length_inside_m": "区内长度(m)",
    "citations": "依据",
    "feature_ids": "涉及要素",
}
_ERROR_HEADERS = {
    "source_row": "源文件行号",
    "site_id": "场地编号",
    "stage": "阶段",
    "reason": "原因",
}


def _text(value: Any) -> Any:
    """Lists and tuples (citations, feature ids) as one "; "-joined cell."""
    if isinstance(value, list | tuple | np.ndarray):
        return "; ".join(str(v) for v in value)
    return value


def _renamed(frame: pd.DataFrame, headers: Mapping[str, str]) -> pd.DataFrame:
    known = [c for c in headers if c in frame.columns]
    rest = [c for c in frame.columns if c not in headers]
    out = frame[known + rest].rename(columns=dict(headers))
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = _cell_texts(out[col].to_numpy())
    return out


def _cell_texts(values: np.ndarray) -> np.ndarray:
    """:func:`_text` of each value, made once per distinct object.

    Findings share their tuples (a control unit's access entries, a rule's
    citations): 10 000 sites' 10 000 access-entry cells are 5 500 objects of about
    3 KB of text each, so each text is built, and held, once.
    """
    ids = np.frompyfunc(id, 1, 1)(values).astype(np.int64)
    _, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    texts = np.empty(len(first), dtype=object)
    texts[:] = [_text(values[i]) for i in first.tolist()]  # one row per object
    return texts[codes.reshape(-1)]


def results_sheets(
    sites: gpd.GeoDataFrame, findings: pd.DataFrame, errors: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The three tables of the results workbook, with Chinese headers.

    Parameters
    ----------
    sites
        Verdict rows as :func:`zoning.check.batch.run_batch` writes them (with geometry).
    findings
        :attr:`zoning.check.result.CheckResult.findings`.
    errors
        The batch's error rows (``source_row``, ``site_id``, ``stage``, ``reason``).

    Returns
    -------
    dict
        Sheet name → table. Site geometry becomes 经度/纬度 (a point on the site) and
        几何(WKT), left empty when longer than a spreadsheet cell holds.
    """
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    geoms = np.asarray(sites.geometry.array, dtype=object)
    anchor = shapely.point_on_surface(geoms)  # missing geometries stay missing (NaN)
    table["经度"] = shapely.get_x(anchor)
    table["纬度"] = shapely.get_y(anchor)
    wkt = shapely.to_wkt(geoms, rounding_precision=7)
    table["几何(WKT)"] = [w if isinstance(w, str) and len(w) <= _EXCEL_CELL else "" for w in wkt]
    if "verdict" in table.columns and "verdict_zh" not in table.columns:
        table["verdict_zh"] = table["verdict"].map(VERDICT_ZH)
    return {
        SHEET_NAMES["sites"]: _renamed(table, _SITE_HEADERS),
        SHEET_NAMES["findings"]: _renamed(pd.DataFrame(findings), _FINDING_HEADERS),
        SHEET_NAMES["errors"]: _renamed(pd.DataFrame(errors), _ERROR_HEADERS),
    }


def check_sheet_rows(rows: int, path: str | Path) -> None:
    """Refuse a results workbook whose sheet would hold more rows than Excel allows.

    A batch calls it as the sites and findings accumulate, so that an input too big
    for a workbook stops early instead of being checked through first.

    Parameters
    ----------
    rows
        The rows of the largest sheet (header not counted).
    path
        The target ``.xlsx`` (named in the message).

    Raises
    ------
    InputFormatError
        When ``rows`` do not fit in one sheet.
    """
    if rows >= EXCEL_ROWS:
        msg = (
            f"{Path(path).name}: {rows:,} 行超出 Excel 工作表上限 / more rows than an Excel "
            f"sheet holds ({EXCEL_ROWS - 1:,}); write .gpkg, .csv or .parquet instead."
        )
        raise InputFormatError(msg)


def write_results_xlsx(
    sites: gpd.GeoDataFrame, findings: pd.DataFrame, errors: pd.DataFrame, path: str | Path
) -> Path:
    """Write the results workbook (see :func:`results_sheets`), verdicts coloured.

    Parameters
    ----------
    sites, findings, errors
        As for :func:`results_sheets`.
    path
        Target ``.xlsx`` (written to a temporary file, then renamed into place).

    Returns
    -------
    pathlib.Path
    """
    check_sheet_rows(max(len(sites), len(findings)), path)
    fills = {"结论": {VERDICT_ZH[v]: fill for v, (_, fill) in VERDICT_COLOURS.items()}}
    return write_xlsx(
        results_sheets(sites, findings, errors),
        path,
        number_formats={"面积(m²)": "0.00", "距离(m)": "0.0", "重叠面积(m²)": "0.00"},
        fills=fills,
    )
