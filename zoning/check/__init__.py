"""zoning.check: the 三线一单 site check: engine, relations, sites, results, batches.

The public names of the modules below, imported on first use
(``from zoning.check import X`` keeps working after the modules moved here).
"""

from geo.lazy import lazy_exports

_EXPORTS = {
    "BatchSummary": "zoning.check.batch",
    "CheckResult": "zoning.check.engine",
    "MissingLayerWarning": "zoning.check.engine",
    "OUTCOME_ORDER": "zoning.check.engine",
    "PREDICATES": "zoning.check.predicates",
    "SMALL_RESULT": "zoning.check.engine",
    "SiteChecker": "zoning.check.engine",
    "VERDICTS": "zoning.check.engine",
    "VERDICT_ZH": "zoning.check.engine",
    "check_sites": "zoning.check.engine",
    "check_sites_dask": "zoning.check.dask_engine",
    "dask_client": "zoning.check.dask_engine",
    "hilbert_keys": "zoning.check.dask_engine",
    "load_layers": "zoning.check.batch",
    "rows_from_frames": "zoning.check.result",
    "run_batch": "zoning.check.batch",
    "run_batch_dask": "zoning.check.dask_batch",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
