"""Coverage metrics and the coverage map of a pack's jurisdiction, cached per store state.

Measuring every target (:func:`zoning.coverage.measure.measure_targets`) and finding the
residential land outside park service areas (:func:`zoning.coverage.gaps.uncovered_residential`)
take seconds on real data, so both are computed once per (pack, layer versions) in
the worker pool and shared by every request; a request that passes the time limit
gets 504 while the computation goes on and fills the cache for the next one.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import Future
from typing import Any

import numpy as np
import pandas as pd

from ecozone.web.checks import check_pack_name
from layers.kinds import kinds_in_view

log = logging.getLogger(__name__)

__all__ = ["CoverageCache", "json_safe"]

# layers drawn on the coverage map, beneath the gaps
# (the registry's "coverage" view; residential land is not drawn: its gaps are shown)
_MAP_KINDS = kinds_in_view("coverage")


def json_safe(value: Any) -> Any:
    """Plain JSON types from numpy/pandas values (NaN → None)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray | pd.Series):
        return [json_safe(v) for v in list(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _metric_dict(m: Any, pack: Any) -> dict[str, Any]:
    row = dict(m.as_row())
    target = next((t for t in getattr(pack, "targets", []) if t.id == m.target_id), None)
    row["label_en"] = getattr(target, "label_en", None) or m.metric
    row["year"] = getattr(target, "year", None)
    row["scope"] = getattr(target, "scope", None)
    # a target is judged only at its scope: status, binding vs 力争 and the data coverage
    row["status_en"] = m.status_en
    row["nature_en"] = "binding" if m.binding else "aspirational (力争)"
    row["covered_districts"] = list(m.covered_districts)
    row["notes"] = list(m.notes)
    from zoning.coverage.tables import citation_text

    row["citation_text"] = citation_text(m, pack)
    row["inputs"] = dict(m.inputs)
    row["details"] = dict(m.details)
    bd = m.by_district
    row["by_district"] = bd.to_dict(orient="records") if isinstance(bd, pd.DataFrame) else []
    return json_safe(row)


class CoverageCache:
    """Metrics and coverage maps per pack, recomputed when the store changes.

    Parameters
    ----------
    store
        A :class:`layers.LayerStore`.
    runner
        The app's :class:`ecozone.web.runner.Runner`.
    basemap
        Basemap of the coverage map ("none" or a tile URL).
    """

    def __init__(self, store: Any, runner: Any, *, basemap: str = "none") -> None:
        self.store = store
        self.runner = runner
        self.basemap = basemap
        self._lock = threading.Lock()
        self._futures: dict[tuple[Any, ...], Future[Any]] = {}

    def invalidate(self) -> None:
        """Forget every cached result (after an import)."""
        with self._lock:
            self._futures.clear()

    def _future(self, key: tuple[Any, ...], fn: Any, *args: Any) -> Future[Any]:
        stamp = tuple(
            sorted((k, v["version"], v["checksum"]) for k, v in self.store.stamp().items())
        )
        full = (*key, stamp)
        with self._lock:
            fut = self._futures.get(full)
            if fut is None or (fut.done() and fut.exception() is not None):
                fut = self.runner.submit(fn, *args)
                # drop results of older store states
                for old in [k for k in self._futures if k[:-1] == key]:
                    del self._futures[old]
                self._futures[full] = fut
            return fut

    def metrics(self, pack_name: str) -> Future[dict[str, Any]]:
        """Future of the metrics JSON of a pack."""
        check_pack_name(pack_name)
        return self._future(("metrics", pack_name), self._measure, pack_name)

    def map_html(self, pack_name: str, lang: str) -> Future[str]:
        """Future of the coverage map page of a pack."""
        check_pack_name(pack_name)
        return self._future(("map", pack_name, lang), self._map, pack_name, lang)

    def _layers(self) -> dict[str, Any]:
        """Latest layer of every kind the store holds.

        A mapping rather than the store itself: ``zoning.coverage.metrics.get_layer`` asks the
        store for kinds that are not layer kinds ("built_up", "sponge"), which a
        LayerStore refuses with LayerValidationError instead of "missing".
        """
        kinds = sorted(set(self.store.list_layers()["kind"].astype(str)))
        return {k: self.store.get_kind(k) for k in kinds}

    def _measure(self, pack_name: str) -> dict[str, Any]:
        from zoning.coverage.measure import measure_targets
        from zoning.pack import load_pack

        pack = load_pack(pack_name)
        results = measure_targets(pack, self._layers(), by="district")
        return {
            "pack": pack.name,
            "title": pack.title,
            "title_en": pack.title_en,
            "jurisdiction": json_safe(pack.jurisdiction.model_dump()),
            "layers": json_safe(self.store.stamp()),
            "metrics": [_metric_dict(m, pack) for m in results],
        }

    # jurisdiction → layers → gaps: ecozone.workflows.coverage_map_layers (gaps shared
    # with the CLI and demo through zoning.workflow.residential_gaps)
    def _map(self, pack_name: str, lang: str) -> str:
        from ecozone.workflows import coverage_map_layers
        from maps.interactive import interactive_map, render_interactive
        from zoning.pack import load_pack

        pack = load_pack(pack_name)
        layers, gaps = coverage_map_layers(pack, self.store, _MAP_KINDS)
        title = (pack.title if lang == "zh" else pack.title_en) or pack.name
        m = interactive_map(layers, gaps=gaps, basemap=self.basemap, lang=lang, title=title)
        return render_interactive(m)
