"""Print maps for reports: PNG or PDF with Chinese text, legend, scale bar, north arrow.

:func:`print_map` draws layers in the local Gauss-Krüger zone (CGCS2000 3°), so one
unit on the axes is one metre on the ground and the scale bar is true. Text uses a
CJK font (Noto Sans CJK SC from ``fonts-noto-cjk``) so Chinese never shows as empty
boxes; PDFs embed TrueType fonts of just the map's characters (``pdf.fonttype`` 42).
Everything is drawn with matplotlib's object API on the Agg canvas: no pyplot, no
display, no global state.

Geometries are drawn as one compound path per layer and style (vectorised with
shapely), thinned to about half a pixel for display only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pyproj
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from geo.crs import transformer
from geo.errors import InputFormatError
from geo.io.atomic import replacing_file
from geo.version import __version__
from maps._assets import cjk_font
from maps.style import (
    SITE_STYLE,
    SYNTHETIC_NOTE,
    VERDICT_STYLES,
    DisplayLayer,
    LayerStyle,
    category_styles,
    check_lang,
    collect_layers,
    display_metric_crs,
    lonlat_bounds,
    simplify_for_display,
    text,
)

log = logging.getLogger(__name__)

A4_LANDSCAPE = (11.69, 8.27)
#: ISO page sizes in inches, portrait (width, height).
PAGE_SIZES: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "A3": (11.69, 16.54)}


def page_size(page: str = "A4", orientation: str = "landscape") -> tuple[float, float]:
    """Figure size in inches of an ISO page.

    Parameters
    ----------
    page
        "A4" or "A3".
    orientation
        "landscape" or "portrait".

    Returns
    -------
    tuple of float
        ``(width, height)`` in inches, for ``print_map(figsize=...)``.

    Raises
    ------
    InputFormatError
        An unknown page or orientation.
    """
    size = PAGE_SIZES.get(str(page).upper())
    if size is None or orientation not in ("landscape", "portrait"):
        msg = (
            f"纸张 {page!r}/{orientation!r} 不支持 / unsupported page: use "
            f"{'|'.join(PAGE_SIZES)} and landscape|portrait."
        )
        raise InputFormatError(msg)
    return size if orientation == "portrait" else (size[1], size[0])


# Figure layout (fractions of the figure): the map's left, bottom, width and height;
# the width shrinks to leave room for the legend on the right.
_MAP_BOX = (0.03, 0.08, 0.70, 0.83)
_MAX_LABELS = 40
_MARGIN = 0.04
_MIN_VIEW_M = 1000.0


def _font() -> FontProperties:
    family, _, _ = cjk_font()
    return FontProperties(family=family)


# --------------------------------------------------------------------- geometry


def _parts(geoms: np.ndarray) -> np.ndarray:
    """Single-part geometries (collections and multi-parts exploded, empties dropped)."""
    parts = shapely.get_parts(geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))])
    # A GeometryCollection explodes into parts that may themselves be multi-part.
    if len(parts) and (shapely.get_type_id(parts) >= 4).any():
        parts = shapely.get_parts(parts)
    return parts


def polygon_path(geoms: np.ndarray) -> MplPath | None:
    """One compound matplotlib Path for all polygons in ``geoms`` (holes kept).

    Exteriors are oriented counter-clockwise and holes clockwise, so the non-zero
    fill rule leaves holes empty.
    """
    parts = _parts(geoms)
    polys = parts[shapely.get_type_id(parts) == 3]
    if not len(polys):
        return None
    polys = shapely.orient_polygons(polys, exterior_cw=False)
    rings = shapely.get_rings(polys)
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return None
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    starts = np.r_[0, np.flatnonzero(np.diff(ring_index)) + 1]
    ends = np.r_[starts[1:] - 1, len(coords) - 1]
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def line_segments(geoms: np.ndarray) -> list[np.ndarray]:
    """Coordinate arrays of every line part in ``geoms`` (for a LineCollection)."""
    parts = _parts(geoms)
    lines = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if not len(lines):
        return []
    coords, index = shapely.get_coordinates(lines, return_index=True)
    starts = np.flatnonzero(np.diff(index)) + 1
    return np.split(coords, starts)


def point_coords(geoms: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates of every point part in ``geoms``."""
    parts = _parts(geoms)
    points = parts[shapely.get_type_id(parts) == 0]
    return shapely.get_coordinates(points)


# ------------------------------------------------------------------------ extent


def _extent_lonlat(extent: Any) -> tuple[float, float, float, float]:
    """Lon/lat bounds of an ``extent`` argument."""
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        if extent.crs is None:
            msg = "extent has no CRS; set it with .set_crs(...) or pass lon/lat bounds"
            raise InputFormatError(msg)
        b = extent.to_crs(4326).total_bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    if isinstance(extent, shapely.Geometry):
        extent = extent.bounds
    try:
        minx, miny, maxx, maxy = (float(v) for v in extent)
    except (TypeError, ValueError):
        msg = (
            f"extent={extent!r} is not understood; pass (min_lon, min_lat, max_lon, "
            "max_lat) in degrees, a shapely geometry in lon/lat, or a GeoDataFrame"
        )
        raise InputFormatError(msg) from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        msg = (
            f"extent={extent!r} should be (min_lon, min_lat, max_lon, max_lat) in degrees "
            "with min < max; for projected bounds pass a GeoDataFrame/GeoSeries with .crs"
        )
        raise InputFormatError(msg)
    return (minx, miny, maxx, maxy)


def _fit_aspect(
    bounds: tuple[float, float, float, float], box_w: float, box_h: float
) -> tuple[float, float, float, float]:
    """Grow bounds (metres) around their centre to the axes' aspect ratio."""
    minx, miny, maxx, maxy = bounds
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    if w / h < box_w / box_h:
        w = h * box_w / box_h
    else:
        h = w * box_h / box_w
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def nice_scale_length(width_m: float, fraction: float = 0.2) -> float:
    """Return a round scale-bar length (1, 2 or 5 × 10ⁿ metres) near ``fraction`` of a width.

    Examples
    --------
    >>> nice_scale_length(23_000)
    5000.0
    >>> nice_scale_length(10_000)
    2000.0
    """
    target = max(width_m * fraction, 1e-9)
    exponent = math.floor(math.log10(target))
    candidates = [step * 10.0**exponent for step in (1.0, 2.0, 5.0, 10.0)]
    # Closest in ratio, so the bar stays near the wanted share of the width.
    return float(min(candidates, key=lambda c: abs(math.log(c / target))))


def _fmt_length(length_m: float) -> str:
    if length_m >= 1000:
        return f"{length_m / 1000:g} km"
    return f"{length_m:g} m"


# ------------------------------------------------------------------------ drawing


def _rgba(color: str, alpha: float) -> tuple[float, float, float, float]:
    r, g, b, _ = mpl.colors.to_rgba(color)
    return (r, g, b, alpha)


def _dashes(style: LayerStyle) -> Any:
    return (0, (4, 2.5)) if style.dash else "solid"


def _draw_geoms(
    ax: Any, geoms: np.ndarray, style: LayerStyle, zorder: float, marker_scale: float = 1.0
) -> None:
    path = polygon_path(geoms)
    if path is not None:
        face = _rgba(style.fill, style.fill_opacity) if style.fill else "none"
        # add_artist, not add_patch: the view is set from the extent, never from the
        # data, and add_patch's data limits walk every curve of the path in Python
        # (about 1 s of a site report's map)
        ax.add_artist(
            PathPatch(
                path,
                facecolor=face,
                edgecolor=style.color,
                linewidth=style.weight * 0.6,
                linestyle=_dashes(style),
                hatch=style.hatch,
                zorder=zorder,
            )
        )
    segments = line_segments(geoms)
    if segments:
        ax.add_collection(
            LineCollection(
                segments,
                colors=style.color,
                linewidths=style.weight * 0.8,
                linestyles=_dashes(style),
                zorder=zorder,
            )
        )
    xy = point_coords(geoms)
    if len(xy):
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=(style.radius * 1.4 * marker_scale) ** 2,
            c=[_rgba(style.fill or style.color, 1.0)],
            edgecolors=style.color,
            linewidths=0.6,
            zorder=zorder + 0.5,
        )


def _groups(d: DisplayLayer) -> list[tuple[np.ndarray, LayerStyle]]:
    """(row mask, style) per category / verdict present in the layer."""
    gdf = d.gdf
    if d.key == "sites" and "verdict" in gdf.columns:
        verdicts = gdf["verdict"].astype(str).to_numpy()
        groups = [(verdicts == v, s) for v, s in VERDICT_STYLES.items() if (verdicts == v).any()]
        other = ~np.isin(verdicts, list(VERDICT_STYLES))
        if other.any():
            groups.append((other, SITE_STYLE))
        return groups
    column, cats = category_styles(d.kind, gdf)
    if column is None:
        return [(np.ones(len(gdf), dtype=bool), d.style)]
    values = gdf[column].astype(str).to_numpy()
    groups = [(values == key, style) for key, style in cats.items()]
    other = ~np.isin(values, list(cats))
    if other.any():
        groups.append((other, d.style))
    return groups


def _geom_kind(gdf: gpd.GeoDataFrame) -> str:
    types = set(gdf.geom_type.dropna())
    if types and types <= {"Point", "MultiPoint"}:
        return "point"
    if types and types <= {"LineString", "MultiLineString", "LinearRing"}:
        return "line"
    return "polygon"


def _legend_handle(style: LayerStyle, kind: str) -> Any:
    if kind == "point":
        return Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=style.radius * 1.4,
            markerfacecolor=style.fill or style.color,
            markeredgecolor=style.color,
        )
    if kind == "line":
        return Line2D([], [], color=style.color, linewidth=style.weight, linestyle=_dashes(style))
    return mpl.patches.Patch(
        facecolor=_rgba(style.fill, style.fill_opacity) if style.fill else "none",
        edgecolor=style.color,
        linewidth=style.weight * 0.6,
        linestyle=_dashes(style),
        hatch=style.hatch,
    )


def _labels(ax: Any, d: DisplayLayer, fp: FontProperties, zorder: float) -> None:
    """Name labels for boundaries and sites when there are few enough to read."""
    column = next((c for c in ("name", "site_id") if c in d.gdf.columns), None)
    if column is None or not (0 < len(d.gdf) <= _MAX_LABELS):
        return
    anchors = shapely.point_on_surface(np.asarray(d.gdf.geometry.array))
    xy = shapely.get_coordinates(anchors)
    names = d.gdf[column].astype(str).to_numpy()
    if len(xy) != len(names):
        return
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    dy = 0 if d.key != "sites" else 1
    for (x, y), name in zip(xy, names, strict=True):
        ax.annotate(
            name,
            (x, y),
            xytext=(0, 9 * dy),
            textcoords="offset points",
            ha="center",
            va="center" if not dy else "bottom",
            fontproperties=fp,
            fontsize=8 if d.key != "sites" else 7.5,
            color="#222222",
            path_effects=halo,
            zorder=zorder + 1,
            annotation_clip=True,
        )


def _scale_bar(ax: Any, bounds: tuple[float, float, float, float], fp: FontProperties) -> float:
    """Draw a scale bar in data units (metres); return its length."""
    minx, miny, maxx, maxy = bounds
    width = maxx - minx
    length = nice_scale_length(width)
    x0 = minx + 0.04 * width
    y0 = miny + 0.04 * (maxy - miny)
    height = 0.008 * (maxy - miny)
    # 5 km → 5 × 1 km; 1 or 2 km → 4 segments of 250 or 500 m.
    n = 5 if str(f"{length:g}")[0] == "5" else 4
    seg = length / n
    for i in range(n):
        ax.add_patch(
            Rectangle(
                (x0 + i * seg, y0),
                seg,
                height,
                facecolor="black" if i % 2 == 0 else "white",
                edgecolor="black",
                linewidth=0.6,
                zorder=200,
                gid="scalebar",
            )
        )
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    common = {"fontproperties": fp, "fontsize": 8, "zorder": 201, "path_effects": halo}
    ax.text(x0, y0 + height * 1.6, "0", ha="center", va="bottom", **common)
    ax.text(
        x0 + length,
        y0 + height * 1.6,
        _fmt_length(length),
        ha="center",
        va="bottom",
        gid="scalebar-label",
        **common,
    )
    return length


def _true_north_angle(crs: pyproj.CRS, lon: float, lat: float) -> float:
    """Angle (degrees, counter-clockwise from the +y axis) of true north on the grid."""
    t = transformer(4326, crs)
    x0, y0 = t.transform(lon, lat)
    x1, y1 = t.transform(lon, min(lat + 0.01, 89.99))
    return math.degrees(math.atan2(-(x1 - x0), y1 - y0))


def _north_arrow(ax: Any, angle_deg: float, fp: FontProperties, lang: str) -> None:
    """North arrow in the top-right corner, rotated to true north."""
    cx, cy, size = 0.94, 0.87, 0.07
    a = math.radians(angle_deg)
    dx, dy = -math.sin(a) * size, math.cos(a) * size
    ax.add_patch(
        FancyArrow(
            cx - dx / 2,
            cy - dy / 2,
            dx,
            dy,
            width=0.012,
            head_width=0.04,
            head_length=0.035,
            length_includes_head=True,
            transform=ax.transAxes,
            facecolor="black",
            edgecolor="black",
            zorder=200,
            gid="north-arrow",
        )
    )
    ax.text(
        cx + dx * 0.75,
        cy + dy * 0.75,
        text("north", lang),
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontproperties=fp,
        fontsize=11,
        fontweight="bold",
        zorder=201,
        path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
    )


def _legend_entries(
    layers: list[tuple[DisplayLayer, gpd.GeoDataFrame]], lang: str
) -> tuple[list[Any], list[str]]:
    """Legend handles and labels: each layer, then its categories / verdicts indented."""
    handles: list[Any] = []
    names: list[str] = []
    for d, gdf in layers:
        kind = _geom_kind(d.gdf)
        handles.append(_legend_handle(d.style, kind))
        names.append(d.label(lang))
        subs = [s for _, s in _groups(DisplayLayer(d.key, d.kind, d.style, gdf, 0, False))]
        if subs and subs != [d.style]:
            handles.extend(_legend_handle(s, kind) for s in subs)
            names.extend("    " + s.label(lang) for s in subs)
    return handles, names


def _legend(
    fig: Figure,
    handles: list[Any],
    names: list[str],
    fp: FontProperties,
    lang: str,
    *,
    loc: str,
    anchor: tuple[float, float],
    ncols: int = 1,
) -> Any:
    legend = fig.legend(
        handles,
        names,
        loc=loc,
        bbox_to_anchor=anchor,
        ncols=ncols,
        prop=fp,
        fontsize=9,
        title=text("legend", lang),
        title_fontproperties=fp,
        frameon=True,
        handlelength=2.2,
        borderpad=0.8,
    )
    legend.get_title().set_fontsize(11)
    return legend


# ---------------------------------------------------------------------------- API


def print_map(
    layers: Mapping[str, Any] | None,
    *,
    title: str,
    out: str | os.PathLike[str] | None = None,
    lang: str = "zh",
    sites: gpd.GeoDataFrame | None = None,
    gaps: gpd.GeoDataFrame | None = None,
    buffers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    extent: Any = None,
    dpi: int = 200,
    figsize: Sequence[float] = A4_LANDSCAPE,
) -> Figure:
    """Draw a print map (PNG or PDF) with title, legend, scale bar and north arrow.

    Parameters
    ----------
    layers
        Mapping of layer kind → GeoDataFrame or ``layers.Layer``, any CRS.
    title
        Map title (Chinese renders with the CJK font).
    out
        Optional output file; ``.png`` or ``.pdf`` (fonts embedded as TrueType).
    lang
        "zh" (default) or "en" for legend and notes.
    sites, gaps, buffers
        Site-check sites (coloured by ``verdict``), coverage gaps, site buffers.
    extent
        Area to show: ``(min_lon, min_lat, max_lon, max_lat)`` in degrees, a shapely
        geometry in lon/lat, or a GeoDataFrame/GeoSeries (any CRS). Default: all data
        plus a 4 % margin.
    dpi
        Resolution of PNG output (and of the display simplification).
    figsize
        Figure size in inches; default A4 landscape (:func:`page_size` gives A3 and
        portrait pages). On a portrait page the legend goes below the map.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (Agg canvas), its map axes first in ``fig.axes``; axes units are
        metres in the local CGCS2000 Gauss-Krüger zone.

    Raises
    ------
    InputFormatError
        Bad ``lang``, ``extent``, output suffix, or a layer without CRS.
    maps._assets.MissingAssetError
        No installed font has Chinese glyphs (install ``fonts-noto-cjk``).

    Examples
    --------
    >>> fig = print_map({"redline": red}, title="生态保护红线", out="red.pdf")  # doctest: +SKIP
    """
    check_lang(lang)
    suffix = None
    if out is not None:
        suffix = Path(out).suffix.lower()
        if suffix not in (".png", ".pdf"):
            msg = f"print_map: out={str(out)!r} should end in .png or .pdf"
            raise InputFormatError(msg)
    fp = _font()
    shown = collect_layers(layers, sites=sites, buffers=buffers, gaps=gaps)

    data_bounds = lonlat_bounds([d.gdf for d in shown])
    view_lonlat = _extent_lonlat(extent) if extent is not None else data_bounds
    metric = display_metric_crs(view_lonlat)
    # transform_bounds needs the searched operation (a pipeline transformer has no CRSs)
    to_metric = pyproj.Transformer.from_crs(4326, metric, always_xy=True)

    fig = Figure(figsize=tuple(figsize), dpi=dpi)
    FigureCanvasAgg(fig)
    # The legend's size decides the map's: measure one listing every layer first.
    # Landscape: legend right of the map; portrait: below it, in two columns.
    portrait = fig.get_figheight() > fig.get_figwidth()
    left, bottom, top, right = _MAP_BOX[0], _MAP_BOX[1], _MAP_BOX[1] + _MAP_BOX[3], 0.97
    entries = _legend_entries([(d, d.gdf) for d in shown], lang)
    if portrait:
        left, right, top, bottom = 0.05, 0.95, 0.91, 0.08
        if entries[0]:
            probe = _legend(fig, *entries, fp, lang, loc="lower left", anchor=(left, 0.06), ncols=2)
            box = probe.get_window_extent(fig.canvas.get_renderer())
            bottom = min(box.transformed(fig.transFigure.inverted()).y1 + 0.02, 0.5)
            probe.remove()
    elif entries[0]:
        probe = _legend(fig, *entries, fp, lang, loc="upper right", anchor=(0.985, top))
        box = probe.get_window_extent(fig.canvas.get_renderer())
        right = box.transformed(fig.transFigure.inverted()).x0 - 0.02
        probe.remove()
    right = max(right, 0.45)  # very long labels: the map keeps half the page
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    ax.set_gid("map")
    box_w = (right - left) * fig.get_figwidth()
    box_h = (top - bottom) * fig.get_figheight()

    if view_lonlat is None:
        bounds = (0.0, 0.0, 1000.0, 1000.0)  # nothing to draw: an empty 1 km frame
    else:
        b = to_metric.transform_bounds(*view_lonlat, densify_pts=21)
        if extent is None:
            # A margin around the data, and at least _MIN_VIEW_M across (a lone site).
            mx = max((b[2] - b[0]) * _MARGIN, (_MIN_VIEW_M - (b[2] - b[0])) / 2)
            my = max((b[3] - b[1]) * _MARGIN, (_MIN_VIEW_M - (b[3] - b[1])) / 2)
            b = (b[0] - mx, b[1] - my, b[2] + mx, b[3] + my)
        bounds = _fit_aspect(tuple(b), box_w, box_h)
    minx, miny, maxx, maxy = bounds
    tolerance = (maxx - minx) / (box_w * dpi) / 2  # half a pixel

    in_view: list[tuple[DisplayLayer, gpd.GeoDataFrame]] = []
    for d in shown:
        gdf = d.gdf[~(d.gdf.geometry.isna() | d.gdf.geometry.is_empty)]
        display = simplify_for_display(gdf, metric, tolerance).cx[minx:maxx, miny:maxy]
        in_view.append((d, display))
        geoms = np.asarray(display.geometry.array)
        layer = DisplayLayer(d.key, d.kind, d.style, display, d.total, d.synthetic)
        # Thousands of wells at full marker size hide the map: shrink dense point layers.
        n_points = len(point_coords(geoms)) if _geom_kind(d.gdf) == "point" else 0
        marker_scale = 1.0 if n_points <= 150 else max(0.35, math.sqrt(150 / n_points))
        for mask, style in _groups(layer):
            _draw_geoms(ax, geoms[mask], style, style.zorder, marker_scale)
        if d.key == "sites" or (d.kind == "boundary" and len(display) <= _MAX_LABELS):
            _labels(ax, layer, fp, d.style.zorder + 100)

    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fbfbf8")

    _scale_bar(ax, bounds, fp)
    centre_lon, centre_lat = transformer(metric, 4326).transform(
        (minx + maxx) / 2, (miny + maxy) / 2
    )
    _north_arrow(ax, _true_north_angle(metric, centre_lon, centre_lat), fp, lang)

    fig.text(
        (left + right) / 2,
        0.955,
        title,
        ha="center",
        va="center",
        fontproperties=fp,
        fontsize=16,
        gid="title",
    )
    # The final legend lists what is in view (the probe listed everything).
    handles, names = _legend_entries([(d, g) for d, g in in_view if len(g)], lang)
    if handles and portrait:
        _legend(fig, handles, names, fp, lang, loc="lower left", anchor=(left, 0.06), ncols=2)
    elif handles:
        _legend(fig, handles, names, fp, lang, loc="upper left", anchor=(right + 0.015, top))
    if any(d.synthetic for d in shown):
        ax.text(
            0.015,
            0.985,
            SYNTHETIC_NOTE,
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontproperties=fp,
            fontsize=10,
            color="#b30000",
            fontweight="bold",
            zorder=300,
            gid="demo-label",
            bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#b30000"},
        )
    crs_name = f"{metric.name} (EPSG:{metric.to_epsg()})"
    sep = "；" if lang == "zh" else "; "
    footer = sep.join(
        [
            text("crs_note", lang, crs=crs_name),
            text("made_with", lang, version=__version__),
            date.today().isoformat(),
        ]
    )
    fig.text(left, 0.03, footer, fontproperties=fp, fontsize=7, color="#555555")

    if out is not None:
        save_print_map(fig, out)
    return fig


@contextlib.contextmanager
def _truetype_text(fig: Figure) -> Iterator[None]:
    """Draw the text of ``fig`` with TrueType fonts of just its characters (for a PDF).

    matplotlib subsets each font a PDF embeds with fontTools; for the CFF fonts of
    Noto CJK that took about half a second a font (three a map) and gave fonts poppler
    calls mismatched. Here each CFF font's characters become a small TrueType
    font (:func:`zoning.report.pdf.truetype_subset`, the PDF reports' fonts: glyphs
    converted once and kept), which the text uses while the figure is saved: the same
    text, metrics and layout, as CID TrueType. TrueType fonts are left as they are.
    """
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager
    from matplotlib.text import Text

    from zoning.report.pdf import truetype_subset

    uses: list[tuple[Text, FontProperties, Any]] = []
    chars: dict[Any, set[str]] = {}
    for t in fig.findobj(Text):
        if t.get_text():
            fp = t.get_fontproperties()
            font = font_manager.findfont(fp)
            uses.append((t, fp, font))
            # (+ "lp": matplotlib measures every line's descent on it)
            chars.setdefault(font, set("lp")).update(t.get_text())
    with tempfile.TemporaryDirectory(prefix="ecozone-fonts-") as tmp:
        files: dict[Any, str] = {}
        for i, (font, used) in enumerate(chars.items()):
            path, index = str(font), getattr(font, "face_index", 0)
            try:
                with TTFont(path, fontNumber=index, lazy=True) as face:
                    if "CFF " not in face:
                        continue
                data = truetype_subset(path, index, "".join(sorted(used)))
            except Exception as exc:  # (a faster font is not worth a failed map)
                log.warning("font %s embedded as matplotlib does it: %s", path, exc)
                continue
            files[font] = os.path.join(tmp, f"text-{i}.ttf")
            Path(files[font]).write_bytes(data)
        try:
            for t, fp, font in uses:
                if font in files:
                    own = fp.copy()
                    own.set_file(files[font])
                    t.set_fontproperties(own)
            yield
        finally:
            for t, fp, _ in uses:  # the figure as it was (e.g. saved as PNG next)
                t.set_fontproperties(fp)


def save_print_map(fig: Figure, out: str | os.PathLike[str], *, dpi: int | None = None) -> Path:
    """Write a print map to ``.png`` or ``.pdf`` (TrueType fonts embedded in PDFs).

    Parameters
    ----------
    fig
        A figure from :func:`print_map`.
    out
        Output path; its suffix picks the format. Written to a temporary file in the
        same folder and renamed into place.
    dpi
        Resolution for PNG; default the figure's.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputFormatError
        The suffix is not .png or .pdf.
    """
    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        msg = f"save_print_map: out={str(path)!r} should end in .png or .pdf"
        raise InputFormatError(msg)
    with (
        replacing_file(path) as tmp,
        open(tmp, "wb") as fh,
        mpl.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}),
        _truetype_text(fig) if fmt == "pdf" else contextlib.nullcontext(),
    ):
        fig.savefig(fh, format=fmt, dpi=dpi or fig.dpi, facecolor="white")
    log.info("saved print map to %r", str(path))
    return path


def print_map_bytes(layers: Mapping[str, Any] | None, **kwargs: Any) -> bytes:
    """Return a print map as PNG bytes (for reports); arguments as :func:`print_map`.

    Parameters
    ----------
    layers
        As for :func:`print_map`.
    **kwargs
        Keyword arguments of :func:`print_map` except ``out``.

    Returns
    -------
    bytes
        The PNG file content.
    """
    if kwargs.get("out") is not None:
        msg = "print_map_bytes returns the PNG; do not pass out= (use print_map for files)"
        raise InputFormatError(msg)
    kwargs.pop("out", None)
    fig = print_map(layers, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return buf.getvalue()
