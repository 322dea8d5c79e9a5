"""Layer kinds: what each thematic layer is, how it looks, and what it must contain.

The package has two parts: :mod:`layers.kinds.registry` (one :class:`LayerKind` entry
per kind: columns, geometry, labels, style hints, web views, old-name aliases) and
:mod:`layers.kinds.validation` (:func:`validate_layer`). Public names are re-exported
here, so ``from layers.kinds import KINDS, validate_layer`` keeps working.

Every ecozone layer is a GeoDataFrame in EPSG:4326 with the columns ``feature_id``
(unique text), ``name`` (text) and ``synthetic`` (bool), plus the columns of its kind
(see ``docs/internals.md``, section "layers/"). :func:`validate_layer` checks a frame
against its kind, repairs what can be repaired without guessing, and raises one
:class:`~geo.errors.LayerValidationError` that lists every problem it found.

Column aliases
--------------
Users bring their own column names. When the canonical column is missing and exactly
one alias is present (compared case-insensitively), the alias is renamed:

=================  ==========================================================
canonical          accepted aliases
=================  ==========================================================
``feature_id``     id, 编号, 要素编号, 标识码
``name``           名称, 名字, mc, name_zh
``adcode``         行政区划代码, 区划代码, code, 编码
``level``          行政级别, 层级
``zone_type``      类型, 区域类型, 分区类型
``grade``          级别, 等级, 保护区级别
``unit_code``      编码, 单元编码, 管控单元编码, 环境管控单元编码, code
``category``       类别, 管控类别, 单元类别, 单元类型
``access_list``    准入清单, 生态环境准入清单
``population``     人口, 人口数
``source_type``    类型, 污染源类型, type
``emissions``      排放, 排放量
``zone``           功能区, 功能分区, 分区 (nature reserves)
``basin``          流域, 所属流域 (rivers: the basin's Chinese name, e.g. 长江)
``rank``           河流级别, 干支流, 等级 (rivers)
=================  ==========================================================

Values are accepted in Chinese too: nature-reserve zone 核心区/核心保护区/缓冲区/实验区/
一般控制区/未分区, river rank 干流/重要支流/支流, grade 一级/二级/准保护区, category
优先保护/重点管控/一般管控 (with or without 单元), level 省/直辖市/区/县, and the
access-list dimensions 空间布局约束/污染物排放管控/环境风险防控/资源开发效率要求.
An ``area_m2`` column is never taken from 面积 (its unit is unknown); it is computed
ellipsoidally when missing. A column called ``fid`` (reserved by GeoPackage) is kept
as ``source_fid``.
"""

from layers.kinds.registry import (
    ACCESS_DIMENSIONS,
    KIND_ALIASES,
    KINDS,
    LAYER_KINDS,
    STORAGE_CRS,
    VIEWS,
    ColumnSpec,
    KindStyle,
    LayerKind,
    canonical_kind,
    kind_aliases,
    kind_info,
    kinds_in_view,
)
from layers.kinds.validation import GeneratedColumnWarning, validate_layer

__all__ = [
    "ACCESS_DIMENSIONS",
    "KINDS",
    "KIND_ALIASES",
    "LAYER_KINDS",
    "STORAGE_CRS",
    "VIEWS",
    "ColumnSpec",
    "GeneratedColumnWarning",
    "KindStyle",
    "LayerKind",
    "canonical_kind",
    "kind_aliases",
    "kind_info",
    "kinds_in_view",
    "validate_layer",
]
