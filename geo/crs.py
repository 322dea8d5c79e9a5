"""Coordinate reference systems used in China: CGCS2000, Gauss-Krüger zones, detection.

- **CGCS2000** (EPSG:4490) is the national datum. Its lon/lat and WGS84 (EPSG:4326)
  lon/lat differ well under 1 m, so ecozone accepts them as the same; layers are kept
  in EPSG:4326.
- Official vector data is usually projected in **3-degree Gauss-Krüger** (高斯-克吕格
  3 度带) zones on CGCS2000: EPSG:4534–4554 (central meridian 75°E…135°E, false
  easting 500 000) or EPSG:4513–4533 (zones 25…45, the easting prefixed with the
  zone number, e.g. 39 500 000 → zone 39 → EPSG:4527). Beijing is central meridian
  117°E: EPSG:4548, or EPSG:4527 with prefix. 6-degree zones 13…23 with prefix are
  EPSG:4491–4501.
- Coordinate tables (界址点) list **X = northing, Y = easting**, the reverse of GIS
  order; :func:`geo.detect.detect_crs` recognises this and reports ``swapped=True``.
- One transformer cache (:func:`transformer`, :func:`transform_geoms`) and one zone
  rule (:func:`gk_zone_number`, vectorised :func:`metric_epsg`) serve every package.
- Nothing is measured in EPSG:4326 degrees or Web Mercator: :func:`local_metric_crs`
  gives the GK zone of the data for buffers and distances, :func:`equal_area_crs` an
  Albers equal-area CRS for fast areas (:mod:`geo.measure` holds the ellipsoidal
  reference).

All projected CRSs here are used in (easting, northing) order, as GIS software and
geopandas (``always_xy``) do, although EPSG defines the GK systems northing-first.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import AlbersEqualAreaConversion

from geo.errors import CRSDetectionError
from geo.usercache import cache_path, read_json, switched_off, write_json

__all__ = [
    "CGCS2000",
    "WGS84",
    "crs_text",
    "equal_area_crs",
    "gk_central_meridian",
    "gk_epsg",
    "gk_zone_number",
    "is_lonlat",
    "local_metric_crs",
    "metric_crs_for_lonlat",
    "metric_epsg",
    "to_lonlat",
    "transform_geoms",
    "transformer",
]

log = logging.getLogger(__name__)
_PIPELINE_LOCK = threading.Lock()

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"

# 3-degree zones covering China (CM 75°E…135°E) and their EPSG codes.
GK3_ZONES = range(25, 46)
_GK3_EPSG_NO_PREFIX = 4534  # zone 25 (CM 75°E); +1 per zone
_GK3_EPSG_PREFIX = 4513  # zone 25 with 25 500 000 false easting
# 6-degree zones 13…23 (CM 75°E…135°E) with prefixed eastings.
GK6_ZONES = range(13, 24)
_GK6_EPSG_PREFIX = 4491

_HINT = (
    'pass the CRS explicitly, e.g. crs="EPSG:4548" (GK CM 117°E, Beijing, no prefix), '
    'crs="EPSG:4527" (zone 39 with prefix), crs="EPSG:4326" (lon/lat), or zone=39; '
    "on the command line --crs EPSG:4548"
)


@functools.lru_cache(maxsize=256)
def _epsg(code: int) -> pyproj.CRS:
    """``pyproj.CRS.from_epsg``, cached: a lookup in PROJ's database costs ~0.1 ms."""
    return pyproj.CRS.from_epsg(code)


# lon/lat probe points over China and beyond: a pipeline replaces a searched operation
# only when it gives identical numbers on all of them (see :func:`transformer`)
_PROBE_LON, _PROBE_LAT = (
    a.ravel() for a in np.meshgrid(np.linspace(70, 140, 29), np.linspace(15, 55, 17))
)


# pipelines already checked against the searched operation, kept across processes
# (geo.usercache): a cold process then makes no database search (0.05 s a pair)
_PIPELINE_FILE = "proj-pipelines.json"
_PIPELINE_MAX = 256


def _pipeline_key(src: pyproj.CRS, dst: pyproj.CRS) -> str | None:
    """Digest of a CRS pair and of everything PROJ's choice of operation depends on.

    pyproj and PROJ versions, the data folder with the state of its ``proj.db`` (grids
    installed later change the folder's database too), and network access to grids.
    """
    try:
        data = pyproj.datadir.get_data_dir()
        db = os.stat(os.path.join(data, "proj.db"))
        parts = (
            pyproj.__version__, pyproj.proj_version_str, data, db.st_size, db.st_mtime_ns,
            pyproj.network.is_network_enabled(), src.to_wkt(), dst.to_wkt(),
        )  # fmt: skip
    except Exception:  # no data folder, a CRS without WKT: no shortcut
        return None
    return hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).hexdigest()


def _stored_pipelines() -> dict[str, str]:
    data = read_json(cache_path(_PIPELINE_FILE))
    return data if isinstance(data, dict) else {}


@functools.lru_cache(maxsize=128)
def _cached_transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    # None: no cross-process shortcut (switched off, or nothing to key it by)
    key = None if switched_off("ECOZONE_PIPELINE_CACHE") else _pipeline_key(src, dst)
    known = _stored_pipelines().get(key) if key else None
    if isinstance(known, str):
        try:
            return pyproj.Transformer.from_pipeline(known)
        except pyproj.exceptions.ProjError:  # not a pipeline this PROJ can build
            pass
    tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    try:
        pipeline = tr.to_proj4()
        fast = pyproj.Transformer.from_pipeline(pipeline)
        same = all(
            np.array_equal(a, b, equal_nan=True)
            for a, b in zip(
                tr.transform(_PROBE_LON, _PROBE_LAT),
                fast.transform(_PROBE_LON, _PROBE_LAT),
                strict=True,
            )
        )
    except Exception:  # no pipeline form: keep the searched operation
        return tr
    if not same:
        return tr
    if key:
        with _PIPELINE_LOCK:
            stored = {k: v for k, v in _stored_pipelines().items() if k != key}
            stored[key] = pipeline
            write_json(cache_path(_PIPELINE_FILE), dict(list(stored.items())[-_PIPELINE_MAX:]))
    return fast


@functools.lru_cache(maxsize=256)
def _transformer_for(src: Any, dst: Any) -> pyproj.Transformer:
    return _cached_transformer(pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst))


def transformer(src: Any, dst: Any) -> pyproj.Transformer:
    """Return a cached ``always_xy`` transformer between two CRSs: ecozone's one cache.

    A :class:`pyproj.Transformer` made from a CRS pair searches PROJ's database:
    about 0.1-0.3 s, paid again by every thread on its first call. The cache keeps
    one per pair (keyed by the arguments as given, then by the CRSs), made from the
    operation's PROJ pipeline when that reproduces the searched operation exactly on
    probe points over China (a thread's copy then costs 0.2 ms). Such a pipeline is
    also remembered across processes (``proj-pipelines.json`` in the user cache,
    :mod:`geo.usercache`), keyed by the CRS pair, the pyproj and PROJ versions and
    the state of PROJ's database: a later process builds it with no search.
    ``ECOZONE_PIPELINE_CACHE=0`` switches that off.

    Parameters
    ----------
    src, dst
        Anything accepted by :meth:`pyproj.CRS.from_user_input` (an EPSG code, a
        string, a WKT, a :class:`pyproj.CRS`).

    Returns
    -------
    pyproj.Transformer
        Transforms (x, y) = (lon, lat) or (easting, northing), GIS order. For
        :meth:`~pyproj.Transformer.transform` and ``itransform`` only: a pipeline
        transformer knows no source or target CRS, and its ``transform_bounds``
        returns ``inf`` (make a ``Transformer.from_crs`` for bounds).
    """
    try:
        return _transformer_for(src, dst)
    except TypeError:  # an unhashable CRS description (a dict): cached by CRS only
        return _cached_transformer(pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst))


def transform_geoms(geoms: ArrayLike, src: Any, dst: Any) -> NDArray[np.object_]:
    """Reproject an array of shapely geometries, vectorised over all their coordinates.

    Parameters
    ----------
    geoms
        Array of shapely geometries (``None`` stays ``None``).
    src, dst
        Anything :meth:`pyproj.CRS.from_user_input` accepts (:func:`transformer`).

    Returns
    -------
    numpy.ndarray
        New geometries in ``dst``.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return geoms.copy()
    tr = transformer(src, dst)
    if _plain_points(geoms):  # a batch of sites: new points from the coordinates, 5× faster
        x, y = tr.transform(shapely.get_x(geoms), shapely.get_y(geoms))
        return shapely.points(x, y)

    def _xy(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _xy)


def plain_point_xy(geoms: ArrayLike) -> NDArray[np.float64] | None:
    """The coordinates of ``geoms`` when every one is a non-empty 2-D single point.

    Parameters
    ----------
    geoms
        Array of shapely geometries.

    Returns
    -------
    numpy.ndarray or None
        Shape (n, 2): what :func:`shapely.get_coordinates` gives for them, read with
        :func:`shapely.get_x` / :func:`shapely.get_y`, which let other threads run
        (``get_coordinates`` holds the interpreter lock); ``None`` when any geometry
        is something else (or missing, or empty), and for no geometry at all.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0 or not _plain_points(geoms):
        return None
    return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)])


def _plain_points(geoms: NDArray[np.object_]) -> bool:
    """Whether every geometry is a non-empty 2-D single point (no ``None``)."""
    return bool(
        (shapely.get_type_id(geoms) == 0).all()
        and not shapely.is_empty(geoms).any()
        and not shapely.has_z(geoms).any()
    )


def _zones(lon: NDArray[np.float64]) -> NDArray[np.int64]:
    """The 3-degree GK zone of each longitude (the eastern zone on an edge); NaN, ±inf → 0."""
    lon = np.nan_to_num(lon, nan=0.0, posinf=0.0, neginf=0.0)
    return np.floor(lon / 3.0 + 0.5).astype(np.int64)


def metric_epsg(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
    """Return the EPSG code of the local metric CRS at each lon/lat position.

    The vectorised form of :func:`metric_crs_for_lonlat`: the CGCS2000 3-degree
    Gauss-Krüger zone (EPSG:4534–4554, zone :func:`gk_zone_number`) inside China's
    longitudes, else the WGS84 UTM zone (EPSG:326xx north, 327xx south).

    Parameters
    ----------
    lon, lat
        Degrees, arrays of the same shape.

    Returns
    -------
    numpy.ndarray of int64
        One code per position; 0 where ``lon`` or ``lat`` is not finite.

    Examples
    --------
    >>> metric_epsg([116.4, 8.0], [39.9, 45.0]).tolist()
    [4548, 32632]
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    ok = np.isfinite(lon) & np.isfinite(lat)
    zone = _zones(lon)
    gk = (zone >= GK3_ZONES.start) & (zone < GK3_ZONES.stop)
    lon0 = np.where(ok, lon, 0.0)
    utm = np.clip(np.floor((lon0 + 180.0) / 6.0).astype(np.int64) + 1, 1, 60)
    utm_epsg = np.where(lat >= 0, 32600, 32700) + utm
    epsg = np.where(gk, _GK3_EPSG_NO_PREFIX + zone - GK3_ZONES.start, utm_epsg)
    return np.where(ok, epsg, 0)


def gk_zone_number(lon: float) -> int:
    """Return the 3-degree Gauss-Krüger zone number of a longitude.

    Zone ``n`` has central meridian ``3·n`` degrees and covers ``3n − 1.5`` to
    ``3n + 1.5``; a longitude exactly on a zone edge belongs to the eastern zone.

    Parameters
    ----------
    lon
        Longitude in degrees east.

    Returns
    -------
    int
        The zone number (Beijing, 116.4°E → 39).

    Raises
    ------
    CRSDetectionError
        If ``lon`` is not a finite longitude in [-180, 180].

    Examples
    --------
    >>> gk_zone_number(116.4)
    39
    """
    try:
        value = float(lon)
    except (TypeError, ValueError) as err:
        msg = f"`lon` must be a number of degrees east, got {lon!r}."
        raise CRSDetectionError(msg) from err
    if not math.isfinite(value) or not -180.0 <= value <= 180.0:
        msg = f"`lon` must be a longitude between -180 and 180 degrees, got {lon!r}."
        raise CRSDetectionError(msg)
    return int(_zones(np.float64(value)))


def gk_central_meridian(zone: int) -> float:
    """Return the central meridian (degrees east) of a 3-degree Gauss-Krüger zone.

    Parameters
    ----------
    zone
        3-degree zone number, 1…120.

    Returns
    -------
    float
        ``3 · zone`` (zone 39 → 117.0).

    Raises
    ------
    CRSDetectionError
        If ``zone`` is not an integer in 1…120.

    Examples
    --------
    >>> gk_central_meridian(39)
    117.0
    """
    z = _int_zone(zone, "zone")
    if not 1 <= z <= 120:
        msg = f"`zone` must be a 3-degree zone number 1…120, got {zone!r}."
        raise CRSDetectionError(msg)
    return 3.0 * z


def _int_zone(zone: Any, arg: str) -> int:
    if isinstance(zone, bool) or not isinstance(zone, int | np.integer | float | str):
        msg = f"`{arg}` must be an integer zone number, got {zone!r}."
        raise CRSDetectionError(msg)
    try:
        z = float(zone)
    except ValueError as err:
        msg = f"`{arg}` must be an integer zone number, got {zone!r}."
        raise CRSDetectionError(msg) from err
    if not z.is_integer():
        msg = f"`{arg}` must be an integer zone number, got {zone!r}."
        raise CRSDetectionError(msg)
    return int(z)


def _zone_from_central_meridian(central_meridian: float) -> int:
    cm = float(central_meridian)
    if not math.isfinite(cm) or cm % 3.0 != 0.0:
        msg = (
            f"`central_meridian` must be a multiple of 3 degrees (a 3-degree GK central "
            f"meridian such as 117), got {central_meridian!r}."
        )
        raise CRSDetectionError(msg)
    return int(cm // 3)


def gk_epsg(
    lon: float | None = None,
    *,
    zone: int | None = None,
    central_meridian: float | None = None,
    prefixed: bool = False,
) -> int:
    """Return the EPSG code of the CGCS2000 3-degree Gauss-Krüger zone.

    Give exactly one of ``lon`` (the zone is chosen from it), ``zone`` or
    ``central_meridian``.

    Parameters
    ----------
    lon
        A longitude inside the zone, degrees east.
    zone
        The 3-degree zone number, 25…45 (Beijing: 39).
    central_meridian
        The zone's central meridian, 75…135 (Beijing: 117).
    prefixed
        True for eastings carrying the zone number (39 500 000): EPSG:4513–4533;
        False for plain eastings (500 000): EPSG:4534–4554.

    Returns
    -------
    int
        The EPSG code (Beijing: 4548, or 4527 with ``prefixed=True``).

    Raises
    ------
    CRSDetectionError
        If none or several of ``lon`` / ``zone`` / ``central_meridian`` are given, or
        the zone is outside China's 25…45.

    Examples
    --------
    >>> gk_epsg(116.4), gk_epsg(zone=39, prefixed=True), gk_epsg(central_meridian=117)
    (4548, 4527, 4548)
    """
    given = [v is not None for v in (lon, zone, central_meridian)]
    if sum(given) != 1:
        msg = (
            "gk_epsg() needs exactly one of `lon`, `zone` or `central_meridian`, got "
            f"lon={lon!r}, zone={zone!r}, central_meridian={central_meridian!r}."
        )
        raise CRSDetectionError(msg)
    if lon is not None:
        z = gk_zone_number(lon)
        what = f"lon={lon!r} (zone {z})"
    elif zone is not None:
        z = _int_zone(zone, "zone")
        if 75 <= z <= 135 and z % 3 == 0:
            msg = (
                f"zone={zone!r} looks like a central meridian; pass "
                f"central_meridian={z} or zone={z // 3} (3-degree zone number 25…45)."
            )
            raise CRSDetectionError(msg)
        what = f"zone={zone!r}"
    else:
        z = _zone_from_central_meridian(central_meridian)  # type: ignore[arg-type]
        what = f"central_meridian={central_meridian!r} (zone {z})"
    if z not in GK3_ZONES:
        msg = (
            f"{what} is outside the CGCS2000 3-degree Gauss-Krüger zones 25…45 "
            "(central meridian 75°E…135°E) that cover China; use local_metric_crs() for "
            "data elsewhere."
        )
        raise CRSDetectionError(msg)
    base = _GK3_EPSG_PREFIX if prefixed else _GK3_EPSG_NO_PREFIX
    return base + (z - GK3_ZONES.start)


def is_lonlat(crs: Any) -> bool:
    """Tell whether ``crs`` is WGS84 or CGCS2000 lon/lat (treated as the same).

    Parameters
    ----------
    crs
        Anything accepted by :meth:`pyproj.CRS.from_user_input`.

    Returns
    -------
    bool
        True for EPSG:4326, EPSG:4490 and CRS84-style equivalents.
    """
    if isinstance(crs, pyproj.CRS):
        return _crs_facts(crs)[0]
    return _is_lonlat(pyproj.CRS.from_user_input(crs))


def crs_text(crs: pyproj.CRS) -> str:
    """``crs.to_string()``, known once per process for each CRS definition.

    A :class:`pyproj.CRS` keeps its parsed form per thread: a thread's first question
    to it parses its definition again (22-27 ms for a GeoParquet file's PROJJSON,
    holding the interpreter lock). This answer, and :func:`is_lonlat`'s, are kept by
    the definition's text (``crs.srs``) for every thread.
    """
    return _crs_facts(crs)[1]


# answers of is_lonlat and crs_text by CRS definition (crs.srs), for every thread
_FACTS: dict[str, tuple[bool, str]] = {}
_FACTS_MAX = 256
_FACTS_LOCK = threading.Lock()


def _crs_facts(crs: pyproj.CRS) -> tuple[bool, str]:
    got = _FACTS.get(crs.srs)
    if got is None:
        with _FACTS_LOCK:  # one thread asks; the others wait for its answer
            got = _FACTS.get(crs.srs)
            if got is None:
                got = (_is_lonlat(crs), crs.to_string())
                if len(_FACTS) < _FACTS_MAX:
                    _FACTS[crs.srs] = got
    return got


def _is_lonlat(c: pyproj.CRS) -> bool:
    if not c.is_geographic:
        return False
    epsg = c.to_epsg()
    if epsg in (4326, 4490, 4479, 4480):
        return True
    ell = c.ellipsoid
    # Same ellipsoid (WGS84 or GRS80) and Greenwich meridian: same numbers to < 1 m.
    return (
        ell is not None
        and abs(ell.semi_major_metre - 6378137.0) < 1e-3
        and abs(ell.inverse_flattening - 298.2572) < 1e-3
        and c.prime_meridian.longitude == 0.0
        and c.datum.name
        in (
            "World Geodetic System 1984",
            "World Geodetic System 1984 ensemble",
            "China 2000",
        )
    )


def _bounds_of(geoms_or_bounds: Any) -> tuple[NDArray[np.float64], Any]:
    """Return (minx, miny, maxx, maxy) and the CRS carried by the input, if any."""
    crs = getattr(geoms_or_bounds, "crs", None)
    if isinstance(geoms_or_bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        return np.asarray(geoms_or_bounds.total_bounds, dtype=np.float64), crs
    if isinstance(geoms_or_bounds, shapely.Geometry):
        return np.asarray(geoms_or_bounds.bounds, dtype=np.float64), crs
    arr = np.asarray(geoms_or_bounds)
    if arr.dtype != object and arr.shape == (4,):
        return arr.astype(np.float64), crs
    geoms = np.asarray(geoms_or_bounds, dtype=object).ravel()
    return np.asarray(shapely.total_bounds(geoms), dtype=np.float64), crs


def _centre_lonlat(geoms_or_bounds: Any, crs: Any, fn: str) -> tuple[float, float]:
    b, own = _bounds_of(geoms_or_bounds)
    src = crs if crs is not None else own
    if src is None:
        msg = (
            f'{fn}() needs the CRS of the data: pass crs= (e.g. crs="EPSG:4326") or a '
            "GeoSeries/GeoDataFrame with .crs set."
        )
        raise CRSDetectionError(msg)
    if not np.isfinite(b).all():
        msg = f"{fn}(): the data has no finite coordinates (bounds {b.tolist()})."
        raise CRSDetectionError(msg)
    cx, cy = (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0
    if is_lonlat(src):
        return float(cx), float(cy)
    lon, lat = transformer(src, 4326).transform(cx, cy)
    return float(lon), float(lat)


def metric_crs_for_lonlat(lon: float, lat: float) -> pyproj.CRS:
    """Return the local metric CRS at a lon/lat point.

    Parameters
    ----------
    lon, lat
        The point, degrees.

    Returns
    -------
    pyproj.CRS
        The CGCS2000 3-degree GK zone (EPSG:4534–4554) inside China's longitudes
        73.5…136.5°E, else the WGS84 UTM zone (EPSG:326xx / 327xx).
    """
    gk_zone_number(lon)  # a clear error for a longitude out of range
    return _epsg(int(metric_epsg([lon], [lat])[0]))


def local_metric_crs(geoms_or_bounds: Any, crs: Any = None) -> pyproj.CRS:
    """Pick the local metric CRS (GK zone of the data's centre) for buffers and distances.

    Parameters
    ----------
    geoms_or_bounds
        A GeoDataFrame/GeoSeries, shapely geometry or array of geometries, or a
        ``(minx, miny, maxx, maxy)`` bounds sequence.
    crs
        CRS of ``geoms_or_bounds`` (anything accepted by
        :meth:`pyproj.CRS.from_user_input`); optional for inputs with ``.crs``.

    Returns
    -------
    pyproj.CRS
        The CGCS2000 3-degree Gauss-Krüger zone (EPSG:4534–4554, plain eastings) of the
        centre of the data; UTM outside China's longitudes. Scale error is below 0.03 %
        within the zone (±1.5° of the central meridian), growing to about 0.25 % at
        4.5° away, so data spanning several zones is better handled per zone
        (:func:`geo.measure.buffer_m` does that); :mod:`geo.scale` takes the scale out
        of distances and buffers.

    Raises
    ------
    CRSDetectionError
        If the CRS is unknown or there are no finite coordinates.

    Examples
    --------
    >>> local_metric_crs((116.0, 39.5, 117.0, 40.5), "EPSG:4326").to_epsg()
    4548
    """
    lon, lat = _centre_lonlat(geoms_or_bounds, crs, "local_metric_crs")
    return metric_crs_for_lonlat(lon, lat)


def equal_area_crs(bounds_lonlat: Sequence[float] | ArrayLike) -> pyproj.CRS:
    """Return an Albers equal-area CRS on the CGCS2000 (GRS80) ellipsoid fitted to bounds.

    Used for fast, vectorised areas (:func:`geo.measure.area_m2` with
    ``method="equal_area"``). Albers on the ellipsoid preserves area exactly; the only
    difference from :func:`geo.measure.geodesic_area` comes from edges being straight
    in the projection rather than geodesics, negligible for vertex spacing of a few km.

    Parameters
    ----------
    bounds_lonlat
        ``(min_lon, min_lat, max_lon, max_lat)`` in degrees.

    Returns
    -------
    pyproj.CRS
        Albers equal-area with standard parallels at 1/6 and 5/6 of the latitude span,
        origin at the centre.

    Raises
    ------
    CRSDetectionError
        If the bounds are not four finite lon/lat degrees.

    Examples
    --------
    >>> equal_area_crs((115.4, 39.4, 117.5, 41.1)).is_projected
    True
    """
    try:
        b = np.asarray(bounds_lonlat, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        msg = (
            f"`bounds_lonlat` must be (min_lon, min_lat, max_lon, max_lat), got {bounds_lonlat!r}."
        )
        raise CRSDetectionError(msg) from err
    if b.shape != (4,) or not np.isfinite(b).all():
        msg = (
            "`bounds_lonlat` must be four finite numbers (min_lon, min_lat, max_lon, "
            f"max_lat), got {bounds_lonlat!r}."
        )
        raise CRSDetectionError(msg)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in b)
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        msg = (
            f"`bounds_lonlat` {tuple(b.tolist())} are not lon/lat degrees "
            "(min_lon ≤ max_lon in -180…180, min_lat ≤ max_lat in -90…90); reproject with "
            "to_lonlat() first."
        )
        raise CRSDetectionError(msg)
    span = max_lat - min_lat
    lat_1 = min_lat + span / 6.0
    lat_2 = max_lat - span / 6.0
    if abs(lat_1 + lat_2) < 1e-9:
        # Albers is undefined when the standard parallels are symmetric about the equator.
        lat_2 += 1e-6
    conversion = AlbersEqualAreaConversion(
        latitude_first_parallel=lat_1,
        latitude_second_parallel=lat_2,
        latitude_false_origin=(min_lat + max_lat) / 2.0,
        longitude_false_origin=(min_lon + max_lon) / 2.0,
    )
    return ProjectedCRS(
        conversion=conversion,
        geodetic_crs=_epsg(4490),
        name="CGCS2000 / ecozone Albers equal-area",
    )


def to_lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` reprojected to EPSG:4326 lon/lat.

    CGCS2000 lon/lat (EPSG:4490) is relabelled EPSG:4326 without changing numbers
    (the two agree to well under 1 m).

    Parameters
    ----------
    gdf
        A GeoDataFrame or GeoSeries with ``.crs`` set.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame in EPSG:4326; the input is not modified.

    Raises
    ------
    CRSDetectionError
        If ``gdf.crs`` is None: the CRS is never assigned silently. Set it with
        ``gdf.set_crs(...)`` or find it with :func:`geo.detect.detect_crs`.
    """
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        msg = f"`gdf` must be a GeoDataFrame or GeoSeries, got {type(gdf).__name__}."
        raise CRSDetectionError(msg)
    if gdf.crs is None:
        b = gdf.total_bounds if len(gdf) else []
        msg = (
            f"to_lonlat(): the data has no CRS (bounds {list(np.round(b, 3))}); it is never "
            "assigned silently. Set it with gdf.set_crs(...) — detect_crs(x, y) can tell "
            f"which — or {_HINT}. (数据缺少坐标系)"
        )
        raise CRSDetectionError(msg)
    if gdf.crs.to_epsg() == 4326:
        return gdf.copy()
    if is_lonlat(gdf.crs):
        return gdf.set_crs(4326, allow_override=True)
    return gdf.to_crs(4326)
