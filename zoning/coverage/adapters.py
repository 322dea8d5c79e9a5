"""Measure functions of the registered metrics (:data:`zoning.coverage.registry.METRICS`).

Each takes a :class:`zoning.coverage.registry.MetricInputs` and returns a
:class:`zoning.coverage.metrics.MetricResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geo.errors import MissingLayerError
from zoning.coverage.metrics import IMPORT_HINT, MetricResult, get_layer
from zoning.coverage.parks import park_service_coverage
from zoning.coverage.registry import MetricInputs, MetricSpec, metric_spec
from zoning.coverage.shares import (
    DEFAULT_FOREST_CLASSES,
    forest_share,
    park_area_per_person,
    share_of_area,
    sponge_share,
)

__all__ = [
    "eco_control_share",
    "forest",
    "missing_kind",
    "park_per_person",
    "park_service",
    "redline_share",
    "sponge",
]


def missing_kind(spec: MetricSpec | None, kind: str, err: MissingLayerError) -> MissingLayerError:
    """The error for a missing input layer of ``spec`` (with the kind's wording)."""
    hint = spec.kind_hints.get(kind) if spec is not None else None
    if hint is None:
        return err
    return MissingLayerError(f"no {kind!r} layer ({hint}): " + IMPORT_HINT.format(kind=kind))


def _layer(spec: MetricSpec | None, inp: MetricInputs, kind: str) -> Any:
    try:
        return get_layer(inp.layers, kind)
    except MissingLayerError as err:
        new = missing_kind(spec, kind, err)
        if new is err:
            raise
        raise new from err


def _share(kind: str, zone_type: str | None = None) -> Callable[[MetricInputs], MetricResult]:
    def measure(inp: MetricInputs) -> MetricResult:
        layer = get_layer(inp.layers, kind)
        gdf = layer.gdf if hasattr(layer, "gdf") else layer
        if zone_type and "zone_type" in gdf:
            sel = gdf["zone_type"].astype(str).str.contains(zone_type, case=False, regex=True)
            if sel.any() and not sel.all():
                layer = gdf[sel]
        return share_of_area(
            layer, inp.area, metric=inp.target.metric, districts=inp.zones, target=inp.target
        )

    return measure


redline_share = _share("redline")
eco_control_share = _share("eco_control", "生态控制|eco")


def park_service(inp: MetricInputs) -> MetricResult:
    """Park service-radius coverage of residential land (公园绿地服务半径覆盖率)."""
    parks, res = get_layer(inp.layers, "park"), get_layer(inp.layers, "residential")
    rgdf = res.gdf if hasattr(res, "gdf") else res
    pop = (
        "population"
        if inp.method == "vector" and inp.network is None and "population" in rgdf
        and rgdf["population"].notna().any() else None
    )  # fmt: skip
    result = park_service_coverage(
        parks, res, tiers=getattr(inp.pack, "park_service", None), area_of=inp.area,
        population=pop, network=inp.network, districts=inp.zones, method=inp.method,
        target=inp.target,
    )  # fmt: skip
    if result.value is None:
        hint = IMPORT_HINT.format(kind="residential")
        msg = f"无数据: no residential land in {inp.name}: {hint}"
        raise MissingLayerError(msg)
    return result


def park_per_person(inp: MetricInputs) -> MetricResult:
    """Park green space per resident (人均公园绿地面积)."""
    pop = inp.population()
    return park_area_per_person(
        get_layer(inp.layers, "park"), population=pop, area_of=inp.area, districts=inp.zones,
        target=inp.target, area_codes=inp.area_codes,
    )  # fmt: skip


def forest(inp: MetricInputs) -> MetricResult:
    """Forest coverage from the land-cover raster (森林覆盖率)."""
    if "landcover" not in inp.rasters:
        msg = (
            "no land-cover raster: pass `--landcover FILE.tif` "
            "(Python: rasters={'landcover': PATH})"
        )
        raise MissingLayerError(msg)
    return forest_share(
        inp.rasters["landcover"], inp.area,
        forest_classes=inp.rasters.get("forest_classes", DEFAULT_FOREST_CLASSES),
        districts=inp.zones if inp.scope_adcodes else None, target=inp.target,
    )  # fmt: skip


def sponge(inp: MetricInputs) -> MetricResult:
    """Sponge-city share of the built-up area (海绵城市达标面积比例)."""
    sponge = _layer(metric_spec("sponge_share"), inp, "sponge")
    return sponge_share(sponge, inp.area, districts=inp.zones, target=inp.target)
