"""Distances between sites and the features of one layer: within-distance pairs, nearest.

The metric half of :mod:`zoning.check.relations` (which owns the layer index, the site
block and the intersect/overlap relations). Every distance is searched in the site's own
metric CRS (Gauss-Krüger zone, UTM outside China's longitudes), where
:meth:`zoning.check.relations.LayerIndex.metric` keeps a copy of the layer as a
:class:`_Metric`: whole features, boundary pieces with their STRtree, and boundary
segments with their k-d tree.

Distances are returned on the ellipsoid: a search reaches the radius times the plane's
largest scale factor near the copy (:meth:`_Metric.plane_radius`), and each answer's
plane length is divided by the scale along its shortest line (:meth:`_Metric.ellipsoidal`,
:mod:`geo.scale`); the radius and every threshold then apply to that. The shortest
line's far end is the nearest point the k-d search already computes
(:meth:`_Segments.foot`), or GEOS's ``shortest_line`` for pairs measured by GEOS.
The nearest feature is the nearest on the ellipsoid: the features within
:meth:`_Tie.reach` of the plane's nearest (a few millimetres at 1 km, 0.7 m at 10 km,
at a zone's edge) are each measured on the ellipsoid, and the least wins
(:func:`_least_on_ellipsoid`), in every search below alike.

- within distance (:func:`_within_pairs`): an STRtree over the features' boundary
  *pieces* (:func:`_pieces`: runs of at most 16 segments; small features whole) queried
  with ``predicate="dwithin"``: outside a polygon the distance to it is the distance to
  its boundary, so the nearest piece of each (site, feature) pair gives the exact pair
  distance;
- nearest (:func:`_nearest`): for point sites a k-d tree (pykdtree) over boundary segments
  cut to 50 m (:class:`_Segments`) finds candidate segments whose exact point-segment
  distances (measured in C: :meth:`_Segments.choose`) give the nearest distance, with a
  certificate (no other segment can be closer); the few points without one use
  ``STRtree.query_nearest`` over the pieces (:func:`_points_nearest`). A line or
  polygon site takes the distance of its first vertex as an upper bound and measures
  exactly the pieces within it
  (:func:`_pieces_within`: box candidates measured once, ``dwithin`` at the radius).
  Without pykdtree the STRtree does it all. Distances beyond ``nearest_max_m`` are "none".
- many points: those in grid cells (1 km) farther than the search radius from every
  segment are answered "none" without a k-d query (:meth:`_Segments.surely_far`; the
  k-d search gives them the same answer). The others start at the k their cell
  learned from its first points (:class:`_FirstSteps`): far from a long boundary, k = 8
  cannot certify, and its query is wasted. Any k gives the same answer (the
  certificate is strict), so only the time depends on what was learned.
- few points (a single-site check): no k-d tree. Each point is measured to every
  segment of the copy, with the same arithmetic (:meth:`_Segments.choose`), so the answers
  are the tree's to the bit; the tree (and pykdtree) come when measuring would cost more
  (:meth:`_Segments.tree_due`). A copy built for a few sites holds only the features
  they can reach (:meth:`_Metric.build` with a box, see
  :meth:`zoning.check.relations.LayerIndex.metric`).

No Python loop over sites or features: one loop over the metric zones of a block.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

from geo.crs import transform_geoms
from geo.scale import PlaneScale, plane_scale, shortest_ends
from zoning.check.prepared import warm_tree
from zoning.check.runs import _first_of_runs, _pair_order

try:
    from zoning.check._segments import choose as _choose  # (C, built by setup.py)
except ImportError as exc:  # a source tree used without installing it
    msg = (
        "ecozone's C module zoning/check/_segments.c is not built: install ecozone "
        "(`make venv`, or `pip install -e .` in the source tree; it needs a C compiler)"
    )
    raise ImportError(msg) from exc

if TYPE_CHECKING:
    from zoning.check.relations import LayerIndex, SiteBlock

#: The k-d tree class (:class:`_OneThreadKD`) once pykdtree is imported (:func:`_kd_class`;
#: a one-site check does without); ``None`` when pykdtree is not installed.
_KDTree: Any = ...
_KD_LOCK = threading.Lock()

# Polygons with more vertices than this are also indexed as boundary pieces.
_PIECE_VERTICES = 16
# Longest boundary segment of the k-d nearest search (metres), and its k values.
_SEGMENT_M = 50.0
_K_STEPS = (8, 16, 32)
# Without a k-d tree yet, a query of at most _DIRECT_PAIRS (point, segment) pairs
# measures every segment (the same arithmetic: the same answers); once queries have
# measured _DIRECT_BUDGET pairs per segment (about the cost of building the tree),
# the tree is built.
_DIRECT_PAIRS = 1_000_000
_DIRECT_BUDGET = 16
# Point searches of at least this many points first drop those in grid cells farther
# than the search radius from every segment (_Segments.surely_far); cells of this side,
# wider when a layer's box would need more than _FAR_MAX_CELLS of them (bounded work).
_FAR_MIN_POINTS = 5_000
_FAR_CELL_M = 1_000.0
_FAR_MAX_CELLS = 250_000
# A far-grid cell's points start their k-d search at the step of _K_STEPS that costs
# least for the first _LEARN_POINTS points searched from it from the first step (their
# query costs, relative: _K_COST); until then they start at the first step.
_LEARN_POINTS = 16
_K_COST = (1.0, 1.6, 3.2)
# Point searches of at least this many points query the k-d trees in Z-order of cells
# of this side (z_order): nearby queries reuse the tree nodes just read.
_ORDER_MIN_POINTS = 1_000
_ORDER_CELL_M = 500.0


class _OneThreadKD:
    """pykdtree's ``KDTree``, each query on one OpenMP thread.

    pykdtree's queries run an OpenMP team on every core; the checks already run one
    block per core on their own threads, so a team per query would put two threads
    on each core. OpenMP's thread limit belongs to the calling thread (libgomp,
    libomp), so every thread sets it, through threadpoolctl, before its first query;
    only pykdtree's own OpenMP runtime is limited. (pykdtree answered the checks'
    k-nearest queries 30-45 % faster than scipy's ``cKDTree``, with the same
    distances; see benchmarks/RESULTS.md.)
    """

    _openmp: Any = None  # threadpoolctl controller of pykdtree's OpenMP runtime
    _limited = threading.local()

    def __init__(self, points: NDArray[np.float64]) -> None:
        from pykdtree.kdtree import KDTree

        _kd_class()  # unpickled in a new process (dask): find the OpenMP runtime first
        self._tree = KDTree(np.ascontiguousarray(points, dtype=np.float64))

    def __reduce__(self) -> tuple[Any, ...]:
        # pykdtree's tree does not pickle (dask ships used checkers): built again
        return (type(self), (self._tree.data.reshape(-1, self._tree.ndim),))

    @classmethod
    def find_openmp(cls) -> None:
        """Find pykdtree's OpenMP runtime (once, after importing pykdtree)."""
        from threadpoolctl import ThreadpoolController

        libs = ThreadpoolController().select(user_api="openmp")
        own = [c.filepath for c in libs.lib_controllers if "pykdtree" in c.filepath]
        cls._openmp = libs.select(filepath=own) if own else None

    def query(
        self, xy: NDArray[np.float64], k: int, distance_upper_bound: float
    ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
        """Distances and positions of the ``k`` nearest points (missing: inf and ``n``)."""
        if self._openmp is not None and not getattr(self._limited, "done", False):
            self._openmp.limit(limits=1)  # this thread's limit: set once per thread
            self._limited.done = True
        d, i = self._tree.query(
            np.ascontiguousarray(xy, dtype=np.float64), k=k,
            distance_upper_bound=float(distance_upper_bound),
        )  # fmt: skip
        return d, i.astype(np.intp)


def _kd_available() -> bool:
    """Whether the k-d search can run (pykdtree installed), without importing it."""
    if _KDTree is ...:
        return importlib.util.find_spec("pykdtree") is not None
    return _KDTree is not None


def _kd_class() -> Any:
    """The k-d tree class, :class:`_OneThreadKD` (on first use); ``None``: no pykdtree."""
    global _KDTree
    if _KDTree is ...:
        with _KD_LOCK:
            if _KDTree is ...:
                try:
                    import pykdtree.kdtree  # noqa: F401
                except ImportError:  # pragma: no cover - pykdtree not installed
                    _KDTree = None
                else:
                    _OneThreadKD.find_openmp()
                    _KDTree = _OneThreadKD
    return _KDTree


def boxes_miss(
    bounds: NDArray[np.float64], box: tuple[float, float, float, float]
) -> NDArray[np.bool_]:
    """Which boxes of ``bounds`` (shape (n, 4), ``xmin, ymin, xmax, ymax``) miss ``box``.

    NaN bounds (empty geometries) compare False: such a box never counts as missing.
    """
    x0, y0, x1, y1 = box
    return (bounds[:, 2] < x0) | (bounds[:, 0] > x1) | (bounds[:, 3] < y0) | (bounds[:, 1] > y1)


def z_order(xy: NDArray[np.float64], cell: float = _ORDER_CELL_M) -> NDArray[np.intp]:
    """The order of points ``xy`` (shape (n, 2), metres) along a Z-order curve.

    Points are binned into square cells of side ``cell`` (at most 65 536 a side from
    the lowest point; farther and non-finite ones share the edge cells) and sorted by
    the cells' Morton keys, stably. Queried in this order, the k-d searches of a
    block of points spend 20-30 % less time than in input order (nearby points reuse
    the tree nodes just read); every point's answer is its own, whatever the order.
    """
    if len(xy) == 0:
        return np.zeros(0, dtype=np.intp)
    with np.errstate(invalid="ignore"):
        ij = np.floor((xy - np.nanmin(xy, axis=0)) * (1.0 / cell))
    ij = np.clip(np.nan_to_num(ij, nan=0.0), 0, 0xFFFF).astype(np.uint32)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        ij = (ij | (ij << np.uint32(shift))) & np.uint32(mask)  # spread each axis's bits
    key = ij[:, 0] | (ij[:, 1] << np.uint32(1))
    return _pair_order(key >> np.uint32(16), key & np.uint32(0xFFFF), 0x10000)  # (radix sorts)


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


@dataclass(frozen=True)
class _Tie:
    """Which features may be the nearest on the ellipsoid, given the nearest in the plane.

    A distance on the ellipsoid is its plane length divided by the plane's scale along
    it (:meth:`geo.scale.PlaneScale.ellipsoidal`), and the scale grows away from the
    central meridian: a feature a little farther in the plane, on the meridian's far
    side, can be nearer on the ellipsoid (at 1.45° from the meridian, a feature
    9 000.00 m east is 0.19 m farther in the plane than one 9 000.06 m west).
    Only a feature within :meth:`reach` of the plane's best can be; each such feature
    is measured on the ellipsoid at its own nearest point in the plane, and the least
    wins (:func:`_least_on_ellipsoid`).

    Attributes
    ----------
    scale
        The plane's scale.
    offset_m
        Largest distance of the layer copy's pieces from the central meridian (m).
    """

    scale: PlaneScale
    offset_m: float

    def reach(self, best: NDArray[np.float64]) -> NDArray[np.float64]:
        """The plane distance within which a feature may beat one at plane distance ``best``.

        Two features within ``r`` of a site have scales ``k`` along their shortest lines
        differing by at most ``sinh(U)·Δu`` (the mean ``u`` of a line moves no more than
        its far end's ``u``), ``Δu ≤ 2r/(k0·R)``, ``U`` the largest ``u`` there (the
        pieces' farthest from the meridian plus ``r``); so a feature beats the best only
        within ``best·(1 + 2·best·sinh(U)/(k0·R))``, ``R`` the least radius (the
        equator's). 2.1 instead of 2 covers ``R``'s change with latitude along the
        lines; +1 µm the last bits of the plane distances. It depends on ``best`` alone
        (not on the search radius): so does every answer.
        """
        s = self.scale
        inv_r = 1.0 / (s.k0 * s.a * np.sqrt(1.0 - s.e2))
        u = (self.offset_m + 1.01 * best) * inv_r
        return best + (2.1 * inv_r) * best * best * np.sinh(u) + 1e-6

    def measure(
        self, plane_m: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Plane distances between points ``a`` and ``b`` (shape (n, 2)) on the ellipsoid."""
        return self.scale.ellipsoidal(plane_m, a[:, 0], a[:, 1], b[:, 0], b[:, 1])


def _least_on_ellipsoid(
    row: NDArray[np.intp],
    owner: NDArray[np.intp],
    item: NDArray[np.intp],
    plane: NDArray[np.float64],
    measure: Any,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Of candidate pairs, the one per row whose feature is nearest on the ellipsoid.

    Each feature (``owner``) of a row is taken at its nearest item in the plane (the
    lowest ``item`` of equally near ones: the plane search's rule), measured on the
    ellipsoid by ``measure(pairs)`` (the pairs' indices → their ellipsoidal distances);
    the least wins, the lowest feature of equally near ones.

    Returns
    -------
    tuple
        The index of the chosen pair of each distinct row (rows ascending) and its
        ellipsoidal distance.
    """
    o = np.lexsort((item, plane, owner, row))
    ro, oo = row[o], owner[o]
    first = np.ones(len(o), dtype=bool)
    first[1:] = (ro[1:] != ro[:-1]) | (oo[1:] != oo[:-1])
    o = o[first]  # each (row, feature) at its nearest item in the plane
    e = measure(o)
    p = np.lexsort((owner[o], e, row[o]))
    keep = p[_first_of_runs(row[o][p])]
    return o[keep], e[keep]


def _least_piece(
    m: _Metric,
    geoms: NDArray[Any],
    qi: NDArray[np.intp],
    qp: NDArray[np.intp],
    d: NDArray[np.float64],
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """:func:`_least_on_ellipsoid` of (geometry ``qi``, piece ``qp``, plane distance) pairs."""

    def measure(sel: NDArray[np.intp]) -> NDArray[np.float64]:
        return m.ellipsoidal_between(d[sel], geoms[qi[sel]], m.pieces[qp[sel]])

    return _least_on_ellipsoid(qi, m.piece_owner[qp], qp, d, measure)


class _Segments:
    """Boundary segments of a layer (metric CRS), cut to at most ``_SEGMENT_M``.

    A k-d tree over the segment midpoints finds, for point sites, a few candidate
    segments; their exact point-segment distances give the nearest distance, which
    is certainly the minimum when the k-th midpoint is farther than that distance
    plus the longest half-segment (no other segment can be closer). Points that fail
    this test are left to the GEOS search.
    """

    def __init__(self, geoms_m: NDArray[Any], positions: NDArray[np.intp] | None = None) -> None:
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
        if positions is not None:  # owners are positions in the whole layer
            self.owner = positions[self.owner]
        # per segment: start, direction and 1/length² (0 for points) for the distance,
        # as five contiguous columns (gathered and computed on a third faster than the
        # columns of one (segments, 5) table)
        dx, dy = sb[:, 0] - sa[:, 0], sb[:, 1] - sa[:, 1]
        l2 = dx**2 + dy**2
        inv_l2 = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
        self.columns = tuple(np.ascontiguousarray(c) for c in (sa[:, 0], sa[:, 1], dx, dy, inv_l2))
        self.size = len(rep)
        self.hmax = float(np.sqrt(l2.max()) / 2) if len(rep) else 0.0
        self.all_points = bool(len(rep)) and bool((l2 == 0).all())
        self._kd: Any = None  # built on first need (see tree_due)
        self._measured = 0  # (point, segment) pairs measured without the tree
        self._far: dict[float, Any] = {}  # search radius → (origin, cell side, far cells)
        self._first: dict[float, _FirstSteps] = {}  # search radius → learned first steps

    @property
    def kd(self) -> Any:
        """The k-d tree over the segment midpoints (built on first use; needs pykdtree)."""
        if self._kd is None:
            kd_class = _kd_class()
            with _KD_LOCK:  # threads checking blocks at once: built once
                if self._kd is None:
                    x0, y0, dx, dy, _ = self.columns
                    self._kd = kd_class(np.column_stack([x0 + dx / 2, y0 + dy / 2]))
        return self._kd

    def tree_due(self, n: int, *, count: bool = True) -> bool:
        """Whether a search of ``n`` points uses the k-d tree (else it measures every segment).

        The tree when it exists, or when measuring every segment would cost more than
        building it (see :data:`_DIRECT_PAIRS`); ``count`` adds this search to the
        pairs measured so far.
        """
        if self._kd is not None:
            return True
        pairs = n * self.size
        if pairs <= _DIRECT_PAIRS and self._measured + pairs <= _DIRECT_BUDGET * self.size:
            if count:
                self._measured += pairs
            return False
        return True

    def surely_far(self, xy: NDArray[np.float64], max_m: float) -> NDArray[np.bool_]:
        """Points that certainly have no segment within ``max_m`` (by a grid of cells).

        A cell is far when its centre's nearest segment midpoint is farther than
        ``max_m`` plus the cell's half-diagonal plus the longest half-segment: every
        segment is then farther than ``max_m`` from every point of the cell (a
        segment lies within its half-length of its midpoint). Points off the grid
        are far too (the grid covers the segments' box grown by that margin). The
        k-d search answers such points "none, certain" as well; the grid spares it.
        """
        return self._far_cells(xy, max_m)[0]

    def _far_cells(
        self, xy: NDArray[np.float64], max_m: float
    ) -> tuple[NDArray[np.bool_], NDArray[np.intp]]:
        """:meth:`surely_far`, and each point's cell of that grid (-1: off the grid)."""
        (x0, y0), cell, far = self._far_grid(max_m)
        nx, ny = far.shape
        i = np.floor((xy[:, 0] - x0) / cell)
        j = np.floor((xy[:, 1] - y0) / cell)
        on = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
        out = np.isfinite(xy).all(axis=1)  # (a point without coordinates: not known far)
        cells = np.full(len(xy), -1, dtype=np.intp)
        cells[on] = i[on].astype(np.intp) * ny + j[on].astype(np.intp)
        out[on] = far.ravel()[cells[on]]
        return out, cells

    def first_steps(self, max_m: float) -> _FirstSteps:
        """The learned first steps of the searches within ``max_m`` (see :class:`_FirstSteps`)."""
        got = self._first.get(max_m)
        if got is None:
            cells = self._far_grid(max_m)[2].size
            with _KD_LOCK:
                got = self._first.setdefault(max_m, _FirstSteps(cells))
        return got

    def _far_grid(self, max_m: float) -> tuple[tuple[float, float], float, NDArray[np.bool_]]:
        """The grid of :meth:`surely_far` for ``max_m``: origin, cell side, far cells."""
        got = self._far.get(max_m)
        if got is not None:
            return got
        x0, y0, dx, dy, _ = self.columns
        mx, my = x0 + dx / 2, y0 + dy / 2
        cell = _FAR_CELL_M
        while True:  # wider cells until the box needs at most _FAR_MAX_CELLS of them
            margin = max_m + self.hmax + cell * np.sqrt(0.5) + 1.0  # (+1 m: keeps more)
            ox, oy = mx.min() - margin, my.min() - margin
            nx = int(np.ceil((mx.max() + margin - ox) / cell)) + 1
            ny = int(np.ceil((my.max() + margin - oy) / cell)) + 1
            if nx * ny <= _FAR_MAX_CELLS:
                break
            cell *= 1.1 * np.sqrt(nx * ny / _FAR_MAX_CELLS)
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        centres = np.column_stack([ox + (gx.ravel() + 0.5) * cell, oy + (gy.ravel() + 0.5) * cell])
        d, _ = self.kd.query(centres, k=1, distance_upper_bound=margin)
        grid = ((float(ox), float(oy)), cell, (d > margin).reshape(nx, ny))
        with _KD_LOCK:
            self._far.setdefault(max_m, grid)
        return self._far[max_m]

    def foot(self, xy: NDArray[np.float64], seg: NDArray[np.intp]) -> NDArray[np.float64]:
        """The point of segment ``seg[i]`` nearest to ``xy[i]`` (the ``t`` of :meth:`choose`)."""
        x0, y0, dx, dy, inv_l2 = (c[seg] for c in self.columns)
        t = ((xy[:, 0] - x0) * dx + (xy[:, 1] - y0) * dy) * inv_l2
        np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
        return np.column_stack([x0 + t * dx, y0 + t * dy])

    def choose(
        self,
        xy: NDArray[np.float64],
        cand: NDArray[np.intp],
        max_m: float,
        tie: _Tie | None = None,
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
        """Measure each point's candidate segments and choose its nearest.

        The squared distance from a point ``(x, y)`` to a segment is, operation by
        operation, in IEEE double precision::

            ux, uy = x - x0, y - y0
            t = (ux * dx + uy * dy) * inv_l2, clipped to [0, 1]
            ux, uy = ux - t * dx, uy - t * dy
            d2 = ux * ux + uy * uy

        (:attr:`columns`; the C loop of ``zoning/check/_segments.c`` does it, without
        fused multiply-adds: a point gets the same bits from any set of candidates
        that holds its nearest segment). Of equally near segments, the lowest
        feature's lowest segment.

        Parameters
        ----------
        xy
            Point coordinates, shape (n, 2), in the layer's metric CRS.
        cand
            Candidate segments per point, shape (n, k), any strides; a value of
            :attr:`size` or more is no candidate (the k-d tree's "missing").
        max_m, tie
            As in :meth:`nearest`.

        Returns
        -------
        tuple
            Per point: the chosen column of ``cand``, its plane distance, whether it
            lies within ``max_m``, and the reach of that distance (:meth:`_Tie.reach`;
            the distance itself without ``tie``).
        """
        n, k = cand.shape
        xy = np.ascontiguousarray(xy, dtype=np.float64)
        d2 = np.empty((n, k))
        col = np.empty(n, dtype=np.intp)
        best2 = np.empty(n)
        nlow = np.empty(n, dtype=np.intp)
        mixed = np.empty(n, dtype=np.bool_)
        _choose(xy, cand, self.size, *self.columns, self.owner, d2, col, best2, nlow, mixed)
        best = np.sqrt(best2)
        hit = best <= max_m
        if tie is None:
            return col, best, hit, best
        reach = tie.reach(best)
        if k > 1:  # other segments within the reach of the best, or equally near ones
            lim2 = np.where(hit, np.minimum(reach, max_m) ** 2, -1.0)
            within = d2 <= lim2[:, None]
            ask = np.flatnonzero((np.count_nonzero(within, axis=1) > nlow) | mixed)
            if len(ask):
                ca = np.where(cand[ask] < self.size, cand[ask], 0)
                col[ask] = self._rivals(xy[ask], ca, d2[ask], col[ask], within[ask], tie)
                best[ask] = np.sqrt(d2[ask, col[ask]])
        return col, best, hit, reach

    def _nearest_measured(
        self, xy: NDArray[np.float64], max_m: float, tie: _Tie | None = None
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
        """Nearest feature within ``max_m`` of each point, measuring every segment.

        Also the nearest point of that feature (NaN when none): of its equally near
        segments, the first. With ``tie``, the feature nearest on the ellipsoid among
        those the plane cannot tell from the nearest (:class:`_Tie`).
        """
        feat = np.full(len(xy), -1, dtype=np.intp)
        dist = np.full(len(xy), np.nan)
        seg = np.zeros(len(xy), dtype=np.intp)
        step = max(1, _DIRECT_PAIRS // max(self.size, 1) // 4)
        every = np.arange(self.size)
        for i in range(0, len(xy), step):  # a few points at a time: bounded memory
            part = xy[i : i + step]
            cand = np.broadcast_to(every, (len(part), self.size))
            col, best, hit, _ = self.choose(part, cand, max_m, tie)
            seg[i : i + step] = col  # (the candidates are every segment, in order)
            feat[i : i + step] = np.where(hit, self.owner[col], -1)
            dist[i : i + step] = np.where(hit, best, np.nan)
        foot = self.foot(xy, seg)
        foot[feat < 0] = np.nan
        return feat, dist, foot

    def _rivals(
        self,
        xy: NDArray[np.float64],
        cand: NDArray[np.intp],
        d2: NDArray[np.float64],
        j: NDArray[np.intp],
        within: NDArray[np.bool_],
        tie: _Tie,
    ) -> NDArray[np.intp]:
        """``j`` again, for points with another feature within reach, on the ellipsoid.

        ``d2``: squared plane distances from the points to candidate segments ``cand``
        (shape (points, k)); ``j``: each point's chosen column; ``within``: the
        candidates within :meth:`_Tie.reach` of its best. A point with a segment of
        another feature among them takes the feature nearest on the ellipsoid
        (:func:`_least_on_ellipsoid`); the others keep ``j``.
        """
        own = self.owner[cand]
        rows = np.arange(len(j))
        rivals = np.flatnonzero((within & (own != own[rows, j][:, None])).any(axis=1))
        if len(rivals) == 0:
            return j
        r, c = np.nonzero(within[rivals])
        seg = cand[rivals[r], c]
        plane = np.sqrt(d2[rivals[r], c])
        at = xy[rivals[r]]

        def measure(sel: NDArray[np.intp]) -> NDArray[np.float64]:
            return tie.measure(plane[sel], at[sel], self.foot(at[sel], seg[sel]))

        chosen, _ = _least_on_ellipsoid(r, self.owner[seg], seg, plane, measure)
        j = j.copy()
        j[rivals[r[chosen]]] = c[chosen]
        return j

    def nearest(
        self, xy: NDArray[np.float64], k: int, max_m: float, tie: _Tie | None = None
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
        """Nearest feature within ``max_m`` (-1 / NaN when none) and whether it is certain.

        Parameters
        ----------
        xy
            Point coordinates, shape (n, 2), in the layer's metric CRS.
        k
            Candidate segments per point.
        max_m
            Search radius.
        tie
            The plane's :class:`_Tie`: of the features the plane cannot tell from the
            nearest, the nearest on the ellipsoid (``None``: the nearest in the plane).

        Returns
        -------
        tuple
            Feature position, plane distance, certainty and the feature's nearest point
            (shape (n, 2), NaN when none; of equally near segments of that feature,
            the first), per point.
        """
        if not self.tree_due(len(xy)):  # few points: every segment, certain
            feat, dist, foot = self._nearest_measured(xy, max_m, tie)
            return feat, dist, np.ones(len(xy), dtype=bool), foot
        n = len(self.owner)
        k = min(k, n)
        dk, ik = self.kd.query(xy, k=k, distance_upper_bound=max_m + self.hmax)
        if k == 1:
            dk, ik = dk[:, None], ik[:, None]
        j, best, hit, reach = self.choose(xy, ik, max_m, tie)
        # certain when every segment within the search radius was a candidate, or when
        # every other segment is farther than the best (or than the radius): strictly,
        # so that all equally near segments were candidates, and the answer, lowest
        # feature included, is the same whatever k certified it. With a tie, every
        # segment within its reach of the best in the plane (:class:`_Tie`) must have
        # been one. (The k-d tree marks a missing neighbour with index n.)
        sure = (ik[:, -1] >= n) | (dk[:, -1] - self.hmax > np.minimum(reach, max_m))
        if k == n:  # every segment was a candidate
            sure[:] = True
        seg = ik[np.arange(len(xy)), j]
        seg[seg >= n] = 0  # (no candidate at all: not a hit)
        feat = np.where(hit, self.owner[seg], -1)
        foot = self.foot(xy, seg)
        foot[~hit] = np.nan
        return feat, np.where(hit, best, np.nan), sure, foot


@dataclass
class _Metric:
    """A layer in one metric CRS: whole features, pieces and segments for distances.

    A copy may hold only the features near some sites (:meth:`build` with a ``box``):
    its pieces and segments name features by their positions in the whole layer, so
    answers do not depend on which features a copy holds, as long as it holds every
    feature a question can reach (:meth:`holds`).
    """

    geoms: NDArray[Any]  # the features copied (all of the layer when ``box`` is None)
    pieces: NDArray[Any]
    piece_owner: NDArray[np.intp]
    piece_tree: STRtree
    segments: _Segments
    box: tuple[float, float, float, float] | None = None  # lon/lat box of the copy
    #: The plane's scale (``None``: distances stay plane distances; tests of the search)
    scale: PlaneScale | None = None
    #: Largest distance of a piece from the plane's central meridian (m)
    offset_m: float = 0.0

    @property
    def tie(self) -> _Tie | None:
        """How the nearest feature is told on the ellipsoid (``None``: plane distances)."""
        return None if self.scale is None else _Tie(self.scale, self.offset_m)

    def plane_radius(self, radius_m: float) -> float:
        """A plane search radius that finds every feature within ``radius_m`` on the ellipsoid.

        A pair within ``radius_m`` lies within ``radius_m`` (times ``k``, below 1.01)
        of a piece, so ``k`` along it is at most ``k`` at :attr:`offset_m` plus that;
        the distances found are made ellipsoidal (:meth:`ellipsoidal`) before any
        threshold is applied.
        """
        if self.scale is None:
            return radius_m
        return radius_m * self.scale.k_max(self.offset_m + 1.01 * radius_m)

    def ellipsoidal(
        self, plane_m: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Plane distances between points ``a`` and ``b`` (shape (n, 2)) on the ellipsoid."""
        if self.scale is None:
            return plane_m
        return self.scale.ellipsoidal(plane_m, a[:, 0], a[:, 1], b[:, 0], b[:, 1])

    def ellipsoidal_between(
        self, plane_m: NDArray[np.float64], geoms: NDArray[Any], pieces: NDArray[Any]
    ) -> NDArray[np.float64]:
        """:meth:`ellipsoidal` for the distances of geometry pairs (their shortest lines)."""
        if self.scale is None or len(plane_m) == 0:
            return plane_m
        return self.scale.distance(geoms, pieces, plane_m)

    @classmethod
    def build(
        cls,
        geoms_ll: NDArray[Any],
        epsg: int,
        box: tuple[float, float, float, float] | None = None,
    ) -> _Metric:
        """Copy a layer (lon/lat features) into metric CRS ``epsg``.

        Parameters
        ----------
        geoms_ll
            The layer's features, EPSG:4326.
        epsg
            The metric CRS.
        box
            Copy only the features whose lon/lat box meets this one (``None``: all;
            also when it would leave out less than a fifth of the layer).
        """
        pos = None
        if box is not None:
            off = boxes_miss(shapely.bounds(geoms_ll), box)
            if off.sum() * 5 < len(geoms_ll):
                box = None
            else:
                pos = np.flatnonzero(~off)
                geoms_ll = geoms_ll[pos]
        geoms = transform_geoms(geoms_ll, "EPSG:4326", epsg)
        pieces, owner = _pieces(geoms)
        if pos is not None:
            owner = pos[owner]
        scale = plane_scale(int(epsg))
        b = shapely.bounds(pieces)
        offset = float(np.nanmax(np.abs(b[:, [0, 2]] - scale.false_easting), initial=0.0))
        m = cls(geoms, pieces, owner, STRtree(pieces), _Segments(geoms, pos), box, scale, offset)
        warm_tree(m.piece_tree)  # shared by threads: built before
        return m

    def holds(self, reach: tuple[float, float, float, float] | None) -> bool:
        """Whether every feature meeting the lon/lat box ``reach`` is in this copy.

        ``reach=None`` asks for the whole layer.
        """
        if self.box is None:
            return True
        if reach is None:
            return False
        b = self.box
        return b[0] <= reach[0] and b[1] <= reach[1] and b[2] >= reach[2] and b[3] >= reach[3]


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
    if not point.any() or not seg.size or not _kd_available():
        return pos
    if not seg.tree_due(int(point.sum()), count=False):
        return pos  # few points: the query below measures them all anyway
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
        m = index.metric_near(epsg, block, pos, d_query)
        d_plane = m.plane_radius(d_query)
        pos = _maybe_within(m, block, block.in_search_order(pos), d_plane)
        if len(pos) == 0:
            continue
        geoms = block.metric_geoms(pos)
        qi, qp = m.piece_tree.query(geoms, predicate="dwithin", distance=d_plane)
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
        out_d.append(m.ellipsoidal_between(d[sel], geoms[qi[sel]], m.pieces[qp[sel]]))
    if not out_s:
        return empty, empty, np.zeros(0)
    s = np.concatenate(out_s).astype(np.intp)
    f = np.concatenate(out_f).astype(np.intp)
    d = np.concatenate(out_d)
    keep = d <= within_m[f]  # NaN (feature excluded) compares False
    return s[keep], f[keep], d[keep]


def _points_nearest(
    m: _Metric, xy: NDArray[np.float64], max_m: float
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Nearest feature, plane distance and nearest point of points outside every feature.

    The k-d search over boundary segments with growing k; the points it cannot
    certify go to the GEOS best-first search over the boundary pieces. ``xy`` and
    ``max_m`` are in the plane of ``m``; the nearest points (shape (n, 2)) are NaN
    where there is no feature within ``max_m``.
    """
    seg = m.segments
    kd = len(xy) > 0 and seg.size > 0 and _kd_available()  # else GEOS does it all
    if kd and len(xy) >= _FAR_MIN_POINTS and seg.tree_due(len(xy), count=False):
        far, cells = seg._far_cells(xy, max_m)
        near = np.flatnonzero(~far)  # the others: no segment within max_m, none
        nf = np.full(len(xy), -1, dtype=np.intp)
        nd = np.full(len(xy), np.nan)
        foot = np.full((len(xy), 2), np.nan)
        if len(near) == 0 or seg.all_points:
            if len(near):
                nf[near], nd[near], _, foot[near] = _points_nearest_kd(m, xy[near], max_m)
            return nf, nd, foot
        learned = seg.first_steps(max_m)
        first = learned.steps(cells[near])
        nf[near], nd[near], took, foot[near] = _points_nearest_kd(m, xy[near], max_m, first)
        learned.learn(cells[near], first, took)
        return nf, nd, foot
    f, d, _, foot = _points_nearest_kd(m, xy, max_m)
    return f, d, foot


def _points_nearest_kd(
    m: _Metric,
    xy: NDArray[np.float64],
    max_m: float,
    first: NDArray[np.int8] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.int8], NDArray[np.float64]]:
    """:func:`_points_nearest` for every point given (no grid), and the step that answered.

    Returns the nearest feature, its plane distance, the step and the nearest point.

    ``first``: the step of :data:`_K_STEPS` each point's search starts at (``None``:
    the first). The answers do not depend on it (see :meth:`_Segments.nearest`). The
    step that answered each point is ``len(_K_STEPS)`` for the GEOS search.
    """
    seg = m.segments
    # points (no length): the nearest two, certain when the second is farther
    steps = (2,) if seg.all_points else _K_STEPS
    kd = len(xy) > 0 and seg.size > 0 and _kd_available()  # else GEOS does it all
    took = np.full(len(xy), len(_K_STEPS), dtype=np.int8)
    if first is not None and (len(steps) == 1 or not first.any()):
        first = None  # every point from the first step
    if kd and first is None:
        f, d, sure, ft = seg.nearest(xy, steps[0], max_m, m.tie)
        if sure.all():  # the common case: every point certain at the first k
            took[:] = 0
            return f, d, took, ft
    nf = np.full(len(xy), -1, dtype=np.intp)
    nd = np.full(len(xy), np.nan)
    foot = np.full((len(xy), 2), np.nan)
    todo = np.arange(len(xy))
    if kd:
        if first is None:
            nf[sure], nd[sure], took[sure], foot[sure] = f[sure], d[sure], 0, ft[sure]
            todo = todo[~sure]
        else:
            todo = np.flatnonzero(first == 0)
        for s in range(1 if first is None else 0, len(steps)):
            if first is not None and s > 0:  # the points that start here join, in order
                todo = np.sort(np.concatenate([todo, np.flatnonzero(first == s)]))
            if len(todo) == 0:
                continue
            f, d, sure, ft = seg.nearest(xy[todo], steps[s], max_m, m.tie)
            done = todo[sure]
            nf[done], nd[done], took[done], foot[done] = f[sure], d[sure], s, ft[sure]
            todo = todo[~sure]
    if len(todo):
        # no max_distance: shapely would first collect every piece within it for each
        # point (slow for dense layers); the plain best-first search is cut by the caller
        pts = shapely.points(xy[todo])
        (qi, qp), d = m.piece_tree.query_nearest(pts, return_distance=True, all_matches=True)
        tie = m.tie
        if tie is None:
            # equally near pieces of several features: the lowest feature, as the k-d
            # search and the measured search answer (GEOS returns them in its tree's order)
            o = np.lexsort((qp, m.piece_owner[qp], qi))
            keep = o[_first_of_runs(qi[o])]
        else:  # the pieces within reach of each nearest (:class:`_Tie`)
            best = np.full(len(todo), np.inf)
            np.minimum.at(best, qi, d)
            hit = np.flatnonzero(best <= max_m)
            lim = np.minimum(tie.reach(best[hit]), max_m)
            wi, wp = m.piece_tree.query(pts[hit], predicate="dwithin", distance=lim)
            wd = shapely.distance(pts[hit[wi]], m.pieces[wp])
            near = wd <= lim[wi]
            beyond = best[qi] > max_m  # (answered "none" by the caller)
            qi = np.concatenate([qi[beyond], hit[wi[near]]])
            qp = np.concatenate([qp[beyond], wp[near]])
            d = np.concatenate([d[beyond], wd[near]])
            keep, _ = _least_piece(m, pts, qi, qp, d)
        at = todo[qi[keep]]
        nf[at], nd[at] = m.piece_owner[qp[keep]], d[keep]
        _, _, bx, by = shortest_ends(pts[qi[keep]], m.pieces[qp[keep]])
        foot[at] = np.column_stack([bx, by])
    return nf, nd, took, foot


class _FirstSteps:
    """The step of :data:`_K_STEPS` the points of each far-grid cell start their search at.

    A point far from every segment needs a large k for a certain answer, and its search
    at the smaller ones is wasted. Each cell counts, for the points searched from the
    first step, the step that answered them; once it has counted :data:`_LEARN_POINTS`,
    its points start at the step that would have cost those points least
    (:data:`_K_COST`), and it counts no more. Answers do not depend on the step
    (:meth:`_Segments.nearest`); only the time does. Threads may lose counts: only
    the time again.
    """

    def __init__(self, cells: int) -> None:
        self.start = np.zeros(cells, dtype=np.int8)
        self.decided = np.zeros(cells, dtype=bool)
        self.seen = np.zeros((cells, len(_K_STEPS) + 1), dtype=np.int32)

    def steps(self, cells: NDArray[np.intp]) -> NDArray[np.int8]:
        """The first step of points in ``cells`` (-1: off the grid, the first step)."""
        return np.where(cells >= 0, self.start[cells], 0).astype(np.int8)

    def learn(
        self, cells: NDArray[np.intp], first: NDArray[np.int8], took: NDArray[np.int8]
    ) -> None:
        """Count the points searched from the first step; decide the cells that have enough."""
        fresh = np.flatnonzero(first == 0)
        c = cells[fresh]
        counting = (c >= 0) & ~self.decided[c]
        c = c[counting]
        if len(c) == 0:
            return
        width = self.seen.shape[1]
        np.add.at(self.seen.reshape(-1), c * width + took[fresh[counting]], 1)
        mark = np.zeros(len(self.decided), dtype=bool)
        mark[c] = True
        ready = np.flatnonzero(mark)
        ready = ready[self.seen[ready].sum(axis=1) >= _LEARN_POINTS]
        if len(ready) == 0:
            return
        # cost of starting at step s for a point that step t answered: the queries from
        # s up to t (the last step, for GEOS's points)
        cost = np.array(_K_COST)
        n = len(_K_STEPS)
        table = np.array(
            [[cost[s : max(s, min(t, n - 1)) + 1].sum() for t in range(n + 1)] for s in range(n)]
        )
        total = self.seen[ready] @ table.T  # (cells, start steps)
        self.start[ready] = np.argmin(total, axis=1).astype(np.int8)
        self.decided[ready] = True


def _pieces_within(
    m: _Metric, geoms: NDArray[Any], bound: NDArray[np.float64], max_m: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """(site, piece, distance) of the boundary pieces within ``bound[i]`` of ``geoms[i]``.

    A site whose bound is below ``max_m`` (its first vertex found a segment) takes the
    pieces whose boxes meet its box grown by the bound, and measures each of them once
    (the ``dwithin`` predicate measured a distance that was then measured again: on
    20 000 polygon sites this is a quarter faster). A site searching the whole radius
    keeps ``dwithin``: its box grown by the radius meets many pieces, most beyond it.
    """
    parts = []
    boxed = bound < max_m
    sel = np.flatnonzero(boxed)
    if len(sel):
        b, r = shapely.bounds(geoms[sel]), bound[sel]
        grown = shapely.box(b[:, 0] - r, b[:, 1] - r, b[:, 2] + r, b[:, 3] + r)
        qi, qp = m.piece_tree.query(grown)
        qi = sel[qi]
        d = shapely.distance(geoms[qi], m.pieces[qp])
        within = d <= bound[qi]
        parts.append((qi[within], qp[within], d[within]))
    sel = np.flatnonzero(~boxed)
    if len(sel):
        qi, qp = m.piece_tree.query(geoms[sel], predicate="dwithin", distance=bound[sel])
        qi = sel[qi]
        parts.append((qi, qp, shapely.distance(geoms[qi], m.pieces[qp])))
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    qi, qp, d = (np.concatenate(c) for c in zip(*parts, strict=True))
    return qi.astype(np.intp), qp.astype(np.intp), d


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

    The searches run in the plane, out to :meth:`_Metric.plane_radius`; the distances
    returned are ellipsoidal (:meth:`_Metric.ellipsoidal`), and ``max_m`` applies to them.
    """
    if len(block.zones) == 1 and block.all_simple_points and need.all():
        # points of one zone, none touching the layer (a single point site, most often)
        (epsg,) = block.zones
        m = index.metric_near(epsg, block, None, max_m)
        o = block.in_search_order(None)
        xy = block.first_xy_m[o]
        f, d, foot = _points_nearest(m, xy, m.plane_radius(max_m))
        nf, nd = np.empty(block.n, dtype=np.intp), np.empty(block.n)
        nf[o], nd[o] = f, m.ellipsoidal(d, xy, foot)
        far = nd > max_m
        if far.any():
            nf[far], nd[far] = -1, np.nan
        return nf, nd
    nf = np.full(block.n, -1, dtype=np.intp)
    nd = np.full(block.n, np.nan)
    for epsg, pos in block.zones.items():
        pos = block.in_search_order(pos[need[pos]])  # (each site's answer is its own)
        if len(pos) == 0:
            continue
        m = index.metric_near(epsg, block, pos, max_m)
        max_p = m.plane_radius(max_m)
        xy = block.first_xy_m[pos]
        vf, vd, foot = _points_nearest(m, xy, max_p)
        single = block.simple_point[pos]
        nf[pos[single]] = vf[single]
        nd[pos[single]] = m.ellipsoidal(vd[single], xy[single], foot[single])
        other = np.flatnonzero(~single)
        if len(other) == 0:
            continue
        # (+1 µm: the k-d and GEOS distances may differ in the last bits)
        bound = np.where(np.isnan(vd[other]), max_p, np.minimum(vd[other], max_p)) + 1e-6
        tie = m.tie
        if tie is not None:  # and the features the plane cannot tell from the nearest
            bound = np.minimum(tie.reach(bound), max_p + 1e-6)
        geoms = block.metric_geoms(pos[other])
        qi, qp, d = _pieces_within(m, geoms, bound, max_p)
        if len(qi) == 0:
            continue
        if tie is not None:  # each site's pieces within the reach of its best
            best = np.full(len(geoms), np.inf)
            np.minimum.at(best, qi, d)
            near = d <= tie.reach(best[qi])
            qi, qp, d = qi[near], qp[near], d[near]

        # per site: the least on the ellipsoid, lowest feature, nearest piece
        keep, e = _least_piece(m, geoms, qi, qp, d)
        nf[pos[other[qi[keep]]]] = m.piece_owner[qp[keep]]
        nd[pos[other[qi[keep]]]] = e
    far = nd > max_m
    nf[far], nd[far] = -1, np.nan
    return nf, nd
