"""Import sanity: refuse a dataset that lands where it cannot belong, and say why.

The newest version of a kind is the one every pack uses, so a red line imported with
the wrong coordinate system silently replaces every red line. Before a version is
stored, :func:`check_import` compares where its features land with where they
should be:

- the layer's declared extent (``extent=`` / ``--extent``: adcodes of the store's
  boundary layer or a polygon): every feature must meet it (within
  ``TOLERANCE_M``);
- without a declared extent, the jurisdictions of the store's boundary layer: a
  dataset none of whose features comes within ``FAR_M`` of any of them has landed
  far away;
- whatever the store holds, features around 0°, 0° ("null island": coordinates
  that were missing or projected metres read as degrees).

The refusal names the likely cause: for data read in a Gauss-Krüger or lon/lat
system it tries the other 3° zones (with and without the zone prefix) and swapped
axes, and says which CRS would put the data inside. ``force=True`` (``--force``)
stores it anyway; the store records the forced import in the version's source.
Jurisdictions are data: nothing here names a place.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.prepared
from pyproj import CRS

from geo.crs import transformer
from geo.errors import LayerValidationError, MissingLayerError

__all__ = ["FAR_M", "TOLERANCE_M", "check_import", "import_sanity", "likely_crs"]

#: How far (m) a feature may lie outside a declared extent (digitising slack).
TOLERANCE_M = 2000.0
#: Without a declared extent: data farther than this (m) from every jurisdiction.
FAR_M = 50_000.0
_DEG = 111_320.0  # metres per degree of latitude, for plausibility buffers only
_GK = tuple(range(4513, 4555))  # CGCS2000 3° GK, with (4513–4533) and without prefix


def _crs_suggestions(gdf: gpd.GeoDataFrame, area: shapely.Geometry) -> list[str]:
    """CRSs that would put the data's centre inside ``area`` (the likely fix)."""
    if gdf.crs is None or len(gdf) == 0:
        return []
    xy = shapely.get_coordinates(shapely.centroid(gdf.geometry.to_numpy()))
    x, y = float(np.nanmedian(xy[:, 0])), float(np.nanmedian(xy[:, 1]))
    if not (np.isfinite(x) and np.isfinite(y)):
        return []
    crs = CRS.from_user_input(gdf.crs)
    epsg = crs.to_epsg()
    prepared = shapely.prepared.prep(area)
    candidates: list[tuple[str, float, float]] = []
    if crs.is_geographic:
        candidates.append(("lon/lat with the axes swapped (lat, lon)", y, x))
    if epsg in _GK or crs.is_projected:
        for code in _GK:
            if code == epsg:
                continue
            lon, lat = transformer(code, 4326).transform(x, y)
            candidates.append((f"--crs EPSG:{code} ({CRS.from_epsg(code).name})", lon, lat))
    return [
        name
        for name, lon, lat in candidates
        if np.isfinite(lon) and np.isfinite(lat) and prepared.contains(shapely.Point(lon, lat))
    ]


def likely_crs(gdf: gpd.GeoDataFrame, area: shapely.Geometry) -> str:
    """A sentence naming the likely wrong CRS or zone (empty when none is found)."""
    found = _crs_suggestions(gdf, area)
    if not found:
        return ""
    return " 可能的原因 / likely cause: a wrong CRS or zone; the data would lie inside with " + (
        "; ".join(found[:3])
    )


def _lonlat_boxes(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's bounding box in lon/lat (corners reprojected), and which are finite.

    Boxes, not geometries: data in a wrong CRS may reproject to infinities that GEOS
    refuses, and a box says where a feature lies well enough for this check.
    """
    geoms = gdf.geometry.to_numpy()
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    b = shapely.bounds(geoms[usable])
    xs = np.concatenate([b[:, 0], b[:, 2], b[:, 0], b[:, 2]])
    ys = np.concatenate([b[:, 1], b[:, 1], b[:, 3], b[:, 3]])
    crs = CRS.from_user_input(gdf.crs)
    if not crs.is_geographic or crs.to_epsg() not in (4326, 4490):
        with np.errstate(all="ignore"):
            xs, ys = transformer(crs, 4326).transform(xs, ys)
    n = len(b)
    lon = np.asarray(xs, dtype=float).reshape(4, n)
    lat = np.asarray(ys, dtype=float).reshape(4, n)
    finite = np.isfinite(lon).all(axis=0) & np.isfinite(lat).all(axis=0)
    finite &= (np.abs(lon) <= 180).all(axis=0) & (np.abs(lat) <= 90).all(axis=0)
    boxes = np.full(n, None, dtype=object)
    if finite.any():
        boxes[finite] = shapely.box(
            lon[:, finite].min(axis=0), lat[:, finite].min(axis=0),
            lon[:, finite].max(axis=0), lat[:, finite].max(axis=0),
        )  # fmt: skip
    return boxes, finite


def check_import(
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    extent_area: shapely.Geometry | None,
    jurisdictions: shapely.Geometry | None,
    force: bool = False,
) -> list[str]:
    """Check where a layer's features land before it is stored.

    Parameters
    ----------
    gdf
        The features as read, in their own CRS (used to suggest the right one).
    name
        The layer name, for messages.
    extent_area
        The declared extent as a lon/lat geometry (``None``: none declared).
    jurisdictions
        The union of the store's boundary layer (``None``: the store has none).
    force
        Return the problems instead of raising (the caller records them).

    Returns
    -------
    list of str
        The problems found (empty: the data is where it should be).

    Raises
    ------
    LayerValidationError
        When a problem is found and ``force`` is false; the message names the
        features, the likely cause and ``--force``.
    """
    if gdf.crs is None or len(gdf) == 0:
        return []  # no CRS: the validator says so
    boxes, finite = _lonlat_boxes(gdf)
    if len(boxes) == 0:
        return []
    used = gdf[~(shapely.is_missing(gdf.geometry.to_numpy()) | gdf.geometry.is_empty)]
    ids = used["feature_id"].astype(str).to_numpy() if "feature_id" in used else None
    problems: list[str] = []
    area = extent_area if extent_area is not None else jurisdictions
    if (~finite).any():
        problems.append(
            f"{int((~finite).sum())} of {len(boxes)} features do not map to lon/lat at all in "
            f"{CRS.from_user_input(gdf.crs).name}"
        )
    null = np.zeros(len(boxes), dtype=bool)
    null[finite] = shapely.intersects(shapely.box(-1, -1, 1, 1), boxes[finite])
    if null.any():
        problems.append(
            f"{int(null.sum())} of {len(boxes)} features lie around 0°, 0° (missing "
            "coordinates, or projected metres read as degrees)"
        )
    inside = np.zeros(len(boxes), dtype=bool)
    if extent_area is not None:
        zone = shapely.buffer(extent_area, TOLERANCE_M / _DEG)
        inside[finite] = shapely.intersects(zone, boxes[finite])
        outside = finite & ~inside & ~null
        if outside.any():
            first = ids[outside][0] if ids is not None else "?"
            c = shapely.get_coordinates(shapely.centroid(boxes[outside][:1]))[0]
            problems.append(
                f"{int(outside.sum())} of {len(boxes)} features lie outside the layer's "
                f"declared extent (more than {TOLERANCE_M:,.0f} m), e.g. {first} at "
                f"{c[0]:.5f}, {c[1]:.5f}"
            )
    elif jurisdictions is not None and not null.any() and finite.any():
        zone = shapely.buffer(jurisdictions, FAR_M / _DEG)
        if not shapely.intersects(zone, boxes[finite]).any():
            c = shapely.get_coordinates(shapely.centroid(shapely.union_all(boxes[finite])))[0]
            problems.append(
                f"the data (centre {c[0]:.4f}, {c[1]:.4f}) lies more than "
                f"{FAR_M / 1000:,.0f} km from every jurisdiction of the store's boundary layer"
            )
    if problems and not force:
        cause = likely_crs(gdf, area) if area is not None else ""
        msg = (
            f"导入被拒绝 / layer {name!r}: "
            + "; ".join(problems)
            + "."
            + cause
            + " Fix the CRS (--crs / --zone / --coords) or the extent (--extent); if the data "
            "really belongs there, import it with --force (force=True), which the layer "
            "history records."
        )
        raise LayerValidationError(msg)
    return problems


def import_sanity(
    store: Any,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    kind: str,
    declared: dict[str, Any] | None,
    force: bool,
) -> list[str]:
    """Run :func:`check_import` with the areas a store knows (its boundary layer).

    A boundary layer is checked against its declared extent and null island only.
    Returns the problems of a forced import (empty otherwise).
    """
    from layers.extent import resolve_extent

    boundary = None
    if kind != "boundary":
        try:
            boundary = store.get_kind("boundary", verify=False)
        except MissingLayerError:  # no boundary layer (layers.store.MissingKindError)
            boundary = None
    area, _ = resolve_extent(declared, boundary)
    if area is not None and area.is_empty:
        area = None  # adcodes the boundary does not hold: reported by the extent check
    jurisdictions = None
    if boundary is not None and len(boundary.gdf):
        jurisdictions = shapely.union_all(boundary.gdf.geometry.to_numpy())
    return check_import(gdf, name=name, extent_area=area, jurisdictions=jurisdictions, force=force)


def validated_import(
    store: Any,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    kind: str,
    source: str,
    synthetic: bool,
    declared: dict[str, Any] | None,
    force: bool,
) -> tuple[gpd.GeoDataFrame, str]:
    """Validate features for import and run the sanity check: both stores' one path.

    Returns the validated frame and the version's source, which records a forced
    import. Coordinates in a wrong CRS that break validation are reported with the
    likely cause (the sanity check) before the validation error itself.
    """
    from layers.kinds import validate_layer

    try:
        clean = validate_layer(gdf, kind, name=name, synthetic=synthetic)
    except shapely.errors.GEOSException:  # coordinates in a wrong CRS: say which
        import_sanity(store, gdf, name=name, kind=kind, declared=declared, force=False)
        raise
    forced = import_sanity(store, gdf, name=name, kind=kind, declared=declared, force=force)
    source = source.strip()
    if forced:  # wrong CRS or zone, outside the extent: refused unless forced
        source += f" [强制导入 / forced import: {'; '.join(forced)[:300]}]"
    return clean, source
