"""Red line demarcation stakes (勘界定标): boundary stakes along each polygon ring.

The plans ask for the red line to be surveyed and staked on the ground
(生态保护红线勘界定标: 000 l.37, 001 l.370, 003 l.34). :func:`demarcation_stakes`
turns red-line polygons into the stake list a survey team takes to the field:

* a stake at every turning point (拐点, each distinct vertex of the ring) and, on
  every side longer than ``interval_m``, evenly spaced extra stakes (加密点) so that
  no two consecutive stakes are more than ``interval_m`` apart: a side of length
  ``L`` gets ``ceil(L / interval_m) − 1`` of them, all ``L / ceil(L / interval_m)``
  apart (no short left-over piece);
* lengths are measured in the CGCS2000 3-degree Gauss-Krüger zone of the polygon
  (EPSG:4534–4554, chosen from the polygon's centroid longitude, or ``zone=``), the
  plane survey coordinates are given in; the boundary between two vertices is the
  straight line in that plane, as in a survey;
* every ring is numbered clockwise starting from its north-westernmost vertex (the
  vertex nearest the north-west corner of the ring's bounding box); holes
  (inner rings) and the parts of a multi-polygon get their own sequence:
  ``RL-00001-J001`` (outer ring), ``RL-00001-H1-J001`` (first hole),
  ``RL-00001-P2-J001`` / ``RL-00001-P2-H1-J001`` (second part, when there are several);
* coordinates come in the survey order of 界址点 tables — X = northing, Y = easting,
  rounded to the millimetre — and as lon/lat (CGCS2000 ≈ WGS84, 8 decimals,
  computed from the rounded X/Y so the table is self-consistent), with the distance
  from the previous stake and the cumulative distance along the ring (both measured
  on the unrounded positions). The closing row of :func:`stakes_table` repeats the
  first stake, so its cumulative distance is the ring's perimeter in the GK plane.

:func:`stakes_table` gives the Chinese table (界桩编号, 类型, X(北), Y(东), 经度, 纬度,
距上一桩(m), 累计(m)); :func:`write_stakes` writes it as CSV / XLSX, or the point layer
as GeoPackage (any :func:`geo.io.write_vector` format).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.crs import gk_epsg, transformer
from geo.errors import GeometryError, InputFormatError, RowRejectedWarning

__all__ = [
    "STAKE_TABLE_COLUMNS",
    "demarcation_stakes",
    "stakes_table",
    "write_stakes",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

_LONLAT = "EPSG:4326"
#: Consecutive vertices closer than this (m, GK plane) are one turning point.
_SAME_POINT_M = 1e-4
#: A side is split only when longer than the interval by more than this (m).
_SPLIT_TOLERANCE_M = 1e-6
_POLYGONAL = (3, 6)  # shapely type ids of Polygon, MultiPolygon

#: Column of the stake GeoDataFrame → heading of the Chinese stake table.
STAKE_TABLE_COLUMNS: dict[str, str] = {
    "stake_id": "界桩编号",
    "kind_zh": "类型",
    "x_north": "X(北)",
    "y_east": "Y(东)",
    "lon": "经度",
    "lat": "纬度",
    "dist_prev_m": "距上一桩(m)",
    "cum_m": "累计(m)",
}
_KIND_ZH = {"vertex": "拐点", "interval": "加密点"}


# --------------------------------------------------------------------------- input


def _as_frame(obj: Any, crs: Any) -> gpd.GeoDataFrame:
    """Polygons of any accepted form as a GeoDataFrame in EPSG:4326 (a new frame)."""
    if hasattr(obj, "gdf") and isinstance(obj.gdf, gpd.GeoDataFrame):
        obj = obj.gdf  # a layers.Layer
    if isinstance(obj, shapely.Geometry):
        obj = [obj]
    if isinstance(obj, gpd.GeoSeries):
        obj = gpd.GeoDataFrame(geometry=obj)
    elif not isinstance(obj, gpd.GeoDataFrame):
        if isinstance(obj, Sequence | np.ndarray) and all(
            isinstance(g, shapely.Geometry) for g in obj
        ):
            obj = gpd.GeoDataFrame(geometry=list(obj), crs=crs if crs is not None else _LONLAT)
        else:
            msg = (
                "`polygon_or_gdf` must be a shapely (Multi)Polygon, a list of them, a "
                f"GeoSeries, a GeoDataFrame or a Layer, got {type(obj).__name__}"
            )
            raise InputFormatError(msg)
    gdf = obj.copy()
    if gdf.crs is None:
        if crs is None:
            msg = (
                "the polygons have no CRS: set it with `gdf.set_crs(...)` or pass `crs=` "
                "(lon/lat: EPSG:4326; Beijing GK: EPSG:4548); ecozone never assigns a CRS "
                "silently"
            )
            raise InputFormatError(msg)
        gdf = gdf.set_crs(crs)
    if not pyproj.CRS.from_user_input(gdf.crs).equals(pyproj.CRS.from_user_input(_LONLAT)):
        gdf = gdf.to_crs(_LONLAT)
    return gdf


def _feature_ids(gdf: gpd.GeoDataFrame, id_column: str | None) -> NDArray[np.object_]:
    if id_column is not None:
        if id_column not in gdf.columns:
            msg = (
                f"`id_column` {id_column!r} is not a column of the polygons; columns: "
                f"{', '.join(map(str, gdf.columns))}"
            )
            raise InputFormatError(msg)
        ids = gdf[id_column]
    elif "feature_id" in gdf.columns:
        ids = gdf["feature_id"]
        id_column = "feature_id"
    else:
        return np.array([f"F{i}" for i in range(1, len(gdf) + 1)], dtype=object)
    bad = ids.isna().to_numpy()
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad)[:10])
        msg = f"column {id_column!r} is empty in row(s) {rows}: give every polygon an id"
        raise InputFormatError(msg)
    text = ids.astype(str).str.strip().to_numpy(dtype=object)
    dup = pd.Series(text).duplicated(keep=False).to_numpy()
    if dup.any():
        shown = ", ".join(sorted(set(text[dup]))[:10])
        msg = (
            f"column {id_column!r} repeats ids ({shown}); stake numbers would clash: "
            "make the ids unique or pass another `id_column`"
        )
        raise InputFormatError(msg)
    return text


def _usable(gdf: gpd.GeoDataFrame, fids: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Rows with a non-empty polygonal geometry; the others are reported and skipped."""
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms)
    ok = ~missing
    ok[ok] = ~shapely.is_empty(geoms[ok]) & np.isin(shapely.get_type_id(geoms[ok]), _POLYGONAL)
    for i in np.flatnonzero(~ok):
        what = "no geometry" if missing[i] else f"{geoms[i].geom_type} (empty or not a polygon)"
        warnings.warn(
            f"polygon {fids[i]} (row {i + 1}) skipped: {what}; stakes need a polygon boundary",
            RowRejectedWarning,
            stacklevel=3,
        )
    if not ok.any():
        msg = "no polygon to stake: every row is empty or not a (Multi)Polygon"
        raise GeometryError(msg)
    return ok


def _zones(geoms: NDArray[np.object_], zone: int | None) -> NDArray[np.int64]:
    """EPSG code of the GK zone of each polygon (its centroid longitude, or ``zone``)."""
    if zone is not None:
        return np.full(len(geoms), gk_epsg(zone=zone), dtype=np.int64)
    lon = shapely.get_x(shapely.centroid(geoms))
    numbers = np.floor(lon / 3.0 + 0.5).astype(np.int64)
    codes = {int(z): gk_epsg(zone=int(z)) for z in np.unique(numbers)}
    return np.array([codes[int(z)] for z in numbers], dtype=np.int64)


# --------------------------------------------------------------------------- rings


def _rank(groups: NDArray[np.intp]) -> NDArray[np.intp]:
    """0-based rank of each element within its run of equal, sorted group labels."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.intp)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    return np.arange(len(groups)) - np.repeat(starts, sizes)


def _runs(groups: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Start offset and length of each run of equal labels (labels sorted)."""
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    return starts, np.diff(np.r_[starts, len(groups)])


def _project(
    lon: NDArray[np.float64], lat: NDArray[np.float64], epsg: NDArray[np.int64], *, inverse: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """lon/lat → GK (easting, northing) per point, or back; one call per zone."""
    x = np.empty_like(lon)
    y = np.empty_like(lat)
    for code in np.unique(epsg):
        sel = epsg == code
        t = transformer(int(code), _LONLAT) if inverse else transformer(_LONLAT, int(code))
        x[sel], y[sel] = t.transform(lon[sel], lat[sel])
    return x, y


def _ring_vertices(
    geoms: NDArray[np.object_], epsg: NDArray[np.int64]
) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Distinct vertices of every ring in GK, oriented clockwise and rotated to start NW.

    Returns the ring table (feature, part, ring, n_parts) and, for the vertices in
    ring order, easting, northing and ring index.
    """
    parts, feat = shapely.get_parts(geoms, return_index=True)
    part_no = _rank(feat)
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    ring_no = _rank(part_of_ring)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    # drop each ring's closing coordinate (a repeat of its first)
    counts = np.bincount(ring_of, minlength=len(rings))
    last = np.cumsum(counts) - 1
    keep = np.ones(len(coords), dtype=bool)
    keep[last[counts > 0]] = False
    coords, ring_of = coords[keep], ring_of[keep]
    feat_of_ring = feat[part_of_ring]
    e, n = _project(coords[:, 0], coords[:, 1], epsg[feat_of_ring[ring_of]], inverse=False)
    # repeated vertices (within 0.1 mm of the previous one, or of the first at the end)
    same_ring = np.r_[False, ring_of[1:] == ring_of[:-1]]
    step = np.hypot(np.diff(e, prepend=np.nan), np.diff(n, prepend=np.nan))
    dup = same_ring & (step < _SAME_POINT_M)
    e, n, ring_of = e[~dup], n[~dup], ring_of[~dup]
    if len(ring_of):
        starts, sizes = _runs(ring_of)
        ends = starts + sizes - 1
        wrap = (sizes > 1) & (np.hypot(e[ends] - e[starts], n[ends] - n[starts]) < _SAME_POINT_M)
        drop = np.zeros(len(e), dtype=bool)
        drop[ends[wrap]] = True
        e, n, ring_of = e[~drop], n[~drop], ring_of[~drop]
    # rings of fewer than 3 distinct vertices have no boundary to stake
    sizes_all = np.bincount(ring_of, minlength=len(rings))
    degenerate = sizes_all < 3
    if degenerate.any():
        for r in np.flatnonzero(degenerate):
            warnings.warn(
                f"a ring of polygon row {feat_of_ring[r] + 1} has fewer than 3 distinct "
                "vertices and gets no stakes",
                RowRejectedWarning,
                stacklevel=4,
            )
        ok = ~degenerate[ring_of]
        e, n, ring_of = e[ok], n[ok], ring_of[ok]
    live = np.flatnonzero(~degenerate)
    remap = np.full(len(rings), -1, dtype=np.intp)
    remap[live] = np.arange(len(live))
    ring_of = remap[ring_of]
    n_parts = np.bincount(feat, minlength=len(geoms))
    table = pd.DataFrame(
        {
            "feature": feat_of_ring[live],
            "part": part_no[part_of_ring[live]] + 1,
            "ring": ring_no[live],
            "n_parts": n_parts[feat_of_ring[live]],
        }
    )
    e, n, ring_of = _orient_and_rotate(e, n, ring_of)
    return table, e, n, ring_of


def _orient_and_rotate(
    e: NDArray[np.float64], n: NDArray[np.float64], ring_of: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Reorder each ring's vertices: clockwise, starting at the north-west vertex."""
    if len(e) == 0:
        return e, n, ring_of
    starts, sizes = _runs(ring_of)
    local = _rank(ring_of)
    s = np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    nxt = s + (local + 1) % size
    # shoelace on coordinates relative to the ring's first vertex (numerically stable)
    x, y = e - e[s], n - n[s]
    cross = x * y[nxt] - x[nxt] * y
    ccw = np.bincount(ring_of, weights=cross) > 0  # positive area = anticlockwise
    rev = np.repeat(ccw, sizes)
    oriented = np.where(rev, s + size - 1 - local, s + local)
    e, n = e[oriented], n[oriented]
    # north-west vertex: nearest the (min easting, max northing) corner of the ring
    min_e = np.minimum.reduceat(e, starts)
    max_n = np.maximum.reduceat(n, starts)
    d2 = (e - np.repeat(min_e, sizes)) ** 2 + (n - np.repeat(max_n, sizes)) ** 2
    order = np.lexsort((local, d2, ring_of))
    first = order[_rank(ring_of[order]) == 0]  # one per ring, in ring order
    offset = np.repeat(local[first], sizes)
    rotated = s + (local + offset) % size
    return e[rotated], n[rotated], ring_of


# --------------------------------------------------------------------------- stakes


def _check_interval(interval_m: float | None) -> float | None:
    if interval_m is None:
        return None
    try:
        value = float(interval_m)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        msg = (
            f"`interval_m` must be a positive number of metres (e.g. 50), got {interval_m!r}; "
            "pass None for turning points only"
        )
        raise InputFormatError(msg)
    return value


def demarcation_stakes(
    polygon_or_gdf: Any,
    *,
    interval_m: float | None = 50.0,
    zone: int | None = None,
    id_column: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Boundary stakes (界桩) along every ring of red-line polygons.

    Parameters
    ----------
    polygon_or_gdf
        A shapely Polygon / MultiPolygon (or a list of them; lon/lat unless ``crs``
        says otherwise), a GeoSeries, a GeoDataFrame (any CRS) or a Layer.
    interval_m
        Largest distance between consecutive stakes along the ring, metres in the
        GK plane. Sides longer than this get evenly spaced extra stakes (加密点).
        None: turning points only.
    zone
        3-degree Gauss-Krüger zone number (25…45; Beijing 39) for all polygons.
        Default: the zone of each polygon's centroid.
    id_column
        Column with the polygon ids that prefix the stake numbers. Default
        ``feature_id`` when present, else ``F1``, ``F2``, … by row.
    crs
        CRS of shapely input or of a frame without one (EPSG:4326 for shapely input
        when not given).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per stake, points in EPSG:4326, ordered by polygon, part, ring and
        stake number: ``stake_id``, ``feature_id``, ``part`` (1-based), ``ring``
        (0 = outer boundary, 1… = holes), ``seq`` (1-based within the ring),
        ``kind`` ("vertex" | "interval"), ``kind_zh`` (拐点 | 加密点), ``x_north``
        and ``y_east`` (GK metres, mm), ``lon`` / ``lat`` (8 decimals),
        ``dist_prev_m`` (0 for the first stake of a ring), ``cum_m``,
        ``ring_perimeter_m`` (the ring's GK perimeter; the closing side from the
        last stake back to the first is ``ring_perimeter_m − cum_m`` of the last
        stake) and ``gk_epsg``.

    Raises
    ------
    InputFormatError
        Bad ``interval_m``, missing CRS, an unknown or non-unique id column.
    GeometryError
        No polygon to stake.
    CRSDetectionError
        ``zone`` (or a polygon's longitude) outside China's GK zones 25…45.

    Warns
    -----
    RowRejectedWarning
        For each row without a polygon and each ring with fewer than 3 distinct
        vertices; the other rows are staked.

    Examples
    --------
    >>> from shapely import box
    >>> s = demarcation_stakes(box(116.70, 39.90, 116.701, 39.901), interval_m=50)
    >>> s["stake_id"].iloc[0], s["kind_zh"].iloc[0]
    ('F1-J001', '拐点')
    """
    interval = _check_interval(interval_m)
    gdf = _as_frame(polygon_or_gdf, crs)
    fids_all = _feature_ids(gdf, id_column)
    ok = _usable(gdf, fids_all)
    geoms = gdf.geometry.to_numpy()[ok]
    fids = fids_all[ok]
    epsg_feat = _zones(geoms, zone)
    rings, e, n, ring_of = _ring_vertices(geoms, epsg_feat)
    if len(rings) == 0:
        msg = "no polygon to stake: every ring has fewer than 3 distinct vertices"
        raise GeometryError(msg)

    # sides: vertex i → vertex i+1 of the same ring (wrapping)
    starts, sizes = _runs(ring_of)
    local = _rank(ring_of)
    s = np.repeat(starts, sizes)
    nxt = s + (local + 1) % np.repeat(sizes, sizes)
    de, dn = e[nxt] - e, n[nxt] - n
    length = np.hypot(de, dn)
    if interval is None:
        nsub = np.ones(len(length), dtype=np.intp)
    else:
        nsub = np.maximum(1, np.ceil((length - _SPLIT_TOLERANCE_M) / interval)).astype(np.intp)
    # stakes: each side contributes its start vertex and nsub − 1 interval points
    side = np.repeat(np.arange(len(length)), nsub)
    k = _rank(side)
    t = k / nsub[side]
    se = e[side] + t * de[side]
    sn = n[side] + t * dn[side]
    spacing = length / nsub
    stake_ring = ring_of[side]
    first_in_ring = _rank(stake_ring) == 0
    dist_prev = np.where(first_in_ring, 0.0, np.r_[0.0, spacing[side][:-1]])
    cum = np.cumsum(dist_prev)
    ring_start_cum = cum[first_in_ring]  # cumsum restarts per ring
    cum = cum - np.repeat(ring_start_cum, np.bincount(stake_ring))
    perimeter = np.bincount(ring_of, weights=length)

    feat = rings["feature"].to_numpy()[stake_ring]
    epsg = epsg_feat[feat]
    x_north, y_east = np.round(sn, 3), np.round(se, 3)
    lon, lat = _project(y_east, x_north, epsg, inverse=True)
    lon, lat = np.round(lon, 8), np.round(lat, 8)

    seq = _rank(stake_ring) + 1
    part = rings["part"].to_numpy()[stake_ring]
    ring = rings["ring"].to_numpy()[stake_ring]
    multi = rings["n_parts"].to_numpy()[stake_ring] > 1
    prefix = pd.Series(fids[feat], dtype=object).astype(str) + "-"
    prefix = prefix.where(~multi, prefix + "P" + pd.Series(part).astype(str) + "-")
    prefix = prefix.where(ring == 0, prefix + "H" + pd.Series(ring).astype(str) + "-")
    stake_id = prefix + "J" + pd.Series(seq).astype(str).str.zfill(3)
    kind = np.where(k == 0, "vertex", "interval")
    out = gpd.GeoDataFrame(
        {
            "stake_id": stake_id.to_numpy(dtype=object),
            "feature_id": fids[feat],
            "part": part,
            "ring": ring,
            "seq": seq,
            "kind": kind,
            "kind_zh": np.where(k == 0, _KIND_ZH["vertex"], _KIND_ZH["interval"]),
            "x_north": x_north,
            "y_east": y_east,
            "lon": lon,
            "lat": lat,
            "dist_prev_m": np.round(dist_prev, 3),
            "cum_m": np.round(cum, 3),
            "ring_perimeter_m": np.round(perimeter[stake_ring], 3),
            "gk_epsg": epsg,
        },
        geometry=shapely.points(lon, lat),
        crs=_LONLAT,
    )
    out.attrs["interval_m"] = interval
    log.debug("%d stakes on %d rings of %d polygons", len(out), len(rings), len(geoms))
    return out


# --------------------------------------------------------------------------- output


def stakes_table(stakes: gpd.GeoDataFrame, *, close: bool = True) -> pd.DataFrame:
    """The stake table (界桩成果表) with Chinese headings.

    Parameters
    ----------
    stakes
        The output of :func:`demarcation_stakes`.
    close
        Repeat each ring's first stake at its end (the 界址点 table convention), with
        the closing side as its distance and the ring perimeter as its cumulative
        distance.

    Returns
    -------
    pandas.DataFrame
        Columns 界桩编号, 类型, X(北), Y(东), 经度, 纬度, 距上一桩(m), 累计(m).

    Raises
    ------
    InputFormatError
        If ``stakes`` lacks the columns of :func:`demarcation_stakes`.
    """
    need = [*STAKE_TABLE_COLUMNS, "feature_id", "part", "ring", "seq", "ring_perimeter_m"]
    missing = [c for c in need if c not in stakes.columns]
    if missing:
        msg = f"`stakes` lacks column(s) {missing}: pass the output of demarcation_stakes()"
        raise InputFormatError(msg)
    df = pd.DataFrame(stakes[need]).reset_index(drop=True)
    df["_order"] = np.arange(len(df), dtype=np.float64)
    if close and len(df):
        key = df[["feature_id", "part", "ring"]].astype(str).agg("\x1f".join, axis=1)
        first = ~key.duplicated(keep="first")
        last = ~key.duplicated(keep="last")
        closing = df[first.to_numpy()].copy()
        tail = df[last.to_numpy()]
        closing["dist_prev_m"] = np.round(
            tail["ring_perimeter_m"].to_numpy() - tail["cum_m"].to_numpy(), 3
        )
        closing["cum_m"] = closing["ring_perimeter_m"]
        closing["_order"] = tail["_order"].to_numpy() + 0.5
        df = pd.concat([df, closing]).sort_values("_order", kind="stable")
    return df[list(STAKE_TABLE_COLUMNS)].rename(columns=STAKE_TABLE_COLUMNS).reset_index(drop=True)


def write_stakes(stakes: gpd.GeoDataFrame, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write stakes: the table (.csv, .xlsx) or the point layer (.gpkg, .geojson, …).

    Parameters
    ----------
    stakes
        The output of :func:`demarcation_stakes`.
    path
        Target file. ``.csv`` (UTF-8 with BOM, opens in Excel/WPS) and ``.xlsx``
        hold :func:`stakes_table`; other suffixes go to :func:`geo.io.write_vector`
        (GeoPackage layer "stakes").
    overwrite
        False refuses to replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputFormatError
        For an unknown suffix (from :func:`geo.io.write_vector`).
    OutputExistsError
        If the file exists and ``overwrite`` is False.
    """
    from geo.io import write_vector
    from geo.io.spreadsheet import neutralise_formulas, write_csv, write_xlsx
    from geo.io.writers import OutputExistsError

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        if path.exists() and not overwrite:
            msg = f"{path} exists; pass overwrite=True (--overwrite) to replace it"
            raise OutputExistsError(msg)
        table = neutralise_formulas(stakes_table(stakes))
        if suffix == ".csv":
            return write_csv(table, path)
        epsg = sorted({int(c) for c in stakes["gk_epsg"]}) if "gk_epsg" in stakes else []
        notes = pd.DataFrame(
            {
                "项目 item": ["坐标系 CRS", "间距 interval (m)", "编号 numbering", "说明 note"],
                "内容 value": [
                    "CGCS2000 3度带高斯-克吕格投影 "
                    + ", ".join(f"EPSG:{c}" for c in epsg)
                    + "；X=北坐标 northing，Y=东坐标 easting；经纬度 CGCS2000",
                    str(stakes.attrs.get("interval_m", "")),
                    "各环自西北角拐点起顺时针编号；内环(H)与各部分(P)单独编号",
                    "最后一行重复首桩以闭合，累计距离即该环周长",
                ],
            }
        )
        formats = {"X(北)": "0.000", "Y(东)": "0.000", "经度": "0.00000000",
                   "纬度": "0.00000000", "距上一桩(m)": "0.000", "累计(m)": "0.000"}  # fmt: skip
        return write_xlsx({"界桩成果表": table, "说明": notes}, path, number_formats=formats)
    layer = "stakes" if suffix == ".gpkg" else None
    out = stakes.copy()
    for col in ("stake_id", "feature_id"):
        out[col] = neutralise_formulas(out[[col]])[col]
    return write_vector(out, path, layer=layer, overwrite=overwrite)
