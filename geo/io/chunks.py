"""Reading a sites file in chunks of rows: :func:`iter_vector_chunks`.

Each chunk is what :func:`geo.io.read_vector` gives for the whole file, cut to a run
of rows: the same columns, CRS and ``source_row`` numbering (row/feature number in
the file, 1-based, continuous across chunks), with the rows the reader rejected or
repaired in that run listed in the chunk's ``attrs["issues"]``. Memory is bounded by
the chunk size for the formats that can stream:

- GeoParquet: :meth:`pyarrow.parquet.ParquetFile.iter_batches`, decoded with
  geopandas' own Arrow reader (WKB or GeoArrow geometry, the file's CRS);
- GeoPackage: one ``pyogrio.open_arrow`` stream when every field reads through Arrow
  as through GDAL's features (text, numbers), else pyogrio with ``skip_features`` /
  ``max_features``.

The other formats (CSV/XLSX tables, shapefiles, GeoJSON, KML, DXF, plain Parquet
tables with lon/lat columns, GDAL formats) are read once with
:func:`geo.io.read_vector` and then yielded in chunks: tables detect their CRS and
column types from all their rows, which a run of rows cannot do alone.

A file without a CRS (a GeoParquet or GeoPackage that declares none) has its CRS
detected from the first chunk; the later chunks are labelled with it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from geo.chinacoords import normalise_system
from geo.crs import crs_text
from geo.errors import EcozoneError, InputFormatError
from geo.io._coords import finalize_features
from geo.io._issues import IssueLog, check_errors_mode
from geo.io._sniff import sniff_format
from geo.io.reader import read_vector
from geo.io.vector import _PYOGRIO_ERRORS, _quiet_gdal, choose_layer, read_ogr

__all__ = ["count_rows", "iter_vector_chunks", "read_ahead", "streams"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Rows per chunk when none is given.
CHUNK_ROWS = 100_000


def _geoparquet_meta(path: Path) -> tuple[Any, dict[str, Any] | None]:
    """The ParquetFile and its GeoParquet ``geo`` metadata (``None``: a plain table)."""
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: pre-buffered row groups stay cached until the file is read
        # through (apache/arrow#39808), so streaming 10 M rows held ~200 MB of pages
        pf = pq.ParquetFile(path, pre_buffer=False)
    except Exception as err:  # pyarrow raises ArrowInvalid etc. for damaged files
        msg = (
            f"{path}: Parquet 文件无法读取，可能已损坏 / cannot read the Parquet file; it may "
            f"be damaged or truncated ({err})."
        )
        raise InputFormatError(msg) from err
    meta = pf.schema_arrow.metadata or {}
    if b"geo" not in meta:
        return pf, None
    return pf, json.loads(meta[b"geo"])


def streams(path: str | Path) -> bool:
    """Whether :func:`iter_vector_chunks` reads ``path`` a chunk at a time.

    GeoParquet and GeoPackage files are read chunk by chunk; any other file (or one
    that cannot be opened) is read whole at the first chunk.
    """
    path = Path(path)
    try:
        kind = sniff_format(path)
        if kind == "parquet":
            return _geoparquet_meta(path)[1] is not None
    except (InputFormatError, OSError):
        return False
    return kind == "gpkg"


def count_rows(path: str | Path, *, layer: str | int | None = None) -> int | None:
    """Number of rows (features) in a sites file when its metadata says so cheaply.

    Parameters
    ----------
    path
        The file.
    layer
        GeoPackage layer (as for :func:`geo.io.read_vector`).

    Returns
    -------
    int or None
        The row count of a (Geo)Parquet file or a GeoPackage layer; ``None`` for
        formats that must be read to be counted (CSV, GeoJSON, ...) or when the
        file cannot be opened (the read reports that).
    """
    path = Path(path)
    try:
        kind = sniff_format(path)
        if kind == "parquet":
            return int(_geoparquet_meta(path)[0].metadata.num_rows)
        if kind == "gpkg":
            import pyogrio

            name = choose_layer(path, layer, source=str(path))
            with _quiet_gdal():
                n = pyogrio.read_info(path, layer=name)["features"]
            return int(n) if n is not None and n >= 0 else None
    except (InputFormatError, OSError, *_PYOGRIO_ERRORS):
        return None
    return None


def iter_vector_chunks(
    path: str | Path,
    *,
    chunk_size: int = CHUNK_ROWS,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    errors: str = "report",
) -> Iterator[gpd.GeoDataFrame]:
    """Yield a vector file as GeoDataFrames of at most ``chunk_size`` rows.

    Concatenated, the chunks are :func:`geo.io.read_vector` of the whole file (same
    rows, order, columns, CRS and ``source_row``), and the chunks' ``attrs["issues"]``
    together are its ``attrs["issues"]``: each chunk lists the issues of the file rows
    it covers (issues about the whole file, with no row, come with the first chunk).
    A chunk may hold fewer rows than ``chunk_size`` (rows rejected by the reader are
    left out) and may be empty when every row of its run was rejected.

    Parameters
    ----------
    path
        Any file :func:`geo.io.read_vector` reads.
    chunk_size
        Rows of the file per chunk (at least 1).
    crs, coords, zone, layer, encoding, lon_col, lat_col, errors
        As for :func:`geo.io.read_vector`.

    Yields
    ------
    geopandas.GeoDataFrame
        One chunk, with ``source_row`` and ``attrs["issues"]``.

    Raises
    ------
    InputFormatError
        As :func:`geo.io.read_vector` (unreadable, empty or unknown file), or
        ``chunk_size`` below 1.
    CRSDetectionError
        As :func:`geo.io.read_vector`.

    Examples
    --------
    >>> for chunk in iter_vector_chunks("sites.parquet", chunk_size=100_000):  # doctest: +SKIP
    ...     print(len(chunk), chunk["source_row"].iloc[0])
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        msg = f"chunk_size must be a whole number >= 1, got {chunk_size!r}"
        raise InputFormatError(msg)
    check_errors_mode(errors)
    coords = normalise_system(coords)
    path = Path(path)
    kind = sniff_format(path)
    if kind == "parquet":
        pf, geo = _geoparquet_meta(path)
        if geo is not None:
            yield from _parquet_chunks(path, pf, geo, chunk_size, crs, coords, zone, errors)
            return
    elif kind == "gpkg":
        yield from _gpkg_chunks(path, layer, chunk_size, crs, coords, errors)
        return
    whole = read_vector(
        path, crs=crs, coords=coords, zone=zone, layer=layer, encoding=encoding,
        lon_col=lon_col, lat_col=lat_col, errors=errors,
    )  # fmt: skip
    yield from split_frame(whole, chunk_size)


def split_frame(gdf: gpd.GeoDataFrame, chunk_size: int) -> Iterator[gpd.GeoDataFrame]:
    """Yield a read GeoDataFrame in chunks, each with the issues of its rows.

    Parameters
    ----------
    gdf
        A frame as :func:`geo.io.read_vector` returns it (``source_row``,
        ``attrs["issues"]``).
    chunk_size
        Rows per chunk.

    Yields
    ------
    geopandas.GeoDataFrame
        Consecutive rows; issues of the rows up to the chunk's last ``source_row``
        (and after the previous chunk's), whole-file issues with the first chunk, the
        issues after the last row with the last chunk.
    """
    issues = list(gdf.attrs.get("issues") or [])
    rows = gdf["source_row"].to_numpy() if "source_row" in gdf.columns else None
    n = len(gdf)
    starts = list(range(0, n, chunk_size)) or [0]
    prev = -np.inf
    for k, start in enumerate(starts):
        part = gdf.iloc[start : start + chunk_size].copy()
        last = k == len(starts) - 1
        hi = np.inf if last or rows is None else float(rows[min(start + chunk_size, n) - 1])
        mine = []
        for i in issues:
            r = i.get("row")
            if (r is None and k == 0) or (r is not None and prev < float(r) <= hi):
                mine.append(i)
        part.attrs["issues"] = mine
        prev = hi
        yield part


def _finish_chunk(
    gdf: gpd.GeoDataFrame,
    *,
    source: str,
    crs: Any,
    coords: str,
    zone: int | None,
    errors: str,
    point_xy: NDArray[np.float64] | None = None,
) -> gpd.GeoDataFrame:
    issues = IssueLog(source, errors)
    return finalize_features(gdf, crs=crs, coords=coords, zone=zone, log=issues, point_xy=point_xy)


def _with_parsed_crs(geo: dict[str, Any], gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoParquet metadata whose columns carry the CRS objects read from the first chunk.

    geopandas parses each geometry column's PROJJSON for every table it converts
    (about 20 ms, 0.5 s over a million sites in 40 000-row chunks); the CRS found for
    the first chunk is the file's, so later chunks take the parsed object. Every other
    thread would parse it again on its first question (pyproj keeps a parsed CRS per
    thread): the questions the checks ask are answered here, once for all threads
    (:func:`geo.crs.crs_text`).
    """
    columns = {}
    for name, meta in geo.get("columns", {}).items():
        meta = dict(meta)
        if name in gdf.columns and hasattr(gdf[name], "crs"):
            meta["crs"] = gdf[name].crs
            if meta["crs"] is not None:
                crs_text(meta["crs"])  # (is_lonlat's answer with it)
        columns[name] = meta
    return {**geo, "columns": columns}


def _points_as_coordinates(
    table: Any, geo: dict[str, Any]
) -> tuple[Any, dict[str, Any], NDArray[np.float64] | None]:
    """``table`` and its ``geo`` metadata, WKB points of the primary column as coordinates.

    When every value of the primary geometry column is a plain 2-D WKB point
    (:func:`geo.io.wkb.wkb_point_xy`), the column becomes GeoArrow interleaved
    coordinates (encoding ``point``): geopandas then makes the points from the
    coordinates (``shapely.from_ragged_array``), the same points ``from_wkb`` makes
    from a Python ``bytes`` object per row, in a third less time, time that holds the
    interpreter lock while the checks run. The coordinates come third (the
    validation reads them instead of the points). Anything else is passed on as it
    is, with ``None``.
    """
    import pyarrow as pa

    from geo.io.wkb import wkb_point_xy

    name = geo.get("primary_column")
    meta = geo.get("columns", {}).get(name)
    if meta is None or meta.get("encoding") != "WKB" or name not in table.column_names:
        return table, geo, None
    xy = wkb_point_xy(table.column(name))
    if xy is None:
        return table, geo, None
    coords = pa.FixedSizeListArray.from_arrays(pa.array(xy.ravel()), 2)
    table = table.set_column(table.column_names.index(name), name, coords)
    geo = {**geo, "columns": {**geo["columns"], name: {**meta, "encoding": "point"}}}
    return table, geo, xy


def _parquet_chunks(
    path: Path,
    pf: Any,
    geo: dict[str, Any],
    chunk_size: int,
    crs: Any,
    coords: str,
    zone: int | None,
    errors: str,
) -> Iterator[gpd.GeoDataFrame]:
    import pyarrow as pa
    from geopandas.io.arrow import _arrow_to_geopandas

    from geo.io.vector import with_source_row

    schema = pf.schema_arrow
    offset = 0
    label = crs
    n_total = pf.metadata.num_rows
    if n_total == 0:  # nothing to stream: the reader's answer for an empty file
        yield from split_frame(read_vector(path, crs=crs, coords=coords, zone=zone), chunk_size)
        return
    try:
        for batch in pf.iter_batches(batch_size=chunk_size):
            table = pa.Table.from_batches([batch], schema=schema)
            table, meta, xy = _points_as_coordinates(table, geo)
            gdf = _arrow_to_geopandas(table, meta)
            if offset == 0:  # parse each column's CRS once, not once per chunk
                geo = _with_parsed_crs(geo, gdf)
            gdf = with_source_row(gdf, np.arange(offset + 1, offset + len(gdf) + 1))
            offset += len(gdf)
            out = _finish_chunk(
                gdf, source=str(path), crs=label, coords=coords, zone=zone, errors=errors,
                point_xy=xy,
            )  # fmt: skip
            if label is None and out.crs is not None and gdf.crs is None:
                label = out.crs  # detected once, from the first chunk
            yield out
    except (InputFormatError, ValueError, TypeError) as err:
        if isinstance(err, EcozoneError):  # already names the file and the fix
            raise
        msg = f"{path}: Parquet 文件无法读取 / cannot read the Parquet file ({err})."
        raise InputFormatError(msg) from err


def _gpkg_chunks(
    path: Path,
    layer: str | int | None,
    chunk_size: int,
    crs: Any,
    coords: str,
    errors: str,
) -> Iterator[gpd.GeoDataFrame]:
    import pyogrio

    from geo.io.vector import with_source_row

    name = choose_layer(path, layer, source=str(path))
    with _quiet_gdal():
        info = pyogrio.read_info(path, layer=name)
    total = info["features"]
    if total is None or total < 0:  # count unknown: one read
        yield from split_frame(read_vector(path, layer=name, crs=crs, coords=coords), chunk_size)
        return
    if _arrow_reads_as_ogr(info):
        runs = _gpkg_arrow_runs(path, name, chunk_size)
    else:
        runs = (
            (read_ogr(path, layer=name, source=str(path), skip_features=skip,
                      max_features=chunk_size), None)
            for skip in range(0, max(int(total), 1), chunk_size)
        )  # fmt: skip
    label = crs
    offset = 0
    for gdf, xy in runs:
        gdf = with_source_row(gdf, np.arange(offset + 1, offset + len(gdf) + 1))
        offset += len(gdf)
        out = _finish_chunk(
            gdf, source=str(path), crs=label, coords=coords, zone=None, errors=errors,
            point_xy=xy,
        )  # fmt: skip
        if label is None and out.crs is not None and gdf.crs is None:
            label = out.crs
        yield out


#: GDAL field (type, subtype) pairs an Arrow stream gives as :func:`read_ogr` gives
#: them (checked in tests/geo/test_chunks.py); yes/no fields with empty cells, dates
#: and JSON text come otherwise, and a layer with any of them is read feature by feature.
_ARROW_AS_OGR = {
    ("OFTString", "OFSTNone"), ("OFTInteger", "OFSTNone"), ("OFTInteger", "OFSTInt16"),
    ("OFTInteger64", "OFSTNone"), ("OFTReal", "OFSTNone"), ("OFTReal", "OFSTFloat32"),
}  # fmt: skip


def _arrow_reads_as_ogr(info: dict[str, Any]) -> bool:
    """Whether every field of a layer (``pyogrio.read_info``) reads the same through Arrow."""
    fields = zip(info["ogr_types"], info["ogr_subtypes"], strict=True)
    return all(field in _ARROW_AS_OGR for field in fields)


def _gpkg_arrow_runs(
    path: Path, name: str, chunk_size: int
) -> Iterator[tuple[gpd.GeoDataFrame, NDArray[np.float64] | None]]:
    """A GeoPackage layer's runs of ``chunk_size`` features in one GDAL read, as Arrow.

    What :func:`read_ogr` gives for each run (without ``source_row``), with the
    coordinates when every geometry is a plain 2-D point (as for GeoParquet). The
    frames built from Arrow columns take half the time of pyogrio's feature-by-feature
    read (1 000 000 points: 0.7–0.8 s against 1.5 s), time that held the interpreter
    lock while the checks ran. One stream reads the layer once: Arrow runs read with
    ``skip_features`` had GDAL read the rows before each run again (1.5 s).
    """
    import pyogrio

    from geo.io.vector import geometries_from_wkb
    from geo.io.wkb import wkb_point_xy

    source = str(path)
    try:
        with (
            _quiet_gdal(),
            pyogrio.open_arrow(path, layer=name, batch_size=chunk_size, use_pyarrow=True) as (
                meta,
                reader,
            ),
        ):
            column = meta["geometry_name"] or "wkb_geometry"
            offset = 0
            for batch in reader:
                wkb = batch.column(column)
                xy = wkb_point_xy(wkb)
                try:
                    geometry = (
                        shapely.points(xy) if xy is not None
                        else geometries_from_wkb(wkb.to_numpy(zero_copy_only=False), source)
                    )  # fmt: skip
                except NotImplementedError:  # curves: GDAL's features are linearised
                    run = read_ogr(path, layer=name, source=source, skip_features=offset,
                                   max_features=len(batch))  # fmt: skip
                    offset += len(batch)
                    yield run, None
                    continue
                offset += len(batch)
                frame = batch.drop_columns([column]).to_pandas()
                yield gpd.GeoDataFrame(frame, geometry=geometry, crs=meta["crs"]), xy
    except (*_PYOGRIO_ERRORS, OSError, ValueError) as err:
        if isinstance(err, EcozoneError):
            raise
        msg = (
            f"{source}: 文件无法读取，可能已损坏或不完整 / the file cannot be read; it may be "
            f"damaged or truncated ({err}). Copy or export it again."
        )
        raise InputFormatError(msg) from err


@contextmanager
def read_ahead(chunks: Iterator[T], depth: int = 1) -> Iterator[Iterator[T]]:
    """Read the next chunks in a background thread while the caller works on one.

    Decoding a chunk (Parquet pages, WKB, GDAL features) runs while the caller checks
    the previous one, so reading costs little wall time; at most ``depth`` chunks wait
    read ahead (memory stays bounded). An error raised while reading surfaces from the
    iteration at the chunk where it happened; leaving the ``with`` block early stops
    the reader.

    Parameters
    ----------
    chunks
        Any iterator, e.g. :func:`iter_vector_chunks`.
    depth
        Chunks read ahead at most (at least 1).

    Yields
    ------
    Iterator
        The same items in the same order.

    Examples
    --------
    >>> with read_ahead(iter_vector_chunks("sites.parquet")) as chunks:  # doctest: +SKIP
    ...     for chunk in chunks:
    ...         check(chunk)
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(int(depth), 1))
    stop = threading.Event()

    def _put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read() -> None:
        try:
            for item in chunks:
                if not _put(("item", item)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            _put(("error", err))
            return
        _put(("end", None))

    def _items() -> Iterator[T]:
        while True:
            tag, value = box.get()
            if tag == "end":
                return
            if tag == "error":
                raise value
            yield value

    reader = threading.Thread(target=_read, name="ecozone-read-ahead", daemon=True)
    reader.start()
    try:
        yield _items()
    finally:
        stop.set()
        while reader.is_alive():  # free a reader blocked on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                pass
            reader.join(timeout=0.05)
        close = getattr(chunks, "close", None)
        if close is not None:  # a generator: run its cleanup (open files)
            close()
