"""The 200 m band at a construction-site exit (工地出口200米范围).

Tongzhou's plan (002 l.142) asks for patrols and street cleaning "within 200 m of a
site exit (100 m on each side of the exit)" — 工地(场站)出口200米范围(出口左右两侧各100米).
The band is therefore a stretch of the road the exit opens onto, 100 m each way
along the road from the exit. When the road line is not known, the band is the
100 m-radius disc around the exit, which contains that stretch for any road shape.

Lengths are measured in the local Gauss-Krüger zone of the exits
(:func:`geo.crs.local_metric_crs`); each exit's 100 m is drawn there as 100 m times the
plane's scale factor at the exit (:mod:`geo.scale`), so the band is 100 m on the ellipsoid.

Functions
---------
- :func:`exit_band` — the band geometry (lon/lat) of one or more exits;
- :func:`in_exit_band` — whether locations lie in that band (vectorised).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from shapely import STRtree
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo.crs import local_metric_crs, metric_epsg, transform_geoms
from geo.errors import GeometryError
from geo.scale import plane_scale

__all__ = ["HALF_LENGTH_M", "exit_band", "in_exit_band"]

#: Default half length of the band (m to each side of the exit) of these geometry
#: helpers; a check uses its pack rule's ``distance_m`` and that rule's citation.
HALF_LENGTH_M = 100.0
_LONLAT = "EPSG:4326"
_QUAD_SEGS = 16  # disc edge within 3 cm of a true 100 m circle


def _exit_lonlat(exits: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exit points as lon/lat arrays from the forms people pass."""
    if hasattr(exits, "exits") and not isinstance(exits, gpd.GeoSeries | gpd.GeoDataFrame):
        exits = exits.exits  # a zoning.project.Project
    if isinstance(exits, gpd.GeoDataFrame):
        exits = exits.geometry
    if isinstance(exits, gpd.GeoSeries):
        if exits.crs is None:
            msg = "`exits` GeoSeries has no CRS; set it with .set_crs(...) (lon/lat: EPSG:4326)"
            raise GeometryError(msg)
        exits = exits.to_crs(_LONLAT).to_numpy()
    if isinstance(exits, BaseGeometry):
        exits = [exits]
    pts: list[tuple[float, float]] = []
    for e in exits if isinstance(exits, Iterable) else [exits]:
        if isinstance(e, BaseGeometry):
            coords = shapely.get_coordinates(e)
            if e.geom_type not in ("Point", "MultiPoint") or len(coords) == 0:
                msg = f"an exit must be a point, got {e.geom_type} ({e.wkt[:60]})"
                raise GeometryError(msg)
            pts.extend((float(x), float(y)) for x, y in coords)
        else:
            try:
                lon, lat = (float(v) for v in e)
            except (TypeError, ValueError):
                msg = f"an exit must be a (lon, lat) pair or a shapely Point, got {e!r}"
                raise GeometryError(msg) from None
            pts.append((lon, lat))
    if not pts:
        msg = "no exit point given: pass the (lon, lat) of at least one site exit"
        raise GeometryError(msg)
    arr = np.asarray(pts, dtype="float64")
    bad = ~np.isfinite(arr).all(axis=1) | (np.abs(arr[:, 0]) > 180) | (np.abs(arr[:, 1]) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"exit {i + 1} {tuple(arr[i])} is not a WGS84 lon/lat in degrees"
        raise GeometryError(msg)
    return arr[:, 0], arr[:, 1]


def _road_lines(road: Any) -> NDArray[Any]:
    """Road line parts (lon/lat LineStrings) from a geometry, array or GeoSeries."""
    if isinstance(road, gpd.GeoDataFrame):
        road = road.geometry
    if isinstance(road, gpd.GeoSeries):
        if road.crs is None:
            msg = "`road` has no CRS; set it with .set_crs(...) (lon/lat: EPSG:4326)"
            raise GeometryError(msg)
        road = road.to_crs(_LONLAT).to_numpy()
    arr = np.atleast_1d(np.asarray(road, dtype=object))
    parts = shapely.get_parts(arr[~shapely.is_missing(arr)])
    lines = parts[shapely.get_type_id(parts) == 1] if len(parts) else parts
    if len(lines) == 0:
        msg = "`road` holds no LineString: pass the centre line of the road the exit opens onto"
        raise GeometryError(msg)
    return lines


def _metric(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> CRS:
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    return local_metric_crs(bounds, _LONLAT)


def _road_positions(
    lines_m: NDArray[Any], pts_m: NDArray[Any], *, max_offset_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """For each exit: its nearest road part and its position along that part."""
    (qi, qp), d = STRtree(lines_m).query_nearest(pts_m, return_distance=True, all_matches=False)
    order = np.argsort(qi)
    part, d = qp[order], d[order]
    far = d > max_offset_m
    if far.any():
        i = int(np.flatnonzero(far)[0])
        msg = (
            f"exit {i + 1} is {d[i]:.1f} m from the nearest road line (more than "
            f"max_offset_m={max_offset_m:g}); pass the road the exit opens onto, or "
            "road=None for the 100 m disc"
        )
        raise GeometryError(msg)
    return part, shapely.line_locate_point(lines_m[part], pts_m)


def exit_band(
    exits: Any,
    *,
    road: Any = None,
    half_length_m: float = HALF_LENGTH_M,
    max_offset_m: float = 50.0,
) -> BaseGeometry:
    """Return the exit band of a construction site: 100 m to each side of each exit.

    Parameters
    ----------
    exits
        Exit point(s) in WGS84 lon/lat: a ``(lon, lat)`` pair, a list of pairs,
        shapely Point(s), a GeoSeries (any CRS) or a :class:`zoning.project.Project`
        (its ``exits``).
    road
        The centre line(s) of the road the exits open onto (shapely lon/lat lines or
        a GeoSeries in any CRS). With a road the band is the stretch of road from
        ``half_length_m`` before to ``half_length_m`` after each exit, measured along
        the road; without one it is the disc of radius ``half_length_m``.
    half_length_m
        Metres on each side of the exit (002 l.142: 100 m).
    max_offset_m
        With ``road``: an exit farther than this from every road line is an error.

    Returns
    -------
    shapely geometry
        (Multi)LineString along the road, or (Multi)Polygon disc(s), in lon/lat.

    Raises
    ------
    GeometryError
        No exit, an exit that is not a lon/lat point, a road without lines, or an exit
        farther than ``max_offset_m`` from the road.

    Examples
    --------
    >>> band = exit_band([(116.65, 39.90)])
    >>> band.geom_type
    'Polygon'
    """
    if not half_length_m > 0:
        msg = f"`half_length_m` must be > 0 metres, got {half_length_m!r}"
        raise GeometryError(msg)
    lon, lat = _exit_lonlat(exits)
    crs = _metric(lon, lat)
    pts_m = transform_geoms(shapely.points(lon, lat), _LONLAT, crs.to_wkt())
    half = plane_scale(crs).plane_at(half_length_m, pts_m)
    if road is None:
        bands = shapely.buffer(pts_m, half, quad_segs=_QUAD_SEGS)
    else:
        lines_m = transform_geoms(_road_lines(road), _LONLAT, crs.to_wkt())
        part, s = _road_positions(lines_m, pts_m, max_offset_m=max_offset_m)
        # few exits per site: a loop over exits, not over locations
        bands = np.array(
            [
                substring(lines_m[p], max(pos - h, 0.0), pos + h)
                for p, pos, h in zip(part, s, half, strict=True)
            ],
            dtype=object,
        )
    band_m = shapely.union_all(bands)
    return transform_geoms(np.array([band_m], dtype=object), crs.to_wkt(), _LONLAT)[0]


def _points_lonlat(points: Any) -> NDArray[Any]:
    """Locations as an array of lon/lat shapely Points."""
    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if isinstance(points, gpd.GeoSeries):
        if points.crs is None:
            msg = "`points` has no CRS; set it with .set_crs(...) (lon/lat: EPSG:4326)"
            raise GeometryError(msg)
        return points.to_crs(_LONLAT).to_numpy()
    if isinstance(points, BaseGeometry):
        return np.array([points], dtype=object)
    arr = np.asarray(points)
    if arr.dtype != object and arr.ndim == 2 and arr.shape[1] == 2:
        return shapely.points(arr[:, 0], arr[:, 1])
    if arr.dtype != object and arr.shape == (2,):
        return np.array([shapely.Point(arr)], dtype=object)
    return np.asarray(
        [p if isinstance(p, BaseGeometry) else shapely.Point(p) for p in points], dtype=object
    )


def in_exit_band(
    points: Any,
    exits: Any,
    *,
    road: Any = None,
    half_length_m: float = HALF_LENGTH_M,
    road_tolerance_m: float = 20.0,
    max_offset_m: float = 50.0,
) -> NDArray[np.bool_]:
    """Whether each location lies in the exit band (vectorised over locations).

    Parameters
    ----------
    points
        Locations: shapely geometries in lon/lat, an ``(n, 2)`` lon/lat array or a
        GeoSeries / GeoDataFrame in any CRS. A non-point geometry is in the band when
        any part of it is.
    exits
        As for :func:`exit_band`.
    road
        As for :func:`exit_band`. With a road a location is in the band when it lies
        within ``road_tolerance_m`` of the road and its position along the road is
        within ``half_length_m`` of an exit's; without one, when it lies within
        ``half_length_m`` of an exit.
    half_length_m
        Metres on each side of the exit.
    road_tolerance_m
        Lateral tolerance from the road centre line (half the road width plus the
        pavement).
    max_offset_m
        With ``road``: an exit farther than this from every road line is an error.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    GeometryError
        As for :func:`exit_band`.

    Examples
    --------
    >>> in_exit_band([(116.65, 39.90), (116.66, 39.90)], [(116.65, 39.9005)]).tolist()
    [True, False]
    """
    lon, lat = _exit_lonlat(exits)
    pts_ll = _points_lonlat(points)
    if len(pts_ll) == 0:
        return np.zeros(0, dtype=bool)
    crs = _metric(lon, lat)
    exits_m = transform_geoms(shapely.points(lon, lat), _LONLAT, crs.to_wkt())
    pts_m = transform_geoms(pts_ll, _LONLAT, crs.to_wkt())
    hit = np.zeros(len(pts_m), dtype=bool)
    half = plane_scale(crs).plane_at(half_length_m, exits_m)
    if road is None:
        for e, h in zip(exits_m, half, strict=True):  # few exits: vectorised over locations
            hit |= shapely.dwithin(e, pts_m, h)
        return hit
    lines_m = transform_geoms(_road_lines(road), _LONLAT, crs.to_wkt())
    part, s_exit = _road_positions(lines_m, exits_m, max_offset_m=max_offset_m)
    for p, s_e, h in zip(part, s_exit, half, strict=True):
        line = lines_m[p]
        lateral = shapely.distance(line, pts_m)
        # position along the road of the point of the location nearest to the road
        near = shapely.shortest_line(line, pts_m)
        s_p = shapely.line_locate_point(line, shapely.get_point(near, 0))
        hit |= (lateral <= road_tolerance_m) & (np.abs(s_p - s_e) <= h)
    return hit


def disc_bands(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    owner: NDArray[np.intp],
    *,
    radius_m: float,
) -> dict[int, BaseGeometry]:
    """Exit discs grouped by owner (site), vectorised: ``{owner: lon/lat geometry}``.

    Each exit is buffered in its own metric CRS, by ``radius_m`` on the ellipsoid;
    owners with several exits get the union of their discs.

    Parameters
    ----------
    lon, lat
        Exit points, degrees.
    owner
        The site each exit belongs to.
    radius_m
        Disc radius.

    Returns
    -------
    dict
        Owner → band.
    """
    n = len(lon)
    if n == 0:
        return {}
    pts = shapely.points(lon, lat)
    epsg = metric_epsg(lon, lat)
    discs = np.empty(n, dtype=object)
    for code in np.unique(epsg):
        pos = np.flatnonzero(epsg == code)
        pm = transform_geoms(pts[pos], _LONLAT, int(code))
        radius = plane_scale(int(code)).plane_at(radius_m, pm)
        discs[pos] = transform_geoms(
            shapely.buffer(pm, radius, quad_segs=_QUAD_SEGS), int(code), _LONLAT
        )
    order = np.argsort(owner, kind="stable")
    own, start, count = np.unique(owner[order], return_index=True, return_counts=True)
    out: dict[int, BaseGeometry] = {}
    for o, a, c in zip(own.tolist(), start.tolist(), count.tolist(), strict=True):
        out[o] = discs[order[a]] if c == 1 else shapely.union_all(discs[order[a : a + c]])
    return out
