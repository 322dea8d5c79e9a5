"""Formula-safe tables (geo/io/spreadsheet.py): neutralised cells, atomic CSV and XLSX."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from geo.io.spreadsheet import neutralise_cell, neutralise_formulas, write_csv, write_xlsx


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\tA", "'\tA"),
        (" =x", "' =x"),  # a formula after leading spaces still runs
        ("-12.5", "-12.5"),  # plain numbers written as text stay numbers
        ("+86", "+86"),
        ("1e5", "1e5"),
        ("普通文本", "普通文本"),
        (3.5, 3.5),
        (-1, -1),
        (None, None),
    ],
)
def test_neutralise_cell(value, expected):
    assert neutralise_cell(value) == expected


def test_neutralise_formulas_headers_cells_and_categories():
    df = pd.DataFrame(
        {"=bad": ["=x", "ok", None], "n": [1, -2, 3], "c": pd.Categorical(["@a", "b", "@a"]),
         "m": pd.Categorical(["=1", None, "x"])}
    )  # fmt: skip
    out = neutralise_formulas(df)
    assert list(out.columns) == ["'=bad", "n", "c", "m"]
    assert out["'=bad"].tolist()[:2] == ["'=x", "ok"] and pd.isna(out["'=bad"].iloc[2])
    assert out["n"].tolist() == [1, -2, 3]
    assert out["c"].tolist() == ["'@a", "b", "'@a"]
    assert out["m"].iloc[0] == "'=1" and pd.isna(out["m"].iloc[1]) and out["m"].iloc[2] == "x"
    assert df["=bad"].tolist()[:2] == ["=x", "ok"]  # input untouched


def test_write_csv_is_neutralised_and_replaces_atomically(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_csv(pd.DataFrame({"名称": ["=HYPERLINK(1)", "水源井"], "v": [1.5, -2.0]}), path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel/WPS read Chinese
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["名称"].tolist() == ["'=HYPERLINK(1)", "水源井"]
    assert back["v"].tolist() == [1.5, -2.0]
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"a": [1]}), path)
    assert path.read_bytes() == before  # the previous file intact
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary left


def test_write_xlsx_keeps_neutralised_text_as_text(tmp_path):
    path = write_xlsx(
        {"表": pd.DataFrame({"name": ["=1+1", "ok"], "x": [1.23456, 2.0]})},
        tmp_path / "t.xlsx",
        number_formats={"x": "0.000"},
    )
    ws = load_workbook(path)["表"]
    assert ws["A2"].value == "'=1+1" and ws["A2"].data_type == "s"
    assert ws["B2"].value == pytest.approx(1.23456) and ws["B2"].number_format == "0.000"
    assert ws.freeze_panes == "A2"
