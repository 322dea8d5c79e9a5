"""Interactive web maps (folium / Leaflet) that work offline.

:func:`interactive_map` draws thematic layers, site-check results (sites coloured by
verdict, their buffers, findings in the popup) and park-coverage gaps on one Leaflet
map with a layer control and a Chinese (or English) legend. :func:`save_interactive`
writes it as one self-contained HTML file: Leaflet's JS/CSS are inlined from the
package (``maps/static``), never loaded from a CDN, so the page opens on an intranet.
Only the basemap tiles need a network, and ``basemap="none"`` or an intranet tile URL
removes that too.

Every user string reaches the page HTML-escaped (popups, tooltips, layer names,
legend, title): Leaflet inserts them as HTML. Layers are reprojected to EPSG:4326 for
display, their vertices thinned in the local Gauss-Krüger zone (display only), and
capped per layer with a note on the map.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.utilities import JsCode
from jinja2 import Template

from geo.chinacoords import convert_geometry
from geo.errors import InputFormatError
from geo.io.atomic import replacing_file
from maps._assets import ASSETS, OfflineFigure, RawHTML
from maps.basemap import OSM_URL, Basemap, parse_basemap
from maps.style import (
    DIMENSION_LABELS,
    SITE_STYLE,
    SYNTHETIC_NOTE,
    VERDICT_STYLES,
    DisplayLayer,
    LayerStyle,
    auto_tolerance_m,
    category_styles,
    check_lang,
    collect_layers,
    column_label,
    display_metric_crs,
    fmt_number,
    is_missing,
    layer_style,
    lonlat_bounds,
    simplify_for_display,
    text,
    value_label,
)

log = logging.getLogger(__name__)

BASEMAPS = ("osm", "tianditu", "none")
DEFAULT_MAX_FEATURES = 5000
_MAX_POPUP_COLUMNS = 24
_MAX_TEXT = 400
_COORD_DECIMALS = 7  # ~1 cm: enough for display, keeps the page small

# Popups and tooltips are pre-escaped HTML strings in the feature properties.
_ON_EACH_FEATURE = JsCode(
    """function(feature, layer) {
    var p = feature.properties || {};
    if (p._popup) { layer.bindPopup(p._popup, {maxWidth: 420, maxHeight: 360}); }
    if (p._tooltip) { layer.bindTooltip(p._tooltip, {sticky: true}); }
}"""
)

_CSS = """
<style>
.ecz-box { position: fixed; z-index: 1000; background: rgba(255,255,255,0.92);
  border: 1px solid #999; border-radius: 4px; padding: 6px 10px;
  font: 13px/1.4 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
.ecz-legend { bottom: 24px; left: 10px; max-height: 60vh; overflow-y: auto; max-width: 320px; }
.ecz-legend-title { font-weight: bold; margin-bottom: 4px; }
.ecz-row { display: flex; align-items: center; margin: 2px 0; }
.ecz-sub { margin-left: 14px; }
.ecz-swatch { display: inline-block; width: 18px; height: 12px; margin-right: 6px;
  flex: none; box-sizing: border-box; }
.ecz-dot { border-radius: 50%; width: 12px; height: 12px; margin: 0 9px 0 3px; }
.ecz-notes { margin-top: 6px; color: #555; font-size: 12px; }
.ecz-title { top: 10px; left: 50%; transform: translateX(-50%); font-size: 16px;
  font-weight: bold; }
.ecz-demo { top: 48px; left: 50%; transform: translateX(-50%); color: #b30000;
  border: 2px solid #b30000; font-weight: bold; }
table.ecz-popup { border-collapse: collapse; font-size: 12px; }
table.ecz-popup th { text-align: left; padding: 1px 8px 1px 0; color: #555;
  font-weight: normal; white-space: nowrap; vertical-align: top; }
table.ecz-popup td { padding: 1px 0; }
.ecz-popup-title { font-weight: bold; margin-bottom: 4px; }
.ecz-findings ol { margin: 4px 0 0 0; padding-left: 18px; }
.ecz-findings li { margin-bottom: 4px; }
</style>
"""


class _OfflineMap(folium.Map):
    """A folium Map that asks only for the vendored Leaflet (no jQuery, Bootstrap...)."""

    # Relative URLs into maps/static: used only if rendered outside OfflineFigure
    # (e.g. a web app serving maps/static at /static); OfflineFigure inlines them.
    default_js: ClassVar[list[tuple[str, str]]] = [("leaflet", "static/" + ASSETS["leaflet"])]
    default_css: ClassVar[list[tuple[str, str]]] = [
        ("leaflet_css", "static/" + ASSETS["leaflet_css"])
    ]


class _MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (Leaflet's default adds miles)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def _esc(value: Any) -> str:
    # Braces too: branca's MacroElement.render compiles each rendered macro (GeoJSON
    # data, layer-control names included) as a new Jinja template, so "{{ ... }}" in
    # a feature name would be evaluated. As HTML entities they still show as braces.
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _esc_series(values: pd.Series) -> pd.Series:
    # object dtype first: mapping a categorical column would give a categorical back
    return values.astype(object).map(lambda v: "—" if is_missing(v) else _esc(_clip(str(v))))


def _clip(s: str) -> str:
    return s if len(s) <= _MAX_TEXT else s[: _MAX_TEXT - 1] + "…"


# ------------------------------------------------------------------ popup formatting


def _fmt_json_list(value: Any, column: str, lang: str) -> str:
    """Escaped HTML for the JSON text columns access_list and emissions."""
    if is_missing(value):
        return "—"
    try:
        entries = json.loads(value) if isinstance(value, str) else list(value)
    except (TypeError, ValueError):
        return _esc(_clip(str(value)))
    if not isinstance(entries, list):
        return _esc(_clip(str(value)))
    if column == "emissions":
        totals: dict[str, float] = {}
        for e in entries:
            if isinstance(e, dict):
                key = str(e.get("pollutant", "?"))
                try:
                    totals[key] = totals.get(key, 0.0) + float(e.get("tonnes", 0) or 0)
                except (TypeError, ValueError):
                    continue
        months = "个月度记录" if lang == "zh" else " monthly records"
        parts = [f"{_esc(k)}: {fmt_number(v, 2)} t" for k, v in totals.items()]
        return f"{len(entries)}{_esc(months)}" + ("<br>" + "; ".join(parts) if parts else "")
    items = []
    for e in entries[:8]:
        if not isinstance(e, dict):
            items.append(_esc(_clip(str(e))))
            continue
        dim_zh, dim_en = DIMENSION_LABELS.get(str(e.get("dimension")), (e.get("dimension"),) * 2)
        dim = dim_zh if lang == "zh" else dim_en
        body = e.get("text") if lang == "zh" else (e.get("text_en") or e.get("text"))
        items.append(f"[{_esc(dim)}] {_esc(_clip(str(body)))}")
    if len(entries) > 8:
        items.append(_esc(f"… (+{len(entries) - 8})"))
    return "<br>".join(items)


def _fmt_column(values: pd.Series, column: str, lang: str) -> pd.Series:
    """Escaped HTML cell text for one attribute column."""
    if column == "synthetic":
        yes, no = text("yes", lang), text("no", lang)
        return values.map(lambda v: "—" if is_missing(v) else (yes if bool(v) else no))
    if column in ("access_list", "emissions"):
        return values.map(lambda v: _fmt_json_list(v, column, lang))
    if column == "area_m2":
        return values.map(
            lambda v: (
                "—"
                if is_missing(v)
                else f"{fmt_number(v, 1)} m² ({fmt_number(float(v) / 1e4, 2)} ha)"
            )
        )
    if column == "distance_m" or (column.startswith("dist_") and column.endswith("_m")):
        return values.map(lambda v: "—" if is_missing(v) else f"{fmt_number(v, 1)} m")
    if column in ("level", "grade", "category", "verdict", "outcome"):
        return values.map(lambda v: "—" if is_missing(v) else _esc(value_label(column, v, lang)))
    if pd.api.types.is_float_dtype(values):
        return values.map(lambda v: "—" if is_missing(v) else fmt_number(v, 2))
    return _esc_series(
        values.map(lambda v: "; ".join(map(str, v)) if isinstance(v, list | tuple) else v)
    )


def _popup_columns(gdf: gpd.GeoDataFrame) -> list[str]:
    first = ["name", "site_id", "feature_id", "verdict", "deciding_rules"]
    skip = {gdf.geometry.name, "verdict_zh"}
    cols = [c for c in first if c in gdf.columns]
    cols += [
        c for c in gdf.columns if c not in cols and c not in skip and not str(c).startswith("_")
    ]
    return cols[:_MAX_POPUP_COLUMNS]


def _column_title(column: str, lang: str) -> str:
    if column.startswith("dist_") and column.endswith("_m"):
        kind = column[5:-2]
        sep = "：" if lang == "zh" else ": "
        return f"{text('distance', lang)}{sep}{layer_style(kind).label(lang)}"
    return column_label(column, lang)


def _popups(d: DisplayLayer, lang: str, findings_html: pd.Series | None) -> pd.Series:
    """Pre-escaped popup HTML, one string per feature (built column-wise)."""
    gdf = d.gdf
    title = f'<div class="ecz-popup-title">{_esc(d.label(lang))}</div>'
    body = pd.Series("", index=gdf.index, dtype=object)
    for column in _popup_columns(gdf):
        cells = _fmt_column(gdf[column], str(column), lang).astype(str)
        body = (
            body
            + f"<tr><th>{_esc(_column_title(str(column), lang))}</th><td>"
            + cells
            + "</td></tr>"
        )
    out = title + '<table class="ecz-popup">' + body + "</table>"
    if findings_html is not None:
        out = out + findings_html.reindex(gdf.index).fillna("").astype(str)
    return out


def _tooltips(d: DisplayLayer, lang: str) -> pd.Series:
    gdf = d.gdf
    label = d.label(lang)
    for column in ("name", "site_id", "feature_id"):
        if column in gdf.columns:
            names = gdf[column].map(lambda v: "" if is_missing(v) else str(v))
            break
    else:
        names = pd.Series("", index=gdf.index, dtype=object)
    tips = names.where(names != "", label)
    if "verdict" in gdf.columns:
        tips = tips + gdf["verdict"].map(
            lambda v: "" if is_missing(v) else f" · {value_label('verdict', v, lang)}"
        )
    return tips.map(lambda s: _esc(_clip(s)))


def _findings_html(findings: pd.DataFrame, sites: gpd.GeoDataFrame, lang: str) -> pd.Series:
    """Per-site findings list (escaped HTML), aligned to the sites' index."""
    missing = [c for c in ("site_id", "outcome", "title") if c not in findings.columns]
    if missing or "site_id" not in sites.columns:
        need = missing or ["site_id (in sites)"]
        msg = (
            f"findings cannot be matched to sites: missing column(s) {need}; pass "
            "CheckResult.findings and CheckResult.sites from zoning.check.engine.check_sites"
        )
        raise InputFormatError(msg)
    f = findings.copy()
    rank = {"prohibited": 0, "restricted": 1, "insufficient_data": 2, "needs_review": 3,
            "requirements": 4, "information": 5}  # fmt: skip
    f["_rank"] = f["outcome"].map(rank).fillna(9)
    f = f.sort_values(["_rank"], kind="stable")
    outcome = f["outcome"].astype(object).map(lambda v: _esc(value_label("outcome", v, lang)))
    req_col = "requirement_en" if lang == "en" and "requirement_en" in f.columns else "requirement"
    req = (
        _esc_series(f[req_col]).where(
            f[req_col].map(lambda v: not is_missing(v) and str(v) != ""), ""
        )
        if req_col in f.columns
        else pd.Series("", index=f.index)
    )
    cites = (
        f["citations"].map(
            lambda v: (
                ""
                if v is None or (not isinstance(v, list | tuple | np.ndarray) and is_missing(v))
                else _esc(
                    _clip(
                        "; ".join(map(str, v))
                        if isinstance(v, list | tuple | np.ndarray)
                        else str(v)
                    )
                )
            )
        )
        if "citations" in f.columns
        else pd.Series("", index=f.index)
    )
    dist = (
        f["distance_m"].map(
            lambda v: "" if is_missing(v) else f" ({text('distance', lang)} {fmt_number(v, 1)} m)"
        )
        if "distance_m" in f.columns
        else pd.Series("", index=f.index)
    )
    basis = _esc(text("basis", lang)) + ("：" if lang == "zh" else ": ")
    items = (
        "<li><b>["
        + outcome
        + "]</b> "
        + _esc_series(f["title"])
        + dist
        + req.map(lambda r: f"<br>{r}" if r else "")
        + cites.map(lambda c: f"<br><i>{basis}{c}</i>" if c else "")
        + "</li>"
    )
    per_site = items.groupby(f["site_id"].astype(str), sort=False).agg("".join)
    head = f'<div class="ecz-findings"><b>{_esc(text("findings", lang))}</b>'
    site_keys = sites["site_id"].astype(str)
    lists = site_keys.map(per_site)
    none = f"{head}<div>{_esc(text('no_findings', lang))}</div></div>"
    return lists.map(lambda v: none if is_missing(v) else f"{head}<ol>{v}</ol></div>")


# ------------------------------------------------------------------------- styling


def _leaflet_style(style: LayerStyle) -> dict[str, Any]:
    out: dict[str, Any] = {
        "color": style.color,
        "weight": style.weight,
        "opacity": 1.0,
        "fill": style.fill is not None,
        "fillColor": style.fill or style.color,
        "fillOpacity": style.fill_opacity if style.fill is not None else 0.0,
        "radius": style.radius,
    }
    if style.dash:
        out["dashArray"] = style.dash
    return out


def _feature_styles(d: DisplayLayer) -> tuple[pd.Series, list[LayerStyle]]:
    """Per-feature Leaflet style dicts and the legend entries below the layer's own."""
    gdf = d.gdf
    if d.key == "sites" and "verdict" in gdf.columns:
        verdicts = gdf["verdict"].astype(str)
        present = [v for v in VERDICT_STYLES if (verdicts == v).any()]
        styles = {v: _leaflet_style(VERDICT_STYLES[v]) for v in VERDICT_STYLES}
        default = _leaflet_style(SITE_STYLE)
        return verdicts.map(lambda v: styles.get(v, default)), [VERDICT_STYLES[v] for v in present]
    column, cats = category_styles(d.kind, gdf)
    base = _leaflet_style(d.style)
    if column is None:
        return pd.Series([base] * len(gdf), index=gdf.index, dtype=object), []
    styles = {k: _leaflet_style(s) for k, s in cats.items()}
    return gdf[column].astype(str).map(lambda v: styles.get(v, base)), list(cats.values())


def _is_point_layer(gdf: gpd.GeoDataFrame) -> bool:
    types = gdf.geom_type.dropna()
    return bool(len(types)) and bool(types.isin(["Point", "MultiPoint"]).all())


def _swatch(style: LayerStyle, point: bool) -> str:
    line = "dashed" if style.dash else "solid"
    border = f"{max(1.0, min(style.weight, 3.0)):.0f}px {line} {style.color}"
    if style.fill is None:
        background = "transparent"
    else:
        background = _rgba(
            style.fill, max(style.fill_opacity, 0.8) if point else style.fill_opacity
        )
    cls = "ecz-swatch ecz-dot" if point else "ecz-swatch"
    return f'<span class="{cls}" style="background:{background};border:{border};"></span>'


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.2f})"


# ------------------------------------------------------------------------- basemaps


def _add_basemap(m: folium.Map, b: Basemap, lang: str) -> str:
    """Add the tile layer(s); return the legend note about the basemap."""
    if b.kind == "none":
        return text("basemap_none", lang)
    url = b.url if b.kind == "xyz" else b.leaflet()["url"]
    tianditu = "tianditu.gov.cn" in (url or "")
    folium.TileLayer(
        tiles=url,
        attr=_esc(b.attribution or text("basemap_custom", lang)),
        name=text("tianditu_vec" if tianditu else "custom_tiles", lang),
        subdomains=b.subdomains,
        max_zoom=b.max_zoom,
    ).add_to(m)
    for overlay in b.overlays:
        folium.TileLayer(
            tiles=overlay,
            attr=_esc(b.attribution),
            name=text("tianditu_cva" if tianditu else "custom_tiles", lang),
            subdomains=b.subdomains,
            max_zoom=b.max_zoom,
            overlay=True,
            control=True,
        ).add_to(m)
    if tianditu:
        return text("basemap_tianditu", lang)
    if url == OSM_URL:
        return text("basemap_osm", lang)
    return text("basemap_custom", lang)


# ----------------------------------------------------------------------------- map


def _geojson(
    d: DisplayLayer,
    metric_crs: Any,
    tolerance: float,
    popups: pd.Series,
    lang: str,
    system: str = "wgs84",
) -> dict[str, Any]:
    gdf = d.gdf
    keep = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    display = simplify_for_display(gdf[keep], metric_crs, tolerance).to_crs(4326)
    geoms = np.asarray(display.geometry.array)
    if system != "wgs84":  # drawn on GCJ-02/BD-09 tiles: shift into their system
        geoms = convert_geometry(geoms, src="wgs84", dst=system)
    geoms = shapely.transform(geoms, lambda c: np.round(c, _COORD_DECIMALS))
    styles, _ = _feature_styles(d)
    props = gpd.GeoDataFrame(
        {
            "_popup": popups[keep].to_numpy(dtype=object),
            "_tooltip": _tooltips(d, lang)[keep].to_numpy(dtype=object),
            "style": styles[keep].to_numpy(dtype=object),
        },
        geometry=gpd.GeoSeries(geoms, crs=4326),
    )
    return props.to_geo_dict(drop_id=True)


def interactive_map(
    layers: Mapping[str, Any] | None,
    *,
    sites: gpd.GeoDataFrame | None = None,
    findings: pd.DataFrame | None = None,
    buffers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    gaps: gpd.GeoDataFrame | None = None,
    basemap: str | Basemap = "osm",
    lang: str = "zh",
    title: str | None = None,
    simplify_tolerance_m: float | None = None,
    max_features_per_layer: int | None = DEFAULT_MAX_FEATURES,
    attribution: str | None = None,
) -> folium.Map:
    """Build an offline-capable Leaflet map of layers and site-check results.

    Parameters
    ----------
    layers
        Mapping of layer kind (see ``layers.LAYER_KINDS``; other names get a neutral
        style) → GeoDataFrame or ``layers.Layer``, in any CRS.
    sites
        Sites from ``CheckResult.sites``: coloured by ``verdict`` when present.
    findings
        ``CheckResult.findings``: listed in each site's popup (matched on
        ``site_id``). Needs ``sites``.
    buffers
        Buffer polygons around sites (e.g. the rule distances), drawn dashed.
    gaps
        Coverage gaps: residential land outside every park's service radius.
    basemap
        A :class:`maps.basemap.Basemap` or its specification: "none" (no tiles, no
        external URL at all), "osm", "tianditu:KEY" (or "tianditu" with the key in
        ``$TIANDITU_KEY``), a tile URL template such as
        ``"http://intranet/tiles/{z}/{x}/{y}.png"``, ``"gcj02:URL"`` for AMap/Tencent
        tiles (every layer is then shifted into GCJ-02 so nothing is offset), or a
        local ``.mbtiles``/``.pmtiles`` (tiles served at ``/tiles/{z}/{x}/{y}`` by
        ``ecozone serve``; :func:`maps.tiles.export_tiles` for a standalone page).
    lang
        "zh" (default) or "en" for the legend, layer names and popups.
    title
        Shown at the top of the map and as the page title.
    simplify_tolerance_m
        Display simplification tolerance in metres (in the local Gauss-Krüger zone);
        ``None`` scales it to the extent (about 1/20 000 of the diagonal, 0.5–25 m);
        0 disables it. The inputs are never changed.
    max_features_per_layer
        Show at most this many features per layer (the first ones); a note on the map
        says when a layer was cut. ``None`` shows all.
    attribution
        Attribution text for a custom tile URL.

    Returns
    -------
    folium.Map
        Save it with :func:`save_interactive` (self-contained HTML).

    Raises
    ------
    InputFormatError
        Bad ``lang``/``basemap``/tolerance, a layer that is not a GeoDataFrame or has
        no CRS, findings that cannot be matched to sites, or ``basemap="tianditu"``
        without ``$TIANDITU_KEY``.

    Examples
    --------
    >>> m = interactive_map({"redline": redline_gdf}, basemap="none")  # doctest: +SKIP
    >>> save_interactive(m, "redline.html")  # doctest: +SKIP
    """
    check_lang(lang)
    if simplify_tolerance_m is not None and not (simplify_tolerance_m >= 0):
        msg = (
            f"simplify_tolerance_m={simplify_tolerance_m!r} must be >= 0 metres "
            "(or None for automatic)"
        )
        raise InputFormatError(msg)
    if findings is not None and sites is None:
        msg = "findings were given without sites; pass sites=CheckResult.sites as well"
        raise InputFormatError(msg)
    shown = collect_layers(
        layers, sites=sites, buffers=buffers, gaps=gaps, max_features=max_features_per_layer
    )
    bounds = lonlat_bounds([d.gdf for d in shown])
    metric = display_metric_crs(bounds)
    if simplify_tolerance_m is None:
        if bounds is None:
            tolerance = 0.0
        else:
            from pyproj import Transformer

            t = Transformer.from_crs(4326, metric, always_xy=True)
            tolerance = auto_tolerance_m(t.transform_bounds(*bounds))
    else:
        tolerance = float(simplify_tolerance_m)

    n_features = sum(len(d.gdf) for d in shown)
    centre = (
        [39.9, 116.4]
        if bounds is None
        else [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    )
    m = _OfflineMap(
        location=centre,
        zoom_start=10,
        tiles=None,
        control_scale=False,  # _MetricScale below: no miles
        prefer_canvas=n_features > 2000,
    )
    page_title = title if title is not None else "ecozone"
    OfflineFigure(title=_esc(page_title)).add_child(m)
    m.add_child(_MetricScale())
    m.get_root().header.add_child(RawHTML(_CSS), name="ecozone_css")
    base = parse_basemap(basemap, attribution=attribution)
    notes = [_add_basemap(m, base, lang)]
    if base.system != "wgs84":
        notes.append(text("shifted_to", lang, system=base.system.upper()))

    legend_rows: list[str] = []
    for d in shown:
        popups = _popups(
            d,
            lang,
            _findings_html(findings, d.gdf, lang)
            if (d.key == "sites" and findings is not None)
            else None,
        )
        point = _is_point_layer(d.gdf)
        name = d.label(lang)
        count = f"{len(d.gdf)}" if not d.truncated else f"{len(d.gdf)}/{d.total}"
        folium.GeoJson(
            _geojson(d, metric, tolerance, popups, lang, base.system),
            name=f"{_esc(name)} ({count})",
            marker=folium.CircleMarker(radius=d.style.radius),
            on_each_feature=_ON_EACH_FEATURE,
            overlay=True,
            control=True,
            show=True,
            smooth_factor=0.5,
        ).add_to(m)
        _, subs = _feature_styles(d)
        legend_rows.append(f'<div class="ecz-row">{_swatch(d.style, point)}{_esc(name)}</div>')
        legend_rows.extend(
            f'<div class="ecz-row ecz-sub">{_swatch(s, point)}{_esc(s.label(lang))}</div>'
            for s in subs
        )
        if d.truncated:
            notes.append(text("truncated", lang, layer=name, shown=len(d.gdf), total=d.total))
    if tolerance > 0 and n_features:
        notes.append(text("simplified", lang, tol=fmt_number(tolerance, 1)))

    legend = (
        '<div class="ecz-box ecz-legend">'
        f'<div class="ecz-legend-title">{_esc(text("legend", lang))}</div>'
        + "".join(legend_rows)
        + '<div class="ecz-notes">'
        + "<br>".join(_esc(n) for n in notes)
        + "</div></div>"
    )
    root = m.get_root()
    root.html.add_child(RawHTML(legend), name="ecozone_legend")
    if title:
        root.html.add_child(
            RawHTML(f'<div class="ecz-box ecz-title">{_esc(title)}</div>'),
            name="ecozone_title",
        )
    if any(d.synthetic for d in shown):
        root.html.add_child(
            RawHTML(f'<div class="ecz-box ecz-demo">{_esc(SYNTHETIC_NOTE)}</div>'),
            name="ecozone_demo_note",
        )
    if bounds is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def render_interactive(m: folium.Map) -> str:
    """Return the map as one self-contained HTML page (assets inlined).

    Parameters
    ----------
    m
        A map from :func:`interactive_map` (other folium maps are re-rooted into an
        offline page; elements needing assets that are not vendored raise).

    Returns
    -------
    str
        The HTML text.

    Raises
    ------
    maps._assets.MissingAssetError
        An element needs a script or stylesheet that is not vendored.
    """
    root = m.get_root()
    if not isinstance(root, OfflineFigure):
        if isinstance(m, folium.Map) and not isinstance(m, _OfflineMap):
            # Instance attributes: never touch folium's class-level lists.
            m.default_js = list(_OfflineMap.default_js)
            m.default_css = list(_OfflineMap.default_css)
        OfflineFigure().add_child(m)
        root = m.get_root()
    return root.render()


def save_interactive(m: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Write a map as one self-contained HTML file that opens without internet.

    Parameters
    ----------
    m
        A map from :func:`interactive_map`.
    path
        Output file, ending in ``.html`` or ``.htm``. Written to a temporary file in
        the same folder and renamed into place.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputFormatError
        ``path`` does not end in .html/.htm.
    maps._assets.MissingAssetError
        An element needs a script or stylesheet that is not vendored.
    """
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        msg = f"save_interactive: path {str(out)!r} should end in .html (or .htm)"
        raise InputFormatError(msg)
    page = render_interactive(m)
    with replacing_file(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("saved interactive map to %r (%d bytes)", str(out), len(page.encode("utf-8")))
    return out
