"""Writing GeoDataFrames: GeoPackage, GeoJSON, GeoParquet, Shapefile, CSV, FileGDB.

Every write goes to a temporary folder beside the target and is moved into place
with :func:`os.replace`, so an interrupted write leaves the previous file intact.

GeoPackage and ``layer`` (default: the file's stem): a GeoPackage holds many layers
(a QGIS project's, often), so writing one never drops the others, as GDAL and QGIS
do. An existing file is copied to the temporary folder (:func:`keep_other_layers`),
the layer is written into the copy (replacing a layer of that name, keeping all
others) and the copy is renamed over the original: an interruption leaves the
original untouched. An existing file that is not a GeoPackage is refused, not
replaced. With ``overwrite=False`` an existing layer of that name is an error. A File
Geodatabase (an ArcGIS project's) keeps its other feature classes the same way.

Shapefiles are written in UTF-8 with a ``.cpg``; each part is replaced atomically,
and stale sidecars of the old shapefile (``.qix``, ``.sbn``, ``.cpg``, ...) are
removed. CSV is UTF-8 with BOM (so Excel/WPS show Chinese correctly), geometry as
WKT in ``geometry``, and ``lon``/``lat`` (``x``/``y`` for projected data) columns
for point geometries.

Esri File Geodatabase (``.gdb``, a folder) is written through GDAL's OpenFileGDB
driver (GDAL ≥ 3.6) for ArcGIS users; ``aliases`` become the fields' alias names
(ArcGIS shows them as column headers) and polygons are promoted to multipolygons
(one geometry type per feature class). The new folder replaces the old one only
once it is complete.

``style`` (a :class:`geo.io.gpkg_styles.QgisStyle`) is stored as the layer's
default QGIS style in the GeoPackage ``layer_styles`` table of the temporary copy,
before the rename: the file appears styled or not at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NoReturn

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.errors
import shapely

from geo.errors import EcozoneError, EcozoneWarning, InputFormatError
from geo.io.gpkg_styles import QgisStyle, write_layer_styles

SUFFIX_DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".gdb": "OpenFileGDB",
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
    "openfilegdb": "OpenFileGDB",
    "filegdb": "OpenFileGDB",
    "gdb": "OpenFileGDB",
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


def output_driver(path: str | Path, driver: str | None = None) -> str:
    """Return the GDAL driver ``path`` would be written with, before any work is done.

    Front ends call it to refuse an unsupported output format up front, instead of
    after a long check.

    Raises
    ------
    InputFormatError
        An unknown ``driver`` or a suffix ecozone cannot write.
    """
    return _driver(Path(path), driver)


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


_FAMILIES = {0: "point", 4: "point", 1: "line", 5: "line", 2: "line", 3: "polygon", 6: "polygon"}


def _write_filegdb(
    gdf: gpd.GeoDataFrame, tmp: Path, layer: str, aliases: Mapping[str, str]
) -> None:
    """Write feature classes through OpenFileGDB, with field alias names.

    A feature class holds one geometry type: points, lines and polygons mixed in one
    frame go to ``<layer>_point``, ``<layer>_line`` and ``<layer>_polygon`` (with a
    warning); rows keep their order within each class.
    """
    if tuple(int(v) for v in pyogrio.__gdal_version__[:2]) < (3, 6):
        msg = (
            f"writing a File Geodatabase needs GDAL ≥ 3.6 (pyogrio has GDAL "
            f"{pyogrio.__gdal_version_string__}); write .gpkg instead."
        )
        raise InputFormatError(msg)
    ids = shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object))
    family = np.array([_FAMILIES.get(int(t), "other") for t in ids], dtype=object)
    present = [f for f in ("point", "line", "polygon", "other") if (family == f).any()]
    if len(present) <= 1:
        _write_feature_class(gdf, tmp, layer, aliases)
        return
    warnings.warn(
        f"{tmp.name}: File Geodatabase 的要素类只能有一种几何类型，点/线/面分别写入 / a feature "
        f"class holds one geometry type; writing {[f'{layer}_{f}' for f in present]}.",
        EcozoneWarning,
        stacklevel=4,
    )
    for f in present:
        _write_feature_class(gdf[family == f], tmp, f"{layer}_{f}", aliases)


def _write_feature_class(
    gdf: gpd.GeoDataFrame, tmp: Path, layer: str, aliases: Mapping[str, str]
) -> None:
    import pyarrow as pa
    from pyogrio.raw import write_arrow

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    types = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    if types <= {3, 6}:  # polygons → multipolygons
        single = shapely.get_type_id(geoms) == 3
        geoms = geoms.copy()
        geoms[single] = shapely.multipolygons(geoms[single][:, None])
        gtype = "MultiPolygon"
    elif types <= {1, 5}:
        single = shapely.get_type_id(geoms) == 1
        geoms = geoms.copy()
        geoms[single] = shapely.multilinestrings(geoms[single][:, None])
        gtype = "MultiLineString"
    elif types == {0, 4}:
        single = shapely.get_type_id(geoms) == 0
        geoms = geoms.copy()
        geoms[single] = shapely.multipoints(geoms[single][:, None])
        gtype = "MultiPoint"
    elif len(types) == 1:
        gtype = {0: "Point", 4: "MultiPoint"}.get(next(iter(types)), "Unknown")
    else:
        gtype = "Unknown"
    frame = gdf.drop(columns=gdf.geometry.name)
    fields, arrays = [], []
    for col in frame.columns:
        values = frame[col]
        if values.dtype == bool:  # FileGDB has no boolean: 0/1
            values = values.astype("int16")
        elif values.dtype.kind in "iu":  # ArcGIS "Long" (32 bit) when the values fit
            big = len(values) and (values.min() < -(2**31) or values.max() >= 2**31)
            values = values.astype("float64" if big else "int32")
        if values.dtype == object:  # text (and anything else, as text)
            arr = pa.array([None if v is None or v != v else str(v) for v in values], pa.string())
        else:
            arr = pa.array(values.to_numpy(), from_pandas=True)
        meta = {"GDAL:OGR:alternative_name": aliases[col]} if col in aliases else None
        fields.append(pa.field(str(col), arr.type, metadata=meta))
        arrays.append(arr)
    wkb = {"ARROW:extension:name": "geoarrow.wkb"}
    fields.append(pa.field("geometry", pa.binary(), metadata=wkb))
    arrays.append(pa.array(shapely.to_wkb(geoms), pa.binary()))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    crs = gdf.crs.to_wkt() if gdf.crs is not None else None
    write_arrow(
        table, tmp, layer=layer, driver="OpenFileGDB", geometry_name="geometry",
        geometry_type=gtype, crs=crs,
    )  # fmt: skip


def _same_file(a: Path, b: Path) -> bool:
    """Whether paths ``a`` and ``b`` name one file (links followed; either may not exist)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare the paths themselves
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    source: str | Path | Mapping[str, str | Path | None] | None,
    outputs: Mapping[str, str | Path | None],
) -> None:
    """Refuse, before any work, outputs whose writing would destroy data.

    Writing an output replaces its file (a GeoPackage or File Geodatabase: its layer,
    see :func:`keep_other_layers`). Refused: an output that is the input (a typo, a
    tab completion, a fixed errors file checked again with the same ``--out``), which
    would replace the data being read; two outputs at one path, the last replacing the
    first; a ``.gpkg`` or ``.gdb`` path holding something else than a GeoPackage or a
    File Geodatabase.

    Parameters
    ----------
    source
        The input file (``None``: not a file, e.g. a GeoDataFrame), or several: how
        each input is named to the user (``"POLYGONS"``, ``"--sites"``) → its path
        (``None``: not given).
    outputs
        How each output is named to the user (``"--out"``) → its path (``None``: not
        written).

    Raises
    ------
    InputFormatError
        Naming the output, the file and the fix.
    """
    if source is None or isinstance(source, Mapping):
        inputs = [(f" {k}", Path(v)) for k, v in (source or {}).items() if v is not None]
    else:
        inputs = [("", Path(source))]
    named = [(label, Path(path)) for label, path in outputs.items() if path is not None]
    for i, (label, path) in enumerate(named):
        for in_label, in_path in inputs:
            if _same_file(path, in_path):
                msg = (
                    f"{path}: 输出会覆盖输入文件 / the output {label} is the input{in_label} "
                    f"file {in_path}: writing it would replace the data being read. "
                    f"修正 / fix: choose another path for it."
                )
                raise InputFormatError(msg)
        for other, other_path in named[:i]:
            if _same_file(path, other_path):
                msg = (
                    f"{path}: 两个输出是同一个文件 / the outputs {other} and {label} are one "
                    f"file: the second would replace the first. 修正 / fix: choose another "
                    f"path for one of them."
                )
                raise InputFormatError(msg)
        if path.suffix.lower() in (".gpkg", ".gdb"):
            _layer_names(path)  # (refuses a file of another kind)


def keep_other_layers(path: str | Path, tmp: str | Path, layers: str | Iterable[str]) -> None:
    """Copy an existing GeoPackage or File Geodatabase ``path`` to ``tmp``, to write into.

    Both hold many layers (a QGIS or ArcGIS project's, often): ``layers`` written into
    a copy, renamed over the original when complete, keep the others (and an
    interruption leaves the original as it was). Nothing is copied when ``path`` does
    not exist, is an empty file, or holds only what this write replaces: ``layers``
    (in a File Geodatabase also their classes per geometry type, ``<layer>_point`` …,
    see :func:`_write_filegdb`) and QGIS styles; the new file then holds no stale
    class of an earlier write.

    Parameters
    ----------
    path
        The target ``.gpkg`` file or ``.gdb`` folder.
    tmp
        The temporary file or folder that will replace it.
    layers
        The layer (feature class), or layers, about to be written.

    Raises
    ------
    InputFormatError
        ``path`` exists but is not a GeoPackage (a file) or a File Geodatabase (a
        folder): it is not replaced (it may hold data of another kind).
    """
    path = Path(path)
    names = _layer_names(path)
    written = {layers} if isinstance(layers, str) else set(layers)
    own = {*written, "layer_styles"}
    if path.is_dir():  # and the classes per geometry type of a File Geodatabase
        families = ("point", "line", "polygon", "other")
        own |= {f"{layer}_{family}" for layer in written for family in families}
    if not names - own:
        return  # nothing to keep
    if path.is_dir():
        shutil.copytree(path, tmp)
    else:
        shutil.copy2(path, tmp)


def _layer_names(path: Path) -> set[str]:
    """The layers of GeoPackage (file) or File Geodatabase (folder) ``path``.

    Empty when nothing is there (no file, an empty file). Raises InputFormatError when
    ``path`` holds something else (see :func:`keep_other_layers`).
    """
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return set()
    if path.is_dir():  # a File Geodatabase is a folder GDAL opens
        try:
            return {str(n) for n, _ in pyogrio.list_layers(path)}
        except pyogrio.errors.DataSourceError as err:
            _refuse_replacing(path, "File Geodatabase", err)
    try:  # a GeoPackage is an SQLite database with a gpkg_contents table
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            return {str(r[0]) for r in con.execute("SELECT table_name FROM gpkg_contents")}
    except sqlite3.Error as err:
        _refuse_replacing(path, "GeoPackage", err)


def _refuse_replacing(path: Path, kind: str, err: Exception) -> NoReturn:
    """An output ``path`` that exists as something else than a ``kind``: left alone."""
    msg = (
        f"{path}: 已存在但不是 {kind} / exists but is not a {kind} ({err}); it is left as "
        f"it is. 修正 / fix: choose another output path, or move it away."
    )
    raise InputFormatError(msg) from err


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
    style: QgisStyle | None = None,
    aliases: Mapping[str, str] | None = None,
    raw: bool = False,
) -> Path:
    """Write ``gdf`` to a file, atomically.

    Parameters
    ----------
    gdf
        The data (not modified).
    path
        Target file; the format comes from the suffix (.gpkg, .geojson/.json,
        .parquet, .shp, .csv, .gdb) unless ``driver`` is given.
    layer
        GeoPackage layer name (default: the file's stem); it is added to (or
        replaced in) an existing file, whose other layers are kept (see the module
        notes).
    driver
        "GPKG", "GeoJSON", "Parquet", "ESRI Shapefile", "CSV" or "OpenFileGDB".
    overwrite
        False refuses to replace an existing file (or GeoPackage layer).
    style
        GeoPackage only: the layer's default QGIS style (``layer_styles``).
    aliases
        File Geodatabase only: column → alias name (e.g. "verdict" → "结论").
    raw
        CSV only: write text cells exactly as they are. By default a cell a
        spreadsheet would run as a formula (starting with = + - @, e.g. a site named
        ``=HYPERLINK(...)``) gets a leading ``'``
        (:func:`geo.io.spreadsheet.neutralise_formulas`).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputFormatError
        Unknown suffix or driver, or data the format cannot hold.
    OutputExistsError
        The target (GeoPackage: its layer) exists and ``overwrite=False``.

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
    if drv == "GPKG":
        layer = layer or path.stem
    add_layer = drv == "GPKG" and path.exists()
    if path.exists() and not overwrite:
        if not add_layer or _layer_exists(path, layer):
            what = f"layer {layer!r} in {path}" if add_layer else str(path)
            msg = f"{what} 已存在 / already exists; pass overwrite=True to replace it."
            raise OutputExistsError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        if drv in ("GPKG", "OpenFileGDB"):  # many layers: the others are kept
            keep_other_layers(path, tmp, layer or path.stem)
        try:
            if drv == "GPKG":
                pyogrio.write_dataframe(gdf, tmp, layer=layer, driver="GPKG")
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
            elif drv == "OpenFileGDB":
                _write_filegdb(gdf, tmp, layer or path.stem, aliases or {})
            else:
                frame = _csv_frame(gdf)
                if not raw:  # safe to open in Excel/WPS (geo.io.spreadsheet)
                    from geo.io.spreadsheet import neutralise_formulas

                    frame = neutralise_formulas(frame)
                frame.to_csv(tmp, index=False, encoding="utf-8-sig")
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
        if drv == "GPKG" and style is not None:
            write_layer_styles(tmp, [(layer, style)])
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
            target = path.parent / p.name
            if p.is_dir():  # a .gdb folder: swap it in, then drop the old one
                old = tmpdir / f"{p.name}.old"
                if target.exists():
                    os.replace(target, old)
                os.replace(p, target)
                continue
            os.replace(p, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
