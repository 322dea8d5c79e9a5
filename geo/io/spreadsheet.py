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

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["atomic_path", "neutralise_cell", "neutralise_formulas", "write_csv", "write_xlsx"]

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
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):  # each distinct text once
            cats = np.asarray(s.cat.categories.map(neutralise_cell), dtype=object)
            codes = s.cat.codes.to_numpy()
            values = np.full(len(codes), None, dtype=object)  # code -1: missing
            values[codes >= 0] = cats[codes[codes >= 0]]
            out[col] = values
            continue
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary file beside ``path``, renamed over it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_path(path: str | Path) -> contextlib.AbstractContextManager[Path]:
    """A temporary path beside ``path``, renamed over it when the ``with`` block succeeds.

    For writers of other formats (e.g. DOCX tables) that must leave the old file
    intact when interrupted.

    Parameters
    ----------
    path
        The final file.

    Returns
    -------
    context manager yielding pathlib.Path
    """
    return _replacing(Path(path))


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
    with _replacing(path) as tmp:
        neutralise_formulas(df).to_csv(tmp, index=False, encoding="utf-8-sig")
    return path


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    number_formats: Mapping[str, str] | None = None,
    fills: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write tables as sheets of one XLSX workbook (openpyxl), atomically.

    Parameters
    ----------
    sheets
        Sheet name → table; text cells are neutralised (:func:`neutralise_formulas`).
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
    """
    from openpyxl.styles import PatternFill

    path = Path(path)
    # built in memory, then written in one piece: a full disk fails in our write
    # (the temporary file is removed), not inside a zip that lingers half-closed
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, table in sheets.items():
            safe = neutralise_formulas(table)
            safe.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            for j, col in enumerate(safe.columns, start=1):
                letter = ws.cell(row=1, column=j).column_letter
                width = max([len(str(col))] + [len(str(v)) for v in safe[col].head(200)])
                ws.column_dimensions[letter].width = min(60, max(8, width + 2))
                fmt = (number_formats or {}).get(str(col))
                if fmt:
                    for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                        row[0].number_format = fmt
                if not pd.api.types.is_numeric_dtype(safe[col].dtype):
                    # keep text typed as text: a "'=..." must never become a formula
                    for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                        if isinstance(row[0].value, str):
                            row[0].data_type = "s"
                colours = (fills or {}).get(str(col))
                if colours:
                    for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                        colour = colours.get(str(row[0].value))
                        if colour:  # opaque ARGB
                            argb = "FF" + colour.lstrip("#").upper()
                            row[0].fill = PatternFill("solid", fgColor=argb)
            ws.freeze_panes = "A2"
    with _replacing(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return path
