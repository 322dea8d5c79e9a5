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
  geometry (a point in a prepared 10 000-vertex polygon is a log-time lookup);
- within distance: an STRtree over the features' boundary *pieces* (runs of at most
  16 segments; small features whole) queried with ``predicate="dwithin"``: outside a
  polygon the distance to it is the distance to its boundary, so the nearest piece of
  each (site, feature) pair gives the exact pair distance;
- nearest: for point sites a k-d tree (scipy) over boundary segments cut to 50 m
  finds candidate segments whose exact point-segment distances give the nearest
  distance, with a certificate (no other segment can be closer); the few points
  without one use ``STRtree.query_nearest`` over the pieces. A line or polygon site
  takes the distance of its first vertex as an upper bound and measures exactly the
  pieces within it (``dwithin``). Without scipy the STRtree does it all. Distances
  beyond ``nearest_max_m`` are reported as "none".
- many-part sites are related part by part (:mod:`zoning.check.parts`): linear in parts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from shapely import STRtree

from geo.crs import GK3_ZONES, equal_area_crs, gk_epsg
from geo.measure import geodesic_length
from zoning.check.lengths import lengths_inside
from zoning.check.parts import many_parts, part_overlaps, query_geoms
from zoning.check.prepared import (  # noqa: F401 (re-exported)
    is_single_threaded,
    prepared_test,
    single_threaded,
    warm_prepared,
    warm_tree,
)

try:  # optional: the fast nearest distance for point sites
    from scipy.spatial import cKDTree as _KDTree
except ImportError:  # pragma: no cover - scipy not installed
    _KDTree = None

__all__ = [
    "INSIDE",
    "OUTSIDE",
    "OVERLAPS",
    "RELATIONS",
    "WITHIN_DISTANCE",
    "LayerIndex",
    "LayerRelations",
    "SiteBlock",
    "metric_epsg",
    "prepare_sites",
    "relate_layer",
]

#: Relation codes, in the order of their integer codes.
RELATIONS: tuple[str, ...] = ("inside", "overlaps", "within_distance", "outside")
INSIDE, OVERLAPS, WITHIN_DISTANCE, OUTSIDE = 0, 1, 2, 3

# Polygons with more vertices than this are also indexed as boundary pieces.
_PIECE_VERTICES = 16
# Longest boundary segment of the k-d nearest search (metres), and its k values.
_SEGMENT_M = 50.0
_K_STEPS = (8, 32)
_KD_WORKERS = -1  # k-d queries on every core
# box skip: the least metres per degree of latitude (equator) and of longitude times
# 1/cos(latitude) (the equatorial radius), and a slack for projection scale
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_319.49
_BOX_SLACK = 1.1
_METRIC_LOCK = threading.Lock()
_LONLAT = "EPSG:4326"


# lon/lat probe points over China and around it: a pipeline transformer is used only
# when it gives bit-identical coordinates here
_PROBE_LON, _PROBE_LAT = (
    a.ravel() for a in np.meshgrid(np.linspace(70, 140, 29), np.linspace(15, 55, 17))
)


@cache
def _transformer(src: str | int, dst: str | int) -> Transformer:
    """A cached transformer (always x, y) whose per-thread copies are cheap to make.

    pyproj gives each thread its own PROJ object, made on the thread's first call. Made
    from a CRS pair, that is a search of the PROJ database: 0.1-0.3 s per thread and
    CRS pair, paid by the first requests each web worker thread answers. Made from the
    operation's PROJ pipeline it takes 0.2 ms; the pipeline is used when it reproduces
    the searched operation exactly on probe points.
    """
    tr = Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)
    try:
        fast = Transformer.from_pipeline(tr.to_proj4())
        same = all(
            np.array_equal(a, b, equal_nan=True)
            for a, b in zip(
                tr.transform(_PROBE_LON, _PROBE_LAT),
                fast.transform(_PROBE_LON, _PROBE_LAT),
                strict=True,
            )
        )
    except Exception:  # no pipeline form: keep the searched operation
        return tr
    return fast if same else tr


@cache
def _wkt(crs: CRS) -> str:
    return crs.to_wkt()


def transform_geoms(geoms: NDArray[Any], src: str | int, dst: str | int) -> NDArray[Any]:
    """Reproject an array of shapely geometries (vectorised over all coordinates).

    Parameters
    ----------
    geoms
        Array of shapely geometries.
    src, dst
        Anything :meth:`pyproj.CRS.from_user_input` accepts.

    Returns
    -------
    numpy.ndarray
        New geometries in ``dst``.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return geoms.copy()
    tr = _transformer(src, dst)

    def _xy(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _xy)


def _first_of_runs(values: NDArray[Any]) -> NDArray[np.bool_]:
    """Whether each element starts a run of equal consecutive values (``np.r_`` is slow)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    return np.concatenate(([True], values[1:] != values[:-1]))


def _runs(values: NDArray[Any]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Start and length of each run of equal consecutive values of a non-empty array."""
    start = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    return start, np.diff(np.concatenate((start, [len(values)])))


def metric_epsg(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return the EPSG code of the local metric CRS for each lon/lat position.

    The same choice as :func:`geo.crs.metric_crs_for_lonlat`, vectorised: the CGCS2000
    3-degree Gauss-Krüger zone (EPSG:4534–4554; zone ``floor(lon / 3 + 0.5)``, a
    longitude on a zone edge belongs to the eastern zone) inside China's longitudes,
    else the WGS84 UTM zone (EPSG:326xx north, 327xx south).

    Parameters
    ----------
    lon, lat
        Degrees, arrays of the same shape.

    Returns
    -------
    numpy.ndarray of int64
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    zone = np.floor(lon / 3.0 + 0.5).astype("int64")
    gk = (zone >= GK3_ZONES.start) & (zone < GK3_ZONES.stop)
    out = np.zeros(lon.shape, dtype="int64")
    for z in np.unique(zone[gk]):
        out[gk & (zone == z)] = gk_epsg(zone=int(z))
    utm = np.minimum(np.floor((lon + 180.0) / 6.0).astype("int64") + 1, 60)
    out[~gk] = (np.where(lat >= 0, 32600, 32700) + utm)[~gk]
    return out


@dataclass
class SiteBlock:
    """Sites prepared for relating: lon/lat, each in its own metric CRS, and areas.

    Attributes
    ----------
    geoms_ll
        Site geometries in EPSG:4326.
    geoms_m
        Each site in the metric CRS of its centroid (see :func:`metric_epsg`).
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
    """

    geoms_ll: NDArray[Any]
    geoms_m: NDArray[Any]
    epsg: NDArray[np.int64]
    zones: dict[int, NDArray[np.intp]]
    area_m2: NDArray[np.float64]
    areal: NDArray[np.bool_]
    is_point: NDArray[np.bool_]
    simple_point: NDArray[np.bool_] | None = None
    first_xy_m: NDArray[np.float64] | None = None
    length_m: NDArray[np.float64] | None = None
    all_simple_points: bool = field(init=False, default=False)
    _bounds: NDArray[np.float64] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.length_m is None:  # geodesic length of line sites (NaN for others)
            self.length_m = np.full(len(self.geoms_ll), np.nan)
            line = ~self.is_point & ~self.areal
            if line.any():
                self.length_m[line] = geodesic_length(self.geoms_ll[line], _LONLAT)
        if self.simple_point is None:
            self.simple_point = self.is_point & (shapely.get_type_id(self.geoms_m) == 0)
        self.all_simple_points = bool(self.simple_point.all())
        if self.first_xy_m is None:
            xy, owner = shapely.get_coordinates(self.geoms_m, return_index=True)
            if not self.all_simple_points:  # lines, polygons, multipoints: first vertex
                xy = xy[_first_of_runs(owner)]
            self.first_xy_m = xy

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.geoms_ll)

    def bounds(self) -> NDArray[np.float64]:
        """Lon/lat bounding box of each site, shape (n, 4) (made once)."""
        if self._bounds is None:
            self._bounds = shapely.bounds(self.geoms_ll)
        return self._bounds


def prepare_sites(geoms_ll: NDArray[Any], *, ea_crs: CRS) -> SiteBlock:
    """Project a block of lon/lat sites into their metric CRSs and measure their areas.

    Parameters
    ----------
    geoms_ll
        Valid, non-empty shapely geometries in EPSG:4326.
    ea_crs
        The equal-area CRS areas are measured in.

    Returns
    -------
    SiteBlock
    """
    geoms_ll = np.asarray(geoms_ll, dtype=object)
    n = len(geoms_ll)
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
        geoms_m = transform_geoms(geoms_ll, _LONLAT, int(epsg[0]))
    else:
        geoms_m = np.empty(n, dtype=object)
        for code in np.unique(epsg):
            pos = np.flatnonzero(epsg == code)
            zones[int(code)] = pos
            geoms_m[pos] = transform_geoms(geoms_ll[pos], _LONLAT, int(code))
    area = np.zeros(n)
    if areal.any():
        area[areal] = shapely.area(transform_geoms(geoms_ll[areal], _LONLAT, _wkt(ea_crs)))
    return SiteBlock(geoms_ll, geoms_m, epsg, zones, area, areal, is_point, simple_pt & is_point)


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
        self.kd = _KDTree((sa + sb) / 2) if _KDTree is not None and len(rep) else None

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
    """

    kind: str
    geoms: NDArray[Any]
    ids: NDArray[Any]
    names: NDArray[Any]
    columns: dict[str, NDArray[Any]]
    areal: NDArray[np.bool_] = field(init=False)
    tree: STRtree = field(init=False)
    bounds: NDArray[np.float64] = field(init=False)
    _metric: dict[int, _Metric] = field(init=False, default_factory=dict)

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
        )
        return sub, pos

    def metric(self, epsg: int) -> _Metric:
        """Return the layer in metric CRS ``epsg`` (cached)."""
        m = self._metric.get(epsg)
        if m is None:
            with _METRIC_LOCK:  # threads checking blocks at once: built once
                m = self._metric.get(epsg)
                if m is None:
                    geoms = transform_geoms(self.geoms, _LONLAT, epsg)
                    pieces, owner = _pieces(geoms)
                    m = _Metric(geoms, pieces, owner, STRtree(pieces), _Segments(geoms))
                    warm_tree(m.piece_tree)  # shared by threads: built before
                    self._metric[epsg] = m
        return m


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
    r = max(float(radius_m), 0.0) * _BOX_SLACK
    dlat = r / _M_PER_DEG_LAT
    lat = min(max(abs(lb[1] - dlat), abs(lb[3] + dlat)), 89.0)
    dlon = min(r / (_M_PER_DEG_LON * np.cos(np.radians(lat))), 360.0)
    sb = block.bounds()
    return (
        (sb[:, 2] < lb[0] - dlon)
        | (sb[:, 0] > lb[2] + dlon)
        | (sb[:, 3] < lb[1] - dlat)
        | (sb[:, 1] > lb[3] + dlat)
    )


def _pair_distances(
    index: LayerIndex, block: SiteBlock, s: NDArray[np.intp], f: NDArray[np.intp], epsg: int
) -> NDArray[np.float64]:
    """Metric distance of site ``s`` to feature ``f`` (all in CRS ``epsg``)."""
    m = index.metric(epsg)
    return shapely.distance(block.geoms_m[s], m.geoms[f])


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
        qi, qp = m.piece_tree.query(block.geoms_m[pos], predicate="dwithin", distance=d_query)
        if len(qi) == 0:
            continue
        s = pos[qi]
        f = m.piece_owner[qp]
        key = s.astype(np.int64) * nfeat + f
        keep = ~np.isin(key, isect_key)
        s, qp, key = s[keep], qp[keep], key[keep]
        d = shapely.distance(block.geoms_m[s], m.pieces[qp])
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
        geoms = block.geoms_m[pos[other]]
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
        inside[chk] = prepared_test(
            shapely.covers, index.geoms[fi[chk]], block.geoms_ll[si[chk]]
        )
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
        overlap[part] = shapely.area(transform_geoms(inter, _LONLAT, _wkt(ea_crs)))
    rel = np.where(inside, INSIDE, OVERLAPS).astype(np.int8)
    s = np.concatenate([si, ws]).astype(np.intp)
    f = np.concatenate([fi, wf]).astype(np.intp)
    relation = np.concatenate([rel, np.full(len(ws), WITHIN_DISTANCE, np.int8)])
    distance = np.concatenate([np.zeros(len(si)), wd])
    overlap = np.concatenate([overlap, np.where(block.areal[ws], 0.0, np.nan)])
    o = np.lexsort((f, s))
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
    return lengths_inside(
        block.geoms_ll[s], index.geoms[f], line, relation == INSIDE, block.length_m[s]
    )


def _intersecting(index: LayerIndex, block: SiteBlock) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(site, feature) pairs that intersect, sorted by site then feature.

    Bounding-box candidates from the tree, then the predicate with the *feature* as
    the prepared geometry (a point against a prepared polygon is a log-time lookup).
    """
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
    o = np.lexsort((fi, si))
    return si[o].astype(np.intp), fi[o].astype(np.intp)


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
