"""Layer extents: the area a layer version is authoritative for.

A layer that holds no feature near a site says "nothing here" only where it was
meant to be complete: its *extent*. Outside it, the store simply has no data, and a
rule reading that layer cannot be judged (数据不足). Each stored version records its
extent as a small dict:

- ``{"adcodes": ["110000", ...]}`` — the jurisdictions (administrative codes of the
  store's ``boundary`` layer) it covers; given at import with
  ``ecozone layers import ... --extent 320102,320104``;
- ``{"wkt": "MULTIPOLYGON (...)"}`` — a lon/lat polygon (``--extent-file FILE``).

Without one (old stores, or imports into a store without a boundary layer), the
default is computed: the top-level jurisdictions of the boundary layer that the
layer's features fall in (:func:`default_extent`). A ``boundary`` layer is
authoritative where its own polygons are, and needs no extent.

Functions
---------
- :func:`parse_extent` — an ``--extent`` / ``--extent-file`` value → extent dict;
- :func:`default_extent` — the jurisdictions a layer's features fall in;
- :func:`resolve_extent` — an extent dict → a lon/lat geometry (via the boundary);
- :func:`extent_stamp` — the short, JSON-safe form recorded in check stamps.

Jurisdictions are data: nothing here names a place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InputFormatError, LayerValidationError

__all__ = [
    "EXTENTS_TABLE",
    "default_extent",
    "extent_from_row",
    "extent_stamp",
    "extent_to_row",
    "parse_extent",
    "resolve_extent",
]

#: Table of recorded extents in both stores: one row per (name, version).
EXTENTS_TABLE = "ecozone_layer_extents"
_ADCODE = re.compile(r"^\d{6}$")
_LONLAT = "EPSG:4326"


def _norm_adcodes(codes: Any, *, where: str) -> list[str]:
    out = []
    for c in codes:
        text = str(c).strip()
        if not _ADCODE.match(text):
            msg = (
                f"{where}: {text!r} is not a 6-digit administrative code (the adcode "
                "of a boundary feature, as in its adcode column); separate several with commas"
            )
            raise InputFormatError(msg)
        out.append(text)
    if not out:
        msg = f"{where}: give at least one 6-digit administrative code"
        raise InputFormatError(msg)
    return sorted(dict.fromkeys(out))


def parse_extent(
    value: str | Mapping[str, Any] | shapely.Geometry | None = None,
    path: str | os.PathLike[str] | None = None,
) -> dict[str, Any] | None:
    """An extent from the import options (``--extent`` codes or ``--extent-file``).

    Parameters
    ----------
    value
        ``"320102,320104"`` (adcodes), a list of adcodes, an extent dict, or a shapely
        polygon in lon/lat; ``None``: not given.
    path
        A polygon file :func:`geo.io.read_vector` reads (any CRS; reprojected to
        lon/lat and dissolved).

    Returns
    -------
    dict or None
        ``{"adcodes": [...]}`` or ``{"wkt": ...}``; ``None`` when neither is given.

    Raises
    ------
    InputFormatError
        Both given, a code that is not 6 digits, or a file without polygons.
    """
    if value is not None and path is not None:
        msg = "give --extent (administrative codes) or --extent-file (a polygon file), not both"
        raise InputFormatError(msg)
    if path is not None:
        from geo.io import read_vector

        gdf = read_vector(path)
        geoms = gdf.to_crs(_LONLAT).geometry.to_numpy()
        geoms = geoms[shapely.get_type_id(geoms) >= 3]  # polygons (3) and multipolygons (6)
        if len(geoms) == 0:
            msg = f"--extent-file {path}: no polygon in the file; give the covered area's outline"
            raise InputFormatError(msg)
        return {"wkt": shapely.to_wkt(shapely.union_all(shapely.make_valid(geoms)))}
    if value is None:
        return None
    if isinstance(value, shapely.Geometry):
        return {"wkt": shapely.to_wkt(value)}
    if isinstance(value, Mapping):
        if "adcodes" in value:
            return {"adcodes": _norm_adcodes(value["adcodes"], where="extent")}
        if "wkt" in value:
            shapely.from_wkt(str(value["wkt"]))  # fails early on bad text
            return {"wkt": str(value["wkt"])}
        msg = f"extent {dict(value)!r}: expected {{'adcodes': [...]}} or {{'wkt': ...}}"
        raise InputFormatError(msg)
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,，;\s]+", value) if p]
        return {"adcodes": _norm_adcodes(parts, where="--extent")}
    return {"adcodes": _norm_adcodes(list(value), where="extent")}


def _boundary_frame(boundary: Any) -> gpd.GeoDataFrame | None:
    if boundary is None:
        return None
    gdf = boundary.gdf if hasattr(boundary, "gdf") else boundary
    if "adcode" not in gdf.columns or len(gdf) == 0:
        return None
    return gdf if gdf.crs is None or gdf.crs.equals(_LONLAT) else gdf.to_crs(_LONLAT)


def default_extent(gdf: gpd.GeoDataFrame, boundary: Any) -> dict[str, Any] | None:
    """The top-level jurisdictions of ``boundary`` that the features of ``gdf`` fall in.

    A jurisdiction whose ``parent_adcode`` is also hit is dropped (a city-wide layer
    is authoritative for the city, not for the districts its features happen to
    touch). ``None`` without a usable boundary or features.

    Parameters
    ----------
    gdf
        The layer's features (lon/lat).
    boundary
        The store's boundary layer (Layer or GeoDataFrame with ``adcode``).

    Returns
    -------
    dict or None
    """
    bnd = _boundary_frame(boundary)
    if bnd is None or len(gdf) == 0:
        return None
    geoms = gdf.geometry.to_numpy()
    if gdf.crs is not None and not gdf.crs.equals(_LONLAT):
        geoms = gdf.to_crs(_LONLAT).geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    # the boundaries query a tree of the features: each large boundary polygon is
    # prepared once (the other way round, every feature was tested against unprepared
    # boundaries: 1.4 s and 870 MB for the demo layers)
    tree = shapely.STRtree(geoms)
    hit = np.unique(tree.query(bnd.geometry.to_numpy(), predicate="intersects")[0])
    if len(hit) == 0:
        return None
    codes = bnd["adcode"].astype(str).to_numpy()[hit]
    parents = (
        bnd["parent_adcode"].astype(str).to_numpy()[hit]
        if "parent_adcode" in bnd.columns
        else np.full(len(hit), "", dtype=object)
    )
    top = [c for c, p in zip(codes, parents, strict=True) if p not in set(codes)]
    return {"adcodes": sorted(dict.fromkeys(top))}


def resolve_extent(
    extent: Mapping[str, Any] | None, boundary: Any
) -> tuple[shapely.Geometry | None, list[str]]:
    """The lon/lat geometry of an extent, and the adcodes the boundary lacks.

    Parameters
    ----------
    extent
        ``{"adcodes": [...]}`` or ``{"wkt": ...}``; ``None`` gives ``None`` (unbounded).
    boundary
        The store's boundary layer (for adcodes).

    Returns
    -------
    (geometry or None, list of str)
        An adcode the boundary does not hold covers nothing (listed second).
    """
    if extent is None:
        return None, []
    if "wkt" in extent:
        return shapely.from_wkt(str(extent["wkt"])), []
    codes = [str(c) for c in extent.get("adcodes") or ()]
    bnd = _boundary_frame(boundary)
    if bnd is None:
        return shapely.Polygon(), codes
    have = bnd["adcode"].astype(str).to_numpy()
    sel = np.isin(have, codes)
    lacking = sorted(set(codes) - set(have[sel].tolist()))
    if not sel.any():
        return shapely.Polygon(), lacking
    return shapely.union_all(bnd.geometry.to_numpy()[sel]), lacking


def extent_stamp(extent: Mapping[str, Any] | None, *, source: str) -> dict[str, Any] | None:
    """Short JSON-safe form of an extent for a check's stamp (polygons by sha256)."""
    if extent is None:
        return None
    if "adcodes" in extent:
        return {"adcodes": list(extent["adcodes"]), "source": source}
    digest = hashlib.sha256(str(extent.get("wkt", "")).encode()).hexdigest()
    return {"polygon_sha256": digest, "source": source}


def extent_to_row(extent: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(adcodes JSON, wkt)`` columns of the extents table."""
    if extent is None:
        return None, None
    if "adcodes" in extent:
        return json.dumps(list(extent["adcodes"])), None
    return None, str(extent["wkt"])


def extent_from_row(adcodes: str | None, wkt: str | None) -> dict[str, Any] | None:
    """The extent dict of an extents-table row (``None``: nothing recorded)."""
    if adcodes:
        try:
            return {"adcodes": [str(c) for c in json.loads(adcodes)]}
        except (ValueError, TypeError) as exc:
            msg = f"{EXTENTS_TABLE}: adcodes {adcodes[:80]!r} is not a JSON list ({exc})"
            raise LayerValidationError(msg) from exc
    if wkt:
        return {"wkt": wkt}
    return None
