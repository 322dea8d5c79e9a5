"""One entry point for every vector input: :func:`read_vector`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd

from geo.chinacoords import normalise_system
from geo.errors import InputFormatError
from geo.io._coords import as_crs
from geo.io._issues import check_errors_mode
from geo.io._sniff import accepted_formats_text, sniff_format
from geo.io.dxf import read_dxf
from geo.io.kml import read_kml
from geo.io.shapefile import read_shapefile, read_zip
from geo.io.table import read_table
from geo.io.vector import read_gdal, read_geojson, read_gpkg, read_parquet

log = logging.getLogger(__name__)


def read_vector(
    path: str | Path,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    errors: str = "report",
    max_vertices: int | None = None,
) -> gpd.GeoDataFrame:
    """Read any vector input people bring, recognised by content rather than suffix.

    Dispatch: SQLite header → GeoPackage; ``PAR1`` → (Geo)Parquet; zip → Excel
    (``xl/workbook.xml``), KMZ (a ``.kml`` and no ``.shp``) or zipped shapefile;
    ``{`` → GeoJSON; ``<kml`` → KML; other XML → GDAL (GML, GPX); DXF header → DXF;
    shapefile magic or ``.shp``/``.dbf``/``.shx`` → shapefile; other text → a table
    with lon/lat columns, a WKT column, or 界址点 point/X/Y columns (→ polygons).

    Parameters
    ----------
    path
        The file (a ``.gdb`` folder works too).
    crs
        CRS of data that carries none (tables, DXF, shapefiles without ``.prj``);
        anything ``pyproj.CRS.from_user_input`` accepts. Required for DXF.
        Without it, table coordinates are detected (:func:`geo.detect.detect_crs`).
    coords
        Lon/lat system of the input: "wgs84" (= "cgcs2000"), "gcj02" (AMap,
        Tencent) or "bd09" (Baidu); the last two are converted to WGS84.
    zone
        3° Gauss-Krüger zone (Beijing 39) for eastings without zone prefix.
    layer
        GeoPackage/FileGDB layer, Excel sheet, shapefile in a zip, or DXF layer.
    encoding
        Text encoding of a CSV or shapefile .dbf (default: detected; UTF-8 or GB18030).
    lon_col, lat_col
        Coordinate columns of a table whose headers are not recognised.
    errors
        "report": bad rows/features are left out, warned about
        (:class:`~geo.errors.RowRejectedWarning`) and listed in
        ``gdf.attrs["issues"]``; "raise": :class:`~geo.errors.InputFormatError`
        at the first one.
    max_vertices
        DXF: stop exploding block references once the entities and vertices read
        pass this (default :data:`geo.io.dxf.DXF_MAX_VERTICES`).

    Returns
    -------
    geopandas.GeoDataFrame
        With ``.crs`` set (the file's own CRS when it has one: nothing is
        reprojected, except GCJ-02/BD-09 → WGS84), a ``source_row`` column (1-based
        row/feature number in the file: CSV line with header = line 1, Excel row,
        feature index + 1) and ``attrs["issues"]`` (list of
        :meth:`ReadIssue.as_dict() <geo.io.ReadIssue.as_dict>` records). Invalid
        geometries are repaired with ``make_valid`` (warned with
        :class:`~geo.errors.GeometryRepairedWarning`).

    Raises
    ------
    InputFormatError
        Unrecognised content (the message lists the accepted formats), an empty or
        truncated file, missing shapefile parts, an unsafe or shapefile-less zip,
        a table without coordinate columns, a DXF without ``crs``.
    CRSDetectionError
        Coordinates that fit no known CRS, or eastings without zone prefix and no
        ``zone``/``crs``.

    Examples
    --------
    >>> sites = read_vector("项目选址.xlsx", coords="gcj02")  # doctest: +SKIP
    >>> parcels = read_vector("界址点.csv", zone=39)  # doctest: +SKIP
    >>> parcels.attrs["issues"]  # doctest: +SKIP
    []
    """
    check_errors_mode(errors)
    normalise_system(coords)
    path = Path(path)
    kind = sniff_format(path)
    log.debug("read_vector %s as %s", path, kind)
    if kind == "gpkg":
        return read_gpkg(path, layer=layer, crs=crs, coords=coords, errors=errors)
    if kind == "parquet":
        return read_parquet(
            path, crs=crs, coords=coords, zone=zone, lon_col=lon_col, lat_col=lat_col, errors=errors
        )
    if kind == "zip":
        return read_zip(
            path,
            layer=layer if isinstance(layer, str) else None,
            crs=crs,
            coords=coords,
            zone=zone,
            encoding=encoding,
            errors=errors,
        )
    if kind in ("kml", "kmz"):
        if crs is not None and not as_crs(crs).is_geographic:
            msg = (
                f"{path}: KML 坐标总是经纬度 / KML coordinates are always lon/lat (WGS84); "
                f"crs={crs!r} does not apply. Drop crs=."
            )
            raise InputFormatError(msg)
        return read_kml(path, coords=coords, errors=errors)
    if kind == "geojson":
        return read_geojson(path, crs=crs, coords=coords, errors=errors)
    if kind == "dxf":
        dxf_layer = layer if isinstance(layer, str) else None
        return read_dxf(
            path, crs=crs, zone=zone, layer=dxf_layer, errors=errors, max_vertices=max_vertices
        )
    if kind == "shapefile":
        return read_shapefile(
            path, crs=crs, coords=coords, zone=zone, encoding=encoding, errors=errors
        )
    if kind == "gdal":
        try:
            return read_gdal(
                path,
                layer=layer,
                crs=crs,
                coords=coords,
                zone=zone,
                encoding=encoding,
                errors=errors,
            )
        except InputFormatError as err:
            msg = f"{err} {accepted_formats_text()}"
            raise InputFormatError(msg) from err
    # xlsx and delimited text
    try:
        return read_table(
            path,
            crs=crs,
            coords=coords,
            zone=zone,
            layer=layer,
            encoding=encoding,
            lon_col=lon_col,
            lat_col=lat_col,
            errors=errors,
        )
    except InputFormatError as err:
        if kind == "table" and "no coordinate columns" in str(err):
            msg = f"{err} 若不是表格 / if this is not a table: {accepted_formats_text()}"
            raise InputFormatError(msg) from err
        raise
