"""Plain GeoPandas, as a typical analyst's script would do the same tasks.

Check: one ``gpd.sjoin(sites, layer, predicate="intersects")`` per polygon layer (in
the layers' lon/lat, like every engine here), overlap areas of polygon sites by
intersecting each joined pair and measuring it in the equal-area CRS; wells by
``sjoin(..., predicate="dwithin", distance=30 × k)`` in EPSG:4548 plus the pair
distances; the nearest red line by ``gpd.sjoin_nearest(..., max_distance=10 km × k)`` in
EPSG:4548, then ``sjoin(..., predicate="dwithin")`` at each site's own distance times
``1 + tasks.NEAREST_TIE_REL`` (the polygons the plane cannot tell from the nearest,
the least on the ellipsoid winning). The pairs' shortest lines (``shortest_line``)
give their ends, and the plane distances are made ellipsoidal (``geo.scale``, the
formula of :func:`benchmarks.harness.tasks.ellipsoidal_m`) before the 30 m and 10 km
thresholds.

Coverage: parks reprojected to EPSG:4548 and buffered by their tier radius
(``quad_segs=16``, as ecozone), ``sjoin`` of the parcels with the discs, the parcel ∩
disc pieces dissolved per parcel, and their equal-area areas.

Load (not timed with the task): the layers reprojected to EPSG:4548 where a distance
is needed, and every layer's spatial index built (``.sindex``).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from benchmarks.harness.dataset import check_ea_crs, coverage_ea_crs
from benchmarks.harness.tasks import (
    METRIC_EPSG,
    NEAREST_MAX_M,
    NEAREST_TIE_M,
    NEAREST_TIE_REL,
    PLANE_K_MAX,
    POLYGON_KINDS,
    WELL_M,
    CheckAnswer,
    CoverageAnswer,
    radius_of,
)
from geo.scale import plane_scale

NAME = "geopandas"


def unavailable_reason() -> str | None:
    """GeoPandas is a dependency of ecozone: always available."""
    return None


def versions() -> dict[str, str]:
    """Versions of GeoPandas and what it computes with."""
    import pyproj

    return {
        "geopandas": gpd.__version__,
        "shapely": shapely.__version__,
        "GEOS": shapely.geos_version_string,
        "pyproj": pyproj.__version__,
        "PROJ": pyproj.proj_version_str,
        "pandas": pd.__version__,
    }


def load_check(layers: dict[str, gpd.GeoDataFrame], sites: gpd.GeoDataFrame) -> dict[str, Any]:
    """Reproject the distance layers, build every spatial index."""
    # positions 0…n-1 as the index: sjoin's index_right is then the feature position
    poly = {k: layers[k][["geometry"]].reset_index(drop=True) for k in POLYGON_KINDS}
    wells_m = layers["well"][["geometry"]].reset_index(drop=True).to_crs(METRIC_EPSG)
    red_m = layers["redline"][["geometry"]].reset_index(drop=True).to_crs(METRIC_EPSG)
    for g in (*poly.values(), wells_m, red_m):
        _ = g.sindex  # built once, reused by every sjoin
    return {"poly": poly, "wells_m": wells_m, "red_m": red_m, "ea": check_ea_crs(layers)}


def run_check(state: dict[str, Any], sites: gpd.GeoDataFrame) -> CheckAnswer:
    """The timed task: every layer joined to the sites."""
    sites = sites[["geometry"]].reset_index(drop=True)
    areal = bool(len(sites)) and sites.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    parts = []
    for kind, layer in state["poly"].items():
        j = gpd.sjoin(sites, layer, predicate="intersects", how="inner")
        s = j.index.to_numpy()
        f = j["index_right"].to_numpy()
        if areal:
            inter = gpd.GeoSeries(
                sites.geometry.values[s].intersection(layer.geometry.values[f]), crs=sites.crs
            )
            overlap = inter.to_crs(state["ea"]).area.to_numpy()
        else:
            overlap = np.full(len(s), np.nan)
        parts.append(pd.DataFrame({"site": s, "kind": kind, "feature": f, "overlap_m2": overlap}))
    pairs = pd.concat(parts, ignore_index=True)
    sites_m = sites.to_crs(METRIC_EPSG)
    j = gpd.sjoin(sites_m, state["wells_m"], predicate="dwithin", distance=WELL_M * PLANE_K_MAX)
    s, f = j.index.to_numpy(), j["index_right"].to_numpy()
    d = _ellipsoidal(sites_m.geometry.values[s], state["wells_m"].geometry.values[f])
    keep = d <= WELL_M
    wells = pd.DataFrame({"site": s[keep], "feature": f[keep], "distance_m": d[keep]})
    near = gpd.sjoin_nearest(
        sites_m, state["red_m"], max_distance=NEAREST_MAX_M * PLANE_K_MAX, distance_col="d"
    )
    # every polygon the plane cannot tell from the nearest, measured on the ellipsoid
    d_min = near["d"].groupby(level=0).min()
    band = gpd.sjoin(sites_m.loc[d_min.index], state["red_m"], predicate="dwithin",
                     distance=d_min.to_numpy() * (1 + NEAREST_TIE_REL) + NEAREST_TIE_M)  # fmt: skip
    s, f = band.index.to_numpy(), band["index_right"].to_numpy()
    d = _ellipsoidal(sites_m.geometry.values[s], state["red_m"].geometry.values[f])
    d = pd.Series(np.where(d <= NEAREST_MAX_M, d, np.nan), index=s)
    near = d.groupby(level=0).min().reindex(range(len(sites))).to_numpy()
    return CheckAnswer(len(sites), pairs, wells, near)


def _ellipsoidal(a: Any, b: Any) -> np.ndarray:
    """Ellipsoidal distances of EPSG:4548 geometry pairs, from their shortest lines."""
    return plane_scale(METRIC_EPSG).distance(a, b)


def check_answer(state: dict[str, Any], sites: gpd.GeoDataFrame, result: Any) -> CheckAnswer:
    """The task already returns the answer shape."""
    return result


def load_coverage(parks: gpd.GeoDataFrame, residential: gpd.GeoDataFrame) -> dict[str, Any]:
    """Nothing to prepare but the imports: the script starts from the two layers."""
    import geo.crs  # noqa: F401 - imported here, not in the timed task

    return {"parks": parks, "residential": residential}


def run_coverage(state: dict[str, Any]) -> CoverageAnswer:
    """The timed task: discs, join, clip, dissolve per parcel, equal-area areas."""
    parks, res = state["parks"], state["residential"]
    ea = coverage_ea_crs(res)
    res_m = res[["geometry"]].to_crs(METRIC_EPSG).reset_index(drop=True)
    parks_m = parks.reset_index(drop=True).to_crs(METRIC_EPSG)
    radius = radius_of(parks_m["area_m2"].to_numpy())
    counted = parks_m[radius > 0]
    # radii on the ellipsoid, drawn at each park's scale
    r = plane_scale(METRIC_EPSG).plane_at(radius[radius > 0], counted.geometry.values)
    discs = gpd.GeoDataFrame(geometry=counted.buffer(r, quad_segs=16).values, crs=METRIC_EPSG)
    j = gpd.sjoin(res_m, discs, predicate="intersects", how="inner")
    pieces = gpd.GeoDataFrame(
        {"parcel": j.index.to_numpy()},
        geometry=res_m.geometry.values[j.index.to_numpy()].intersection(
            discs.geometry.values[j["index_right"].to_numpy()]
        ),
        crs=METRIC_EPSG,
    )
    covered = pieces.dissolve(by="parcel")
    cov_m2 = np.zeros(len(res_m))
    cov_m2[covered.index.to_numpy()] = covered.to_crs(ea).area.to_numpy()
    res_m2 = res_m.to_crs(ea).area.to_numpy()
    return CoverageAnswer(res_m2, cov_m2)


def coverage_answer(state: dict[str, Any], result: Any) -> CoverageAnswer:
    """The task already returns the answer shape."""
    return result


def load_pip(redline: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> dict[str, Any]:
    """Both frames with positional indexes; the red line's spatial index built."""
    red = redline[["geometry"]].reset_index(drop=True)
    _ = red.sindex
    return {"red": red, "pts": points[["geometry"]].reset_index(drop=True)}


def run_pip(state: dict[str, Any]) -> Any:
    """The timed call: ``gpd.sjoin(points, redline, predicate="intersects")``."""
    from benchmarks.harness.tasks import PipAnswer

    j = gpd.sjoin(state["pts"], state["red"], predicate="intersects", how="inner")
    return PipAnswer(len(state["pts"]), j.index.to_numpy(), j["index_right"].to_numpy())
