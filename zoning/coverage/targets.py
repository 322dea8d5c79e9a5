"""Every target of a pack measured at its own scope (:func:`measure_targets`).

Private to :mod:`zoning.coverage.measure`, which re-exports :func:`measure_targets`.

A target is judged only for the area its plan sets it for (its *scope*, declared in
the pack: ``[scopes.ID]`` with adcodes, a layer cut to another scope, or an area the
user gives). The rules:

* the pack's jurisdiction equals the scope → the target is judged ("met" / "unmet");
* the pack's jurisdiction lies inside the scope (Tongzhou measuring Beijing's
  municipal 26.1 %) → the jurisdiction's figure is a *contribution*: measured over
  scope ∩ jurisdiction, never judged;
* districts of a breakdown are contributions, or "no_data" where the district has no
  input data; a figure built from part of the districts is "partial" and not judged
  unless ``judge_partial``;
* numerator and denominator always cover the same area (per person: parks and
  residents of the same districts).

Which area contains which follows the administrative-code hierarchy (GB/T 2260:
``XX0000`` contains ``XX....``, ``XXYY00`` contains ``XXYY..``): no code is written
in this module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError, MissingLayerError
from zoning.coverage.adapters import missing_kind
from zoning.coverage.metrics import (
    IMPORT_HINT,
    MetricResult,
    area_series,
    as_frame,
    districts_of,
    get_layer,
    judge,
    resolve_target,
    with_status,
)
from zoning.coverage.registry import MetricInputs, metric_spec
from zoning.jurisdiction import boundary_rows

__all__ = ["measure_targets"]


@dataclass(frozen=True)
class _Scope:
    name: str
    adcodes: list[str] | None = None
    layer: str | None = None
    input: bool = False
    within: str | None = None


def _scope(pack: Any, sid: str) -> _Scope:
    """The scope ``sid`` of a pack (tolerates packs built without declared scopes)."""
    finder = getattr(pack, "scope", None)
    if callable(finder):
        try:
            sc = finder(sid)
        except KeyError:
            sc = None
        if sc is not None:
            return _Scope(sc.name, sc.adcodes, sc.layer, bool(sc.input), sc.within)
    jur = getattr(pack, "jurisdiction", None)
    if sid == "jurisdiction":
        codes = list(getattr(jur, "adcodes", []) or [])
        return _Scope(getattr(jur, "name", "辖区"), codes or None, input=not codes)
    if sid == "built_up":
        return _Scope("建成区", layer="built_up", within="jurisdiction")
    return _Scope(sid, input=True, within="jurisdiction")


def _contains(outer: str, inner: str) -> bool:
    """Whether adcode ``outer`` contains ``inner`` (GB/T 2260 hierarchy)."""
    if outer == inner:
        return True
    if outer.endswith("0000"):
        return inner[:2] == outer[:2]
    if outer.endswith("00"):
        return inner[:4] == outer[:4]
    return False


def _not_measured(target: Any, reason: str, scope_name: str | None) -> MetricResult:
    tval, comp, label, unit, cite = resolve_target(target.metric, target)
    return MetricResult(
        metric=target.metric, label=label, value=None, unit=unit, target=tval, comparison=comp,
        met=None, gap_pp=None, gap_abs=None,
        gap_unit="m2/person" if unit == "m2/person" else "km2", citation=cite, inputs={},
        by_district=pd.DataFrame(), measured=False, reason=reason, target_id=target.id,
        binding=bool(getattr(target, "binding", True)), status="no_data",
        scope=getattr(target, "scope", None), scope_name=scope_name,
        notes=[{"kind": "missing_data", "text": f"无数据/未测算：{reason.removeprefix('无数据: ')}",
                "text_en": reason}],
    )  # fmt: skip


def _boundary_rows(boundaries: Any, codes: Sequence[str]) -> gpd.GeoDataFrame | None:
    rows = boundary_rows(boundaries, codes)
    return None if len(rows) == 0 else rows


def _synthetic(layers: Any, kinds: Sequence[str]) -> list[str]:
    """Kinds among ``kinds`` whose layer is (partly) synthetic demonstration data."""
    out = []
    for kind in kinds:
        try:
            layer = get_layer(layers, kind)
        except MissingLayerError:
            continue
        gdf = layer.gdf if hasattr(layer, "gdf") else layer
        flag = bool(getattr(layer, "synthetic", False)) if hasattr(layer, "gdf") else False
        if not flag and isinstance(gdf, pd.DataFrame) and "synthetic" in gdf:
            flag = bool(gdf["synthetic"].fillna(False).astype(bool).any())
        if flag:
            out.append(kind)
    return out


def _synthetic_raster(path: Any) -> bool:
    """Whether a raster is tagged as synthetic demonstration data (``synthetic=1``)."""
    if path is None or not os.path.exists(path):
        return False
    import rasterio

    with rasterio.open(path) as src:
        return str(src.tags().get("synthetic", "")).lower() in ("1", "true", "yes")


def _scope_chain(pack: Any, sid: str) -> list[str]:
    """The scope and the scopes it lies within."""
    out: list[str] = []
    while sid and sid not in out and len(out) < 10:
        out.append(sid)
        sid = _scope(pack, sid).within or ""
    return out


def _within_extents(
    result: MetricResult, metric: str, layers: Any, boundaries: Any, zones: Any
) -> MetricResult:
    """Districts outside an input layer's recorded extent have no data (无数据).

    A layer is authoritative only over its extent (:mod:`layers.extent`): a district
    it does not cover is marked "no_data" and the figure is recomputed from the
    covered districts, numerator and denominator alike (it is then partial).
    """
    table = result.by_district
    if zones is None or table is None or table.empty or result.value is None:
        return result
    from layers.extent import resolve_extent

    geoms = np.asarray(zones.to_crs(4326).geometry.values, dtype=object)
    covered = np.ones(len(geoms), dtype=bool)
    kinds = []
    for kind in _kinds(metric):
        try:
            layer = get_layer(layers, kind)
        except MissingLayerError:
            continue
        extent = getattr(layer, "extent", None) if hasattr(layer, "gdf") else None
        if not extent:
            continue
        geom, _ = resolve_extent(extent, boundaries)
        if geom is None:
            continue
        inside = shapely.area(shapely.intersection(geoms, geom)) >= 0.99 * shapely.area(geoms)
        if not inside.all():
            covered &= inside
            kinds.append(kind)
    if covered.all():
        return result
    out = table["adcode"].astype(str).isin(set(zones["adcode"].astype(str)[~covered]))
    table = table.copy()
    table.loc[out, "value"] = np.nan
    num_col = next(
        (c for c in ("measured_km2", "covered_km2", "park_m2", "forest_km2") if c in table), None
    )
    value = None
    if num_col and "denominator" in table:
        num = float(table.loc[~out, num_col].sum())
        den = float(table.loc[~out, "denominator"].sum())
        if den > 0:
            value = 100.0 * num / den if result.unit == "%" else num / den
    met, short = judge(value, result.target, result.comparison)
    pct_unit = result.unit == "%"
    details = dict(result.details)
    details["comparison_if_judged"] = {
        "met": met,
        "gap_pp": short if pct_unit else None,
        "gap_abs": (short / 100.0 * den if pct_unit else short) if short is not None else None,
    }
    details["complete_data"] = False
    names = "、".join(table.loc[out, "name"].astype(str)) if "name" in table else ""
    note = {
        "kind": "missing_data",
        "text": f"图层{'、'.join(kinds)}的数据范围（extent）未覆盖：{names}；这些区记为无数据，"
        "合计值只由其余各区计算",
        "text_en": f"the extent of {', '.join(kinds)} does not cover {int(out.sum())} district(s)",
    }
    return dataclasses.replace(
        result, by_district=table, value=value, details=details, notes=[*result.notes, note]
    )


def _kinds(metric: str) -> tuple[str, ...]:
    """Layer kinds a metric needs (from the registry; none for an unknown metric)."""
    spec = metric_spec(metric)
    return spec.kinds if spec else ()


def measure_targets(
    pack: Any,
    layers: Any,
    *,
    by: Literal["district"] | None = "district",
    jurisdiction: Any = None,
    rasters: Mapping[str, Any] | None = None,
    population: Any = None,
    scopes: Mapping[str, Any] | None = None,
    network: Any = None,
    method: Literal["vector", "raster"] = "vector",
    judge_partial: bool = False,
    metrics: Sequence[str] | None = None,
) -> list[MetricResult]:
    """Measure every target of a pack at its own scope.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack` (targets with their scopes, park service tiers,
        jurisdiction).
    layers
        Mapping kind → Layer / GeoDataFrame, or a LayerStore (``get_kind``). Kinds
        used: boundary, redline, eco_control, park, residential, built_up, sponge.
    by
        "district" for per-district contribution tables, None for none (the districts'
        data coverage is checked either way).
    jurisdiction
        An adcode, list of adcodes, or a polygon (GeoDataFrame / lon/lat geometry);
        default the pack's jurisdiction. Targets whose scope contains it are measured
        as its contribution.
    rasters
        ``{"landcover": path, "forest_classes": [...]}``.
    population
        Population for per-person metrics: a population table (DataFrame or the path
        of a CSV, see :mod:`zoning.coverage.population`), a number of residents of the
        scope, or a population raster path. Default: the bundled table
        (``data/population.csv``).
    scopes
        Areas given by the user, by scope id (``{"plains": GeoDataFrame, ...}``);
        they replace the declared area of that scope.
    network
        Street lines for network park coverage.
    method
        Park coverage method.
    judge_partial
        Judge figures built from part of the districts (met / unmet, with a note);
        by default they are "partial" and not judged.
    metrics
        Measure only the targets of these metrics (names in
        :data:`zoning.coverage.registry.METRICS`); default all.

    Returns
    -------
    list of MetricResult
        One per target, in pack order, each with ``status``, ``binding``,
        ``scope_name`` and ``covered_districts``; targets that cannot be measured
        have ``measured=False``, status "no_data" and a ``reason`` naming what to
        provide.
    """
    from zoning.coverage.population import load_population

    rasters = dict(rasters or {})
    given = dict(scopes or {})
    try:
        boundaries = get_layer(layers, "boundary")
    except MissingLayerError:
        boundaries = None
    jur = getattr(pack, "jurisdiction", None)
    jur_name = getattr(jur, "name", None) or "辖区"
    if jurisdiction is None:
        j_codes = [str(c) for c in getattr(jur, "adcodes", []) or []]
        j_poly = None
    elif isinstance(jurisdiction, str | list | tuple):
        j_codes = (
            [jurisdiction] if isinstance(jurisdiction, str) else [str(c) for c in jurisdiction]
        )
        j_poly = None
    else:
        j_codes, j_poly = [], area_series(jurisdiction)
        jur_name = "指定范围"
    if j_codes and boundaries is not None:
        rows = _boundary_rows(boundaries, j_codes)
        if rows is not None and jurisdiction is not None and "name" in rows:
            jur_name = "、".join(rows["name"].astype(str))

    def j_area() -> gpd.GeoSeries:
        if j_poly is not None:
            return j_poly
        rows = None if boundaries is None else _boundary_rows(boundaries, j_codes)
        if rows is None:
            msg = (
                f"jurisdiction {j_codes} not found: no boundary layer holds adcode(s) "
                f"{j_codes}; {IMPORT_HINT.format(kind='boundary')}"
            )
            raise MissingLayerError(msg)
        return area_series(rows)

    def base_codes(sid: str, depth: int = 0) -> list[str] | None:
        if depth > 10:
            return None
        if sid == "jurisdiction" and jurisdiction is not None:
            return j_codes or None
        sc = _scope(pack, sid)
        if sc.adcodes:
            return list(sc.adcodes)
        if sid == "jurisdiction":
            return j_codes or None
        return base_codes(sc.within, depth + 1) if sc.within else None

    def scope_area(sid: str, depth: int = 0) -> gpd.GeoSeries:
        if sid in given:
            return area_series(given[sid])
        if sid == "jurisdiction" and (jurisdiction is not None or not _scope(pack, sid).adcodes):
            return j_area()
        sc = _scope(pack, sid)
        if sc.adcodes:
            rows = None if boundaries is None else _boundary_rows(boundaries, sc.adcodes)
            if rows is None:
                msg = (
                    f"no boundary for {sc.name} (adcode {sc.adcodes}): "
                    f"{IMPORT_HINT.format(kind='boundary')}"
                )
                raise MissingLayerError(msg)
            return area_series(rows)
        if sc.input or depth > 10:
            msg = (
                f"{sc.name}的范围须由用户提供: pass `--scope {sid}=FILE` "
                f"(Python: scopes={{{sid!r}: GeoDataFrame}})"
            )
            raise MissingLayerError(msg)
        within = scope_area(sc.within, depth + 1) if sc.within else None
        feats = as_frame(get_layer(layers, sc.layer), sc.layer, {})
        if within is None:
            return area_series(feats)
        clipped = gpd.clip(feats, within.to_crs(feats.crs))
        if len(clipped) == 0:
            msg = (
                f"无数据: the {sc.layer!r} layer has no feature in {sc.name}: "
                + IMPORT_HINT.format(kind=sc.layer)
            )
            raise MissingLayerError(msg)
        return area_series(clipped)

    def breakdown(codes: list[str] | None) -> Any:
        # computed even without a breakdown: which districts have data decides
        # whether the figure is complete (judged) or partial
        if boundaries is None or not codes:
            return None
        d = districts_of(boundaries, codes)
        if len(d) == 0 or set(d["adcode"].astype(str)) <= set(codes):
            return None  # the breakdown would be the area itself
        return d

    def pop_input() -> Any:
        pop = population if population is not None else rasters.get("population")
        if pop is None:
            return load_population()
        if isinstance(pop, str | os.PathLike) and str(pop).lower().endswith(".csv"):
            return load_population(pop)
        return pop

    def placement(t: Any) -> tuple[bool, str]:
        """Whether the figure is a contribution, and the name of the area measured."""
        sid = getattr(t, "scope", "jurisdiction")
        sc = _scope(pack, sid)
        codes = base_codes(sid)
        contribution = bool(
            codes
            and (
                j_poly is not None
                or (
                    j_codes
                    and set(codes) != set(j_codes)
                    and all(any(_contains(b, j) for b in codes) for j in j_codes)
                )
            )
        )
        name = f"{jur_name}（对{sc.name}目标的贡献）" if contribution else sc.name
        return contribution, name

    def one(t: Any, contribution: bool, name: str) -> MetricResult:
        sid = getattr(t, "scope", "jurisdiction")
        sc = _scope(pack, sid)
        codes = base_codes(sid)
        scope_note = None
        spec = metric_spec(t.metric)
        for kind in _kinds(t.metric):
            if kind != sc.layer:  # a missing input layer is named before the scope's
                try:
                    get_layer(layers, kind)
                except MissingLayerError as err:
                    new = missing_kind(spec, kind, err)
                    if new is err:
                        raise
                    raise new from err
        try:
            area_t = scope_area(sid)
        except MissingLayerError:
            # residential land lies in the built-up area: without the built-up layer,
            # all residential land of the enclosing scope is measured (and noted)
            if spec is None or not spec.scope_fallback or not sc.layer:
                raise
            outer = sc.within or "jurisdiction"
            area_t = scope_area(outer)
            scope_note = (
                f"无{sc.name}图层（{sc.layer}）：按{_scope(pack, outer).name}内全部居住用地计算"
            )
        if contribution:
            ja = j_area().to_crs(area_t.crs)
            area_t = area_series(gpd.GeoSeries(area_t.intersection(ja.iloc[0]), crs=area_t.crs))
        zones = breakdown(j_codes if contribution else codes)
        if spec is None:
            raise MissingLayerError(f"metric {t.metric!r} is not measured by ecozone")
        result = spec.measure_function()(
            MetricInputs(
                target=t, layers=layers, area=area_t, zones=zones,
                scope_adcodes=bool(sc.adcodes), area_codes=j_codes if contribution else codes,
                name=name, pack=pack, rasters=rasters, population=pop_input,
                network=network, method=method,
            )
        )  # fmt: skip
        if scope_note:
            result.details["scope_note"] = scope_note
            result.notes.append(
                {
                    "kind": "assumption",
                    "text": scope_note,
                    "text_en": f"no {sc.layer} layer: all residential land used",
                }
            )
        return result

    results = []
    for t in getattr(pack, "targets", []):
        if metrics is not None and t.metric not in metrics:
            continue
        contribution, name = placement(t)
        try:
            result = one(t, contribution, name)
        except (MissingLayerError, InputFormatError) as err:
            results.append(_not_measured(t, str(err), name))
            continue
        codes = base_codes(getattr(t, "scope", "jurisdiction"))
        result = _within_extents(
            result, t.metric, layers, boundaries, breakdown(j_codes if contribution else codes)
        )
        result = with_status(
            dataclasses.replace(result, scope=getattr(t, "scope", None), scope_name=name),
            contribution=contribution,
            judge_partial=judge_partial,
            binding=bool(getattr(t, "binding", True)),
        )
        if by != "district":
            result = dataclasses.replace(result, by_district=pd.DataFrame())
        demo = _synthetic(layers, _kinds(t.metric))
        spec = metric_spec(t.metric)
        for raster, raster_label in (spec.rasters if spec else {}).items():
            if _synthetic_raster(rasters.get(raster)):
                demo.append(f"{raster_label} {raster}")
        for sid in _scope_chain(pack, getattr(t, "scope", "jurisdiction")):
            area = given.get(sid)
            if isinstance(area, pd.DataFrame) and "synthetic" in area:
                if area["synthetic"].fillna(False).astype(bool).any():
                    demo.append(f"{_scope(pack, sid).name}范围 {sid}")
        if demo:
            result.notes.append(
                {
                    "kind": "demo_data",
                    "text": f"本指标使用了演示（合成）数据图层：{'、'.join(demo)}，"
                    "数值不代表实际情况",
                    "text_en": f"uses synthetic demonstration layers: {', '.join(demo)}",
                }
            )
        results.append(result)
    return results
