"""Convert between WGS84, GCJ-02 and BD-09 lon/lat, vectorised.

Chinese web maps do not show WGS84: AMap/Gaode and Tencent use **GCJ-02**
(国测局坐标, "Mars coordinates"), Baidu uses **BD-09** on top of it. Both are
obfuscations of WGS84 lon/lat that move a point by about 300–600 m; PROJ does not
know them. Planners copy points from these maps every day, so every reader of
ecozone accepts ``coords="gcj02"`` / ``"bd09"`` and converts with this module.

- WGS84 → GCJ-02 is the published closed formula (Krasovsky ellipsoid constants
  ``a = 6378245.0``, ``ee = 0.00669342162296594323``).
- GCJ-02 → WGS84 has no closed form; it is solved by fixed-point iteration,
  ``wgs ← wgs − (forward(wgs) − gcj)``, over whole arrays at once until the largest
  residual is below 1e-7 degrees (about 1 cm).
- GCJ-02 ⇄ BD-09 are the published Baidu formulas (``x_pi = π·3000/180``).
- CGCS2000 (EPSG:4490) lon/lat is treated as WGS84: the two differ well under 1 m,
  far below the accuracy of any of these map coordinates.
- Points outside the published China rectangle (lon < 72.004 or > 137.8347,
  lat < 0.8293 or > 55.8271) are not shifted by any conversion, as in the public
  implementations.

Everything is vectorised with numpy (no Python loop per point); geometries go through
:func:`shapely.transform`, GeoDataFrames through :func:`convert_gdf`. NaN
coordinates stay NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import CRSDetectionError, InputFormatError

__all__ = [
    "SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_coords",
    "convert_gdf",
    "convert_geometry",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalise_system",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

log = logging.getLogger(__name__)

SYSTEMS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""Names accepted for ``src`` / ``dst``; "cgcs2000" is treated as "wgs84"."""

# Published constants of the GCJ-02 formula (Krasovsky 1940 ellipsoid).
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's constant.
_X_PI = np.pi * 3000.0 / 180.0

# The published "out of China" rectangle.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

#: Largest residual (degrees) accepted when inverting GCJ-02; 1e-7° is about 1 cm.
GCJ_TOLERANCE = 1e-7
#: Iteration cap; the map contracts by a factor ~1e-3 per step, so 3–4 steps suffice.
GCJ_MAX_ITER = 30

_ALIASES = {
    "wgs84": "wgs84",
    "wgs": "wgs84",
    "epsg4326": "wgs84",
    "cgcs2000": "wgs84",
    "epsg4490": "wgs84",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd": "bd09",
    "baidu": "bd09",
}

_G = TypeVar("_G")
Coords = tuple[Any, Any]


def normalise_system(name: str, arg: str = "coords") -> str:
    """Return "wgs84", "gcj02" or "bd09" for a coordinate-system name.

    Accepts the usual spellings, case, hyphens and spaces aside ("GCJ-02", "AMap",
    "Gaode", "BD-09", "Baidu", "EPSG:4490"); "CGCS2000" is "wgs84": the two agree to
    well under a metre.

    Parameters
    ----------
    name
        The name given by the user.
    arg
        The argument it came from, for the message.

    Returns
    -------
    str

    Raises
    ------
    InputFormatError
        An unknown name; the message lists the accepted ones.
    """
    if not isinstance(name, str):
        msg = f"`{arg}` must be one of {SYSTEMS}, got {name!r} ({type(name).__name__})."
        raise InputFormatError(msg)
    key = name.strip().lower().replace("-", "").replace("_", "").replace(":", "")
    key = key.replace(" ", "")
    if key not in _ALIASES:
        msg = (
            f"{arg}={name!r} is not a known coordinate system; use one of {SYSTEMS} "
            "(坐标系名称无法识别：wgs84 / cgcs2000 / gcj02(高德、腾讯) / bd09(百度))."
        )
        raise InputFormatError(msg)
    return _ALIASES[key]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    try:
        return tuple(np.broadcast_arrays(lon_a, lat_a))
    except ValueError as err:
        msg = f"lon and lat must have the same shape, got {lon_a.shape} and {lat_a.shape}."
        raise InputFormatError(msg) from err


def _result(x: NDArray[np.float64], scalar: bool) -> Any:
    # Scalars in, numpy float64 scalars out (they behave like floats).
    return x[()] if scalar else x


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Test points against the published "out of China" rectangle.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays of one shape).

    Returns
    -------
    numpy.ndarray of bool
        True where lon < 72.004 or lon > 137.8347 or lat < 0.8293 or
        lat > 55.8271. NaN coordinates are not "out of China" (they stay NaN).

    Examples
    --------
    >>> out_of_china([116.4, 2.35], [39.9, 48.85]).tolist()
    [False, True]
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return (lon_a < _LON_MIN) | (lon_a > _LON_MAX) | (lat_a < _LAT_MIN) | (lat_a > _LAT_MAX)


def _gcj_delta(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS84 ``lon``, ``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 (or CGCS2000) lon/lat to GCJ-02 (AMap/Gaode, Tencent).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees; scalars or arrays.

    Returns
    -------
    tuple of (lon, lat)
        GCJ-02 coordinates, arrays of the broadcast input shape (numpy float64 scalars
        for scalar input). Points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410244, 39.916404)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon_a, lat_a = _as_arrays(lon, lat)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    inside = ~out_of_china(lon_a, lat_a)
    out_lon = np.where(inside, lon_a + dlon, lon_a)
    out_lat = np.where(inside, lat_a + dlat, lat_a)
    return _result(out_lon, scalar), _result(out_lat, scalar)


def _invert(
    forward: Callable[
        [NDArray[np.float64], NDArray[np.float64]],
        tuple[NDArray[np.float64], NDArray[np.float64]],
    ],
    t_lon: NDArray[np.float64],
    t_lat: NDArray[np.float64],
    w_lon: NDArray[np.float64],
    w_lat: NDArray[np.float64],
    *,
    tolerance: float,
    max_iter: int,
    what: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``forward(w) = t`` by fixed-point iteration ``w ← w − (forward(w) − t)``.

    Converges because both obfuscations are the identity plus a slowly varying
    offset (Jacobian within ~1e-3 of the identity).
    """
    if max_iter < 1:
        msg = f"`max_iter` must be at least 1, got {max_iter!r}."
        raise InputFormatError(msg)
    residual = np.inf
    for _ in range(max_iter):
        f_lon, f_lat = forward(w_lon, w_lat)
        r_lon = f_lon - t_lon
        r_lat = f_lat - t_lat
        # Apply the step even when converged: it shrinks the error another ~1000x.
        w_lon = w_lon - r_lon
        w_lat = w_lat - r_lat
        residual = float(max(np.abs(r_lon).max(), np.abs(r_lat).max()))
        if residual < tolerance:
            return w_lon, w_lat
    worst = int(np.argmax(np.maximum(np.abs(r_lon), np.abs(r_lat))))
    msg = (
        f"{what} did not converge after {max_iter} iterations: largest residual "
        f"{residual:.3g}° at lon={float(t_lon[worst])!r}, lat={float(t_lat[worst])!r} "
        f"(tolerance {tolerance:g}°). Check that the input really is lon/lat in degrees "
        "of the declared system (检查输入坐标系与经纬度是否正确)."
    )
    raise InputFormatError(msg)


def _gcj_forward_raw(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    # The forward map without the out-of-China test, so that the iteration stays smooth.
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tolerance: float = GCJ_TOLERANCE,
    max_iter: int = GCJ_MAX_ITER,
) -> Coords:
    """Convert GCJ-02 lon/lat to WGS84 by vectorised fixed-point iteration.

    Starting from ``wgs = gcj − delta(gcj)``, repeat
    ``wgs ← wgs − (forward(wgs) − gcj)`` on all points at once until the largest
    residual ``|forward(wgs) − gcj|`` is below ``tolerance`` degrees.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees; scalars or arrays.
    tolerance
        Largest accepted residual in degrees (default 1e-7°, about 1 cm).
    max_iter
        Iteration cap.

    Returns
    -------
    tuple of (lon, lat)
        WGS84 coordinates (numpy float64 scalars for scalar input). Points outside
        China and NaN coordinates are returned unchanged.

    Raises
    ------
    InputFormatError
        If the iteration has not converged after ``max_iter`` steps (it converges in
        3–4 steps for any point inside China, so this means corrupt input).

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(116.404, 39.915))
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.404, 39.915)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon_a, lat_a = _as_arrays(lon, lat)
    out_lon = lon_a.copy()
    out_lat = lat_a.copy()
    todo = ~out_of_china(lon_a, lat_a) & np.isfinite(lon_a) & np.isfinite(lat_a)
    if todo.any():
        g_lon, g_lat = lon_a[todo], lat_a[todo]
        dlon, dlat = _gcj_delta(g_lon, g_lat)
        out_lon[todo], out_lat[todo] = _invert(
            _gcj_forward_raw,
            g_lon,
            g_lat,
            g_lon - dlon,
            g_lat - dlat,
            tolerance=tolerance,
            max_iter=max_iter,
            what="GCJ-02 → WGS84",
        )
    return _result(out_lon, scalar), _result(out_lat, scalar)


def _bd_forward_raw(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_inverse_formula(
    bx: NDArray[np.float64], by: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu) with the published formula.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees; scalars or arrays.

    Returns
    -------
    tuple of (lon, lat)
        BD-09 coordinates. Points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410369, 39.921337)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x, y = _as_arrays(lon, lat)
    b_lon, b_lat = _bd_forward_raw(x, y)
    inside = ~out_of_china(x, y)
    out_lon = np.where(inside, b_lon, x)
    out_lat = np.where(inside, b_lat, y)
    return _result(out_lon, scalar), _result(out_lat, scalar)


def bd09_to_gcj02(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tolerance: float = GCJ_TOLERANCE,
    max_iter: int = GCJ_MAX_ITER,
) -> Coords:
    """Convert BD-09 (Baidu) lon/lat to GCJ-02.

    The published inverse formula is only approximate (round trips are off by up to
    about 2e-6°, 0.2 m); it is used as the starting point of the same fixed-point
    iteration as :func:`gcj02_to_wgs84`, so that ``gcj02_to_bd09`` of the result
    reproduces the input to ``tolerance``.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees; scalars or arrays.
    tolerance
        Largest accepted residual in degrees (default 1e-7°).
    max_iter
        Iteration cap.

    Returns
    -------
    tuple of (lon, lat)
        GCJ-02 coordinates. Points outside China and NaN are returned unchanged.

    Raises
    ------
    InputFormatError
        If the iteration does not converge.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.397627, 39.908656)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    bx, by = _as_arrays(lon, lat)
    out_lon = bx.copy()
    out_lat = by.copy()
    todo = ~out_of_china(bx, by) & np.isfinite(bx) & np.isfinite(by)
    if todo.any():
        t_lon, t_lat = bx[todo], by[todo]
        out_lon[todo], out_lat[todo] = _invert(
            _bd_forward_raw,
            t_lon,
            t_lat,
            *_bd_inverse_formula(t_lon, t_lat),
            tolerance=tolerance,
            max_iter=max_iter,
            what="BD-09 → GCJ-02",
        )
    return _result(out_lon, scalar), _result(out_lat, scalar)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 lon/lat to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of (lon, lat)
        BD-09 coordinates.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert BD-09 lon/lat to WGS84 (through GCJ-02, iterative second step).

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of (lon, lat)
        WGS84 coordinates.

    Raises
    ------
    InputFormatError
        If the GCJ-02 inversion does not converge.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_STEPS: dict[tuple[str, str], Callable[[Any, Any], Coords]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert_coords(lon: ArrayLike, lat: ArrayLike, *, src: str, dst: str) -> Coords:
    """Convert lon/lat between "wgs84", "cgcs2000", "gcj02" and "bd09".

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees; scalars or arrays of one shape.
    src, dst
        Source and target system, one of :data:`SYSTEMS` (case and dashes ignored:
        "GCJ-02" works). "cgcs2000" is treated as "wgs84".

    Returns
    -------
    tuple of (lon, lat)
        Converted float arrays (numpy float64 scalars for scalar input); a new array
        even when ``src`` and ``dst`` are the same.

    Raises
    ------
    InputFormatError
        If ``src`` or ``dst`` is unknown, the shapes differ, or GCJ-02 inversion does
        not converge.

    Examples
    --------
    >>> lon, lat = convert_coords([116.404], [39.915], src="wgs84", dst="GCJ-02")
    >>> lon.round(6).tolist(), lat.round(6).tolist()
    ([116.410244], [39.916404])
    """
    s = normalise_system(src, "src")
    d = normalise_system(dst, "dst")
    if s == d:
        scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
        lon_a, lat_a = _as_arrays(lon, lat)
        return _result(lon_a.copy(), scalar), _result(lat_a.copy(), scalar)
    return _STEPS[(s, d)](lon, lat)


def _coord_func(src: str, dst: str) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """Build the (N, 2|3) → (N, 2|3) function that :func:`shapely.transform` calls."""

    def func(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = coords.copy()
        out[:, 0], out[:, 1] = convert_coords(coords[:, 0], coords[:, 1], src=src, dst=dst)
        return out

    return func


def convert_geometry(geoms: _G, *, src: str, dst: str) -> _G:
    """Convert the coordinates of shapely geometries between lon/lat systems.

    Parameters
    ----------
    geoms
        A shapely geometry, or an array/sequence of geometries (None allowed). Z
        values are kept.
    src, dst
        Source and target system, one of :data:`SYSTEMS`.

    Returns
    -------
    shapely.Geometry or numpy.ndarray
        New geometries of the same shape as ``geoms``.

    Raises
    ------
    InputFormatError
        If ``src`` or ``dst`` is unknown or GCJ-02 inversion does not converge.

    Examples
    --------
    >>> from shapely import Point
    >>> p = convert_geometry(Point(116.404, 39.915), src="wgs84", dst="gcj02")
    >>> round(p.x, 6), round(p.y, 6)
    (116.410244, 39.916404)
    """
    s = normalise_system(src, "src")
    d = normalise_system(dst, "dst")
    if isinstance(geoms, shapely.Geometry):
        return shapely.transform(geoms, _coord_func(s, d), include_z=None)
    arr = np.asarray(geoms, dtype=object)
    return shapely.transform(arr, _coord_func(s, d), include_z=None)


def convert_gdf(gdf: gpd.GeoDataFrame, *, src: str, dst: str) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` with its geometry converted between lon/lat systems.

    Parameters
    ----------
    gdf
        A GeoDataFrame (or GeoSeries) whose CRS is geographic lon/lat (EPSG:4326 or
        EPSG:4490). GCJ-02/BD-09 data is normally labelled EPSG:4326.
    src, dst
        Source and target system, one of :data:`SYSTEMS`.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with the same columns, index and CRS label; the input is not
        modified.

    Raises
    ------
    CRSDetectionError
        If ``gdf`` has no CRS or a projected one (GCJ-02 and BD-09 are lon/lat only).
    InputFormatError
        If ``src`` or ``dst`` is unknown or GCJ-02 inversion does not converge.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(116.41, 39.92)], crs=4326)
    >>> convert_gdf(g, src="gcj02", dst="wgs84").crs.to_epsg()
    4326
    """
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        msg = f"`gdf` must be a GeoDataFrame or GeoSeries, got {type(gdf).__name__}."
        raise InputFormatError(msg)
    if gdf.crs is None:
        msg = (
            f"convert_gdf(src={src!r}, dst={dst!r}): the data has no CRS. GCJ-02/BD-09 "
            "conversion needs lon/lat degrees; label it first with "
            "`gdf.set_crs('EPSG:4326')` if the coordinates are lon/lat "
            "(数据缺少坐标系，请先 set_crs('EPSG:4326'))."
        )
        raise CRSDetectionError(msg)
    if not gdf.crs.is_geographic:
        msg = (
            f"convert_gdf(src={src!r}, dst={dst!r}): CRS {gdf.crs.to_string()} is projected; "
            "GCJ-02 and BD-09 are lon/lat systems. Use `gdf.to_crs('EPSG:4326')` first, or "
            "check the declared CRS (GCJ-02/BD-09 仅适用于经纬度)."
        )
        raise CRSDetectionError(msg)
    new = convert_geometry(np.asarray(gdf.geometry.values), src=src, dst=dst)
    out = gdf.copy()
    if isinstance(out, gpd.GeoSeries):
        return gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs, name=gdf.name)
    out[gdf.geometry.name] = gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs)
    return out
