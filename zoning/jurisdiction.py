"""The one selection of a pack's jurisdiction from a boundary layer.

A leaf module (no import of the check engine or the coverage measures), so that every
part of zoning can use it without an import cycle: :mod:`zoning.workflow` (the area,
the maps), the web pages, and the checker's and the coverage measures' own jurisdiction
tests. :func:`zoning.workflow.jurisdiction_area` unions it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["boundary_rows", "jurisdiction_codes", "jurisdiction_rows"]


def jurisdiction_codes(pack: Any) -> list[str]:
    """The adcodes a pack's jurisdiction names, as text (none: an empty list).

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack` (its ``jurisdiction.adcodes``).

    Returns
    -------
    list of str
    """
    return [str(c) for c in (getattr(pack.jurisdiction, "adcodes", None) or [])]


def jurisdiction_rows(pack: Any, boundary: Any, *, children: bool = False) -> Any:
    """The boundary features of a pack's jurisdiction: rows whose adcode the pack names.

    Parameters
    ----------
    pack
        The rule pack (its ``jurisdiction.adcodes``; none: no rows).
    boundary
        The boundary layer's GeoDataFrame (or a :class:`layers.Layer`); without an
        ``adcode`` column nothing matches.
    children
        Also the rows whose ``parent_adcode`` the pack names (its districts, for maps).

    Returns
    -------
    geopandas.GeoDataFrame
        The matching rows (possibly empty), in the layer's CRS.
    """
    return boundary_rows(boundary, jurisdiction_codes(pack), children=children)


def boundary_rows(boundary: Any, codes: Any, *, children: bool = False) -> Any:
    """The boundary features whose adcode is one of ``codes`` (a pack's or a scope's).

    Parameters
    ----------
    boundary
        The boundary layer's GeoDataFrame (or a :class:`layers.Layer`); without an
        ``adcode`` column nothing matches.
    codes
        Adcodes (numbers or text; compared as text).
    children
        Also the rows whose ``parent_adcode`` is one of ``codes``.

    Returns
    -------
    geopandas.GeoDataFrame
        The matching rows (possibly empty), in the layer's CRS.
    """
    gdf = getattr(boundary, "gdf", boundary)
    codes = [str(c) for c in codes]
    if "adcode" not in gdf.columns:
        return gdf.iloc[0:0]
    sel = gdf["adcode"].astype(str).isin(codes)
    if children and "parent_adcode" in gdf.columns:
        sel = sel | gdf["parent_adcode"].astype(str).isin(codes)
    return gdf[sel]
