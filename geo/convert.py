"""Convert coordinates between every system a user brings, in one call.

WGS84 / CGCS2000 lon/lat, AMap/Tencent GCJ-02, Baidu BD-09, and any projected CRS
PROJ knows (Gauss-Krüger zones such as EPSG:4548, or zone-prefixed EPSG:4527).
The path always goes through WGS84 lon/lat: the Chinese offsets are not PROJ
transformations, so they are applied on the lon/lat side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pyproj import CRS

from geo.chinacoords import convert_coords
from geo.crs import gk_epsg, transform_geoms, transformer
from geo.errors import CRSDetectionError, InputFormatError

OFFSET_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09")


def resolve_system(system: str, *, lon_hint: float | None = None) -> str | CRS:
    """Normalise a user's coordinate-system name.

    Parameters
    ----------
    system
        "wgs84", "cgcs2000", "gcj02", "bd09", "gk" (the 3° Gauss-Krüger zone of
        ``lon_hint``), "gk39" (zone 39, no prefix), or anything
        ``pyproj.CRS.from_user_input`` accepts ("EPSG:4548").
    lon_hint
        A longitude that picks the zone for "gk".

    Returns
    -------
    str or pyproj.CRS
        One of :data:`OFFSET_SYSTEMS` or a CRS.

    Raises
    ------
    CRSDetectionError
        If the name is neither a known system nor a CRS.
    """
    name = system.strip().lower()
    if name in OFFSET_SYSTEMS:
        return "wgs84" if name == "cgcs2000" else name
    if name in {"epsg:4326", "epsg:4490"}:
        return "wgs84"
    if name.startswith("gk"):
        rest = name[2:].strip(" -_")
        if rest.isdigit():
            return CRS.from_epsg(gk_epsg(zone=int(rest)))
        if lon_hint is None:
            msg = f"coordinate system {system!r} needs a zone: use e.g. 'gk39' or 'EPSG:4548'"
            raise CRSDetectionError(msg)
        return CRS.from_epsg(gk_epsg(lon_hint))
    try:
        crs = CRS.from_user_input(system)
    except Exception as exc:
        msg = (
            f"unknown coordinate system {system!r}: use wgs84, cgcs2000, gcj02, bd09, "
            "gk<zone> (e.g. gk39) or an EPSG code such as EPSG:4548"
        )
        raise CRSDetectionError(msg) from exc
    if (
        crs.is_geographic
        and crs.ellipsoid is not None
        and crs.ellipsoid.name
        in {
            "WGS 84",
            "CGCS2000",
            "GRS 1980",
        }
    ):
        return "wgs84"
    return crs


def convert_xy(x: ArrayLike, y: ArrayLike, *, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates from one system to another.

    Parameters
    ----------
    x, y
        Longitude/latitude for geographic systems, easting/northing (GIS order)
        for projected ones. Scalars or arrays.
    src, dst
        Systems as accepted by :func:`resolve_system`.

    Returns
    -------
    tuple of numpy.ndarray
        Converted ``x`` and ``y`` (lon/lat or easting/northing).

    Examples
    --------
    >>> lon, lat = convert_xy(116.397, 39.908, src="wgs84", dst="EPSG:4548")
    >>> round(float(lon)) // 1000  # easting in km, central meridian 117°E
    448
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    source = resolve_system(src)
    if isinstance(source, CRS):
        to_ll = transformer(source, "EPSG:4326")
        lon, lat = to_ll.transform(x, y)
        source = "wgs84"
    else:
        lon, lat = x, y
    target = resolve_system(dst, lon_hint=float(np.nanmean(lon)) if np.size(lon) else None)
    if isinstance(target, CRS):
        lon, lat = convert_coords(lon, lat, src=source, dst="wgs84")
        from_ll = transformer("EPSG:4326", target)
        return tuple(np.asarray(v) for v in from_ll.transform(lon, lat))  # type: ignore[return-value]
    out = convert_coords(lon, lat, src=source, dst=target)
    return np.asarray(out[0]), np.asarray(out[1])


def convert_table(
    path: str | Path,
    *,
    src: str,
    dst: str,
    x_col: str | None = None,
    y_col: str | None = None,
    northing_first: bool = False,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Convert the coordinate columns of a CSV/XLSX table, keeping every other column.

    Parameters
    ----------
    path
        CSV or XLSX file.
    src, dst
        Systems as accepted by :func:`resolve_system`.
    x_col, y_col
        Coordinate columns; found from headers such as 经度/lon/x and 纬度/lat/y when
        omitted. With ``northing_first`` the X column holds northings (survey order).
    northing_first
        Read X as northing and Y as easting (界址点 tables), and write them back so.
    encoding
        Text encoding of a CSV (detected when omitted: UTF-8, else GB18030).

    Returns
    -------
    pandas.DataFrame
        The table with two added columns, ``x_<dst>`` and ``y_<dst>``; rows whose
        coordinates are not numbers get empty values and a ``problem`` text.

    Raises
    ------
    InputFormatError
        If the coordinate columns cannot be found.
    """
    from geo.io.tabular import (
        BP_X_NAMES,
        BP_Y_NAMES,
        LAT_NAMES,
        LON_NAMES,
        find_column,
        load_text_table,
        load_xlsx,
        split_header,
        to_number,
    )

    path = Path(path)
    source = path.name
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        raw, rows, _sheet = load_xlsx(path, sheet=None, source=source)
    else:
        raw, rows = load_text_table(path, encoding=encoding, source=source)
    frame, _data_rows, _header = split_header(raw, rows)
    columns = [str(c) for c in frame.columns]
    x_names, y_names = (BP_X_NAMES, BP_Y_NAMES) if northing_first else (LON_NAMES, LAT_NAMES)
    x_col = x_col or find_column(columns, x_names)
    y_col = y_col or find_column(columns, y_names)
    if x_col not in columns or y_col not in columns:
        msg = (
            f"{source}: cannot find the coordinate columns (headers seen: {columns}); "
            "name them with --x-col and --y-col"
        )
        raise InputFormatError(msg)
    x, _ = to_number(frame[x_col])
    y, _ = to_number(frame[y_col])
    if northing_first:  # survey tables: X = northing, Y = easting
        x, y = y, x
    ok = np.isfinite(x) & np.isfinite(y)
    ox = np.full(len(frame), np.nan)
    oy = np.full(len(frame), np.nan)
    if ok.any():
        cx, cy = convert_xy(x[ok], y[ok], src=src, dst=dst)
        ox[ok], oy[ok] = cx, cy
    out = frame.copy()
    tag = dst.lower().replace(":", "")
    first, second = (oy, ox) if northing_first else (ox, oy)
    out[f"x_{tag}"] = first
    out[f"y_{tag}"] = second
    out["problem"] = np.where(ok, "", "坐标不是数字 / coordinates are not numbers")
    return out


def convert_frame(gdf: Any, *, src: str, dst: str) -> Any:
    """Convert every vertex of a GeoDataFrame's geometries with :func:`convert_xy`.

    Parameters
    ----------
    gdf
        A GeoDataFrame (not modified). For "gcj02"/"bd09" sources its coordinates are
        those offset lon/lat values (a layer labelled EPSG:4326 that holds AMap or
        Baidu coordinates).
    src, dst
        Systems as accepted by :func:`resolve_system` (e.g. "gcj02", "wgs84", "gk39",
        "EPSG:4548").

    Returns
    -------
    geopandas.GeoDataFrame
        A copy; its CRS is the target CRS, or EPSG:4326 for lon/lat targets
        (GCJ-02/BD-09 have no EPSG code: the values are theirs, the label is lon/lat).

    Examples
    --------
    >>> out = convert_frame(sites, src="gcj02", dst="wgs84")  # doctest: +SKIP
    """
    import shapely

    from geo.io.lonlat import to_lonlat

    source = resolve_system(src)
    ll = to_lonlat(  # the one lon/lat conversion (geo.io.lonlat); src names the system
        gdf, crs=source if isinstance(source, CRS) else "EPSG:4326",
        coords=source if isinstance(source, str) else "wgs84", source=f"src={src!r}",
        hint="check src (e.g. gk39 or EPSG:4548 for Gauss-Krüger eastings)",
    ).geoms  # fmt: skip
    xy = shapely.get_coordinates(ll)
    target = resolve_system(dst, lon_hint=float(np.nanmean(xy[:, 0])) if len(xy) else None)
    if isinstance(target, CRS):
        moved = transform_geoms(ll, "EPSG:4326", target)
    else:
        if target != "wgs84":

            def _fn(c: np.ndarray) -> np.ndarray:
                return np.column_stack(convert_coords(c[:, 0], c[:, 1], src="wgs84", dst=target))

            ll = shapely.transform(ll, _fn)
        moved, target = ll, CRS.from_epsg(4326)
    out = gdf.copy()
    return out.set_geometry(type(gdf.geometry)(moved, index=gdf.index, crs=None)).set_crs(
        target, allow_override=True
    )
