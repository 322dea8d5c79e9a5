"""geo: coordinates, measurement and file input/output done right for China.

- :mod:`geo.crs` — CGCS2000/WGS84, 3° Gauss-Krüger zones, metric CRSs, the transformer cache
- :mod:`geo.detect` — the CRS of bare coordinates (magnitudes, swapped axes)
- :mod:`geo.chinacoords` — WGS84 ⇄ GCJ-02 (AMap/Tencent) ⇄ BD-09 (Baidu)
- :mod:`geo.convert` — one call between any of those and any projected CRS
- :mod:`geo.measure` — ellipsoidal area, perimeter, length; metric distance and buffers
- :mod:`geo.scale` — the scale factor of the metric planes: plane lengths made ellipsoidal
- :mod:`geo.io` — ``read_vector`` for every file people bring; ``write_vector``
- :mod:`geo.raster` — GeoTIFF grids in a metric CRS
- :mod:`geo.pip` — point-in-polygon for millions of points (``points_in_polygons``; a
  ``PointGrid`` answering most points of repeated queries by cell); :mod:`geo.cores` —
  cores to use
"""

from typing import TYPE_CHECKING

from geo.lazy import lazy_exports

if TYPE_CHECKING:  # the names below, imported on first use (geo/lazy.py)
    from geo.chinacoords import convert_coords, convert_gdf, convert_geometry
    from geo.convert import convert_xy
    from geo.crs import equal_area_crs, gk_epsg, local_metric_crs
    from geo.detect import detect_crs
    from geo.errors import (
        ChecksumMismatchError,
        CRSDetectionError,
        EcozoneError,
        EcozoneWarning,
        GeometryError,
        GeometryRepairedWarning,
        InputFormatError,
        LayerNotFoundError,
        LayerValidationError,
        MissingLayerError,
        OutsideJurisdictionError,
        PackError,
        RowRejectedWarning,
        StoreError,
    )
    from geo.io import parse_coordinates, read_vector, write_vector
    from geo.measure import buffer_m, distance_m, geodesic_area, geodesic_length, measure

_EXPORTS = {
    "convert_coords": "geo.chinacoords",
    "convert_gdf": "geo.chinacoords",
    "convert_geometry": "geo.chinacoords",
    "convert_xy": "geo.convert",
    "detect_crs": "geo.detect",
    "equal_area_crs": "geo.crs",
    "gk_epsg": "geo.crs",
    "local_metric_crs": "geo.crs",
    "ChecksumMismatchError": "geo.errors",
    "CRSDetectionError": "geo.errors",
    "EcozoneError": "geo.errors",
    "EcozoneWarning": "geo.errors",
    "GeometryError": "geo.errors",
    "GeometryRepairedWarning": "geo.errors",
    "InputFormatError": "geo.errors",
    "OutsideJurisdictionError": "geo.errors",
    "LayerNotFoundError": "geo.errors",
    "LayerValidationError": "geo.errors",
    "MissingLayerError": "geo.errors",
    "PackError": "geo.errors",
    "RowRejectedWarning": "geo.errors",
    "StoreError": "geo.errors",
    "parse_coordinates": "geo.io",
    "read_vector": "geo.io",
    "write_vector": "geo.io",
    "buffer_m": "geo.measure",
    "distance_m": "geo.measure",
    "geodesic_area": "geo.measure",
    "geodesic_length": "geo.measure",
    "measure": "geo.measure",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CRSDetectionError",
    "ChecksumMismatchError",
    "EcozoneError",
    "EcozoneWarning",
    "GeometryError",
    "GeometryRepairedWarning",
    "InputFormatError",
    "LayerNotFoundError",
    "LayerValidationError",
    "MissingLayerError",
    "OutsideJurisdictionError",
    "PackError",
    "RowRejectedWarning",
    "StoreError",
    "buffer_m",
    "convert_coords",
    "convert_gdf",
    "convert_geometry",
    "convert_xy",
    "detect_crs",
    "distance_m",
    "equal_area_crs",
    "geodesic_area",
    "geodesic_length",
    "gk_epsg",
    "local_metric_crs",
    "measure",
    "parse_coordinates",
    "read_vector",
    "write_vector",
]
