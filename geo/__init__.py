"""geo: coordinates, measurement and file input/output done right for China.

- :mod:`geo.crs` — CGCS2000/WGS84, 3° Gauss-Krüger zones, CRS detection, metric CRSs
- :mod:`geo.chinacoords` — WGS84 ⇄ GCJ-02 (AMap/Tencent) ⇄ BD-09 (Baidu)
- :mod:`geo.convert` — one call between any of those and any projected CRS
- :mod:`geo.measure` — ellipsoidal area, perimeter, length; metric distance and buffers
- :mod:`geo.io` — ``read_vector`` for every file people bring; ``write_vector``
- :mod:`geo.raster` — GeoTIFF grids in a metric CRS
"""

from geo.chinacoords import convert_coords, convert_gdf, convert_geometry
from geo.convert import convert_xy
from geo.crs import detect_crs, equal_area_crs, gk_epsg, local_metric_crs
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
    PackError,
    RowRejectedWarning,
    StoreError,
)
from geo.io import parse_coordinates, read_vector, write_vector
from geo.measure import buffer_m, distance_m, geodesic_area, geodesic_length, measure

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
