"""GeoTIFF products: park service coverage, distance to the nearest park, any layer.

All rasters are written by :func:`geo.raster.geotiff_writer`: a grid in the local
Gauss-Krüger zone (EPSG:4534–4554) of the data, tiled 256 × 256, deflate
compression, nodata recorded, overviews built; they open in QGIS as they are.

* :func:`park_coverage_raster` — uint8 classes: 1 = residential land within a park
  service radius (已覆盖居住用地), 2 = residential land outside every radius
  (未覆盖居住用地), 0 = not residential (nodata). ``method="vector"`` burns the exact
  vector result of :func:`zoning.coverage.measure.park_service_coverage` (so the map and the
  reported figure agree); ``method="raster"`` classifies every pixel by its own
  distance to the parks (the raster cross-check).
* :func:`park_distance_raster` — float32 metres from each pixel centre to the
  nearest park pixel (parks burnt with ``all_touched=True``; Euclidean distance
  transform), nodata −9999 outside the area. Accurate to about one pixel.
* :func:`rasterize_layer` — presence (1 / nodata 0) or a column's value per pixel.

Class rasters (coverage, presence, a text column's codes) carry their legend: a
GDAL colour table, category names and attribute table (see :mod:`geo.raster`) with
the colours of the maps (:mod:`maps.style`), and a ``<stem>.qml`` beside them that
QGIS applies as the default style (paletted, with the Chinese class names). Rasters
of a jurisdiction (``area_of``) cover all of it, not only the data's box.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError
from geo.raster import (
    distance_to,
    geotiff_writer,
    grid_for,
    iter_windows,
    rasterize,
)
from maps.style import CATEGORY_STYLES, GAP_STYLE, VALUE_LABELS, layer_style
from zoning.coverage.measure import coverage_tiles, park_coverage_geometry

__all__ = [
    "COVERAGE_CLASSES",
    "park_coverage_raster",
    "park_distance_raster",
    "rasterize_layer",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

#: Pixel values of :func:`park_coverage_raster`.
COVERAGE_CLASSES = {
    0: "非居住用地 / nodata (not residential)",
    1: "服务半径内居住用地 (residential, covered)",
    2: "服务半径外居住用地 (residential, not covered)",
}

_TILE = 2048
DISTANCE_NODATA = -9999.0
# colours of classes no style table knows (a text column's codes): ColorBrewer Set3
_SET3 = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
         "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")  # fmt: skip


def coverage_classes() -> dict[int, tuple[str, str]]:
    """Pixel value → (colour, Chinese name) of :func:`park_coverage_raster`'s classes."""
    park = layer_style("park")
    return {
        1: (park.fill or park.color, "服务半径内居住用地（已覆盖）"),
        2: (GAP_STYLE.fill or GAP_STYLE.color, "服务半径外居住用地（未覆盖）"),
    }


def _write_qml(path: str | os.PathLike[str], classes: dict[int, tuple[str, str]]) -> None:
    """Write ``<stem>.qml`` beside a class raster: QGIS's default style for it."""
    from maps.qgis_style import paletted_raster_qml

    qml = Path(path).with_suffix(".qml")
    tmp = qml.with_name(f".{qml.name}.tmp")
    tmp.write_text(
        paletted_raster_qml([(v, c, name) for v, (c, name) in sorted(classes.items())]),
        encoding="utf-8",
    )
    os.replace(tmp, qml)


def _gdf(obj: Any, what: str) -> gpd.GeoDataFrame:
    gdf = obj.gdf if hasattr(obj, "gdf") else obj
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=gdf)
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"`{what}` must be a Layer or GeoDataFrame, got {type(obj).__name__}"
        raise InputFormatError(msg)
    if gdf.crs is None:
        msg = f"`{what}` has no CRS: set it with `.set_crs(...)` (layers are EPSG:4326)"
        raise InputFormatError(msg)
    return gdf


def park_coverage_raster(
    parks: Any,
    residential: Any,
    path: str | os.PathLike[str],
    *,
    tiers: Any = None,
    area_of: Any = None,
    resolution_m: float = 10.0,
    method: Literal["vector", "raster"] = "vector",
    network: Any = None,
) -> Path:
    """Write the park service coverage GeoTIFF (1 covered, 2 not covered, 0 nodata).

    Parameters
    ----------
    parks, residential
        Park and residential layers (Layer or GeoDataFrame).
    path
        Output ``.tif``.
    tiers
        Park service tiers (default GB/T 50563-2010).
    area_of
        Jurisdiction (residential land is clipped to it).
    resolution_m
        Pixel size in metres.
    method
        "vector" (rasterise the exact vector classes) or "raster" (per-pixel
        distances; no network).
    network
        Street lines for walking-distance service areas (vector method).

    Returns
    -------
    pathlib.Path
        The GeoTIFF (uint8, nodata 0, CRS the local Gauss-Krüger zone).

    Raises
    ------
    InputFormatError
        For a bad method / resolution, or no residential land.
    """
    if method not in ("vector", "raster"):
        msg = f"`method` must be 'vector' or 'raster' (got {method!r})"
        raise InputFormatError(msg)
    if method == "raster" and network is not None:
        msg = "method='raster' uses straight-line distances: drop `network` or use 'vector'"
        raise InputFormatError(msg)
    cov = park_coverage_geometry(
        parks, residential, tiers=tiers, area_of=area_of, network=network,
        subtract=method == "vector",
    )  # fmt: skip
    if len(cov.parts) == 0:
        msg = "no residential land in the area: nothing to rasterise"
        raise InputFormatError(msg)
    crs = cov.frame.crs
    extent = cov.parts if cov.area_m is None else [cov.area_m]  # the whole jurisdiction
    grid = grid_for(extent, resolution=resolution_m, crs=crs, data_crs=crs)
    classes = coverage_classes()
    tags = {
        "ecozone_product": "park_service_coverage",
        "classes": "; ".join(f"{k}={v}" for k, v in COVERAGE_CLASSES.items()),
        "method": method if network is None else "network",
        "resolution_m": resolution_m,
    }
    with geotiff_writer(
        path, grid, dtype="uint8", nodata=0, tags=tags,
        descriptions=["公园绿地服务半径覆盖 park service coverage (1 covered, 2 not covered)"],
        classes=classes,
    ) as dst:  # fmt: skip
        if method == "raster":
            for t in coverage_tiles(cov, grid, tile=_TILE):
                out = np.where(t.covered, 1, np.where(t.residential, 2, 0)).astype("uint8")
                dst.write(out, 1, window=t.window)
        else:
            covered = shapely.difference(cov.parts, cov.uncovered)
            geoms = np.concatenate([covered, cov.uncovered])
            values = np.r_[np.ones(len(covered)), np.full(len(cov.uncovered), 2)].astype("uint8")
            keep = ~shapely.is_empty(geoms)
            geoms, values = geoms[keep], values[keep]
            tree = shapely.STRtree(geoms)
            for window, _ in iter_windows(grid, size=_TILE):
                hit = tree.query(shapely.box(*grid.window_bounds(window)), predicate="intersects")
                if len(hit):
                    hit = np.sort(hit)  # covered first; disjoint anyway
                    arr = rasterize(geoms[hit], grid, values=values[hit], window=window)
                    dst.write(arr, 1, window=window)
    _write_qml(path, classes)
    return Path(path)


def park_distance_raster(
    parks: Any,
    path: str | os.PathLike[str],
    *,
    area_of: Any = None,
    resolution_m: float = 30.0,
    min_area_m2: float = 0.0,
    margin_m: float = 2000.0,
    max_pixels: int = 200_000_000,
) -> Path:
    """Write distance to the nearest park (metres, float32) as a GeoTIFF.

    Parameters
    ----------
    parks
        Park layer (Layer or GeoDataFrame).
    path
        Output ``.tif``.
    area_of
        Area to cover; pixels outside it are nodata. Default: the parks' extent.
    resolution_m
        Pixel size in metres (default 30 m).
    min_area_m2
        Only parks of at least this area (``area_m2`` column, else geodesic).
    margin_m
        The grid extends this far beyond the area, so parks just outside it count;
        parks farther out are ignored (they are never the nearest for a pixel
        within ``margin_m`` of a park).
    max_pixels
        Refuse larger grids (the distance transform holds the grid in memory).

    Returns
    -------
    pathlib.Path
        float32 GeoTIFF, nodata −9999.

    Raises
    ------
    InputFormatError
        If there are no parks or the grid would be too large.
    """
    from geo.overlay import area_series, metric_frame, polygonal
    from geo.overlay import feature_areas as park_areas

    pk = _gdf(parks, "parks")
    if min_area_m2 > 0:
        pk = pk[park_areas(pk) >= min_area_m2]
    if len(pk) == 0:
        msg = "no parks to measure distances to (check `min_area_m2`)"
        raise InputFormatError(msg)
    area_gs = area_series(area_of) if area_of is not None else None
    frame = metric_frame(area_gs, pk)
    parks_m = polygonal(frame.project(pk))
    area_m = polygonal(frame.project(area_gs)) if area_gs is not None else None
    extent = area_m if area_m is not None else parks_m
    grid = grid_for(
        extent, resolution=resolution_m, crs=frame.crs, data_crs=frame.crs, pad_m=margin_m,
        max_pixels=max_pixels,
    )  # fmt: skip
    src = rasterize(parks_m, grid, all_touched=True).astype(bool)
    dist = distance_to(src, resolution=grid.resolution)
    if area_m is not None:
        inside = rasterize(area_m, grid, all_touched=True).astype(bool)
        dist = np.where(inside, dist, DISTANCE_NODATA)
    dist = np.where(np.isfinite(dist), dist, DISTANCE_NODATA).astype("float32")
    tags = {
        "ecozone_product": "distance_to_nearest_park",
        "unit": "m",
        "resolution_m": resolution_m,
    }
    with geotiff_writer(
        path, grid, dtype="float32", nodata=DISTANCE_NODATA, resampling="average", tags=tags,
        descriptions=["到最近公园绿地距离 distance to nearest park (m)"],
    ) as dst:  # fmt: skip
        dst.write(dist, 1)
    return Path(path)


def rasterize_layer(
    layer: Any,
    path: str | os.PathLike[str],
    *,
    resolution_m: float,
    column: str | None = None,
    area_of: Any = None,
    all_touched: bool = False,
    nodata: float | None = None,
    crs: Any = None,
    kind: str | None = None,
) -> Path:
    """Rasterise any layer at a chosen resolution (presence or a column's value).

    Parameters
    ----------
    layer
        Layer or GeoDataFrame (polygons, lines or points).
    path
        Output ``.tif``.
    resolution_m
        Pixel size in metres.
    column
        None for presence (1, nodata 0); a numeric column (float32, nodata −9999);
        a text column (uint16 codes 1…n, nodata 0; the code → value table is in the
        ``codes`` tag).
    area_of
        Extent to cover (default the layer's extent).
    all_touched
        Burn every pixel a feature touches (default only pixel centres inside).
    nodata
        Override the nodata value.
    crs
        Grid CRS (default the local Gauss-Krüger zone).
    kind
        Layer kind, for the legend's colours and names (default: the Layer's own).

    Returns
    -------
    pathlib.Path
        The GeoTIFF. Where features overlap, the later row wins.

    Raises
    ------
    InputFormatError
        If ``column`` is not a column of the layer or the layer is empty.
    """
    from geo.overlay import metric_frame

    gdf = _gdf(layer, "layer")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if len(gdf) == 0:
        msg = "the layer has no geometries to rasterise"
        raise InputFormatError(msg)
    tags: dict[str, Any] = {"ecozone_product": "rasterized_layer", "resolution_m": resolution_m}
    kind = kind or (getattr(layer, "kind", None) if hasattr(layer, "gdf") else None)
    if kind:
        tags["layer_kind"] = kind
    classes: dict[int, tuple[str, str]] | None = None
    style = layer_style(kind or "")
    if column is None:
        values = np.ones(len(gdf))
        dtype, nd = "uint8", 0 if nodata is None else nodata
        tags["value"] = "presence (1)"
        classes = {1: (style.fill or style.color, style.label_zh if kind else "要素")}
    elif column not in gdf.columns:
        msg = f"no column {column!r} in the layer; columns: {[c for c in gdf.columns]}"
        raise InputFormatError(msg)
    elif pd.api.types.is_numeric_dtype(gdf[column]) and not pd.api.types.is_bool_dtype(gdf[column]):
        values = pd.to_numeric(gdf[column], errors="coerce").to_numpy(np.float64)
        dtype, nd = "float32", DISTANCE_NODATA if nodata is None else nodata
        tags["value"] = column
    else:
        codes, uniques = pd.factorize(gdf[column].astype(str), sort=True)
        values = codes + 1.0
        dtype, nd = "uint16", 0 if nodata is None else nodata
        tags["value"] = column
        tags["codes"] = "; ".join(f"{i + 1}={u}" for i, u in enumerate(uniques))
        known = CATEGORY_STYLES.get(kind or "", ("", {}))
        own = known[1] if known[0] == column else {}
        labels = VALUE_LABELS.get(column, {})
        classes = {
            i + 1: (
                (own[u].fill or own[u].color) if u in own else _SET3[i % len(_SET3)],
                own[u].label_zh if u in own else labels.get(u, (u,))[0],
            )
            for i, u in enumerate(uniques)
        }
    frame = metric_frame(gdf) if crs is None else None
    target = frame.crs if frame is not None else crs
    extent = gdf if area_of is None else _gdf(area_of, "area_of")
    grid = grid_for(extent, resolution=resolution_m, crs=target)
    geoms = np.asarray(gdf.geometry.to_crs(grid.crs).values, dtype=object)
    keep = np.isfinite(values)
    geoms, values = geoms[keep], values[keep]
    tree = shapely.STRtree(geoms)
    if classes is not None and nd in classes:  # a class on the nodata value: no legend
        classes = None
    with geotiff_writer(path, grid, dtype=dtype, nodata=nd, tags=tags, classes=classes) as dst:
        for window, _ in iter_windows(grid, size=_TILE):
            hit = np.sort(tree.query(shapely.box(*grid.window_bounds(window))))
            if len(hit):
                arr = rasterize(
                    geoms[hit], grid, values=values[hit], window=window,
                    all_touched=all_touched, fill=nd, dtype=dtype,
                )  # fmt: skip
                dst.write(arr, 1, window=window)
            elif nd != 0:
                dst.write(np.full((window.height, window.width), nd, dtype=dtype), 1, window=window)
    if classes is not None:
        _write_qml(path, classes)
    return Path(path)
