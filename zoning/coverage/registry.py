"""The coverage metrics ecozone measures, by name (the metric registry).

Each :class:`MetricSpec` names a metric's input layer kinds and rasters, its labels,
unit and comparison, and the function that measures it for one target of a pack
(:func:`zoning.coverage.targets.measure_targets` dispatches through
:data:`METRICS`; ``ecozone coverage --help`` lists them). To add a metric: write
its measure function (e.g. in :mod:`zoning.coverage.shares`) and add an entry
here with :func:`register_metric`; a pack's ``[[targets]]`` entry with
``metric = "NAME"`` then measures it (the target value comes from the pack).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoning.coverage.metrics import MetricResult

__all__ = ["METRICS", "MetricInputs", "MetricSpec", "metric_spec", "register_metric"]


@dataclass
class MetricInputs:
    """What a metric's measure function gets for one target.

    Attributes
    ----------
    target : Target
        The pack target (``metric``, ``value``, ``comparison``, ``scope``, ...).
    layers : Mapping or LayerStore
        Layers by kind (see :func:`zoning.coverage.metrics.get_layer`).
    area : geopandas.GeoSeries
        The area measured (the target's scope, cut to the jurisdiction for a
        contribution).
    zones : GeoDataFrame or None
        Districts of the breakdown.
    scope_adcodes : bool
        The scope is declared by adcodes (a breakdown by district makes sense).
    area_codes : list of str or None
        Adcodes of the measured area (for population tables).
    name : str
        Name of the area measured (for messages).
    pack : Pack
        The pack (e.g. ``park_service`` tiers).
    rasters : dict
        Raster inputs by name (``landcover``, ``forest_classes``, ``population``).
    population : callable
        Returns the population input (table, number or raster).
    network : GeoDataFrame or None
        Street lines for network park coverage.
    method : str
        Park coverage method ("vector" / "raster").
    """

    target: Any
    layers: Any
    area: Any
    zones: Any
    scope_adcodes: bool
    area_codes: list[str] | None
    name: str
    pack: Any
    rasters: dict[str, Any]
    population: Callable[[], Any]
    network: Any = None
    method: str = "vector"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its inputs, labels and measure function.

    Attributes
    ----------
    name : str
        Metric name, as in a pack's ``[[targets]] metric = ...``.
    label, label_en : str
        Chinese and English labels.
    unit : str
        "%" or "m2/person".
    comparison : str
        ">=" or "<=" (a pack target may set its own).
    kinds : tuple of str
        Layer kinds it needs (their extents and demonstration flags are checked).
    rasters : dict
        Raster inputs it needs: name → Chinese label.
    measure : str
        ``"module:function"`` of ``function(MetricInputs) -> MetricResult``, imported
        when the metric is measured (so listing the metrics loads no geometry
        library); it raises :class:`geo.errors.MissingLayerError` naming what to
        provide.
    kind_hints : dict
        Kind → wording of a missing layer of that kind.
    scope_fallback : bool
        Without the scope's own layer (e.g. built_up), measure over the enclosing
        scope and note it.
    """

    name: str
    label: str
    label_en: str
    unit: str
    comparison: str
    kinds: tuple[str, ...]
    measure: str
    rasters: Mapping[str, str] = field(default_factory=dict)
    kind_hints: Mapping[str, str] = field(default_factory=dict)
    scope_fallback: bool = False

    def measure_function(self) -> Callable[[MetricInputs], MetricResult]:
        """Import and return the measure function named by ``measure``."""
        module, _, name = self.measure.partition(":")
        return getattr(importlib.import_module(module), name)


#: Every metric ecozone measures, by name.
METRICS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add (or replace) a metric in :data:`METRICS`.

    Parameters
    ----------
    spec
        The metric.

    Returns
    -------
    MetricSpec
        ``spec``.
    """
    METRICS[spec.name] = spec
    return spec


def metric_spec(name: str) -> MetricSpec | None:
    """The registered metric ``name``, or None."""
    return METRICS.get(name)


_A = "zoning.coverage.adapters:"

for _spec in (
    MetricSpec(
        "redline_share", "生态保护红线面积占比", "Red line share of area", "%", ">=",
        kinds=("redline",), measure=_A + "redline_share",
    ),
    MetricSpec(
        "eco_control_share", "生态控制区面积占比", "Ecological control zone share", "%", ">=",
        kinds=("eco_control",), measure=_A + "eco_control_share",
    ),
    MetricSpec(
        "park_service_coverage", "公园绿地500米服务半径覆盖率", "Park service-radius coverage",
        "%", ">=", kinds=("park", "residential"), measure=_A + "park_service",
        scope_fallback=True,
    ),
    MetricSpec(
        "park_area_per_person", "人均公园绿地面积", "Park green space per person",
        "m2/person", ">=", kinds=("park",), measure=_A + "park_per_person",
    ),
    MetricSpec(
        "forest_share", "森林覆盖率", "Forest coverage", "%", ">=", kinds=(),
        measure=_A + "forest", rasters={"landcover": "土地覆盖栅格"},
    ),
    MetricSpec(
        "sponge_share", "建成区海绵城市达标面积比例", "Sponge-city share of built-up area",
        "%", ">=", kinds=("sponge", "built_up"), measure=_A + "sponge",
        kind_hints={"sponge": "areas meeting the sponge-city standard"},
    ),
):  # fmt: skip
    register_metric(_spec)
