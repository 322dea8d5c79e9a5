"""Which features of a layer contain each of many single points, mostly without GEOS.

A private helper of :mod:`zoning.check.relations` for batches of point sites. A
:class:`PointGrid` cuts a box (the layer's box within the check's jurisdiction) into
512 x 512 cells and marks every cell that an edge of a feature (a polygon's rings, a
line, a point) may touch. Inside an unmarked cell no edge separates two points, so every
point of the cell lies in exactly the features its centre lies in: the grid keeps that
list per cell, and a point found in an unmarked cell takes it without a test. Points in
marked cells, or outside the box, are left to the exact test
(:func:`zoning.check.relations._intersecting`).

- marking is conservative: every edge is cut to pieces half a cell long, and each
  piece marks the cells its box (grown by 1e-9 degrees, for the vertices segmentize
  rounds off the edge) meets. Points find their cell with the same arithmetic as the
  pieces, ``floor((x - x0) * n / (x1 - x0))``, which rounding keeps monotonic: an edge
  point between a cell's centre and a point given that cell gets that cell too, so
  the cell is marked. No point is answered across an edge, whatever the rounding;
- the lists are built coarse to fine (64, 128, 256, 512 cells a side): an unmarked
  cell inside an unmarked cell of the level above takes its list; only the others
  have their centre tested (with the exact test);
- on the Beijing demo layers a 40 000-point chunk's intersections cost 88 ms by the
  exact test and about 35 ms with the grids (see benchmarks/RESULTS.md); a grid costs
  about 20-60 ms to build, so a layer builds it only after it has answered
  :data:`GRID_AFTER_POINTS` points (:meth:`zoning.check.relations.LayerIndex.point_grid`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

__all__ = ["GRID_AFTER_POINTS", "PointGrid"]

#: Cells a side at each level of the build; the last is the grid's.
_LEVELS = (64, 128, 256, 512)
#: Growth (degrees) of each edge piece's box before marking: far above the rounding of
#: the cell arithmetic, far below a cell.
_EPS_DEG = 1e-9
#: Most (cell, feature) pairs a grid holds (4 bytes each): 8 features a cell on average.
_MAX_ENTRIES = 8 * _LEVELS[-1] ** 2
#: Points a layer answers by the exact test before it builds its grid (a grid's build
#: costs what about 150 000 points' tests save).
GRID_AFTER_POINTS = 150_000

# the exact test: point coordinates → (point, feature) pairs that intersect
ExactTest = Callable[[NDArray[np.float64]], tuple[NDArray[np.intp], NDArray[np.intp]]]


@dataclass
class PointGrid:
    """Cells over a lon/lat box, each unmarked cell with the features containing it.

    Attributes
    ----------
    xs, ys
        Cell edges (``n + 1`` each).
    marked
        Per cell (``i * n + j``, ``i`` along x): an edge may touch it.
    start, feature
        The features containing unmarked cell ``c`` are
        ``feature[start[c]:start[c + 1]]``, in increasing order (empty for marked cells).
    """

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    marked: NDArray[np.bool_]
    start: NDArray[np.int64]
    feature: NDArray[np.int32]

    @property
    def n(self) -> int:
        """Cells a side."""
        return len(self.xs) - 1

    @classmethod
    def build(
        cls,
        geoms: NDArray[np.object_],
        box: tuple[float, float, float, float],
        exact: ExactTest,
    ) -> PointGrid | None:
        """The grid of features ``geoms`` (lon/lat) over ``box``.

        Parameters
        ----------
        geoms
            The layer's features.
        box
            ``xmin, ymin, xmax, ymax`` of the grid (with some width and height).
        exact
            The exact test: coordinates → sorted-free (point, feature) pairs that
            intersect; the centres of unmarked cells are put to it.

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
        ax, ay, bx, by = pieces
        parent: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int32]] | None = None
        grid = None
        for n in _LEVELS:
            xs = np.linspace(x0, x1, n + 1)
            ys = np.linspace(y0, y1, n + 1)
            marked = _marked(ax, ay, bx, by, (x0, y0, x1, y1), n)
            lists = _lists(marked, xs, ys, parent, exact)
            if lists is None:
                return None
            start, feature = lists
            parent = (marked, start, feature)
            grid = cls(xs, ys, marked, start, feature)
        return grid

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
        first = self.start[cell[pts]]
        count = self.start[cell[pts] + 1] - first
        site = np.repeat(pts, count)
        ends = np.cumsum(count)
        at = np.repeat(first - (ends - count), count) + np.arange(len(site))
        return site, self.feature[at].astype(np.intp), np.flatnonzero(~ok)


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
    box: tuple[float, float, float, float],
    n: int,
) -> NDArray[np.bool_]:
    """Cells (of ``n`` a side over ``box``) that the grown box of a piece meets.

    A piece is at most a cell long, so its box meets at most two cells a side: the
    cells of its low and high corners, and the two mixed ones.
    """
    x0, y0, x1, y1 = box
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
    # a piece whose box spans more cells (not after segmentize, kept for safety): all
    wide = (ihi - ilo > 1) | (jhi - jlo > 1)
    for k in np.flatnonzero(wide):
        marked[ilo[k] : ihi[k] + 1, jlo[k] : jhi[k] + 1] = True
    marked = marked[1:-1, 1:-1]
    # the argument above needs each centre in its own cell by that arithmetic
    xs, ys = np.linspace(x0, x1, n + 1), np.linspace(y0, y1, n + 1)
    own_i = np.floor(((xs[:-1] + xs[1:]) / 2 - x0) * sx) == np.arange(n)
    own_j = np.floor(((ys[:-1] + ys[1:]) / 2 - y0) * sy) == np.arange(n)
    marked |= ~(own_i[:, None] & own_j[None, :])
    return marked.ravel()


def _lists(
    marked: NDArray[np.bool_],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    parent: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int32]] | None,
    exact: ExactTest,
) -> tuple[NDArray[np.int64], NDArray[np.int32]] | None:
    """Per unmarked cell, the features containing it (CSR ``start``, ``feature``).

    A cell inside an unmarked parent cell takes the parent's list; the others have
    their centre tested. ``None``: more than :data:`_MAX_ENTRIES` (cell, feature) pairs.
    """
    n = len(xs) - 1
    cells = np.arange(n * n)
    ci, cj = cells // n, cells % n
    count = np.zeros(n * n, dtype=np.int64)
    inherit = np.zeros(n * n, dtype=bool)
    if parent is not None:
        p_marked, p_start, p_feature = parent
        pc = (ci // 2) * (n // 2) + cj // 2
        inherit = ~marked & ~p_marked[pc]
        count[inherit] = p_start[pc[inherit] + 1] - p_start[pc[inherit]]
    test = np.flatnonzero(~marked & ~inherit)
    centre = np.column_stack(
        [(xs[ci[test]] + xs[ci[test] + 1]) / 2, (ys[cj[test]] + ys[cj[test] + 1]) / 2]
    )
    tp, tf = exact(centre)
    o = np.lexsort((tf, tp))  # by cell, then feature
    tp, tf = tp[o], tf[o]
    count[test] = np.bincount(tp, minlength=len(test))
    start = np.zeros(n * n + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    if start[-1] > _MAX_ENTRIES:  # many overlapping features: not worth the memory
        return None
    feature = np.empty(int(start[-1]), dtype=np.int32)
    # the tested cells' lists, in cell order (tp is sorted)
    dest = start[test[tp]] + (np.arange(len(tp)) - np.searchsorted(tp, tp))
    feature[dest] = tf
    if parent is not None and inherit.any():
        kids = np.flatnonzero(inherit)
        k_count = count[kids]
        k_ends = np.cumsum(k_count)
        off = np.arange(int(k_ends[-1]) if len(k_ends) else 0) - np.repeat(
            k_ends - k_count, k_count
        )
        src = np.repeat(p_start[pc[kids]], k_count) + off
        feature[np.repeat(start[kids], k_count) + off] = p_feature[src]
    return start, feature
