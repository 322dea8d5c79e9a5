"""Coordinates typed or pasted by a user: "116.40,39.91", a list of pairs, WKT, GeoJSON.

Planners paste points from AMap (GCJ-02, "lon,lat"), Baidu (BD-09), Google Maps
("lat, lon") and EIA reports ("东经116°23′45″，北纬39°54′27″"). :func:`parse_coordinates`
turns all of these into a shapely geometry in WGS84 lon/lat (or in ``crs``).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from geo.chinacoords import normalise_system
from geo.errors import (
    CRSDetectionError,
    EcozoneWarning,
    GeometryError,
    GeometryRepairedWarning,
    InputFormatError,
)
from geo.io._coords import as_crs
from geo.io._issues import user_stacklevel

_WKT = re.compile(
    r"^\s*(?:SRID=(?P<srid>\d+)\s*;)?\s*(?P<kind>POINT|LINESTRING|LINEARRING|POLYGON|MULTIPOINT|"
    r"MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\s*(?:ZM|Z|M)?\s*(?:\(|EMPTY)",
    re.IGNORECASE,
)
_KIND_PREFIX = re.compile(
    r"^\s*(?P<kind>POLYGON|LINESTRING|LINE|POINTS?|MULTIPOINT|面|多边形|线|点)\s*[:：]?\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_HEMI = re.compile(r"东经|西经|北纬|南纬|[NSEW东西南北]", re.IGNORECASE)
_DMS_MARK = re.compile(r"[°度′'’分″\"”秒:]")
_PAIR_SEP = re.compile(r"[;\n；|]+")


def parse_angle(text: Any) -> tuple[float, str | None]:
    """Read one coordinate value: a number, or degrees-minutes-seconds with hemisphere.

    Parameters
    ----------
    text
        "116.4", "116°23′45.6″E", "东经116度23分45秒", "39 54 27 N", "-33.9".

    Returns
    -------
    tuple
        ``(value, axis)``: the value in degrees (negative for S/W) and "lon", "lat"
        or ``None`` when the text names no hemisphere. ``nan`` when unreadable.
    """
    s = str(text).strip()
    if not s:
        return float("nan"), None
    try:
        return float(s), None
    except ValueError:
        pass
    axis = None
    sign = 1.0
    hemi = _HEMI.findall(s)
    if len(hemi) > 1:
        return float("nan"), None
    if hemi:
        h = hemi[0].upper()
        axis = "lon" if h in ("E", "W", "东", "西", "东经", "西经") else "lat"
        if h in ("W", "S", "西", "南", "西经", "南纬"):
            sign = -1.0
        s = _HEMI.sub(" ", s)
    nums = _NUMBER.findall(s)
    rest = _NUMBER.sub(" ", s)
    rest = _DMS_MARK.sub(" ", rest).replace("''", " ")
    if rest.strip() or not nums or len(nums) > 3:
        return float("nan"), None
    if len(nums) > 1 and not _DMS_MARK.search(s) and not re.search(r"\d\s+\d", s):
        return float("nan"), None
    deg = float(nums[0])
    mins = float(nums[1]) if len(nums) > 1 else 0.0
    secs = float(nums[2]) if len(nums) > 2 else 0.0
    if not (0 <= mins < 60 and 0 <= secs < 60):
        return float("nan"), None
    value = abs(deg) + mins / 60.0 + secs / 3600.0
    if deg < 0 or nums[0].startswith("-"):
        value = -value
    return sign * value, axis


# A pasted 界址点 row starts with the point's name: "J1 4420123.4 39452123.4", "1号,…"
_POINT_LABEL = re.compile(r"^\s*(?:(?![NSEWnsew])[A-Za-z]{1,3}\d+|\d+号|界址点\s*\d+)\s*[,，\s]\s*")


def _pair(chunk: str, n: int) -> tuple[float, float]:
    """One "x,y" / "x y" / DMS pair, put in lon, lat order when hemispheres say so."""
    chunk = _POINT_LABEL.sub("", chunk, count=1)
    parts = [p for p in re.split(r"[,，]", chunk) if p.strip()]
    if len(parts) < 2:
        parts = chunk.split()
    if len(parts) == 3 and all(_NUMBER.fullmatch(p.strip()) for p in parts):
        parts = parts[:2]  # x, y, z: drop the height
    if len(parts) != 2:
        msg = (
            f"第 {n} 个坐标对无法解析 / coordinate pair {n} {chunk.strip()!r} is not "
            "'x,y' or 'x y'. Separate pairs with ';' or new lines."
        )
        raise InputFormatError(msg)
    (a, ax_a), (b, ax_b) = parse_angle(parts[0]), parse_angle(parts[1])
    if not (np.isfinite(a) and np.isfinite(b)):
        msg = f"第 {n} 个坐标对不是数字 / coordinate pair {n} {chunk.strip()!r} is not numeric."
        raise InputFormatError(msg)
    if ax_a == "lat" or ax_b == "lon":
        a, b = b, a
    return a, b


def _split_pairs(body: str) -> list[str]:
    chunks = [c for c in _PAIR_SEP.split(body) if c.strip()]
    if len(chunks) != 1:
        return chunks
    chunk = chunks[0]
    commas = [c for c in re.split(r"[,，]", chunk) if c.strip()]
    if len(commas) > 2 and all(len(c.split()) == 2 for c in commas):
        return commas  # "x y, x y, x y" (WKT-like)
    if (
        len(commas) > 2
        and len(commas) % 2 == 0
        and all(_NUMBER.fullmatch(c.strip()) for c in commas)
    ):
        return [f"{commas[i]},{commas[i + 1]}" for i in range(0, len(commas), 2)]
    tokens = chunk.split()
    if len(commas) <= 1 and len(tokens) > 2 and len(tokens) % 2 == 0:
        if all(_NUMBER.fullmatch(t) for t in tokens):
            return [f"{tokens[i]} {tokens[i + 1]}" for i in range(0, len(tokens), 2)]
    return chunks


def _from_pairs(body: str, kind: str | None) -> shapely.Geometry:
    chunks = _split_pairs(body)
    if not chunks:
        msg = "没有坐标 / no coordinates found in the text."
        raise InputFormatError(msg)
    xy = np.array([_pair(c, i + 1) for i, c in enumerate(chunks)], dtype=float)
    closed = len(xy) >= 4 and np.array_equal(xy[0], xy[-1])
    if kind is None and len(xy) >= 3 and all(_POINT_LABEL.match(c) for c in chunks):
        kind = "polygon"  # named corner points: a boundary-point (界址点) table
    if kind in ("point",) and len(xy) > 1:
        return shapely.multipoints(xy)
    if len(xy) == 1:
        if kind in ("polygon", "line"):
            msg = f"{kind} 至少需要多个点 / a {kind} needs more than one point."
            raise InputFormatError(msg)
        return shapely.Point(xy[0])
    if kind == "polygon" or (kind is None and closed):
        distinct = len(np.unique(xy, axis=0))
        if distinct < 3:
            msg = (
                f"面至少需要 3 个不同的点 / a polygon needs at least 3 distinct points, got "
                f"{distinct}."
            )
            raise InputFormatError(msg)
        if not closed:
            warnings.warn(
                "首尾点不同，已自动闭合为面 / the last point differs from the first: the "
                "ring was closed to make a polygon.",
                GeometryRepairedWarning,
                stacklevel=user_stacklevel(),
            )
        return shapely.Polygon(xy)
    return shapely.LineString(xy)


def _parse_geometry(s: str) -> tuple[shapely.Geometry, int | None]:
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as err:
            msg = f"GeoJSON 无法解析 / the GeoJSON text is not valid JSON ({err})."
            raise InputFormatError(msg) from err
        if obj.get("type") == "Feature":
            obj = obj.get("geometry")
        if not isinstance(obj, dict) or obj.get("type") == "FeatureCollection":
            msg = "请给出单个 GeoJSON 几何或要素 / give one GeoJSON geometry or Feature."
            raise InputFormatError(msg)
        try:
            return shape(obj), None
        except Exception as err:  # shapely raises several types for bad GeoJSON
            msg = f"GeoJSON 几何无效 / invalid GeoJSON geometry ({err})."
            raise InputFormatError(msg) from err
    m = _WKT.match(s)
    if m:
        wkt = s[s.index(";") + 1 :] if m.group("srid") else s
        try:
            geom = shapely.from_wkt(wkt)
        except shapely.errors.GEOSException as err:
            msg = f"WKT 无法解析 / cannot parse the WKT text ({err})."
            raise InputFormatError(msg) from err
        return geom, int(m.group("srid")) if m.group("srid") else None
    kind = None
    km = _KIND_PREFIX.match(s)
    if km:
        word = km.group("kind").lower()
        kind = {"面": "polygon", "多边形": "polygon", "线": "line", "linestring": "line"}.get(
            word, word
        )
        kind = {"points": "point", "点": "point", "multipoint": "point"}.get(kind, kind)
        s = s[km.end() :]
    return _from_pairs(s, kind), None


def _lonlat_check(geom: shapely.Geometry, text: str) -> shapely.Geometry:
    """Fix latitude-first input (warned) and refuse projected numbers without ``crs``."""
    from geo.detect import detect_crs

    xy = shapely.get_coordinates(geom)
    try:
        found = detect_crs(xy[:, 0], xy[:, 1])
    except CRSDetectionError:
        found = None
    if found is not None and found.crs.is_geographic:
        if found.swapped:
            warnings.warn(
                f"坐标为纬度在前，已互换 / {text[:60]!r} gives latitude first; read as "
                "lon/lat after swapping.",
                EcozoneWarning,
                stacklevel=user_stacklevel(),
            )
            return shapely.transform(geom, lambda a: a[:, ::-1])
        return geom
    if (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all():
        return geom  # lon/lat outside China: fine, but no swap detection
    desc = f"; looks like {found.description}" if found is not None else ""
    msg = (
        f"坐标不是经纬度 / {text[:60]!r} is not lon/lat (x {xy[:, 0].min():.6g}…"
        f"{xy[:, 0].max():.6g}, y {xy[:, 1].min():.6g}…{xy[:, 1].max():.6g}{desc}). "
        "Pass the CRS, e.g. crs='EPSG:4548' (GK CM 117°E) or crs='EPSG:4527' (zone prefix)."
    )
    raise CRSDetectionError(msg)


def parse_coordinates(text: str, *, coords: str = "wgs84", crs: Any = None) -> shapely.Geometry:
    """Turn coordinates typed or pasted by a user into a geometry.

    Accepted: a point "116.40,39.91" or "116.40 39.91"; several pairs separated by
    ";" or new lines (a line, or a polygon when the first pair repeats at the end or
    the text starts with "POLYGON"/"面"); degrees-minutes-seconds with hemispheres
    ("东经116°23′45″, 北纬39°54′27″"); WKT (EWKT "SRID=4326;..." too); a GeoJSON
    geometry or Feature.

    Parameters
    ----------
    text
        The typed coordinates.
    coords
        System of lon/lat input: "wgs84"/"cgcs2000", "gcj02" (AMap, Tencent) or
        "bd09" (Baidu); the last two are converted to WGS84.
    crs
        The CRS of the numbers when they are not lon/lat (e.g. "EPSG:4548"); the
        geometry is returned in that CRS, not reprojected.

    Returns
    -------
    shapely.Geometry
        In WGS84 lon/lat when ``crs`` is None (latitude-first input is swapped back
        with an :class:`~geo.errors.EcozoneWarning`); an invalid polygon is repaired
        with a :class:`~geo.errors.GeometryRepairedWarning`.

    Raises
    ------
    InputFormatError
        Unreadable text.
    CRSDetectionError
        Projected-looking numbers without ``crs``, or ``coords`` with a projected ``crs``.

    Examples
    --------
    >>> parse_coordinates("116.40,39.91").wkt
    'POINT (116.4 39.91)'
    >>> parse_coordinates("POLYGON 0 0; 1 0; 1 1", crs="EPSG:4548").geom_type
    'Polygon'
    """
    if not isinstance(text, str) or not text.strip():
        msg = f"没有坐标 / no coordinates given (got {text!r})."
        raise InputFormatError(msg)
    system = normalise_system(coords)
    s = text.strip().lstrip("\ufeff")
    geom, srid = _parse_geometry(s)
    if geom.is_empty:
        msg = f"几何为空 / the geometry {text[:60]!r} is empty."
        raise GeometryError(msg)
    user_crs = as_crs(crs if crs is not None else (f"EPSG:{srid}" if srid else None))
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        msg = f"坐标含非数值 / {text[:60]!r} holds non-finite numbers."
        raise InputFormatError(msg)
    if user_crs is None or user_crs.is_geographic:
        if user_crs is None:
            geom = _lonlat_check(geom, text)
        if system != "wgs84":
            from geo.chinacoords import convert_geometry

            geom = convert_geometry(geom, src=system, dst="wgs84")
    elif system != "wgs84":
        msg = (
            f"coords={coords!r} 只适用于经纬度 / applies to lon/lat only, but crs={crs!r} "
            "is projected. Drop coords= or crs=."
        )
        raise CRSDetectionError(msg)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            parts = [
                p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")
            ]
            fixed = shapely.union_all(parts) if parts else shapely.Polygon()
        if fixed.is_empty:
            msg = f"几何无效且无法修复 / invalid geometry cannot be repaired ({reason})."
            raise GeometryError(msg)
        warnings.warn(
            f"几何无效，已修复 / invalid geometry repaired with make_valid ({reason}).",
            GeometryRepairedWarning,
            stacklevel=user_stacklevel(),
        )
        geom = fixed
    return geom
