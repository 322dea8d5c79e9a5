"""CSV/TXT and XLSX tables with lon/lat (or x/y) columns, or a WKT geometry column.

Headers are recognised case-insensitively, with units in brackets ignored:
lon/lng/long/longitude/x/经度/东经 and lat/latitude/y/纬度/北纬 ("经度(°)" works).
A table with point-number and X/Y columns in metres is a 界址点 table and becomes
polygons (see :mod:`geo.io.boundary_points`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.chinacoords import normalise_system
from geo.errors import EcozoneWarning, InputFormatError
from geo.io._coords import (
    as_crs,
    detect_xy_crs,
    finalize_features,
    to_wgs84_lonlat,
)
from geo.io._hints import system_named_in
from geo.io._issues import IssueLog, check_errors_mode, user_stacklevel
from geo.io.boundary_points import boundary_points_to_gdf
from geo.io.tabular import (
    BP_PARCEL_NAMES,
    BP_POINT_NAMES,
    BP_X_NAMES,
    BP_Y_NAMES,
    LAT_NAMES,
    LON_NAMES,
    WKT_NAMES,
    convert_attributes,
    find_column,
    load_cells,
    norm_header,
    split_header,
    text_series,
    to_number,
)

# Header names that only survey tables use (X = northing): decisive on their own.
_SURVEY_ONLY = frozenset(
    {"x坐标", "y坐标", "纵坐标x", "横坐标y", "纵坐标", "横坐标", "北坐标", "东坐标"}
)


def _no_columns_error(source: str, columns: list[str]) -> InputFormatError:
    msg = (
        f"{source}: 找不到坐标列 / no coordinate columns recognised. Headers seen: "
        f"{columns}. Accepted longitude names: {sorted(LON_NAMES)}; latitude names: "
        f"{sorted(LAT_NAMES)} (case-insensitive, units in brackets allowed, e.g. '经度(°)'); "
        f"or a WKT column {sorted(WKT_NAMES)}; or 界址点 columns 点号/X/Y. "
        "Name the columns with lon_col= and lat_col=, e.g. lon_col='东经坐标', lat_col='北纬坐标'."
    )
    return InputFormatError(msg)


def is_boundary_table(frame: pd.DataFrame) -> bool:
    """Tell a 界址点 table: X/Y columns in metres plus point or parcel numbers."""
    cols = [str(c) for c in frame.columns]
    xcol, ycol = find_column(cols, BP_X_NAMES), find_column(cols, BP_Y_NAMES)
    if xcol is None or ycol is None:
        return False
    if find_column(cols, LON_NAMES - {"x"}) or find_column(cols, LAT_NAMES - {"y"}):
        return False  # explicit lon/lat columns win
    if {norm_header(xcol), norm_header(ycol)} & _SURVEY_ONLY:
        return True
    if find_column(cols, BP_POINT_NAMES) is None and find_column(cols, BP_PARCEL_NAMES) is None:
        return False
    x, _ = to_number(frame[xcol])
    y, _ = to_number(frame[ycol])
    mags = np.abs(np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]]))
    return bool(len(mags)) and float(np.median(mags)) > 1000.0


def _headerless_xy(frame: pd.DataFrame) -> tuple[str, str] | None:
    """Pick the x, y columns of a table without header: its only two numeric columns."""
    numeric = []
    for col in frame.columns:
        values, unparsed = to_number(frame[col])
        if np.isfinite(values).sum() > unparsed.sum():
            numeric.append(col)
    return (numeric[0], numeric[1]) if len(numeric) == 2 else None


def _reject_rows(log: IssueLog, rows: np.ndarray, mask: np.ndarray, reason: str) -> None:
    for row in rows[mask]:
        log.rejected(int(row), reason)


def frame_to_geodataframe(
    frame: pd.DataFrame,
    rows: np.ndarray,
    *,
    log: IssueLog,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Build point (or WKT) features from a table whose header is already applied.

    Parameters
    ----------
    frame
        Cells (text or numbers), one row per data row.
    rows
        The file row number of each frame row (1-based, as the user sees it).
    log
        Issue log of the file.
    crs, coords, zone, lon_col, lat_col
        As for :func:`read_table`.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with the other columns as attributes, ``source_row`` and issues.
    """
    coords = normalise_system(coords)
    rows = np.asarray(rows, dtype=np.int64)
    cols = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    for given, arg in ((lon_col, "lon_col"), (lat_col, "lat_col")):
        if given is not None and given not in cols:
            msg = f"{log.source}: {arg}={given!r} 不存在 / is not a column; headers seen: {cols}."
            raise InputFormatError(msg)
    if lon_col is None and lat_col is None and is_boundary_table(frame):
        return boundary_points_to_gdf(frame, rows, log=log, crs=crs, zone=zone)

    xcol = lon_col or find_column(cols, LON_NAMES)
    ycol = lat_col or find_column(cols, LAT_NAMES)
    if (xcol is None or ycol is None) and all(c.startswith("column_") for c in cols):
        xcol, ycol = _headerless_xy(frame) or (xcol, ycol)
    if xcol is None or ycol is None:
        wkt_col = find_column(cols, WKT_NAMES)
        if wkt_col is None:
            raise _no_columns_error(log.source, cols)
        return _wkt_table(frame, rows, wkt_col, log=log, crs=crs, coords=coords, zone=zone)

    _guard_system(coords, [xcol, ycol, Path(log.source).name], log.source)
    x, x_bad = to_number(frame[xcol])
    y, y_bad = to_number(frame[ycol])
    keep = np.ones(len(frame), dtype=bool)
    for bad, col in ((x_bad, xcol), (y_bad, ycol)):
        for i in np.flatnonzero(bad & keep):
            log.rejected(
                int(rows[i]),
                f"列 {col} 的值无法解析为数字 / cannot read {str(frame[col].iloc[i])!r} in "
                f"column {col!r} as a number",
            )
        keep &= ~bad
    empty = keep & (np.isnan(x) | np.isnan(y))
    _reject_rows(log, rows, empty, f"坐标为空 / {xcol!r} or {ycol!r} is empty")
    keep &= ~empty

    user = as_crs(crs)
    if user is None:
        if not keep.any():
            msg = (
                f"{log.source}: 没有可用的坐标行 / no row has usable coordinates in "
                f"{xcol!r}/{ycol!r}."
            )
            raise InputFormatError(msg)
        xs, ys, found, _, misfit = detect_xy_crs(x[keep], y[keep], zone=zone, log=log)
        x[keep], y[keep] = xs, ys
        idx = np.flatnonzero(keep)
        for i in idx[misfit]:
            log.rejected(
                int(rows[i]),
                f"坐标与其他行的坐标系不符 / ({frame[xcol].iloc[i]}, {frame[ycol].iloc[i]}) does "
                f"not fit the CRS of the other rows ({found.name})",
            )
        keep[idx[misfit]] = False
        user = found
    if keep.any():
        x[keep], y[keep] = to_wgs84_lonlat(
            x[keep], y[keep], coords=coords, crs=user, source=log.source
        )
    attrs = convert_attributes(frame.drop(columns=[xcol, ycol]).loc[keep].reset_index(drop=True))
    geoms = shapely.points(x[keep], y[keep])
    gdf = gpd.GeoDataFrame(attrs, geometry=geoms, crs=user)
    gdf.insert(0, "source_row", rows[keep])
    # Conversion is done above, on the arrays.
    return finalize_features(gdf, crs=None, coords="wgs84", zone=zone, log=log)


def _guard_system(coords: str, words: list[str], source: str) -> None:
    """Warn when the headers or file name name another system than ``coords``."""
    named = system_named_in(words)
    if named is None or named == coords:
        return
    label = {"gcj02": "高德/腾讯 GCJ-02", "bd09": "百度 BD-09", "wgs84": "WGS84/CGCS2000"}
    warnings.warn(
        f"{source}: 列名或文件名 {words[:2]} 表明坐标为 {label[named]}，却按 {label[coords]} 读取；"
        f"如属 {label[named]}，请用 coords='{named}' / the headers or file name name "
        f"{named.upper()} but the coordinates were read as {coords.upper()}; if they are "
        f"{named.upper()}, pass coords='{named}' (a 300–600 m shift changes verdicts).",
        EcozoneWarning,
        stacklevel=user_stacklevel(),
    )


def _wkt_table(
    frame: pd.DataFrame,
    rows: np.ndarray,
    wkt_col: str,
    *,
    log: IssueLog,
    crs: Any,
    coords: str,
    zone: int | None,
) -> gpd.GeoDataFrame:
    text = text_series(frame[wkt_col])
    blank = (text == "").to_numpy()
    geoms = shapely.from_wkt(text.where(~blank, None).to_numpy(), on_invalid="ignore")
    bad = shapely.is_missing(geoms) & ~blank
    for i in np.flatnonzero(bad):
        log.rejected(int(rows[i]), f"WKT 无法解析 / cannot parse {text.iloc[i][:40]!r} as WKT")
    keep = ~bad
    attrs = convert_attributes(frame.drop(columns=[wkt_col]).loc[keep].reset_index(drop=True))
    gdf = gpd.GeoDataFrame(attrs, geometry=geoms[keep], crs=None)
    gdf.insert(0, "source_row", rows[keep])
    return finalize_features(gdf, crs=crs, coords=coords, zone=zone, log=log)


def read_table(
    path: str | Path,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a CSV/TXT or XLSX table of points (or a 界址点 table, as polygons).

    Parameters
    ----------
    path
        A delimited text file (comma, tab, semicolon, bar or spaces; UTF-8 with or
        without BOM, or GBK/GB18030) or an ``.xlsx`` workbook.
    crs
        CRS of the coordinates; default: detected from their magnitudes
        (:func:`geo.detect.detect_crs`), latitude-first columns swapped back and reported.
    coords
        Lon/lat system: "wgs84"/"cgcs2000", "gcj02" or "bd09" (converted to WGS84).
    zone
        3° Gauss-Krüger zone (e.g. 39) for projected coordinates without zone prefix.
    layer
        Excel sheet name or index (default: the first sheet with coordinate headers).
    encoding
        Text encoding of a CSV (default: UTF-8, else GB18030).
    lon_col, lat_col
        Column names when the headers are not recognised.
    errors
        "report" (bad rows are rejected, warned and listed in ``attrs["issues"]``)
        or "raise".

    Returns
    -------
    geopandas.GeoDataFrame
        One point per good row, the other columns as attributes, ``source_row`` =
        the line number in a text file (header = line 1) or the Excel row number.

    Raises
    ------
    InputFormatError
        No recognisable coordinate columns (the message lists the headers seen and
        the names accepted), unreadable file, or a bad row with ``errors="raise"``.
    CRSDetectionError
        Coordinates that fit no known CRS.

    Examples
    --------
    >>> gdf = read_table("sites.csv", coords="gcj02")  # doctest: +SKIP
    """
    check_errors_mode(errors)
    path = Path(path)
    log = IssueLog(str(path), errors)
    raw, rows = load_cells(path, layer=layer, encoding=encoding, log=log)
    frame, data_rows, _ = split_header(raw, rows)
    if frame.empty and not frame.columns.empty:
        msg = f"{path}: 表格没有数据行 / the table has a header but no data rows."
        raise InputFormatError(msg)
    return frame_to_geodataframe(
        frame,
        data_rows,
        log=log,
        crs=crs,
        coords=coords,
        zone=zone,
        lon_col=lon_col,
        lat_col=lat_col,
    )
