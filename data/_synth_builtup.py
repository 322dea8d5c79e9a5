"""Synthetic built-up area (建成区) and the parts meeting sponge-city standards.

The built-up area is the urban land the generator already makes (urban core, new
towns, airports: :attr:`_synth_nature.BuiltUp.urban`) plus every park and residential
parcel of the demo (a few reach past the urban outline), cut along district lines.
Villages and township seats are construction land but not 城市建成区, so they are
left out.

Sponge-city areas (海绵城市达标区域) are drainage catchments (排水分区): the built-up
area is cut into Voronoi cells of about 1.5 km², and whole cells are taken, new towns
before the old core, until the share of the built-up area meets the demo's figures:
Tongzhou just above its 45 % target for 2024 (002 l.592; the sub-centre was a
national sponge-city pilot), Beijing as a whole just short of its 40 % target for
2025 (001 l.304).

All geometry is in EPSG:4548 (metres); callers convert to EPSG:4326.
Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from _synth_context import METRIC_CRS, TONGZHOU, Context
from _synth_nature import TOWNS, BuiltUp, _serial_within, _split_by_district
from _synth_shapes import sample_points

#: Sponge-city share of the built-up area the demo is built to: Beijing just short
#: of 40 %, Tongzhou just above 45 %.
SPONGE_SHARE = 0.394
SPONGE_SHARE_TONGZHOU = 0.454
#: Mean catchment size, m².
CATCHMENT_M2 = 1.5e6

SPONGE_STANDARD = "GB/T 51345-2018 海绵城市建设评价标准"


def built_up_layer(
    ctx: Context, built: BuiltUp, *, include: tuple[gpd.GeoDataFrame, ...] = ()
) -> gpd.GeoDataFrame:
    """The built-up area (建成区): the generator's urban land, one feature per district part.

    Parameters
    ----------
    ctx
        Beijing in EPSG:4548.
    built
        The generated built-up land.
    include
        Layers (EPSG:4548) whose polygons must lie inside the built-up area: the
        parks and residential parcels (a few parcels on the edge of town reach a
        little beyond the urban outline).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4548; ``feature_id``, ``name``, ``town`` (the nearest urban core or new
        town), ``adcode``, ``synthetic``.
    """
    extra = [g.geometry.values for g in include]
    urban = shapely.union_all(np.concatenate([[built.urban], *extra]))
    urban = shapely.intersection(urban, ctx.beijing)
    parts, codes = _split_by_district(ctx, urban, min_area=200.0)  # keep lone parcels
    order = np.lexsort((-shapely.area(parts), codes))
    parts, codes = parts[order], codes[order]
    serial = _serial_within(codes)
    names = {c: ctx.name(c) for c in ctx.districts["adcode"]}
    # nearest town centre to each part's representative point
    tx, ty = np.array([ctx.xy(lo, la) for _, lo, la, _ in TOWNS]).T
    rp = shapely.point_on_surface(parts)
    d = np.hypot(shapely.get_x(rp)[:, None] - tx, shapely.get_y(rp)[:, None] - ty)
    town = np.array([t[0] for t in TOWNS], dtype=object)[d.argmin(axis=1)]
    n = parts.size
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"built_up-{i + 1:05d}" for i in range(n)],
            "name": [f"{names[c]}建成区{s:03d}" for c, s in zip(codes, serial, strict=True)],
            "town": town,
            "adcode": codes,
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=parts,
        crs=METRIC_CRS,
    )


def _prefix_until(area: np.ndarray, target: float) -> int:
    """Shortest prefix of ``area`` whose sum reaches ``target`` (all if it never does)."""
    csum = np.cumsum(area)
    return min(int(np.searchsorted(csum, target)) + 1, area.size)


def sponge(
    ctx: Context,
    built_up: gpd.GeoDataFrame,
    rng: np.random.Generator,
    *,
    share: float = SPONGE_SHARE,
    share_tongzhou: float = SPONGE_SHARE_TONGZHOU,
    catchment_m2: float = CATCHMENT_M2,
) -> gpd.GeoDataFrame:
    """Catchments of the built-up area that meet the sponge-city standard.

    Parameters
    ----------
    ctx
        Beijing in EPSG:4548.
    built_up
        The built-up layer of :func:`built_up_layer` (EPSG:4548).
    rng
        Random generator (consumed).
    share, share_tongzhou
        Share of the built-up area to cover: Beijing-wide, and within Tongzhou.
    catchment_m2
        Mean catchment size.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4548; ``feature_id``, ``name``, ``adcode``, ``accepted_year`` (year the
        catchment passed the assessment), ``standard``, ``synthetic``. Every feature
        lies inside one built-up feature.
    """
    bu = built_up.geometry.values
    total = float(shapely.area(bu).sum())
    n = max(8, round(total / catchment_m2))
    px, py = sample_points(rng, shapely.union_all(bu), n)
    frame = shapely.buffer(shapely.envelope(shapely.union_all(bu)), 5_000.0, join_style="mitre")
    pts = shapely.multipoints(np.column_stack([px, py]))
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame, ordered=True))
    tree = shapely.STRtree(cells)
    bi, ci = tree.query(bu, predicate="intersects")
    pieces = shapely.intersection(bu[bi], cells[ci])
    # a cut can leave lines or points beside the polygon: keep the polygonal part
    odd = ~np.isin(shapely.get_type_id(pieces), (3, 6))
    if odd.any():
        parts, idx = shapely.get_parts(pieces[odd], return_index=True)
        poly = shapely.get_type_id(parts) == 3
        fixed = np.empty(int(odd.sum()), dtype=object)
        shapely.multipolygons(parts[poly], indices=idx[poly], out=fixed)
        pieces[odd] = fixed
    keep = shapely.area(pieces) >= 10_000.0  # NaN (no polygon left) is dropped too
    pieces, bi = pieces[keep], bi[keep]
    codes = built_up["adcode"].to_numpy()[bi]
    area = shapely.area(pieces)

    # new towns first: catchments far from the old core are newer and built to the
    # standard; a weighted random order (keys u^(1/w)) keeps it a tendency
    rp = shapely.point_on_surface(pieces)
    dist = np.hypot(shapely.get_x(rp) - ctx.centre[0], shapely.get_y(rp) - ctx.centre[1])
    weight = 1.0 + 2.0 * np.clip((dist - 6_000.0) / 14_000.0, 0.0, 1.0)
    key = rng.uniform(0.0, 1.0, pieces.size) ** (1.0 / weight)
    tz = codes == TONGZHOU
    chosen = np.zeros(pieces.size, dtype=bool)
    tz_idx = np.flatnonzero(tz)[np.argsort(-key[tz], kind="stable")]
    k = _prefix_until(area[tz_idx], share_tongzhou * area[tz].sum())
    chosen[tz_idx[:k]] = True
    rest = np.flatnonzero(~tz)[np.argsort(-key[~tz], kind="stable")]
    k = _prefix_until(area[rest], share * total - area[chosen].sum())
    chosen[rest[:k]] = True

    geoms, codes, area = pieces[chosen], codes[chosen], area[chosen]
    order = np.lexsort((-area, codes))
    geoms, codes = geoms[order], codes[order]
    serial = _serial_within(codes)
    names = {c: ctx.name(c) for c in ctx.districts["adcode"]}
    m = geoms.size
    # Tongzhou started in 2016 (pilot); elsewhere from 2017
    first = np.where(codes == TONGZHOU, 2016, 2017)
    year = first + np.floor(rng.uniform(0.0, 1.0, m) * (2025 - first)).astype(np.int64)
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"sponge-{i + 1:05d}" for i in range(m)],
            "name": [
                f"{names[c]}海绵城市达标片区{s:03d}" for c, s in zip(codes, serial, strict=True)
            ],
            "adcode": codes,
            "accepted_year": year,
            "standard": np.full(m, SPONGE_STANDARD, dtype=object),
            "synthetic": np.ones(m, dtype=bool),
        },
        geometry=geoms,
        crs=METRIC_CRS,
    )
