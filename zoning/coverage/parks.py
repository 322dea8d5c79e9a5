"""Park green space service-radius coverage (公园绿地服务半径覆盖率): vector and raster.

Private to :mod:`zoning.coverage.measure`, which documents the method and re-exports
:func:`park_service_coverage`, :func:`park_coverage_geometry`,
:func:`coverage_tiles` and their result classes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import InputFormatError
from geo.measure import geodesic_length
from geo.scale import plane_scale
from zoning.coverage.metrics import (
    MetricResult,
    area_series,
    as_frame,
    make_result,
    pct,
    zones_of,
)
from zoning.coverage.registry import metric_spec
from zoning.coverage.service import (
    MetricFrame,
    clip_to_zones,
    dissolve_overlaps,
    metric_frame,
    network_reach,
    network_service,
    park_areas,
    polygonal,
    radius_for,
    straight_service,
    subtract_all,
    tier_table,
)


@dataclass
class CoverageGeometry:
    """Residential land split into served and unserved parts (metric CRS).

    Attributes
    ----------
    frame : MetricFrame
        Metric CRS and equal-area CRS.
    parts : numpy.ndarray
        Disjoint residential polygons inside the jurisdiction.
    uncovered : numpy.ndarray
        The part of each polygon outside every service area (empty when covered).
    factor : numpy.ndarray
        Ellipsoidal / planar area ratio of each part.
    population : numpy.ndarray or None
        Population of each part.
    parks, radius : numpy.ndarray
        Counted parks (metric) and their service radius (metres on the ellipsoid; the
        service areas are drawn with it times the plane's scale at each park).
    service : numpy.ndarray
        Service-area polygons (discs, or network capsules and parks).
    area_m : shapely.Geometry or None
        The jurisdiction (metric).
    """

    frame: MetricFrame
    parts: NDArray[np.object_]
    uncovered: NDArray[np.object_]
    factor: NDArray[np.float64]
    population: NDArray[np.float64] | None
    parks: NDArray[np.object_]
    radius: NDArray[np.float64]
    service: NDArray[np.object_]
    area_m: Any = None

    @property
    def area_m2(self) -> NDArray[np.float64]:
        """Ellipsoidal area of each residential part."""
        return shapely.area(self.parts) * self.factor

    @property
    def uncovered_m2(self) -> NDArray[np.float64]:
        """Ellipsoidal area of the uncovered piece of each part."""
        return shapely.area(self.uncovered) * self.factor


def _population_of(
    res: gpd.GeoDataFrame, population: Any, inputs: dict[str, Any]
) -> NDArray[np.float64] | None:
    """Per-polygon population from a column name or a raster path (None if not given)."""
    if population is None:
        return None
    if isinstance(population, str) and population in res.columns:
        return pd.to_numeric(res[population], errors="coerce").fillna(0).to_numpy(np.float64)
    if isinstance(population, str | os.PathLike) and os.path.exists(population):
        inputs[f"raster:{os.fspath(population)}"] = None
        return raster_sum(population, res)
    msg = (
        f"`population`={population!r} is neither a column of the residential layer "
        f"(columns: {[c for c in res.columns if c != 'geometry']}) nor a raster file"
    )
    raise InputFormatError(msg)


def raster_sum(path: Any, gdf: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Sum of raster values over each polygon, edge pixels weighted by covered fraction."""
    import rasterio
    from exactextract import exact_extract

    with rasterio.open(path) as src:
        rcrs = src.crs
    g = gpd.GeoDataFrame(geometry=gdf.geometry.to_crs(rcrs.to_wkt()).values, crs=rcrs.to_wkt())
    if len(g) == 0:
        return np.zeros(0)
    out = exact_extract(os.fspath(path), g, ["sum"], output="pandas")
    return out["sum"].to_numpy(np.float64)


def park_coverage_geometry(
    parks: Any,
    residential: Any,
    *,
    tiers: Any = None,
    area_of: Any = None,
    population: Any = None,
    network: Any = None,
    access_m: float = 50.0,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
    subtract: bool = True,
    inputs: dict[str, Any] | None = None,
) -> CoverageGeometry:
    """Split residential land into parts inside / outside park service areas.

    The geometric core of :func:`park_service_coverage`, also used by
    :mod:`zoning.coverage.gaps` and :mod:`maps.raster`. Parameters as there, plus
    ``subtract=False`` to skip the vector subtraction (``uncovered`` is then the
    parts themselves; for the raster method) and ``inputs``, a dict that receives
    the layer versions.

    Returns
    -------
    CoverageGeometry
    """
    inputs = {} if inputs is None else inputs
    parks_gdf = as_frame(parks, "park", inputs)
    res_gdf = as_frame(residential, "residential", inputs)
    area_gs = area_series(area_of)
    frame = metric_frame(area_gs, res_gdf, parks_gdf)
    table = tier_table(tiers)
    radius = radius_for(park_areas(parks_gdf), table)
    counted = radius > 0
    parks_m = polygonal(frame.project(parks_gdf))[counted]
    radius = radius[counted]

    res_m = polygonal(frame.project(res_gdf))
    pop = _population_of(res_gdf, population, inputs)
    area_m = None
    if area_gs is not None:
        area_m = polygonal(frame.project(area_gs))[0]
        gi, _, pieces = clip_to_zones(res_m, np.array([area_m], dtype=object))
    else:
        keep = shapely.area(res_m) > 0
        gi, pieces = np.flatnonzero(keep), res_m[keep]
    if pop is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.nan_to_num(shapely.area(pieces) / shapely.area(res_m[gi]))
        piece_pop = pop[gi] * share
    # the raster method dissolves by rasterising: skip the vector dissolve there
    parts, labels = dissolve_overlaps(pieces) if subtract else (pieces, np.arange(len(pieces)))
    part_pop = None if pop is None else np.bincount(labels, piece_pop, minlength=len(parts))

    # the radii are metres on the ellipsoid (one plane for a whole jurisdiction: 4° from
    # its meridian, Guangxi's edges, a plane metre is 2 mm short): discs drawn at each
    # park's scale; walks measured on the ellipsoid, one per tier
    scale = plane_scale(frame.crs)
    if network is not None:
        net_inputs: dict[str, Any] = {}
        lines = as_frame(network, "network", net_inputs)
        inputs.update({f"network:{k}": v for k, v in net_inputs.items()})
        service = network_service(
            parks_m,
            radius,
            frame.project(lines),
            access_m=access_m,
            snap_m=snap_m,
            entrance_spacing_m=entrance_spacing_m,
            scale=scale,
        )
    else:
        service = straight_service(parks_m, scale.plane_at(radius, parks_m))
    uncovered = polygonal(subtract_all(parts, service)) if subtract else parts.copy()
    return CoverageGeometry(
        frame=frame,
        parts=parts,
        uncovered=uncovered,
        factor=frame.area_factor(parts),
        population=part_pop,
        parks=parks_m,
        radius=radius,
        service=service,
        area_m=area_m,
    )


def park_service_coverage(
    parks: Any,
    residential: Any,
    *,
    tiers: Any = None,
    area_of: Any = None,
    population: Any = None,
    network: Any = None,
    districts: Any = None,
    weight: Literal["area", "population"] = "area",
    method: Literal["vector", "raster"] = "vector",
    resolution_m: float = 10.0,
    access_m: float = 50.0,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
    target: Any = None,
) -> MetricResult:
    """Park green space service-radius coverage (公园绿地服务半径覆盖率).

    coverage = residential land within any counted park's service radius ÷ all
    residential land (GB/T 51346-2019 A.0.3), inside ``area_of``.

    Parameters
    ----------
    parks
        Park layer / GeoDataFrame (``area_m2`` used for the tier when present).
    residential
        Residential layer / GeoDataFrame (optional ``population`` column).
    tiers
        ``ParkService`` of the pack, list of tiers or ``(min_area_m2, radius_m)``
        pairs; default GB/T 50563-2010.
    area_of
        Jurisdiction to measure in (residential land is clipped to it; parks
        outside it still serve it). None: all residential land.
    population
        Column of ``residential`` ("population") or a population raster path:
        adds the population-weighted coverage (``details["population_pct"]`` and
        the ``population_pct`` column per district).
    network
        Street lines (GeoDataFrame) to measure the radius along instead of in a
        straight line.
    districts
        Districts (``adcode``, ``name``) for the breakdown.
    weight
        "area" (the standard's formula, default) or "population": which value is
        reported as ``value``.
    method
        "vector" (exact) or "raster" (grid cross-check at ``resolution_m``; area
        only, no network).
    resolution_m
        Raster cell size for ``method="raster"``.
    access_m, snap_m, entrance_spacing_m
        Network options: access depth either side of a reachable street, maximum
        entrance-to-street distance, spacing of entrances along park boundaries.
    target
        Pack target, number, or None (measured, not judged: ``no_target``).

    Returns
    -------
    MetricResult
        ``by_district`` columns ``covered_km2``, ``residential_km2`` (=
        ``denominator``) and, with population, ``population``,
        ``covered_population``, ``population_pct``.

    Raises
    ------
    MissingLayerError
        If parks or residential land are missing.
    InputFormatError
        For unknown options or unusable inputs.
    """
    if method not in ("vector", "raster"):
        msg = f"`method` must be 'vector' or 'raster' (got {method!r})"
        raise InputFormatError(msg)
    if weight not in ("area", "population"):
        msg = f"`weight` must be 'area' or 'population' (got {weight!r})"
        raise InputFormatError(msg)
    if weight == "population" and population is None:
        msg = "weight='population' needs `population=` (a column name or a raster path)"
        raise InputFormatError(msg)
    if method == "raster":
        if network is not None or population is not None:
            msg = "method='raster' measures area coverage only: drop `network`/`population`"
            raise InputFormatError(msg)
        return _raster_coverage(
            parks, residential, tiers=tiers, area_of=area_of, districts=districts,
            resolution_m=resolution_m, target=target,
        )  # fmt: skip
    inputs: dict[str, Any] = {}
    cov = park_coverage_geometry(
        parks, residential, tiers=tiers, area_of=area_of, population=population,
        network=network, access_m=access_m, snap_m=snap_m,
        entrance_spacing_m=entrance_spacing_m, inputs=inputs,
    )  # fmt: skip
    area = cov.area_m2
    unc = cov.uncovered_m2
    res_total, cov_total = float(area.sum()), float(area.sum() - unc.sum())
    zones, info = zones_of(districts, cov.frame)
    table = info.copy()
    details: dict[str, Any] = {
        "method": "network" if network is not None else "vector",
        "residential_km2": res_total / 1e6,
        "covered_km2": cov_total / 1e6,
        "area_pct": float(pct(cov_total, res_total)),
        "parks_counted": len(cov.parks),
        "tiers": tier_table(tiers),
    }
    if len(zones):
        gi, zi, pieces = clip_to_zones(cov.parts, zones)
        res_z = np.bincount(zi, shapely.area(pieces) * cov.factor[gi], minlength=len(zones))
        ui, uz, upieces = clip_to_zones(cov.uncovered, zones)
        unc_z = np.bincount(uz, shapely.area(upieces) * cov.factor[ui], minlength=len(zones))
        table["covered_km2"] = (res_z - unc_z) / 1e6
        table["residential_km2"] = res_z / 1e6
        table["denominator"] = res_z / 1e6
        table["value"] = pct(res_z - unc_z, res_z)
    if cov.population is not None:
        planar = shapely.area(cov.parts)
        with np.errstate(divide="ignore", invalid="ignore"):
            unc_share = np.nan_to_num(shapely.area(cov.uncovered) / planar)
        pop_total = float(cov.population.sum())
        pop_cov = float((cov.population * (1 - unc_share)).sum())
        details |= {
            "population": pop_total,
            "covered_population": pop_cov,
            "population_pct": float(pct(pop_cov, pop_total)),
        }
        if len(zones):
            dens = np.where(planar > 0, cov.population / np.where(planar > 0, planar, 1), 0)
            pop_z = np.bincount(zi, shapely.area(pieces) * dens[gi], minlength=len(zones))
            upop_z = np.bincount(uz, shapely.area(upieces) * dens[ui], minlength=len(zones))
            table["population"] = pop_z
            table["covered_population"] = pop_z - upop_z
            table["population_pct"] = pct(pop_z - upop_z, pop_z)
    value = details["area_pct"]
    label = None
    if weight == "population":
        value = details["population_pct"]
        label = metric_spec("park_service_coverage").label + "(人口加权)"
        if len(zones):
            table["value"] = table["population_pct"]
    return make_result(
        "park_service_coverage", target, value=value, base=res_total / 1e6, inputs=inputs,
        table=table, details=details, label=label,
    )  # fmt: skip


@dataclass(frozen=True)
class CoverageTile:
    """One window of the raster park-coverage method.

    Attributes
    ----------
    window : rasterio.windows.Window
        Where the tile sits in the grid.
    residential : numpy.ndarray
        bool, residential pixels.
    covered : numpy.ndarray
        bool, residential pixels within a service radius.
    zone : numpy.ndarray or None
        uint16 district number (1-based, 0 outside every district).
    pixel_m2 : float
        Ellipsoidal pixel area at the tile centre.
    """

    window: Any
    residential: NDArray[np.bool_]
    covered: NDArray[np.bool_]
    zone: NDArray[np.uint16] | None
    pixel_m2: float


def coverage_tiles(
    cov: CoverageGeometry,
    grid: Any,
    *,
    zones: NDArray[np.object_] | None = None,
    tile: int = 1024,
) -> Iterator[CoverageTile]:
    """Per-pixel park coverage on ``grid``, window by window (raster method).

    Parameters
    ----------
    cov
        Output of :func:`park_coverage_geometry` (its parts, parks and radii are used;
        its vector result is not).
    grid
        A :class:`geo.raster.RasterGrid` in ``cov.frame.crs``.
    zones
        District polygons (metric) to label pixels with.
    tile
        Window size in pixels.

    Yields
    ------
    CoverageTile
        Only windows holding residential pixels.
    """
    from rasterio.windows import Window

    from geo.raster import distance_to, inner_slices, iter_windows, pixel_area_m2, rasterize

    res = grid.resolution
    levels = np.unique(cov.radius)
    scale = plane_scale(grid.crs)  # each tile draws the radii at its centre's scale
    pad = math.ceil((float(levels.max(initial=0)) * 1.01 + res) / res) + 1  # (k < 1.01)
    res_tree = shapely.STRtree(cov.parts)
    park_tree = shapely.STRtree(cov.parks)
    reps = shapely.point_on_surface(cov.parks)
    zone_ids = np.arange(1, 0 if zones is None else len(zones) + 1)
    for window, _ in iter_windows(grid, size=tile):
        box = shapely.box(*grid.window_bounds(window))
        hit = res_tree.query(box, predicate="intersects")
        if len(hit) == 0:
            continue
        mask = rasterize(cov.parts[hit], grid, window=window, dtype="uint8").astype(bool)
        if not mask.any():
            continue
        # distances only around the residential pixels of the tile (plus the radius)
        rr, cc = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        inner = Window(
            window.col_off + cc[0], window.row_off + rr[0], cc[-1] - cc[0] + 1, rr[-1] - rr[0] + 1
        )
        padded = Window(
            inner.col_off - pad, inner.row_off - pad, inner.width + 2 * pad, inner.height + 2 * pad
        )  # may reach beyond the grid: parks just outside still count
        rows, cols = inner_slices(inner, padded)
        near_cov = np.zeros((int(inner.height), int(inner.width)), dtype=bool)
        near = park_tree.query(shapely.box(*grid.window_bounds(padded)), predicate="intersects")
        k = float(scale.k(*box.centroid.coords[0]))
        for r in levels:
            sel = near[cov.radius[near] == r]
            if len(sel) == 0:
                continue
            geoms = np.concatenate([cov.parks[sel], reps[sel]])
            src = rasterize(geoms, grid, window=padded, dtype="uint8").astype(bool)
            near_cov |= distance_to(src, resolution=res)[rows, cols] <= r * k + res / 2
        covered = np.zeros(mask.shape, dtype=bool)
        covered[rr[0] : rr[-1] + 1, cc[0] : cc[-1] + 1] = near_cov
        zone = None
        if len(zone_ids):
            # clip the districts to the tile first: far fewer vertices to burn
            zi = np.flatnonzero(shapely.intersects(zones, box))
            clipped = shapely.intersection(zones[zi], box)
            zone = rasterize(clipped, grid, window=window, values=zone_ids[zi], dtype="uint16")
        yield CoverageTile(
            window=Window(window.col_off, window.row_off, window.width, window.height),
            residential=mask,
            covered=covered & mask,
            zone=zone,
            pixel_m2=pixel_area_m2(grid, window=window),
        )


def _raster_coverage(
    parks: Any,
    residential: Any,
    *,
    tiers: Any,
    area_of: Any,
    districts: Any,
    resolution_m: float,
    target: Any,
) -> MetricResult:
    from geo.raster import grid_for

    inputs: dict[str, Any] = {}
    cov = park_coverage_geometry(
        parks, residential, tiers=tiers, area_of=area_of, subtract=False, inputs=inputs
    )
    zones, info = zones_of(districts, cov.frame)
    nz = len(zones)
    res_z = np.zeros(nz + 1)
    cov_z = np.zeros(nz + 1)
    if len(cov.parts):
        crs = cov.frame.crs
        grid = grid_for(cov.parts, resolution=resolution_m, crs=crs, data_crs=crs)
        for t in coverage_tiles(cov, grid, zones=zones):
            z = t.zone.astype(np.intp) if t.zone is not None else np.zeros(t.residential.shape, int)
            res_z += np.bincount(z[t.residential], minlength=nz + 1) * t.pixel_m2
            cov_z += np.bincount(z[t.covered], minlength=nz + 1) * t.pixel_m2
    table = info.copy()
    if nz:
        table["covered_km2"] = cov_z[1:] / 1e6
        table["residential_km2"] = res_z[1:] / 1e6
        table["denominator"] = res_z[1:] / 1e6
        table["value"] = pct(cov_z[1:], res_z[1:])
    total, covered = float(res_z.sum()), float(cov_z.sum())
    details = {
        "method": "raster",
        "resolution_m": resolution_m,
        "residential_km2": total / 1e6,
        "covered_km2": covered / 1e6,
        "area_pct": float(pct(covered, total)),
        "parks_counted": len(cov.parks),
    }
    return make_result(
        "park_service_coverage", target, value=details["area_pct"], base=total / 1e6,
        inputs=inputs, table=table, details=details,
    )  # fmt: skip


def network_service_area(
    parks: Any,
    network: Any,
    *,
    tiers: Any = None,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """Streets within walking distance of the parks, one row per service radius.

    Parameters
    ----------
    parks
        Park layer / GeoDataFrame; each park's radius comes from ``tiers``.
    network
        Street lines (GeoDataFrame); crossings become junctions.
    tiers
        Park service tiers (default GB/T 50563-2010).
    snap_m
        Maximum distance from a park entrance (boundary vertex) to a street.
    entrance_spacing_m
        Spacing of entrances along park boundaries.

    Returns
    -------
    geopandas.GeoDataFrame
        In the local metric CRS: ``radius_m``, ``length_m`` (street length
        reachable, on the ellipsoid) and the reachable street pieces
        (MultiLineString) per radius. Radii, snapping and walks are metres on the
        ellipsoid (:func:`zoning.coverage.service.network_reach`). Buffer by an access
        distance to get a service area.
    """
    inputs: dict[str, Any] = {}
    parks_gdf = as_frame(parks, "park", inputs)
    lines = as_frame(network, "network", inputs)
    frame = metric_frame(parks_gdf, lines)
    radius = radius_for(park_areas(parks_gdf), tier_table(tiers))
    parks_m = polygonal(frame.project(parks_gdf))
    pieces, rr = network_reach(
        parks_m,
        radius,
        frame.project(lines),
        snap_m=snap_m,
        entrance_spacing_m=entrance_spacing_m,
        scale=plane_scale(frame.crs),
    )
    levels = np.unique(rr)
    merged = np.asarray(
        [shapely.line_merge(shapely.union_all(pieces[rr == r])) for r in levels], dtype=object
    )
    return gpd.GeoDataFrame(
        {"radius_m": levels, "length_m": geodesic_length(merged, frame.crs)},
        geometry=merged,
        crs=frame.crs,
    )
