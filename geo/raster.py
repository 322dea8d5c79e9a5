"""Rasters on a metric grid: build the grid, rasterise vectors, write GeoTIFFs.

Every raster ecozone makes lives on a :class:`RasterGrid`: square pixels in a
metric CRS (by default the local CGCS2000 3° Gauss-Krüger zone of the data, see
:func:`geo.crs.local_metric_crs`), with its origin snapped to a multiple of the
resolution so that grids of the same resolution line up pixel for pixel.

GeoTIFFs are written the way QGIS and GDAL like them: tiled (256 × 256 blocks),
deflate-compressed with a predictor, the CRS and nodata set, and overviews built.
Large rasters are written window by window through :func:`geotiff_writer`, so
nothing larger than a tile has to fit in memory. Files are written to a temporary
name in the target folder and renamed into place, so a crash never leaves a
half-written GeoTIFF under the final name.

Pixel areas: a Gauss-Krüger grid is conformal, so a pixel's ellipsoidal area is
``resolution² / k²`` with ``k`` the point scale factor; :func:`pixel_area_m2` gives
it for a window (``k`` varies by < 1e-6 across a 20 km tile).

Class rasters carry their legend: ``classes`` (pixel value → colour and name) become
the GeoTIFF's colour table (QGIS and ArcGIS draw the classes in colour) and the
band's category names and raster attribute table (Value, Name, Red, Green, Blue) in
the ``.tif.aux.xml`` beside it, where GDAL keeps them for GeoTIFF.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from rasterio.enums import Resampling
from rasterio.features import rasterize as _rio_rasterize
from rasterio.windows import Window

from geo.errors import InputFormatError

__all__ = [
    "RasterGrid",
    "distance_to",
    "geotiff_writer",
    "grid_for",
    "inner_slices",
    "iter_windows",
    "overview_factors",
    "pixel_area_m2",
    "rasterize",
    "write_geotiff",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

BLOCKSIZE = 256


@dataclass(frozen=True)
class RasterGrid:
    """A north-up grid of square pixels in a metric CRS.

    Attributes
    ----------
    crs : pyproj.CRS
        The grid's CRS (metric, e.g. EPSG:4548).
    transform : affine.Affine
        Pixel → CRS transform of the full grid (``Affine(res, 0, left, 0, -res, top)``).
    width, height : int
        Size in pixels.
    """

    crs: pyproj.CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units (metres)."""
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` as numpy orders it."""
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        left, top = self.transform.c, self.transform.f
        return (left, top - self.height * self.resolution, left + self.width * self.resolution, top)

    def window_transform(self, window: Window) -> Affine:
        """Transform of a window of this grid."""
        return rasterio.windows.transform(window, self.transform)

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of a window of this grid."""
        return rasterio.windows.bounds(window, self.transform)

    def full_window(self) -> Window:
        """Return the window covering the whole grid."""
        return Window(0, 0, self.width, self.height)


def _as_geoseries(data: Any, crs: Any = None) -> gpd.GeoSeries:
    if isinstance(data, gpd.GeoDataFrame):
        return data.geometry
    if isinstance(data, gpd.GeoSeries):
        return data
    if isinstance(data, shapely.Geometry):
        data = [data]
    if crs is None:
        msg = "shapely geometries carry no CRS: pass `crs=` (e.g. 'EPSG:4326') with them"
        raise InputFormatError(msg)
    return gpd.GeoSeries(list(data), crs=crs)


def grid_for(
    data: Any,
    *,
    resolution: float,
    crs: Any = None,
    data_crs: Any = None,
    pad_m: float = 0.0,
    max_pixels: int = 2_000_000_000,
) -> RasterGrid:
    """Build a metric grid that covers ``data``.

    Parameters
    ----------
    data
        GeoDataFrame / GeoSeries (with a CRS), a shapely geometry or a sequence of
        them (then give ``data_crs``), or a bounds tuple ``(minx, miny, maxx, maxy)``
        already in ``crs``.
    resolution
        Pixel size in metres (> 0).
    crs
        Grid CRS, anything ``pyproj.CRS.from_user_input`` accepts; must be projected.
        Default: the local Gauss-Krüger zone of the data (:func:`geo.crs.local_metric_crs`).
    data_crs
        CRS of shapely input.
    pad_m
        Margin added on every side, in metres.
    max_pixels
        Refuse grids larger than this (guards against a wrong resolution).

    Returns
    -------
    RasterGrid
        Origin snapped to multiples of ``resolution``.

    Raises
    ------
    InputFormatError
        If the resolution is not positive, the CRS is geographic, the data is empty
        or the grid would exceed ``max_pixels``.

    Examples
    --------
    >>> g = grid_for((0, 0, 95, 40), resolution=10, crs="EPSG:4548")
    >>> (g.width, g.height)
    (10, 4)
    """
    if not resolution or resolution <= 0 or not math.isfinite(resolution):
        msg = f"`resolution` must be a positive number of metres (got {resolution!r})"
        raise InputFormatError(msg)
    if isinstance(data, tuple) and len(data) == 4 and all(np.isscalar(v) for v in data):
        if crs is None:
            msg = "a bounds tuple needs `crs=` (the CRS the bounds are in)"
            raise InputFormatError(msg)
        target = pyproj.CRS.from_user_input(crs)
        minx, miny, maxx, maxy = (float(v) for v in data)
    else:
        geoms = _as_geoseries(data, data_crs)
        geoms = geoms[~(geoms.isna() | geoms.is_empty)]
        if len(geoms) == 0:
            msg = "cannot build a raster grid for empty data (no geometries)"
            raise InputFormatError(msg)
        if crs is None:
            from geo.crs import local_metric_crs

            target = pyproj.CRS.from_user_input(local_metric_crs(geoms, geoms.crs))
        else:
            target = pyproj.CRS.from_user_input(crs)
        minx, miny, maxx, maxy = geoms.to_crs(target).total_bounds
    if target.is_geographic:
        msg = (
            f"raster grids are metric: got geographic CRS {target.to_string()!r}; "
            "pass a projected CRS such as the Gauss-Krüger zone 'EPSG:4548'"
        )
        raise InputFormatError(msg)
    minx, miny, maxx, maxy = minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m
    left = math.floor(minx / resolution) * resolution
    bottom = math.floor(miny / resolution) * resolution
    right = math.ceil(maxx / resolution) * resolution
    top = math.ceil(maxy / resolution) * resolution
    width = max(1, round((right - left) / resolution))
    height = max(1, round((top - bottom) / resolution))
    if width * height > max_pixels:
        msg = (
            f"a {resolution} m grid over {right - left:.0f} × {top - bottom:.0f} m would have "
            f"{width * height:,} pixels (limit {max_pixels:,}): use a coarser `resolution`"
        )
        raise InputFormatError(msg)
    return RasterGrid(
        crs=target,
        transform=Affine(resolution, 0.0, left, 0.0, -resolution, top),
        width=int(width),
        height=int(height),
    )


def iter_windows(
    grid: RasterGrid, *, size: int = 2048, pad: int = 0, clip: bool = True
) -> Iterator[tuple[Window, Window]]:
    """Walk the grid in square windows.

    Parameters
    ----------
    grid
        The grid.
    size
        Window size in pixels (a multiple of 256 keeps writes block-aligned).
    pad
        Extra pixels around each window, for neighbourhood operations such as
        distances.
    clip
        Clip the padded window to the grid (default). ``False`` lets it reach
        beyond the grid's edge (negative offsets are valid windows: their
        transform places them outside), so that features just outside the grid
        still count.

    Yields
    ------
    tuple of rasterio.windows.Window
        ``(window, padded)``; ``window`` lies inside ``padded``.
    """
    for row in range(0, grid.height, size):
        for col in range(0, grid.width, size):
            w = Window(col, row, min(size, grid.width - col), min(size, grid.height - row))
            c0, r0 = col - pad, row - pad
            c1, r1 = col + w.width + pad, row + w.height + pad
            if clip:
                c0, r0 = max(0, c0), max(0, r0)
                c1, r1 = min(grid.width, c1), min(grid.height, r1)
            yield w, Window(c0, r0, c1 - c0, r1 - r0)


def inner_slices(window: Window, padded: Window) -> tuple[slice, slice]:
    """Slices that cut ``window`` out of an array covering ``padded``."""
    r = int(window.row_off - padded.row_off)
    c = int(window.col_off - padded.col_off)
    return slice(r, r + int(window.height)), slice(c, c + int(window.width))


def rasterize(
    geoms: Any,
    grid: RasterGrid,
    *,
    values: Any = 1,
    window: Window | None = None,
    all_touched: bool = False,
    fill: float = 0,
    dtype: str = "uint8",
    geoms_crs: Any = None,
) -> np.ndarray:
    """Burn geometries into an array on ``grid`` (or one window of it).

    Parameters
    ----------
    geoms
        GeoSeries / GeoDataFrame (reprojected to ``grid.crs`` when its CRS differs)
        or an array of shapely geometries already in ``grid.crs`` (or in ``geoms_crs``).
    grid
        Target grid.
    values
        A scalar burnt for every geometry, or one value per geometry.
    window
        Only this window of the grid (default the whole grid).
    all_touched
        Burn every pixel a geometry touches (True) or only pixels whose centre
        lies inside (False, GDAL's default).
    fill
        Value of pixels no geometry covers.
    dtype
        numpy dtype of the result.
    geoms_crs
        CRS of a plain geometry array when it is not ``grid.crs``.

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` of the window; where geometries overlap the later one wins.
    """
    if isinstance(geoms, gpd.GeoDataFrame | gpd.GeoSeries):
        gs = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
        if gs.crs is not None and not pyproj.CRS.from_user_input(gs.crs).equals(grid.crs):
            gs = gs.to_crs(grid.crs)
        arr = np.asarray(gs.values, dtype=object)
    else:
        arr = np.asarray(geoms, dtype=object).ravel()
        if geoms_crs is not None and not pyproj.CRS.from_user_input(geoms_crs).equals(grid.crs):
            arr = np.asarray(gpd.GeoSeries(arr, crs=geoms_crs).to_crs(grid.crs).values)
    window = window or grid.full_window()
    shape = (int(window.height), int(window.width))
    vals = np.broadcast_to(np.asarray(values), (len(arr),))
    keep = ~(shapely.is_missing(arr) | shapely.is_empty(arr)) if len(arr) else np.zeros(0, bool)
    if not keep.any():
        return np.full(shape, fill, dtype=dtype)
    return _rio_rasterize(
        zip(arr[keep], vals[keep].tolist(), strict=True),
        out_shape=shape,
        transform=grid.window_transform(window),
        fill=fill,
        all_touched=all_touched,
        dtype=dtype,
    )


def distance_to(mask: np.ndarray, *, resolution: float) -> np.ndarray:
    """Euclidean distance in metres from each pixel centre to the nearest True pixel.

    Parameters
    ----------
    mask
        2-D boolean array (True = source pixels, e.g. parks).
    resolution
        Pixel size in metres.

    Returns
    -------
    numpy.ndarray
        float32, 0 on source pixels; ``inf`` everywhere when ``mask`` has no True pixel.
    """
    from scipy.ndimage import distance_transform_edt

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype="float32")
    return distance_transform_edt(~mask, sampling=(resolution, resolution)).astype("float32")


def pixel_area_m2(grid: RasterGrid, *, window: Window | None = None) -> float:
    """Ellipsoidal area of one pixel at the centre of ``window`` (or of the grid).

    ``resolution² / areal_scale`` where ``areal_scale`` is PROJ's areal scale factor
    of the grid CRS at that point (``k²`` for a conformal Gauss-Krüger grid).
    """
    window = window or grid.full_window()
    left, bottom, right, top = grid.window_bounds(window)
    x, y = (left + right) / 2, (bottom + top) / 2
    from geo.crs import transformer

    to_ll = transformer(grid.crs, grid.crs.geodetic_crs)
    lon, lat = to_ll.transform(x, y)
    factors = pyproj.Proj(grid.crs).get_factors(lon, lat)
    return grid.resolution**2 / float(factors.areal_scale)


def overview_factors(width: int, height: int, *, min_size: int = 64) -> list[int]:
    """Overview decimation factors 2, 4, 8, … down to about ``min_size`` pixels.

    Always at least ``[2]`` for rasters of 2 × 2 pixels or more, so every GeoTIFF
    ecozone writes has overviews.
    """
    factors: list[int] = []
    f = 2
    while max(width, height) // f >= min_size or (not factors and max(width, height) >= 2):
        factors.append(f)
        f *= 2
    return factors


def _rio_crs(crs: pyproj.CRS) -> rasterio.crs.CRS:
    code = crs.to_epsg()
    return rasterio.crs.CRS.from_epsg(code) if code else rasterio.crs.CRS.from_wkt(crs.to_wkt())


def _profile(grid: RasterGrid, dtype: str, nodata: float | None, count: int) -> dict[str, Any]:
    kind = np.dtype(dtype).kind
    return {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "dtype": dtype,
        "crs": _rio_crs(grid.crs),
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCKSIZE,
        "blockysize": BLOCKSIZE,
        "compress": "deflate",
        "predictor": 3 if kind == "f" else 2,
        "zlevel": 6,
        "BIGTIFF": "IF_SAFER",
    }


@contextmanager
def geotiff_writer(
    path: str | os.PathLike[str],
    grid: RasterGrid,
    *,
    dtype: str,
    nodata: float | None,
    count: int = 1,
    overviews: bool = True,
    resampling: str = "nearest",
    tags: dict[str, Any] | None = None,
    descriptions: Iterable[str] | None = None,
    classes: Mapping[int, tuple[str, str]] | None = None,
) -> Iterator[rasterio.io.DatasetWriter]:
    """Open a tiled, deflate-compressed GeoTIFF for writing window by window.

    On a clean exit overviews are built and the file is renamed into place; on an
    error the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path
        Output ``.tif`` path.
    grid
        The raster's grid (CRS, transform, size).
    dtype
        numpy dtype name ("uint8", "float32", ...).
    nodata
        Nodata value recorded in the file (``None`` for none).
    count
        Number of bands.
    overviews
        Build overviews (factors from :func:`overview_factors`).
    resampling
        Overview resampling: "nearest" for classes, "average" for continuous values.
    tags
        Dataset metadata tags (strings).
    descriptions
        One description per band.
    classes
        Class rasters (uint8 / uint16): pixel value → ``(hex colour, name)``; written
        as band 1's colour table, category names and attribute table.

    Yields
    ------
    rasterio.io.DatasetWriter
        Write with ``dst.write(array, 1, window=window)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name in the same folder (same file system for the rename); rasterio
    # creates it, so it gets the usual permissions
    tmp = path.parent / f".{path.stem}-{uuid.uuid4().hex[:12]}.tif"
    try:
        with rasterio.open(tmp, "w", **_profile(grid, dtype, nodata, count)) as dst:
            if tags:
                dst.update_tags(**{k: str(v) for k, v in tags.items()})
            for i, d in enumerate(descriptions or (), start=1):
                dst.set_band_description(i, d)
            yield dst
            if classes:
                dst.write_colormap(1, _colormap(classes))
            if overviews:
                factors = overview_factors(grid.width, grid.height)
                if factors:
                    dst.build_overviews(factors, Resampling[resampling])
                    dst.update_tags(ns="rio_overview", resampling=resampling)
        _write_aux(path, classes)
        os.replace(tmp, path)
        log.debug("wrote GeoTIFF %s (%d × %d)", path, grid.width, grid.height)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_geotiff(
    path: str | os.PathLike[str],
    array: np.ndarray,
    grid: RasterGrid,
    *,
    nodata: float | None,
    overviews: bool = True,
    resampling: str = "nearest",
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    classes: Mapping[int, tuple[str, str]] | None = None,
) -> Path:
    """Write a 2-D array covering ``grid`` as a tiled, compressed GeoTIFF.

    Parameters
    ----------
    path
        Output ``.tif`` path.
    array
        ``(grid.height, grid.width)`` array; its dtype is the file's dtype.
    grid
        The raster's grid.
    nodata
        Nodata value.
    overviews
        Build overviews.
    resampling
        Overview resampling ("nearest" for classes, "average" for continuous values).
    tags
        Metadata tags.
    description
        Band description.
    classes
        Pixel value → ``(hex colour, name)`` for a class raster (see
        :func:`geotiff_writer`).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputFormatError
        If the array shape does not match the grid.
    """
    array = np.asarray(array)
    if array.shape != grid.shape:
        msg = f"array shape {array.shape} does not match the grid {grid.shape} (height, width)"
        raise InputFormatError(msg)
    with geotiff_writer(
        path,
        grid,
        dtype=array.dtype.name,
        nodata=nodata,
        overviews=overviews,
        resampling=resampling,
        tags=tags,
        descriptions=[description] if description else None,
        classes=classes,
    ) as dst:
        dst.write(array, 1)
    return Path(path)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _colormap(classes: Mapping[int, tuple[str, str]]) -> dict[int, tuple[int, int, int, int]]:
    return {int(v): (*_rgb(color), 255) for v, (color, _) in classes.items()}


def _write_aux(path: Path, classes: Mapping[int, tuple[str, str]] | None) -> None:
    """Write (or remove a stale) ``<path>.aux.xml`` with category names and a RAT."""
    from xml.sax.saxutils import escape

    aux = path.with_name(path.name + ".aux.xml")
    if not classes:
        aux.unlink(missing_ok=True)  # an old file's legend must not stick to new data
        return
    top = max(int(v) for v in classes)
    names = [escape(classes[v][1]) if v in classes else "" for v in range(top + 1)]
    cats = "".join(f"<Category>{n}</Category>" for n in names)
    rows = "".join(
        f'<Row index="{i}"><F>{int(v)}</F><F>{escape(name)}</F>'
        + "".join(f"<F>{c}</F>" for c in _rgb(color))
        + "</Row>"
        for i, (v, (color, name)) in enumerate(sorted(classes.items()))
    )
    fields = "".join(
        f'<FieldDefn index="{i}"><Name>{n}</Name><Type>{t}</Type><Usage>{u}</Usage></FieldDefn>'
        for i, (n, t, u) in enumerate(
            [("Value", 0, 5), ("Name", 2, 2), ("Red", 0, 6), ("Green", 0, 7), ("Blue", 0, 8)]
        )
    )
    text = (
        '<PAMDataset><PAMRasterBand band="1">'
        f"<CategoryNames>{cats}</CategoryNames>"
        f'<GDALRasterAttributeTable tableType="thematic">{fields}{rows}'
        "</GDALRasterAttributeTable></PAMRasterBand></PAMDataset>\n"
    )
    tmp = aux.with_name(f".{aux.name}-{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, aux)
