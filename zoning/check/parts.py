"""Many-part sites related part by part (a private helper of :mod:`zoning.check.relations`).

A MultiPolygon of thousands of small squares touches many features; relating it whole
costs one overlay of all its vertices per touched feature (19 000 squares, 95 000
vertices: 8 s and 4.5 GB). Part by part, each part meets only the features its box
meets, so the cost grows with parts x nearby features. The parts of a valid
multi-geometry do not overlap, so a site's overlap with a feature is the sum of its
parts' overlaps, and it lies inside the feature when every part does.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import transform_geoms
from zoning.check.prepared import prepared_test

__all__ = ["covers_whole", "many_parts", "part_overlaps", "query_geoms", "site_parts"]

# Sites with more parts than this are related part by part.
_MANY_PARTS = 16


def many_parts(block: Any) -> NDArray[np.bool_]:
    """Sites (multi-geometries) with more than ``_MANY_PARTS`` parts."""
    if block.all_simple_points:  # asked once per layer: no geometry to read
        return np.zeros(block.n, dtype=bool)
    return shapely.get_num_geometries(block.geoms_ll) > _MANY_PARTS


def site_parts(block: Any, many: NDArray[np.bool_]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """The parts of the many-part sites and, for each, its site's position."""
    pos = np.flatnonzero(many)
    parts, owner = shapely.get_parts(block.geoms_ll[pos], return_index=True)
    return parts, pos[owner]


def part_overlaps(
    index: Any,
    block: Any,
    si: NDArray[np.intp],
    fi: NDArray[np.intp],
    ea_crs: Any,
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Covered-by and overlap area of (many-part site, feature) pairs, part by part.

    A site lies inside a feature when every part does; its overlap is the sum of its
    parts' overlaps (the parts of a valid multi-geometry do not overlap). Only the
    parts whose box meets the feature are measured (in ``ea_crs``).
    """
    nfeat = len(index)
    sites = np.unique(si)
    many = np.zeros(block.n, dtype=bool)
    many[sites] = True
    parts, owner = site_parts(block, many)
    nparts = np.bincount(owner, minlength=block.n)
    pi, pf = index.tree.query(parts)
    want = np.zeros(0, dtype=np.int64)
    if len(pi):
        want = owner[pi].astype(np.int64) * nfeat + pf
        keep = np.isin(want, si.astype(np.int64) * nfeat + fi)
        keep[keep] = prepared_test(shapely.intersects, index.geoms[pf[keep]], parts[pi[keep]])
        pi, pf, want = pi[keep], pf[keep], want[keep]
    covered = np.zeros(len(pi), dtype=bool)
    area = np.zeros(len(pi))
    areal = index.areal[pf] & (shapely.get_dimensions(parts[pi]) == 2)
    if areal.any():
        covered[areal] = prepared_test(shapely.covers, index.geoms[pf[areal]], parts[pi[areal]])
        cut = areal & ~covered
        pieces = np.empty(len(pi), dtype=object)
        pieces[covered] = parts[pi[covered]]
        if cut.any():
            pieces[cut] = shapely.intersection(parts[pi[cut]], index.geoms[pf[cut]])
        area[areal] = shapely.area(transform_geoms(pieces[areal], "EPSG:4326", ea_crs))
    if (~areal).any():  # points and lines: covered-by only
        covered[~areal] = prepared_test(shapely.covers, index.geoms[pf[~areal]], parts[pi[~areal]])
    pair = si.astype(np.int64) * nfeat + fi
    order = np.argsort(pair)
    slot = order[np.searchsorted(pair[order], want)] if len(want) else np.zeros(0, np.intp)
    n_cov = np.bincount(slot, weights=covered, minlength=len(pair))
    overlap = np.bincount(slot, weights=area, minlength=len(pair))
    inside = n_cov == nparts[si]
    return inside, overlap


def query_geoms(block: Any) -> tuple[NDArray[Any], NDArray[np.intp] | None]:
    """The geometries to query a layer's tree with: many-part sites replaced by their parts.

    Returns the geometries and, when parts were used, each one's site position
    (``None``: the sites themselves).
    """
    many = many_parts(block)
    if not many.any():
        return block.geoms_ll, None
    parts, owner = site_parts(block, many)
    geoms = np.concatenate([block.geoms_ll[~many], parts])
    return geoms, np.concatenate([np.flatnonzero(~many), owner])


def covers_whole(
    area: shapely.Geometry, geoms: NDArray[Any], xy: NDArray[np.float64] | None = None
) -> NDArray[np.bool_]:
    """``shapely.covers(area, geoms)``, with many-part geometries tested part by part.

    GEOS tests a prepared area against a multi-geometry of thousands of parts in
    about a second; against its parts one by one in milliseconds. A geometry is
    covered when all its parts are. ``xy``: the coordinates of ``geoms`` when they
    are all single 2-D points (a block's ``xy_ll``: not read from them again).
    """
    geoms = np.asarray(geoms, dtype=object)
    if xy is not None and len(geoms) >= _GRID_MIN_POINTS:
        return _points_covered(area, geoms, xy)
    pt = shapely.get_type_id(geoms) == 0
    if pt.sum() >= _GRID_MIN_POINTS:  # many points: a grid answers most of them
        out = np.zeros(len(geoms), dtype=bool)
        at = np.flatnonzero(pt)
        out[at] = _points_covered(area, geoms[at])
        rest = np.flatnonzero(~pt)
        if len(rest):
            out[rest] = covers_whole(area, geoms[rest])
        return out
    many = shapely.get_num_geometries(geoms) > _MANY_PARTS
    out = np.zeros(len(geoms), dtype=bool)
    if (~many).any():
        out[~many] = prepared_test(shapely.covers, area, geoms[~many])
    if many.any():
        pos = np.flatnonzero(many)
        parts, owner = shapely.get_parts(geoms[pos], return_index=True)
        covered = prepared_test(shapely.covers, area, parts)
        uncovered = np.bincount(owner, weights=~covered, minlength=len(pos))
        out[pos] = uncovered == 0
    return out


# point coverage by grid: cells wholly covered / wholly outside answer without GEOS
_GRID_MIN_POINTS = 2_000
_GRID_CELLS = 64
_GRIDS: dict[int, tuple[Any, NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]] = {}
_GRID_LOCK = threading.Lock()


def _grid(area: shapely.Geometry) -> tuple[NDArray[np.float64], NDArray[np.float64], Any]:
    """Cell edges (x, y) over ``area``'s box and each cell's state.

    State 1: the area covers the cell; 0: misses it; -1: neither. Made once per area
    (the area is kept with its grid, so its id stays its own).
    """
    got = _GRIDS.get(id(area))
    if got is not None and got[0] is area:
        return got[1], got[2], got[3]
    with _GRID_LOCK:
        got = _GRIDS.get(id(area))
        if got is not None and got[0] is area:
            return got[1], got[2], got[3]
        x0, y0, x1, y1 = area.bounds
        xs = np.linspace(x0, x1, _GRID_CELLS + 1)
        ys = np.linspace(y0, y1, _GRID_CELLS + 1)
        gx, gy = np.meshgrid(np.arange(_GRID_CELLS), np.arange(_GRID_CELLS), indexing="ij")
        gx, gy = gx.ravel(), gy.ravel()
        boxes = shapely.box(xs[gx], ys[gy], xs[gx + 1], ys[gy + 1])
        state = np.full(len(boxes), -1, dtype=np.int8)
        state[prepared_test(shapely.covers, area, boxes)] = 1
        state[~prepared_test(shapely.intersects, area, boxes)] = 0
        if len(_GRIDS) >= 32:
            _GRIDS.clear()
        _GRIDS[id(area)] = (area, xs, ys, state.reshape(_GRID_CELLS, _GRID_CELLS))
        return xs, ys, _GRIDS[id(area)][3]


def _points_covered(
    area: shapely.Geometry, points: NDArray[Any], xy: NDArray[np.float64] | None = None
) -> NDArray[np.bool_]:
    """``shapely.covers(area, points)`` for single points, exactly, mostly by grid.

    A point inside the closed box of a cell the area covers is covered; inside a cell
    the area misses it is not. Cells are found by arithmetic, then the point is checked
    against the very edges the cell boxes were built from (so rounding cannot place it
    in the wrong cell); boundary cells and the rest go to GEOS. ``xy``: the points'
    coordinates, when known.
    """
    if xy is None:
        x, y = shapely.get_x(points), shapely.get_y(points)
    else:
        x, y = xy[:, 0], xy[:, 1]
    if area.is_empty:
        return np.zeros(len(points), dtype=bool)
    xs, ys, state = _grid(area)
    n = _GRID_CELLS
    wx = (xs[-1] - xs[0]) / n
    wy = (ys[-1] - ys[0]) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        i = np.floor((x - xs[0]) / wx) if wx > 0 else np.zeros(len(x))
        j = np.floor((y - ys[0]) / wy) if wy > 0 else np.zeros(len(y))
    ok = np.isfinite(i) & np.isfinite(j) & (i >= 0) & (i < n) & (j >= 0) & (j < n)
    i = np.where(ok, i, 0).astype(np.intp)
    j = np.where(ok, j, 0).astype(np.intp)
    ok &= (xs[i] <= x) & (x <= xs[i + 1]) & (ys[j] <= y) & (y <= ys[j + 1])
    cell = np.where(ok, state[i, j], -1)
    outside_box = (x < xs[0]) | (x > xs[-1]) | (y < ys[0]) | (y > ys[-1])
    cell[outside_box] = 0  # beyond the area's box: not covered
    out = cell == 1
    exact = np.flatnonzero(cell == -1)
    if len(exact):
        out[exact] = prepared_test(shapely.covers, area, points[exact])
    return out
