"""Geometric core of the coverage metrics: metric frame, dissolving, service areas.

Private to :mod:`zoning.coverage` and :mod:`zoning.gaps`. Everything here works on
numpy arrays of shapely geometries in one local metric CRS (the Gauss-Krüger zone
of the jurisdiction) and is vectorised: STRtree queries build candidate pairs,
then one shapely call handles all pairs of a step.

Areas are ellipsoidal: geometries are densified (500 m) and projected to an Albers
equal-area CRS on the CGCS2000 ellipsoid fitted to the data
(:func:`geo.crs.equal_area_crs`), within 0.01 % of :func:`geo.measure.geodesic_area`.
For pieces cut from a parent geometry (covered / uncovered parts of a parcel) the
parent's ratio ellipsoidal / planar area is reused: the Gauss-Krüger scale factor
is constant to 1e-8 across a parcel.

Network service areas (walking distance along the user's street lines) are built
like this:

1. the lines are noded at every crossing (:func:`shapely.node`) and split into
   straight segments; segment end points (rounded to 1 mm) are graph nodes and the
   segment lengths are edge weights;
2. park entrances are the park boundary's vertices, densified every
   ``entrance_spacing_m``; each entrance within ``snap_m`` of a street is snapped
   to the nearest point of the nearest segment; the walk starts there and the
   snapping distance counts towards the radius;
3. one virtual source per radius tier links to the end points of the snapped
   segments with the walking distance to them; :func:`scipy.sparse.csgraph.dijkstra`
   gives every node's network distance from the nearest park of the tier;
4. each segment is reachable up to ``radius − distance`` from either end, plus the
   stretch around an entrance that sits on it; those pieces, buffered by
   ``access_m`` (the depth of a plot facing the street) and joined with the parks
   themselves, are the service area.

Streets that cross without a junction (bridges) become junctions in step 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.crs import equal_area_crs, local_metric_crs
from geo.errors import GeometryError, InputFormatError

Geoms = NDArray[np.object_]

#: Segments of circles in buffers: 16 per quarter keeps a 500 m disc within 0.6 m.
QUAD_SEGS = 16
_EMPTY = shapely.Polygon()


@dataclass(frozen=True)
class MetricFrame:
    """One local metric CRS plus an equal-area CRS for ellipsoidal areas."""

    crs: pyproj.CRS
    ea_crs: pyproj.CRS

    def project(self, data: gpd.GeoDataFrame | gpd.GeoSeries) -> Geoms:
        """Geometries of ``data`` in the metric CRS (a new array)."""
        gs = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
        if gs.crs is None:
            msg = (
                "input has no CRS: set it with `gdf.set_crs(...)` (layers are EPSG:4326); "
                "ecozone never assigns a CRS silently"
            )
            raise InputFormatError(msg)
        if not pyproj.CRS.from_user_input(gs.crs).equals(self.crs):
            gs = gs.to_crs(self.crs)
        return np.asarray(gs.values, dtype=object)

    def areas(self, geoms: Geoms) -> NDArray[np.float64]:
        """Ellipsoidal areas in m² of metric-CRS geometries (0 for missing/empty)."""
        geoms = np.asarray(geoms, dtype=object)
        out = np.zeros(len(geoms))
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not ok.any():
            return out
        t = pyproj.Transformer.from_crs(self.crs, self.ea_crs, always_xy=True)

        def fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = t.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        geoms = geoms[ok]
        b = shapely.bounds(geoms)
        big = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) > 500.0
        if big.any():  # only large geometries need densifying (500 m edges)
            geoms = geoms.copy()
            geoms[big] = shapely.segmentize(geoms[big], 500.0)
        out[ok] = shapely.area(shapely.transform(geoms, fn))
        return out

    def area_factor(self, geoms: Geoms) -> NDArray[np.float64]:
        """Ellipsoidal / planar area ratio of each geometry (1 where undefined)."""
        planar = shapely.area(np.asarray(geoms, dtype=object))
        ell = self.areas(geoms)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(planar > 0, ell / planar, 1.0)
        return np.nan_to_num(f, nan=1.0)


def metric_frame(*datas: Any) -> MetricFrame:
    """Build the metric frame for the given GeoDataFrames / GeoSeries (first non-empty wins)."""
    for d in datas:
        if d is None:
            continue
        gs = d.geometry if isinstance(d, gpd.GeoDataFrame) else d
        gs = gs[~(gs.isna() | gs.is_empty)]
        if len(gs) == 0 or gs.crs is None:
            continue
        ll = gs.to_crs(4326) if not pyproj.CRS.from_user_input(gs.crs).is_geographic else gs
        bounds = ll.total_bounds
        return MetricFrame(crs=local_metric_crs(bounds, 4326), ea_crs=equal_area_crs(bounds))
    msg = "no geometries with a CRS to measure (all inputs empty or without CRS)"
    raise InputFormatError(msg)


def polygonal(geoms: Geoms) -> Geoms:
    """Repair invalid geometries and keep only their polygonal parts (empty if none)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    missing = shapely.is_missing(geoms)
    geoms[missing] = _EMPTY
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    kinds = shapely.get_type_id(geoms)
    mixed = ~np.isin(kinds, (3, 6))  # not (Multi)Polygon
    if mixed.any():
        parts, idx = shapely.get_parts(geoms[mixed], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        fixed = np.full(int(mixed.sum()), _EMPTY, dtype=object)
        if keep.any():
            s = (
                pd.Series(parts[keep])
                .groupby(idx[keep])
                .agg(lambda g: shapely.union_all(np.asarray(g, dtype=object)))
            )
            fixed[s.index.to_numpy()] = s.to_numpy()
        geoms[mixed] = fixed
    return geoms


def grouped_union(geoms: Geoms, labels: NDArray[np.intp], n_groups: int) -> Geoms:
    """Union of the geometries of each label (vectorised over groups by member rank)."""
    out = np.full(n_groups, _EMPTY, dtype=object)
    if len(geoms) == 0:
        return out
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    g = np.asarray(geoms, dtype=object)[order]
    starts = np.r_[0, np.flatnonzero(lab[1:] != lab[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(lab)])
    rank = np.arange(len(lab)) - np.repeat(starts, sizes)
    big = np.repeat(sizes > 16, sizes)
    # few large groups: one cascaded union each; the many small ones by rank
    for s, n in zip(starts[sizes > 16], sizes[sizes > 16], strict=True):
        out[lab[s]] = shapely.union_all(g[s : s + n])
    first = (rank == 0) & ~big
    out[lab[first]] = g[first]
    for r in range(1, int(rank[~big].max(initial=0)) + 1):
        sel = (rank == r) & ~big
        out[lab[sel]] = shapely.union(out[lab[sel]], g[sel])
    return out


def dissolve_overlaps(geoms: Geoms) -> tuple[Geoms, NDArray[np.intp]]:
    """Merge polygons whose interiors overlap, so that no area is counted twice.

    Parameters
    ----------
    geoms
        Polygonal geometries (metric CRS).

    Returns
    -------
    tuple
        ``(parts, labels)``: disjoint geometries and, for each input, the index of
        the part it went into. Polygons that only touch stay separate.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    labels = np.arange(n)
    if n < 2:
        return geoms.copy(), labels
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    m = i < j
    i, j = i[m], j[m]
    if len(i):
        over = shapely.relate_pattern(geoms[i], geoms[j], "2********")
        i, j = i[over], j[over]
    if len(i) == 0:
        return geoms.copy(), labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    n_groups, labels = connected_components(graph, directed=False)
    return grouped_union(geoms, labels, n_groups), labels.astype(np.intp)


def subtract_all(parts: Geoms, cutters: Geoms) -> Geoms:
    """Return ``part − union(cutters)`` for every part, without building the union.

    Parts inside one cutter become empty at once (prepared ``contains``); the others
    subtract the cutters they meet one rank at a time, each rank one vectorised call.
    """
    parts = np.asarray(parts, dtype=object)
    remaining = parts.copy()
    cutters = np.asarray(cutters, dtype=object)
    if len(parts) == 0 or len(cutters) == 0:
        return remaining
    tree = shapely.STRtree(cutters)
    pi, ci = tree.query(parts, predicate="intersects")
    if len(pi) == 0:
        return remaining
    shapely.prepare(cutters)
    inside = shapely.contains(cutters[ci], parts[pi])
    done = np.zeros(len(parts), dtype=bool)
    done[pi[inside]] = True
    remaining[done] = _EMPTY
    keep = ~done[pi]
    pi, ci = pi[keep], ci[keep]
    if len(pi) == 0:
        return remaining
    order = np.argsort(pi, kind="stable")
    pi, ci = pi[order], ci[order]
    starts = np.r_[0, np.flatnonzero(pi[1:] != pi[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(pi)])
    rank = np.arange(len(pi)) - np.repeat(starts, sizes)
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        p, c = pi[sel], ci[sel]
        live = ~shapely.is_empty(remaining[p])
        p, c = p[live], c[live]
        if len(p):
            remaining[p] = shapely.difference(remaining[p], cutters[c])
    shapely.destroy_prepared(cutters)
    return remaining


def clip_to_zones(geoms: Geoms, zones: Geoms) -> tuple[NDArray[np.intp], NDArray[np.intp], Geoms]:
    """Split geometries by zones (districts, a jurisdiction).

    Returns
    -------
    tuple
        ``(geom_index, zone_index, pieces)`` for every geometry–zone pair that
        shares area; a geometry inside a zone is returned whole (no overlay).
    """
    geoms = np.asarray(geoms, dtype=object)
    zones = np.asarray(zones, dtype=object)
    empty = np.zeros(0, dtype=np.intp)
    if len(geoms) == 0 or len(zones) == 0:
        return empty, empty, np.zeros(0, dtype=object)
    tree = shapely.STRtree(geoms)
    zi, gi = tree.query(zones, predicate="intersects")
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zi], geoms[gi])
    pieces = geoms[gi].copy()
    cut = ~inside
    if cut.any():
        pieces[cut] = polygonal(shapely.intersection(geoms[gi[cut]], zones[zi[cut]]))
    shapely.destroy_prepared(zones)
    keep = shapely.area(pieces) > 0
    return gi[keep], zi[keep], pieces[keep]


# --------------------------------------------------------------------------- parks


def tier_table(tiers: Any) -> list[tuple[float, float]]:
    """Normalise park tiers to ``[(min_area_m2, radius_m), ...]``, largest area first.

    Accepts a :class:`zoning.pack.ParkService`, a list of ``ParkTier`` models,
    mappings with ``min_area_m2`` / ``radius_m``, or ``(min_area_m2, radius_m)`` pairs.
    """
    if tiers is None:
        from zoning.pack import ParkService

        tiers = ParkService()
    tiers = getattr(tiers, "tiers", tiers)
    out: list[tuple[float, float]] = []
    for t in tiers:
        if isinstance(t, tuple | list) and len(t) == 2:
            a, r = t
        elif isinstance(t, dict):
            a, r = t.get("min_area_m2"), t.get("radius_m")
        else:
            a, r = getattr(t, "min_area_m2", None), getattr(t, "radius_m", None)
        try:
            a, r = float(a), float(r)  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            msg = f"park tier {t!r}: needs min_area_m2 and radius_m numbers"
            raise InputFormatError(msg) from err
        if a < 0 or r <= 0:
            msg = f"park tier {t!r}: min_area_m2 must be ≥ 0 and radius_m > 0"
            raise InputFormatError(msg)
        out.append((a, r))
    if not out:
        msg = "`tiers` is empty: give at least one (min_area_m2, radius_m) tier"
        raise InputFormatError(msg)
    return sorted(out, key=lambda t: -t[0])


def radius_for(area_m2: NDArray[np.float64], tiers: list[tuple[float, float]]) -> NDArray:
    """Service radius per park area (0 below the smallest tier); first matching tier wins."""
    a = np.asarray(area_m2, dtype=np.float64)
    out = np.zeros(a.shape)
    done = np.zeros(a.shape, dtype=bool)
    for min_a, r in tiers:
        hit = ~done & (a >= min_a)
        out[hit] = r
        done |= hit
    return out


def park_areas(parks: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Ellipsoidal park areas: the layer's ``area_m2`` where given, else geodesic."""
    from geo.measure import geodesic_area

    have = (
        pd.to_numeric(parks["area_m2"], errors="coerce").to_numpy(dtype=np.float64)
        if "area_m2" in parks.columns
        else np.full(len(parks), np.nan)
    )
    miss = ~np.isfinite(have)
    if miss.any():
        have = have.copy()
        have[miss] = geodesic_area(np.asarray(parks.geometry.values)[miss], parks.crs)
    return have


def straight_service(parks_m: Geoms, radii: NDArray[np.float64]) -> Geoms:
    """Service discs: each park buffered by its radius (distance from the park edge)."""
    return shapely.buffer(parks_m, radii, quad_segs=QUAD_SEGS)


def _network_graph(lines_m: Geoms) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Node the lines and split them into segments: (coords, u, v, length)."""
    lines_m = np.asarray(lines_m, dtype=object)
    lines_m = lines_m[~(shapely.is_missing(lines_m) | shapely.is_empty(lines_m))]
    parts = shapely.get_parts(lines_m)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if len(parts) == 0:
        msg = "the walking network has no line features: give LineStrings of the streets"
        raise GeometryError(msg)
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(parts)))
    xy, which = shapely.get_coordinates(noded, return_index=True)
    same = which[1:] == which[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    length = np.hypot(*(b - a).T)
    keep = length > 0
    a, b, length = a[keep], b[keep], length[keep]
    ends = np.round(np.vstack([a, b]), 3)
    coords, inv = np.unique(ends, axis=0, return_inverse=True)
    inv = inv.ravel()
    u, v = inv[: len(a)], inv[len(a) :]
    return coords, u, v, length


def network_reach(
    parks_m: Geoms,
    radii: NDArray[np.float64],
    lines_m: Geoms,
    *,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
) -> tuple[Geoms, NDArray[np.float64]]:
    """Street pieces within walking distance of the parks (see module docstring).

    Parameters
    ----------
    parks_m
        Park polygons, metric CRS.
    radii
        Service radius of each park (parks with 0 are ignored).
    lines_m
        Street lines, metric CRS.
    snap_m
        Maximum distance from an entrance to the street it joins.
    entrance_spacing_m
        Spacing of entrances along each park boundary.

    Returns
    -------
    tuple
        ``(pieces, radius)``: reachable LineStrings and the tier radius each belongs to.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    coords, u, v, length = _network_graph(lines_m)
    n_nodes = len(coords)
    seg_geoms = shapely.linestrings(
        np.stack([coords[u], coords[v]], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(len(u)), 2),
    )
    levels = np.unique(radii[radii > 0])
    if len(levels) == 0:
        return np.zeros(0, dtype=object), np.zeros(0)
    # entrances: boundary vertices of each park, densified
    rings = shapely.segmentize(shapely.boundary(parks_m), entrance_spacing_m)
    pts_xy, owner = shapely.get_coordinates(rings, return_index=True)
    ent_r = radii[owner]
    ok = ent_r > 0
    pts = shapely.points(pts_xy[ok])
    ent_r = ent_r[ok]
    tree = shapely.STRtree(seg_geoms)
    (pi, si), snap = tree.query_nearest(
        pts, max_distance=snap_m, return_distance=True, all_matches=False
    )
    t = shapely.line_locate_point(seg_geoms[si], pts[pi])
    level_of = np.searchsorted(levels, ent_r[pi])
    # virtual source per tier: n_nodes + level index
    src = np.r_[n_nodes + level_of, n_nodes + level_of]
    dst = np.r_[u[si], v[si]]
    w = np.r_[snap + t, snap + (length[si] - t)]
    both_u = np.r_[u, v, src]
    both_v = np.r_[v, u, dst]
    both_w = np.r_[length, length, w]
    key = pd.DataFrame({"a": both_u, "b": both_v, "w": both_w}).groupby(["a", "b"]).w.min()
    a_idx = key.index.get_level_values(0).to_numpy()
    b_idx = key.index.get_level_values(1).to_numpy()
    weights = np.maximum(key.to_numpy(), 1e-9)  # csgraph treats 0 as "no edge"
    n_all = n_nodes + len(levels)
    graph = csr_matrix((weights, (a_idx, b_idx)), shape=(n_all, n_all))
    dist = dijkstra(
        graph, directed=True, indices=n_nodes + np.arange(len(levels)), limit=float(levels.max())
    )
    pieces_xy: list[NDArray] = []
    piece_r: list[NDArray] = []
    pa, pb = coords[u], coords[v]
    vec = (pb - pa) / length[:, None]
    for k, r in enumerate(levels):  # few tiers
        du, dv = dist[k, u], dist[k, v]
        ra = np.clip(r - du, 0, None)
        rb = np.clip(r - dv, 0, None)
        full = ra + rb >= length
        s0 = [np.zeros(full.sum())]
        s1 = [length[full]]
        segs = [np.flatnonzero(full)]
        pa_part = ~full & (ra > 0)
        segs.append(np.flatnonzero(pa_part))
        s0.append(np.zeros(pa_part.sum()))
        s1.append(ra[pa_part])
        pb_part = ~full & (rb > 0)
        segs.append(np.flatnonzero(pb_part))
        s0.append(length[pb_part] - rb[pb_part])
        s1.append(length[pb_part])
        # the stretch around each entrance on its own segment
        mine = level_of == k
        reach = r - snap[mine]
        pos = reach > 0
        es = si[mine][pos]
        segs.append(es)
        s0.append(np.clip(t[mine][pos] - reach[pos], 0, None))
        s1.append(np.minimum(t[mine][pos] + reach[pos], length[es]))
        seg = np.concatenate(segs)
        a0, a1 = np.concatenate(s0), np.concatenate(s1)
        start = pa[seg] + vec[seg] * a0[:, None]
        end = pa[seg] + vec[seg] * a1[:, None]
        pieces_xy.append(np.stack([start, end], axis=1))
        piece_r.append(np.full(len(seg), r))
    xy = np.concatenate(pieces_xy)
    rr = np.concatenate(piece_r)
    nonzero = np.hypot(*(xy[:, 1] - xy[:, 0]).T) > 1e-6
    xy, rr = xy[nonzero], rr[nonzero]
    lines = shapely.linestrings(xy.reshape(-1, 2), indices=np.repeat(np.arange(len(xy)), 2))
    return lines, rr


def network_service(
    parks_m: Geoms,
    radii: NDArray[np.float64],
    lines_m: Geoms,
    *,
    access_m: float = 50.0,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
) -> Geoms:
    """Network service areas: reachable street pieces buffered by ``access_m``, plus parks."""
    pieces, _ = network_reach(
        parks_m, radii, lines_m, snap_m=snap_m, entrance_spacing_m=entrance_spacing_m
    )
    capsules = shapely.buffer(pieces, access_m, quad_segs=4)
    return np.concatenate([capsules, parks_m[radii > 0]])
