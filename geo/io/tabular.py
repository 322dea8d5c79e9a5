"""Loading CSV/TXT and XLSX tables as text cells with their file row numbers.

Tables are read without a header first, so that a title row above the header (common
in 界址点 tables: "XX地块界址点坐标表") is skipped and every data row keeps the number
the user sees: the line in a text file (header = line 1 when it is the first line),
the row in Excel.

Public helpers of the table readers, also used by :func:`geo.convert.convert_table` and
:func:`zoning.access_list.import_access_list` (formerly ``geo.io._tabular``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputFormatError
from geo.io._hints import strip_system_words
from geo.io._issues import IssueLog
from geo.io._sniff import decode_text
from geo.io.text import parse_angle

# Rows scanned for the header line.
_HEADER_SCAN = 30

LON_NAMES = frozenset(
    {"lon", "lng", "long", "longitude", "x", "经度", "东经", "pointx", "xcoord", "经度坐标"}
)
LAT_NAMES = frozenset({"lat", "latitude", "y", "纬度", "北纬", "pointy", "ycoord", "纬度坐标"})
WKT_NAMES = frozenset({"geometry", "geom", "wkt", "thegeom", "shape", "几何", "wkt几何"})
# 界址点 tables: X = northing, Y = easting (survey convention).
BP_X_NAMES = frozenset({"x", "x坐标", "纵坐标x", "纵坐标", "北坐标", "northing", "xm", "坐标x"})
BP_Y_NAMES = frozenset({"y", "y坐标", "横坐标y", "横坐标", "东坐标", "easting", "ym", "坐标y"})
BP_POINT_NAMES = frozenset(
    {
        "点号",
        "界址点号",
        "界址点",
        "点名",
        "点",
        "点位",
        "点位号",
        "序号",
        "point",
        "pointid",
        "pointno",
        "pt",
        "ptno",
        "no",
        "id",
    }
)
BP_PARCEL_NAMES = frozenset(
    {
        "地块",
        "地块编号",
        "地块号",
        "地块名称",
        "地块名",
        "宗地",
        "宗地号",
        "宗地编号",
        "宗地代码",
        "图斑",
        "图斑编号",
        "parcel",
        "parcelid",
        "plot",
        "plotid",
        "block",
    }
)
BP_RING_NAMES = frozenset({"圈号", "环号", "圈", "环", "ring", "ringid", "ringno", "part"})

_BRACKETS = re.compile(r"[\(（\[【{<].*?[\)）\]】}>]")
_STRIP = re.compile(r"[\s_\-.°/:：]+")


def norm_header(name: object) -> str:
    """Normalise a column name: lower case, units in brackets and separators removed.

    "经度(°)" → "经度", "Longitude [deg]" → "longitude", "X坐标（m）" → "x坐标".
    """
    s = str(name).strip().lower()
    s = _BRACKETS.sub("", s)
    return _STRIP.sub("", s)


def find_column(columns: list[str], names: frozenset[str]) -> str | None:
    """Return the first column whose normalised name is in ``names``."""
    for col in columns:
        if norm_header(col) in names:
            return col
    for col in columns:  # "gcj02_lng", "高德经度": the system is checked by the reader
        if strip_system_words(norm_header(col)) in names:
            return col
    return None


def _is_header(cells: list[str]) -> bool:
    normed = {norm_header(c) for c in cells if c}
    return bool(
        (normed & LON_NAMES and normed & LAT_NAMES)
        or (normed & BP_X_NAMES and normed & BP_Y_NAMES)
        or normed & WKT_NAMES
    )


def text_series(col: pd.Series) -> pd.Series:
    """Cells as stripped text, "" for missing (vectorised; pandas' string dtype)."""
    if isinstance(col.dtype, pd.StringDtype):  # text already (a CSV's cells): no object
        return col.fillna("").astype(str).str.strip()  # per cell, a tenth of the time
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def _cell_text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v).strip()


def split_header(
    raw: pd.DataFrame, rows: np.ndarray, *, header_row: int | None = None
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Find the header line and return (data, row numbers, header cells).

    The header is the first of the first 30 non-blank rows naming coordinate
    columns; failing that, the first non-blank row.
    """
    texts = [[_cell_text(v) for v in raw.iloc[i]] for i in range(min(len(raw), _HEADER_SCAN))]
    nonblank = [i for i, t in enumerate(texts) if any(t)]
    if header_row is None:
        header_row = next((i for i in nonblank if _is_header(texts[i])), None)
        if header_row is None:
            header_row = nonblank[0] if nonblank else 0
            if nonblank and _numeric_row(texts[header_row]):
                header_row = -1  # no header at all: the first line is data
    header = texts[header_row] if 0 <= header_row < len(texts) else []
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        name = h or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    data = raw.iloc[header_row + 1 :].copy()
    data.columns = names + [f"column_{i + 1}" for i in range(len(names), data.shape[1])]
    data_rows = rows[header_row + 1 :]
    # Blank lines are layout, not data: leave them out.
    blank = np.ones(len(data), dtype=bool)
    for i in range(data.shape[1]):
        blank &= (text_series(data.iloc[:, i]) == "").to_numpy()
    return data.loc[~blank].reset_index(drop=True), data_rows[~blank], names


def _numeric_row(cells: list[str]) -> bool:
    """Tell a headerless first line: at least two cells that are plain numbers."""
    numeric = 0
    for c in cells:
        try:
            float(c.replace(",", ""))
            numeric += 1
        except ValueError:
            continue
    return numeric >= 2


def _delimiter(text: str) -> str | None:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    best, best_score = None, 0
    for d in (",", "\t", ";", "|"):
        counts = [ln.count(d) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        common = max(set(counts), key=counts.count)
        score = counts.count(common) * (common > 0)
        if score > best_score:
            best, best_score = d, score
    return best


def load_text_table(
    path: Path, *, encoding: str | None, source: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a delimited text file as string cells, with each row's line number."""
    data = path.read_bytes()
    try:
        text = decode_text(data, encoding)
    except (UnicodeDecodeError, LookupError) as err:
        msg = (
            f"{source}: 无法按 {encoding!r} 解码 / cannot decode the text as {encoding!r} ({err})."
        )
        raise InputFormatError(msg) from err
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    sep = _delimiter(text)
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if sep is not None:
        raw = _arrow_cells(text, sep)
        if raw is None:  # (rows of other lengths, blank lines: pandas reads them)
            try:
                raw = pd.read_csv(
                    io.StringIO(text),
                    sep=sep,
                    header=None,
                    dtype=str,
                    skip_blank_lines=False,
                    keep_default_na=False,
                    engine="c",
                )
            except pd.errors.ParserError:
                pass  # ragged rows: the csv module below copes
        if raw is not None and len(raw) == n_lines:
            return raw, np.arange(1, n_lines + 1)
        reader = csv.reader(io.StringIO(text), delimiter=sep)
    else:
        reader = (re.split(r"\s+", ln.strip()) if ln.strip() else [] for ln in text.split("\n"))
    records: list[list[str]] = []
    starts: list[int] = []
    line = 1
    for rec in reader:
        records.append(rec)
        starts.append(line)
        line = (reader.line_num + 1) if hasattr(reader, "line_num") else line + 1
    width = max((len(r) for r in records), default=0)
    padded = [r + [""] * (width - len(r)) for r in records]
    return pd.DataFrame(padded, dtype=object), np.asarray(starts, dtype=np.int64)


def _arrow_cells(text: str, sep: str) -> pd.DataFrame | None:
    """The cells of a delimited text as ``pd.read_csv`` reads them (text), by Arrow.

    Arrow's reader parses on both cores: a million-row CSV in 0.23 s against 1.5 s.
    Only a table without quotes whose every line has the first line's number of cells
    is read here; for any other (quoted cells, rows of other lengths, blank lines),
    ``None``: pandas pads short rows with missing cells, which Arrow refuses, and the
    two disagree on a quote left open. Cells are text as they stand (no
    missing values, no stripping), as pandas gives them with ``dtype=str`` and
    ``keep_default_na=False`` (tests/geo/test_tabular.py compares the two).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if '"' in text:  # quoting: pandas and Arrow differ on quotes left open (fuzzed)
        return None
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep), [])
    if not first:
        return None
    names = [str(i) for i in range(len(first))]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(text.encode()),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(
                delimiter=sep, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    text = pd.Series([], dtype=str).dtype  # what dtype=str gives: pandas 3 text, 2.x objects
    mapper = {pa.string(): text}.get if isinstance(text, pd.StringDtype) else None
    cells = table.to_pandas(types_mapper=mapper)
    cells.columns = range(len(names))
    return cells


def load_xlsx(
    path: Path, *, sheet: str | int | None, source: str
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Read an Excel sheet as cells, with Excel row numbers; returns the sheet name too.

    Without ``sheet``, the first sheet with a recognisable header is used.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile/KeyError/InvalidFileException
        msg = f"{source}: Excel 文件无法读取 / cannot read the Excel workbook ({err})."
        raise InputFormatError(msg) from err
    try:
        names = wb.sheetnames
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                msg = (
                    f"{source}: 工作表序号 {sheet} 超出范围 / sheet {sheet} out of range; "
                    f"sheets: {names}."
                )
                raise InputFormatError(msg)
            candidates = [names[sheet]]
        elif sheet is not None:
            if sheet not in names:
                msg = f"{source}: 没有工作表 {sheet!r} / no sheet named {sheet!r}; sheets: {names}."
                raise InputFormatError(msg)
            candidates = [sheet]
        else:
            candidates = names
        first: tuple[pd.DataFrame, np.ndarray, str] | None = None
        for name in candidates:
            ws = wb[name]
            values = list(ws.iter_rows(min_row=1, values_only=True))
            raw = pd.DataFrame(values, dtype=object)
            rows = np.arange(1, len(raw) + 1)
            if first is None:
                first = (raw, rows, name)
            head = [[_cell_text(v) for v in r] for r in values[:_HEADER_SCAN]]
            if any(_is_header(h) for h in head):
                return raw, rows, name
        assert first is not None
        return first
    finally:
        wb.close()


def to_number(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse coordinates: plain numbers, "4 420 000.12", "116.4°", DMS with hemisphere.

    Returns
    -------
    tuple
        ``(values, unparsed)``: float array (NaN where missing or unreadable) and a
        mask of cells that held text but could not be read.
    """
    text = text_series(col)
    values = _decimals(text)
    if values is None:
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, copy=True)
    blank = (text == "").to_numpy()
    failed = np.isnan(values) & ~blank
    if failed.any():  # only the odd cells: separators, decimal commas, degree signs, DMS
        odd = text[failed].str.replace(r"[\s\u00a0\u2009']", "", regex=True)
        # "4,420,000.12" / "1,234.5": thousands separators; "116,4": a decimal comma.
        thousands = odd.str.match(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$") & (
            odd.str.contains(".", regex=False) | (odd.str.count(",") > 1)
        )
        odd = odd.where(~thousands, odd.str.replace(",", "", regex=False))
        decimal = odd.str.match(r"^[-+]?\d+,\d+$")
        odd = odd.where(~decimal, odd.str.replace(",", ".", regex=False))
        values[failed] = pd.to_numeric(odd, errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(failed & np.isnan(values)):
            values[i], _ = parse_angle(text.iloc[i])
    unparsed = np.isnan(values) & ~blank
    return values, unparsed


#: A plain decimal number (what :func:`_decimals` reads by Arrow).
_DECIMAL = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def _decimal_cells(text: pd.Series) -> tuple[Any, Any] | None:
    """Stripped text cells as Arrow text, and which are plain decimals (``None``: not text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(text.dtype, pd.StringDtype) or len(text) == 0:
        return None
    cells = pa.array(text)
    return cells, pc.match_substring_regex(cells, _DECIMAL)


def _decimals(text: pd.Series) -> np.ndarray | None:
    """Floats of stripped text cells that are all plain decimal numbers, else ``None``.

    Arrow's parse, about ten times quicker than ``pd.to_numeric`` on a million cells;
    correctly rounded, as Python's ``float`` (``pd.to_numeric`` can be one unit in the
    last place off for 18 digits and more). A column with any other cell (blank,
    "116.4°", "4,420,000") goes to :func:`to_number`'s general path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    got = _decimal_cells(text)
    if got is None or not pc.all(got[1]).as_py():
        return None
    return pc.cast(got[0], pa.float64()).to_numpy(zero_copy_only=False).copy()


def _surely_text(text: pd.Series) -> bool:
    """Whether a few of the cells that are not plain decimals are not numbers either.

    Then ``pd.to_numeric`` would not read the whole column, and its parse of a million
    cells (0.6 s) is spared; ``False`` says nothing (the caller parses the column).
    """
    import pyarrow.compute as pc

    got = _decimal_cells(text)
    if got is None:
        return False
    odd = got[0].filter(pc.invert(got[1]))[:16]
    if len(odd) == 0:
        return False
    return bool(
        pd.to_numeric(pd.Series(odd.to_pylist(), dtype=object), errors="coerce").isna().any()
    )


def convert_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn all-numeric text columns into numbers; codes with leading zeros stay text."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue  # already typed (Parquet, Excel numbers)
        text = text_series(s)
        filled = text != ""
        if not filled.any():
            out[col] = text.where(filled, None)
            continue
        if text[filled].str.match(r"^[-+]?0\d").any() or text[filled].str.len().max() > 15:
            out[col] = text.where(filled, None)
            continue
        if _surely_text(text[filled]):  # (quick: ids like "P0000001" are not parsed)
            out[col] = text.where(filled, None)
            continue
        num = pd.to_numeric(text[filled], errors="coerce")
        if num.notna().all():
            out[col] = pd.to_numeric(text.where(filled, None), errors="coerce")
        else:
            out[col] = text.where(filled, None)
    return out


def load_cells(
    path: Path, *, layer: str | int | None, encoding: str | None, log: IssueLog
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells and row numbers of a text table or an Excel sheet (sniffed by content).

    ``log.source`` becomes the sheet read. Shared by :mod:`geo.io.table` and
    :mod:`geo.io.boundary_points`.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        raw, rows, sheet = load_xlsx(path, sheet=layer, source=log.source)
        log.source = f"{path}!{sheet}" if layer is not None else str(path)
        return raw, rows
    raw, rows = load_text_table(path, encoding=encoding, source=log.source)
    if raw.empty:
        msg = f"{path}: 文件为空 / the file holds no rows."
        raise InputFormatError(msg)
    return raw, rows
