"""The peer benchmark harness: ecozone against GeoPandas, PostGIS and DuckDB.

Run it with ``benchmarks/run_peers.py`` (see ``benchmarks/README.md``). Modules:
:mod:`~benchmarks.harness.dataset` (the dataset), :mod:`~benchmarks.harness.tasks`
(answer shapes, timers), one ``engine_<name>`` module per engine,
:mod:`~benchmarks.harness.worker` (one engine run in a fresh process),
:mod:`~benchmarks.harness.compare` (agreement checks),
:mod:`~benchmarks.harness.report` (tables, JSON, machine) and
:mod:`~benchmarks.harness.runner` (the whole run).
"""

__all__ = ["compare", "dataset", "report", "runner", "tasks", "worker"]
