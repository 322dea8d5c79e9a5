"""Coverage metrics against plan targets (规划指标测算), per jurisdiction and district.

Every metric returns a :class:`MetricResult`: the value, the target, whether it is
met, the gap in percentage points and in km² (or m² per person), the versions of
the input layers and a per-district table.

Metrics (their names, units and comparisons: :mod:`zoning.coverage.registry`):

============================  ================================================
metric                        measured as
============================  ================================================
``redline_share``             red line area ÷ jurisdiction area
``eco_control_share``         ecological control zone ÷ area
``park_service_coverage``     residential land within a park's service radius
                              ÷ all residential land
``park_area_per_person``      park green space ÷ population
``forest_share``              forest pixels (land-cover raster) ÷ area
``sponge_share``              sponge-city area ÷ built-up area
============================  ================================================

Target values and their plan citations are pack data (``[targets.ID]`` of a pack,
e.g. ``load_pack("beijing").targets``): a metric called without ``target=`` measures
and reports its value with status ``no_target`` (no gap, no verdict).

Method notes (defaults documented here, options on each function):

* Geometry work happens in the local Gauss-Krüger zone of the data
  (:func:`geo.crs.local_metric_crs`); areas are ellipsoidal (Albers equal-area on
  CGCS2000, densified, within 0.01 % of :func:`geo.measure.geodesic_area`).
* Overlapping polygons of a layer are merged before measuring, so no area counts
  twice; polygons that only touch stay apart.
* Park service areas: every park of at least the smallest tier's area gets the
  radius of its tier (default GB/T 50563-2010: ≥ 5 000 m² → 500 m, 2 000–5 000 m² →
  300 m, smaller parks do not count), measured from the park boundary. With
  ``network=`` the radius is walked along the given street lines instead:
  the lines are noded at every crossing into a graph (segment lengths as
  weights); park entrances are the park boundary's vertices every 50 m, snapped
  to the nearest street within 100 m (the snapping distance counts); a
  multi-source Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`, one virtual source
  per radius tier) gives the walking distance of every junction; each street
  segment is reachable up to ``radius − distance`` from either end; the reachable
  pieces buffered by ``access_m`` (default 50 m, the plot depth along a street)
  plus the parks themselves are the service area (details in
  :mod:`zoning.coverage.service`). Park size is the layer's ``area_m2`` (ellipsoidal)
  or, when missing, :func:`geo.measure.geodesic_area`.
* Population-weighted coverage spreads each residential polygon's ``population``
  evenly over it (covered population = population × covered share of the polygon);
  with a population raster the population of each polygon is the raster sum over
  it (exactextract, fractional edge pixels).
* ``method="raster"`` cross-checks park coverage on a grid: residential land is
  rasterised with ``all_touched=False``, parks likewise (plus one pixel per park so
  none vanishes), and a pixel is covered when its centre lies within
  ``radius + resolution / 2`` of a park pixel centre (the park edge lies half a
  pixel beyond the outermost park pixel centre).
* Gap: ``gap_pp = target − value`` for "≥" targets (positive = short of the target);
  ``gap_abs`` is the same gap as area (km² more needed, e.g. residential land to
  cover) or in m² per person.
* Districts: the boundary layer's rows with ``level == "district"`` and
  ``parent_adcode`` equal to the jurisdiction's adcode (:func:`districts_of`).
* Inputs the store does not hold raise :class:`geo.errors.MissingLayerError`
  naming the import command; :func:`measure_targets` turns them into results with
  ``measured=False`` and the reason.

Gap polygons and candidate pocket-park sites: :mod:`zoning.coverage.gaps`; GeoTIFF
products: :mod:`maps.raster`.
"""

from __future__ import annotations

from zoning.coverage.metrics import (
    MetricResult,
    districts_of,
    get_layer,
    metrics_table,
    write_metrics_csv,
)
from zoning.coverage.parks import (
    CoverageGeometry,
    CoverageTile,
    coverage_tiles,
    network_service_area,
    park_coverage_geometry,
    park_service_coverage,
)
from zoning.coverage.shares import (
    DEFAULT_FOREST_CLASSES,
    forest_share,
    park_area_per_person,
    share_of_area,
    sponge_share,
)
from zoning.coverage.targets import measure_targets

__all__ = [
    "DEFAULT_FOREST_CLASSES",
    "CoverageGeometry",
    "CoverageTile",
    "MetricResult",
    "coverage_tiles",
    "districts_of",
    "forest_share",
    "get_layer",
    "measure_targets",
    "metrics_table",
    "network_service_area",
    "park_area_per_person",
    "park_coverage_geometry",
    "park_service_coverage",
    "share_of_area",
    "sponge_share",
    "write_metrics_csv",
]
