"""Prepared geometries and STRtrees shared by the threads checking blocks at once.

GEOS builds the indexes of prepared geometries and STRtrees lazily and without a
lock; these helpers build them beforehand and serialise the tests that keep scratch
state in the prepared geometry. (Split off :mod:`zoning.check.relations`, so that
:mod:`zoning.check.parts` needs no import of it.)
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

from geo.cores import available_cores

__all__ = [
    "NON_POINT_WEIGHT",
    "PARALLEL_MIN_SITES",
    "auto_workers",
    "prepared_test",
    "warm_prepared",
    "warm_tree",
]

#: ``workers=None`` uses every available core above this much work (one below), counted
#: in point sites; a line or polygon site counts :data:`NON_POINT_WEIGHT` points (its
#: overlap and covers tests cost about that: 10 000 polygons are worth both cores).
PARALLEL_MIN_SITES = 20_000
NON_POINT_WEIGHT = 20

# GEOS prepared predicates against lines and polygons use scratch lists kept in the
# prepared geometry (MCIndexSegmentSetMutualIntersector): one thread at a time
_SHAPES_LOCK = threading.Lock()


def warm_prepared(geoms: NDArray[Any]) -> None:
    """Build now the indexes GEOS builds lazily inside prepared geometries.

    A prepared polygon makes its point locator and segment-intersection index on
    first use, without a lock: two threads using it first at once corrupt memory.
    A point (the box centre) and a line across the box (starting outside it) build
    both, for every geometry at once, before threads share them.
    """
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return
    g = geoms[ok]
    shapely.prepare(g)
    b = shapely.bounds(g)
    pad = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * 0.01 + 1e-9
    centre = shapely.points((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
    xy = np.stack([b[:, 0] - pad, b[:, 1] - pad, b[:, 2] + pad, b[:, 3] + pad], axis=1)
    cross = shapely.linestrings(xy.reshape(-1, 2), indices=np.repeat(np.arange(len(g)), 2))
    for other in (centre, cross):
        shapely.intersects(g, other)
        shapely.covers(g, other)


def prepared_test(fn: Any, prepared: Any, geoms: NDArray[Any]) -> NDArray[np.bool_]:
    """``fn(prepared, geoms)`` (a shapely predicate) with prepared geometries shared by threads.

    Point tests only read the prepared geometry's point index (built beforehand by
    :func:`warm_prepared`) and run freely; tests of lines and polygons are always
    serialised (an uncontended lock costs nothing): GEOS keeps scratch state in the
    prepared geometry for them, and a checker may be shared by the threads of a block
    pool or of a web server.
    """
    if len(geoms) == 0:
        return fn(prepared, geoms)
    pt = shapely.get_dimensions(geoms) == 0
    if pt.all():
        return fn(prepared, geoms)
    many = isinstance(prepared, np.ndarray)
    out = np.empty(len(geoms), dtype=bool)
    if pt.any():
        out[pt] = fn(prepared[pt] if many else prepared, geoms[pt])
    with _SHAPES_LOCK:
        out[~pt] = fn(prepared[~pt] if many else prepared, geoms[~pt])
    return out


def warm_tree(tree: STRtree) -> None:
    """Build a GEOS STRtree now (it is built on its first query, without a lock)."""
    tree.query(shapely.points(0.0, 0.0))


def auto_workers(geoms: NDArray[Any]) -> int:
    """Threads for checking ``geoms`` when the caller leaves it open: all cores, or one.

    Every core this process may run on when the sites are more work than
    :data:`PARALLEL_MIN_SITES` point sites (see :data:`NON_POINT_WEIGHT`), else 1.

    Parameters
    ----------
    geoms
        The sites to check (shapely geometries).

    Returns
    -------
    int
    """
    work = len(geoms)
    if work <= PARALLEL_MIN_SITES:  # few sites: their kind decides
        work += (NON_POINT_WEIGHT - 1) * int(np.count_nonzero(shapely.get_dimensions(geoms) > 0))
    return available_cores() if work > PARALLEL_MIN_SITES else 1
