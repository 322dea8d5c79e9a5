"""One conversion to WGS84 lon/lat for geometries and frames, whatever the user brought.

:func:`to_lonlat` takes shapely geometries (one, an array, a GeoSeries or the
geometry of a GeoDataFrame) with the coordinate system the user named and returns
them in WGS84 lon/lat, in four steps every caller shares:

1. **CRS**: the given ``crs`` (or the frame's), else detected from the coordinate
   magnitudes (:func:`geo.detect.detect_crs`; ``zone`` for Gauss-Krüger eastings
   without the zone prefix), northing-first coordinates swapped back to GIS order;
2. **projection** to lon/lat through ecozone's one transformer cache
   (:func:`geo.crs.transform_geoms`); CGCS2000 lon/lat is taken as WGS84;
3. **coords system**: AMap/Tencent GCJ-02 or Baidu BD-09 lon/lat (``coords=``)
   converted to WGS84 (:mod:`geo.chinacoords`); refused for projected input;
4. **range** check (anything outside lon/lat degrees is a wrong CRS or zone) and,
   with ``repair=``, invalid geometries repaired with :func:`shapely.make_valid`,
   each repair reported with its reason.

A wrong CRS raises by default; with ``errors="mark"`` (batches: report bad rows and go
on) the geometries with a non-finite coordinate or outside lon/lat degrees are marked
instead (:attr:`LonLat.nonfinite`, :attr:`LonLat.outside`) and left unrepaired.

:func:`frame_to_lonlat` does the same for a GeoDataFrame and returns one in EPSG:4326.
The web app's site parsing, :func:`geo.convert.convert_frame` and the site check's
input (:mod:`zoning.check.sites`) use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from geo.chinacoords import convert_coords, normalise_system
from geo.crs import is_lonlat, plain_point_xy, transform_geoms
from geo.errors import CRSDetectionError, InputFormatError

__all__ = ["LonLat", "frame_to_lonlat", "to_lonlat"]

_GK_HINT = (
    "for projected Gauss-Krüger coordinates give their CRS (e.g. EPSG:4548) or the "
    "3° zone (Beijing 39)"
)


@dataclass
class LonLat:
    """Geometries brought to WGS84 lon/lat by :func:`to_lonlat`.

    Attributes
    ----------
    geoms
        Object array of shapely geometries in WGS84 lon/lat (``None`` kept).
    crs
        The CRS the input was in (given, the frame's, or detected).
    swapped
        The input was northing-first (or latitude-first) and was swapped back.
    description
        What was recognised when the CRS was detected (``""`` otherwise).
    repaired
        Boolean mask of the geometries repaired with ``make_valid``.
    reasons
        For each repaired geometry (by position), why it was invalid
        (:func:`shapely.is_valid_reason`).
    nonfinite, outside
        With ``errors="mark"``: boolean masks of the geometries with a NaN/inf
        coordinate, and of the (finite) ones outside lon/lat degrees after conversion.
        All False (or empty) with ``errors="raise"``.
    xy
        With ``errors="mark"``, when every geometry is a non-empty 2-D single point:
        their coordinates, shape (n, 2), as :func:`shapely.get_coordinates` reads them
        from ``geoms`` (NaN where :attr:`nonfinite`); ``None`` otherwise. A batch of
        point sites reads them once, here.
    """

    geoms: NDArray[np.object_]
    crs: CRS
    swapped: bool = False
    description: str = ""
    repaired: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    reasons: dict[int, str] = field(default_factory=dict)
    nonfinite: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    outside: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    xy: NDArray[np.float64] | None = None


def _as_array(geoms: Any) -> tuple[NDArray[np.object_], Any]:
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        return np.array(geoms.array, dtype=object), geoms.crs
    if isinstance(geoms, shapely.Geometry):
        out = np.empty(1, dtype=object)
        out[0] = geoms
        return out, None
    return np.array(geoms, dtype=object).ravel(), None


@functools.lru_cache(maxsize=64)
def _named_crs(name: str | int) -> tuple[CRS, bool]:
    """A CRS given by name or code, and whether it is lon/lat (cached: single-site checks)."""
    crs = CRS.from_user_input(name)
    return crs, is_lonlat(crs)


def _detect(
    arr: NDArray[np.object_], zone: int | None, source: str
) -> tuple[NDArray[np.object_], CRS, bool, str]:
    from geo.detect import detect_crs

    xy = shapely.get_coordinates(arr)
    if len(xy) == 0:
        msg = f"{source}: 没有坐标 / no coordinates to detect the coordinate system from"
        raise CRSDetectionError(msg)
    found = detect_crs(xy[:, 0], xy[:, 1], zone=zone)
    if found.swapped:
        arr = shapely.transform(arr, lambda c: c[:, ::-1])
    return arr, found.crs, bool(found.swapped), found.description


def to_lonlat(
    geoms: Any,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    repair: Literal["structure", "linework"] | None = None,
    source: str = "input",
    hint: str = _GK_HINT,
    errors: Literal["raise", "mark"] = "raise",
) -> LonLat:
    """Bring geometries to WGS84 lon/lat: CRS, projection, coords system, range, repair.

    Parameters
    ----------
    geoms
        A shapely geometry, a sequence/array of them, a GeoSeries or a GeoDataFrame.
    crs
        Their CRS (anything :meth:`pyproj.CRS.from_user_input` accepts); default the
        GeoSeries'/GeoDataFrame's, else detected from the coordinates.
    coords
        The lon/lat system: "wgs84"/"cgcs2000", "gcj02" (AMap, Tencent) or "bd09"
        (Baidu); the last two are converted to WGS84. Lon/lat input only.
    zone
        3° Gauss-Krüger zone for detecting eastings without the zone prefix.
    repair
        Repair invalid geometries with :func:`shapely.make_valid` using this method
        ("structure" keeps polygons polygons and drops collapsed parts; "linework" is
        ``make_valid``'s default); ``None`` leaves them as they are.
    source
        How messages name the input (a file name, "geometry").
    hint
        The fix a range error suggests, in the caller's words (a CLI option, an API
        field).
    errors
        ``"raise"``: coordinates outside lon/lat degrees raise. ``"mark"``: geometries
        with a non-finite coordinate or outside lon/lat degrees are marked
        (:attr:`LonLat.nonfinite`, :attr:`LonLat.outside`), kept as they are (not
        repaired), and the others converted: a batch reports its bad rows and goes on.

    Returns
    -------
    LonLat
        The geometries (an object array, in input order) and what was done.

    Raises
    ------
    CRSDetectionError
        No CRS and none can be detected, or (``errors="raise"``) coordinates outside
        lon/lat degrees after conversion (a wrong CRS or zone).
    InputFormatError
        ``coords`` other than WGS84 for projected input, an unknown system name, or an
        unknown ``errors``.

    Examples
    --------
    >>> out = to_lonlat(shapely.Point(448_000, 4_418_000), crs="EPSG:4548")
    >>> [round(v, 2) for v in out.geoms[0].coords[0]]
    [116.39, 39.89]
    """
    if errors not in ("raise", "mark"):
        msg = f'`errors` must be "raise" or "mark", got {errors!r}'
        raise InputFormatError(msg)
    system = normalise_system(coords)
    arr, own = _as_array(geoms)
    given = crs if crs is not None else own
    swapped, description = False, ""
    lonlat = None
    if given is None:
        arr, src, swapped, description = _detect(arr, zone, source)
    else:
        try:
            if isinstance(given, str | int) and not isinstance(given, bool):
                src, lonlat = _named_crs(given)
            else:
                src = CRS.from_user_input(given)
        except Exception as err:  # pyproj's CRSError
            msg = f"{source}: crs={given!r} 不是有效坐标系 / is not a CRS pyproj knows"
            raise CRSDetectionError(msg) from err
    if lonlat is None:
        lonlat = is_lonlat(src)
    if not lonlat:
        if system != "wgs84":
            msg = (
                f"{source}: coords={coords!r} 只适用于经纬度 / applies to lon/lat input only, "
                f"but the coordinates are in {src.name} ({src.to_string()}). "
                "Drop coords= or give lon/lat."
            )
            raise InputFormatError(msg)
        arr = transform_geoms(arr, src, 4326)
    elif system != "wgs84":

        def _fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            lon, lat = convert_coords(xy[:, 0], xy[:, 1], src=system, dst="wgs84")
            return np.column_stack([lon, lat])

        arr = shapely.transform(arr, _fn)
    live = ~shapely.is_missing(arr) & ~shapely.is_empty(arr)
    nonfinite = np.zeros(len(arr), dtype=bool)
    outside = np.zeros(len(arr), dtype=bool)
    points_xy = None  # every geometry a plain 2-D point: their coordinates
    if errors == "mark":  # bad rows marked, the others go on
        idx = np.flatnonzero(live)
        xy = plain_point_xy(arr[idx])  # (points: without holding the interpreter lock)
        if xy is not None:
            nonfinite[idx[~np.isfinite(xy).all(axis=1)]] = True
            if len(idx) == len(arr):
                points_xy = xy
        else:
            xy, owner = shapely.get_coordinates(arr[idx], return_index=True)
            nonfinite[idx[np.unique(owner[~np.isfinite(xy).all(axis=1)])]] = True
        live &= ~nonfinite
    if points_xy is not None:  # a point's bounds are its coordinates
        b = np.tile(points_xy[live], 2)
    else:
        b = shapely.bounds(arr[live])
    out = (b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90)
    if errors == "mark":
        outside[np.flatnonzero(live)[out]] = True
        live &= ~outside
    elif out.any():
        x, y = b[np.argmax(out), :2]
        msg = (
            f"{source}: coordinates ({x:.6g}, {y:.6g}) are not lon/lat degrees "
            f"(坐标不是经纬度); {hint}"
        )
        raise CRSDetectionError(msg)
    repaired = np.zeros(len(arr), dtype=bool)
    reasons: dict[int, str] = {}
    # a point with finite coordinates is always valid: nothing to repair
    if repair is not None and live.any() and points_xy is None:
        idx = np.flatnonzero(live)
        bad = idx[~shapely.is_valid(arr[idx])]
        if len(bad):
            why = shapely.is_valid_reason(arr[bad])
            # keep_collapsed is an option of "structure" only ("linework" refuses it)
            kw = {"keep_collapsed": False} if repair == "structure" else {}
            arr[bad] = shapely.make_valid(arr[bad], method=repair, **kw)
            repaired[bad] = True
            reasons = {int(i): str(w) for i, w in zip(bad, why, strict=True)}
    return LonLat(arr, src, swapped, description, repaired, reasons, nonfinite, outside, points_xy)


def frame_to_lonlat(
    gdf: gpd.GeoDataFrame,
    *,
    coords: str = "wgs84",
    zone: int | None = None,
    repair: Literal["structure", "linework"] | None = None,
    source: str = "input",
) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in WGS84 lon/lat (EPSG:4326): :func:`to_lonlat` on a frame.

    Parameters
    ----------
    gdf
        A GeoDataFrame (or GeoSeries); its CRS is used, or detected when it has none.
    coords, zone, repair, source
        As in :func:`to_lonlat`.

    Returns
    -------
    geopandas.GeoDataFrame
        Same rows and columns; geometry in EPSG:4326. ``attrs["repaired"]`` lists the
        positions of repaired rows with their reasons.
    """
    res = to_lonlat(gdf, coords=coords, zone=zone, repair=repair, source=source)
    geometry = gpd.GeoSeries(res.geoms, index=gdf.index, crs=4326)
    if isinstance(gdf, gpd.GeoSeries):
        return geometry
    out = gdf.set_geometry(geometry.rename(gdf.geometry.name), crs=4326)
    if res.reasons:
        out.attrs["repaired"] = dict(res.reasons)
    return out
