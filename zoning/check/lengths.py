"""Length of line sites inside polygon features (geodesic), for :mod:`zoning.check.relations`."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.measure import geodesic_length


def lengths_inside(
    sites_ll: NDArray[Any],
    features_ll: NDArray[Any],
    line: NDArray[np.bool_],
    inside: NDArray[np.bool_],
    total_m: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Length (m) of each (site, feature) pair's line inside the feature, and its share (%).

    Parameters
    ----------
    sites_ll, features_ll
        Pair geometries in lon/lat (EPSG:4326).
    line
        Pairs of a line site and a polygon feature that intersect (others get NaN).
    inside
        Pairs whose site lies wholly inside the feature (length = the site's length).
    total_m
        Geodesic length of each pair's site.

    Returns
    -------
    tuple of numpy.ndarray
        Ellipsoidal (GRS80, :func:`geo.measure.geodesic_length`) length of the
        intersection, vectorised over the pairs, and its share of the site's length.
    """
    length = np.full(len(line), np.nan)
    if not line.any():
        return length, np.full(len(line), np.nan)
    full = line & inside
    length[full] = total_m[full]
    part = line & ~full
    if part.any():  # intersection in lon/lat, measured on the ellipsoid
        inter = shapely.intersection(sites_ll[part], features_ll[part])
        length[part] = geodesic_length(inter, "EPSG:4326")
    pct = np.full(len(line), np.nan)
    ok = line & (total_m > 0)
    pct[ok] = np.minimum(length[ok] / total_m[ok] * 100.0, 100.0)
    return length, pct
