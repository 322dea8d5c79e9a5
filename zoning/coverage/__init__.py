"""zoning.coverage: coverage against plan targets: metrics, targets, parks, gaps.

The public names of the modules below, imported on first use
(``from zoning.coverage import X`` keeps working after the modules moved here).
"""

from geo.lazy import lazy_exports

_EXPORTS = {
    "CoverageGeometry": "zoning.coverage.measure",
    "CoverageTile": "zoning.coverage.measure",
    "DEFAULT_FOREST_CLASSES": "zoning.coverage.measure",
    "METRICS": "zoning.coverage.registry",
    "MetricInputs": "zoning.coverage.registry",
    "MetricResult": "zoning.coverage.measure",
    "MetricSpec": "zoning.coverage.registry",
    "coverage_tiles": "zoning.coverage.measure",
    "districts_of": "zoning.coverage.measure",
    "forest_share": "zoning.coverage.measure",
    "get_layer": "zoning.coverage.measure",
    "measure_targets": "zoning.coverage.measure",
    "metric_spec": "zoning.coverage.registry",
    "metrics_table": "zoning.coverage.measure",
    "network_service_area": "zoning.coverage.measure",
    "park_area_per_person": "zoning.coverage.measure",
    "park_coverage_geometry": "zoning.coverage.measure",
    "park_service_coverage": "zoning.coverage.measure",
    "pocket_park_sites": "zoning.coverage.gaps",
    "register_metric": "zoning.coverage.registry",
    "share_of_area": "zoning.coverage.measure",
    "sponge_share": "zoning.coverage.measure",
    "uncovered_residential": "zoning.coverage.gaps",
    "write_metrics_csv": "zoning.coverage.measure",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
