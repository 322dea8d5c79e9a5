"""Writing GeoDataFrames: GeoPackage, GeoJSON, GeoParquet, Shapefile, CSV.

Every write goes to a temporary folder beside the target and is moved into place
with :func:`os.replace`, so an interrupted write leaves the previous file intact.

GeoPackage and ``layer``: with ``layer=None`` the whole file is replaced by a new
one holding a single layer named after the file. With ``layer="name"`` and an
existing file, the file is copied to the temporary folder, the layer is written
into the copy (replacing a layer of that name, keeping all others) and the copy
is renamed over the original: other layers survive, and an interruption leaves
the original untouched. With ``overwrite=False`` an existing layer of that name
(or, without ``layer``, an existing file) is an error.

Shapefiles are written in UTF-8 with a ``.cpg``; each part is replaced atomically,
and stale sidecars of the old shapefile (``.qix``, ``.sbn``, ``.cpg``, ...) are
removed. CSV is UTF-8 with BOM (so Excel/WPS show Chinese correctly), geometry as
WKT in ``geometry``, and ``lon``/``lat`` (``x``/``y`` for projected data) columns
for point geometries.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.errors
import shapely

from geo.errors import EcozoneError, EcozoneWarning, InputFormatError

SUFFIX_DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}
_DRIVER_ALIASES = {
    "gpkg": "GPKG",
    "geopackage": "GPKG",
    "geojson": "GeoJSON",
    "json": "GeoJSON",
    "parquet": "Parquet",
    "geoparquet": "Parquet",
    "esri shapefile": "ESRI Shapefile",
    "shapefile": "ESRI Shapefile",
    "shp": "ESRI Shapefile",
    "csv": "CSV",
}
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml", ".qmd")


class OutputExistsError(EcozoneError, FileExistsError):
    """The output file (or GeoPackage layer) exists and ``overwrite=False``."""


def _driver(path: Path, driver: str | None) -> str:
    if driver is not None:
        key = driver.strip().lower()
        if key not in _DRIVER_ALIASES:
            msg = (
                f"driver={driver!r} 不支持 / is not supported; use one of "
                f"{sorted(set(_DRIVER_ALIASES.values()))}."
            )
            raise InputFormatError(msg)
        return _DRIVER_ALIASES[key]
    suffix = path.suffix.lower()
    if suffix not in SUFFIX_DRIVERS:
        msg = (
            f"{path}: 无法从后缀 {suffix or '(none)'!r} 判断输出格式 / cannot tell the output "
            f"format from the suffix; use one of {sorted(SUFFIX_DRIVERS)} or pass driver=."
        )
        raise InputFormatError(msg)
    return SUFFIX_DRIVERS[suffix]


def _csv_frame(gdf: gpd.GeoDataFrame):
    import pandas as pd

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    if is_point.any():
        geographic = gdf.crs is None or gdf.crs.is_geographic
        xname, yname = ("lon", "lat") if geographic else ("x", "y")
        xs = np.full(len(gdf), np.nan)
        ys = np.full(len(gdf), np.nan)
        xs[is_point] = shapely.get_x(geoms[is_point])
        ys[is_point] = shapely.get_y(geoms[is_point])
        out[xname] = xs
        out[yname] = ys
    out["geometry"] = shapely.to_wkt(geoms, rounding_precision=-1)
    return out


def _warn_long_fields(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Warn that shapefile field names longer than 10 bytes will be cut."""
    long = [str(c) for c in gdf.columns if c != gdf.geometry.name and len(str(c).encode()) > 10]
    if long:
        warnings.warn(
            f"{path}: shapefile 字段名最长 10 字节，以下字段名将被截断 / shapefile field names "
            f"are limited to 10 bytes; these will be shortened: {long}. Use GeoPackage "
            "(.gpkg) to keep them.",
            EcozoneWarning,
            stacklevel=3,
        )


def _layer_exists(path: Path, layer: str) -> bool:
    try:
        return layer in {str(n) for n, _ in pyogrio.list_layers(path)}
    except pyogrio.errors.DataSourceError:
        return False


def write_vector(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    layer: str | None = None,
    driver: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``gdf`` to a file, atomically.

    Parameters
    ----------
    gdf
        The data (not modified).
    path
        Target file; the format comes from the suffix (.gpkg, .geojson/.json,
        .parquet, .shp, .csv) unless ``driver`` is given.
    layer
        GeoPackage layer name; given, the layer is added to (or replaced in) an
        existing file and its other layers are kept (see the module notes).
    driver
        "GPKG", "GeoJSON", "Parquet", "ESRI Shapefile" or "CSV".
    overwrite
        False refuses to replace an existing file (or GeoPackage layer).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputFormatError
        Unknown suffix or driver, or data the format cannot hold.
    OutputExistsError
        The target exists and ``overwrite=False``.

    Examples
    --------
    >>> write_vector(gdf, "out/parcels.gpkg", layer="parcels")  # doctest: +SKIP
    PosixPath('out/parcels.gpkg')
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"write_vector() needs a GeoDataFrame, got {type(gdf).__name__}."
        raise InputFormatError(msg)
    path = Path(path)
    drv = _driver(path, driver)
    add_layer = drv == "GPKG" and layer is not None and path.exists()
    if path.exists() and not overwrite:
        if not add_layer or _layer_exists(path, layer):
            what = f"layer {layer!r} in {path}" if add_layer else str(path)
            msg = f"{what} 已存在 / already exists; pass overwrite=True to replace it."
            raise OutputExistsError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        try:
            if drv == "GPKG":
                if add_layer:
                    shutil.copy2(path, tmp)
                pyogrio.write_dataframe(gdf, tmp, layer=layer or path.stem, driver="GPKG")
            elif drv == "GeoJSON":
                pyogrio.write_dataframe(gdf, tmp, driver="GeoJSON")
            elif drv == "ESRI Shapefile":
                _warn_long_fields(gdf, path)
                with warnings.catch_warnings():
                    # Reported above in our own words; GDAL's RuntimeWarning repeats it.
                    warnings.filterwarnings("ignore", "Normalized/laundered field name")
                    pyogrio.write_dataframe(gdf, tmp, driver="ESRI Shapefile", encoding="UTF-8")
            elif drv == "Parquet":
                gdf.to_parquet(tmp)
            else:
                _csv_frame(gdf).to_csv(tmp, index=False, encoding="utf-8-sig")
        except (
            pyogrio.errors.DataSourceError,
            pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError,
            pyogrio.errors.DataLayerError,
            ValueError,
            TypeError,
        ) as err:
            msg = f"{path}: 无法写出 {drv} / cannot write the data as {drv} ({err})."
            raise InputFormatError(msg) from err
        produced = sorted(tmpdir.iterdir())
        if drv == "ESRI Shapefile":
            # Parts first, .shp last: a reader never sees a new .shp with old parts.
            produced.sort(key=lambda p: p.suffix.lower() == ".shp")
            made = {p.name.lower() for p in produced}
            for ext in _SHP_PARTS:
                old = path.parent / f"{path.stem}{ext}"
                if old.exists() and old.name.lower() not in made:
                    old.unlink()
        for p in produced:
            os.replace(p, path.parent / p.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
