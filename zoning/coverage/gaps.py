"""Gap analysis of park service coverage and candidate sites for new pocket parks.

:func:`uncovered_residential` returns the residential land outside every park's
service area (same method as :func:`zoning.coverage.measure.park_service_coverage`) as
ranked polygons per district, with ellipsoidal areas.

:func:`pocket_park_sites` chooses, greedily, ``n`` sites for new pocket parks
(口袋公园) that each add the most uncovered residential land within the pocket-park
radius (default 300 m, the 2 000–5 000 m² tier of GB/T 50563-2010):

* candidates are either the user's parcels (``candidates=``; a parcel serves the
  land within ``radius_m`` of its edge) or the points of a square grid with
  ``spacing_m`` spacing that lie within ``radius_m`` of a gap and outside the
  ``exclude`` layers (pass residential land and parks: a new park does not go on
  a home or an existing park). The grid is the simple, documented choice: it does
  not know which land is vacant; filter the result against a land-use map;
* the area each candidate would serve is computed once for every
  candidate × gap pair that meets (an STRtree query and one vectorised
  intersection); after each choice only the pairs of the gaps the chosen site
  touched are recomputed against the reduced gaps, so the gain of every site is
  always exact (no double counting of land two sites could both serve).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError
from geo.scale import plane_scale
from zoning.coverage.metrics import as_frame, zones_of
from zoning.coverage.parks import park_coverage_geometry
from zoning.coverage.service import MetricFrame, clip_to_zones, metric_frame, polygonal

__all__ = ["pocket_park_sites", "uncovered_residential"]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def uncovered_residential(
    parks: Any,
    residential: Any,
    *,
    tiers: Any = None,
    area_of: Any = None,
    districts: Any = None,
    population: Any = None,
    network: Any = None,
    min_area_m2: float = 1.0,
    access_m: float = 50.0,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """Residential land outside every park service area, ranked by area.

    Parameters
    ----------
    parks, residential
        Park and residential layers (Layer or GeoDataFrame).
    tiers
        Park service tiers (default GB/T 50563-2010).
    area_of
        Jurisdiction to analyse.
    districts
        Districts (``adcode``, ``name``): gaps are split at district borders.
    population
        Residential column or population raster: adds the unserved population.
    network
        Street lines for walking-distance service areas.
    min_area_m2
        Pieces smaller than this (slivers from floating-point overlay) are left
        out; their total is in ``attrs["slivers_m2"]``.
    access_m, snap_m, entrance_spacing_m
        Network options (see :func:`zoning.coverage.measure.park_service_coverage`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per gap polygon: ``gap_id``, ``rank`` (1 = largest),
        ``district_adcode``, ``district``, ``district_rank``, ``area_m2``
        (ellipsoidal), ``population`` (when given), geometry. ``attrs`` holds
        ``residential_m2``, ``covered_m2``, ``metric_crs`` and ``inputs``.

    Raises
    ------
    MissingLayerError
        If a layer is missing.
    """
    inputs: dict[str, Any] = {}
    cov = park_coverage_geometry(
        parks, residential, tiers=tiers, area_of=area_of, population=population,
        network=network, access_m=access_m, snap_m=snap_m,
        entrance_spacing_m=entrance_spacing_m, inputs=inputs,
    )  # fmt: skip
    frame = cov.frame
    pieces, owner = shapely.get_parts(cov.uncovered, return_index=True)
    zones, info = zones_of(districts, frame)
    if len(zones):
        gi, zi, pieces = clip_to_zones(pieces, zones)
        owner = owner[gi]
        adcode = info["adcode"].to_numpy(dtype=object)[zi]
        name = info["name"].to_numpy(dtype=object)[zi]
    else:
        adcode = np.full(len(pieces), None, dtype=object)
        name = np.full(len(pieces), None, dtype=object)
    area = shapely.area(pieces) * cov.factor[owner]
    keep = area >= min_area_m2
    data = {
        "district_adcode": adcode[keep],
        "district": name[keep],
        "area_m2": area[keep],
    }
    if cov.population is not None:
        planar = shapely.area(cov.parts)[owner]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.nan_to_num(shapely.area(pieces) / planar)
        data["population"] = (cov.population[owner] * share)[keep]
    out = gpd.GeoDataFrame(data, geometry=pieces[keep], crs=frame.crs)
    out = out.sort_values("area_m2", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "gap_id", [f"gap-{i + 1:05d}" for i in range(len(out))])
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    key = out["district_adcode"].fillna("")
    out.insert(4, "district_rank", out.groupby(key, sort=False).cumcount().to_numpy() + 1)
    out = out.to_crs(4326)
    total = float(cov.area_m2.sum())
    out.attrs.update(
        residential_m2=total,
        covered_m2=total - float(cov.uncovered_m2.sum()),
        slivers_m2=float(area[~keep].sum()),
        metric_crs=frame.crs.to_string(),
        inputs=inputs,
    )
    return out


def _candidate_grid(
    gaps_m: np.ndarray,
    *,
    radius_m: float,
    spacing_m: float,
    exclude_m: np.ndarray,
) -> np.ndarray:
    """Grid points within ``radius_m`` of a gap and outside ``exclude_m``."""
    minx, miny, maxx, maxy = shapely.total_bounds(gaps_m)
    x0 = np.floor((minx - radius_m) / spacing_m) * spacing_m
    y0 = np.floor((miny - radius_m) / spacing_m) * spacing_m
    xs = np.arange(x0, maxx + radius_m + spacing_m, spacing_m)
    ys = np.arange(y0, maxy + radius_m + spacing_m, spacing_m)
    if xs.size * ys.size > 20_000_000:
        msg = (
            f"a {spacing_m} m candidate grid over the gaps would have {xs.size * ys.size:,} "
            "points: use a larger `spacing_m` or pass `candidates=`"
        )
        raise InputFormatError(msg)
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    near, _ = shapely.STRtree(gaps_m).query(pts, predicate="dwithin", distance=radius_m)
    pts = pts[np.unique(near)]
    if len(exclude_m) and len(pts):
        inside, _ = shapely.STRtree(exclude_m).query(pts, predicate="intersects")
        pts = np.delete(pts, np.unique(inside))
    return pts


def pocket_park_sites(
    gaps: gpd.GeoDataFrame,
    *,
    n: int = 10,
    radius_m: float = 300.0,
    spacing_m: float = 100.0,
    candidates: gpd.GeoDataFrame | None = None,
    exclude: Sequence[Any] | Any = None,
    residential_m2: float | None = None,
    covered_m2: float | None = None,
    min_gain_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Choose up to ``n`` new pocket-park sites that cover the most uncovered land.

    Parameters
    ----------
    gaps
        Output of :func:`uncovered_residential` (or any polygons of unserved
        residential land with a CRS).
    n
        Number of sites to choose (fewer if no candidate adds any land).
    radius_m
        Service radius of a new pocket park (default 300 m).
    spacing_m
        Spacing of the candidate grid (ignored with ``candidates``).
    candidates
        User-supplied candidate parcels or points (GeoDataFrame).
    exclude
        Layers (Layer / GeoDataFrame, or a list) where no grid candidate may lie,
        typically ``[residential, parks]``.
    residential_m2, covered_m2
        Totals for the running coverage; default ``gaps.attrs`` (set by
        :func:`uncovered_residential`).
    min_gain_m2
        Stop when the best remaining site would add less than this (overlay
        slivers).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per chosen site in order: ``order``, ``candidate``
        (row of ``candidates`` or grid point number), ``gain_m2`` (ellipsoidal
        residential land newly served), ``covered_m2`` and ``coverage_pct`` after
        adding the site (NaN without totals), ``district`` / ``district_adcode``
        (of the gap it serves most), geometry.

    Raises
    ------
    InputFormatError
        If ``n`` < 1, ``radius_m`` ≤ 0 or the inputs have no CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> gap = gpd.GeoDataFrame(geometry=[shapely.box(500000, 4420000, 500100, 4420100)],
    ...                        crs=4548)
    >>> pocket_park_sites(gap, n=1, spacing_m=50).gain_m2.round(-1).tolist()
    [10000.0]
    """
    if n < 1 or radius_m <= 0 or spacing_m <= 0:
        msg = f"need n ≥ 1, radius_m > 0 and spacing_m > 0 (got {n}, {radius_m}, {spacing_m})"
        raise InputFormatError(msg)
    gaps_gdf = as_frame(gaps, "gaps", {})
    dist_cols = [c for c in ("district", "district_adcode") if c in gaps_gdf.columns]
    columns = ["order", "candidate", "gain_m2", "covered_m2", "coverage_pct", *dist_cols]
    if not (~(gaps_gdf.geometry.isna() | gaps_gdf.geometry.is_empty)).any():
        empty = gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry=[], crs=4326)
        empty.attrs.update(candidates=0, radius_m=radius_m)
        return empty
    frame: MetricFrame = metric_frame(gaps_gdf)
    gap_m = polygonal(frame.project(gaps_gdf))
    ok = shapely.area(gap_m) > 0
    gap_m = gap_m[ok]
    factor = frame.area_factor(gap_m)
    gap_info = gaps_gdf.loc[ok, dist_cols].reset_index(drop=True)
    if candidates is not None:
        cand_gdf = as_frame(candidates, "candidates", {})
        cand_m = frame.project(cand_gdf)
        cand_ids = np.asarray(cand_gdf.index)
    else:
        excl = [] if exclude is None else exclude
        excl = [excl] if not isinstance(excl, list | tuple) else list(excl)
        ex_m = (
            np.concatenate([polygonal(frame.project(as_frame(e, "exclude", {}))) for e in excl])
            if excl
            else np.zeros(0, dtype=object)
        )
        cand_m = (
            _candidate_grid(gap_m, radius_m=radius_m, spacing_m=spacing_m, exclude_m=ex_m)
            if len(gap_m)
            else np.zeros(0, dtype=object)
        )
        cand_ids = np.arange(len(cand_m))
    # radius_m on the ellipsoid, drawn at each candidate's scale in the frame's plane
    discs = shapely.buffer(cand_m, plane_scale(frame.crs).plane_at(radius_m, cand_m), quad_segs=16)
    ci, gi = shapely.STRtree(gap_m).query(discs, predicate="intersects")  # (disc, gap) pairs
    gain_pair = shapely.area(shapely.intersection(discs[ci], gap_m[gi])) * factor[gi]
    gains = np.bincount(ci, gain_pair, minlength=len(discs))
    attrs = getattr(gaps, "attrs", {})
    total = residential_m2 if residential_m2 is not None else attrs.get("residential_m2")
    covered = covered_m2 if covered_m2 is not None else attrs.get("covered_m2")
    rows: list[dict[str, Any]] = []
    geoms = []
    running = float(covered) if covered is not None else np.nan
    remaining = gap_m.copy()
    for k in range(n):
        if len(gains) == 0:
            break
        best = int(np.argmax(gains))
        if gains[best] < min_gain_m2:
            break
        mine = ci == best
        served = gi[mine]
        top_gap = served[np.argmax(gain_pair[mine])]
        running += gains[best]
        rows.append(
            {
                "order": k + 1,
                "candidate": cand_ids[best],
                "gain_m2": float(gains[best]),
                "covered_m2": running,
                "coverage_pct": 100.0 * running / total if total else np.nan,
                **{c: gap_info.at[int(top_gap), c] for c in dist_cols},
            }
        )
        geoms.append(cand_m[best])
        # shrink the gaps it served and recompute only the pairs of those gaps
        remaining[served] = shapely.difference(remaining[served], discs[best])
        touched = np.isin(gi, served)
        new = shapely.area(shapely.intersection(discs[ci[touched]], remaining[gi[touched]]))
        new = new * factor[gi[touched]]
        gains -= np.bincount(ci[touched], gain_pair[touched] - new, minlength=len(discs))
        gain_pair[touched] = new
        gains[best] = 0.0
    out = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=columns),
        geometry=np.asarray(geoms, dtype=object) if geoms else np.zeros(0, dtype=object),
        crs=frame.crs,
    ).to_crs(4326)  # fmt: skip
    out.attrs.update(candidates=len(discs), radius_m=radius_m, metric_crs=frame.crs.to_string())
    return out
