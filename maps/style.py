"""How layers look on ecozone maps, and how they are prepared for display.

One table drives both the interactive (folium) and the print (matplotlib) maps:
colours and labels per layer kind (:data:`LAYER_STYLES`), per category value
(control-unit category, water-source grade) and per site-check verdict, plus the
legend and note texts in Chinese and English (:func:`text`).

The second half prepares inputs for display only: :func:`collect_layers` accepts a
mapping of kind → GeoDataFrame (or ``layers.Layer``), :func:`display_metric_crs` picks
the Gauss-Krüger zone, :func:`simplify_for_display` thins vertices in that metric CRS.
The inputs are never modified and nothing here is meant for measurement.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import InputFormatError
from layers.kinds import ACCESS_DIMENSIONS, KINDS, LayerKind, canonical_kind
from zoning.check.result import VERDICT_COLOURS
from zoning.outcomes import OUTCOME_LABELS as OUTCOMES
from zoning.outcomes import VERDICT_LABELS

log = logging.getLogger(__name__)

LANGS = ("zh", "en")


@dataclass(frozen=True)
class LayerStyle:
    """Display style of one layer kind (or of one category / verdict within it).

    Attributes
    ----------
    label_zh, label_en
        Legend and layer-control label.
    color
        Outline / line / point edge colour (hex).
    fill
        Fill colour, or ``None`` for outlines only.
    fill_opacity
        0–1.
    weight
        Line width in pixels (interactive) / points (print).
    dash
        Dash pattern as Leaflet ``dashArray`` (e.g. ``"6 4"``), or ``None``.
    radius
        Marker radius in pixels for point features.
    zorder
        Drawing order: higher is drawn on top.
    hatch
        Matplotlib hatch for print maps, or ``None``.
    """

    label_zh: str
    label_en: str
    color: str
    fill: str | None = None
    fill_opacity: float = 0.35
    weight: float = 1.5
    dash: str | None = None
    radius: float = 5.0
    zorder: int = 10
    hatch: str | None = None

    def label(self, lang: str) -> str:
        """Return the label in ``lang`` ("zh" or "en")."""
        return self.label_zh if lang == "zh" else self.label_en


# One source for kind names and looks in every view (CLI, reports, maps, web): the
# layer-kind registry (layers.kinds.registry, each entry's ``style``). Colours are
# ColorBrewer-like, readable in print and on OSM / 天地图 basemaps.
GENERIC_STYLE = LayerStyle("图层", "Layer", "#525252", "#969696", 0.35, 1.0, zorder=30)


def _kind_style(info: LayerKind) -> LayerStyle:
    st = info.style
    return LayerStyle(
        info.label_zh, info.label_en, st.color, st.fill, st.fill_opacity, st.weight, st.dash,
        st.radius, st.zorder, st.hatch,
    )  # fmt: skip


LAYER_STYLES: dict[str, LayerStyle] = {kind: _kind_style(info) for kind, info in KINDS.items()}

# Category colours within a kind: kind -> (column, value -> style).
CATEGORY_STYLES: dict[str, tuple[str, dict[str, LayerStyle]]] = {
    "control_unit": (
        "category",
        {
            "priority": LayerStyle(
                "优先保护单元",
                "Priority-protection unit",
                "#1a9850",
                "#91cf60",
                0.40,
                0.6,
                zorder=12,
            ),
            "key": LayerStyle(
                "重点管控单元", "Key-control unit", "#d73027", "#fc8d59", 0.40, 0.6, zorder=12
            ),
            "general": LayerStyle(
                "一般管控单元", "General-control unit", "#b8a200", "#fee08b", 0.40, 0.6, zorder=12
            ),
        },
    ),
    "nature_reserve": (
        "zone",
        {
            "core": LayerStyle(
                "核心区", "Core zone", "#003c30", "#01665e", 0.55, 1.0, zorder=19, hatch=".."
            ),
            "unzoned": LayerStyle(
                "未分区(按核心区、缓冲区管理)",
                "Not zoned (managed as core and buffer)",
                "#003c30",
                "#01665e",
                0.55,
                1.0,
                zorder=19,
                hatch="..",
            ),
            "buffer": LayerStyle(
                "缓冲区", "Buffer zone", "#01665e", "#35978f", 0.45, 1.0, zorder=18
            ),
            "experimental": LayerStyle(
                "实验区", "Experimental zone", "#35978f", "#80cdc1", 0.40, 1.0, zorder=17
            ),
            "general_control": LayerStyle(
                "一般控制区", "General control zone", "#35978f", "#c7eae5", 0.40, 1.0, zorder=17
            ),
        },
    ),
    "river": (
        "rank",
        {
            "mainstream": LayerStyle(
                "干流", "Mainstream", "#053061", "#2166ac", 0.7, 3.0, zorder=25
            ),
            "major_tributary": LayerStyle(
                "重要支流", "Major tributary", "#2166ac", "#4393c3", 0.6, 2.0, zorder=25
            ),
            "tributary": LayerStyle("支流", "Tributary", "#4393c3", "#92c5de", 0.5, 1.2, zorder=25),
        },
    ),
    "water_source_zone": (
        "grade",
        {
            "1": LayerStyle(
                "一级保护区", "Grade-1 protection zone", "#08306b", "#2171b5", 0.50, 1.0, zorder=23
            ),
            "2": LayerStyle(
                "二级保护区", "Grade-2 protection zone", "#08519c", "#6baed6", 0.40, 1.0, zorder=22
            ),
            "quasi": LayerStyle(
                "准保护区", "Quasi-protection zone", "#4292c6", "#c6dbef", 0.40, 1.0, zorder=21
            ),
        },
    ),
}

# Site-check verdicts, worst first: labels from zoning.outcomes, colours from
# zoning.check.result (a legend's English is capitalised).
VERDICT_STYLES: dict[str, LayerStyle] = {
    v: LayerStyle(zh, en[:1].upper() + en[1:], *VERDICT_COLOURS[v], 0.8, 2.0, radius=8.0, zorder=90)
    for v, (zh, en) in VERDICT_LABELS.items()
}
SITE_STYLE = LayerStyle("选址", "Site", "#252525", "#ffffff", 0.8, 2.0, radius=8.0, zorder=90)
BUFFER_STYLE = LayerStyle("缓冲区", "Buffer", "#ff7f00", None, 0.0, 1.8, "6 4", zorder=85)
GAP_STYLE = LayerStyle(
    "覆盖缺口（未覆盖居住用地）",
    "Coverage gap (uncovered residential land)",
    "#ae017e",
    "#f768a1",
    0.6,
    1.2,
    zorder=80,
    hatch="xx",
)

OUTCOME_LABELS: dict[str, tuple[str, str]] = {  # (a legend's English is capitalised)
    k: (zh, en[:1].upper() + en[1:]) for k, (zh, en) in OUTCOMES.items()
}

DIMENSION_LABELS: Mapping[str, tuple[str, str]] = ACCESS_DIMENSIONS

VALUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "level": {
        "province": ("省/自治区", "Province"),
        "municipality": ("直辖市", "Municipality"),
        "district": ("区", "District"),
    },
    "grade": {
        "1": ("一级", "Grade 1"),
        "2": ("二级", "Grade 2"),
        "quasi": ("准保护区", "Quasi-protection"),
    },
    "category": {
        key: (s.label_zh, s.label_en) for key, s in CATEGORY_STYLES["control_unit"][1].items()
    },
    "verdict": {key: (s.label_zh, s.label_en) for key, s in VERDICT_STYLES.items()},
    "outcome": OUTCOME_LABELS,
}

COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "name": ("名称", "Name"),
    "feature_id": ("要素编号", "Feature ID"),
    "site_id": ("选址编号", "Site ID"),
    "synthetic": ("演示数据", "Demonstration data"),
    "adcode": ("行政区划代码", "Admin code"),
    "level": ("级别", "Level"),
    "zone_type": ("分区类型", "Zone type"),
    "grade": ("保护区级别", "Protection grade"),
    "area_m2": ("面积", "Area"),
    "population": ("人口", "Population"),
    "unit_code": ("单元编码", "Unit code"),
    "category": ("管控类别", "Control category"),
    "access_list": ("生态环境准入清单", "Access list"),
    "source_type": ("污染源类型", "Source type"),
    "emissions": ("排放记录", "Emissions"),
    "verdict": ("结论", "Verdict"),
    "verdict_zh": ("结论（中文）", "Verdict (Chinese)"),
    "deciding_rules": ("决定性规则", "Deciding rules"),
    "distance_m": ("距离", "Distance"),
}

TEXTS: dict[str, tuple[str, str]] = {
    "legend": ("图例", "Legend"),
    "sites": ("选址", "Sites"),
    "buffers": ("缓冲区", "Buffers"),
    "gaps": ("覆盖缺口（未覆盖居住用地）", "Coverage gaps (uncovered residential land)"),
    "findings": ("检查发现", "Findings"),
    "no_findings": ("无适用规则", "No rule applies"),
    "basis": ("依据", "Basis"),
    "distance": ("距离", "Distance"),
    "truncated": (
        "「{layer}」要素过多，仅显示前 {shown} 个（共 {total} 个）",
        "“{layer}”: only the first {shown} of {total} features are shown",
    ),
    "simplified": (
        "显示用几何已简化（容差 {tol} 米），量算结果不受影响",
        "Display geometries simplified (tolerance {tol} m); measurements are unaffected",
    ),
    "basemap_osm": ("底图：OpenStreetMap（需联网）", "Basemap: OpenStreetMap (needs internet)"),
    "basemap_tianditu": (
        "底图：天地图（需联网及密钥）",
        "Basemap: Tianditu (needs internet and a key)",
    ),
    "basemap_custom": ("底图：自定义瓦片服务", "Basemap: custom tile server"),
    "basemap_none": ("无底图", "No basemap"),
    "shifted_to": (
        "图层已转换为 {system} 坐标以与底图对齐",
        "Layers shifted into {system} to line up with the basemap",
    ),
    "custom_tiles": ("自定义瓦片", "Custom tiles"),
    "tianditu_vec": ("天地图矢量", "Tianditu vector"),
    "tianditu_cva": ("天地图注记", "Tianditu labels"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "north": ("北", "N"),
    "crs_note": ("坐标系：{crs}", "Coordinate system: {crs}"),
    "made_with": ("制图：ecozone {version}", "Made with ecozone {version}"),
}

SYNTHETIC_NOTE = "演示数据，非官方 / Demonstration data, not official"
"""Shown, in both languages, whenever a displayed feature has ``synthetic=True``."""


def check_lang(lang: str) -> str:
    """Validate a ``lang`` argument.

    Parameters
    ----------
    lang
        "zh" or "en".

    Returns
    -------
    str
        ``lang``.

    Raises
    ------
    InputFormatError
        Any other value.
    """
    if lang not in LANGS:
        msg = f"lang={lang!r} is not supported; use lang='zh' (中文) or lang='en' (English)"
        raise InputFormatError(msg)
    return lang


def text(key: str, lang: str, **fields: Any) -> str:
    """Return a legend / note text in ``lang``, with ``{fields}`` filled in."""
    zh, en = TEXTS[key]
    return (zh if lang == "zh" else en).format(**fields)


def layer_style(kind: str) -> LayerStyle:
    """Return the style of a layer kind (a neutral grey style for unknown kinds)."""
    style = LAYER_STYLES.get(canonical_kind(kind))
    if style is None:
        return replace(GENERIC_STYLE, label_zh=kind, label_en=kind)
    return style


def value_label(column: str, value: Any, lang: str) -> str:
    """Return the display label of a coded value (category, grade, verdict...)."""
    labels = VALUE_LABELS.get(column, {}).get(str(value))
    if labels is None:
        return str(value)
    return labels[0] if lang == "zh" else labels[1]


def column_label(column: str, lang: str) -> str:
    """Return the display label of an attribute column (the column name if unknown)."""
    labels = COLUMN_LABELS.get(column)
    if labels is None:
        return column
    return labels[0] if lang == "zh" else labels[1]


def category_styles(kind: str, gdf: gpd.GeoDataFrame) -> tuple[str | None, dict[str, LayerStyle]]:
    """Return the category column and per-value styles to colour a layer by, if any.

    Only categories present in ``gdf`` are returned, in the table's order.
    """
    spec = CATEGORY_STYLES.get(kind)
    if spec is None or spec[0] not in gdf.columns:
        return None, {}
    column, styles = spec
    present = set(gdf[column].astype(str).unique())
    return column, {key: style for key, style in styles.items() if key in present}


# ---------------------------------------------------------------- display preparation


@dataclass
class DisplayLayer:
    """One layer ready to draw: a display copy of its features and what was done to it.

    Attributes
    ----------
    key
        The key the caller used (a layer kind for thematic layers; "sites", "buffers",
        "gaps" for check results).
    kind
        Layer kind used for styling.
    style
        The layer's style.
    gdf
        Display copy (possibly truncated and simplified); never the caller's object.
    total
        Feature count before truncation.
    synthetic
        Whether any shown feature is demonstration data.
    """

    key: str
    kind: str
    style: LayerStyle
    gdf: gpd.GeoDataFrame
    total: int
    synthetic: bool

    @property
    def truncated(self) -> bool:
        """Whether features were left out because of the per-layer cap."""
        return len(self.gdf) < self.total

    def label(self, lang: str) -> str:
        """Return the layer's label in ``lang``."""
        return self.style.label(lang)


def as_gdf(value: Any, arg: str) -> gpd.GeoDataFrame:
    """Return the GeoDataFrame of a GeoDataFrame, GeoSeries or ``layers.Layer``.

    Raises
    ------
    InputFormatError
        Anything else, or a frame without a CRS.
    """
    gdf = value if isinstance(value, pd.DataFrame | pd.Series) else getattr(value, "gdf", value)
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=gdf)
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = (
            f"{arg} should be a GeoDataFrame (or GeoSeries / layers.Layer), "
            f"got {type(value).__name__}"
        )
        raise InputFormatError(msg)
    if gdf.crs is None:
        msg = (
            f"{arg} has no CRS; set it with gdf.set_crs(...) (e.g. 'EPSG:4326' for "
            "lon/lat) before mapping"
        )
        raise InputFormatError(msg)
    return gdf


def is_synthetic(value: Any, gdf: gpd.GeoDataFrame) -> bool:
    """Whether any row of ``gdf`` is demonstration data (or its Layer says so)."""
    if (
        not isinstance(value, pd.DataFrame | pd.Series)
        and getattr(value, "synthetic", False) is True
    ):
        return True
    if "synthetic" not in gdf.columns or gdf.empty:
        return False
    flags = gdf["synthetic"]
    if flags.dtype == object:
        flags = flags.map(lambda v: str(v).strip().lower() in ("true", "1", "yes"))
    return bool(flags.fillna(False).astype(bool).any())


def collect_layers(
    layers: Mapping[str, Any] | None,
    *,
    sites: Any = None,
    buffers: Any = None,
    gaps: Any = None,
    max_features: int | None = None,
) -> list[DisplayLayer]:
    """Normalise map inputs into display layers in drawing order (bottom first).

    Parameters
    ----------
    layers
        Mapping of layer kind (or any name) → GeoDataFrame / ``layers.Layer``.
    sites, buffers, gaps
        Optional site-check sites, buffers and coverage gaps.
    max_features
        Keep at most this many features per layer (the first ones, in input order).

    Returns
    -------
    list of DisplayLayer
        Empty layers are kept (they still appear in the legend and layer control).

    Raises
    ------
    InputFormatError
        A value is not a GeoDataFrame, or has no CRS.
    """
    out: list[DisplayLayer] = []
    if max_features is not None and max_features < 1:
        msg = f"max_features_per_layer={max_features!r} must be a positive integer"
        raise InputFormatError(msg)
    items: list[tuple[str, str, Any, LayerStyle | None]] = []
    for key, value in (layers or {}).items():
        own_kind = (
            None if isinstance(value, pd.DataFrame | pd.Series) else getattr(value, "kind", None)
        )
        kind = str(own_kind or key)
        items.append((str(key), kind, value, None))
    if gaps is not None:
        items.append(("gaps", "gaps", gaps, GAP_STYLE))
    if buffers is not None:
        items.append(("buffers", "buffers", buffers, BUFFER_STYLE))
    if sites is not None:
        items.append(("sites", "sites", sites, SITE_STYLE))
    for key, kind, value, fixed in items:
        gdf = as_gdf(value, f"layers[{key!r}]" if fixed is None else key)
        style = fixed or layer_style(kind)
        if fixed is None and kind not in LAYER_STYLES and key != kind:
            style = replace(style, label_zh=key, label_en=key)
        own = gdf.attrs.get("label_zh") if fixed is None else None
        if own:  # a zone a pack names (zoning.workflow.layers_in_jurisdiction)
            en = str(gdf.attrs.get("label_en") or own)
            style = replace(style, label_zh=str(own), label_en=en)
        total = len(gdf)
        shown = gdf.iloc[:max_features] if max_features is not None else gdf
        if len(shown) < total:
            log.info("layer %s: showing %d of %d features", key, len(shown), total)
        out.append(
            DisplayLayer(
                key=key,
                kind=kind,
                style=style,
                gdf=shown.copy(),
                total=total,
                synthetic=is_synthetic(value, shown),
            )
        )
    out.sort(key=lambda d: d.style.zorder)
    return out


def lonlat_bounds(frames: list[gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    """Return the lon/lat bounds of all non-empty frames, or ``None`` if all are empty."""
    boxes = []
    for gdf in frames:
        geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if len(geoms):
            b = geoms.to_crs(4326).total_bounds if not _is_lonlat(gdf.crs) else geoms.total_bounds
            if np.isfinite(b).all():
                boxes.append(b)
    if not boxes:
        return None
    arr = np.asarray(boxes)
    return (
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 2].max()),
        float(arr[:, 3].max()),
    )


def _is_lonlat(crs: Any) -> bool:
    c = pyproj.CRS.from_user_input(crs)
    return c.is_geographic


def display_metric_crs(bounds_lonlat: tuple[float, float, float, float] | None) -> pyproj.CRS:
    """Return the local metric CRS (CGCS2000 3° Gauss-Krüger zone) for display work.

    Uses :func:`geo.crs.local_metric_crs` when available; otherwise builds the same
    zone with pyproj (EPSG:4534 + zone − 25; UTM outside China's longitudes).
    """
    if bounds_lonlat is None:
        bounds_lonlat = (116.0, 39.5, 117.0, 40.5)  # Beijing; only for empty maps
    try:
        from geo.crs import local_metric_crs
    except ImportError:  # geo.crs is optional for maps; fall back to the same rule
        local_metric_crs = None
    if local_metric_crs is not None:
        return local_metric_crs(tuple(bounds_lonlat), "EPSG:4326")
    lon = (bounds_lonlat[0] + bounds_lonlat[2]) / 2.0
    lat = (bounds_lonlat[1] + bounds_lonlat[3]) / 2.0
    zone = round(lon / 3.0)
    if 25 <= zone <= 45:
        return pyproj.CRS.from_epsg(4534 + zone - 25)
    utm = min(int((lon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + utm)


def auto_tolerance_m(bounds_m: tuple[float, float, float, float] | np.ndarray) -> float:
    """Return a display simplification tolerance scaled to the extent (metres).

    About 1/20 000 of the extent's diagonal, between 0.5 m and 25 m: a few metres for
    a district, about 12 m for all of Beijing, below what a screen pixel shows.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds_m)
    diag = math.hypot(maxx - minx, maxy - miny)
    if not math.isfinite(diag) or diag <= 0:
        return 0.5
    return float(min(25.0, max(0.5, diag / 20_000.0)))


def simplify_for_display(
    gdf: gpd.GeoDataFrame, metric_crs: pyproj.CRS, tolerance_m: float
) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in ``metric_crs`` with lines and polygons simplified.

    Simplification runs in metres with ``preserve_topology=True`` (vectorised
    ``shapely.simplify``); points are unchanged. For display only: never pass the
    result to measurement code.

    Parameters
    ----------
    gdf
        Input layer (any CRS); not modified.
    metric_crs
        Metric CRS to simplify in (the local Gauss-Krüger zone).
    tolerance_m
        Tolerance in metres; 0 reprojects without simplifying.

    Returns
    -------
    geopandas.GeoDataFrame
        New frame in ``metric_crs``.
    """
    out = gdf.to_crs(metric_crs)  # to_crs returns a new frame
    if tolerance_m > 0 and len(out):
        geoms = np.asarray(out.geometry.array)
        simplified = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
        out = out.set_geometry(gpd.GeoSeries(simplified, index=out.index, crs=metric_crs))
    return out


def count_vertices(gdf: gpd.GeoDataFrame) -> int:
    """Return the total number of coordinates in a layer (for tests and logs)."""
    return int(shapely.count_coordinates(np.asarray(gdf.geometry.array)))


def fmt_number(value: Any, decimals: int = 1) -> str:
    """Format a number with thousands separators; "—" for missing values."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "—"
    if v.is_integer() and decimals >= 0 and abs(v) >= 1000:
        return f"{int(v):,}"
    return f"{v:,.{decimals}f}"


def is_missing(value: Any) -> bool:
    """Whether a cell is empty (None / NaN / NA)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
