"""Vectorised spatial relations between many sites and the features of one layer.

This is the spatial half of :mod:`zoning.check.engine`: for a block of sites and one layer
it answers, with array operations only (no Python loop over sites or features),

* which features each site intersects, and whether it lies inside them
  (topology in lon/lat, where the layers are defined);
* the overlap area of each intersecting pair, measured in an equal-area (Albers,
  GRS80) projection, and its share of the site's area;
* which features lie within a distance of the site (the pair distance in the
  site's own Gauss-Krüger zone, EPSG:4534–4554; UTM outside China's longitudes);
* the nearest feature and its distance for the sites that touch nothing.

Every answer for a site depends only on that site and the layer, never on the other
sites of the block: the metric CRS is the site's own GK zone (from its centroid
longitude) and the equal-area CRS is fixed by the layers. So a batch gives exactly
the results of checking its sites one by one.

How it stays fast for a million sites:

- intersects: one STRtree per layer (lon/lat) queried with all sites at once for
  bounding-box candidates, then the predicate with the *feature* as the prepared
  geometry (a point in a prepared 10 000-vertex polygon is a log-time lookup); once a
  layer has tested :data:`GRID_AFTER_POINTS` points, its :class:`geo.pip.PointGrid`
  answers most points by cell, without a test;
- within distance and nearest: boundary pieces in an STRtree and boundary segments in
  a k-d tree, per metric CRS (:mod:`zoning.check.nearest`);
- many-part sites are related part by part (:mod:`zoning.check.parts`): linear in parts.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from shapely import STRtree

from geo.crs import equal_area_crs, metric_epsg, transform_geoms, transformer
from geo.measure import geodesic_length
from geo.pip import BoxGrid, PointGrid
from zoning.check.lengths import lengths_inside
from zoning.check.nearest import (
    _ORDER_MIN_POINTS,
    _Metric,
    _nearest,
    _within_pairs,
    boxes_miss,
    z_order,
)
from zoning.check.parts import many_parts, part_overlaps, query_geoms
from zoning.check.prepared import (  # noqa: F401 (re-exported)
    prepared_test,
    warm_prepared,
    warm_tree,
)
from zoning.check.runs import _first_of_runs, _pair_order

__all__ = [
    "INSIDE",
    "OUTSIDE",
    "OVERLAPS",
    "RELATIONS",
    "WITHIN_DISTANCE",
    "LayerIndex",
    "LayerRelations",
    "SiteBlock",
    "prepare_sites",
    "relate_layer",
]

#: Relation codes, in the order of their integer codes.
RELATIONS: tuple[str, ...] = ("inside", "overlaps", "within_distance", "outside")
INSIDE, OVERLAPS, WITHIN_DISTANCE, OUTSIDE = 0, 1, 2, 3

# box skip: the least metres per degree of latitude (equator) and of longitude times
# 1/cos(latitude) (the equatorial radius), and a slack for projection scale
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_319.49
_BOX_SLACK = 1.1
#: Degrees a zone's first metric copy reaches beyond the sites that asked for it.
_METRIC_PAD_DEG = 0.1
_METRIC_LOCK = threading.Lock()
# one point grid built at a time; a thread finding the lock taken tests exactly meanwhile
_GRID_LOCK = threading.Lock()
#: Points a layer tests before it builds its :class:`geo.pip.PointGrid`: the grid costs
#: about what the tests of this many points save (ski rental: never more than twice
#: the better choice made in hindsight).
GRID_AFTER_POINTS = 150_000
_LONLAT = "EPSG:4326"


@dataclass
class SiteBlock:
    """Sites prepared for relating: lon/lat, each in its own metric CRS, and areas.

    Attributes
    ----------
    geoms_ll
        Site geometries in EPSG:4326.
    geoms_m
        Each site in the metric CRS of its centroid (see :func:`geo.crs.metric_epsg`);
        ``None`` for a block of single points until :meth:`metric_geoms` needs them
        (their metric coordinates ``first_xy_m`` answer most questions; creating a
        point geometry per site holds the interpreter lock).
    epsg
        That CRS per site.
    zones
        EPSG code → positions of the sites in that CRS.
    area_m2
        Equal-area site area (0 for points and lines).
    areal, is_point
        Geometry dimension 2 / 0.
    simple_point
        Single points (not multipoints).
    first_xy_m
        Metric coordinates of each site's first vertex, shape (n, 2) (a point's own
        coordinates): where the nearest-feature search starts.
    length_m
        Geodesic (GRS80) length of line sites in metres (NaN for points and polygons).
    xy_ll
        Lon/lat of each site, shape (n, 2), for a block of single 2-D points (else
        ``None``): point tests without point geometries (:func:`shapely.intersects_xy`).
    """

    geoms_ll: NDArray[Any]
    geoms_m: NDArray[Any] | None
    epsg: NDArray[np.int64]
    zones: dict[int, NDArray[np.intp]]
    area_m2: NDArray[np.float64]
    areal: NDArray[np.bool_]
    is_point: NDArray[np.bool_]
    simple_point: NDArray[np.bool_] | None = None
    first_xy_m: NDArray[np.float64] | None = None
    length_m: NDArray[np.float64] | None = None
    xy_ll: NDArray[np.float64] | None = None
    all_simple_points: bool = field(init=False, default=False)
    _bounds: NDArray[np.float64] | None = field(init=False, default=None, repr=False)
    _search_order: NDArray[np.intp] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.length_m is None:  # geodesic length of line sites (NaN for others)
            self.length_m = np.full(len(self.geoms_ll), np.nan)
            line = ~self.is_point & ~self.areal
            if line.any():
                self.length_m[line] = geodesic_length(self.geoms_ll[line], _LONLAT)
        if self.simple_point is None:
            self.simple_point = self.is_point & (shapely.get_type_id(self.geoms_ll) == 0)
        self.all_simple_points = bool(self.simple_point.all())
        if self.geoms_m is None and not (self.all_simple_points and self.first_xy_m is not None):
            msg = "geoms_m may be left out only for single points with first_xy_m"
            raise ValueError(msg)
        if self.first_xy_m is None:
            xy, owner = shapely.get_coordinates(self.geoms_m, return_index=True)
            if not self.all_simple_points:  # lines, polygons, multipoints: first vertex
                xy = xy[_first_of_runs(owner)]
            self.first_xy_m = xy

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.geoms_ll)

    def metric_geoms(self, pos: NDArray[np.intp] | None = None) -> NDArray[Any]:
        """The metric geometries of the sites at ``pos`` (all when ``None``).

        For a block of single points left without them, new points from
        ``first_xy_m`` (the very coordinates :func:`geo.crs.transform_geoms` gives).
        """
        if self.geoms_m is not None:
            return self.geoms_m if pos is None else self.geoms_m[pos]
        return shapely.points(self.first_xy_m if pos is None else self.first_xy_m[pos])

    def in_search_order(self, pos: NDArray[np.intp] | None = None) -> NDArray[np.intp]:
        """The positions ``pos`` (all sites when ``None``) in the order to search them.

        A block of at least :data:`zoning.check.nearest._ORDER_MIN_POINTS` sites is
        ordered along a Z-order curve of ``first_xy_m`` (:func:`zoning.check.nearest.
        z_order`, computed once per block): k-d searches in that order run faster.
        Smaller blocks keep their order. A search's answers do not depend on it.
        """
        if self.n < _ORDER_MIN_POINTS:
            return np.arange(self.n) if pos is None else pos
        if self._search_order is None:
            self._search_order = z_order(self.first_xy_m)
        if pos is None:
            return self._search_order
        wanted = np.zeros(self.n, dtype=bool)  # (positions are distinct: no sort needed)
        wanted[pos] = True
        return self._search_order[wanted[self._search_order]]

    def bounds(self) -> NDArray[np.float64]:
        """Lon/lat bounding box of each site, shape (n, 4) (made once)."""
        if self._bounds is None:
            xy = self.xy_ll
            self._bounds = shapely.bounds(self.geoms_ll) if xy is None else np.tile(xy, 2)
        return self._bounds

    def reach(
        self, pos: NDArray[np.intp] | None, radius_m: float
    ) -> tuple[float, float, float, float]:
        """Lon/lat box of every place within ``radius_m`` of the sites at ``pos`` (all: None).

        The features a distance search up to ``radius_m`` can find meet this box
        (see :meth:`LayerIndex.metric`).
        """
        b = self.bounds() if pos is None else self.bounds()[pos]
        box = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
        return _grown(tuple(float(v) for v in box), radius_m)


def prepare_sites(
    geoms_ll: NDArray[Any], *, ea_crs: CRS, xy_ll: NDArray[np.float64] | None = None
) -> SiteBlock:
    """Project a block of lon/lat sites into their metric CRSs and measure their areas.

    Parameters
    ----------
    geoms_ll
        Valid, non-empty shapely geometries in EPSG:4326.
    ea_crs
        The equal-area CRS areas are measured in.
    xy_ll
        Their coordinates, shape (n, 2), when every one is a single 2-D point
        (:attr:`zoning.check.result._Sites.xy`): not read from them again.

    Returns
    -------
    SiteBlock
    """
    geoms_ll = np.asarray(geoms_ll, dtype=object)
    n = len(geoms_ll)
    if xy_ll is not None:  # single 2-D points, their coordinates read already
        is_point = simple_pt = np.ones(n, dtype=bool)
        areal = np.zeros(n, dtype=bool)
        cx, cy = xy_ll[:, 0], xy_ll[:, 1]
    else:
        dims = shapely.get_dimensions(geoms_ll)
        is_point = dims == 0
        areal = dims == 2
        # single points: their own coordinates; others: centroid (picks the zone)
        cx = np.empty(n)
        cy = np.empty(n)
        simple_pt = shapely.get_type_id(geoms_ll) == 0
        if simple_pt.any():
            cx[simple_pt] = shapely.get_x(geoms_ll[simple_pt])
            cy[simple_pt] = shapely.get_y(geoms_ll[simple_pt])
    if (~simple_pt).any():
        c = shapely.centroid(geoms_ll[~simple_pt])
        cx[~simple_pt] = shapely.get_x(c)
        cy[~simple_pt] = shapely.get_y(c)
    epsg = metric_epsg(cx, cy)
    zones: dict[int, NDArray[np.intp]] = {}
    if n and (epsg == epsg[0]).all():  # one zone (always for a single site)
        zones[int(epsg[0])] = np.arange(n)
    else:
        zones = {int(code): np.flatnonzero(epsg == code) for code in np.unique(epsg)}
    geoms_m: NDArray[Any] | None = None
    xy_m: NDArray[np.float64] | None = None
    if n and simple_pt.all() and (xy_ll is not None or not shapely.has_z(geoms_ll).any()):
        # single points: metric coordinates only (geometries made when needed)
        xy_m = np.empty((n, 2))
        for code, pos in zones.items():
            x, y = transformer(_LONLAT, code).transform(cx[pos], cy[pos])
            xy_m[pos, 0], xy_m[pos, 1] = x, y
    elif len(zones) == 1:
        geoms_m = transform_geoms(geoms_ll, _LONLAT, int(epsg[0]))
    else:
        geoms_m = np.empty(n, dtype=object)
        for code, pos in zones.items():
            geoms_m[pos] = transform_geoms(geoms_ll[pos], _LONLAT, code)
    area = np.zeros(n)
    if areal.any():
        area[areal] = shapely.area(transform_geoms(geoms_ll[areal], _LONLAT, ea_crs))
    if xy_m is not None and xy_ll is None:  # single points: their lon/lat as read here
        xy_ll = np.column_stack([cx, cy])
    return SiteBlock(
        geoms_ll, geoms_m, epsg, zones, area, areal, is_point, simple_pt & is_point, xy_m,
        xy_ll=None if xy_m is None else xy_ll,
    )  # fmt: skip


@dataclass
class LayerIndex:
    """The features of one layer kind with their spatial indexes.

    Build once per check (see :class:`zoning.check.engine.SiteChecker`); metric copies are
    made lazily, once per metric CRS the sites need.

    Attributes
    ----------
    kind
        The layer kind.
    geoms
        Feature geometries in EPSG:4326.
    ids, names
        ``feature_id`` and ``name`` of each feature (object arrays of str).
    areal
        Polygonal features.
    tree
        STRtree over ``geoms`` (lon/lat) for intersects.
    bounds
        Lon/lat box of all features (``xmin, ymin, xmax, ymax``; NaN when empty).
    columns
        Other attribute columns (for feature filters and access lists).
    grid_box
        Lon/lat box where the check's point sites are expected (its jurisdiction's box;
        ``None``: the layer's): the point grid covers it within the layer's box.
    """

    kind: str
    geoms: NDArray[Any]
    ids: NDArray[Any]
    names: NDArray[Any]
    columns: dict[str, NDArray[Any]]
    grid_box: tuple[float, float, float, float] | None = None
    areal: NDArray[np.bool_] = field(init=False)
    tree: STRtree = field(init=False)
    bounds: NDArray[np.float64] = field(init=False)
    _metric: dict[int, _Metric] = field(init=False, default_factory=dict)
    _grid: PointGrid | bool | None = field(init=False, default=False)  # False: not built
    _grid_points: int = field(init=False, default=0)  # points tested before the grid
    _boxes: BoxGrid | bool | None = field(init=False, default=False)  # False: not built

    def __post_init__(self) -> None:
        self.areal = shapely.get_dimensions(self.geoms) == 2
        self.bounds = shapely.total_bounds(self.geoms)  # NaN when empty
        self.tree = STRtree(self.geoms)
        shapely.prepare(self.geoms)

    def __len__(self) -> int:
        return len(self.geoms)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickling (dask workers) drops GEOS's prepared state, and unprepared polygons
        # make intersects several times slower
        self.__dict__.update(state)
        shapely.prepare(self.geoms)

    def subset(self, mask: NDArray[np.bool_]) -> tuple[LayerIndex, NDArray[np.intp]]:
        """Return the features where ``mask`` holds, and their positions in this layer."""
        pos = np.flatnonzero(mask)
        sub = LayerIndex(
            self.kind,
            self.geoms[pos],
            self.ids[pos],
            self.names[pos],
            {k: v[pos] for k, v in self.columns.items()},
            self.grid_box,
        )
        return sub, pos

    def point_grid(self, points: int) -> PointGrid | None:
        """The layer's :class:`PointGrid` for a block of ``points`` single points, if due.

        Built once the layer has tested :data:`GRID_AFTER_POINTS` points exactly (a
        one-site check or a small batch never pays for it), by one thread while the
        others go on testing exactly. ``None``: not (yet) built.
        """
        grid = self._grid
        if grid is not False:
            return grid  # type: ignore[return-value]
        self._grid_points += points  # threads may lose a count: only delays the build
        if self._grid_points < GRID_AFTER_POINTS:
            return None
        return self.build_point_grid(wait=False)

    def build_point_grid(self, *, wait: bool = True) -> PointGrid | None:
        """Build the layer's :class:`PointGrid` now (once), and return it.

        For a batch known to bring many points
        (:meth:`zoning.check.engine.SiteChecker.expect_points`). ``wait=False``: if
        another thread is building a grid, return ``None`` at once.
        """
        if self._grid is False:
            if not _GRID_LOCK.acquire(blocking=wait):
                return None
            try:
                if self._grid is False:
                    self._grid = self._build_grid()
            finally:
                _GRID_LOCK.release()
        return self._grid  # type: ignore[return-value]

    def box_grid(self) -> BoxGrid | None:
        """The features' boxes by cell (:class:`geo.pip.BoxGrid`): candidates for points.

        Built on first use (well under a millisecond for a few thousand features;
        threads that race build equal grids). ``None``: no feature has a box.
        """
        boxes = self._boxes
        if boxes is False:
            boxes = self._boxes = BoxGrid.build(self.geoms)
        return boxes  # type: ignore[return-value]

    def _build_grid(self) -> PointGrid | None:
        b = self.bounds
        if len(self) == 0 or not np.all(np.isfinite(b)):
            return None
        box = tuple(float(v) for v in b)
        if self.grid_box is not None:  # the layer's box within the jurisdiction's
            g = self.grid_box
            box = (max(box[0], g[0]), max(box[1], g[1]), min(box[2], g[2]), min(box[3], g[3]))
        return PointGrid.build(self.geoms, box)  # type: ignore[arg-type]

    def metric(self, epsg: int, reach: tuple[float, float, float, float] | None = None) -> _Metric:
        """Return the layer in metric CRS ``epsg`` (cached), holding every feature in ``reach``.

        Parameters
        ----------
        epsg
            The metric CRS.
        reach
            Lon/lat box the caller's distance search can reach (:meth:`SiteBlock.reach`);
            ``None``: the whole layer.

        Notes
        -----
        The first copy in a CRS holds the features near the sites that asked (their
        reach, grown by :data:`_METRIC_PAD_DEG`): one site, or the sites of a jurisdiction
        that a zone edge cuts, copy a part of a large layer, not all of it. A later
        search reaching beyond that copy replaces it with the whole layer (built at
        most twice). The features are copied whole, with their positions in the layer,
        so the answers are the same whichever copy gives them.
        """
        m = self._metric.get(epsg)
        if m is None or not m.holds(reach):
            with _METRIC_LOCK:  # threads checking blocks at once: built once
                m = self._metric.get(epsg)
                if m is None or not m.holds(reach):
                    box = None
                    if m is None and reach is not None:
                        p = _METRIC_PAD_DEG
                        box = (reach[0] - p, reach[1] - p, reach[2] + p, reach[3] + p)
                    m = _Metric.build(self.geoms, epsg, box)
                    self._metric[epsg] = m
        return m

    def metric_near(
        self, epsg: int, block: SiteBlock, pos: NDArray[np.intp] | None, radius_m: float
    ) -> _Metric:
        """:meth:`metric` for a distance search up to ``radius_m`` from the sites at ``pos``.

        The sites' reach is worked out only while the copy in ``epsg`` is partial (a
        copy of the whole layer holds every reach; a warm server's checks skip it).
        """
        m = self._metric.get(epsg)
        if m is not None and m.box is None:
            return m
        return self.metric(epsg, block.reach(pos, radius_m))


@dataclass
class LayerRelations:
    """Relations of a block of sites with one layer (pair arrays + per-site nearest).

    Pairs are sorted by site, then feature.

    Attributes
    ----------
    site, feature
        Positions of the site in the block and of the feature in the layer.
    relation
        :data:`INSIDE`, :data:`OVERLAPS` or :data:`WITHIN_DISTANCE`.
    distance_m
        0 for intersecting pairs, else the metric distance.
    overlap_m2, overlap_pct
        Overlap area and its share of the site area (NaN for point and line sites).
    nearest_feature, nearest_m
        Per site: the nearest feature (-1 when none within the search radius) and its
        distance (0 when intersecting, NaN when none).
    intersects_any
        Per site: intersects at least one feature.
    length_m, length_pct
        Length of a line site inside a polygon feature (geodesic metres) and its share
        of the line's length (NaN for point and polygon sites, and line features).
    """

    site: NDArray[np.intp]
    feature: NDArray[np.intp]
    relation: NDArray[np.int8]
    distance_m: NDArray[np.float64]
    overlap_m2: NDArray[np.float64]
    overlap_pct: NDArray[np.float64]
    nearest_feature: NDArray[np.intp]
    nearest_m: NDArray[np.float64]
    intersects_any: NDArray[np.bool_]
    length_m: NDArray[np.float64] | None = None
    length_pct: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if self.length_m is None:
            self.length_m = np.full(len(self.site), np.nan)
        if self.length_pct is None:
            self.length_pct = np.full(len(self.site), np.nan)


def far_from(index: LayerIndex, block: SiteBlock, radius_m: float) -> NDArray[np.bool_]:
    """Sites whose box, grown by ``radius_m``, misses the layer's box (no work needed).

    The growth in degrees is an upper bound of ``radius_m`` (10 % slack covers the
    Gauss-Krüger / UTM scale and the ellipsoid): such a site can neither touch a feature
    nor lie within ``radius_m`` of one, so skipping it changes no result.
    """
    lb = index.bounds
    if not np.all(np.isfinite(lb)):
        return np.ones(block.n, dtype=bool)
    return boxes_miss(block.bounds(), _grown(tuple(float(v) for v in lb), radius_m))


def _grown(
    box: tuple[float, float, float, float], radius_m: float
) -> tuple[float, float, float, float]:
    """A lon/lat box grown by at least ``radius_m`` on every side.

    The growth in degrees is an upper bound of ``radius_m`` (the least metres per
    degree, at the box's farthest latitude, and 10 % slack for the Gauss-Krüger / UTM
    scale and the ellipsoid).
    """
    r = max(float(radius_m), 0.0) * _BOX_SLACK
    dlat = r / _M_PER_DEG_LAT
    lat = min(max(abs(box[1] - dlat), abs(box[3] + dlat)), 89.0)
    dlon = min(r / (_M_PER_DEG_LON * math.cos(math.radians(lat))), 360.0)
    return (box[0] - dlon, box[1] - dlat, box[2] + dlon, box[3] + dlat)


def relate_layer(
    index: LayerIndex,
    block: SiteBlock,
    *,
    within_m: NDArray[np.float64] | None,
    nearest_max_m: float,
    ea_crs: CRS,
    nearest: bool = True,
) -> LayerRelations:
    """Relate every site of a block to one layer.

    Parameters
    ----------
    index
        The layer.
    block
        The sites (:func:`prepare_sites`).
    within_m
        Per feature, the distance up to which a non-intersecting site counts as
        "within distance" (NaN: never); ``None`` for no distance relation.
    nearest_max_m
        Search radius of the nearest-feature distance; farther sites get NaN.
    ea_crs
        Equal-area CRS for overlap areas (the one the block's areas are measured in).
    nearest
        Search the nearest feature of the sites that touch none (default). ``False``:
        not searched; such sites get -1 / NaN (the caller does not report them).

    Returns
    -------
    LayerRelations
    """
    n, nfeat = block.n, len(index)
    empty_i = np.zeros(0, dtype=np.intp)
    # 0. sites farther than every radius from the layer's box: no work at all
    radius = nearest_max_m if nearest else 0.0
    if within_m is not None and np.isfinite(within_m).any():
        radius = max(radius, float(np.nanmax(within_m)))
    far = far_from(index, block, radius) if nfeat and n else np.ones(n, dtype=bool)
    if far.all():
        return LayerRelations(
            empty_i, empty_i, np.zeros(0, np.int8), np.zeros(0), np.zeros(0), np.zeros(0),
            np.full(n, -1, np.intp), np.full(n, np.nan), np.zeros(n, bool),
        )  # fmt: skip
    # 1. intersecting pairs, in lon/lat where the layers are defined
    si, fi = _intersecting(index, block)
    # 2. within-distance pairs (metric CRS of each site), not already intersecting
    ws, wf, wd = empty_i, empty_i, np.zeros(0)
    if within_m is not None:
        ws, wf, wd = _within_pairs(index, block, within_m, si.astype(np.int64) * nfeat + fi)
    if len(si) == 0 and len(ws) == 0:  # no pair (most layers for one site): nearest only
        if nearest:
            near_f, near_d = _nearest(index, block, ~far, nearest_max_m)
        else:
            near_f, near_d = np.full(n, -1, np.intp), np.full(n, np.nan)
        return LayerRelations(
            empty_i, empty_i, np.zeros(0, np.int8), np.zeros(0), np.zeros(0), np.zeros(0),
            near_f, near_d, np.zeros(n, bool),
        )  # fmt: skip
    feat_areal = index.areal[fi]
    inside = block.is_point[si] & feat_areal  # a point touching a polygon is covered
    many = many_parts(block)[si] & ~block.is_point[si]  # part by part (_part_overlaps)
    chk = ~block.is_point[si] & feat_areal & ~many
    if chk.any():
        inside[chk] = prepared_test(shapely.covers, index.geoms[fi[chk]], block.geoms_ll[si[chk]])
    site_areal = block.areal[si]
    overlap = np.where(site_areal, 0.0, np.nan)
    if many.any():
        m_in, m_ov = part_overlaps(index, block, si[many], fi[many], ea_crs)
        inside[many] = m_in & feat_areal[many]
        overlap[many] = np.where(site_areal[many] & feat_areal[many], m_ov, overlap[many])
    full = site_areal & inside & ~many
    overlap[full] = block.area_m2[si[full]]
    part = site_areal & feat_areal & ~inside & ~many
    if part.any():
        inter = shapely.intersection(block.geoms_ll[si[part]], index.geoms[fi[part]])
        overlap[part] = shapely.area(transform_geoms(inter, _LONLAT, ea_crs))
    rel = np.where(inside, INSIDE, OVERLAPS).astype(np.int8)
    s = np.concatenate([si, ws]).astype(np.intp)
    f = np.concatenate([fi, wf]).astype(np.intp)
    relation = np.concatenate([rel, np.full(len(ws), WITHIN_DISTANCE, np.int8)])
    distance = np.concatenate([np.zeros(len(si)), wd])
    overlap = np.concatenate([overlap, np.where(block.areal[ws], 0.0, np.nan)])
    o = _pair_order(s, f, nfeat)
    s, f, relation, distance, overlap = s[o], f[o], relation[o], distance[o], overlap[o]
    area = block.area_m2[s]
    pct = np.full(len(s), np.nan)
    ok = block.areal[s] & (area > 0)
    pct[ok] = overlap[ok] / area[ok] * 100.0
    pct[ok & (relation == INSIDE)] = 100.0
    # 3. nearest feature: the first intersecting one (distance 0), else a search
    isect = np.zeros(n, dtype=bool)
    isect[si] = True
    if nearest:
        near_f, near_d = _nearest(index, block, ~isect & ~far, nearest_max_m)
    else:
        near_f, near_d = np.full(n, -1, np.intp), np.full(n, np.nan)
    if len(si):
        first = _first_of_runs(si)  # si is sorted by site, then feature
        near_f[si[first]] = fi[first]
        near_d[si[first]] = 0.0
    length, length_pct = _lengths_inside(index, block, s, f, relation)
    return LayerRelations(
        s, f, relation, distance, overlap, pct, near_f, near_d, isect, length, length_pct
    )


def _lengths_inside(
    index: LayerIndex,
    block: SiteBlock,
    s: NDArray[np.intp],
    f: NDArray[np.intp],
    relation: NDArray[np.int8],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Geodesic length of each line site inside each polygon feature, and its share."""
    line = ~block.is_point[s] & ~block.areal[s] & index.areal[f] & (relation != WITHIN_DISTANCE)
    if not line.any():  # no line site (a block of points): no geometry to gather
        return np.full(len(s), np.nan), np.full(len(s), np.nan)
    return lengths_inside(
        block.geoms_ll[s], index.geoms[f], line, relation == INSIDE, block.length_m[s]
    )


def _intersecting(index: LayerIndex, block: SiteBlock) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(site, feature) pairs that intersect, sorted by site then feature.

    Bounding-box candidates from the tree, then the predicate with the *feature* as
    the prepared geometry (a point against a prepared polygon is a log-time lookup);
    single points of a large batch mostly by the layer's point grid
    (:func:`_points_intersecting`).
    """
    gowner = None
    if block.xy_ll is not None:  # single points: by grid and coordinates
        qi, fi = _points_intersecting(index, block.xy_ll)
    else:
        geoms, gowner = query_geoms(block)  # many-part sites: their parts
        qi, fi = index.tree.query(geoms)
        if len(qi):
            hit = prepared_test(shapely.intersects, index.geoms[fi], geoms[qi])
            qi, fi = qi[hit], fi[hit]
    si = qi if gowner is None else gowner[qi]
    if len(si) == 0:
        return si.astype(np.intp), fi.astype(np.intp)
    if gowner is not None:
        key = np.unique(si.astype(np.int64) * len(index) + fi)
        si, fi = key // len(index), key % len(index)
    o = _pair_order(si, fi, len(index))
    return si[o].astype(np.intp), fi[o].astype(np.intp)


def _points_intersecting(
    index: LayerIndex, xy: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(point, feature) pairs that intersect, for single points (coordinates ``xy``).

    Points in the cells of the layer's :class:`PointGrid` that no edge touches take
    the cell's features; the rest are tested (:func:`_points_tested`). Not sorted.
    """
    grid = index.point_grid(len(xy)) if len(xy) else None
    if grid is None:
        return _points_tested(index, xy)
    si, fi, rest = grid.pairs(xy)
    b = index.bounds  # beyond the layer's box: no candidate (NaN compares False)
    x, y = xy[rest, 0], xy[rest, 1]
    rest = rest[(x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3])]
    if len(rest) == 0:
        return si, fi
    ti, tf = _points_tested(index, xy[rest])
    return np.concatenate([si, rest[ti]]), np.concatenate([fi, tf])


def _points_tested(
    index: LayerIndex, xy: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(point, feature) pairs that intersect, every box candidate tested. Not sorted.

    The candidates are the tree's (:meth:`LayerIndex.box_grid`), found from the
    coordinates: 2-3 times faster than querying the tree with point geometries.
    """
    boxes = index.box_grid()
    if boxes is None or len(xy) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    qi, fi = boxes.candidates(xy[:, 0], xy[:, 1])
    if len(qi) == 0:
        return qi.astype(np.intp), fi.astype(np.intp)
    # one feature's tests together: its prepared geometry stays in the cache (15-25 %
    # faster tests); point tests run freely
    o = np.argsort(fi, kind="stable")
    qi, fi = qi[o], fi[o]
    hit = shapely.intersects_xy(index.geoms[fi], xy[qi, 0], xy[qi, 1])
    return qi[hit].astype(np.intp), fi[hit].astype(np.intp)


def layer_bounds(indexes: list[LayerIndex]) -> tuple[float, float, float, float] | None:
    """Union of the lon/lat bounds of the layers (``None`` when all are empty)."""
    boxes = [shapely.total_bounds(ix.geoms) for ix in indexes if len(ix)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    b = np.array(boxes)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def fixed_equal_area_crs(indexes: list[LayerIndex]) -> CRS:
    """Return the equal-area CRS of a check: fitted to the layers, never to the sites.

    Parameters
    ----------
    indexes
        The layers of the check.

    Returns
    -------
    pyproj.CRS
    """
    bounds = layer_bounds(indexes) or (115.4, 39.4, 117.5, 41.1)  # Beijing, if no feature
    return equal_area_crs(bounds)
