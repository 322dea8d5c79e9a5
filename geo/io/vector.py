"""GDAL vector formats through pyogrio: GeoJSON, GeoPackage, GeoParquet, others.

Every reader returns a GeoDataFrame with ``.crs`` set and a ``source_row`` column
(the feature's position in the file, 1-based), after the checks of
:mod:`geo.io._issues`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
import shapely.errors

from geo.errors import CRSDetectionError, GeometryRepairedWarning, InputFormatError
from geo.io._coords import finalize_features
from geo.io._issues import IssueLog, check_errors_mode

_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)


@contextmanager
def _quiet_gdal() -> Iterator[None]:
    """Silence GDAL's complaint about a GeoPackage with another suffix: we sniff content."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "File .* has GPKG application_id, but non conformant")
        yield


def with_source_row(gdf: gpd.GeoDataFrame, rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` with ``source_row`` as first column (default: position + 1)."""
    out = gdf.copy()
    if "source_row" in out.columns:
        out = out.drop(columns="source_row")
    values = np.arange(1, len(out) + 1) if rows is None else np.asarray(rows)
    out.insert(0, "source_row", values.astype(np.int64))
    return out.reset_index(drop=True)


def spatial_layers(path: str | Path, *, source: str | None = None) -> list[str]:
    """Names of the layers with geometry in a GDAL data source."""
    try:
        with _quiet_gdal():
            layers = pyogrio.list_layers(path)
    except _PYOGRIO_ERRORS as err:
        msg = f"{source or path}: GDAL 无法打开 / GDAL cannot open the file ({err})."
        raise InputFormatError(msg) from err
    return [str(name) for name, gtype in layers if gtype is not None]


def choose_layer(path: str | Path, layer: str | int | None, *, source: str) -> str:
    """Pick the layer to read, with an error listing the layers when it is ambiguous."""
    names = spatial_layers(path, source=source)
    if isinstance(layer, int):
        if 0 <= layer < len(names):
            return names[layer]
        msg = f"{source}: layer={layer} 超出范围 / out of range; layers: {names}."
        raise InputFormatError(msg)
    if layer is not None:
        if layer in names:
            return layer
        msg = (
            f"{source}: 没有图层 / no layer named {layer!r}. "
            f"可用图层 / layers with geometry: {names}. Pass one as layer=."
        )
        raise InputFormatError(msg)
    if not names:
        msg = f"{source}: 文件中没有带几何的图层 / the file holds no layer with geometry."
        raise InputFormatError(msg)
    if len(names) > 1:
        msg = (
            f"{source}: 文件包含多个图层，请用 layer= 指定 / the file holds {len(names)} "
            f"layers; choose one with layer=: {names}."
        )
        raise InputFormatError(msg)
    return names[0]


def _repaired(source: str, err: Exception) -> str:
    return (
        f"{source}: 几何已修复 / a geometry could not be read as it is and was fixed (an "
        f"unclosed polygon ring was closed): {err}. Check the layer in QGIS and fix it at "
        "the source."
    )


def geometries_from_wkb(values: Any, source: str) -> np.ndarray:
    """Shapely geometries of WKB ``values``, repaired as :func:`read_ogr` repairs them.

    A geometry GEOS cannot build as it is (a polygon ring whose last point is not its
    first) is fixed, with a :class:`GeometryRepairedWarning` naming ``source``.
    """
    try:
        return shapely.from_wkb(values)
    except shapely.errors.GEOSException as err:
        warnings.warn(_repaired(source, err), GeometryRepairedWarning, stacklevel=2)
        return shapely.from_wkb(values, on_invalid="fix")


def read_ogr(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    source: str | None = None,
    skip_features: int = 0,
    max_features: int | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer (or a run of its features) with pyogrio and number them (no checks yet).

    ``skip_features`` / ``max_features`` read a run of features (chunked reading,
    :mod:`geo.io.chunks`); ``source_row`` then still counts from 1 (the caller renumbers).
    """
    source = source or str(path)
    run = {"skip_features": skip_features, "max_features": max_features}
    try:
        with _quiet_gdal():
            try:
                gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, **run)
            except shapely.errors.GEOSException as err:
                # e.g. a polygon ring whose last point is not its first: close it and
                # say so, rather than fail with a GEOS message
                gdf = pyogrio.read_dataframe(
                    path, layer=layer, encoding=encoding, on_invalid="fix", **run
                )
                warnings.warn(_repaired(source, err), GeometryRepairedWarning, stacklevel=2)
    except _PYOGRIO_ERRORS as err:
        msg = (
            f"{source}: 文件无法读取，可能已损坏或不完整 / the file cannot be read; it may be "
            f"damaged or truncated ({err}). Copy or export it again."
        )
        raise InputFormatError(msg) from err
    except UnicodeDecodeError as err:
        msg = (
            f"{source}: 文本编码错误 / text is not in encoding {encoding!r} ({err}). "
            "Pass the right encoding=, e.g. encoding='gb18030'."
        )
        raise InputFormatError(msg) from err
    return with_source_row(gdf)


def read_geojson(
    path: str | Path,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a GeoJSON file (FeatureCollection, Feature or bare geometry).

    Parameters
    ----------
    path
        The file.
    crs
        Relabel the data (GeoJSON is lon/lat WGS84 by definition; legacy files may
        carry another CRS, which is kept).
    coords
        Lon/lat system of the coordinates: "wgs84" (or "cgcs2000"), "gcj02", "bd09";
        the last two are converted to WGS84.
    errors
        "report" (reject bad features with a warning) or "raise".

    Returns
    -------
    geopandas.GeoDataFrame
        Features with ``source_row`` (feature number, 1-based) and
        ``attrs["issues"]``.

    Raises
    ------
    InputFormatError
        If the file is not valid GeoJSON.
    """
    check_errors_mode(errors)
    log = IssueLog(str(path), errors)
    if crs is None:
        _check_declared_crs(Path(path))
    gdf = read_ogr(path, source=log.source)
    return finalize_features(gdf, crs=crs, coords=coords, zone=None, log=log)


_CRS_MEMBER = re.compile(
    rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]{1,200})"'
)


def _check_declared_crs(path: Path) -> None:
    """Refuse a GeoJSON whose legacy ``crs`` member names an unknown system.

    GDAL falls back to WGS84 for a name it cannot resolve (``EPSG:999999``), which
    would read the coordinates in a system the file does not claim.

    Raises
    ------
    CRSDetectionError
        Naming the declared value and the fixes.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    m = _CRS_MEMBER.search(head)
    if m is None:
        return
    name = m.group(1).decode("utf-8", "replace")
    try:
        CRS.from_user_input(name)
    except CRSError:
        msg = (
            f"{path}: 未知坐标系 / the file declares the coordinate system {name!r}, which is "
            'not a known CRS. Fix or remove its "crs" member (GeoJSON is WGS84 lon/lat), '
            "or give the right one with crs=."
        )
        raise CRSDetectionError(msg) from None


def read_gpkg(
    path: str | Path,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    coords: str = "wgs84",
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read one layer of a GeoPackage.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    layer
        Layer name or index; needed when the file holds several layers with geometry.
    crs, coords, errors
        As for :func:`read_geojson`.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's features with ``source_row`` and ``attrs["issues"]``.

    Raises
    ------
    InputFormatError
        If the layer is ambiguous or missing (the message lists the layers).
    """
    check_errors_mode(errors)
    log = IssueLog(str(path), errors)
    name = choose_layer(path, layer, source=log.source)
    gdf = read_ogr(path, layer=name, source=log.source)
    return finalize_features(gdf, crs=crs, coords=coords, zone=None, log=log)


def read_gdal(
    path: str | Path,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    encoding: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read any other vector format GDAL knows (FileGDB, GML, GPX, ...).

    Parameters
    ----------
    path
        The file or folder (``.gdb``).
    layer
        Layer name or index; needed when the source holds several.
    crs, coords, errors
        As for :func:`read_geojson`.
    zone
        3° Gauss-Krüger zone for detecting the CRS of data that has none.
    encoding
        Encoding of the attribute text when GDAL cannot tell.

    Returns
    -------
    geopandas.GeoDataFrame
        Features with ``source_row`` and ``attrs["issues"]``.

    Raises
    ------
    InputFormatError
        If GDAL cannot open the source or the layer is ambiguous or missing.
    """
    check_errors_mode(errors)
    log = IssueLog(str(path), errors)
    name = choose_layer(path, layer, source=log.source)
    gdf = read_ogr(path, layer=name, encoding=encoding, source=log.source)
    return finalize_features(gdf, crs=crs, coords=coords, zone=zone, log=log)


def read_parquet(
    path: str | Path,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a GeoParquet file; a plain Parquet table with lon/lat columns also works.

    Parameters
    ----------
    path
        The ``.parquet`` file.
    crs, coords, errors
        As for :func:`read_geojson`.
    zone, lon_col, lat_col
        For a plain Parquet table, as for :func:`geo.io.read_table`.

    Returns
    -------
    geopandas.GeoDataFrame
        Rows with ``source_row`` (row number, 1-based) and ``attrs["issues"]``.
    """
    check_errors_mode(errors)
    log = IssueLog(str(path), errors)
    try:
        gdf = gpd.read_parquet(path)
    except ValueError as err:
        if "geo" not in str(err).lower():
            msg = f"{path}: Parquet 文件无法读取 / cannot read the Parquet file ({err})."
            raise InputFormatError(msg) from err
        # No GeoParquet metadata: treat it as a table with coordinate columns.
        from geo.io.table import frame_to_geodataframe

        frame = pd.read_parquet(path)
        rows = np.arange(1, len(frame) + 1)
        return frame_to_geodataframe(
            frame,
            rows,
            log=log,
            crs=crs,
            coords=coords,
            zone=zone,
            lon_col=lon_col,
            lat_col=lat_col,
        )
    except Exception as err:  # pyarrow raises ArrowInvalid etc. for damaged files
        msg = (
            f"{path}: Parquet 文件无法读取，可能已损坏 / cannot read the Parquet file; it may "
            f"be damaged or truncated ({err})."
        )
        raise InputFormatError(msg) from err
    gdf = with_source_row(gdf)
    return finalize_features(gdf, crs=crs, coords=coords, zone=zone, log=log)
