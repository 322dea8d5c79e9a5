"""界址点 (boundary-point) coordinate tables → parcel polygons.

Survey tables list each parcel's corner points in order, with **X = northing and
Y = easting** in CGCS2000 Gauss-Krüger metres (the reverse of GIS order). The zone
is either carried as the easting's prefix (Y = 39 452 123.4 → zone 39, EPSG:4527)
or must be given (``zone=39`` → EPSG:4548). A table may hold several parcels (a
parcel column such as 地块/地块编号/宗地号, filled on the first row only is fine)
and holes or separate parts (a ring column such as 圈号/ring). Rings are closed
when the last point differs from the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError
from geo.io._coords import as_crs, detect_xy_crs, finalize_features
from geo.io._issues import IssueLog, check_errors_mode
from geo.io.tabular import (
    BP_PARCEL_NAMES,
    BP_POINT_NAMES,
    BP_RING_NAMES,
    BP_X_NAMES,
    BP_Y_NAMES,
    convert_attributes,
    find_column,
    load_cells,
    split_header,
    text_series,
    to_number,
)

# Eastings (with or without prefix) exceed northings' typical 0.3–6 × 10⁶ m only when
# prefixed; plain eastings are 1–9 × 10⁵ m. Used to spot tables in GIS order.
_PLAIN_EASTING = (100_000.0, 900_000.0)


def _filled_keys(col: pd.Series | None, n: int) -> np.ndarray:
    """Parcel/ring keys as text, blanks filled from the row above (merged cells)."""
    if col is None:
        return np.full(n, "1", dtype=object)
    text = text_series(col)
    text = text.mask(text == "").ffill().fillna("")
    return text.to_numpy(dtype=object)


def _rings(xy: np.ndarray, ring_keys: np.ndarray) -> list[np.ndarray]:
    """Split a parcel's points into rings (by ring key, in order of appearance)."""
    _, first = np.unique(ring_keys, return_index=True)
    order = np.sort(first)
    out = []
    for start in order:
        sel = ring_keys == ring_keys[start]
        out.append(xy[sel])
    return out


def _polygon(rings: list[np.ndarray]) -> shapely.Geometry:
    """Shell = first ring; later rings inside it are holes, others separate parts."""
    shells: list[list[np.ndarray]] = []
    for ring in rings:
        poly = shapely.Polygon(ring)
        host = next(
            (s for s in shells if shapely.Polygon(s[0]).contains(poly.representative_point())),
            None,
        )
        if host is None:
            shells.append([ring])
        else:
            host.append(ring)
    polys = [shapely.Polygon(s[0], holes=s[1:]) for s in shells]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def boundary_points_to_gdf(
    frame: pd.DataFrame,
    rows: np.ndarray,
    *,
    log: IssueLog,
    crs: Any = None,
    zone: int | None = None,
) -> gpd.GeoDataFrame:
    """Build parcel polygons from a 界址点 table whose header is already applied.

    Parameters
    ----------
    frame
        One row per boundary point.
    rows
        File row number of each frame row (1-based).
    log
        Issue log of the file.
    crs, zone
        As for :func:`read_boundary_points`.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per parcel: the parcel column (if any), ``point_count``,
        ``source_row`` (the parcel's first row), ``source_rows`` ("first-last"),
        and any other column that is constant within the parcel.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    xcol, ycol = find_column(cols, BP_X_NAMES), find_column(cols, BP_Y_NAMES)
    if xcol is None or ycol is None:
        msg = (
            f"{log.source}: 找不到 X/Y 列 / no X and Y columns; headers seen: {cols}. "
            f"Accepted: X {sorted(BP_X_NAMES)}, Y {sorted(BP_Y_NAMES)} (X = northing, "
            "Y = easting)."
        )
        raise InputFormatError(msg)
    pcol = find_column(cols, BP_PARCEL_NAMES)
    rcol = find_column(cols, BP_RING_NAMES)
    ptcol = find_column(cols, BP_POINT_NAMES)

    north, n_bad = to_number(frame[xcol])
    east, e_bad = to_number(frame[ycol])
    parcels = _filled_keys(frame[pcol] if pcol else None, len(frame))
    rings = _filled_keys(frame[rcol] if rcol else None, len(frame))

    bad_reason: dict[int, str] = {}
    for i in np.flatnonzero(n_bad | e_bad):
        col = xcol if n_bad[i] else ycol
        bad_reason[i] = (
            f"列 {col} 的值无法解析 / cannot read {str(frame[col].iloc[i])!r} in column {col!r}"
        )
    for i in np.flatnonzero(~(n_bad | e_bad) & (np.isnan(north) | np.isnan(east))):
        bad_reason[i] = f"坐标为空 / {xcol!r} or {ycol!r} is empty"
    ok = np.ones(len(frame), dtype=bool)
    ok[list(bad_reason)] = False

    user = as_crs(crs)
    if user is None:
        if not ok.any():
            msg = f"{log.source}: 没有可用的坐标行 / no row has usable X/Y coordinates."
            raise InputFormatError(msg)
        e, n, user, _, misfit = detect_xy_crs(
            north[ok], east[ok], zone=zone, log=log, expect_swapped=True
        )
        east[ok], north[ok] = e, n
        for i in np.flatnonzero(ok)[misfit]:
            bad_reason[i] = (
                f"坐标与其他点的坐标系不符 / X={frame[xcol].iloc[i]}, Y={frame[ycol].iloc[i]} "
                f"does not fit the other points ({user.name}); check for a typo"
            )
        ok[np.flatnonzero(ok)[misfit]] = False
    elif ok.any():
        # With crs= given, trust it, but catch a table written in GIS order.
        x_plain = (north[ok] >= _PLAIN_EASTING[0]) & (north[ok] <= _PLAIN_EASTING[1])
        y_big = east[ok] > _PLAIN_EASTING[1]
        if x_plain.all() and y_big.all() and not user.is_geographic:
            log.note(
                None,
                "X 列为东坐标(GIS 顺序)，已按此读取 / the X column holds eastings "
                "(GIS order); read as such.",
            )
            north, east = east, north

    for i in sorted(bad_reason):
        log.rejected(int(rows[i]), bad_reason[i])

    # Parcels in order of first appearance.
    _, first_idx = np.unique(parcels, return_index=True)
    order = np.sort(first_idx)
    geoms: list[shapely.Geometry] = []
    keep_rows: list[int] = []
    for start in order:
        key = parcels[start]
        sel = np.flatnonzero(parcels == key)
        label = f"地块 {key} / parcel {key!r}" if pcol else "地块 / parcel"
        broken = [int(rows[i]) for i in sel if i in bad_reason]
        if broken:
            log.rejected(
                int(rows[sel[0]]),
                f"{label}: 含被剔除的点(行 {broken})，不生成面 / has rejected points on rows "
                f"{broken}, so its polygon is not built (a missing corner would change it)",
            )
            continue
        xy = np.column_stack([east[sel], north[sel]])
        parts = _rings(xy, rings[sel])
        small = [len(np.unique(p, axis=0)) for p in parts]
        if min(small) < 3:
            log.rejected(
                int(rows[sel[0]]),
                f"{label}: 少于 3 个不同的点 / a ring has fewer than 3 distinct points "
                f"(rows {int(rows[sel[0]])}–{int(rows[sel[-1]])})",
            )
            continue
        open_rings = sum(not np.array_equal(p[0], p[-1]) for p in parts)
        if open_rings:
            log.repaired(
                int(rows[sel[0]]),
                f"{label}: 末点与首点不同，已自动闭合 / the last point differs from the first; "
                f"{open_rings} ring(s) closed",
            )
        geoms.append(_polygon(parts))
        keep_rows.append(start)

    skip = {xcol, ycol} | ({ptcol} if ptcol else set()) | ({rcol} if rcol else set())
    other = [c for c in cols if c not in skip and c != pcol]
    data: dict[str, Any] = {}
    if pcol:
        data[pcol] = [parcels[i] for i in keep_rows]
    sizes = {k: int((parcels == k).sum()) for k in {parcels[i] for i in keep_rows}}
    data["point_count"] = [sizes[parcels[i]] for i in keep_rows]
    first_row = [int(rows[i]) for i in keep_rows]
    last_row = [int(rows[np.flatnonzero(parcels == parcels[i])[-1]]) for i in keep_rows]
    data["source_rows"] = [f"{a}-{b}" for a, b in zip(first_row, last_row, strict=True)]
    if other:
        attrs = convert_attributes(frame[other])
        attrs["_parcel"] = parcels
        grouped = attrs.groupby("_parcel", sort=False)
        constant = grouped.nunique(dropna=False).le(1).all()
        firsts = grouped.first()
        for c in other:
            if constant.get(c, False):
                data[c] = [firsts.loc[parcels[i], c] for i in keep_rows]
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=user)
    gdf.insert(0, "source_row", np.asarray(first_row, dtype=np.int64))
    return finalize_features(gdf, crs=None, coords="wgs84", zone=zone, log=log)


def read_boundary_points(
    path: str | Path,
    *,
    crs: Any = None,
    zone: int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a 界址点 coordinate table (CSV/TXT or XLSX) as parcel polygons.

    Parameters
    ----------
    path
        The table: a header with point number (点号/界址点号), X (northing) and Y
        (easting) columns, optionally a parcel column (地块/地块编号/宗地号/parcel)
        and a ring column (圈号/ring; rings inside the first are holes). A title row
        above the header is skipped.
    crs
        CRS of the coordinates (e.g. "EPSG:4548"); default: detected, with the
        zone from the easting prefix (Y = 39 452 123.4 → EPSG:4527) or ``zone``.
    zone
        3° Gauss-Krüger zone (Beijing: 39) for eastings without prefix.
    layer
        Excel sheet name or index.
    encoding
        Text encoding of a CSV (default: UTF-8, else GB18030).
    errors
        "report" or "raise".

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per parcel in the table's CRS (not reprojected), with
        ``source_row`` = the parcel's first row in the file.

    Raises
    ------
    InputFormatError
        No X/Y columns, or unreadable file.
    CRSDetectionError
        Eastings without prefix and no ``zone``/``crs``; a ``zone`` that contradicts
        the prefix; values that fit no Gauss-Krüger zone.

    Examples
    --------
    >>> parcels = read_boundary_points("界址点.xlsx", zone=39)  # doctest: +SKIP
    """
    check_errors_mode(errors)
    path = Path(path)
    log = IssueLog(str(path), errors)
    raw, rows = load_cells(path, layer=layer, encoding=encoding, log=log)
    frame, data_rows, _ = split_header(raw, rows)
    return boundary_points_to_gdf(frame, data_rows, log=log, crs=crs, zone=zone)
