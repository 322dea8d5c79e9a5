"""Point-in-polygon kernel: which of many points lie in which of many polygons.

:func:`points_in_polygons` answers the raw point-in-polygon join (every
``(point, polygon)`` pair where the point intersects the polygon) with shapely 2
only: bounding-box candidates, then the exact test :func:`shapely.intersects_xy`
on prepared polygons, both split over threads (numpy and shapely's predicates
release the GIL; creating point geometries, which the default path avoids, holds
it). The exact tests are grouped by polygon: each thread tests its own polygons
(a GEOS prepared geometry must not be tested from two threads at once; tests of
one polygon together also use the cache best). By default the candidates come
from a uniform grid over the polygons' boxes (numpy only: no point geometries are
created, the costliest step of the STRtree path); with a given ``tree`` they come
from :meth:`shapely.STRtree.query`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

from geo.cores import available_cores

__all__ = ["points_in_polygons"]

#: Below this many points one thread is used (thread start-up costs more than it saves).
_MIN_POINTS_PER_THREAD = 50_000
#: Points per candidate task (bounds the candidate arrays a task builds at once).
_BLOCK = 262_144


def _grid_index(polys: np.ndarray) -> dict[str, np.ndarray | float | int]:
    """A uniform grid over the polygons' bounding boxes: cell → polygons (CSR).

    The cell size starts at half the mean spacing of the polygons and grows until
    the polygons' boxes cover at most ~8 cells each on average.
    """
    bounds = shapely.bounds(polys)
    ids = np.flatnonzero(np.isfinite(bounds).all(axis=1))  # None / empty never match
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
    return {"x0": x0, "y0": y0, "w": w, "nx": nx, "ny": ny, "start": start,
            "poly": ids[own][o], "bounds": bounds}  # fmt: skip


def _grid_cells(grid: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grid cell of each point (-1 outside the grid or NaN); the same rounding as the boxes."""
    ix = np.floor((x - grid["x0"]) / grid["w"])
    iy = np.floor((y - grid["y0"]) / grid["w"])
    ok = (ix >= 0) & (ix < grid["nx"]) & (iy >= 0) & (iy < grid["ny"])  # NaN: False
    cell = np.full(len(x), -1, dtype=np.int64)
    cell[ok] = ix[ok].astype(np.int64) * grid["ny"] + iy[ok].astype(np.int64)
    return cell


def _grid_candidates(
    grid: dict, x: np.ndarray, y: np.ndarray, r: slice
) -> tuple[np.ndarray, np.ndarray]:
    """(point, polygon) pairs of the points in range ``r`` whose polygon box holds the point."""
    xs, ys = x[r], y[r]
    cell = _grid_cells(grid, xs, ys)
    idx = np.flatnonzero(cell >= 0)
    c = cell[idx]
    s = grid["start"][c]
    cnt = grid["start"][c + 1] - s
    pi = np.repeat(idx, cnt)
    k = np.arange(len(pi)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    gi = grid["poly"][np.repeat(s, cnt) + k]
    bb = grid["bounds"][gi]
    xx, yy = xs[pi], ys[pi]
    m = (bb[:, 0] <= xx) & (xx <= bb[:, 2]) & (bb[:, 1] <= yy) & (yy <= bb[:, 3])
    return pi[m] + r.start, gi[m]


def _exact(
    polys: np.ndarray, x: np.ndarray, y: np.ndarray, pi: np.ndarray, gi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs (sorted by polygon) where the point intersects the polygon."""
    hit = shapely.intersects_xy(polys[gi], x[pi], y[pi])
    return pi[hit], gi[hit]


def _map(work: Callable[[Any], Any], items: list, threads: int) -> list:
    """``work`` over ``items`` in order, on ``threads`` threads."""
    if threads == 1 or len(items) == 1:
        return [work(b) for b in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(work, items))


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
        if not np.isfinite(shapely.bounds(polys)).all(axis=1).any():
            return np.empty(0, np.int64), np.empty(0, np.int64)  # only empty polygons
        grid = _grid_index(polys)

        def candidates(r: slice) -> tuple[np.ndarray, np.ndarray]:
            return _grid_candidates(grid, x, y, r)
    else:
        tree.query(shapely.points(0.0, 0.0))  # GEOS builds the tree on first query: now

        def candidates(r: slice) -> tuple[np.ndarray, np.ndarray]:
            p, g = tree.query(shapely.points(x[r], y[r]))
            return p + r.start, g.astype(np.int64)

    # candidates: contiguous ranges of the points, one per task
    size = -(-n // max(threads, -(-n // _BLOCK)))
    cand = _map(candidates, [slice(a, min(a + size, n)) for a in range(0, n, size)], threads)
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
    parts = _map(lambda sl: _exact(polys, x, y, pi[sl], gi[sl]), spans, threads)
    pi = np.concatenate([p for p, _ in parts])
    gi = np.concatenate([g for _, g in parts])
    srt = np.lexsort((gi, pi))
    return pi[srt], gi[srt]
