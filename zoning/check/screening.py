"""Screening radius (周边敏感目标筛查): every feature within given distances of a site.

What NEPAssist and IBAT reports give a reviewer before the rule-by-rule check: for
each radius (default 500 m, 1 km, 5 km, or the pack's ``screening_radii_m``), every
feature of every layer within it, with its name or code, the shortest distance from
the site and the direction it lies in (东北 …) as seen from the site.

Method: the site and the candidate features (found with one STRtree query per layer
on the largest radius, padded in degrees) are projected to the site's local
Gauss-Krüger zone (:func:`geo.crs.local_metric_crs`); the shortest line is found there
and its length made ellipsoidal by the plane's scale along it (:mod:`geo.scale`; the
tests compare with :class:`pyproj.Geod`).
The direction is the geodesic azimuth from the site's nearest point to the
feature's nearest point (the shortest line between them); a feature the site
touches or overlaps has distance 0 and direction 重叠 / overlapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from geo.crs import local_metric_crs, transformer
from geo.errors import InputFormatError
from geo.scale import plane_scale
from zoning.check.layer_index import text_array

__all__ = ["DEFAULT_RADII_M", "DIRECTIONS", "LABEL_COLUMNS", "direction_of", "screen_radius"]

#: Default screening radii in metres, when neither the caller nor the pack gives any.
DEFAULT_RADII_M: tuple[float, ...] = (500.0, 1000.0, 5000.0)
#: Columns tried in order for a feature's label (name, then code, then id).
LABEL_COLUMNS: tuple[str, ...] = ("name", "unit_code", "feature_id")
#: Eight compass directions, clockwise from north: (Chinese, English).
DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("北", "N"),
    ("东北", "NE"),
    ("东", "E"),
    ("东南", "SE"),
    ("南", "S"),
    ("西南", "SW"),
    ("西", "W"),
    ("西北", "NW"),
)
_OVERLAP = ("重叠", "overlapping")
_MAX_RADIUS_M = 50_000.0  # a screening, not a regional inventory
_GEOD = Geod(ellps="GRS80")
# degrees of latitude per metre, padded: candidates are found in lon/lat before the
# exact metric distance; 1° of longitude at 55°N is still > 63 km
_DEG_PER_M = 1.0 / 63_000.0


def direction_of(azimuth_deg: np.ndarray | float) -> np.ndarray:
    """Index into :data:`DIRECTIONS` of each azimuth (degrees clockwise from north)."""
    az = np.mod(np.asarray(azimuth_deg, dtype=float), 360.0)
    return (np.floor((az + 22.5) / 45.0) % 8).astype(np.intp)


def _radii(radii_m: Sequence[float] | None) -> np.ndarray:
    values = np.asarray(sorted(set(radii_m or DEFAULT_RADII_M)), dtype=float)
    if len(values) == 0 or not np.all(np.isfinite(values)) or values[0] <= 0:
        msg = (
            "筛查半径须为正数 / screening radii must be positive metres, "
            f"got {list(radii_m or [])}."
        )
        raise InputFormatError(msg)
    if values[-1] > _MAX_RADIUS_M:
        msg = (
            f"筛查半径 {values[-1]:g} m 过大 / a screening radius of {values[-1]:g} m is too "
            f"large; the largest allowed is {_MAX_RADIUS_M:g} m."
        )
        raise InputFormatError(msg)
    return values


def _frame(layer: Any) -> gpd.GeoDataFrame:
    gdf = getattr(layer, "gdf", layer)
    if gdf.crs is None:
        msg = "图层缺少坐标系 / a layer has no CRS."
        raise InputFormatError(msg)
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def screen_radius(
    site: shapely.Geometry,
    layers: Mapping[str, Any],
    *,
    radii_m: Sequence[float] | None = None,
    label_columns: Sequence[str] = LABEL_COLUMNS,
) -> pd.DataFrame:
    """List every feature of every layer within the screening radii of one site.

    Parameters
    ----------
    site
        The site in WGS84 lon/lat (point, line or polygon).
    layers
        Layer kind → :class:`layers.Layer` or GeoDataFrame (any CRS).
    radii_m
        Screening radii in metres (default :data:`DEFAULT_RADII_M`).
    label_columns
        Columns tried in order for the feature's label (name, then code, then id).

    Returns
    -------
    pandas.DataFrame
        One row per feature within the largest radius, nearest first, with
        ``kind``, ``feature_id``, ``label``, ``distance_m``, ``radius_m`` (the
        smallest radius it lies within), ``azimuth_deg`` (NaN when overlapping),
        ``direction_zh``/``direction_en``.

    Raises
    ------
    InputFormatError
        Radii that are not positive or exceed 50 km; a layer without CRS.

    Examples
    --------
    >>> rows = screen_radius(site, {"well": wells}, radii_m=[500, 1000])  # doctest: +SKIP
    """
    radii = _radii(radii_m)
    if site is None or shapely.is_empty(site):
        msg = "场地为空 / the site geometry is empty."
        raise InputFormatError(msg)
    metric = local_metric_crs(site.bounds, "EPSG:4326")
    to_metric = transformer("EPSG:4326", metric)
    scale = plane_scale(metric)
    site_m = shapely.transform(site, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
    search = site.buffer(radii[-1] * _DEG_PER_M * 1.5)  # generous lon/lat window
    parts = []
    for kind, layer in layers.items():
        gdf = _frame(layer)
        if len(gdf) == 0:
            continue
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        candidates = shapely.STRtree(geoms).query(search, predicate="intersects")
        if len(candidates) == 0:
            continue
        cand_m = shapely.transform(
            geoms[candidates], lambda xy: np.column_stack(to_metric.transform(*xy.T))
        )
        dist = scale.distance(site_m, cand_m)
        keep = dist <= radii[-1]
        if not keep.any():
            continue
        pos = candidates[keep]
        label = np.full(len(pos), "", dtype=object)
        for col in reversed(label_columns):  # the first present, non-empty column wins
            if col in gdf.columns:
                text = text_array(gdf[col].iloc[pos])
                label = np.where(text == "", label, text)
        parts.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "feature_id": gdf["feature_id"].iloc[pos].astype(str).to_numpy()
                    if "feature_id" in gdf.columns
                    else gdf.index[pos].astype(str).to_numpy(),
                    "label": label,
                    "distance_m": dist[keep],
                    "_geom_m": cand_m[keep],
                }
            )
        )
    columns = [
        "kind", "feature_id", "label", "distance_m", "radius_m",
        "azimuth_deg", "direction_zh", "direction_en",
    ]  # fmt: skip
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.concat(parts, ignore_index=True)
    out["radius_m"] = radii[np.searchsorted(radii, out["distance_m"].to_numpy(), side="left")]
    # direction: geodesic azimuth along the shortest line, site end → feature end
    line = shapely.shortest_line(site_m, np.asarray(out.pop("_geom_m"), dtype=object))
    ends = shapely.get_coordinates(line).reshape(-1, 2, 2)
    back = transformer(metric, "EPSG:4326")
    lon0, lat0 = back.transform(ends[:, 0, 0], ends[:, 0, 1])
    lon1, lat1 = back.transform(ends[:, 1, 0], ends[:, 1, 1])
    azimuth, _, _ = _GEOD.inv(lon0, lat0, lon1, lat1)
    touching = out["distance_m"].to_numpy() == 0
    azimuth = np.where(touching, np.nan, np.mod(azimuth, 360.0))
    idx = direction_of(np.nan_to_num(azimuth))
    out["azimuth_deg"] = azimuth
    out["direction_zh"] = np.where(touching, _OVERLAP[0], np.array([d[0] for d in DIRECTIONS])[idx])
    out["direction_en"] = np.where(touching, _OVERLAP[1], np.array([d[1] for d in DIRECTIONS])[idx])
    return out.sort_values(["distance_m", "kind"], kind="stable", ignore_index=True)[columns]
