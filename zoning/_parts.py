"""Many-part sites related part by part (a private helper of :mod:`zoning.relations`).

A MultiPolygon of thousands of small squares touches many features; relating it whole
costs one overlay of all its vertices per touched feature (19 000 squares, 95 000
vertices: 8 s and 4.5 GB). Part by part, each part meets only the features its box
meets, so the cost grows with parts x nearby features. The parts of a valid
multi-geometry do not overlap, so a site's overlap with a feature is the sum of its
parts' overlaps, and it lies inside the feature when every part does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import transform_geoms

__all__ = ["covers_whole", "many_parts", "part_overlaps", "query_geoms", "site_parts"]

# Sites with more parts than this are related part by part.
_MANY_PARTS = 16


def many_parts(block: Any) -> NDArray[np.bool_]:
    """Sites (multi-geometries) with more than ``_MANY_PARTS`` parts."""
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
        keep[keep] = shapely.intersects(index.geoms[pf[keep]], parts[pi[keep]])
        pi, pf, want = pi[keep], pf[keep], want[keep]
    covered = np.zeros(len(pi), dtype=bool)
    area = np.zeros(len(pi))
    areal = index.areal[pf] & (shapely.get_dimensions(parts[pi]) == 2)
    if areal.any():
        covered[areal] = shapely.covers(index.geoms[pf[areal]], parts[pi[areal]])
        cut = areal & ~covered
        pieces = np.empty(len(pi), dtype=object)
        pieces[covered] = parts[pi[covered]]
        if cut.any():
            pieces[cut] = shapely.intersection(parts[pi[cut]], index.geoms[pf[cut]])
        area[areal] = shapely.area(transform_geoms(pieces[areal], "EPSG:4326", ea_crs))
    if (~areal).any():  # points and lines: covered-by only
        covered[~areal] = shapely.covers(index.geoms[pf[~areal]], parts[pi[~areal]])
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


def covers_whole(area: shapely.Geometry, geoms: NDArray[Any]) -> NDArray[np.bool_]:
    """``shapely.covers(area, geoms)``, with many-part geometries tested part by part.

    GEOS tests a prepared area against a multi-geometry of thousands of parts in
    about a second; against its parts one by one in milliseconds. A geometry is
    covered when all its parts are.
    """
    geoms = np.asarray(geoms, dtype=object)
    many = shapely.get_num_geometries(geoms) > _MANY_PARTS
    out = np.zeros(len(geoms), dtype=bool)
    if (~many).any():
        out[~many] = shapely.covers(area, geoms[~many])
    if many.any():
        pos = np.flatnonzero(many)
        parts, owner = shapely.get_parts(geoms[pos], return_index=True)
        uncovered = np.bincount(owner, weights=~shapely.covers(area, parts), minlength=len(pos))
        out[pos] = uncovered == 0
    return out
