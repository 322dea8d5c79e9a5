"""geo.io: readers and writers for every vector input people bring.

:func:`read_vector` recognises the format by content and returns a GeoDataFrame
with ``.crs``, a ``source_row`` column and ``attrs["issues"]``; the specific readers
below do the same for one format. :func:`write_vector` writes atomically.
"""

from geo.io._issues import ReadIssue
from geo.io._sniff import ACCEPTED_FORMATS, sniff_format
from geo.io.boundary_points import read_boundary_points
from geo.io.dxf import read_dxf
from geo.io.kml import read_kml
from geo.io.reader import read_vector
from geo.io.shapefile import detect_dbf_encoding, read_shapefile, read_zip
from geo.io.table import read_table
from geo.io.text import parse_coordinates
from geo.io.vector import read_gdal, read_geojson, read_gpkg, read_parquet
from geo.io.writers import OutputExistsError, write_vector

__all__ = [
    "ACCEPTED_FORMATS",
    "OutputExistsError",
    "ReadIssue",
    "detect_dbf_encoding",
    "parse_coordinates",
    "read_boundary_points",
    "read_dxf",
    "read_gdal",
    "read_geojson",
    "read_gpkg",
    "read_kml",
    "read_parquet",
    "read_shapefile",
    "read_table",
    "read_vector",
    "read_zip",
    "sniff_format",
    "write_vector",
]
