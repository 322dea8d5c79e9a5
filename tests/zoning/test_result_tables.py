"""The results workbook: three sheets, Chinese headers, coloured verdicts, safe cells."""

from __future__ import annotations

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from geo.errors import InputFormatError
from zoning.check.result import VERDICT_COLOURS, VERDICT_ZH
from zoning.check.result_tables import SHEET_NAMES, write_results_xlsx


@pytest.fixture
def frames():
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["A", '=HYPERLINK("x")'],
            "source_row": [2, 3],
            "verdict": ["prohibited", "compliant"],
            "verdict_zh": [VERDICT_ZH["prohibited"], VERDICT_ZH["compliant"]],
            "deciding_rules": ["redline.inside", ""],
            "rules": ["redline.inside;well.nearest", "well.nearest"],
            "area_m2": [1234.5678, 0.0],
            "项目名称": ["甲", "乙"],
        },
        geometry=[shapely.box(116.70, 39.90, 116.71, 39.91), shapely.Point(116.6, 39.8)],
        crs="EPSG:4326",
    )
    findings = pd.DataFrame(
        {
            "site_id": ["A", "A"],
            "rule_id": ["redline.inside", "well.nearest"],
            "outcome": ["prohibited", "information"],
            "title": ["位于生态保护红线内", "与最近饮用水水源井的距离"],
            "distance_m": [0.0, 512.25],
            "citations": [("《规划》 第370行",), ("001 l.296", "002 l.264")],
        }
    )
    errors = pd.DataFrame(
        {"source_row": [4], "site_id": [None], "stage": ["read"], "reason": ["坐标为空"]}
    )
    return sites, findings, errors


def test_workbook_sheets_headers_and_colours(tmp_path, frames) -> None:
    path = write_results_xlsx(*frames, tmp_path / "结果.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(SHEET_NAMES.values())
    ws = wb[SHEET_NAMES["sites"]]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["场地编号", "源文件行号", "结论", "结论代码", "决定性规则", "触发规则"]
    assert {"经度", "纬度", "几何(WKT)", "项目名称"} <= set(header)
    assert ws.freeze_panes == "A2"
    verdict_col = header.index("结论") + 1
    fill = ws.cell(row=2, column=verdict_col).fill.fgColor.rgb
    assert fill == "FF" + VERDICT_COLOURS["prohibited"][1].lstrip("#").upper()
    # a formula in user text stays text
    assert ws.cell(row=3, column=1).value.startswith("'=")
    assert ws.cell(row=3, column=1).data_type == "s"
    lon = ws.cell(row=3, column=header.index("经度") + 1).value
    assert lon == pytest.approx(116.6)
    f = wb[SHEET_NAMES["findings"]]
    fh = [c.value for c in f[1]]
    assert fh[:2] == ["场地编号", "规则编号"] and "依据" in fh
    assert f.cell(row=3, column=fh.index("依据") + 1).value == "001 l.296; 002 l.264"
    e = wb[SHEET_NAMES["errors"]]
    assert [c.value for c in e[1]] == ["源文件行号", "场地编号", "阶段", "原因"]


def test_too_many_rows_for_excel(tmp_path, frames, monkeypatch) -> None:
    import zoning.check.result_tables as rt

    monkeypatch.setattr(rt, "EXCEL_ROWS", 2)
    with pytest.raises(InputFormatError, match=r"\.gpkg"):
        write_results_xlsx(*frames, tmp_path / "big.xlsx")
    assert not (tmp_path / "big.xlsx").exists()
