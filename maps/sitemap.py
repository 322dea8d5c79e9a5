"""The site map of a check report: the site, its findings and the layers around it.

Drawn by :func:`maps.printmap.print_map` in the site's CGCS2000 Gauss-Krüger zone:
legend, scale bar, north arrow and the coordinate system stated in the footer; for the
A4 text of a report, or as a whole A3 landscape page (``page="a3"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import shapely

from geo.measure import buffer_m
from maps.printmap import page_size, print_map_bytes


def layers_near(
    layers: Mapping[str, Any], area: shapely.Geometry, *, crs: Any = "EPSG:4326"
) -> dict[str, gpd.GeoDataFrame]:
    """The features of each layer that intersect ``area`` (spatial index query).

    Parameters
    ----------
    layers
        Layer kind → :class:`layers.Layer` or GeoDataFrame.
    area
        The window, in ``crs``.
    crs
        CRS of ``area``.

    Returns
    -------
    dict
        Kind → GeoDataFrame of the features inside the window (kinds with none left out).
    """
    out: dict[str, gpd.GeoDataFrame] = {}
    for kind, layer in layers.items():
        gdf = getattr(layer, "gdf", layer)
        if gdf is None or len(gdf) == 0:
            continue
        window = gpd.GeoSeries([area], crs=crs).to_crs(gdf.crs).iloc[0]
        hits = gdf.sindex.query(window, predicate="intersects")
        if len(hits):
            out[kind] = gdf.iloc[sorted(hits)]
    return out


def site_map_png(
    sites: gpd.GeoDataFrame,
    layers: Mapping[str, Any],
    *,
    margin_m: float = 1500.0,
    title: str | None = None,
    lang: str = "zh",
    dpi: int = 150,
    page: str = "a4",
) -> bytes:
    """Draw the sites and the layer features within ``margin_m`` of them as PNG.

    Parameters
    ----------
    sites
        Checked sites (with ``verdict`` to colour them), any CRS.
    layers
        Layer kind → Layer or GeoDataFrame (the layers the check used).
    margin_m
        How far around the sites to show, in metres.
    title
        Map title; default 场址位置图 / Site location.
    lang
        "zh" or "en".
    dpi
        PNG resolution.
    page
        "a4": a block for the A4 text (8.27 × 6.5 in); "a3": a whole A3 landscape
        page (for the report's separate map page).

    Returns
    -------
    bytes
        PNG file content.
    """
    if page not in ("a4", "a3"):
        msg = f"site map page must be 'a4' or 'a3' (got {page!r})"
        raise ValueError(msg)
    if title is None:
        title = "场址位置图" if lang == "zh" else "Site location"
    lonlat = sites.to_crs("EPSG:4326")
    window = buffer_m(lonlat.geometry, margin_m, "EPSG:4326").union_all()
    nearby = layers_near(layers, window)
    return print_map_bytes(
        nearby,
        title=title,
        sites=lonlat,
        extent=window,
        lang=lang,
        dpi=dpi,
        figsize=page_size("A3", "landscape") if page == "a3" else (8.27, 6.5),
    )
