"""Run one engine on one task in this process, and report times and memory as JSON.

The runner starts one fresh process per (task, engine, phase), so that each engine's
peak memory is its own::

    python -m benchmarks.harness.worker --engine geopandas --task points \
        --dataset DIR --input sites.parquet --answer DIR [--pg-url URL --pg-db NAME]

The last line printed is a JSON object: ``engine, task, n, load_s, run_s,
peak_rss_mb`` (VmHWM right after the timed call), ``input_rss_mb`` (after reading the
inputs), ``server_peak_mb`` (PostGIS: summed PSS of the server's processes during the
timed call), ``status`` and, on failure, ``error``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import geopandas as gpd

from benchmarks.harness.tasks import MemorySampler, Stopwatch, current_rss_mb, peak_rss_mb

ENGINES = ("ecozone", "geopandas", "postgis", "duckdb")


def engine_module(name: str) -> Any:
    """The module of engine ``name`` (``benchmarks.harness.engine_<name>``)."""
    if name not in ENGINES:
        msg = f"unknown engine {name!r}; choose from {', '.join(ENGINES)}"
        raise ValueError(msg)
    return importlib.import_module(f"benchmarks.harness.engine_{name}")


def run_engine(
    engine: str,
    task: str,
    dataset: Path,
    input_path: Path,
    answer_dir: Path,
    *,
    pg_url: str | None = None,
    pg_db: str | None = None,
) -> dict[str, Any]:
    """Load the inputs, run ``engine`` on ``task``, save its answer; return the figures.

    Parameters
    ----------
    engine
        "ecozone" | "geopandas" | "postgis" | "duckdb".
    task
        "points" | "polygons" | "pip" | "coverage".
    dataset
        Dataset folder (``layers/*.parquet``).
    input_path
        The sites (check tasks) or the residential parcels (coverage).
    answer_dir
        Where the answer files go.
    pg_url, pg_db
        PostGIS server URL and the database name to (re)create for this run.

    Returns
    -------
    dict
        The figures (see the module docstring).
    """
    mod = engine_module(engine)
    kw: dict[str, Any] = {}
    sampler_pids = None
    if engine == "postgis":
        if not pg_url or not pg_db:
            raise ValueError("the postgis engine needs --pg-url and --pg-db")
        kw["url"] = mod.fresh_database(pg_url, pg_db)
        sampler_pids = mod.server_pids(pg_url)
    layer_dir = Path(dataset) / "layers"
    out: dict[str, Any] = {"engine": engine, "task": task, "status": "ok"}
    if task == "coverage":
        parks = gpd.read_parquet(layer_dir / "park.parquet")
        primary = gpd.read_parquet(input_path)
        out["input_rss_mb"] = round(current_rss_mb())
        with Stopwatch() as t_load:
            state = mod.load_coverage(parks, primary, **kw)
    elif task == "pip":
        redline = gpd.read_parquet(layer_dir / "redline.parquet")
        primary = gpd.read_parquet(input_path)
        out["input_rss_mb"] = round(current_rss_mb())
        with Stopwatch() as t_load:
            state = mod.load_pip(redline, primary, **kw)
    else:
        from benchmarks.harness.dataset import LAYER_KINDS

        layers = {
            k: gpd.read_parquet(layer_dir / f"{k}.parquet")
            for k in LAYER_KINDS
            if k not in ("park", "residential")
        }
        primary = gpd.read_parquet(input_path)
        out["input_rss_mb"] = round(current_rss_mb())
        with Stopwatch() as t_load:
            state = mod.load_check(layers, primary, **kw)
    out["n"] = len(primary)
    out["load_s"] = round(t_load.seconds, 3)
    try:
        _timed_run(mod, task, state, primary, out, sampler_pids, Path(answer_dir))
    finally:
        if hasattr(mod, "close"):
            mod.close(state)
    return out


def _timed_run(
    mod: Any, task: str, state: Any, primary: gpd.GeoDataFrame, out: dict[str, Any],
    sampler_pids: Any, answer_dir: Path,
) -> None:  # fmt: skip
    """Run the timed call (sampling the server's memory), then save the answer."""
    gc.collect()
    sampler = MemorySampler(sampler_pids) if sampler_pids else None
    if sampler:
        sampler.__enter__()
    try:
        with Stopwatch() as t_run:
            if task == "coverage":
                result = mod.run_coverage(state)
            elif task == "pip":
                result = mod.run_pip(state)
            else:
                result = mod.run_check(state, primary)
    finally:
        if sampler:
            sampler.__exit__(None, None, None)
    out["run_s"] = round(t_run.seconds, 3)
    out["peak_rss_mb"] = round(peak_rss_mb())
    if sampler:
        out["server_peak_mb"] = round(sampler.peak_mb)
        out["server_mem_kind"] = sampler.kind
    if task == "pip":
        answer = result
        out["pairs"] = len(answer.point)
    elif task == "coverage":
        answer = mod.coverage_answer(state, result)
        out["coverage_pct"] = answer.coverage_pct
        out["extra"] = answer.extra
    else:
        answer = mod.check_answer(state, primary, result)
        out["pairs"] = len(answer.pairs)
        out["well_pairs"] = len(answer.wells)
    answer.save(answer_dir)


def run_engine_e2e(
    engine: str,
    task: str,
    dataset: Path,
    input_path: Path,
    answer_dir: Path,
    *,
    pg_url: str | None = None,
    pg_db: str | None = None,
) -> dict[str, Any]:
    """End-to-end run of a check task: from the files to the engine's result file.

    Timed as one span (``e2e_s``): reading the layers and the sites (GeoParquet),
    preparing the engine (indexes, PostGIS COPY, DuckDB inserts), the task, and
    writing the result file(s). ecozone runs :func:`zoning.check.batch.run_batch` (what
    ``ecozone check SITES --out R`` runs) with the benchmark pack and layers and
    writes one verdict row per site (``result.parquet``); the peers write their
    answer tables (``pairs/wells/nearest.parquet``).

    Returns
    -------
    dict
        ``engine, task, n, e2e_s, peak_rss_mb, status`` (``out_rows`` for ecozone).
    """
    if task not in ("points", "polygons"):
        raise ValueError(f"the end-to-end mode covers the check tasks, not {task!r}")
    mod = engine_module(engine)
    kw: dict[str, Any] = {}
    if engine == "postgis":
        if not pg_url or not pg_db:
            raise ValueError("the postgis engine needs --pg-url and --pg-db")
        kw["url"] = mod.fresh_database(pg_url, pg_db)
    from benchmarks.harness.dataset import LAYER_KINDS

    layer_dir = Path(dataset) / "layers"
    answer_dir = Path(answer_dir)
    answer_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"engine": engine, "task": task, "status": "ok", "mode": "e2e"}
    gc.collect()
    with Stopwatch() as t:
        layers = {
            k: gpd.read_parquet(layer_dir / f"{k}.parquet")
            for k in LAYER_KINDS
            if k not in ("park", "residential")
        }
        if engine == "ecozone":
            summary = mod.run_e2e(layers, Path(input_path), answer_dir / "result.parquet")
            out["n"] = int(summary.total)
            out["out_rows"] = int(summary.checked)
        else:
            sites = gpd.read_parquet(input_path)
            state = mod.load_check(layers, sites, **kw)
            try:
                answer = mod.check_answer(state, sites, mod.run_check(state, sites))
            finally:
                if hasattr(mod, "close"):
                    mod.close(state)
            answer.save(answer_dir)
            out["n"] = len(sites)
    out["e2e_s"] = round(t.seconds, 3)
    out["peak_rss_mb"] = round(peak_rss_mb())
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry of the worker process."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", required=True, choices=ENGINES)
    ap.add_argument("--task", required=True, choices=("points", "polygons", "pip", "coverage"))
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--input", required=True, type=Path)
    ap.add_argument("--answer", required=True, type=Path)
    ap.add_argument("--pg-url")
    ap.add_argument("--pg-db")
    ap.add_argument("--mode", choices=("task", "e2e"), default="task")
    args = ap.parse_args(argv)
    fn = run_engine_e2e if args.mode == "e2e" else run_engine
    try:
        out = fn(
            args.engine, args.task, args.dataset, args.input, args.answer,
            pg_url=args.pg_url, pg_db=args.pg_db,
        )  # fmt: skip
    except Exception as exc:  # reported to the runner as a failed run
        out = {
            "engine": args.engine,
            "task": args.task,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    print(json.dumps(out, ensure_ascii=False, default=str), flush=True)
    return 0 if out["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
