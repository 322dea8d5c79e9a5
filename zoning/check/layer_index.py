"""The layers of a site check: frames, indexes, feature filters, access lists.

Private to :mod:`zoning.check.engine`: what :class:`zoning.check.engine.SiteChecker` does once
per layer before checking any site.

- :func:`ordered_kinds` — the layer kinds a pack's rules read, in rule order;
- :func:`layer_frame` — a :class:`layers.Layer` or GeoDataFrame as a lon/lat
  GeoDataFrame (empty geometries dropped) and its stamp entry (name, kind, version,
  checksum, row count); :func:`index_layer` — that frame as a
  :class:`zoning.check.relations.LayerIndex` (attribute columns as text, those its kind
  declares numbers, such as ``area_m2``, as numbers);
- :func:`feature_mask` — the features of a layer a rule's ``feature_filter`` keeps;
- :func:`access_entries` — the access-list entries of a control unit (its JSON
  ``access_list``) with their Chinese labels (:data:`CATEGORY_ZH`,
  :data:`DIMENSION_ZH`), each parsed as a :class:`zoning.access_list.AccessEntry`
  that the engine judges for the project (:func:`zoning.access_list.judge_entry`);
- :func:`text_array` — a column as an object array of str.

This module does not import :mod:`zoning.check.engine`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pydantic import ValidationError

from geo.errors import LayerValidationError
from layers.kinds import KINDS
from zoning.access_list import EFFECTS, entry_from_mapping
from zoning.check.relations import LayerIndex
from zoning.pack import Rule

log = logging.getLogger(__name__)

#: Chinese names of control-unit categories.
CATEGORY_ZH = {"priority": "优先保护单元", "key": "重点管控单元", "general": "一般管控单元"}
#: Chinese names of access-list dimensions.
DIMENSION_ZH = {
    "layout": "空间布局约束",
    "discharge": "污染物排放管控",
    "risk": "环境风险防控",
    "efficiency": "资源开发效率要求",
}
_LONLAT = "EPSG:4326"


def ordered_kinds(rules: list[Rule]) -> list[str]:
    """The layer kinds ``rules`` read (layer, then unless_layer; not site_exit), in order."""
    kinds: list[str] = []
    for r in rules:
        for k in (r.layer, r.unless_layer):
            if k and k != "site_exit" and k not in kinds:
                kinds.append(k)
    return kinds


def layer_frame(kind: str, layer: Any) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Return the GeoDataFrame (EPSG:4326) and stamp entry of a Layer or GeoDataFrame."""
    if isinstance(layer, gpd.GeoDataFrame):
        gdf = layer
        meta: dict[str, Any] = {"name": kind, "kind": kind, "version": None, "checksum": None}
    elif hasattr(layer, "gdf"):
        gdf = layer.gdf
        meta = {
            "name": getattr(layer, "name", kind),
            "kind": getattr(layer, "kind", kind),
            "version": getattr(layer, "version", None),
            "checksum": getattr(layer, "checksum", None),
        }
    else:
        msg = (
            f"layers[{kind!r}] must be a layers.Layer or a GeoDataFrame, got {type(layer).__name__}"
        )
        raise LayerValidationError(msg)
    if gdf.crs is None:
        msg = f"layer {kind!r} has no CRS; layers are stored in EPSG:4326 (set_crs / to_crs)"
        raise LayerValidationError(msg)
    missing = [c for c in ("feature_id", "name") if c not in gdf.columns]
    if missing:
        msg = (
            f"layer {kind!r} lacks column(s) {missing}; every layer needs feature_id and "
            "name (validate it with layers.validate_layer)"
        )
        raise LayerValidationError(msg)
    if not gdf.crs.equals(_LONLAT):
        gdf = gdf.to_crs(_LONLAT)
    geoms = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        gdf = gdf[~bad]
        log.debug("layer %s: %d empty geometries ignored", kind, int(bad.sum()))
    if meta["checksum"] is None:
        h = hashlib.sha256()
        h.update(b"".join(shapely.to_wkb(gdf.geometry.to_numpy(), byte_order=1)))
        h.update("\x1f".join(gdf["feature_id"].astype(str)).encode())
        meta["checksum"] = h.hexdigest()
    meta["row_count"] = len(gdf)
    synth = None if isinstance(layer, gpd.GeoDataFrame) else getattr(layer, "synthetic", None)
    if synth is None:
        flags = gdf["synthetic"] if "synthetic" in gdf.columns else pd.Series([], dtype=bool)
        synth = bool(flags.fillna(False).astype(bool).any())
    meta["synthetic"] = bool(synth)
    return gdf, meta


def index_layer(kind: str, layer: Any) -> tuple[LayerIndex, dict[str, Any]]:
    """The :class:`LayerIndex` of a Layer or GeoDataFrame, and its stamp entry."""
    gdf, meta = layer_frame(kind, layer)
    cols = {
        c: text_array(gdf[c])
        for c in gdf.columns
        if c not in (gdf.geometry.name, "feature_id", "name")
    }
    spec = KINDS.get(kind)
    for column in spec.columns if spec is not None else ():
        if column.dtype == "float" and column.name in cols:  # (a park's area: its service tier)
            cols[column.name] = pd.to_numeric(gdf[column.name], errors="coerce").to_numpy(
                dtype="float64"
            )
    index = LayerIndex(
        kind,
        gdf.geometry.to_numpy(),
        text_array(gdf["feature_id"]),
        text_array(gdf["name"]),
        cols,
    )
    return index, meta


def text_array(values: pd.Series) -> NDArray[Any]:
    """Values as an object array of str ("" for missing)."""
    arr = values.to_numpy(dtype=object, na_value="")
    if pd.api.types.infer_dtype(arr, skipna=False) not in ("string", "empty"):
        arr = np.asarray([str(v) for v in arr], dtype=object)
    return arr


def feature_mask(rule: Rule, index: LayerIndex) -> NDArray[np.bool_]:
    """Features of ``index`` passing ``rule.feature_filter`` (all without a filter)."""
    mask = np.ones(len(index), dtype=bool)
    for col, allowed in (rule.feature_filter or {}).items():
        if col not in index.columns:
            msg = (
                f"rule {rule.id!r}: feature_filter column {col!r} is not in layer "
                f"{index.kind!r} (columns: {sorted(index.columns)})"
            )
            raise LayerValidationError(msg)
        values = index.columns[col]
        if values.dtype.kind != "O":  # numbers (an area_m2) never equal a text
            msg = (
                f"rule {rule.id!r}: feature_filter column {col!r} of layer {index.kind!r} "
                "holds numbers, and a filter keeps the features whose value is one of its "
                "texts: it would keep none, and the rule could never apply. Filter on a "
                "text column (a grade, zone or adcode)."
            )
            raise LayerValidationError(msg)
        mask &= np.isin(values, [str(a) for a in allowed])
    return mask


def access_entries(raw: Any, fid: str, code: str, category: str) -> list[dict[str, Any]]:
    """Entries of a unit's ``access_list`` (JSON text or list), as reported.

    Each dict holds the unit (``feature_id``, ``unit_code``, ``category``), the entry
    (``dimension``, ``effect``, ``text``, ``conditions`` described in Chinese) and, under
    ``_entry``, the :class:`zoning.access_list.AccessEntry` the engine judges.

    Raises
    ------
    LayerValidationError
        An entry with an unknown dimension, effect, project type or flag.
    """
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw == "":
        return []
    entries = json.loads(raw) if isinstance(raw, str) else raw
    out = []
    for i, e in enumerate(entries or []):
        try:
            entry = entry_from_mapping(e, unit_code=code)
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = (
                f"layer 'control_unit' feature {fid!r} (unit {code}): access_list entry "
                f"{i + 1}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']} "
                f"(got {err.get('input')!r}); fix the entry or re-import the list "
                "(ecozone layers import-access-list)"
            )
            raise LayerValidationError(msg) from None
        cond = entry.conditions
        out.append(
            {
                "feature_id": fid,
                "unit_code": code,
                "category": category,
                "category_zh": CATEGORY_ZH.get(category, category),
                "dimension": entry.dimension,
                "dimension_zh": DIMENSION_ZH.get(entry.dimension, entry.dimension),
                "effect": entry.effect,
                "effect_zh": EFFECTS[entry.effect],
                "text": entry.text,
                "text_en": entry.text_en,
                "conditions": None if cond is None else cond.describe(),
                "_entry": entry,
            }
        )
    return out
