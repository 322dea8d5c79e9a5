"""Point-in-polygon kernel: which of many points lie in which of many polygons.

:func:`points_in_polygons` answers the raw point-in-polygon join (every
``(point, polygon)`` pair where the point intersects the polygon) with shapely 2
only: bounding-box candidates, then the exact test :func:`shapely.intersects_xy`
on prepared polygons, both split over threads (numpy and shapely's predicates
release the GIL; creating point geometries, which the default path avoids, holds
it). The exact tests are grouped by polygon: each thread tests its own polygons
(a GEOS prepared geometry must not be tested from two threads at once; tests of
one polygon together also use the cache best). By default the candidates come
from a uniform grid over the polygons' boxes (:class:`BoxGrid`, numpy only: no point
geometries are created, the costliest step of the STRtree path); with a given ``tree`` they come
from :meth:`shapely.STRtree.query`.

:class:`PointGrid` serves many queries against the same polygons: cells that no edge
touches answer their points without a test (see the notes above the class).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.cores import available_cores, thread_map

__all__ = ["BoxGrid", "PointGrid", "points_in_polygons"]

#: Below this many points one thread is used (thread start-up costs more than it saves).
_MIN_POINTS_PER_THREAD = 50_000
#: Points per candidate task (bounds the candidate arrays a task builds at once).
_BLOCK = 262_144


def _spans(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Positions ``first[i], first[i] + 1, ...`` (``count[i]`` of them) for every ``i``, flat.

    How a CSR table's rows are read at once: ``items[_spans(start[rows], length[rows])]``.
    """
    ends = np.cumsum(count)
    return np.repeat(first - (ends - count), count) + np.arange(int(ends[-1]) if len(ends) else 0)


@dataclass
class BoxGrid:
    """A uniform grid over features' bounding boxes: which boxes hold which points.

    The cell size starts at half the mean spacing of the features and grows until
    their boxes cover at most about 8 cells each on average. Numpy only: points are
    looked up by their coordinates, with no point geometries (the costliest step of
    :meth:`shapely.STRtree.query` with points). The candidates are those of an
    ``STRtree`` over the same features queried with the points: every (point,
    feature) pair where the feature's box holds the point, edges included.

    Attributes
    ----------
    x0, y0, w, nx, ny
        The grid's origin, cell side and cells along x and y.
    start, feature
        The features whose box meets cell ``c`` are ``feature[start[c]:start[c + 1]]``.
    bounds
        Every feature's box (NaN for ``None`` and empty features, which never match).
    """

    x0: float
    y0: float
    w: float
    nx: int
    ny: int
    start: NDArray[np.int64]
    feature: NDArray[np.int64]
    bounds: NDArray[np.float64]

    @classmethod
    def build(cls, geoms: NDArray[np.object_]) -> BoxGrid | None:
        """The grid over ``geoms`` (``None`` when no feature has a finite box)."""
        bounds = shapely.bounds(geoms)
        ids = np.flatnonzero(np.isfinite(bounds).all(axis=1))  # None / empty never match
        if len(ids) == 0:
            return None
        b = bounds[ids]
        x0, y0 = float(b[:, 0].min()), float(b[:, 1].min())
        span_x = max(float(b[:, 2].max()) - x0, 1e-12)
        span_y = max(float(b[:, 3].max()) - y0, 1e-12)
        w = float(np.sqrt(span_x * span_y / len(ids))) / 2.0
        while True:
            nx, ny = int(span_x / w) + 1, int(span_y / w) + 1
            ix0 = np.floor((b[:, 0] - x0) / w).astype(np.int64)
            iy0 = np.floor((b[:, 1] - y0) / w).astype(np.int64)
            kx = np.floor((b[:, 2] - x0) / w).astype(np.int64) - ix0 + 1
            ky = np.floor((b[:, 3] - y0) / w).astype(np.int64) - iy0 + 1
            k = kx * ky
            if int(k.sum()) <= 8 * len(ids) + 1000 or nx * ny <= 4:
                break
            w *= 1.5
        own = np.repeat(np.arange(len(ids)), k)
        r = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
        cell = (ix0[own] + r % kx[own]) * ny + (iy0[own] + r // kx[own])
        o = np.lexsort((ids[own], cell))
        start = np.searchsorted(cell[o], np.arange(nx * ny + 1))
        return cls(x0, y0, w, nx, ny, start, ids[own][o], bounds)

    def cells(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """Grid cell of each point (-1 outside the grid or NaN); the boxes' rounding."""
        ix = np.floor((x - self.x0) / self.w)
        iy = np.floor((y - self.y0) / self.w)
        ok = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)  # NaN: False
        cell = np.full(len(x), -1, dtype=np.int64)
        cell[ok] = ix[ok].astype(np.int64) * self.ny + iy[ok].astype(np.int64)
        return cell

    def candidates(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(point, feature) pairs where the feature's box holds the point, by point.

        Parameters
        ----------
        x, y
            Point coordinates, in the features' coordinate system (same length).

        Returns
        -------
        point_index, feature_index : numpy.ndarray
            ``int64`` positions, grouped by point.
        """
        cell = self.cells(x, y)
        idx = np.flatnonzero(cell >= 0)
        c = cell[idx]
        s = self.start[c]
        cnt = self.start[c + 1] - s
        pi = np.repeat(idx, cnt)
        gi = self.feature[_spans(s, cnt)]
        bb = self.bounds[gi]
        xx, yy = x[pi], y[pi]
        m = (bb[:, 0] <= xx) & (xx <= bb[:, 2]) & (bb[:, 1] <= yy) & (yy <= bb[:, 3])
        return pi[m], gi[m]


def _exact(
    polys: np.ndarray, x: np.ndarray, y: np.ndarray, pi: np.ndarray, gi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs (sorted by polygon) where the point intersects the polygon."""
    hit = shapely.intersects_xy(polys[gi], x[pi], y[pi])
    return pi[hit], gi[hit]


def points_in_polygons(
    polygons: np.ndarray | list,
    x: np.ndarray,
    y: np.ndarray,
    *,
    tree: shapely.STRtree | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, polygon) pair where the point intersects the polygon.

    Parameters
    ----------
    polygons
        Polygon (or any) geometries, one per polygon position; ``None`` entries
        never match. They are prepared in place (:func:`shapely.prepare`).
    x, y
        Point coordinates, in the polygons' coordinate system (same length).
        Points with a NaN coordinate match nothing.
    tree
        An :class:`shapely.STRtree` built over exactly ``polygons`` (reused
        across calls): candidates then come from ``tree.query``. When None
        (the faster default), candidates come from a uniform grid over the
        polygons' boxes built here, with no point geometries created.
    threads
        Threads to split the points over; None = every available core for more
        than 50 000 points, else one.

    Returns
    -------
    point_index, polygon_index : numpy.ndarray
        ``int64`` positions, sorted by point then polygon. A point on a
        polygon's boundary counts (as :func:`shapely.intersects`); a point in a
        hole does not.

    Raises
    ------
    ValueError
        When ``x`` and ``y`` differ in length, or ``tree`` was not built over
        as many geometries as ``polygons`` has.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> sq = shapely.box(0, 0, 2, 2)
    >>> points_in_polygons([sq], np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    (array([0, 1]), array([0, 0]))
    """
    polys = np.asarray(polygons, dtype=object)
    x = np.ascontiguousarray(x, dtype="float64")
    y = np.ascontiguousarray(y, dtype="float64")
    if x.shape != y.shape or x.ndim != 1:
        msg = f"x and y must be 1-D arrays of the same length (got {x.shape} and {y.shape})"
        raise ValueError(msg)
    if tree is not None and len(tree.geometries) != len(polys):
        msg = (
            f"tree was built over {len(tree.geometries)} geometries "
            f"but {len(polys)} polygons were given"
        )
        raise ValueError(msg)
    n = len(x)
    if n == 0 or len(polys) == 0 or not shapely.is_geometry(polys).any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    shapely.prepare(polys)
    if threads is None:
        threads = available_cores() if n > _MIN_POINTS_PER_THREAD else 1
    threads = max(1, int(threads))
    if tree is None:
        built = BoxGrid.build(polys)
        if built is None:  # only empty polygons
            return np.empty(0, np.int64), np.empty(0, np.int64)
        boxes: BoxGrid = built

        def candidates(r: slice) -> tuple[np.ndarray, np.ndarray]:
            p, g = boxes.candidates(x[r], y[r])
            return p + r.start, g
    else:
        tree.query(shapely.points(0.0, 0.0))  # GEOS builds the tree on first query: now

        def candidates(r: slice) -> tuple[np.ndarray, np.ndarray]:
            p, g = tree.query(shapely.points(x[r], y[r]))
            return p + r.start, g.astype(np.int64)

    # candidates: contiguous ranges of the points, one per task
    size = -(-n // max(threads, -(-n // _BLOCK)))
    cand = thread_map(candidates, [slice(a, min(a + size, n)) for a in range(0, n, size)], threads)
    pi = np.concatenate([p for p, _ in cand])
    gi = np.concatenate([g for _, g in cand])
    del cand
    if len(gi) == 0:
        return pi, gi
    # exact tests grouped by polygon: a prepared polygon is used by one thread only
    # (GEOS's prepared geometries are not safe to test from two threads at once) and
    # stays in cache for all its points
    o = np.argsort(gi, kind="stable")
    pi, gi = pi[o], gi[o]
    cuts = np.searchsorted(gi, gi[np.linspace(0, len(gi), threads + 1)[1:-1].astype(np.int64)])
    edges = np.r_[0, cuts, len(gi)]
    spans = [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]
    parts = thread_map(lambda sl: _exact(polys, x, y, pi[sl], gi[sl]), spans, threads)
    pi = np.concatenate([p for p, _ in parts])
    gi = np.concatenate([g for _, g in parts])
    srt = np.lexsort((gi, pi))
    return pi[srt], gi[srt]


# ------------------------------------------------------------------ the point grid
#
# :class:`PointGrid` answers most points without any test, for many queries against
# the same polygons (a batch's chunks against one layer). It cuts a box into 512 x 512
# cells and marks every cell an edge of a feature (a polygon's rings, a line, a point)
# may touch. Inside an unmarked cell no edge separates two points, so every point of
# the cell lies in exactly the features its centre lies in: the grid keeps that list
# per cell. Points in marked cells, or outside the box, are left to the caller's test.
#
# - Marking is conservative: edges are clipped to the box grown by a cell (the clip's
#   new vertices lie outside the cells), cut to pieces half a cell long, and each piece
#   marks the cells its box, grown by 1e-9 (degrees: far below a cell; for the
#   vertices segmentize rounds off the edge), meets. Points find their cell with the
#   very arithmetic of the pieces, floor((x - x0) * n / (x1 - x0)), which rounding
#   keeps monotonic: an edge point between a cell's centre and a point given that
#   cell gets that cell too, so the cell is marked. No point is answered across an
#   edge, whatever the rounding.
# - The lists are built coarse to fine (64, 128, 256, 512 cells a side): an unmarked
#   cell inside an unmarked cell of the level above shares its list (the entries are
#   held once, not copied to each of the finer cells); only the others have their
#   centre tested.
# - On the Beijing demo layers a 40 000-point chunk's intersections cost 88 ms by
#   STRtree candidates and tests, about 30 ms with the grids, which cost 9-43 ms each
#   to build (benchmarks/RESULTS.md).

#: Cells a side at each level of the build; the last is the grid's.
_LEVELS = (64, 128, 256, 512)
#: Growth (degrees) of each edge piece's box before marking: far above the rounding of
#: the cell arithmetic, far below a cell.
_EPS_DEG = 1e-9
#: Most (cell, feature) pairs a grid holds (4 bytes each): 8 features a cell on average.
_MAX_ENTRIES = 8 * _LEVELS[-1] ** 2


@dataclass
class PointGrid:
    """Cells over a box, each cell no edge touches with the features containing it.

    The answers are those of :func:`shapely.intersects_xy` on the prepared features
    (for an invalid feature, such as overlapping parts, GEOS may answer otherwise with
    the point first).

    Attributes
    ----------
    xs, ys
        Cell edges (``n + 1`` each).
    marked
        Per cell (``i * n + j``, ``i`` along x): an edge may touch it.
    first, count, feature
        The features containing unmarked cell ``c`` are
        ``feature[first[c]:first[c] + count[c]]``, in increasing order (none for marked
        cells). A cell that took its list from a coarser cell shares that cell's
        entries: the list is held once.
    """

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    marked: NDArray[np.bool_]
    first: NDArray[np.int64]
    count: NDArray[np.int32]
    feature: NDArray[np.int32]

    @property
    def n(self) -> int:
        """Cells a side."""
        return len(self.xs) - 1

    @classmethod
    def build(
        cls, geoms: NDArray[np.object_], box: tuple[float, float, float, float]
    ) -> PointGrid | None:
        """The grid of features ``geoms`` over ``box``.

        Parameters
        ----------
        geoms
            The features (prepared in place); the centres of unmarked cells are
            tested against them with :func:`points_in_polygons` (one thread).
        box
            ``xmin, ymin, xmax, ymax`` of the grid (with some width and height).

        Returns
        -------
        PointGrid or None
            ``None`` when the box is degenerate, a feature is a nested collection, or
            the features overlap too much (see :data:`_MAX_ENTRIES`).
        """
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0 and np.isfinite([x0, y0, x1, y1]).all()):
            return None
        # pieces half a cell long meet at most two cells a side
        pieces = _edge_pieces(geoms, (x0, y0, x1, y1), _LEVELS[-1])
        if pieces is None:
            return None
        parent: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int32]] | None = None
        pool: list[NDArray[np.int32]] = []  # every level's tested lists, one after another
        held = 0
        for n in _LEVELS:
            xs = np.linspace(x0, x1, n + 1)  # exactly x0 and x1 at the ends
            ys = np.linspace(y0, y1, n + 1)
            marked = _marked(*pieces, xs, ys)
            lists = _lists(marked, xs, ys, parent, geoms, held)
            if lists is None:
                return None
            first, count, tested = lists
            pool.append(tested)
            held += len(tested)
            parent = (marked, first, count)
        feature = np.concatenate(pool) if pool else np.zeros(0, dtype=np.int32)
        return cls(xs, ys, *parent, feature)

    def pairs(
        self, xy: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """(point, feature) pairs of the points in unmarked cells, and the other points.

        Parameters
        ----------
        xy
            Point coordinates, shape (n, 2).

        Returns
        -------
        tuple
            Point positions and feature positions of the intersecting pairs the grid
            answers (grouped by point), and the positions of the points it leaves to
            the exact test.
        """
        n = self.n
        xs, ys = self.xs, self.ys
        x, y = xy[:, 0], xy[:, 1]
        with np.errstate(invalid="ignore"):
            i = np.floor((x - xs[0]) * (n / (xs[-1] - xs[0])))
            j = np.floor((y - ys[0]) * (n / (ys[-1] - ys[0])))
            ok = (i >= 0) & (i < n) & (j >= 0) & (j < n)  # NaN compares False
        # the very arithmetic of _marked: see the module's note on rounding
        cell = np.where(ok, i * n + j, 0).astype(np.intp)
        ok &= ~self.marked[cell]
        pts = np.flatnonzero(ok)
        first = self.first[cell[pts]]
        count = self.count[cell[pts]]
        feature = self.feature[_spans(first, count)].astype(np.intp)
        return np.repeat(pts, count), feature, np.flatnonzero(~ok)


def _edge_pieces(
    geoms: NDArray[np.object_], box: tuple[float, float, float, float], n: int
) -> tuple[NDArray[np.float64], ...] | None:
    """Pieces (half a cell long) of every edge near ``box``: rings, lines, points.

    Edges are first clipped to ``box`` grown by a cell (``n`` cells a side): the
    vertices the clip adds lie outside the grid's cells. Returns the start and end
    coordinates ``ax, ay, bx, by`` (a point is a piece of length 0), or ``None``
    when a feature holds a nested collection.
    """
    x0, y0, x1, y1 = box
    wx, wy = (x1 - x0) / n, (y1 - y0) / n
    parts = shapely.get_parts(geoms)
    types = shapely.get_type_id(parts)
    if (types == 7).any():
        return None
    poly = types == 3
    edges = np.concatenate([shapely.get_rings(parts[poly]), parts[~poly]])
    edges = shapely.clip_by_rect(edges, x0 - wx, y0 - wy, x1 + wx, y1 + wy)
    edges = shapely.segmentize(edges, max_segment_length=min(wx, wy) / 2)
    coords, owner = shapely.get_coordinates(edges, return_index=True)
    same = owner[1:] == owner[:-1]  # consecutive vertices of one ring or line
    single = np.ones(len(coords), dtype=bool)  # points, and the vertex of a 1-vertex edge
    single[1:] &= ~same
    single[:-1] &= ~same
    a = np.concatenate([coords[:-1][same], coords[single]])
    b = np.concatenate([coords[1:][same], coords[single]])
    return a[:, 0], a[:, 1], b[:, 0], b[:, 1]


def _marked(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Cells (edges ``xs``, ``ys``) that the grown box of a piece meets.

    A piece is at most half a cell long (at the finest level; longer cells above), so
    its grown box meets at most two cells a side: the cells of its low and high
    corners, and the two mixed ones.
    """
    n = len(xs) - 1
    x0, y0, x1, y1 = xs[0], ys[0], xs[-1], ys[-1]
    sx, sy = n / (x1 - x0), n / (y1 - y0)

    def cells(lo: NDArray[np.float64], hi: NDArray[np.float64], v0: float, s: float) -> tuple:
        a = np.floor((lo - _EPS_DEG - v0) * s)
        b = np.floor((hi + _EPS_DEG - v0) * s)
        # beyond the box: the padding row (-1 or n), dropped below
        return (np.clip(a, -1, n).astype(np.intp) + 1, np.clip(b, -1, n).astype(np.intp) + 1)

    ilo, ihi = cells(np.minimum(ax, bx), np.maximum(ax, bx), x0, sx)
    jlo, jhi = cells(np.minimum(ay, by), np.maximum(ay, by), y0, sy)
    marked = np.zeros((n + 2, n + 2), dtype=bool)
    for i in (ilo, ihi):
        for j in (jlo, jhi):
            marked[i, j] = True
    marked = marked[1:-1, 1:-1]
    # the argument above needs each centre in its own cell by that arithmetic
    own_i = np.floor(((xs[:-1] + xs[1:]) / 2 - x0) * sx) == np.arange(n)
    own_j = np.floor(((ys[:-1] + ys[1:]) / 2 - y0) * sy) == np.arange(n)
    marked |= ~(own_i[:, None] & own_j[None, :])
    return marked.ravel()


def _lists(
    marked: NDArray[np.bool_],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    parent: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int32]] | None,
    geoms: NDArray[np.object_],
    held: int,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]] | None:
    """Per unmarked cell, the features containing it: ``first``, ``count`` and new entries.

    A cell inside an unmarked parent cell shares the parent's entries; the others have
    their centre tested, and their lists are the new entries, which the grid holds
    after the ``held`` entries of the coarser levels. ``None``: the cells' lists hold
    more than :data:`_MAX_ENTRIES` (cell, feature) pairs.
    """
    n = len(xs) - 1
    ci = np.repeat(np.arange(n), n)  # cell i * n + j: its i and j
    cj = np.tile(np.arange(n), n)
    first = np.zeros(n * n, dtype=np.int64)
    count = np.zeros(n * n, dtype=np.int32)
    inherit = np.zeros(n * n, dtype=bool)
    if parent is not None:
        p_marked, p_first, p_count = parent
        pc = (ci // 2) * (n // 2) + cj // 2
        inherit = ~marked & ~p_marked[pc]
        first[inherit] = p_first[pc[inherit]]
        count[inherit] = p_count[pc[inherit]]
    test = np.flatnonzero(~marked & ~inherit)
    cx = (xs[ci[test]] + xs[ci[test] + 1]) / 2
    cy = (ys[cj[test]] + ys[cj[test] + 1]) / 2
    tp, tf = points_in_polygons(geoms, cx, cy, threads=1)  # sorted by cell, feature
    per_test = np.bincount(tp, minlength=len(test))
    count[test] = per_test
    first[test] = held + np.cumsum(per_test) - per_test
    if int(count.sum()) > _MAX_ENTRIES:  # many overlapping features: not worth the time
        return None
    return first, count, tf.astype(np.int32)
