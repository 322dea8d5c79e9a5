"""ecozone through its public API: ``SiteChecker(pack, layers).check(sites)`` and
``park_service_coverage(parks, residential, tiers=...)``.

The pack is the Tongzhou pack (which inherits Beijing's) restricted to the rules on
the benchmark's layers (red line, ecological control zone, wells, water-source
zones, control units, the Tongzhou key area and strict-control zones), so ecozone
answers the same questions as the peers — plus everything its check always does on
top: verdicts, findings with citations, access-list entries, relation rows, and the
nearest feature of every layer.

Timed: the ``check`` call (load: building the ``SiteChecker`` and its indexes and
one warm-up site); the ``park_service_coverage`` call. Reading ``CheckResult`` into
the harness's answer shape is not timed.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from benchmarks.harness.tasks import (
    COVERAGE_TIERS,
    POLYGON_KINDS,
    WELL_M,
    CheckAnswer,
    CoverageAnswer,
)

NAME = "ecozone"
CHECK_KINDS = (*POLYGON_KINDS, "well")


def unavailable_reason() -> str | None:
    """ecozone is always available (it is the project)."""
    return None


def versions() -> dict[str, str]:
    """Versions of ecozone and the libraries it computes with."""
    import pyproj
    import scipy
    import shapely

    from geo.version import __version__ as ecozone_version

    return {
        "ecozone": ecozone_version,
        "shapely": shapely.__version__,
        "GEOS": shapely.geos_version_string,
        "pyproj": pyproj.__version__,
        "PROJ": pyproj.proj_version_str,
        "scipy": scipy.__version__,
        "geopandas": gpd.__version__,
    }


def benchmark_pack() -> Any:
    """The Tongzhou pack, restricted to the rules on the benchmark's layers."""
    from zoning.pack import load_pack

    pack = load_pack("tongzhou")
    keep = [
        r
        for r in pack.rules
        if r.layer in CHECK_KINDS and (r.unless_layer is None or r.unless_layer in CHECK_KINDS)
    ]
    return pack.model_copy(update={"rules": keep})


def load_check(layers: dict[str, gpd.GeoDataFrame], sites: gpd.GeoDataFrame) -> dict[str, Any]:
    """Build the checker: indexes of every layer, and their metric copies.

    A layer's metric copy (the layer in a Gauss-Krüger zone, its boundary pieces and
    segment k-d tree: what distances are measured on) is built once per zone, on first
    use. The layers' extent decides the zones (Beijing spans two); building them here
    keeps index building in the load column, as the peers' index builds are, instead
    of in the first timed check. For the same reason the GEOS indexes inside the
    prepared geometries and STRtrees, which GEOS builds lazily and the check's threads
    share, are built here (``SiteChecker.warm``, as a server does after building its
    checker): the counterpart of the peers' R-tree and GiST indexes.
    """
    import numpy as np

    from geo.crs import metric_epsg
    from zoning.check.engine import SiteChecker

    checker = SiteChecker(benchmark_pack(), {k: layers[k] for k in CHECK_KINDS})
    checker.check(sites.iloc[:1])
    checker.warm()  # the prepared-geometry indexes the check's threads share
    x0, y0, x1, y1 = np.array([layers[k].total_bounds for k in CHECK_KINDS]).T
    lon = np.linspace(np.nanmin(x0), np.nanmax(x1), 64)
    lat = np.full(lon.shape, (np.nanmin(y0) + np.nanmax(y1)) / 2)
    for epsg in np.unique(metric_epsg(lon, lat)):
        for ix in checker.index.values():
            m = ix.metric(int(epsg))  # the whole layer
            if m.segments.size:
                m.segments.kd  # noqa: B018 (the k-d tree, otherwise built on first need)
    return {"checker": checker, "layers": layers}


def run_check(state: dict[str, Any], sites: gpd.GeoDataFrame) -> Any:
    """The timed call: check every site."""
    return state["checker"].check(sites)


def check_answer(state: dict[str, Any], sites: gpd.GeoDataFrame, result: Any) -> CheckAnswer:
    """Read a ``CheckResult`` into the harness's answer shape."""
    layers = state["layers"]
    if len(result.errors):
        msg = f"ecozone rejected {len(result.errors)} sites: {result.errors.head().to_dict()}"
        raise RuntimeError(msg)
    site_pos = pd.Index(sites["site_id"].astype(str))
    rel = result.relations
    kind = rel["kind"].astype(str).to_numpy()
    relation = rel["relation"].astype(str).to_numpy()
    fid = rel["feature_id"].astype(str).to_numpy()
    s = site_pos.get_indexer(rel["site_id"].astype(str))
    parts = []
    for k in POLYGON_KINDS:
        m = (kind == k) & np.isin(relation, ("inside", "overlaps"))
        f = pd.Index(layers[k]["feature_id"].astype(str)).get_indexer(fid[m])
        parts.append(
            pd.DataFrame(
                {
                    "site": s[m],
                    "kind": k,
                    "feature": f,
                    "overlap_m2": rel["overlap_m2"].to_numpy()[m],
                }
            )
        )
    pairs = pd.concat(parts, ignore_index=True)
    dist = rel["distance_m"].to_numpy()
    m = (kind == "well") & (relation != "outside") & (dist <= WELL_M)
    wells = pd.DataFrame(
        {
            "site": s[m],
            "feature": pd.Index(layers["well"]["feature_id"].astype(str)).get_indexer(fid[m]),
            "distance_m": dist[m],
        }
    )
    near = np.full(len(sites), np.nan)
    near[site_pos.get_indexer(result.sites["site_id"].astype(str))] = result.sites[
        "dist_redline_m"
    ].to_numpy()
    if (pairs["feature"] < 0).any() or (wells["feature"] < 0).any():
        raise RuntimeError("ecozone returned a feature_id the benchmark layer does not have")
    return CheckAnswer(len(sites), pairs, wells, near)


def load_coverage(parks: gpd.GeoDataFrame, residential: gpd.GeoDataFrame) -> dict[str, Any]:
    """Nothing to prepare but the import: the coverage function takes the GeoDataFrames."""
    from zoning.coverage.measure import park_service_coverage

    return {"parks": parks, "residential": residential, "fn": park_service_coverage}


def run_coverage(state: dict[str, Any]) -> Any:
    """The timed call: the coverage metric of all residential land."""
    return state["fn"](state["parks"], state["residential"], tiers=list(COVERAGE_TIERS))


def coverage_answer(state: dict[str, Any], result: Any) -> CoverageAnswer:
    """Per-parcel covered area (``park_coverage_geometry``, the metric's geometric core)."""
    from zoning.coverage.measure import park_coverage_geometry

    cov = park_coverage_geometry(state["parks"], state["residential"], tiers=list(COVERAGE_TIERS))
    if len(cov.parts) != len(state["residential"]):
        msg = (
            f"ecozone merged or dropped residential parcels ({len(cov.parts)} parts for "
            f"{len(state['residential'])} parcels): per-parcel answers cannot be compared"
        )
        raise RuntimeError(msg)
    area = cov.area_m2
    covered = area - cov.uncovered_m2
    return CoverageAnswer(
        area,
        covered,
        {
            "metric_value_pct": float(result.value),
            "metric_covered_km2": float(result.details["covered_km2"]),
            "metric_residential_km2": float(result.details["residential_km2"]),
        },
    )


def load_pip(redline: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> dict[str, Any]:
    """The prepared polygons and the point coordinates (no index: the call builds its grid)."""
    import shapely

    polys = redline.geometry.to_numpy()
    shapely.prepare(polys)
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    return {"polys": polys, "x": xy[:, 0].copy(), "y": xy[:, 1].copy()}


def run_pip(state: dict[str, Any]) -> Any:
    """The timed call: ``geo.pip.points_in_polygons``, its default grid path (both cores).

    The grid over the polygons' boxes is built inside the timed call (about 10 ms at
    20 000 polygons); an STRtree query path exists but creates a point geometry per
    site and is about 3× slower.
    """
    from benchmarks.harness.tasks import PipAnswer
    from geo.pip import points_in_polygons

    p, g = points_in_polygons(state["polys"], state["x"], state["y"])
    return PipAnswer(len(state["x"]), p, g)


def run_e2e(layers: dict[str, gpd.GeoDataFrame], sites_path: Any, out: Any) -> Any:
    """End to end: ``zoning.check.batch.run_batch`` from the sites file to a GeoParquet of verdicts.

    What ``ecozone check SITES --out R`` runs, with the benchmark pack and layers
    (the CLI takes a store; the harness's layers are files), and the distances the
    peers compute too (nearest red line, wells).
    """
    from zoning.check.batch import run_batch

    return run_batch(
        str(sites_path), pack=benchmark_pack(), store_or_layers={k: layers[k] for k in CHECK_KINDS},
        out=str(out), distances=["redline", "well"], keep_sites=False,
    )  # fmt: skip
