"""Scale of ecozone's metric planes: plane lengths made ellipsoidal, and back.

ecozone measures distances and buffers in the plane of a Transverse Mercator zone: the
CGCS2000 3-degree Gauss-Krüger zone of the data (EPSG:4534–4554), UTM outside China's
longitudes (:func:`geo.crs.metric_epsg`). Such a plane is conformal: a short length
there is its length on the ellipsoid times the **point scale factor** ``k``, which is
``k0`` on the central meridian (1 for Gauss-Krüger, 0.9996 for UTM) and grows with the
distance ``x`` from it as ``k0·cosh(x / (k0·R))``, ``R = √(ρν)`` the ellipsoid's mean
radius of curvature at the latitude. At a 3-degree zone's edge ``k − 1`` reaches about
2·10⁻⁴ in Beijing and 2.9·10⁻⁴ in Guangxi: a plane distance 29 cm per km too long, so
a site 2 999.3 m from a feature would seem 3 000.2 m from it.

A straight plane segment from ``a`` to ``b`` is as long as the geodesic between them
times the mean of ``k`` along the segment; the geodesic's curvature in the plane changes
its length by less than 10⁻⁹ over 10 km. So :meth:`PlaneScale.ellipsoidal` divides a
plane distance by that mean along the shortest line (``k`` at the middle alone would be
1 mm short over 10 km; at one end, 20 cm; :meth:`PlaneScale.distance` does it for
geometry pairs), and
:meth:`PlaneScale.plane` multiplies an ellipsoidal length by ``k`` where a buffer is
drawn (:meth:`PlaneScale.plane_at` at the centre of each geometry's box). The tests
compare both with :class:`pyproj.Geod` and with PROJ's own factors.

Functions
---------
- :func:`plane_scale` — the :class:`PlaneScale` of a metric CRS (cached by EPSG code);
- :func:`shortest_ends` — ends of the shortest line between geometry pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import CRSDetectionError

__all__ = ["ARC_PER_RAD", "PlaneScale", "plane_scale", "shortest_ends"]

#: Metres of meridian arc per radian (GRS80 mean): a latitude from a northing for the
#: radius of curvature, whose change over 0.2° moves k by less than 10⁻¹⁰.
ARC_PER_RAD = 6_367_449.0
_MAX_LAT = np.radians(89.0)


@dataclass(frozen=True)
class PlaneScale:
    """Point scale factor of one Transverse Mercator plane.

    Attributes
    ----------
    k0
        Scale factor on the central meridian.
    false_easting, false_northing
        Plane coordinates of the natural origin (m).
    a
        Semi-major axis of the ellipsoid (m).
    e2
        First eccentricity squared of the ellipsoid.
    """

    k0: float
    false_easting: float
    false_northing: float
    a: float
    e2: float

    def k(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Point scale factor at plane coordinates ``x, y`` (metres).

        Parameters
        ----------
        x, y
            Easting and northing in this plane (arrays broadcast).

        Returns
        -------
        numpy.ndarray
            ``k`` per point: plane length / ellipsoidal length of a short line there.
        """
        u = (np.asarray(x, dtype=np.float64) - self.false_easting) * self._inv_kr(y)
        return self.k0 * np.cosh(u)

    def _inv_kr(self, y: ArrayLike) -> NDArray[np.float64]:
        """``1 / (k0·R)`` at northing ``y``, ``R = √(ρν)`` at the latitude it stands for."""
        y = np.asarray(y, dtype=np.float64)
        phi = np.clip((y - self.false_northing) / (self.k0 * ARC_PER_RAD), -_MAX_LAT, _MAX_LAT)
        return (1.0 - self.e2 * np.sin(phi) ** 2) / (self.k0 * self.a * np.sqrt(1.0 - self.e2))

    def k_max(self, offset_m: float) -> float:
        """The largest ``k`` within ``offset_m`` of the central meridian, at any latitude.

        Parameters
        ----------
        offset_m
            Largest ``|x − false_easting|`` of the places concerned (m).

        Returns
        -------
        float
            An upper bound of ``k`` there (at the equator, where ``R`` is least).
        """
        radius = self.a * np.sqrt(1.0 - self.e2)  # √(ρν) is least at the equator
        return float(self.k0 * np.cosh(abs(float(offset_m)) / (self.k0 * radius)))

    def ellipsoidal(
        self,
        plane_m: ArrayLike,
        ax: ArrayLike,
        ay: ArrayLike,
        bx: ArrayLike,
        by: ArrayLike,
    ) -> NDArray[np.float64]:
        """Ellipsoidal length of straight plane segments from ``a`` to ``b``.

        Parameters
        ----------
        plane_m
            Lengths in this plane (m).
        ax, ay, bx, by
            Plane coordinates of each segment's ends.

        Returns
        -------
        numpy.ndarray
            ``plane_m`` divided by the mean of ``k`` along the segment: the geodesic
            distance between the ends.

        Notes
        -----
        With ``u = (x − x₀)/(k0·R)`` linear along the segment, the mean of ``u²`` is
        ``(ua² + ua·ub + ub²)/3`` and the mean of ``k = k0·cosh(u)`` is ``k0·cosh`` of
        its root to the fourth order; ``R`` is taken at the middle's latitude. Against
        :class:`pyproj.Geod`: 0.1 mm over 10 km, at a zone's edge.
        """
        ax, bx = np.asarray(ax, dtype=np.float64), np.asarray(bx, dtype=np.float64)
        inv_kr = self._inv_kr((np.asarray(ay, dtype=np.float64) + np.asarray(by)) * 0.5)
        ua = (ax - self.false_easting) * inv_kr
        ub = (bx - self.false_easting) * inv_kr
        mean_u2 = (ua * ua + ua * ub + ub * ub) * (1.0 / 3.0)
        return np.asarray(plane_m, dtype=np.float64) / (self.k0 * np.cosh(np.sqrt(mean_u2)))

    def distance(
        self, a: ArrayLike, b: ArrayLike, plane_m: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Ellipsoidal distance between geometries of this plane, pair by pair.

        Parameters
        ----------
        a, b
            Geometries in this plane (element-wise pairs, broadcast as by shapely).
        plane_m
            Their plane distances when already measured (``shapely.distance(a, b)``).

        Returns
        -------
        numpy.ndarray
            The shortest line's length on the ellipsoid (:meth:`ellipsoidal`); NaN
            where either geometry is empty or missing.
        """
        d = shapely.distance(a, b) if plane_m is None else plane_m
        return self.ellipsoidal(d, *shortest_ends(a, b))

    def plane(self, ellipsoidal_m: ArrayLike, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Plane length, at ``x, y``, of an ellipsoidal length (a buffer radius, say).

        Parameters
        ----------
        ellipsoidal_m
            Lengths on the ellipsoid (m).
        x, y
            Where in this plane they are drawn.

        Returns
        -------
        numpy.ndarray
            ``ellipsoidal_m · k(x, y)``.
        """
        return np.asarray(ellipsoidal_m, dtype=np.float64) * self.k(x, y)

    def plane_at(self, ellipsoidal_m: ArrayLike, geoms: ArrayLike) -> NDArray[np.float64]:
        """:meth:`plane` at the centre of each geometry's box (buffer radii around them).

        Parameters
        ----------
        ellipsoidal_m
            Lengths on the ellipsoid (m): one, or one per geometry.
        geoms
            Geometries in this plane.

        Returns
        -------
        numpy.ndarray
            One plane length per geometry (NaN for empty or missing ones).
        """
        b = shapely.bounds(np.atleast_1d(np.asarray(geoms, dtype=object)))
        return self.plane(ellipsoidal_m, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)


@lru_cache(maxsize=64)
def _scale_of_epsg(code: int) -> PlaneScale:
    return _scale_of(pyproj.CRS.from_epsg(code))


def _scale_of(crs: pyproj.CRS) -> PlaneScale:
    op = crs.coordinate_operation
    if op is None or op.method_name != "Transverse Mercator":
        msg = (
            f"{crs.name} is not a Transverse Mercator plane; ecozone measures distances "
            f"in Gauss-Krüger or UTM zones (geo.crs.metric_epsg)."
        )
        raise CRSDetectionError(msg)
    params = {p.code: float(p.value) for p in op.params}
    ell = crs.ellipsoid
    return PlaneScale(
        k0=params["8805"],
        false_easting=params["8806"],
        false_northing=params["8807"],
        a=float(ell.semi_major_metre),
        e2=1.0 - (float(ell.semi_minor_metre) / float(ell.semi_major_metre)) ** 2,
    )


def plane_scale(crs: Any) -> PlaneScale:
    """The :class:`PlaneScale` of a Transverse Mercator CRS (Gauss-Krüger, UTM).

    Parameters
    ----------
    crs
        An EPSG code or anything :meth:`pyproj.CRS.from_user_input` accepts.

    Returns
    -------
    PlaneScale

    Raises
    ------
    CRSDetectionError
        If the CRS is not a Transverse Mercator projection.

    Examples
    --------
    >>> s = plane_scale(4548)  # CGCS2000 3° Gauss-Krüger, central meridian 117°E
    >>> round(float(s.k(500_000 + 150_000, 4_420_000)), 6)  # 150 km from it
    1.000277
    """
    if isinstance(crs, int | np.integer):
        return _scale_of_epsg(int(crs))
    c = pyproj.CRS.from_user_input(crs)
    code = c.to_epsg()
    return _scale_of_epsg(code) if code is not None else _scale_of(c)


def shortest_ends(
    a: ArrayLike, b: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Ends of the shortest line between each pair of geometries (same plane).

    Parameters
    ----------
    a, b
        Geometries, element-wise pairs (broadcast like :func:`shapely.shortest_line`).

    Returns
    -------
    tuple of numpy.ndarray
        ``ax, ay, bx, by``: the nearest point of ``a`` to ``b`` and of ``b`` to ``a``
        (NaN where either geometry is empty or missing).
    """
    lines = np.atleast_1d(shapely.shortest_line(a, b))
    out = np.full((len(lines), 4), np.nan)
    ok = ~shapely.is_missing(lines)
    if ok.any():
        out[ok] = shapely.get_coordinates(lines[ok]).reshape(-1, 4)
    return out[:, 0], out[:, 1], out[:, 2], out[:, 3]
