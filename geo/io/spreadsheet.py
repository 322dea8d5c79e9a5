"""Tables for spreadsheets: formula-safe cells, atomic CSV and XLSX writers.

Excel and WPS run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (also after
leading spaces, or starting with a tab or carriage return) as a formula, so a site
or source named ``=HYPERLINK(...)`` could act when a results table is opened.
:func:`neutralise_cell` prefixes such text with ``'``, the spreadsheet convention
for "this is text"; plain numbers written as text (``"-12.5"``, ``"+86"``) are left
alone, so tables read back as text keep their numbers. :func:`write_csv` (UTF-8
with BOM, so Excel/WPS show Chinese right) and :func:`write_xlsx` neutralise every
text cell and write to a temporary file renamed into place: an interrupted write
leaves the previous file intact.
"""

from __future__ import annotations

import datetime
import io
import math
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.errors import InputFormatError
from geo.io.atomic import replacing_file

__all__ = [
    "EXCEL_COLUMNS", "EXCEL_ROWS", "csv_bytes", "neutralise_cell", "neutralise_formulas",
    "write_csv", "write_csv_text", "write_xlsx",
]  # fmt: skip

_FORMULA_START = ("=", "+", "-", "@")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` when a spreadsheet would run it as a formula.

    Parameters
    ----------
    value
        A cell value; only text is changed.

    Returns
    -------
    Any
        ``"'=1+1"`` for ``"=1+1"``; numbers, ``"-12.5"`` and other text unchanged.

    Examples
    --------
    >>> neutralise_cell("=cmd|' /C calc'!A0")
    "'=cmd|' /C calc'!A0"
    >>> neutralise_cell(" =1+1"), neutralise_cell("-12.5")
    ("' =1+1", '-12.5')
    """
    if not isinstance(value, str):
        return value
    stripped = value.lstrip(" \t\r\n")
    if stripped.startswith(_FORMULA_START) or value.startswith(("\t", "\r")):
        if not _PLAIN_NUMBER.match(stripped.strip()):
            return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells and column names cannot run as formulas.

    Parameters
    ----------
    df
        Any DataFrame (not modified).

    Returns
    -------
    pandas.DataFrame
        A copy with every text cell (and column name) passed through
        :func:`neutralise_cell`; non-text columns untouched.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"a": ["=1+1", "ok", -1]}))["a"].tolist()
    ["'=1+1", 'ok', -1]
    """
    out = df.copy()
    for i in range(out.shape[1]):  # by position: column names may repeat
        s = out.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):  # each distinct text once
            cats = np.asarray(s.cat.categories.map(neutralise_cell), dtype=object)
            codes = s.cat.codes.to_numpy()
            values = np.full(len(codes), None, dtype=object)  # code -1: missing
            values[codes >= 0] = cats[codes[codes >= 0]]
            out.isetitem(i, values)
            continue
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out.isetitem(i, s.map(neutralise_cell))
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


_BOM = "\ufeff".encode()  # UTF-8 byte order mark: Excel and WPS then read Chinese right
#: Rows turned into CSV text at a time (bounded memory for a big table).
_CSV_ROWS = 50_000
# a text cell neutralise_cell may change (the rest it returns as they are)
_MAYBE_FORMULA = r"^[ \t\r\n]*[=+\-@]|^[\t\r]"


def csv_bytes(df: pd.DataFrame, *, header: bool = True, neutralise: bool = True) -> bytes:
    """``df`` as CSV text (UTF-8, "\\n" line ends), formula-safe: :func:`write_csv_text`'s bytes.

    Parameters
    ----------
    df
        The table.
    header
        Write the column names first.
    neutralise
        Pass text cells and column names through :func:`neutralise_cell`.

    Returns
    -------
    bytes
    """
    out = io.BytesIO()
    write_csv_text(out, df, header=header, neutralise=neutralise)
    return out.getvalue()


def write_csv_text(
    f: BinaryIO, df: pd.DataFrame, *, header: bool = True, neutralise: bool = True
) -> None:
    """Write ``df`` as CSV text (UTF-8, "\\n" line ends) to binary file ``f``, formula-safe.

    The same bytes as ``neutralise_formulas(df).to_csv(index=False)`` (``neutralise=False``:
    ``df.to_csv(index=False)``), several times faster: each column becomes text
    with Arrow's kernels (floats as Python writes them, text quoted only where it
    holds ``,``, ``"`` or a line break, as pandas quotes), and the rows are joined
    by Arrow too, their text written from Arrow's buffer as it is (no copy). Columns
    of other types (nullable integers, dates, mixed objects), repeated or nested
    column names and one-column tables go to pandas, for the whole table.

    Parameters
    ----------
    f
        A file open for writing bytes.
    df
        The table.
    header
        Write the column names first.
    neutralise
        Pass text cells and column names through :func:`neutralise_cell`.
    """
    simple = df.shape[1] > 1 and df.columns.is_unique and df.columns.nlevels == 1
    cols = [_csv_column(df[c], neutralise) for c in df.columns] if simple else None
    if cols is None or any(c is None for c in cols):  # pandas' own writer
        frame = neutralise_formulas(df) if neutralise else df
        f.write(frame.to_csv(index=False, header=header, lineterminator="\n").encode())
        return
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    if header:
        names = [str(c) for c in df.columns]
        names = [neutralise_cell(c) for c in names] if neutralise else names
        head = pc.fill_null(_csv_quoted(pa.array(names, text)), "").to_pylist()
        f.write((",".join(head) + "\n").encode())
    if not len(df):
        return
    # the line end joins the last column's cells, not the lines: a tenth of the bytes
    cols[-1] = pc.binary_join_element_wise(cols[-1], pa.scalar("\n", text), pa.scalar("", text))
    lines = pc.binary_join_element_wise(*cols, pa.scalar(",", text))
    start, end = lines.offset, lines.offset + len(lines)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[[start, end]]
    f.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[1]])


def _csv_column(s: pd.Series, neutralise: bool) -> Any:
    """One column as Arrow text cells (``None``: a type left to pandas)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if pd.api.types.infer_dtype(cats, skipna=True) not in ("string", "empty"):
            return None
        values = pa.array(np.asarray(cats, dtype=object), text)
        values = _csv_quoted(_neutralised(values) if neutralise else values)
        codes = s.cat.codes.to_numpy()
        taken = values.take(pa.array(codes, mask=codes < 0))
        return pc.fill_null(taken, pa.scalar("", text))
    if dtype == np.bool_:
        return pa.array(np.where(s.to_numpy(), "True", "False"), text)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pc.cast(pa.array(s.to_numpy()), text)
    if dtype == np.float64:
        return _float_text(s.to_numpy())
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            return None
        values = pa.array(s.to_numpy(dtype=object), text, from_pandas=True)
        values = _csv_quoted(_neutralised(values) if neutralise else values)
        return pc.fill_null(values, pa.scalar("", text))
    return None


def _neutralised(values: Any) -> Any:
    """:func:`neutralise_cell` over Arrow text: only the cells that may need it go through it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    maybe = pc.fill_null(pc.match_substring_regex(values, _MAYBE_FORMULA), False)
    if not pc.any(maybe).as_py():
        return values
    mask = maybe.to_numpy(zero_copy_only=False)
    changed = [neutralise_cell(v) for v in values.filter(maybe).to_pylist()]
    return pc.replace_with_mask(values, pa.array(mask), pa.array(changed, values.type))


def _csv_quoted(values: Any) -> Any:
    """Text cells quoted as pandas' CSV writer quotes them (a ``,``, ``"`` or line feed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    need = pc.fill_null(pc.match_substring_regex(values, '[",\n]'), False)
    if not pc.any(need).as_py():
        return values
    quote = pa.scalar('"', values.type)
    doubled = pc.replace_substring(values, '"', '""')
    joined = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", values.type))
    return pc.if_else(need, joined, values)


def _float_text(x: NDArray[np.float64]) -> Any:
    """Floats as Python's ``repr`` (pandas' CSV text), empty for NaN, as Arrow text.

    Arrow prints the same shortest digits as Python in fixed notation; Python adds
    ".0" to whole numbers and uses exponents below 1e-4 and from 1e16: those few
    cells get ``repr`` itself. Zero is fixed ("0" and "-0", then ".0"): a batch's
    areas and distances hold many (a million ``repr`` calls for 1 000 000 points).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    out = pc.cast(pa.array(x), text)
    with np.errstate(invalid="ignore"):
        size = np.abs(x)
        fixed = ((size >= 1e-4) & (size < 1e16)) | (x == 0)
    fixed &= ~pc.match_substring(out, "e").to_numpy(zero_copy_only=False)
    whole = fixed & ~pc.match_substring(out, ".").to_numpy(zero_copy_only=False)
    if whole.any():
        dotted = pc.binary_join_element_wise(out, pa.scalar(".0", text), pa.scalar("", text))
        out = pc.if_else(pa.array(whole), dotted, out)
    nan = np.isnan(x)
    other = ~fixed & ~nan
    if other.any():
        reprs = pa.array([repr(v) for v in x[other].tolist()], text)
        out = pc.replace_with_mask(out, pa.array(other), reprs)
    if nan.any():
        out = pc.if_else(pa.array(nan), pa.scalar("", text), out)
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV with BOM (Excel/WPS read Chinese right), atomically.

    Parameters
    ----------
    df
        The table (text cells are neutralised, see :func:`neutralise_formulas`).
    path
        Target ``.csv``.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    with replacing_file(path) as tmp, open(tmp, "wb") as f:
        f.write(_BOM)
        for start in range(0, max(len(df), 1), _CSV_ROWS):  # bounded memory
            write_csv_text(f, df.iloc[start : start + _CSV_ROWS], header=start == 0)
    return path


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    number_formats: Mapping[str, str] | None = None,
    fills: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write tables as sheets of one XLSX workbook (XlsxWriter), atomically.

    Cells are written row by row in XlsxWriter's ``constant_memory`` mode (rows go
    to temporary files in the system temporary folder, not into a model of the
    workbook), so memory stays bounded by the tables themselves. Values are typed as
    pandas' Excel writer types them: missing values (None, NaN, NaT) are empty cells,
    booleans booleans, integers and floats numbers (±inf as the text ``inf``),
    datetimes and dates numbers formatted ``YYYY-MM-DD HH:MM:SS`` / ``YYYY-MM-DD``,
    time spans days (format ``0``), text text and anything else its ``str()``. Text
    is always written as text, never as a formula, number or link. Each sheet
    has its header row frozen and its columns sized to the first 200 rows.

    Parameters
    ----------
    sheets
        Sheet name (cut to 31 characters) → table; text cells are neutralised
        (:func:`neutralise_formulas`).
    path
        Target ``.xlsx``.
    number_formats
        Column heading → Excel number format (e.g. ``"0.000"``), for every sheet.
    fills
        Column heading → {cell text → fill colour "#rrggbb"}: colours cells by value
        (e.g. verdicts), for every sheet.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputFormatError
        For a table with more rows or columns than an Excel sheet holds.
    ValueError
        For a datetime with a time zone (Excel has none): convert to naive first.
    OSError
        When the workbook or its temporary parts cannot be written (e.g. a full disk);
        the previous file at ``path`` is left intact.
    """
    import xlsxwriter
    import xlsxwriter.exceptions

    path = Path(path)
    # the zip is assembled in memory (compressed) and written in one piece: a full
    # disk fails in our write (the temporary file is removed), not inside a zip that
    # lingers half-closed
    buf = _ZipBuffer()
    with tempfile.TemporaryDirectory(prefix="ecozone-xlsx-") as parts:
        options = {
            "constant_memory": True,
            "tmpdir": parts,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        }
        wb = xlsxwriter.Workbook(buf, options)
        try:
            styles = _Styles(wb)
            truncated = 0
            for name, table in sheets.items():
                ws = wb.add_worksheet(name[:31])
                truncated += _write_sheet(
                    ws, name, table, styles, number_formats or {}, fills or {}
                )
            try:
                wb.close()
            except xlsxwriter.exceptions.FileCreateError as exc:  # an OSError, wrapped
                if exc.args and isinstance(exc.args[0], OSError):
                    raise exc.args[0] from exc  # keeps its errno (ENOSPC: disk full)
                raise
        finally:
            for ws in wb.worksheets():  # constant_memory row files, also after a failure
                fh = getattr(ws, "row_data_fh", None)
                if fh is not None:
                    fh.close()
    if truncated:
        warnings.warn(
            f"{path.name}: {truncated} cell(s) longer than Excel's 32 767 characters "
            "were truncated",
            UserWarning,
            stacklevel=2,
        )
    with replacing_file(path) as tmp:
        tmp.write_bytes(buf.getbuffer())
    return path


_DATETIME_FORMAT = "YYYY-MM-DD HH:MM:SS"  # pandas' Excel writer defaults
_DATE_FORMAT = "YYYY-MM-DD"
_ROWS_PER_CHUNK = 5_000  # rows turned into Python values at a time
#: Rows (header included) and columns an Excel sheet holds.
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384


class _ZipBuffer(io.BytesIO):
    """The workbook's zip, in memory, left open by garbage collection.

    When packaging fails, XlsxWriter leaves its ``ZipFile`` unclosed; the ZipFile's
    finaliser then writes its end record here, which must not fail on a buffer that
    the collector closed first ("Exception ignored in ZipFile.__del__").
    """

    def close(self) -> None:
        """Keep the buffer usable; it is freed with the object."""


class _Styles:
    """One XlsxWriter format per (number format, fill colour), made on first use."""

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._made: dict[tuple[str | None, str | None], Any] = {(None, None): None}

    def get(self, number_format: str | None, colour: str | None) -> Any:
        key = (number_format, colour)
        fmt = self._made.get(key, False)
        if fmt is False:
            props: dict[str, Any] = {}
            if number_format:
                props["num_format"] = number_format
            if colour:
                props.update(pattern=1, bg_color="#" + colour.lstrip("#"))  # solid fill
            fmt = self._made[key] = self._wb.add_format(props)
        return fmt


def _excel_value(value: Any) -> tuple[str, Any, str | None]:
    """How pandas' Excel writer stores ``value``: (kind, value, number format).

    Kinds: ``"s"`` text, ``"n"`` number, ``"b"`` boolean, ``"d"`` datetime/date,
    ``""`` empty.
    """
    if isinstance(value, str):
        return ("s", value, None) if value else ("", None, None)
    if isinstance(value, bool | np.bool_):
        return "b", bool(value), None
    if isinstance(value, int | np.integer):
        return "n", int(value), None
    if isinstance(value, float | np.floating):
        if value != value:
            return "", None, None
        if math.isinf(value):
            return "s", "inf" if value > 0 else "-inf", None
        return "n", float(value), None
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "", None, None
    if isinstance(value, Decimal):
        return "n", value, None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            msg = (
                f"cannot write {value!r} to a spreadsheet: Excel has no time zones; "
                "convert the column to naive datetimes first (e.g. .dt.tz_localize(None))"
            )
            raise ValueError(msg)
        return "d", value, _DATETIME_FORMAT
    if isinstance(value, datetime.date):
        return "d", value, _DATE_FORMAT
    if isinstance(value, datetime.timedelta):
        return "n", value.total_seconds() / 86400, "0"
    text = str(value)
    return ("s", text, None) if text else ("", None, None)


def _cell_writer(
    ws: Any,
    kind: str,
    number_format: str | None,
    colours: Mapping[str, str] | None,
    styles: _Styles,
) -> Callable[[int, int, Any], int | None]:
    """A function writing one cell of a column, with fast paths by numpy dtype kind.

    ``kind`` is the column's ``dtype.kind`` (``"O"`` for extension dtypes); every
    path ends in the value, type and format :func:`_excel_value` gives.
    """
    fmt = styles.get(number_format, None)
    write = {"s": ws.write_string, "n": ws.write_number, "b": ws.write_boolean,
             "d": ws.write_datetime}  # fmt: skip

    def any_value(row: int, col: int, value: Any) -> int | None:
        kind, value, own_format = _excel_value(value)
        cell_fmt = fmt
        if colours:
            colour = colours.get("" if value is None else str(value))
            cell_fmt = styles.get(number_format or own_format, colour)
        elif own_format and not number_format:
            cell_fmt = styles.get(own_format, None)
        if kind:
            return write[kind](row, col, value, cell_fmt)
        return None if cell_fmt is None else ws.write_blank(row, col, None, cell_fmt)

    if colours:
        return any_value
    write_string, write_number = ws.write_string, ws.write_number
    if kind == "f":  # Python floats

        def number(row: int, col: int, value: float) -> int | None:
            if value - value == 0:  # not NaN, not ±inf
                return write_number(row, col, value, fmt)
            if value != value:  # NaN: missing
                return None if fmt is None else ws.write_blank(row, col, None, fmt)
            return any_value(row, col, value)

        return number
    if kind in "iu":  # Python ints
        return lambda row, col, value: write_number(row, col, value, fmt)
    if kind == "b":  # Python bools
        return lambda row, col, value: ws.write_boolean(row, col, value, fmt)

    def text(row: int, col: int, value: Any) -> int | None:
        if value.__class__ is str and value:
            return write_string(row, col, value, fmt)
        if value is None or (value.__class__ is float and value != value):  # missing
            return None if fmt is None else ws.write_blank(row, col, None, fmt)
        return any_value(row, col, value)

    return text


def _write_sheet(
    ws: Any,
    name: str,
    table: pd.DataFrame,
    styles: _Styles,
    number_formats: Mapping[str, str],
    fills: Mapping[str, Mapping[str, str]],
) -> int:
    """Write ``table`` (neutralised here, chunk by chunk) row by row; return the truncated cells."""
    if len(table) >= EXCEL_ROWS or table.shape[1] > EXCEL_COLUMNS:
        msg = (
            f"sheet {name!r}: {len(table):,} rows x {table.shape[1]:,} columns do not fit an "
            f"Excel sheet ({EXCEL_ROWS - 1:,} rows below the header, {EXCEL_COLUMNS:,} "
            "columns); write CSV or split the table"
        )
        raise InputFormatError(msg)
    truncated = 0
    head = neutralise_formulas(table.head(200))
    header = _cell_writer(ws, "O", None, None, styles)
    for j, col in enumerate(head.columns):
        if header(0, j, col) == -2:
            truncated += 1
        width = max([len(str(col))] + [len(str(v)) for v in head.iloc[:, j]])
        ws.set_column_pixels(j, j, 7 * min(60, max(8, width + 2)))  # exactly that many characters
    ws.freeze_panes(1, 0)
    kinds = [d.kind if isinstance(d, np.dtype) else "O" for d in table.dtypes]
    writers = [
        _cell_writer(ws, kind, number_formats.get(str(col)), fills.get(str(col)), styles)
        for kind, col in zip(kinds, head.columns, strict=True)
    ]
    for start in range(0, len(table), _ROWS_PER_CHUNK):
        chunk = neutralise_formulas(table.iloc[start : start + _ROWS_PER_CHUNK])
        columns = [chunk.iloc[:, j].tolist() for j in range(chunk.shape[1])]
        for row, values in enumerate(zip(*columns, strict=True), start=start + 1):
            for j, value in enumerate(values):
                if writers[j](row, j, value) == -2:
                    truncated += 1
    return truncated
