"""Area-share, per-person and forest coverage metrics.

Red line / eco-control / sponge-city share, park area per person, forest coverage.

Public names are re-exported by :mod:`zoning.coverage.measure` (method notes there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError, MissingLayerError
from zoning.coverage.metrics import (
    MetricResult,
    area_series,
    as_frame,
    dissolved_area,
    make_result,
    pct,
    zones_of,
)
from zoning.coverage.parks import (
    raster_sum,
)
from zoning.coverage.service import clip_to_zones, metric_frame, polygonal

__all__ = [
    "DEFAULT_FOREST_CLASSES",
    "forest_share",
    "park_area_per_person",
    "share_of_area",
    "sponge_share",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


# --------------------------------------------------------------------------- share metrics


def share_of_area(
    layer: Any,
    area: Any,
    *,
    metric: Literal["redline_share", "eco_control_share", "sponge_share"] = "redline_share",
    districts: Any = None,
    target: Any = None,
    label: str | None = None,
) -> MetricResult:
    """Share of ``area`` covered by the (dissolved) polygons of ``layer``.

    Parameters
    ----------
    layer
        Layer or GeoDataFrame of polygons (red line, ecological control zone, ...).
    area
        The area measured against: the jurisdiction (GeoDataFrame / GeoSeries /
        shapely lon/lat geometry); its rows are dissolved.
    metric
        Metric name (selects the registry's label, unit and comparison).
    districts
        Districts (GeoDataFrame with ``adcode``, ``name``) for the breakdown.
    target
        A pack ``Target``, a number, or None: measured and reported with no target,
        gap or verdict (status ``no_target``).
    label
        Overrides the label.

    Returns
    -------
    MetricResult
        ``by_district`` columns ``measured_km2`` (numerator) and ``denominator`` /
        ``area_km2``.

    Raises
    ------
    MissingLayerError
        If ``layer`` is None.
    InputFormatError
        If ``area`` is missing or has no CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> sq = gpd.GeoSeries([shapely.box(116.0, 40.0, 116.1, 40.1)], crs=4326)
    >>> half = gpd.GeoSeries([shapely.box(116.0, 40.0, 116.05, 40.1)], crs=4326)
    >>> round(share_of_area(half, sq).value, 1)
    50.0
    """
    inputs: dict[str, Any] = {}
    gdf = as_frame(layer, metric.removesuffix("_share"), inputs)
    area_gs = area_series(area)
    if area_gs is None:
        msg = f"{metric}: give the `area` to measure against (the jurisdiction boundary)"
        raise InputFormatError(msg)
    frame = metric_frame(area_gs, gdf)
    area_m = polygonal(frame.project(area_gs))[0]
    zones, info = zones_of(districts, frame)
    if len(zones):
        # per district, the denominator is the district's part of the measured area
        # (its built-up land for the sponge share), not the whole district
        zones = shapely.intersection(zones, area_m)
    num, num_z = dissolved_area(frame, frame.project(gdf), area_m, zones)
    den = float(frame.areas(np.array([area_m], dtype=object))[0])
    den_z = frame.areas(zones) if len(zones) else np.zeros(0)
    table = info.assign(
        value=pct(num_z, den_z), measured_km2=num_z / 1e6, area_km2=den_z / 1e6,
        denominator=den_z / 1e6,
    )  # fmt: skip
    return make_result(
        metric,
        target,
        value=float(pct(num, den)),
        base=den / 1e6,
        inputs=inputs,
        table=table,
        details={"measured_km2": num / 1e6, "area_km2": den / 1e6, "features": len(gdf)},
        label=label,
    )


def sponge_share(
    sponge: Any,
    built_up: Any,
    *,
    districts: Any = None,
    target: Any = None,
) -> MetricResult:
    """Share of the built-up area meeting sponge-city standards (海绵城市达标面积比例).

    Parameters
    ----------
    sponge
        Layer / GeoDataFrame of areas meeting the sponge-city standard.
    built_up
        The built-up area (建成区): GeoDataFrame / GeoSeries / lon/lat geometry.
    districts
        Districts for the breakdown.
    target
        Pack target, number, or None (measured, not judged: ``no_target``).

    Returns
    -------
    MetricResult
    """
    return share_of_area(
        sponge, built_up, metric="sponge_share", districts=districts, target=target
    )


# --------------------------------------------------------------------------- per person


def park_area_per_person(
    parks: Any,
    *,
    population: Any,
    residential: Any = None,
    area_of: Any = None,
    districts: Any = None,
    target: Any = None,
    area_codes: Sequence[str] | None = None,
) -> MetricResult:
    """Park green space per person (人均公园绿地面积), m² per resident.

    Numerator and denominator always cover the same area: with a population table,
    the parks of the districts whose population is known are divided by the
    population of those same districts (the figure is then partial, see
    :func:`zoning.coverage.metrics.with_status`, unless the table holds the whole area).

    Parameters
    ----------
    parks
        Park layer / GeoDataFrame; every park counts (no size tier), overlaps
        dissolved, clipped to ``area_of``.
    population
        A population table (DataFrame with ``adcode``, ``population``, ``year``,
        ``source``: :func:`zoning.coverage.population.load_population`), a number (residents
        of ``area_of``), a column of ``residential`` (e.g. "population"; polygons
        clipped to the area, population apportioned by area) or a population raster
        path (summed over the area and districts).
    residential
        Residential layer, needed when ``population`` is a column name.
    area_of
        Jurisdiction.
    districts
        Districts for the breakdown (per-district population needs a column or a
        raster; a plain number gives NaN per district).
    target
        Pack target, number, or None (measured, not judged: ``no_target``).
    area_codes
        Adcodes of ``area_of``, to look its population up in a population table.

    Returns
    -------
    MetricResult
        ``gap_abs`` in m² per person; ``details["park_m2_needed"]`` the park area
        still needed at the current population.

    Raises
    ------
    InputFormatError
        If a given number is not positive or the population cannot be read.
    MissingLayerError
        If the area has no residents in the population given (无数据).
    """
    inputs: dict[str, Any] = {}
    parks_gdf = as_frame(parks, "park", inputs)
    area_gs = area_series(area_of)
    frame = metric_frame(area_gs, parks_gdf)
    area_m = None if area_gs is None else polygonal(frame.project(area_gs))[0]
    zones, info = zones_of(districts, frame)
    park_m2, park_z = dissolved_area(frame, frame.project(parks_gdf), area_m, zones)
    pop_z = np.full(len(zones), np.nan)
    notes: list[dict[str, str]] = []
    complete = True
    if isinstance(population, pd.DataFrame):
        codes_t = population["adcode"].astype(str)
        by_code = dict(zip(codes_t, population["population"].astype(float), strict=True))
        pop_z = np.array([by_code.get(str(c), np.nan) for c in info["adcode"]], dtype=float)
        codes = [str(c) for c in area_codes or []]
        if codes and all(c in by_code for c in codes):
            pop = float(sum(by_code[c] for c in codes))
            used = codes
        elif len(zones) and np.isfinite(pop_z).any():
            ok = np.isfinite(pop_z)
            pop, park_m2, complete = float(pop_z[ok].sum()), float(park_z[ok].sum()), bool(ok.all())
            used = [str(c) for c in info["adcode"][ok]]
        else:
            where = f"adcode(s) {codes}" if codes else "the districts of the area"
            msg = (
                f"无数据: no population for {where} in the population table "
                f"{population.attrs.get('path', '')}: add their rows (adcode,name,population,"
                "year,source) or pass `--population NUMBER|FILE`"
            )
            raise MissingLayerError(msg)
        rows = population[population["adcode"].astype(str).isin(used)]
        years = sorted({str(y) for y in rows["year"]})
        sources = sorted({str(x) for x in rows["source"]})
        kinds = set(rows["kind"].astype(str)) if "kind" in rows else {"published"}
        inputs[f"population:{population.attrs.get('path', 'table')}"] = "/".join(years)
        text = f"人口：常住人口{pop:,.0f}人（{'、'.join(years)}年；来源：{'；'.join(sources)}）"
        if kinds - {"published"}:
            text += "；含演示（非公布）数字"
        notes.append(
            {
                "kind": "assumption",
                "text": text,
                "text_en": f"population {pop:,.0f} ({'/'.join(years)}), from the population table",
            }
        )
    elif isinstance(population, int | float | np.number):
        pop = float(population)
    elif isinstance(population, str) and residential is not None:
        res = as_frame(residential, "residential", inputs)
        if population not in res.columns:
            msg = f"the residential layer has no column {population!r} for the population"
            raise InputFormatError(msg)
        values = pd.to_numeric(res[population], errors="coerce").fillna(0).to_numpy(float)
        res_m = polygonal(frame.project(res))
        dens = np.where(shapely.area(res_m) > 0, values / np.maximum(shapely.area(res_m), 1e-9), 0)
        if area_m is not None:
            gi, _, pieces = clip_to_zones(res_m, np.array([area_m], dtype=object))
            pop = float((shapely.area(pieces) * dens[gi]).sum())
        else:
            pop = float(values.sum())
        if len(zones):
            gi, zi, pieces = clip_to_zones(res_m, zones)
            pop_z = np.bincount(zi, shapely.area(pieces) * dens[gi], minlength=len(zones))
    elif isinstance(population, str | os.PathLike) and os.path.exists(population):
        inputs[f"raster:{os.fspath(population)}"] = None
        shapes = [area_m] if area_m is not None else [shapely.union_all(frame.project(parks_gdf))]
        pop = float(raster_sum(population, gpd.GeoDataFrame(geometry=shapes, crs=frame.crs))[0])
        if len(zones):
            pop_z = raster_sum(population, gpd.GeoDataFrame(geometry=zones, crs=frame.crs))
    else:
        msg = (
            f"`population`={population!r}: give a number, a column of `residential` "
            "(with residential=...) or the path of a population raster"
        )
        raise InputFormatError(msg)
    if isinstance(population, int | float | np.number):
        complete = True  # residents of the whole area: districts are just not known
    elif not isinstance(population, pd.DataFrame) and len(zones):
        # a residential column or raster with residents in some districts only: parks
        # and residents of those same districts (numerator and denominator, same area)
        ok = pop_z > 0
        if ok.any() and not ok.all():
            pop, park_m2, complete = float(pop_z[ok].sum()), float(park_z[ok].sum()), False
    if isinstance(population, int | float | np.number) and not pop > 0:
        msg = f"`population` must be a positive number of residents (got {pop})"
        raise InputFormatError(msg)
    if not pop > 0:
        msg = (
            f"无数据: the population of the area is {pop}: give the residents with "
            "`--population NUMBER|FILE.csv` (Python: population=...)"
        )
        raise MissingLayerError(msg)
    value = park_m2 / pop
    with np.errstate(divide="ignore", invalid="ignore"):
        per_z = np.where(pop_z > 0, park_z / pop_z, np.nan)
    table = info.assign(
        value=per_z, park_km2=park_z / 1e6, park_m2=park_z, population=pop_z, denominator=pop_z
    )
    res = make_result(
        "park_area_per_person", target, value=value, base=pop, inputs=inputs, table=table,
        details={"park_m2": park_m2, "park_km2": park_m2 / 1e6, "population": pop,
                 "complete_data": complete},
    )  # fmt: skip
    if notes:
        res.notes.extend(notes)
    if res.gap_abs is not None:
        res.details["park_m2_needed"] = max(0.0, res.gap_abs * pop)
    return res


# --------------------------------------------------------------------------- forest


#: ESA WorldCover class 10 "Tree cover"; CLCD / GlobeLand30 users pass their codes.
DEFAULT_FOREST_CLASSES = (10,)


def forest_share(
    raster: str | os.PathLike[str],
    area: Any,
    *,
    forest_classes: Sequence[int] = DEFAULT_FOREST_CLASSES,
    districts: Any = None,
    target: Any = None,
    label: str | None = None,
) -> MetricResult:
    """Forest coverage (森林覆盖率) from a categorical land-cover raster.

    Pixels cut by the area's edge count by the fraction inside (exactextract);
    nodata pixels are left out of both numerator and denominator, and
    ``details["data_pct"]`` says how much of the area the raster covered. On
    lon/lat rasters pixels are weighted by their (spherical) area.

    Parameters
    ----------
    raster
        Land-cover GeoTIFF (any CRS; the area is reprojected to it).
    area
        The area (jurisdiction, plains, sub-centre).
    forest_classes
        Raster values that are forest (default ESA WorldCover 10 "Tree cover").
    districts
        Districts for the breakdown.
    target
        Pack target, number, or None (measured, not judged: ``no_target``).
    label
        Overrides the label.

    Returns
    -------
    MetricResult

    Raises
    ------
    MissingLayerError
        If the raster file does not exist.
    """
    import rasterio
    from exactextract import exact_extract

    path = os.fspath(raster) if raster is not None else None
    if path is None or not os.path.exists(path):
        msg = f"no land-cover raster at {path!r}: pass the path of a land-cover GeoTIFF"
        raise MissingLayerError(msg)
    inputs: dict[str, Any] = {f"raster:{path}": None}
    area_gs = area_series(area)
    if area_gs is None:
        msg = "forest_share: give the `area` to measure"
        raise InputFormatError(msg)
    frame = metric_frame(area_gs)
    area_m = polygonal(frame.project(area_gs))
    zones, info = zones_of(districts, frame)
    shapes = np.concatenate([area_m, zones])
    with rasterio.open(path) as src:
        rcrs, geographic = src.crs, src.crs.is_geographic
        px = abs(src.transform.a * src.transform.e)
    g = gpd.GeoSeries(shapes, crs=frame.crs).to_crs(rcrs.to_wkt())
    w = "(coverage_weight=area_spherical_m2)" if geographic else ""
    out = exact_extract(
        path, gpd.GeoDataFrame(geometry=g.values, crs=g.crs), ["unique", f"frac{w}", f"count{w}"],
        output="pandas",
    )  # fmt: skip
    classes = {int(c) for c in forest_classes}
    share = np.array(
        [
            100.0 * float(sum(f for u, f in zip(us, fs, strict=True) if int(u) in classes))
            for us, fs in zip(out["unique"], out["frac"], strict=True)
        ]
    )
    data_m2 = out["count"].to_numpy(float) * (1.0 if geographic else px)
    areas = frame.areas(shapes)
    table = info.assign(
        value=share[1:], forest_km2=share[1:] / 100 * areas[1:] / 1e6, area_km2=areas[1:] / 1e6,
        denominator=areas[1:] / 1e6,
    )  # fmt: skip
    details = {
        "forest_classes": sorted(classes),
        "area_km2": areas[0] / 1e6,
        "forest_km2": share[0] / 100 * areas[0] / 1e6,
        "data_pct": float(pct(data_m2[0], areas[0])),
    }
    return make_result(
        "forest_share", target, value=float(share[0]), base=areas[0] / 1e6, inputs=inputs,
        table=table, details=details, label=label,
    )  # fmt: skip
