"""Human-activity clues in the ecological protection red line (人类活动问题线索).

Beijing's red line admits only limited human activity, and the plans ask to verify
and handle the clues of human activity found inside it (组织开展生态保护红线人类活动问题
线索核实处理, 002 l.672–674): remote-sensing change patches and field reports,
hundreds at a time. :func:`redline_clues` screens such a batch:

* a **point** clue is in the red line when it lies inside a red-line polygon (on
  its edge counts); a **patch** (polygon) clue when it shares area with one; a
  **line** clue when it runs inside one over some length;
* for patches, the area inside the red line is the area of the patch ∩ the union
  of the red-line polygons it overlaps (red lines that overlap each other are not
  counted twice), measured in an Albers equal-area projection on the CGCS2000
  ellipsoid (within 0.01 % of the geodesic area), with its share of the patch;
* the ids of the red-line features involved, and the district the clue lies in
  (a patch: the district holding most of it);
* a per-district summary: clues, clues in the red line, area inside (km²).

Everything is vectorised: one STRtree query per layer, then one shapely call per
step over all (clue, feature) pairs. Rows without a usable geometry stay in the
output with an ``issue`` and a :class:`~geo.errors.RowRejectedWarning`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.crs import equal_area_crs, transformer
from geo.errors import (
    GeometryRepairedWarning,
    InputFormatError,
    MissingLayerError,
    RowRejectedWarning,
)
from zoning.check.grouping import join_per_group
from zoning.coverage.service import grouped_union, polygonal

__all__ = ["CLUE_SUMMARY_ZH", "redline_clues"]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

#: Summary column → Chinese heading.
CLUE_SUMMARY_ZH: dict[str, str] = {
    "district_adcode": "区县代码",
    "district_name": "区县",
    "clues": "线索数",
    "clues_in_redline": "红线内线索数",
    "area_in_redline_km2": "红线内面积(km²)",
}
_LONLAT = "EPSG:4326"
_POINT, _LINE, _PATCH = (0, 4), (1, 2, 5), (3, 6)
_ID_COLUMNS = ("clue_id", "feature_id", "id", "编号", "线索编号", "source_row")
_DENSIFY_DEG = 0.005  # ≈ 500 m: longer edges are densified before the equal-area projection
_TOTAL = "合计"
_OUTSIDE = "（不在任何区县内）"


def _frame(obj: Any, what: str, crs: Any = None) -> gpd.GeoDataFrame:
    if obj is None:
        msg = f"no `{what}` given: import one with `ecozone layers import FILE --kind {what}`"
        raise MissingLayerError(msg)
    if hasattr(obj, "gdf") and isinstance(obj.gdf, gpd.GeoDataFrame):
        obj = obj.gdf
    if isinstance(obj, gpd.GeoSeries):
        obj = gpd.GeoDataFrame(geometry=obj)
    if not isinstance(obj, gpd.GeoDataFrame):
        msg = f"`{what}` must be a GeoDataFrame, GeoSeries or Layer, got {type(obj).__name__}"
        raise InputFormatError(msg)
    gdf = obj.copy()
    if gdf.crs is None:
        if crs is None:
            msg = (
                f"`{what}` has no CRS: set it with `.set_crs(...)` or pass `crs=` (lon/lat: "
                "EPSG:4326); ecozone never assigns a CRS silently"
            )
            raise InputFormatError(msg)
        gdf = gdf.set_crs(crs)
    if not pyproj.CRS.from_user_input(gdf.crs).equals(pyproj.CRS.from_user_input(_LONLAT)):
        gdf = gdf.to_crs(_LONLAT)
    return gdf


def _clue_ids(gdf: gpd.GeoDataFrame, id_column: str | None) -> NDArray[np.object_]:
    if id_column is not None and id_column not in gdf.columns:
        msg = (
            f"`id_column` {id_column!r} is not a column of the clues; columns: "
            f"{', '.join(map(str, gdf.columns))}"
        )
        raise InputFormatError(msg)
    col = id_column or next((c for c in _ID_COLUMNS if c in gdf.columns), None)
    if col is None:
        return np.array([str(i) for i in range(1, len(gdf) + 1)], dtype=object)
    ids = gdf[col].astype(object)
    fallback = pd.Series([str(i) for i in range(1, len(gdf) + 1)], index=gdf.index)
    return ids.where(ids.notna(), fallback).astype(str).to_numpy(dtype=object)


def _classify(
    geoms: NDArray[np.object_], ids: NDArray[np.object_]
) -> tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]]:
    """Clue kind per row ("point" | "line" | "patch" | "invalid"), repaired geometry, issue."""
    geoms = geoms.copy()
    n = len(geoms)
    kind = np.full(n, "invalid", dtype=object)
    issue = np.full(n, "", dtype=object)
    missing = shapely.is_missing(geoms)
    issue[missing] = "no geometry"
    ok = ~missing
    empty = np.zeros(n, dtype=bool)
    empty[ok] = shapely.is_empty(geoms[ok])
    issue[empty] = "empty geometry"
    ok &= ~empty
    bad = np.zeros(n, dtype=bool)
    bad[ok] = ~shapely.is_valid(geoms[ok])
    for i in np.flatnonzero(bad):
        warnings.warn(
            f"clue {ids[i]} (row {i + 1}): invalid {geoms[i].geom_type} repaired with "
            f"make_valid ({shapely.is_valid_reason(geoms[i])})",
            GeometryRepairedWarning,
            stacklevel=3,
        )
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    tid = np.full(n, -1)
    tid[ok] = shapely.get_type_id(geoms[ok])
    # a repaired polygon may come back as a collection: keep its polygonal part
    coll = ok & (tid == 7)
    if coll.any():
        geoms[coll] = polygonal(geoms[coll])
        tid[coll] = shapely.get_type_id(geoms[coll])
        gone = coll & shapely.is_empty(geoms)
        issue[gone] = "geometry collection without a polygon"
        ok &= ~gone
    kind[ok & np.isin(tid, _POINT)] = "point"
    kind[ok & np.isin(tid, _LINE)] = "line"
    kind[ok & np.isin(tid, _PATCH)] = "patch"
    for i in np.flatnonzero(kind == "invalid"):
        warnings.warn(
            f"clue {ids[i]} (row {i + 1}) not screened: {issue[i]}; fix the geometry and "
            "run it again (the row is kept in the output with in_redline empty)",
            RowRejectedWarning,
            stacklevel=3,
        )
    return kind, geoms, issue


def _ea_areas(geoms: NDArray[np.object_], ea: pyproj.CRS) -> NDArray[np.float64]:
    """Ellipsoidal areas (m²) of lon/lat geometries via the equal-area CRS."""
    out = np.zeros(len(geoms))
    if len(geoms) == 0:
        return out
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return out
    g = geoms[ok]
    b = shapely.bounds(g)
    big = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) > _DENSIFY_DEG
    if big.any():
        g = g.copy()
        g[big] = shapely.segmentize(g[big], _DENSIFY_DEG)
    t = transformer(_LONLAT, ea)

    def fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out[ok] = shapely.area(shapely.transform(g, fn))
    return out


def _first_per(keys: NDArray[np.intp], values: NDArray[np.intp], order_by=None):
    """For each distinct key, the value of its first pair (optionally ordered by order_by)."""
    if order_by is None:
        order = np.lexsort((values, keys))
    else:
        order = np.lexsort((values, order_by, keys))
    k, v = keys[order], values[order]
    first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, dtype=bool)
    return k[first], v[first]


def _districts(districts: Any) -> tuple[NDArray[np.object_], pd.DataFrame]:
    d = _frame(districts, "boundary")
    if "level" in d.columns and (d["level"].astype(str) == "district").any():
        d = d[d["level"].astype(str) == "district"]
    geoms = polygonal(d.geometry.to_numpy())
    code_col = "adcode" if "adcode" in d.columns else ("feature_id" if "feature_id" in d else None)
    info = pd.DataFrame(
        {
            "district_adcode": d[code_col].astype(str).to_numpy()
            if code_col
            else [str(i + 1) for i in range(len(d))],
            "district_name": d["name"].astype(str).to_numpy() if "name" in d else "",
        }
    )
    keep = ~shapely.is_empty(geoms)
    return geoms[keep], info[keep].reset_index(drop=True)


def _assign_districts(
    geoms: NDArray[np.object_],
    kind: NDArray[np.object_],
    dist: NDArray[np.object_],
    ea: pyproj.CRS,
    patch_area: NDArray[np.float64],
) -> NDArray[np.intp]:
    """Index of each clue's district (−1: none): the one holding the point / most area."""
    out = np.full(len(geoms), -1, dtype=np.intp)
    if len(dist) == 0:
        return out
    tree = shapely.STRtree(dist)
    shapely.prepare(dist)
    small = np.flatnonzero(np.isin(kind, ("point", "line")))
    if len(small):
        reps = shapely.point_on_surface(geoms[small])
        ci, di = tree.query(reps, predicate="intersects")
        k, v = _first_per(ci, di)
        out[small[k]] = v
    patches = np.flatnonzero(kind == "patch")
    if len(patches):
        ci, di = tree.query(geoms[patches], predicate="intersects")
        covered = shapely.covers(dist[di], geoms[patches][ci])
        area = np.where(covered, patch_area[patches][ci], 0.0)
        cut = ~covered
        if cut.any():
            pieces = polygonal(shapely.intersection(geoms[patches][ci[cut]], dist[di[cut]]))
            area[cut] = _ea_areas(pieces, ea)
        has = area > 0
        k, v = _first_per(ci[has], di[has], order_by=-area[has])
        out[patches[k]] = v
    shapely.destroy_prepared(dist)
    return out


def redline_clues(
    clues: Any,
    redline: Any,
    districts: Any = None,
    *,
    id_column: str | None = None,
    crs: Any = None,
    citation: str | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Screen a batch of human-activity clues against the red line (人类活动问题线索核查).

    Parameters
    ----------
    clues
        Clue points and/or patches (GeoDataFrame or GeoSeries, any CRS; lines are
        accepted too).
    redline
        The ``redline`` layer (Layer or GeoDataFrame); ``feature_id`` names the
        features in the output.
    districts
        Optional ``boundary`` layer; rows with ``level == "district"`` are used when
        there are any, with ``adcode`` and ``name``.
    id_column
        Column identifying the clues. Default: the first of clue_id, feature_id,
        id, 编号, 线索编号, source_row present, else 1, 2, … by row.
    crs
        CRS of ``clues`` if they carry none.
    citation
        Where the plan asks for the check (a pack's ``[clues]`` citation, e.g.
        ``load_pack("tongzhou").clues.citation``); kept in ``clues_out.attrs``.

    Returns
    -------
    clues_out : geopandas.GeoDataFrame
        The clues (EPSG:4326) with their columns plus ``clue_id``, ``clue_type``
        ("point" | "line" | "patch" | "invalid"), ``in_redline`` (bool, missing for
        invalid rows), ``clue_area_m2`` (patches; 0 otherwise),
        ``area_in_redline_m2``, ``share_in_redline_pct`` (patches; NaN otherwise),
        ``redline_ids`` (";"-joined), ``n_redlines``, ``district_adcode``,
        ``district_name`` and ``issue``.
    summary : pandas.DataFrame
        One row per district holding at least one clue (in the order of the
        boundary layer), a row for the clues outside every district (or for all
        clues when ``districts`` is None) when there are any, and a 合计 total:
        ``district_adcode``, ``district_name``, ``clues``, ``clues_in_redline``,
        ``area_in_redline_km2``. Headings in Chinese: :data:`CLUE_SUMMARY_ZH`.

    Raises
    ------
    InputFormatError
        An input without CRS, or an unknown ``id_column``.
    MissingLayerError
        ``redline`` is None.

    Warns
    -----
    RowRejectedWarning
        For clues without a usable geometry (kept with ``in_redline`` missing).
    GeometryRepairedWarning
        For invalid clue geometries repaired with ``make_valid``.

    Examples
    --------
    >>> out, summary = redline_clues(clue_points, store.get_kind("redline"))  # doctest: +SKIP
    """
    gdf = _frame(clues, "clues", crs)
    rl = _frame(redline, "redline")
    ids = _clue_ids(gdf, id_column)
    kind, geoms, issue = _classify(gdf.geometry.to_numpy(), ids)
    n = len(gdf)
    usable = np.flatnonzero(kind != "invalid")
    bounds = shapely.total_bounds(geoms[usable]) if len(usable) else np.array([116, 39, 117, 40])
    if not np.all(np.isfinite(bounds)):
        bounds = np.array([116.0, 39.0, 117.0, 40.0])
    ea = equal_area_crs(tuple(float(b) for b in bounds))

    rl_geoms = polygonal(rl.geometry.to_numpy())
    rl_ids = (
        rl["feature_id"].astype(str).to_numpy(dtype=object)
        if "feature_id" in rl.columns
        else np.array([str(i + 1) for i in range(len(rl))], dtype=object)
    )
    live = ~shapely.is_empty(rl_geoms)
    rl_geoms, rl_ids = rl_geoms[live], rl_ids[live]

    patch_area = np.zeros(n)
    patch_area[kind == "patch"] = _ea_areas(geoms[kind == "patch"], ea)

    # (clue, red line) pairs that count as "in the red line"
    ci = ri = np.zeros(0, dtype=np.intp)
    if len(usable) and len(rl_geoms):
        tree = shapely.STRtree(rl_geoms)
        qi, ri = tree.query(geoms[usable], predicate="intersects")
        ci = usable[qi]
        k = kind[ci]
        keep = k == "point"
        line, patch = k == "line", k == "patch"
        if line.any():
            keep[line] = shapely.relate_pattern(geoms[ci[line]], rl_geoms[ri[line]], "1********")
        if patch.any():
            keep[patch] = shapely.relate_pattern(geoms[ci[patch]], rl_geoms[ri[patch]], "2********")
        ci, ri = ci[keep], ri[keep]
        order = np.lexsort((ri, ci))
        ci, ri = ci[order], ri[order]

    in_rl = np.zeros(n, dtype=bool)
    in_rl[ci] = True
    n_rl = np.bincount(ci, minlength=n)
    rl_text = join_per_group(ci, rl_ids[ri], n)

    # area inside: patch ∩ union of the red lines it overlaps (no double counting)
    area_in = np.zeros(n)
    pm = kind[ci] == "patch"
    if pm.any():
        pc, pr = ci[pm], ri[pm]
        shapely.prepare(rl_geoms)
        covered = shapely.covers(rl_geoms[pr], geoms[pc])
        shapely.destroy_prepared(rl_geoms)
        pieces = geoms[pc].copy()
        cut = ~covered
        if cut.any():
            pieces[cut] = polygonal(shapely.intersection(geoms[pc[cut]], rl_geoms[pr[cut]]))
        clue_ids_u, labels = np.unique(pc, return_inverse=True)
        merged = grouped_union(pieces, labels, len(clue_ids_u))
        area_in[clue_ids_u] = np.minimum(_ea_areas(polygonal(merged), ea), patch_area[clue_ids_u])

    share = np.full(n, np.nan)
    is_patch = kind == "patch"
    with np.errstate(divide="ignore", invalid="ignore"):
        share[is_patch] = np.where(
            patch_area[is_patch] > 0, 100.0 * area_in[is_patch] / patch_area[is_patch], 0.0
        )

    if districts is not None:
        dist_geoms, dist_info = _districts(districts)
        d_idx = _assign_districts(geoms, kind, dist_geoms, ea, patch_area)
    else:
        dist_info = pd.DataFrame(columns=["district_adcode", "district_name"])
        d_idx = np.full(n, -1, dtype=np.intp)
    code = np.full(n, None, dtype=object)
    name = np.full(n, None, dtype=object)
    found = d_idx >= 0
    code[found] = dist_info["district_adcode"].to_numpy(dtype=object)[d_idx[found]]
    name[found] = dist_info["district_name"].to_numpy(dtype=object)[d_idx[found]]

    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=_LONLAT))
    invalid = kind == "invalid"
    out["clue_id"] = ids
    out["clue_type"] = kind
    out["in_redline"] = pd.array(np.where(invalid, None, in_rl), dtype="boolean")
    out["clue_area_m2"] = patch_area
    out["area_in_redline_m2"] = area_in
    out["share_in_redline_pct"] = share
    out["redline_ids"] = rl_text
    out["n_redlines"] = n_rl
    out["district_adcode"] = code
    out["district_name"] = name
    out["issue"] = issue
    summary = _summary(out, dist_info, districts is not None)
    out.attrs["citation"] = citation
    log.debug("%d clues, %d in the red line", n, int(in_rl.sum()))
    return out, summary


def _summary(out: gpd.GeoDataFrame, dist_info: pd.DataFrame, by_district: bool) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "district_adcode": out["district_adcode"].fillna("").astype(str).to_numpy(),
            "clues": 1,
            "clues_in_redline": out["in_redline"].fillna(False).astype(int).to_numpy(),
            "area_in_redline_km2": out["area_in_redline_m2"].to_numpy() / 1e6,
        }
    )
    grouped = df.groupby("district_adcode", sort=False)[
        ["clues", "clues_in_redline", "area_in_redline_km2"]
    ].sum()
    rows = dist_info.drop_duplicates("district_adcode")
    # the districts that received clues, in the order of the boundary layer
    rows = rows[rows["district_adcode"].isin(grouped.index)] if by_district else rows.iloc[0:0]
    if (df["district_adcode"] == "").any():
        label = _OUTSIDE if by_district else "全部线索 all clues"
        rows = pd.concat(
            [rows, pd.DataFrame({"district_adcode": [""], "district_name": [label]})],
            ignore_index=True,
        )
    table = rows.join(grouped, on="district_adcode").fillna(
        {"clues": 0, "clues_in_redline": 0, "area_in_redline_km2": 0.0}
    )
    total = pd.DataFrame(
        {
            "district_adcode": [""],
            "district_name": [_TOTAL],
            "clues": [int(df["clues"].sum())],
            "clues_in_redline": [int(df["clues_in_redline"].sum())],
            "area_in_redline_km2": [float(df["area_in_redline_km2"].sum())],
        }
    )
    table = pd.concat([table, total], ignore_index=True)
    return table.astype({"clues": int, "clues_in_redline": int, "area_in_redline_km2": float})
