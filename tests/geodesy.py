"""The tests' reference for distances: pyproj.Geod along the plane's shortest line.

ecozone finds the shortest line between two geometries in a Gauss-Krüger (or UTM)
plane and gives its length on the ellipsoid (:mod:`geo.scale`). The reference here
measures the same line's ends with :class:`pyproj.Geod` on GRS80, independently of
ecozone's code.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod, Transformer


def geod_of_shortest_lines(a_m: np.ndarray, b_m: np.ndarray, epsg: int) -> np.ndarray:
    """pyproj.Geod's length of the shortest line between plane geometries, pair by pair.

    Parameters
    ----------
    a_m, b_m
        Geometries in the plane ``epsg``, element-wise pairs.
    epsg
        The plane (a Transverse Mercator CRS).

    Returns
    -------
    numpy.ndarray
        Metres on GRS80, per pair.
    """
    ends = shapely.get_coordinates(shapely.shortest_line(a_m, b_m)).reshape(-1, 2, 2)
    back = Transformer.from_crs(epsg, 4326, always_xy=True)
    lon0, lat0 = back.transform(ends[:, 0, 0], ends[:, 0, 1])
    lon1, lat1 = back.transform(ends[:, 1, 0], ends[:, 1, 1])
    return Geod(ellps="GRS80").inv(lon0, lat0, lon1, lat1)[2]
