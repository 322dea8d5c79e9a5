"""The layer-kind registry: one entry per kind, read by validation, maps, web and CLI.

Each :class:`LayerKind` says what a thematic layer is (name, Chinese and English
labels, geometry family, kind-specific columns) and how it looks (:class:`KindStyle`:
colours, fill, line, draw order, the web views it appears in). ``maps.style``,
``maps.qgis_style``, the web app (``ecozone.web.checks``, ``coverage_view``) and the CLI
read these entries; none keeps its own table. Adding a layer kind is one entry in
:data:`_KIND_LIST` (plus, when a rule needs a special column check, a normaliser in
:mod:`layers.kinds.validation`).

Jurisdiction-specific zones are generic kinds (``key_area``, ``strict_zone``) with
``pack_named=True``: the rule pack that uses them declares what they are called where
it applies (``[zones.key_area] name = "通州区重点区域"``, see ``zoning.pack``).

Compatibility shim: stores written before the generic kinds existed hold the kinds
``tongzhou_key_area`` and ``tongzhou_strict_zone``. :data:`KIND_ALIASES` maps such old
names to their registered kind; :func:`canonical_kind` and :func:`kind_info` apply it,
so every store (GeoPackage, PostGIS, the shipped demo) keeps working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Literal

from geo.errors import LayerValidationError

__all__ = [
    "ACCESS_DIMENSIONS",
    "KINDS",
    "KIND_ALIASES",
    "LAYER_KINDS",
    "STORAGE_CRS",
    "ColumnSpec",
    "KindStyle",
    "LayerKind",
    "canonical_kind",
    "kind_aliases",
    "kind_info",
    "kinds_in_view",
]

STORAGE_CRS = "EPSG:4326"

#: The four dimensions of an access-list entry (生态环境准入清单).
ACCESS_DIMENSIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "layout": ("空间布局约束", "Spatial layout constraints"),
        "discharge": ("污染物排放管控", "Pollutant discharge control"),
        "risk": ("环境风险防控", "Environmental risk prevention"),
        "efficiency": ("资源开发效率要求", "Resource-use efficiency"),
    }
)

#: Web views a kind can be drawn in (``LayerKind.views``): the check page's context
#: map of a pack's jurisdiction, and the coverage page's map under the gaps.
VIEWS = ("context", "coverage")


@dataclass(frozen=True)
class ColumnSpec:
    """One kind-specific column.

    Attributes
    ----------
    name : str
        Canonical column name.
    dtype : {"str", "float", "json"}
        Stored type; "json" columns hold JSON text.
    required : bool
        Missing column is a validation problem (unless ``computed``).
    allowed : tuple of str or None
        Allowed values after alias mapping.
    value_aliases : mapping
        Lower-cased input value → canonical value (e.g. "一级" → "1").
    aliases : tuple of str
        Other column names users bring for this column.
    unique : bool
        Values must be unique across the layer.
    computed : bool
        Filled by ecozone when missing (``area_m2``).
    """

    name: str
    dtype: Literal["str", "float", "json"] = "str"
    required: bool = True
    allowed: tuple[str, ...] | None = None
    value_aliases: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    unique: bool = False
    computed: bool = False

    @cached_property
    def _lookup(self) -> dict[str, str]:
        return {v: v for v in self.allowed or ()} | dict(self.value_aliases)

    def canonical_value(self, value: str) -> str | None:
        """The allowed value ``value`` stands for: itself, or by alias (any case).

        ``None`` when it stands for none (or the column has no fixed vocabulary).
        """
        return self._lookup.get(value.lower(), self._lookup.get(value))


@dataclass(frozen=True)
class KindStyle:
    """How a kind is drawn (maps, web, QGIS styles).

    Attributes
    ----------
    color : str
        Outline / line / point edge colour (hex).
    fill : str or None
        Fill colour, or ``None`` for outlines only.
    fill_opacity : float
        0–1.
    weight : float
        Line width in pixels (interactive) / points (print).
    dash : str or None
        Dash pattern as Leaflet ``dashArray`` (e.g. ``"6 4"``).
    radius : float
        Marker radius in pixels for point features.
    zorder : int
        Map drawing order (print and interactive maps): higher is drawn on top.
    hatch : str or None
        Matplotlib hatch for print maps.
    page_order : int
        Drawing order on the web check page's site map (lower is drawn first, so
        beneath); areas that cover much of the map come first.
    """

    color: str = "#525252"
    fill: str | None = "#969696"
    fill_opacity: float = 0.35
    weight: float = 1.0
    dash: str | None = None
    radius: float = 5.0
    zorder: int = 30
    hatch: str | None = None
    page_order: int = 50


@dataclass(frozen=True)
class LayerKind:
    """A registered layer kind.

    Attributes
    ----------
    name : str
        Identifier used in code, rule packs and the store ("redline").
    label_zh, label_en : str
        Labels for legends and tables (a pack may name a ``pack_named`` kind its own way).
    geometry : {"point", "polygon", "point_or_polygon", "line_or_polygon"}
        Geometry family every feature must have.
    color : str
        The kind's colour (hex), e.g. for layer lists; maps use :attr:`style`.
    columns : tuple of ColumnSpec
        Kind-specific columns.
    style : KindStyle
        Map and web appearance (drawn by category: ``maps.style.CATEGORY_STYLES``).
    views : tuple of str
        Web views (:data:`VIEWS`) that draw this kind besides the site map.
    pack_named : bool
        A generic zone whose local name, scope and rules a rule pack declares
        (``[zones.<kind>]`` in the pack's TOML).
    """

    name: str
    label_zh: str
    label_en: str
    geometry: Literal["point", "polygon", "point_or_polygon", "line_or_polygon"]
    color: str
    columns: tuple[ColumnSpec, ...] = ()
    style: KindStyle = field(default_factory=KindStyle)
    views: tuple[str, ...] = ()
    pack_named: bool = False

    @property
    def label(self) -> str:
        """Bilingual label, e.g. "生态保护红线 Ecological protection red line"."""
        return f"{self.label_zh} {self.label_en}"


_AREA = ColumnSpec("area_m2", "float", computed=True)

_KIND_LIST = [
    LayerKind(
        "boundary",
        "行政区划边界",
        "Jurisdiction boundary",
        "polygon",
        "#4d4d4d",
        (
            ColumnSpec("adcode", aliases=("行政区划代码", "区划代码", "code", "编码")),
            ColumnSpec(
                "level",
                allowed=("province", "municipality", "district"),
                value_aliases={
                    "省": "province",
                    "省级": "province",
                    "自治区": "province",
                    "直辖市": "municipality",
                    "市": "municipality",
                    "区": "district",
                    "县": "district",
                    "区县": "district",
                },
                aliases=("行政级别", "层级"),
            ),
        ),
        style=KindStyle("#333333", None, 0.0, 1.6, "8 4", zorder=60, page_order=1),
        views=("context",),
    ),
    LayerKind(
        "redline",
        "生态保护红线",
        "Ecological protection red line",
        "polygon",
        "#d7191c",
        style=KindStyle("#b30000", "#e31a1c", 0.40, 1.0, zorder=20, page_order=6),
        views=("context", "coverage"),
    ),
    LayerKind(
        "eco_control",
        "生态控制区",
        "Ecological control zone",
        "polygon",
        "#1a9641",
        (ColumnSpec("zone_type", aliases=("类型", "区域类型", "分区类型")),),
        style=KindStyle("#33a02c", "#b2df8a", 0.35, 0.8, zorder=10, page_order=3),
        views=("context", "coverage"),
    ),
    LayerKind(
        "well",
        "饮用水水源井",
        "Drinking-water well",
        "point",
        "#2b83ba",
        style=KindStyle("#08306b", "#2171b5", 0.9, 1.0, radius=4.0, zorder=70, page_order=11),
    ),
    LayerKind(
        "water_source_zone",
        "饮用水水源保护区",
        "Drinking-water source protection zone",
        "polygon",
        "#74add1",
        (
            ColumnSpec(
                "grade",
                allowed=("1", "2", "quasi"),
                value_aliases={
                    "一级": "1",
                    "一级保护区": "1",
                    "i": "1",
                    "二级": "2",
                    "二级保护区": "2",
                    "ii": "2",
                    "准": "quasi",
                    "准保护区": "quasi",
                    "准级": "quasi",
                },
                aliases=("级别", "等级", "保护区级别"),
            ),
        ),
        style=KindStyle("#08519c", "#6baed6", 0.40, 1.0, zorder=22, page_order=7),
        views=("context",),
    ),
    LayerKind(
        "park",
        "公园绿地",
        "Park green space",
        "polygon",
        "#66bd63",
        (_AREA,),
        style=KindStyle("#1b7837", "#5aae61", 0.55, 0.8, zorder=24, page_order=5),
        views=("coverage",),
    ),
    LayerKind(
        "residential",
        "居住用地",
        "Residential land",
        "polygon",
        "#fdae61",
        (_AREA, ColumnSpec("population", "float", required=False, aliases=("人口", "人口数"))),
        style=KindStyle("#d95f0e", "#fdae61", 0.40, 0.6, zorder=26, page_order=4),
    ),
    # Generic zones a rule pack names and gives rules (e.g. Tongzhou's 重点区域 and
    # 严控区 of its 2024 plan, 002 l.202-206): [zones.key_area] in the pack's TOML.
    LayerKind(
        "key_area",
        "重点区域",
        "Key area",
        "polygon",
        "#f46d43",
        style=KindStyle("#6a3d9a", None, 0.0, 2.0, "6 4", zorder=40, page_order=8),
        views=("context",),
        pack_named=True,
    ),
    LayerKind(
        "strict_zone",
        "严控区",
        "Strict-control zone",
        "polygon",
        "#a50026",
        style=KindStyle("#6a3d9a", "#cab2d6", 0.45, 1.5, zorder=42, hatch="//", page_order=9),
        views=("context",),
        pack_named=True,
    ),
    LayerKind(
        "control_unit",
        "环境管控单元",
        "Environmental control unit",
        "polygon",
        "#984ea3",
        (
            ColumnSpec(
                "unit_code",
                aliases=("编码", "单元编码", "管控单元编码", "环境管控单元编码", "code"),
                unique=True,
            ),
            ColumnSpec(
                "category",
                allowed=("priority", "key", "general"),
                value_aliases={
                    "优先保护": "priority",
                    "优先保护单元": "priority",
                    "优先": "priority",
                    "重点管控": "key",
                    "重点管控单元": "key",
                    "重点": "key",
                    "一般管控": "general",
                    "一般管控单元": "general",
                    "一般": "general",
                },
                aliases=("类别", "管控类别", "单元类别", "单元类型"),
            ),
            ColumnSpec("access_list", "json", aliases=("准入清单", "生态环境准入清单")),
        ),
        style=KindStyle("#636363", "#d9d9d9", 0.35, 0.6, zorder=12, page_order=2),
    ),
    LayerKind(
        "pollution_source",
        "污染源",
        "Pollution source",
        "point_or_polygon",
        "#7b3294",
        (
            ColumnSpec("source_type", aliases=("类型", "污染源类型", "type")),
            ColumnSpec("emissions", "json", aliases=("排放", "排放量")),
        ),
        style=KindStyle("#54278f", "#807dba", 0.9, 1.0, radius=4.0, zorder=72, page_order=10),
    ),
    # Inputs of the sponge-city target (001 l.304, 002 l.592): areas that meet the
    # standard, and the built-up area the share is taken of.
    LayerKind(
        "sponge", "海绵城市达标区域", "Area meeting sponge-city standards", "polygon", "#4393c3"
    ),
    LayerKind("built_up", "建成区", "Built-up area", "polygon", "#bababa"),
    # Kinds of the rules added for issue #11 §4 (docs/rules.md "National pack").
    # A zone where high-emission non-road mobile machinery may not be used (001 l.55, l.266).
    LayerKind(
        "nonroad_ban_zone",
        "高排放非道路移动机械禁用区",
        "High-emission non-road machinery ban zone",
        "polygon",
        "#8c510a",
        style=KindStyle("#8c510a", None, 0.0, 1.8, "10 5", zorder=38),
    ),
    # Nature reserves and their functional zones (自然保护区条例 art. 32; new-system
    # reserves have a core protection zone and a general control zone).
    LayerKind(
        "nature_reserve",
        "自然保护地",
        "Nature reserve",
        "polygon",
        "#35978f",
        (
            ColumnSpec(
                "zone",
                allowed=("core", "buffer", "experimental", "general_control", "unzoned"),
                value_aliases={
                    "未分区": "unzoned",
                    "核心区": "core",
                    "核心保护区": "core",
                    "缓冲区": "buffer",
                    "实验区": "experimental",
                    "一般控制区": "general_control",
                    "general": "general_control",
                },
                aliases=("功能区", "功能分区", "分区"),
            ),
        ),
        style=KindStyle("#01665e", "#35978f", 0.40, 1.0, zorder=19, hatch=".."),
    ),
    # Rivers whose banks rules measure from (长江保护法 art. 26: 1 km of the Yangtze's
    # mainstream and tributaries): bank or centre lines, or water-surface polygons.
    LayerKind(
        "river",
        "河流岸线",
        "River (banks or centre line)",
        "line_or_polygon",
        "#2166ac",
        (
            ColumnSpec("basin", aliases=("流域", "所属流域")),
            ColumnSpec(
                "rank",
                allowed=("mainstream", "major_tributary", "tributary"),
                value_aliases={
                    "干流": "mainstream",
                    "重要支流": "major_tributary",
                    "主要支流": "major_tributary",
                    "支流": "tributary",
                },
                aliases=("河流级别", "干支流", "等级"),
            ),
        ),
        style=KindStyle("#2166ac", "#92c5de", 0.6, 2.0, zorder=25),
    ),
    # What a bureau imports to find its way on a map without a basemap (roads, water,
    # place outlines): drawn under everything on the web app's reference map and in
    # `ecozone tiles`; no rule reads it.
    LayerKind(
        "reference",
        "参考图层（道路、水系等）",
        "Reference layer (roads, water, ...)",
        "line_or_polygon",
        "#969696",
        style=KindStyle("#969696", "#d9d9d9", 0.25, 1.0, zorder=2, page_order=0),
        views=("context",),
    ),
]

#: Registered kinds by name.
KINDS: Mapping[str, LayerKind] = MappingProxyType({k.name: k for k in _KIND_LIST})
#: Kind names, in the order of docs/internals.md.
LAYER_KINDS: tuple[str, ...] = tuple(KINDS)

#: Compatibility shim: kind names written by older ecozone versions → registered kind.
#: Stores (GeoPackage, PostGIS, the shipped demo) and rule packs that still hold an old
#: name read as the new kind; nothing writes the old names any more.
KIND_ALIASES: Mapping[str, str] = MappingProxyType(
    {"tongzhou_key_area": "key_area", "tongzhou_strict_zone": "strict_zone"}
)


def _check_registry() -> None:
    for k in _KIND_LIST:
        bad = set(k.views) - set(VIEWS)
        if bad:  # a typo in an entry fails at import, not silently on a page
            msg = f"layer kind {k.name!r}: unknown views {sorted(bad)}; use {VIEWS}"
            raise ValueError(msg)
    for old, new in KIND_ALIASES.items():
        if new not in KINDS or old in KINDS:
            msg = f"KIND_ALIASES: {old!r} → {new!r} must map an unregistered name to a kind"
            raise ValueError(msg)


_check_registry()


def canonical_kind(kind: str) -> str:
    """Return the registered name of ``kind``, mapping old names (:data:`KIND_ALIASES`).

    Unknown names are returned unchanged (callers that need a registered kind use
    :func:`kind_info`, which raises).

    Examples
    --------
    >>> canonical_kind("tongzhou_key_area")
    'key_area'
    """
    return KIND_ALIASES.get(kind, kind)


def kind_aliases(kind: str) -> tuple[str, ...]:
    """Return ``kind`` and every old name that reads as it (for store queries).

    Examples
    --------
    >>> kind_aliases("strict_zone")
    ('strict_zone', 'tongzhou_strict_zone')
    """
    name = canonical_kind(kind)
    return (name, *(old for old, new in KIND_ALIASES.items() if new == name))


def kinds_in_view(view: str) -> tuple[str, ...]:
    """Return the kinds a web view draws (:data:`VIEWS`), in page drawing order.

    Examples
    --------
    >>> kinds_in_view("coverage")
    ('eco_control', 'park', 'redline')
    """
    if view not in VIEWS:
        msg = f"unknown view {view!r}; use one of {VIEWS}"
        raise ValueError(msg)
    chosen = [k for k in _KIND_LIST if view in k.views]
    return tuple(k.name for k in sorted(chosen, key=lambda k: k.style.page_order))


def kind_info(kind: str) -> LayerKind:
    """Return the registered :class:`LayerKind` for a kind name or label.

    Parameters
    ----------
    kind
        A kind name ("redline"), an old name (:data:`KIND_ALIASES`) or the kind's
        Chinese or English label ("生态保护红线").

    Returns
    -------
    LayerKind

    Raises
    ------
    LayerValidationError
        If ``kind`` is not registered; the message lists the valid names.

    Examples
    --------
    >>> kind_info("生态保护红线").name
    'redline'
    """
    if isinstance(kind, str):
        if kind in KINDS:
            return KINDS[kind]
        if kind in KIND_ALIASES:
            return KINDS[KIND_ALIASES[kind]]
        key = kind.strip().lower()
        for spec in KINDS.values():
            if key in (spec.name, spec.label_zh, spec.label_en.lower()):
                return spec
    msg = (
        f"未知图层类型 / Unknown layer kind {kind!r}. Use one of: "
        + ", ".join(f"{k.name} ({k.label_zh})" for k in KINDS.values())
        + "."
    )
    raise LayerValidationError(msg)
