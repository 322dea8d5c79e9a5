"""Point-in-polygon kernel: which of many points lie in which of many polygons.

:func:`points_in_polygons` answers the raw point-in-polygon join (every
``(point, polygon)`` pair where the point intersects the polygon) with shapely 2
only: bounding-box candidates, then the exact
test :func:`shapely.intersects_xy` on prepared polygons, on spatially sorted
points (better cache use) split over threads (shapely's predicates release the
GIL; creating point geometries, which the default path avoids, holds it).
By default the candidates come from a uniform grid over the polygons' boxes
(numpy only: no point geometries are created, the costliest step of the
STRtree path); with a given ``tree`` they come from :meth:`shapely.STRtree.query`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

__all__ = ["points_in_polygons"]

#: Below this many points one thread is used (thread start-up costs more than it saves).
_MIN_POINTS_PER_THREAD = 50_000
#: Points per task handed to a thread (bounds the candidate arrays held at once).
_BLOCK = 262_144


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _grid_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Stable order of the points by a 1024 × 1024 grid cell (row-major Z of cells)."""
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return np.arange(len(x))
    x0, x1 = float(np.min(x[finite])), float(np.max(x[finite]))
    y0, y1 = float(np.min(y[finite])), float(np.max(y[finite]))
    sx = 1023.0 / (x1 - x0) if x1 > x0 else 0.0
    sy = 1023.0 / (y1 - y0) if y1 > y0 else 0.0
    cx = np.nan_to_num((x - x0) * sx).clip(0, 1023).astype(np.int64)
    cy = np.nan_to_num((y - y0) * sy).clip(0, 1023).astype(np.int64)
    # interleave the bits of the cell coordinates (Morton / Z order)
    key = np.zeros(len(x), dtype=np.int64)
    for b in range(10):
        key |= ((cx >> b) & 1) << (2 * b)
        key |= ((cy >> b) & 1) << (2 * b + 1)
    return np.argsort(key, kind="stable")


def _block(
    tree: shapely.STRtree, polys: np.ndarray, x: np.ndarray, y: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact pairs of the points ``idx`` (positions into ``x``/``y``)."""
    pts = shapely.points(x[idx], y[idx])
    p, g = tree.query(pts, predicate=None)
    if len(p) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pi = idx[p]
    hit = shapely.intersects_xy(polys[g], x[pi], y[pi])
    return pi[hit], g[hit].astype(np.int64)


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


def _grid_block(
    grid: dict, polys: np.ndarray, x: np.ndarray, y: np.ndarray, cell: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact pairs of the points ``idx`` by grid candidates, box filter and intersects_xy."""
    idx = idx[cell[idx] >= 0]
    c = cell[idx]
    s = grid["start"][c]
    cnt = grid["start"][c + 1] - s
    pi = np.repeat(idx, cnt)
    r = np.arange(len(pi)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    gi = grid["poly"][np.repeat(s, cnt) + r]
    bb = grid["bounds"][gi]
    xx, yy = x[pi], y[pi]
    m = (bb[:, 0] <= xx) & (xx <= bb[:, 2]) & (bb[:, 1] <= yy) & (yy <= bb[:, 3])
    pi, gi = pi[m], gi[m]
    hit = shapely.intersects_xy(polys[gi], xx[m], yy[m])
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
        threads = _available_cores() if n > _MIN_POINTS_PER_THREAD else 1
    threads = max(1, int(threads))
    if tree is None:
        if not np.isfinite(shapely.bounds(polys)).all(axis=1).any():
            return np.empty(0, np.int64), np.empty(0, np.int64)  # only empty polygons
        grid = _grid_index(polys)
        cell = _grid_cells(grid, x, y)
        order = np.argsort(cell, kind="stable")  # points of a cell together: cache locality

        def work(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _grid_block(grid, polys, x, y, cell, b)
    else:
        order = _grid_order(x, y)

        def work(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _block(tree, polys, x, y, b)

    # contiguous runs of the sorted order: nearby points share a task
    blocks = np.array_split(order, max(threads, -(-n // _BLOCK)))
    if threads == 1:
        parts = [work(b) for b in blocks]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(work, blocks))
    pi = np.concatenate([p for p, _ in parts])
    gi = np.concatenate([g for _, g in parts])
    srt = np.lexsort((gi, pi))
    return pi[srt], gi[srt]
