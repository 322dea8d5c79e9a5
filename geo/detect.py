"""Recognise the CRS of bare coordinates (界址点 tables, text, DXF) from their magnitudes.

:func:`detect_crs` tells lon/lat, latitude-first lon/lat, Gauss-Krüger eastings with or
without the zone prefix, and northing-first (X = northing) survey tables apart, and
refuses what it cannot tell (Web Mercator, local grids) with the options that would
work. Moved out of :mod:`geo.crs` (``from geo import detect_crs`` works as before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

from geo.crs import (
    _GK3_EPSG_NO_PREFIX,
    _GK6_EPSG_PREFIX,
    _HINT,
    GK3_ZONES,
    GK6_ZONES,
    _epsg,
    _int_zone,
    gk_epsg,
)
from geo.errors import CRSDetectionError

__all__ = ["DetectedCRS", "detect_crs"]

# China's extent used for recognising lon/lat.
_LON_RANGE = (73.0, 136.0)
_LAT_RANGE = (3.0, 54.0)
# Plausible GK eastings (without prefix) and northings for China.
_EASTING_RANGE = (100_000.0, 900_000.0)
_NORTHING_RANGE = (300_000.0, 6_100_000.0)
# Web Mercator x/y over China, only to word the error message well.
_WEBMERC_X = (8_100_000.0, 15_200_000.0)
_WEBMERC_Y = (330_000.0, 7_200_000.0)


@dataclass(frozen=True)
class DetectedCRS:
    """The outcome of :func:`detect_crs`.

    Attributes
    ----------
    crs
        The reference system the coordinates are in.
    swapped
        True when the columns are in the reverse order of GIS (x, y): latitude first,
        or X = northing / Y = easting as in 界址点 tables. Swap them before use.
    description
        One line of what was recognised, for logs and messages.
    """

    crs: pyproj.CRS
    swapped: bool
    description: str


def _finite_xy(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        xa = np.asarray(x, dtype=np.float64).ravel()
        ya = np.asarray(y, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        msg = f"detect_crs() needs numeric x and y, got {type(x).__name__}/{type(y).__name__}."
        raise CRSDetectionError(msg) from err
    if xa.shape != ya.shape:
        msg = f"detect_crs(): x and y differ in length ({xa.size} and {ya.size})."
        raise CRSDetectionError(msg)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if not ok.any():
        msg = (
            f"detect_crs(): none of the {xa.size} coordinate pairs is a finite number, so "
            f"the reference system cannot be detected; {_HINT}."
        )
        raise CRSDetectionError(msg)
    return xa[ok], ya[ok]


def _within(a: NDArray[np.float64], lo_hi: tuple[float, float]) -> bool:
    return bool((a >= lo_hi[0]).all() and (a <= lo_hi[1]).all())


def _fmt_range(a: NDArray[np.float64]) -> str:
    return f"{a.min():.6g} … {a.max():.6g}"


def _prefixed_zone(
    easting: NDArray[np.float64], northing: NDArray[np.float64]
) -> tuple[int, str] | None:
    """Return (zone, kind) if ``easting`` carries one GK zone prefix, else None."""
    if not _within(northing, (0.0, _NORTHING_RANGE[1])):
        return None
    prefixes = np.floor(easting / 1e6)
    if prefixes.min() != prefixes.max():
        return None
    zone = int(prefixes[0])
    if zone not in GK3_ZONES and zone not in GK6_ZONES:
        return None
    if not _within(easting - zone * 1e6, _EASTING_RANGE):
        return None
    return zone, ("3" if zone in GK3_ZONES else "6")


def _seen(x: NDArray[np.float64], y: NDArray[np.float64]) -> str:
    return f"{x.size} points with x {_fmt_range(x)} and y {_fmt_range(y)}"


def _gk_crs(zone: int, kind: str, prefixed: bool) -> tuple[pyproj.CRS, str]:
    if kind == "6":
        epsg = _GK6_EPSG_PREFIX + (zone - GK6_ZONES.start)
        cm = 6 * zone - 3
        text = f"CGCS2000 6-degree Gauss-Krüger zone {zone} (CM {cm}°E), prefixed eastings"
    else:
        epsg = gk_epsg(zone=zone, prefixed=prefixed)
        cm = 3 * zone
        pre = "prefixed" if prefixed else "plain"
        text = f"CGCS2000 3-degree Gauss-Krüger zone {zone} (CM {cm}°E), {pre} eastings"
    return _epsg(epsg), f"{text}, EPSG:{epsg}"


def detect_crs(
    x: ArrayLike,
    y: ArrayLike,
    *,
    zone: int | None = None,
    central_meridian: float | None = None,
) -> DetectedCRS:
    """Recognise the reference system of coordinates in China from their magnitudes.

    Recognised (every finite pair must fit the same case; NaN pairs are ignored):

    - lon/lat: x in 73…136, y in 3…54 → EPSG:4326 (CGCS2000 lon/lat is the same);
    - lat/lon swapped: → EPSG:4326 with ``swapped=True``;
    - Gauss-Krüger eastings with zone prefix (e.g. 39 4xx xxx, northing 0…6.1e6):
      3-degree zones 25…45 → EPSG:4513–4533; 6-degree zones 13…23 → EPSG:4491–4501
      (13…15 raise when the numbers also fit Web Mercator); also with the columns
      swapped (X = northing, Y = easting, as in 界址点 tables);
    - plain GK eastings (100 000…900 000) with northings (300 000…6 100 000), in either
      column order: the zone cannot be known from the numbers, so ``zone`` or
      ``central_meridian`` must be given (→ EPSG:4534–4554).

    Parameters
    ----------
    x, y
        The first and second coordinate columns as given (arrays or sequences).
    zone
        3-degree GK zone number (25…45) for plain eastings; checked against a prefix.
    central_meridian
        Alternative to ``zone``: the central meridian in degrees (e.g. 117).

    Returns
    -------
    DetectedCRS
        ``crs``, ``swapped`` and a one-line ``description``.

    Raises
    ------
    CRSDetectionError
        When the system cannot be decided (mixed magnitudes, values fitting no known
        system, plain GK without zone, prefixes 13–15 that are also Web Mercator, or a
        ``zone`` contradicting the prefix). The message gives the ranges of x and y
        and the option to pass (``crs="EPSG:4548"``, ``zone=39``, ``--crs``).

    Examples
    --------
    >>> detect_crs([116.3, 116.5], [39.8, 40.0]).crs.to_epsg()
    4326
    >>> d = detect_crs([4_420_000.0], [39_450_000.0])
    >>> d.crs.to_epsg(), d.swapped
    (4527, True)
    >>> detect_crs([450_000.0], [4_420_000.0], zone=39).crs.to_epsg()
    4548
    """
    xa, ya = _finite_xy(x, y)
    seen = _seen(xa, ya)

    # lon/lat in either order
    if _within(xa, _LON_RANGE) and _within(ya, _LAT_RANGE):
        return DetectedCRS(_epsg(4326), False, "lon/lat degrees (WGS84 = CGCS2000), EPSG:4326")
    if _within(ya, _LON_RANGE) and _within(xa, _LAT_RANGE):
        return DetectedCRS(
            _epsg(4326),
            True,
            "lat/lon degrees, columns swapped (latitude first), EPSG:4326",
        )

    # GK with zone prefix, GIS order or 界址点 order (X = northing, Y = easting)
    for swapped, easting, northing in ((False, xa, ya), (True, ya, xa)):
        found = _prefixed_zone(easting, northing)
        if found is None:
            continue
        pz, kind = found
        if kind == "6" and pz <= 15 and _within(xa, _WEBMERC_X) and _within(ya, _WEBMERC_Y):
            msg = (
                f"Cannot decide the CRS of {seen}: the eastings look like 6-degree "
                f"Gauss-Krüger zone {pz} with prefix (EPSG:{_GK6_EPSG_PREFIX + pz - 13}) but "
                'also like Web Mercator; pass crs="EPSG:3857" or '
                f'crs="EPSG:{_GK6_EPSG_PREFIX + pz - 13}" (--crs on the command line). '
                "(无法判断坐标系，请指定 --crs)"
            )
            raise CRSDetectionError(msg)
        if zone is not None and (kind != "3" or _int_zone(zone, "zone") != pz):
            msg = (
                f"zone={zone!r} contradicts the coordinates: the eastings carry the zone "
                f"prefix {pz} ({seen}). Drop `zone` or pass the matching crs."
            )
            raise CRSDetectionError(msg)
        crs, text = _gk_crs(pz, kind, prefixed=True)
        if swapped:
            text += "; columns swapped (X = northing, Y = easting)"
        return DetectedCRS(crs, swapped, text)

    # plain GK eastings
    plain = [
        swapped
        for swapped, easting, northing in ((False, xa, ya), (True, ya, xa))
        if _within(easting, _EASTING_RANGE) and _within(northing, _NORTHING_RANGE)
    ]
    if len(plain) == 2:
        msg = (
            f"Cannot decide the CRS of {seen}: both columns fit Gauss-Krüger eastings and "
            "northings, so their order is unknown; pass crs= with the columns in "
            f'(easting, northing) order, e.g. crs="EPSG:4548", or --crs. ({_HINT})'
        )
        raise CRSDetectionError(msg)
    if len(plain) == 1:
        swapped = plain[0]
        if zone is None and central_meridian is None:
            msg = (
                f"Cannot decide the CRS of {seen}: these are Gauss-Krüger eastings without "
                "zone prefix, and the zone cannot be known from the numbers. Pass zone= "
                '(e.g. zone=39 for CM 117°E, Beijing) or crs="EPSG:4548" (EPSG:4534–4554 '
                "for CM 75°E…135°E), or --crs on the command line. "
                "(高斯-克吕格坐标无带号，请指定带号或 --crs EPSG:4548)"
            )
            raise CRSDetectionError(msg)
        if zone is not None and central_meridian is not None:
            msg = (
                f"Pass either zone= or central_meridian=, not both (got zone={zone!r}, "
                f"central_meridian={central_meridian!r})."
            )
            raise CRSDetectionError(msg)
        if zone is not None:
            epsg = gk_epsg(zone=zone)
        else:
            epsg = gk_epsg(central_meridian=central_meridian)
        crs, text = _gk_crs(epsg - _GK3_EPSG_NO_PREFIX + GK3_ZONES.start, "3", prefixed=False)
        if swapped:
            text += "; columns swapped (X = northing, Y = easting)"
        return DetectedCRS(crs, swapped, text)

    # nothing fits: say what was seen and what to pass
    hints = []
    if _within(xa, _WEBMERC_X) and _within(ya, _WEBMERC_Y):
        hints.append('if this is Web Mercator pass crs="EPSG:3857"')
    lonlat = (xa >= _LON_RANGE[0]) & (xa <= _LON_RANGE[1])
    if lonlat.any() and not lonlat.all():
        hints.append(f"{int(lonlat.sum())} of {xa.size} x values look like longitudes")
    extra = ("; " + "; ".join(hints)) if hints else ""
    msg = (
        f"Cannot detect the CRS of {seen}: the values fit no supported system in China "
        "(lon/lat 73…136 / 3…54, Gauss-Krüger eastings with or without zone prefix) or "
        f"mix several{extra}. Check the columns, or {_HINT}. "
        "(无法识别坐标系，请检查坐标列或指定 --crs)"
    )
    raise CRSDetectionError(msg)
