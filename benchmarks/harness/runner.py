"""The peer benchmark run: dataset, agreement check, timed runs, report.

For every task instance (points at each ``--sites`` count, polygons at each
``--polygon-sites`` count, coverage):

1. **agreement** — every engine runs on a deterministic random subset of the task's
   data (``--check-sites`` sites or parcels, all layers), each in a fresh process,
   and its answer is compared with ecozone's (:mod:`benchmarks.harness.compare`).
   A disagreement stops the run and prints the first differing sites;
2. **timing** — every engine runs on the full data, each in a fresh process (so
   the peak memory is its own), under ``--timeout`` seconds; a run that takes
   longer is killed and reported as a timeout;
3. the full answers are compared again (a disagreement stops the run), the ratios
   to ecozone computed and ``results.json`` / ``results.md`` rewritten.

PostGIS runs on one throw-away server started here (``tests/postgis_server.py``),
one fresh database per engine run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd

from benchmarks.harness.compare import compare_check, compare_coverage, compare_pip
from benchmarks.harness.dataset import Dataset, build_dataset, subset_rows
from benchmarks.harness.report import add_ratios, load_average, machine_description, write_report
from benchmarks.harness.tasks import CheckAnswer, CoverageAnswer, PipAnswer
from benchmarks.harness.worker import ENGINES, engine_module

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["Options", "run_peers"]


@dataclass
class Options:
    """What to run (the command-line options of ``benchmarks/run_peers.py``)."""

    scale: float = 10
    seed: int = 20250101
    sites: list[int] = field(default_factory=lambda: [100_000, 1_000_000])
    polygon_sites: list[int] = field(default_factory=lambda: [10_000])
    engines: list[str] = field(default_factory=lambda: list(ENGINES))
    tasks: list[str] = field(default_factory=lambda: ["points", "polygons", "pip", "coverage"])
    out: Path = ROOT / "benchmarks" / "out"
    timeout_s: float = 1800.0
    check_sites: int = 20_000
    keep_answers: bool = False
    mode: str = "both"  # "task" | "e2e" | "both" (end-to-end runs of the check tasks)
    dataset: Dataset | None = None  # a prepared dataset (tests); else built from scale/seed


def _say(msg: str) -> None:
    print(msg, flush=True)


def _terminate_pg(url: str, db: str) -> None:
    """Stop the queries of a killed PostGIS run (they would run on without a client)."""
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,)
            )
            con.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    except Exception as exc:  # best effort clean-up
        _say(f"    (could not clean up PostGIS database {db}: {exc})")


def _spawn(
    engine: str, task: str, ds: Dataset, input_path: Path, answer: Path, *, timeout_s: float,
    pg_url: str | None, tag: str, mode: str = "task",
) -> dict[str, Any]:  # fmt: skip
    """Run one worker process; return its figures (or a timeout / error record)."""
    db = f"bench_{tag}_{engine}".replace("-", "_")
    cmd = [
        sys.executable, "-m", "benchmarks.harness.worker", "--engine", engine, "--task", task,
        "--dataset", str(ds.folder), "--input", str(input_path), "--answer", str(answer),
        "--mode", mode,
    ]  # fmt: skip
    if engine == "postgis":
        cmd += ["--pg-url", str(pg_url), "--pg-db", db]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    load = load_average()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and only its children
        proc.communicate()
        if engine == "postgis" and pg_url:
            _terminate_pg(pg_url, db)
        return {
            "engine": engine, "task": task, "status": "timeout",
            "note": f"killed after {timeout_s:g} s (timeout)", "wall_s": timeout_s,
            "load_avg_before": load,
        }  # fmt: skip
    if engine == "postgis" and pg_url:
        _terminate_pg(pg_url, db)
    wall = time.perf_counter() - t0
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        res = {"engine": engine, "task": task, "status": "error",
               "error": f"worker exited {proc.returncode}: {err.strip()[-2000:]}"}  # fmt: skip
    res["wall_s"] = round(wall, 2)
    res["load_avg_before"] = load
    if res["status"] != "ok":
        res["note"] = res.get("error", "failed")
    return res


def _compare(task: str, folder: Path, engines: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """Compare every engine's answer in ``folder/<engine>`` with ecozone's."""
    cls, fn = {
        "coverage": (CoverageAnswer, compare_coverage),
        "pip": (PipAnswer, compare_pip),
    }.get(task, (CheckAnswer, compare_check))
    ref = cls.load(folder / "ecozone")
    comps = []
    for e in engines:
        if e == "ecozone":
            continue
        comps.append(fn(ref, cls.load(folder / e), reference="ecozone", engine=e))
    return comps, {c.engine: {"ok": c.ok, "problems": c.problems, **c.stats} for c in comps}


def _instances(opts: Options, ds: Dataset) -> list[tuple[str, str, Path, str]]:
    """(task, tag, input file, title) for every task instance to run."""
    out = []
    if "points" in opts.tasks:
        for n in opts.sites:
            out.append(("points", f"points-{n}", ds.sites_path("points", n),
                        f"(a) Batch point-site check, {n:,} sites"))  # fmt: skip
    if "polygons" in opts.tasks:
        for n in opts.polygon_sites:
            out.append(("polygons", f"polygons-{n}", ds.sites_path("polygons", n),
                        f"(b) Polygon-site check with overlap areas, {n:,} sites"))  # fmt: skip
    if "pip" in opts.tasks:
        n = max(opts.sites)
        layers = ds.manifest.get("layers", {})
        k = layers.get("redline", {}).get("features", "?")
        k = f"{k:,}" if isinstance(k, int) else k
        out.append(("pip", f"pip-{n}", ds.sites_path("points", n),
                    f"(p) Raw point-in-polygon, {n:,} points × {k} red-line polygons"))  # fmt: skip
    if "coverage" in opts.tasks:
        n = ds.manifest["layers"]["residential"]["features"]
        parks = ds.manifest["layers"]["park"]["features"]
        title = f"(c) Park service coverage, {n:,} residential parcels, {parks:,} parks"
        out.append(("coverage", "coverage", ds.layer_path("residential"), title))
    return out


def _e2e_runs(
    opts: Options, ds: Dataset, task: str, tag: str, full_input: Path, engines: list[str],
    run_dir: Path, pg_url: str | None,
) -> list[dict[str, Any]]:  # fmt: skip
    """End-to-end runs of every engine (files in, result file out); ratios to ecozone."""
    runs = []
    for e in engines:
        folder = run_dir / "answers" / tag / "e2e" / e
        r = _spawn(e, task, ds, full_input, folder, timeout_s=opts.timeout_s, pg_url=pg_url,
                   tag=f"{tag}_e2e", mode="e2e")  # fmt: skip
        if r["status"] == "ok":
            r["throughput"] = r["n"] / r["e2e_s"] if r["e2e_s"] > 0 else None
        runs.append(r)
        _say(f"  e2e   {e:9s} {r['status']:8s} {r.get('e2e_s', '–')} s, "
             f"peak {r.get('peak_rss_mb', '–')} MB"
             + (f"  ({r.get('note')})" if r["status"] != "ok" else ""))  # fmt: skip
        if not opts.keep_answers:
            shutil.rmtree(folder, ignore_errors=True)
    ref = next((r for r in runs if r["engine"] == "ecozone" and r["status"] == "ok"), None)
    for r in runs:
        ok = ref is not None and r["status"] == "ok" and ref["e2e_s"] > 0
        r["ratio_e2e"] = r["e2e_s"] / ref["e2e_s"] if ok else None
    return runs


def run_peers(opts: Options) -> int:
    """Run the whole benchmark; return the exit status (0 ok, 1 disagreement, 2 setup error).

    Parameters
    ----------
    opts
        What to run.

    Returns
    -------
    int
    """
    started = datetime.now(UTC)
    out = Path(opts.out)
    run_dir = out / f"run-{started.strftime('%Y%m%dT%H%M%SZ')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    engines = [e for e in ENGINES if e in opts.engines]
    if "ecozone" not in engines:
        engines.insert(0, "ecozone")  # the reference of every comparison and ratio
    unavailable: dict[str, str] = {}
    for e in list(engines):
        reason = engine_module(e).unavailable_reason()
        if reason:
            unavailable[e] = reason
            engines.remove(e)
            _say(f"engine {e} skipped: {reason}")
    if opts.dataset is not None:
        ds = opts.dataset
    else:
        _say(f"dataset: scale {opts.scale:g}, seed {opts.seed} (built once, then reused) ...")
        ds = build_dataset(out, scale=opts.scale, seed=opts.seed, points=opts.sites,
                           polygons=opts.polygon_sites)  # fmt: skip
    _say(f"dataset ready in {ds.folder}")
    pg_url, stop = None, None
    if "postgis" in engines:
        pg = engine_module("postgis")
        try:
            pg_url, stop = pg.start_server(run_dir / "pg")
        except Exception as exc:
            unavailable["postgis"] = f"server did not start: {exc}"
            engines.remove("postgis")
            _say(f"engine postgis skipped: {exc}")
    try:
        versions = {}
        for e in engines:
            mod = engine_module(e)
            versions[e] = mod.versions(pg_url) if e == "postgis" else mod.versions()
        results: dict[str, Any] = {
            "started": started.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "machine": machine_description(versions),
            "dataset": {"folder": str(ds.folder), **ds.manifest},
            "options": {
                "scale": opts.scale, "seed": opts.seed, "sites": opts.sites,
                "polygon_sites": opts.polygon_sites, "engines": engines,
                "timeout_s": opts.timeout_s, "check_sites": opts.check_sites,
                "mode": opts.mode,
            },
            "unavailable": unavailable,
            "tasks": [],
        }  # fmt: skip
        status = 0
        for task, tag, full_input, title in _instances(opts, ds):
            _say(f"\n== {title}")
            entry: dict[str, Any] = {"task": task, "tag": tag, "title": title, "runs": []}
            results["tasks"].append(entry)
            # 1. agreement on a subset, before any timing
            subset = subset_rows(full_input, opts.check_sites, run_dir / "check" / f"{tag}.parquet")
            n_sub = len(gpd.read_parquet(subset))
            folder = run_dir / "answers" / tag / "check"
            ok_engines = []
            for e in engines:
                r = _spawn(e, task, ds, subset, folder / e, timeout_s=opts.timeout_s,
                           pg_url=pg_url, tag=f"{tag}_check")  # fmt: skip
                _say(f"  check {e:9s} {r['status']:8s} {r.get('run_s', '–')} s"
                     + (f"  ({r.get('note')})" if r["status"] != "ok" else ""))  # fmt: skip
                if r["status"] == "ok":
                    ok_engines.append(e)
                else:
                    entry["runs"].append({**r, "note": f"agreement run failed: {r.get('note')}"})
            if "ecozone" not in ok_engines:
                _say("ecozone failed on the agreement subset: stopping")
                write_report(results, run_dir)
                return 2
            comps, stats = _compare(task, folder, ok_engines)
            entry["agreement"] = {
                "subset": f"{n_sub:,} of the task's {'parcels' if task == 'coverage' else 'sites'}",
                "engines": stats,
                "summary": "; ".join(c.describe().splitlines()[0] for c in comps)
                or "only ecozone ran",
            }
            for c in comps:
                _say("  " + c.describe().replace("\n", "\n  "))
            if not all(c.ok for c in comps):
                entry["status"] = "disagreement"
                write_report(results, run_dir)
                _say("\nDISAGREEMENT before timing: the run stops here.")
                return 1
            if not opts.keep_answers:
                shutil.rmtree(folder, ignore_errors=True)
            # 2. timed runs on the full data
            folder = run_dir / "answers" / tag / "full"
            done = []
            for e in ok_engines if opts.mode in ("task", "both") else []:
                r = _spawn(e, task, ds, full_input, folder / e, timeout_s=opts.timeout_s,
                           pg_url=pg_url, tag=tag)  # fmt: skip
                if r["status"] == "ok":
                    r["throughput"] = r["n"] / r["run_s"] if r["run_s"] > 0 else None
                    done.append(e)
                entry["runs"].append(r)
                _say(f"  timed {e:9s} {r['status']:8s} load {r.get('load_s', '–')} s, "
                     f"task {r.get('run_s', '–')} s, peak {r.get('peak_rss_mb', '–')} MB"
                     + (f", server {r['server_peak_mb']} MB" if "server_peak_mb" in r else "")
                     + (f"  ({r.get('note')})" if r["status"] != "ok" else ""))  # fmt: skip
            order = {e: i for i, e in enumerate(ENGINES)}
            entry["runs"].sort(key=lambda r: order.get(r["engine"], 99))
            add_ratios(entry["runs"])
            # 2b. end to end: from the sites file to each engine's result file
            if opts.mode in ("e2e", "both") and task in ("points", "polygons"):
                entry["e2e_runs"] = _e2e_runs(opts, ds, task, tag, full_input, ok_engines,
                                              run_dir, pg_url)  # fmt: skip
            # 3. the full answers agree too
            if "ecozone" in done and len(done) > 1:
                comps, stats = _compare(task, folder, done)
                entry["agreement_full"] = stats
                for c in comps:
                    _say("  full data: " + c.describe().replace("\n", "\n  "))
                if not all(c.ok for c in comps):
                    entry["status"] = "disagreement"
                    status = 1
            if not opts.keep_answers:
                shutil.rmtree(folder, ignore_errors=True)
            write_report(results, run_dir)
            if status:
                _say("\nDISAGREEMENT on the full data: the run stops here.")
                return status
        js, md = write_report(results, run_dir)
        _say("\n" + md.read_text())
        _say(f"written: {js} and {md}")
        return status
    finally:
        if stop is not None:
            stop()
