"""QGIS styles (QML + SLD) for ecozone's outputs, from the map styles of ``maps.style``.

The colours and labels are those of the web and print maps: verdict colours and
Chinese verdict labels (:data:`zoning.check.result.VERDICTS` / ``VERDICT_ZH`` decide which
verdicts exist and in which order; :data:`maps.style.VERDICT_STYLES` their colours),
kind colours (:data:`maps.style.LAYER_STYLES`, which takes each kind's label from
``layers.kinds``) and category colours (control-unit category, source-zone grade).
Nothing here defines a colour of its own except the neutral fallback for a verdict
or value no table knows yet.

- :func:`verdict_style`, :func:`kind_style`, :func:`gap_style`,
  :func:`candidate_style` return a :class:`geo.io.gpkg_styles.QgisStyle` that
  :func:`geo.io.write_vector` stores as the layer's default style;
  :func:`style_for_frame` picks one for a frame.
- :func:`style_store` stores kind styles for every layer of a GeoPackage store.
- :func:`field_aliases` gives Chinese column aliases (QGIS attribute table, FileGDB).
- :func:`paletted_raster_qml` styles a class raster (QGIS reads ``<name>.qml``
  beside a GeoTIFF as its default style).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import shapely

from geo.io.gpkg_styles import QgisStyle, write_layer_styles
from layers.kinds import KINDS
from maps.style import (
    CATEGORY_STYLES,
    COLUMN_LABELS,
    GAP_STYLE,
    GENERIC_STYLE,
    VERDICT_STYLES,
    LayerStyle,
    layer_style,
)

__all__ = [
    "candidate_style",
    "field_aliases",
    "gap_style",
    "geometry_family",
    "kind_style",
    "paletted_raster_qml",
    "style_for_frame",
    "style_store",
    "verdict_categories",
    "verdict_style",
    "write_gap_outputs",
    "write_options",
]

Geometry = Literal["point", "line", "polygon"]

_PX_MM = 0.26  # one screen pixel at 96 dpi, in millimetres
_GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}
CANDIDATE_STYLE = LayerStyle(
    "新增口袋公园候选", "Pocket-park candidate", "#00441b", "#41ab5d", 0.9, 1.5, radius=7.0
)


def _rgba(color: str | None, alpha: float = 1.0) -> str:
    if not color:
        return "0,0,0,0"
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * max(0.0, min(1.0, alpha)))}"


def geometry_family(gdf: gpd.GeoDataFrame) -> Geometry:
    """Return "point", "line" or "polygon": the family most features of ``gdf`` have."""
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    ids = shapely.get_type_id(geoms[~shapely.is_missing(geoms)])
    if len(ids) == 0:
        return "polygon"
    fam = np.where(np.isin(ids, (0, 4)), 0, np.where(np.isin(ids, (1, 2, 5)), 1, 2))
    return ("point", "line", "polygon")[int(np.bincount(fam, minlength=3).argmax())]


def _options(opts: Mapping[str, str]) -> str:
    inner = "".join(
        f'<Option name={quoteattr(k)} value={quoteattr(str(v))} type="QString"/>'
        for k, v in opts.items()
    )
    return f'<Option type="Map">{inner}</Option>'


def _symbol(style: LayerStyle, geometry: Geometry, name: str) -> str:
    width = f"{style.weight * _PX_MM:.2f}"
    dash = "dash" if style.dash else "solid"
    if geometry == "point":
        cls, kind = "SimpleMarker", "marker"
        opts = {
            "name": "circle",
            "color": _rgba(style.fill or style.color, max(style.fill_opacity, 0.6)),
            "outline_color": _rgba(style.color),
            "outline_width": width,
            "outline_width_unit": "MM",
            "size": f"{2 * style.radius * _PX_MM:.2f}",
            "size_unit": "MM",
        }
    elif geometry == "line":
        cls, kind = "SimpleLine", "line"
        opts = {
            "line_color": _rgba(style.color),
            "line_width": width,
            "line_width_unit": "MM",
            "line_style": dash,
        }
    else:
        cls, kind = "SimpleFill", "fill"
        opts = {
            "color": _rgba(style.fill, style.fill_opacity),
            "style": "solid" if style.fill else "no",
            "outline_color": _rgba(style.color),
            "outline_style": dash,
            "outline_width": width,
            "outline_width_unit": "MM",
        }
    return (
        f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
        f'force_rhr="0"><layer class="{cls}" pass="0" locked="0" enabled="1">'
        f"{_options(opts)}</layer></symbol>"
    )


def _aliases_xml(aliases: Mapping[str, str]) -> str:
    items = "".join(
        f"<alias field={quoteattr(f)} index={quoteattr(str(i))} name={quoteattr(a)}/>"
        for i, (f, a) in enumerate(aliases.items())
    )
    return f"<aliases>{items}</aliases>"


def renderer_xml(
    geometry: Geometry,
    style: LayerStyle,
    *,
    attr: str | None = None,
    categories: Sequence[tuple[str, str, LayerStyle]] = (),
) -> str:
    """Return a QGIS ``<renderer-v2>`` element: single symbol, or categories on ``attr``.

    Parameters
    ----------
    geometry
        "point", "line" or "polygon".
    style
        The single symbol (also the "all other values" symbol of a categorized one).
    attr
        Column to categorise on; ``None`` for a single symbol.
    categories
        ``(value, label, style)`` in legend order.

    Returns
    -------
    str
        XML text.
    """
    if attr is None or not categories:
        return (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><symbols>{_symbol(style, geometry, "0")}</symbols></renderer-v2>'
        )
    cats, symbols = [], []
    for i, (value, label, s) in enumerate(categories):
        cats.append(
            f'<category symbol="{i}" value={quoteattr(value)} label={quoteattr(label)} '
            'render="true"/>'
        )
        symbols.append(_symbol(s, geometry, str(i)))
    n = len(categories)  # the catch-all: values no table knows yet, drawn neutral
    cats.append(f'<category symbol="{n}" value="" label="其他" render="true"/>')
    symbols.append(_symbol(style, geometry, str(n)))
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" '
        'enableorderby="0" forceraster="0">'
        f"<categories>{''.join(cats)}</categories><symbols>{''.join(symbols)}</symbols>"
        "</renderer-v2>"
    )


def _qml(renderer: str, geometry: Geometry, aliases: Mapping[str, str]) -> str:
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.22.16" styleCategories="Symbology|Fields">'
        f"{renderer}{_aliases_xml(aliases)}"
        f"<layerGeometryType>{_GEOMETRY_TYPE[geometry]}</layerGeometryType></qgis>\n"
    )


def _sld_symbolizer(style: LayerStyle, geometry: Geometry) -> str:
    stroke = (
        f'<se:Stroke><se:SvgParameter name="stroke">{style.color}</se:SvgParameter>'
        f'<se:SvgParameter name="stroke-width">{style.weight:g}</se:SvgParameter>'
        + (
            f'<se:SvgParameter name="stroke-dasharray">{escape(style.dash)}</se:SvgParameter>'
            if style.dash
            else ""
        )
        + "</se:Stroke>"
    )
    fill = (
        f'<se:Fill><se:SvgParameter name="fill">{style.fill}</se:SvgParameter>'
        f'<se:SvgParameter name="fill-opacity">{style.fill_opacity:g}</se:SvgParameter>'
        "</se:Fill>"
        if style.fill
        else ""
    )
    if geometry == "point":
        return (
            "<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle"
            f"</se:WellKnownName>{fill}{stroke}</se:Mark><se:Size>{2 * style.radius:g}"
            "</se:Size></se:Graphic></se:PointSymbolizer>"
        )
    if geometry == "line":
        return f"<se:LineSymbolizer>{stroke}</se:LineSymbolizer>"
    return f"<se:PolygonSymbolizer>{fill}{stroke}</se:PolygonSymbolizer>"


def _sld(
    layer: str,
    geometry: Geometry,
    style: LayerStyle,
    attr: str | None,
    categories: Sequence[tuple[str, str, LayerStyle]],
) -> str:
    rules = []
    if attr is None or not categories:
        rules.append(
            f"<se:Rule><se:Name>{escape(style.label_zh)}</se:Name>"
            f"{_sld_symbolizer(style, geometry)}</se:Rule>"
        )
    for value, label, s in categories if attr else ():
        rules.append(
            f"<se:Rule><se:Name>{escape(label)}</se:Name><se:Description><se:Title>"
            f"{escape(label)}</se:Title></se:Description><ogc:Filter><ogc:PropertyIsEqualTo>"
            f"<ogc:PropertyName>{escape(attr)}</ogc:PropertyName><ogc:Literal>{escape(value)}"
            f"</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            f"{_sld_symbolizer(s, geometry)}</se:Rule>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" '
        'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" '
        'version="1.1.0"><NamedLayer>'
        f"<se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}</se:Name>"
        f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle>"
        "</NamedLayer></StyledLayerDescriptor>\n"
    )


def _style(
    name: str,
    geometry: Geometry,
    style: LayerStyle,
    *,
    attr: str | None = None,
    categories: Sequence[tuple[str, str, LayerStyle]] = (),
    columns: Iterable[str] = (),
    description: str = "",
) -> QgisStyle:
    renderer = renderer_xml(geometry, style, attr=attr, categories=categories)
    return QgisStyle(
        name=name,
        qml=_qml(renderer, geometry, field_aliases(columns)),
        sld=_sld(name, geometry, style, attr, categories),
        description=description,
    )


def field_aliases(columns: Iterable[str]) -> dict[str, str]:
    """Return Chinese aliases of the columns ecozone knows (others are left out).

    ``dist_<kind>_m`` becomes "距<kind label>距离（米）"; ``area_m2`` "面积（平方米）".
    """
    out: dict[str, str] = {}
    for col in columns:
        col = str(col)
        if col == "area_m2":
            out[col] = "面积（平方米）"
        elif col.startswith("dist_") and col.endswith("_m"):
            kind = col[5:-2]
            label = KINDS[kind].label_zh if kind in KINDS else layer_style(kind).label_zh
            out[col] = f"距{label}距离（米）"
        elif col in _EXTRA_LABELS:
            out[col] = _EXTRA_LABELS[col]
        elif col in COLUMN_LABELS:
            out[col] = COLUMN_LABELS[col][0]
    return out


_EXTRA_LABELS = {
    "source_row": "原始行号",
    "rules": "触发规则",
    "district": "所属区",
    "order": "优先序号",
    "gain_m2": "新增覆盖面积（平方米）",
    "coverage_pct": "新增后覆盖率（%）",
}


def verdict_categories() -> list[tuple[str, str, LayerStyle]]:
    """Return ``(verdict, Chinese label, style)`` for every verdict, most severe first."""
    from zoning.check.result import VERDICT_ZH, VERDICTS

    fallback = replace(GENERIC_STYLE, fill="#ffff99", color="#8c6d31", fill_opacity=0.8)
    out = []
    for v in VERDICTS:
        s = VERDICT_STYLES.get(v, fallback)
        label = VERDICT_ZH.get(v, s.label_zh)
        out.append((v, label, replace(s, label_zh=label)))
    return out


def verdict_style(geometry: Geometry = "point", *, columns: Iterable[str] = ()) -> QgisStyle:
    """Return the style of site-check results: one colour and Chinese label per verdict.

    Parameters
    ----------
    geometry
        Geometry family of the result layer.
    columns
        The layer's columns (they get Chinese aliases).

    Returns
    -------
    geo.io.gpkg_styles.QgisStyle
    """
    return _style(
        "ecozone 结论",
        geometry,
        GENERIC_STYLE,
        attr="verdict",
        categories=verdict_categories(),
        columns=columns,
        description="三线一单符合性检查结论 / site-check verdicts (ecozone)",
    )


def kind_style(
    kind: str, geometry: Geometry | None = None, *, columns: Iterable[str] = ()
) -> QgisStyle:
    """Return the style of a layer kind (its map colour; categories where the maps use them).

    Parameters
    ----------
    kind
        A layer kind of ``layers.kinds`` (an unknown kind gets the neutral style).
    geometry
        Geometry family; default from the kind's registered geometry.
    columns
        The layer's columns (Chinese aliases; categories only when the column exists).

    Returns
    -------
    geo.io.gpkg_styles.QgisStyle
    """
    base = layer_style(kind)
    if geometry is None:
        fam = KINDS[kind].geometry if kind in KINDS else "polygon"
        geometry = "point" if fam == "point" else "polygon"
    columns = list(columns)
    spec = CATEGORY_STYLES.get(kind)
    attr, cats = None, []
    if spec is not None and (not columns or spec[0] in columns):
        attr = spec[0]
        cats = [(value, s.label_zh, s) for value, s in spec[1].items()]
    return _style(
        f"ecozone {base.label_zh}",
        geometry,
        base,
        attr=attr,
        categories=cats,
        columns=columns,
        description=f"{base.label_zh} / {base.label_en} (ecozone)",
    )


def gap_style(*, columns: Iterable[str] = ()) -> QgisStyle:
    """Return the style of uncovered residential land (coverage gaps)."""
    return _style("ecozone 覆盖缺口", "polygon", GAP_STYLE, columns=columns)


def candidate_style(geometry: Geometry = "point", *, columns: Iterable[str] = ()) -> QgisStyle:
    """Return the style of proposed pocket-park sites."""
    return _style("ecozone 口袋公园候选", geometry, CANDIDATE_STYLE, columns=columns)


def style_for_frame(gdf: gpd.GeoDataFrame, what: str) -> QgisStyle:
    """Return the style for a frame: ``what`` is "verdict", "gaps", "candidates" or a kind."""
    geometry = geometry_family(gdf)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    if what == "verdict":
        return verdict_style(geometry, columns=columns)
    if what == "gaps":
        return gap_style(columns=columns)
    if what == "candidates":
        return candidate_style(geometry, columns=columns)
    return kind_style(what, geometry, columns=columns)


def style_store(store: Any) -> int:
    """Store default QGIS styles for every layer of a GeoPackage layer store.

    Each layer's latest view and each version table get the style of its kind, in one
    transaction. Stores that are not GeoPackage files (PostGIS) are left alone.

    Parameters
    ----------
    store
        A :class:`layers.LayerStore` or the path of its GeoPackage.

    Returns
    -------
    int
        Number of styles written (0 for a store without a GeoPackage file).
    """
    path = Path(store) if isinstance(store, str | Path) else getattr(store, "path", None)
    if path is None or Path(path).suffix.lower() != ".gpkg" or not Path(path).exists():
        return 0
    con = sqlite3.connect(str(path), timeout=60)
    try:
        con.execute("BEGIN IMMEDIATE")
        if not con.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'ecozone_layer_versions'"
        ).fetchone():
            con.rollback()
            return 0
        rows = con.execute("SELECT name, kind, table_name FROM ecozone_layer_versions").fetchall()
        geoms = dict(
            con.execute(
                "SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"
            ).fetchall()
        )
        columns: dict[str, list[str]] = {}
        pairs: dict[str, QgisStyle] = {}  # the latest view once, each version table once
        for name, kind, table in rows:
            for t in dict.fromkeys((table, name)):
                if t not in geoms:
                    continue
                gt = str(geoms[t]).upper()
                geometry: Geometry = (
                    "point" if "POINT" in gt else "line" if "LINE" in gt else "polygon"
                )
                if t not in columns:
                    columns[t] = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
                pairs[t] = kind_style(kind, geometry, columns=columns[t])
        n = write_layer_styles(con, pairs.items())
        con.commit()
        return n
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()


def paletted_raster_qml(
    entries: Sequence[tuple[int, str, str]], *, band: int = 1, opacity: float = 1.0
) -> str:
    """Return a QGIS raster style (paletted renderer) for a class raster.

    Parameters
    ----------
    entries
        ``(pixel value, hex colour, label)`` in legend order.
    band
        Band number.
    opacity
        Layer opacity 0–1.

    Returns
    -------
    str
        QML text; saved as ``<raster stem>.qml`` QGIS applies it when the file opens.
    """
    items = "".join(
        f'<paletteEntry value="{int(v)}" color={quoteattr(c)} alpha="255" '
        f"label={quoteattr(label)}/>"
        for v, c, label in entries
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.22.16" styleCategories="Symbology"><pipe>'
        f'<rasterrenderer type="paletted" band="{band}" opacity="{opacity:g}" alphaBand="-1" '
        f'nodataColor=""><rasterTransparency/><colorPalette>{items}</colorPalette>'
        "</rasterrenderer></pipe></qgis>\n"
    )


def write_options(gdf: gpd.GeoDataFrame, path: str | Path, what: str = "verdict") -> dict[str, Any]:
    """Return the :func:`geo.io.write_vector` keywords that style an output for its format.

    GeoPackage gets the default QGIS style (``style=``), a File Geodatabase Chinese
    field aliases (``aliases=``); other formats nothing.

    Parameters
    ----------
    gdf
        The frame to be written.
    path
        The output path (its suffix decides).
    what
        "verdict" (site-check results), "gaps", "candidates" or a layer kind.

    Returns
    -------
    dict
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".gpkg":
        return {"style": style_for_frame(gdf, what)}
    if suffix == ".gdb":
        return {"aliases": field_aliases(c for c in gdf.columns if c != gdf.geometry.name)}
    return {}


def gap_output_paths(out: str | Path) -> dict[str, Path | None]:
    """The files :func:`write_gap_outputs` writes for ``out``, named for the user.

    ``"--out"`` → ``out``; ``"(the candidates)"`` → ``<stem>.candidates<suffix>`` beside
    it, or ``None`` for a GeoPackage (a second layer of ``out``).

    Parameters
    ----------
    out
        Output path (.gpkg, .gdb, .geojson, ...).

    Returns
    -------
    dict of str to pathlib.Path or None
    """
    out = Path(out)
    other = (
        None
        if out.suffix.lower() == ".gpkg"
        else out.with_name(f"{out.stem}.candidates{out.suffix}")
    )
    return {"--out": out, "(the candidates)": other}


def write_gap_outputs(
    uncovered: gpd.GeoDataFrame, chosen: gpd.GeoDataFrame | None, out: str | Path
) -> list[Path]:
    """Write coverage gaps (and pocket-park candidates), styled for QGIS.

    A GeoPackage gets two layers, ``uncovered_residential`` and
    ``pocket_park_candidates``; other formats write the candidates to
    ``<stem>.candidates<suffix>`` beside ``out``.

    Parameters
    ----------
    uncovered, chosen
        From :func:`zoning.workflow.coverage_gaps` (``chosen`` may be ``None``).
    out
        Output path (.gpkg, .gdb, .geojson, ...).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from geo.io import write_vector

    out = Path(out)
    written = []
    if out.suffix.lower() in (".gpkg", ".gdb"):
        layer_names = ("uncovered_residential", "pocket_park_candidates")
        write_vector(uncovered, out, layer=layer_names[0], **write_options(uncovered, out, "gaps"))
        written.append(out)
        if chosen is not None and out.suffix.lower() == ".gpkg":
            write_vector(
                chosen, out, layer=layer_names[1], **write_options(chosen, out, "candidates")
            )
        elif chosen is not None:  # a second feature class is a second .gdb here
            other = gap_output_paths(out)["(the candidates)"]
            write_vector(chosen, other, **write_options(chosen, other, "candidates"))
            written.append(other)
        return written
    write_vector(uncovered, out)
    written.append(out)
    if chosen is not None:
        other = gap_output_paths(out)["(the candidates)"]
        write_vector(chosen, other)
        written.append(other)
    return written
