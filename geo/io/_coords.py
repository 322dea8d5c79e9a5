"""CRS resolution and GCJ-02/BD-09 handling shared by the readers.

The rules, in order: a CRS carried by the file is kept; ``crs=`` labels data that
has none (and overrides a file's CRS with a warning); tables and other CRS-less
data are detected from coordinate magnitudes with :func:`geo.detect.detect_crs`
(swapped lat/lon columns are fixed and reported); lon/lat in GCJ-02 or BD-09
(``coords=``) are converted to WGS84.
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.chinacoords import convert_coords, normalise_system
from geo.errors import CRSDetectionError, EcozoneWarning, InputFormatError
from geo.io._issues import IssueLog, finish, user_stacklevel, validate_geometries


def as_crs(crs: Any, *, arg: str = "crs") -> CRS | None:
    """Parse a user's ``crs=`` value (anything ``CRS.from_user_input`` accepts)."""
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except Exception as err:  # pyproj raises CRSError, a plain Exception subclass
        msg = f"{arg}={crs!r} 不是有效坐标系 / is not a CRS pyproj knows (e.g. 'EPSG:4548')."
        raise CRSDetectionError(msg) from err


def _magnitude_class(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.floor(np.log10(np.abs(v) + 1.0))


def detect_xy_crs(
    x: np.ndarray,
    y: np.ndarray,
    *,
    zone: int | None,
    log: IssueLog,
    expect_swapped: bool = False,
) -> tuple[np.ndarray, np.ndarray, CRS, bool, np.ndarray]:
    """Detect the CRS of x/y columns; swap them (and report it) when they are reversed.

    When the values as a whole fit no system, detection is retried on the majority
    of rows sharing one order of magnitude; the others are returned as misfits so
    the caller can reject them by row (a stray ``0,0`` must not sink the file).

    Parameters
    ----------
    x, y
        Coordinates in the order the table gives them (x = lon/easting column).
    zone
        3° Gauss-Krüger zone for eastings without a zone prefix.
    log
        Receives the swap note.
    expect_swapped
        True for 界址点 tables, whose X is the northing: a swap is then normal and
        GIS order is what gets reported.

    Returns
    -------
    tuple
        ``(x, y, crs, swapped, misfit)``: x/y in GIS order, the CRS, whether the
        columns were swapped, and a boolean mask of rows that fit it not.
    """
    from geo.detect import detect_crs

    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        msg = (
            f"{log.source}: 没有可用的坐标 / no row has usable numeric coordinates, so the "
            "CRS cannot be detected. Check the coordinate columns."
        )
        raise InputFormatError(msg)
    misfit = np.zeros(len(x), dtype=bool)
    try:
        found = detect_crs(x[ok], y[ok], zone=zone)
    except CRSDetectionError as err:
        found = None
        first_err = err
        cls = np.column_stack([_magnitude_class(x[ok]), _magnitude_class(y[ok])])
        uniq, counts = np.unique(cls, axis=0, return_counts=True)
        top = uniq[np.argmax(counts)]
        major = (cls == top).all(axis=1)
        if counts.max() * 2 > ok.sum() and not major.all():
            try:
                found = detect_crs(x[ok][major], y[ok][major], zone=zone)
            except CRSDetectionError:
                found = None
        if found is None:
            msg = f"{log.source}: {first_err}"
            raise CRSDetectionError(msg) from first_err
        misfit[np.flatnonzero(ok)[~major]] = True
    if found.swapped != expect_swapped:
        if expect_swapped:
            text = (
                "X/Y 列为 GIS 顺序(X=东坐标)，已按此读取 / the X column holds eastings and Y "
                "northings (GIS order, not the 界址点 convention X = northing); read as such."
            )
        elif found.crs.is_geographic:
            text = (
                "经纬度列顺序颠倒，已互换 / the x (lon) and y (lat) columns were swapped "
                "(latitude first); swapped back."
            )
        else:
            text = (
                "X/Y 列为测量顺序(X=北坐标)，已换为 GIS 顺序 / the x and y columns are in "
                "survey order (X = northing, Y = easting); swapped to GIS order."
            )
        log.note(None, f"{text} {found.description}")
    if found.swapped:
        x, y = y, x
    return x, y, found.crs, bool(found.swapped), misfit


def to_wgs84_lonlat(x: np.ndarray, y: np.ndarray, *, coords: str, crs: CRS, source: str):
    """Convert GCJ-02/BD-09 lon/lat arrays to WGS84; a no-op for "wgs84"."""
    if coords == "wgs84":
        return x, y
    if not crs.is_geographic:
        msg = (
            f"{source}: coords={coords!r} 只适用于经纬度 / applies to lon/lat input only, "
            f"but the coordinates are in {crs.name} ({crs.to_string()}). "
            "Drop coords= or pass lon/lat data."
        )
        raise InputFormatError(msg)
    return convert_coords(x, y, src=coords, dst="wgs84")


def convert_geoms_to_wgs84(gdf: gpd.GeoDataFrame, *, coords: str, source: str) -> gpd.GeoDataFrame:
    """Return ``gdf`` with lon/lat geometry converted from ``coords`` to WGS84."""
    if coords == "wgs84" or len(gdf) == 0:
        return gdf
    if gdf.crs is None or not gdf.crs.is_geographic:
        crs_txt = gdf.crs.to_string() if gdf.crs is not None else "none"
        msg = (
            f"{source}: coords={coords!r} 只适用于经纬度 / applies to lon/lat data only, "
            f"but the file's CRS is {crs_txt}. Drop coords= for projected data."
        )
        raise InputFormatError(msg)

    def _fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = convert_coords(xy[:, 0], xy[:, 1], src=coords, dst="wgs84")
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out = out.set_geometry(
        gpd.GeoSeries(
            shapely.transform(np.asarray(gdf.geometry.array), _fn), index=gdf.index, crs=gdf.crs
        )
    )
    return out


def resolve_file_crs(
    gdf: gpd.GeoDataFrame,
    *,
    crs: Any,
    zone: int | None,
    log: IssueLog,
) -> gpd.GeoDataFrame:
    """Settle the CRS of features read from a file.

    The file's CRS wins unless ``crs=`` is given (then it is relabelled, with a
    warning if they differ); with neither, the CRS is detected from the coordinates.
    """
    user = as_crs(crs)
    if user is not None:
        if gdf.crs is not None and not CRS(gdf.crs).equals(user, ignore_axis_order=True):
            warnings.warn(
                f"{log.source}: 文件坐标系 {CRS(gdf.crs).to_string()} 被 crs={crs!r} 覆盖 / "
                f"the file's CRS is overridden by crs={crs!r} (relabelled, not reprojected).",
                EcozoneWarning,
                stacklevel=user_stacklevel(),
            )
        return gdf.set_crs(user, allow_override=True)
    if gdf.crs is not None:
        return gdf
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    coords = shapely.get_coordinates(geoms[~shapely.is_missing(geoms)])
    if len(coords) == 0:
        msg = (
            f"{log.source}: 文件没有坐标系也没有坐标 / the file has no CRS and no coordinates "
            "to detect one from; pass crs=, e.g. crs='EPSG:4326'."
        )
        raise CRSDetectionError(msg)
    _, _, found, swapped, _ = detect_xy_crs(coords[:, 0], coords[:, 1], zone=zone, log=log)
    if swapped:  # flip every geometry's axes
        gdf = gdf.set_geometry(
            gpd.GeoSeries(
                shapely.transform(geoms, lambda xy: xy[:, ::-1]), index=gdf.index, crs=None
            )
        )
    return gdf.set_crs(found, allow_override=True)


def finalize_features(
    gdf: gpd.GeoDataFrame,
    *,
    crs: Any,
    coords: str,
    zone: int | None,
    log: IssueLog,
    point_xy: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Resolve the CRS, validate geometries, convert GCJ-02/BD-09, attach issues.

    ``gdf`` must carry ``source_row``. The common tail of every file reader.
    ``point_xy``: the coordinates the reader made every geometry of ``gdf`` from, as
    2-D single points (see :func:`geo.io._issues.validate_geometries`).
    """
    coords = normalise_system(coords)
    if gdf.crs is None and as_crs(crs) is None:  # detected: the axes may be swapped
        point_xy = None
    gdf = resolve_file_crs(gdf, crs=crs, zone=zone, log=log)
    gdf = validate_geometries(gdf, log, point_xy=point_xy)
    gdf = convert_geoms_to_wgs84(gdf, coords=coords, source=log.source)
    return finish(gdf, log)
