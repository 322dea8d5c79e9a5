"""Formula-safe tables (geo/io/spreadsheet.py): neutralised cells, atomic CSV and XLSX."""

from __future__ import annotations

import datetime
import errno
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from geo.errors import InputFormatError
from geo.io.spreadsheet import (
    csv_bytes,
    neutralise_cell,
    neutralise_formulas,
    write_csv,
    write_xlsx,
)


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


@pytest.fixture
def private_tmpdir(tmp_path, monkeypatch):
    """The system temporary folder, redirected to an empty folder we can inspect."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_write_xlsx_round_trips_values_and_types(tmp_path, private_tmpdir):
    table = pd.DataFrame(
        {
            "text": ["甲", "", None, "-12.5"],
            "int": np.array([1, -2, 3, 2**40], dtype="int64"),
            "float": [1.25, np.nan, np.inf, -0.5],
            "bool": [True, False, True, False],
            "cat": pd.Categorical(["a", None, "b", "a"]),
            "when": pd.to_datetime(["2025-03-04 05:06:07", None, "2024-02-29 00:00:00", None]),
            "mixed": [7, 2.5, None, "x"],
            "none": [None] * 4,
        }
    )
    path = write_xlsx({"表": table}, tmp_path / "t.xlsx")
    ws = load_workbook(path)["表"]
    rows = [[(c.value, c.data_type) for c in row] for row in ws.iter_rows(min_row=2)]
    header = [c.value for c in ws[1]]
    assert header == ["text", "int", "float", "bool", "cat", "when", "mixed", "none"]
    assert [ws.cell(row=r, column=1).value for r in range(2, 6)] == ["甲", None, None, "-12.5"]
    assert ws["A5"].data_type == "s"  # a number written as text stays text
    assert [r[1] for r in rows] == [(1, "n"), (-2, "n"), (3, "n"), (2**40, "n")]
    assert [r[2][0] for r in rows] == [1.25, None, "inf", -0.5]  # ±inf as pandas writes it
    assert [r[3] for r in rows] == [(True, "b"), (False, "b"), (True, "b"), (False, "b")]
    assert [r[4][0] for r in rows] == ["a", None, "b", "a"]
    assert ws["F2"].value == datetime.datetime(2025, 3, 4, 5, 6, 7) and ws["F2"].is_date
    assert ws["F2"].number_format == "YYYY-MM-DD HH:MM:SS" and ws["F3"].value is None
    assert [r[6][0] for r in rows] == [7, 2.5, None, "x"]
    assert all(r[7][0] is None for r in rows)
    assert ws.max_row == 5 and ws.max_column == 8
    assert list(private_tmpdir.iterdir()) == []  # XlsxWriter's row files removed
    assert pd.read_excel(path)["int"].tolist() == [1, -2, 3, 2**40]


def test_write_xlsx_never_writes_a_formula(tmp_path):
    evil = ["=1+1", "'=1+1", "=cmd|' /C calc'!A0", "@SUM(A1)", "http://x.cn/a", "1e5", "#N/A"]
    path = write_xlsx({"s": pd.DataFrame({"=HYPERLINK(1)": evil})}, tmp_path / "t.xlsx")
    ws = load_workbook(path)["s"]
    assert ws["A1"].value == "'=HYPERLINK(1)"
    got = [c.value for c in ws["A"][1:]]
    assert got == ["'=1+1", "'=1+1", "'=cmd|' /C calc'!A0", "'@SUM(A1)", *evil[4:]]
    assert all(c.data_type == "s" for c in ws["A"])  # text, not formula, number or error
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet and "<hyperlink" not in sheet
        assert not any(n.startswith("xl/worksheets/_rels/") for n in z.namelist())


def test_write_xlsx_formats_fills_widths_and_frozen_header(tmp_path):
    sites = pd.DataFrame(
        {
            "结论": ["不符合", "符合", "其他", None],
            "面积": [1234.5678, np.nan, 0.0, 2.0],
            "名称": ["a" * 100, "b", "c", "d"],
        }
    )
    path = write_xlsx(
        {"场地" * 20: sites, "空表": sites.iloc[:0]},
        tmp_path / "t.xlsx",
        number_formats={"面积": "0.00"},
        fills={"结论": {"不符合": "#d7191c", "符合": "#31A354"}},
    )
    wb = load_workbook(path)
    assert wb.sheetnames == [("场地" * 20)[:31], "空表"]
    ws = wb.worksheets[0]
    fills = [(c.fill.fill_type, c.fill.fgColor.rgb) for c in ws["A"][1:]]
    assert fills[:2] == [("solid", "FFD7191C"), ("solid", "FF31A354")]
    assert fills[2][0] is None and fills[3][0] is None  # no colour for other values
    assert ws["A1"].fill.fill_type is None  # the header is not coloured
    assert [c.number_format for c in ws["B"]] == ["General", "0.00", "0.00", "0.00", "0.00"]
    assert ws["B2"].value == pytest.approx(1234.5678) and ws["B3"].value is None
    assert ws["A2"].number_format == "General" and ws["C2"].number_format == "General"
    # width: longest of the heading and the first 200 cells, + 2, within 8..60
    assert [ws.column_dimensions[c].width for c in "ABC"] == [8, 11, 60]
    for sheet in wb.worksheets:
        assert sheet.freeze_panes == "A2"
    assert [c.value for c in wb["空表"][1]] == ["结论", "面积", "名称"]
    assert wb["空表"].max_row == 1


def test_write_xlsx_failure_keeps_the_previous_file(tmp_path, private_tmpdir, monkeypatch):
    path = tmp_path / "t.xlsx"
    write_xlsx({"a": pd.DataFrame({"x": [1, 2]})}, path)
    before = path.read_bytes()
    tz = pd.DataFrame({"t": pd.to_datetime(["2025-01-01"]).tz_localize("Asia/Shanghai")})
    with pytest.raises(ValueError, match="no time zones"):  # fails in the second sheet
        write_xlsx({"a": pd.DataFrame({"x": range(10_000)}), "b": tz}, path)
    assert path.read_bytes() == before

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError, match="No space left"):
        write_xlsx({"a": pd.DataFrame({"x": [3]})}, path)
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmpdir))
    monkeypatch.setattr(zipfile.ZipFile, "write", full)  # the temporary parts do not fit
    with pytest.raises(OSError, match="No space left") as caught:
        write_xlsx({"a": pd.DataFrame({"x": [4]})}, path)
    assert caught.value.errno == errno.ENOSPC  # not XlsxWriter's wrapper: the CLI says "disk full"
    monkeypatch.undo()
    assert path.read_bytes() == before  # the previous file intact
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["t.xlsx"]  # no temporary
    assert list(private_tmpdir.iterdir()) == []
    assert load_workbook(path)["a"]["A2"].value == 1


def test_write_xlsx_refuses_what_a_sheet_cannot_hold(tmp_path, monkeypatch):
    import geo.io.spreadsheet as spreadsheet

    monkeypatch.setattr(spreadsheet, "EXCEL_ROWS", 3)
    with pytest.raises(InputFormatError, match=r"'big'.*do not fit"):
        write_xlsx({"big": pd.DataFrame({"x": [1, 2, 3]})}, tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()


def test_write_xlsx_warns_on_truncated_cells(tmp_path):
    with pytest.warns(UserWarning, match="1 cell.*truncated"):
        path = write_xlsx({"s": pd.DataFrame({"x": ["y" * 40_000]})}, tmp_path / "t.xlsx")
    assert len(load_workbook(path)["s"]["A2"].value) == 32_767


# --------------------------------------------------------------------------- CSV text

_CELL_TEXT = st.text(alphabet=list('ab ,"\n\r\t=+-@.1e中'), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), _CELL_TEXT), min_size=0, max_size=12),
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=12, max_size=12),
    neutralise=st.booleans(),
)
def test_csv_bytes_are_pandas_to_csv(texts, floats, neutralise):
    """Arrow-made CSV text: byte for byte what pandas writes (quoting, floats, NaN, bools)."""
    n = len(texts)
    df = pd.DataFrame(
        {
            "text": pd.Series(texts, dtype=object),
            "cat": pd.Categorical(texts),
            "x": np.asarray(floats[:n], dtype=np.float64),
            "k": np.arange(n, dtype=np.int64) - 3,
            "ok": np.arange(n) % 2 == 0,
            "=head,er": pd.Series(texts[::-1], dtype="str"),
        }
    )
    want = (neutralise_formulas(df) if neutralise else df).to_csv(index=False).encode()
    assert csv_bytes(df, neutralise=neutralise) == want
    assert csv_bytes(df, header=False, neutralise=neutralise) == want.split(b"\n", 1)[1]


def test_csv_bytes_floats_across_magnitudes():
    rng = np.random.default_rng(3)
    x = rng.random(50_000) * np.logspace(-12, 20, 50_000) * rng.choice([-1.0, 1.0], 50_000)
    x[::5] = np.round(x[::5])  # whole numbers: "100.0"
    x[:6] = [0.0, -0.0, 1e16, 1e-4, 9.999e-5, 5e-324]
    df = pd.DataFrame({"x": x, "y": x[::-1].copy()})
    assert csv_bytes(df, neutralise=False) == df.to_csv(index=False).encode()


def test_csv_bytes_leave_other_types_to_pandas():
    df = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "mixed": [1, "=a", None],
            "when": pd.to_datetime(["2026-01-01", None, "2026-12-05"]),
        }
    )
    assert csv_bytes(df) == neutralise_formulas(df).to_csv(index=False).encode()
    one = df[["mixed"]]  # one column: pandas quotes an empty row's lone field
    assert csv_bytes(one) == neutralise_formulas(one).to_csv(index=False).encode()
    twice = pd.DataFrame([["a", 1.5], ["b", None]], columns=["x", "x"])  # repeated name
    assert csv_bytes(twice) == neutralise_formulas(twice).to_csv(index=False).encode()
