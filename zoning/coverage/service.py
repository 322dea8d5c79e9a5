"""Park service areas of the coverage metrics: radius tiers, straight and network service.

Private to :mod:`zoning.coverage.measure` and :mod:`zoning.coverage.gaps`. The general geometry
kernel they stand on (metric frame, ellipsoidal areas, dissolving, clipping) is
:mod:`geo.overlay`; its names are re-exported here for the modules that import them
from this one. Everything works on numpy arrays of shapely geometries in one local
metric CRS (the Gauss-Krüger zone of the jurisdiction) and is vectorised.

Network service areas (walking distance along the user's street lines) are built
like this:

1. the lines are noded at every crossing (:func:`shapely.node`) and split into
   straight segments; segment end points (rounded to 1 mm) are graph nodes and the
   segment lengths are edge weights (on the ellipsoid, given the plane's scale:
   each plane length divided by the scale at the segment's middle);
2. park entrances are the park boundary's vertices, densified every
   ``entrance_spacing_m``; each entrance within ``snap_m`` of a street is snapped
   to the nearest point of the nearest segment; the walk starts there and the
   snapping distance counts towards the radius;
3. one virtual source per radius tier links to the end points of the snapped
   segments with the walking distance to them; :func:`scipy.sparse.csgraph.dijkstra`
   gives every node's network distance from the nearest park of the tier;
4. each segment is reachable up to ``radius − distance`` from either end, plus the
   stretch around an entrance that sits on it; a segment's stretches are merged
   (:func:`_merged_intervals`); those pieces, buffered by
   ``access_m`` (the depth of a plot facing the street) and joined with the parks
   themselves, are the service area.

Streets that cross without a junction (bridges) become junctions in step 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import GeometryError, InputFormatError
from geo.overlay import (
    QUAD_SEGS,
    Geoms,
    MetricFrame,
    clip_to_zones,
    dissolve_overlaps,
    grouped_union,
    metric_frame,
    polygonal,
    subtract_all,
)
from geo.overlay import feature_areas as park_areas
from geo.scale import PlaneScale

__all__ = [
    "QUAD_SEGS",
    "Geoms",
    "MetricFrame",
    "clip_to_zones",
    "dissolve_overlaps",
    "grouped_union",
    "metric_frame",
    "network_reach",
    "network_service",
    "park_areas",
    "polygonal",
    "radius_for",
    "straight_service",
    "subtract_all",
    "tier_table",
]


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
    scale: PlaneScale | None = None,
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
    scale
        The metric CRS's scale (:func:`geo.scale.plane_scale`): ``radii`` and
        ``snap_m`` are then metres on the ellipsoid, and every walk is measured on it
        (each street segment's plane length divided by the scale at its middle, the
        snapping distance by the scale at its entrance). ``None``: plane metres.

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
    levels = np.unique(radii[radii > 0])  # one walk per tier, whatever the parks' scales
    if len(levels) == 0:
        return np.zeros(0, dtype=object), np.zeros(0)
    # plane metres per metre walked, per segment (its middle); 1 in plane metres
    mid = (coords[u] + coords[v]) / 2
    k_seg = np.ones(len(u)) if scale is None else scale.k(mid[:, 0], mid[:, 1])
    walk = length / k_seg  # each segment's length as walked
    # entrances: boundary vertices of each park, densified
    rings = shapely.segmentize(shapely.boundary(parks_m), entrance_spacing_m)
    pts_xy, owner = shapely.get_coordinates(rings, return_index=True)
    ent_r = radii[owner]
    ok = ent_r > 0
    pts_xy = pts_xy[ok]
    pts = shapely.points(pts_xy)
    ent_r = ent_r[ok]
    k_ent = np.ones(len(pts)) if scale is None else scale.k(pts_xy[:, 0], pts_xy[:, 1])
    tree = shapely.STRtree(seg_geoms)
    reach_m = snap_m * float(k_ent.max(initial=1.0))  # the plane search covers every entrance's
    (pi, si), snap = tree.query_nearest(
        pts, max_distance=reach_m, return_distance=True, all_matches=False
    )
    snap = snap / k_ent[pi]
    joined = snap <= snap_m
    pi, si, snap = pi[joined], si[joined], snap[joined]
    t = shapely.line_locate_point(seg_geoms[si], pts[pi]) / k_seg[si]  # (walked)
    level_of = np.searchsorted(levels, ent_r[pi])
    # virtual source per tier: n_nodes + level index
    src = np.r_[n_nodes + level_of, n_nodes + level_of]
    dst = np.r_[u[si], v[si]]
    w = np.r_[snap + t, snap + (walk[si] - t)]
    both_u = np.r_[u, v, src]
    both_v = np.r_[v, u, dst]
    both_w = np.r_[walk, walk, w]
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
        full = ra + rb >= walk
        s0 = [np.zeros(full.sum())]
        s1 = [walk[full]]
        segs = [np.flatnonzero(full)]
        pa_part = ~full & (ra > 0)
        segs.append(np.flatnonzero(pa_part))
        s0.append(np.zeros(pa_part.sum()))
        s1.append(ra[pa_part])
        pb_part = ~full & (rb > 0)
        segs.append(np.flatnonzero(pb_part))
        s0.append(walk[pb_part] - rb[pb_part])
        s1.append(walk[pb_part])
        # the stretch around each entrance on its own segment
        mine = level_of == k
        reach = r - snap[mine]
        pos = reach > 0
        es = si[mine][pos]
        segs.append(es)
        s0.append(np.clip(t[mine][pos] - reach[pos], 0, None))
        s1.append(np.minimum(t[mine][pos] + reach[pos], walk[es]))
        seg, a0, a1 = _merged_intervals(
            np.concatenate(segs), np.concatenate(s0), np.concatenate(s1)
        )
        # walked metres along each segment → plane metres
        a0, a1 = a0 * k_seg[seg], a1 * k_seg[seg]
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


def _merged_intervals(
    seg: NDArray[np.intp], a0: NDArray[np.float64], a1: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """The intervals ``[a0, a1]`` of each segment ``seg``, overlapping ones merged.

    Entrances of one park often snap to one street segment, and each reaches a
    stretch of it: one piece per merged stretch, not one per entrance (overlapping
    pieces a hair apart are not dissolved by a union, and their lengths add up).
    """
    if len(seg) == 0:
        return seg, a0, a1
    o = np.lexsort((a0, seg))
    seg, a0, a1 = seg[o], a0[o], a1[o]
    reach = pd.Series(a1).groupby(seg).cummax().to_numpy()  # farthest end so far, per segment
    first = np.r_[True, seg[1:] != seg[:-1]]
    start = first | np.r_[False, a0[1:] > reach[:-1]]  # a gap before it: a new stretch
    begin = np.flatnonzero(start)
    last = np.r_[begin[1:] - 1, len(seg) - 1]
    return seg[begin], a0[begin], reach[last]


def network_service(
    parks_m: Geoms,
    radii: NDArray[np.float64],
    lines_m: Geoms,
    *,
    access_m: float = 50.0,
    snap_m: float = 100.0,
    entrance_spacing_m: float = 50.0,
    scale: PlaneScale | None = None,
) -> Geoms:
    """Network service areas: reachable street pieces buffered by ``access_m``, plus parks.

    Parameters as for :func:`network_reach`; with ``scale``, ``access_m`` is metres on
    the ellipsoid too, drawn at each piece's scale.
    """
    pieces, _ = network_reach(
        parks_m, radii, lines_m, snap_m=snap_m, entrance_spacing_m=entrance_spacing_m,
        scale=scale,
    )  # fmt: skip
    access = access_m if scale is None else scale.plane_at(access_m, pieces)
    capsules = shapely.buffer(pieces, access, quad_segs=4)
    return np.concatenate([capsules, parks_m[radii > 0]])
