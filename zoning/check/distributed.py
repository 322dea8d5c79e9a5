"""Distributed site checks with dask: many cores, several machines, sites beyond memory.

The dask engine lives in two modules; this one keeps their public names importable
from the path the README, the docs and earlier releases use
(``from zoning.check.distributed import check_sites_dask, run_batch_dask``):

- :mod:`zoning.check.dask_engine`: the cluster (:func:`dask_client`), the spatial
  partitioning (:func:`hilbert_keys`) and :func:`check_sites_dask` (a GeoDataFrame in,
  a :class:`~zoning.check.result.CheckResult` out);
- :mod:`zoning.check.dask_batch`: :func:`run_batch_dask`, GeoParquet in, partitioned
  GeoParquet out (``ecozone check SITES.parquet --engine dask --out RESULT/``).

Both give the same verdicts, deciding rules and distances as the in-memory engine
(:func:`zoning.check.engine.check_sites` / :func:`zoning.check.batch.run_batch`) for
the same ``distances`` option. Needs ``pip install "dask[distributed]" dask-geopandas``
(imported only when a function runs).
"""

from __future__ import annotations

from zoning.check.dask_batch import run_batch_dask
from zoning.check.dask_engine import (
    HILBERT_LEVEL,
    PART_ROWS,
    check_sites_dask,
    dask_client,
    hilbert_keys,
)

__all__ = [
    "HILBERT_LEVEL",
    "PART_ROWS",
    "check_sites_dask",
    "dask_client",
    "hilbert_keys",
    "run_batch_dask",
]
