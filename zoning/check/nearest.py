"""Distances between sites and the features of one layer: within-distance pairs, nearest.

The metric half of :mod:`zoning.check.relations` (which owns the layer index, the site
block and the intersect/overlap relations). Every distance is measured in the site's own
metric CRS (Gauss-Krüger zone, UTM outside China's longitudes), where
:meth:`zoning.check.relations.LayerIndex.metric` keeps a copy of the layer as a
:class:`_Metric`: whole features, boundary pieces with their STRtree, and boundary
segments with their k-d tree.

- within distance (:func:`_within_pairs`): an STRtree over the features' boundary
  *pieces* (:func:`_pieces`: runs of at most 16 segments; small features whole) queried
  with ``predicate="dwithin"``: outside a polygon the distance to it is the distance to
  its boundary, so the nearest piece of each (site, feature) pair gives the exact pair
  distance;
- nearest (:func:`_nearest`): for point sites a k-d tree (scipy) over boundary segments
  cut to 50 m (:class:`_Segments`) finds candidate segments whose exact point-segment
  distances give the nearest distance, with a certificate (no other segment can be
  closer); the few points without one use ``STRtree.query_nearest`` over the pieces
  (:func:`_points_nearest`). A line or polygon site takes the distance of its first
  vertex as an upper bound and measures exactly the pieces within it (``dwithin``).
  Without scipy the STRtree does it all. Distances beyond ``nearest_max_m`` are "none".

No Python loop over sites or features: one loop over the metric zones of a block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

from zoning.check.prepared import is_single_threaded
from zoning.check.runs import _first_of_runs

if TYPE_CHECKING:
    from zoning.check.relations import LayerIndex, SiteBlock

try:  # optional: the fast nearest distance for point sites
    from scipy.spatial import cKDTree as _KDTree
except ImportError:  # pragma: no cover - scipy not installed
    _KDTree = None

# Polygons with more vertices than this are also indexed as boundary pieces.
_PIECE_VERTICES = 16
# Longest boundary segment of the k-d nearest search (metres), and its k values.
_SEGMENT_M = 50.0
_K_STEPS = (8, 32)
_KD_WORKERS = -1  # k-d queries on every core


def _pieces(geoms: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Cut the boundaries of big polygons (and long lines) into short linestrings.

    Returns the pieces and, for each, the position of the geometry it came from.
    Small geometries are kept whole (their distance is cheap). Outside a polygon the
    distance to it is the distance to its boundary, the minimum over its pieces.
    """
    nv = shapely.get_num_coordinates(geoms)
    big = (nv > _PIECE_VERTICES) & (shapely.get_dimensions(geoms) >= 1)
    whole = np.flatnonzero(~big)
    if not big.any():
        return geoms[whole], whole
    bidx = np.flatnonzero(big)
    dims = shapely.get_dimensions(geoms[bidx])
    lines = np.where(dims == 2, shapely.boundary(geoms[bidx]), geoms[bidx])
    flat, owner = shapely.get_parts(lines, return_index=True)  # every ring / line
    flat, sub = shapely.get_parts(flat, return_index=True)  # multi-line boundaries
    owner = owner[sub]
    coords, cidx = shapely.get_coordinates(flat, return_index=True)
    k = _PIECE_VERTICES
    nvl = np.bincount(cidx, minlength=len(flat))
    offs = np.r_[0, np.cumsum(nvl)[:-1]]
    nruns = np.maximum(-(-(nvl - 1) // k), 0)
    run_line = np.repeat(np.arange(len(flat)), nruns)
    run_rank = np.arange(int(nruns.sum())) - np.repeat(np.cumsum(nruns) - nruns, nruns)
    run_start = offs[run_line] + run_rank * k
    run_end = np.minimum(run_start + k, offs[run_line] + nvl[run_line] - 1)
    run_len = run_end - run_start + 1  # consecutive runs share their end vertex
    vert_run = np.repeat(np.arange(len(run_start)), run_len)
    vert_pos = (
        np.arange(int(run_len.sum()))
        - np.repeat(np.cumsum(run_len) - run_len, run_len)
        + np.repeat(run_start, run_len)
    )
    runs = shapely.linestrings(coords[vert_pos], indices=vert_run)
    return np.concatenate([geoms[whole], runs]), np.concatenate([whole, bidx[owner[run_line]]])


class _Segments:
    """Boundary segments of a layer (metric CRS), cut to at most ``_SEGMENT_M``.

    A k-d tree over the segment midpoints finds, for point sites, a few candidate
    segments; their exact point-segment distances give the nearest distance, which
    is certainly the minimum when the k-th midpoint is farther than that distance
    plus the longest half-segment (no other segment can be closer). Points that fail
    this test are left to the GEOS search.
    """

    def __init__(self, geoms_m: NDArray[Any]) -> None:
        dims = shapely.get_dimensions(geoms_m)
        lines = np.where(dims == 2, shapely.boundary(geoms_m), geoms_m)
        flat, owner = shapely.get_parts(lines, return_index=True)
        flat, sub = shapely.get_parts(flat, return_index=True)  # multi-line boundaries
        owner = owner[sub]
        xy, ci = shapely.get_coordinates(flat, return_index=True)
        same = ci[1:] == ci[:-1]
        a, b, own = xy[:-1][same], xy[1:][same], owner[ci[:-1][same]]
        lone = np.bincount(ci, minlength=len(flat))[ci] == 1  # points: zero-length
        a = np.concatenate([a, xy[lone]])
        b = np.concatenate([b, xy[lone]])
        own = np.concatenate([own, owner[ci[lone]]])
        length = np.hypot(*(b - a).T)
        k = np.maximum(np.ceil(length / _SEGMENT_M).astype(np.int64), 1)
        rep = np.repeat(np.arange(len(a)), k)
        t0 = (np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)) / k[rep]
        d = (b - a)[rep]
        sa = a[rep] + d * t0[:, None]
        sb = a[rep] + d * np.minimum(t0 + 1.0 / k[rep], 1.0)[:, None]
        self.owner = own[rep].astype(np.intp)
        # per segment: start, direction and 1/length² (0 for points) for the distance,
        # one row per segment (a query gathers its candidates' rows at once)
        dx, dy = sb[:, 0] - sa[:, 0], sb[:, 1] - sa[:, 1]
        l2 = dx**2 + dy**2
        inv_l2 = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
        self.table = np.column_stack([sa[:, 0], sa[:, 1], dx, dy, inv_l2])
        self.ax, self.ay, self.dx, self.dy, self.inv_l2 = self.table.T
        self.hmax = float(np.sqrt(l2.max()) / 2) if len(rep) else 0.0
        self.all_points = bool(len(rep)) and bool((l2 == 0).all())
        # an unbalanced tree without compacted nodes: built 3x faster, queried no slower
        # (answers do not depend on the tree's shape; ties are broken below)
        self.kd = (
            _KDTree((sa + sb) / 2, balanced_tree=False, compact_nodes=False)
            if _KDTree is not None and len(rep)
            else None
        )

    def nearest(
        self, xy: NDArray[np.float64], k: int, max_m: float
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_]]:
        """Nearest feature within ``max_m`` (-1 / NaN when none) and whether it is certain.

        Parameters
        ----------
        xy
            Point coordinates, shape (n, 2), in the layer's metric CRS.
        k
            Candidate segments per point.
        max_m
            Search radius.

        Returns
        -------
        tuple
            Feature position, distance, certainty, per point.
        """
        assert self.kd is not None
        n = len(self.owner)
        k = min(k, n)
        # threads cost more on small blocks; none when blocks are already checked at once
        solo = is_single_threaded()
        workers = _KD_WORKERS if len(xy) >= 20_000 and not solo else 1
        dk, ik = self.kd.query(xy, k=k, distance_upper_bound=max_m + self.hmax, workers=workers)
        if k == 1:
            dk, ik = dk[:, None], ik[:, None]
        found = ik < n  # k-d tree marks missing neighbours with index n
        all_found = bool(found.all())
        if not all_found:
            ik = np.where(found, ik, 0)
        g = self.table[ik]  # (points, k, 5)
        ux = xy[:, 0, None] - g[..., 0]
        uy = xy[:, 1, None] - g[..., 1]
        dx, dy = g[..., 2], g[..., 3]
        t = (ux * dx + uy * dy) * g[..., 4]
        np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)  # clip to the segment
        ux -= t * dx
        uy -= t * dy
        d2 = ux * ux + uy * uy
        if not all_found:
            d2[~found] = np.inf
        rows = np.arange(len(xy))
        j = np.argmin(d2, axis=1)
        if k > 1:  # equally near segments of several features: the lowest feature
            low = d2 == d2[rows, j][:, None]
            tie = np.flatnonzero((low.sum(axis=1) > 1) & np.isfinite(d2[rows, j]))
            if len(tie):
                own = np.where(low[tie], self.owner[ik[tie]], np.iinfo(np.intp).max)
                j[tie] = np.argmin(own, axis=1)
        best = np.sqrt(d2[rows, j])
        # certain when every segment within the search radius was a candidate, or when
        # no other segment can come closer than the best (or than the radius)
        sure = ~found[:, -1] | (dk[:, -1] - self.hmax >= np.minimum(best, max_m))
        hit = best <= max_m
        feat = np.where(hit, self.owner[ik[rows, j]], -1)
        return feat, np.where(hit, best, np.nan), sure


@dataclass
class _Metric:
    """A layer in one metric CRS: whole features, pieces and segments for distances."""

    geoms: NDArray[Any]
    pieces: NDArray[Any]
    piece_owner: NDArray[np.intp]
    piece_tree: STRtree
    segments: _Segments


def _maybe_within(
    m: _Metric, block: SiteBlock, pos: NDArray[np.intp], d: float
) -> NDArray[np.intp]:
    """The sites of ``pos`` that may lie within ``d`` of a feature (others dropped).

    A single point farther than ``d`` plus the longest half-segment from every
    boundary segment's midpoint is farther than ``d`` from every feature it does
    not intersect (its distance to such a feature is to the feature's boundary), so
    it needs no geometry and no GEOS query; the k-d tree answers that for all
    points at once. Lines and polygons are kept.
    """
    seg = m.segments
    point = block.simple_point[pos]
    if seg.kd is None or not point.any():
        return pos
    # +1 mm: the k-d distances are not GEOS's to the last bit; a margin only keeps more
    dk, _ = seg.kd.query(
        block.first_xy_m[pos[point]], k=1, distance_upper_bound=d + seg.hmax + 1e-3
    )
    keep = ~point
    keep[point] = np.isfinite(dk)
    return pos[keep]


def _within_pairs(
    index: LayerIndex,
    block: SiteBlock,
    within_m: NDArray[np.float64],
    isect_key: NDArray[np.int64],
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """(site, feature, distance) of non-intersecting pairs closer than ``within_m[f]``."""
    empty = np.zeros(0, dtype=np.intp)
    finite = np.isfinite(within_m)
    if not finite.any():
        return empty, empty, np.zeros(0)
    d_query = float(within_m[finite].max())
    nfeat = np.int64(len(index))
    out_s, out_f, out_d = [], [], []
    for epsg, pos in block.zones.items():
        m = index.metric(epsg)
        pos = _maybe_within(m, block, pos, d_query)
        if len(pos) == 0:
            continue
        geoms = block.metric_geoms(pos)
        qi, qp = m.piece_tree.query(geoms, predicate="dwithin", distance=d_query)
        if len(qi) == 0:
            continue
        s = pos[qi]
        f = m.piece_owner[qp]
        key = s.astype(np.int64) * nfeat + f
        keep = ~np.isin(key, isect_key)
        qi, s, qp, key = qi[keep], s[keep], qp[keep], key[keep]
        d = shapely.distance(geoms[qi], m.pieces[qp])
        o = np.lexsort((d, key))  # nearest piece of each (site, feature) first
        first = _first_of_runs(key[o])
        sel = o[first]
        out_s.append(s[sel])
        out_f.append(key[sel] % nfeat)
        out_d.append(d[sel])
    if not out_s:
        return empty, empty, np.zeros(0)
    s = np.concatenate(out_s).astype(np.intp)
    f = np.concatenate(out_f).astype(np.intp)
    d = np.concatenate(out_d)
    keep = d <= within_m[f]  # NaN (feature excluded) compares False
    return s[keep], f[keep], d[keep]


def _points_nearest(
    m: _Metric, xy: NDArray[np.float64], max_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Nearest feature and distance of points (metric CRS) outside every feature.

    The k-d search over boundary segments with growing k; the points it cannot
    certify go to the GEOS best-first search over the boundary pieces.
    """
    seg = m.segments
    steps = (1,) if seg.all_points else _K_STEPS
    kd = seg.kd is not None and len(xy) > 0
    if kd:
        f, d, sure = seg.nearest(xy, steps[0], max_m)
        if sure.all():  # the common case: every point certain at the first k
            return f, d
    nf = np.full(len(xy), -1, dtype=np.intp)
    nd = np.full(len(xy), np.nan)
    todo = np.arange(len(xy))
    if kd:
        nf[sure], nd[sure] = f[sure], d[sure]
        todo = todo[~sure]
        for k in steps[1:]:
            if len(todo) == 0:
                break
            f, d, sure = seg.nearest(xy[todo], k, max_m)
            nf[todo[sure]], nd[todo[sure]] = f[sure], d[sure]
            todo = todo[~sure]
    if len(todo):
        # no max_distance: shapely would first collect every piece within it for each
        # point (slow for dense layers); the plain best-first search is cut by the caller
        (qi, qp), d = m.piece_tree.query_nearest(
            shapely.points(xy[todo]), return_distance=True, all_matches=False
        )
        nf[todo[qi]], nd[todo[qi]] = m.piece_owner[qp], d
    return nf, nd


def _nearest(
    index: LayerIndex, block: SiteBlock, need: NDArray[np.bool_], max_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Nearest feature and distance for the sites in ``need`` (-1 / NaN when none).

    The sites in ``need`` intersect no feature, so the nearest boundary gives the
    distance. A point site is answered by :func:`_points_nearest`. For a line or
    polygon site the distance from its first vertex (same search) bounds the answer
    from above; the boundary pieces within that bound (an STRtree ``dwithin`` query)
    are the only candidates, and their exact distances give the nearest. Either way
    the result depends only on the site, never on the other sites of the block.
    """
    if len(block.zones) == 1 and block.all_simple_points and need.all():
        # points of one zone, none touching the layer (a single point site, most often)
        (epsg,) = block.zones
        nf, nd = _points_nearest(index.metric(epsg), block.first_xy_m, max_m)
        far = nd > max_m
        if far.any():
            nf[far], nd[far] = -1, np.nan
        return nf, nd
    nf = np.full(block.n, -1, dtype=np.intp)
    nd = np.full(block.n, np.nan)
    for epsg, pos in block.zones.items():
        pos = pos[need[pos]]
        if len(pos) == 0:
            continue
        m = index.metric(epsg)
        vf, vd = _points_nearest(m, block.first_xy_m[pos], max_m)
        single = block.simple_point[pos]
        nf[pos[single]], nd[pos[single]] = vf[single], vd[single]
        other = np.flatnonzero(~single)
        if len(other) == 0:
            continue
        # (+1 µm: the k-d and GEOS distances may differ in the last bits)
        bound = np.where(np.isnan(vd[other]), max_m, np.minimum(vd[other], max_m)) + 1e-6
        geoms = block.metric_geoms(pos[other])
        qi, qp = m.piece_tree.query(geoms, predicate="dwithin", distance=bound)
        if len(qi) == 0:
            continue
        d = shapely.distance(geoms[qi], m.pieces[qp])
        f = m.piece_owner[qp]
        o = np.lexsort((f, d, qi))  # per site: smallest distance, then lowest feature
        keep = o[_first_of_runs(qi[o])]
        nf[pos[other[qi[keep]]]] = f[keep]
        nd[pos[other[qi[keep]]]] = d[keep]
    far = nd > max_m
    nf[far], nd[far] = -1, np.nan
    return nf, nd
