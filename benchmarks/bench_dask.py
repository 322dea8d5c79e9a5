"""Scaling of the dask batch engine: the same sites on 1, 2 and all cores (workers).

The input is a GeoParquet file of random sites inside Beijing (60 % points, 40 %
small polygons, a project type per site, row groups of 20 000), checked against every
layer the Beijing pack uses in the store (the embedded demo by default):

- ``in-memory``: :func:`zoning.check.batch.run_batch` on one core (the reference);
- ``dask xN``: :func:`zoning.check.distributed.run_batch_dask` on a LocalCluster of N
  single-threaded worker processes, for N = 1, 2 and the number of cores.

Reported per run: wall time of the batch (read, partition, check, write; the
cluster's start-up is shown apart), throughput in sites/s, the scaling efficiency
``T(1 worker) / (N × T(N workers))`` (1.0 = perfect), and the CPU seconds spent by
the client and the workers with sites per CPU second (independent of other load). Verdict counts are
compared across runs and the benchmark stops if they differ. The 1-minute load
average is printed too: other work on the machine slows the wall times.

Usage::

    .venv/bin/python benchmarks/bench_dask.py                    # 200 000 sites
    .venv/bin/python benchmarks/bench_dask.py --sites 1000000 --workers 1,2,4
    .venv/bin/python benchmarks/bench_dask.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STORE = ROOT / "data" / "ecozone_demo.gpkg"
TYPES = np.array(["construction", "industrial", "residential", "agriculture"], dtype=object)


def beijing(store_path: Path) -> shapely.Geometry:
    """Beijing's outline from the store's boundary layer."""
    from layers.store import LayerStore

    with LayerStore(store_path, create=False) as store:
        b = store.get_kind("boundary").gdf
    sel = b[b["adcode"].astype(str) == "110000"]
    if sel.empty:
        sel = b[b["adcode"].astype(str).str.startswith("1101")]
    return shapely.union_all(sel.geometry.to_numpy())


def make_sites(area: shapely.Geometry, n: int, seed: int = 42) -> gpd.GeoDataFrame:
    """``n`` random sites inside ``area``: points and 20–300 m boxes (vectorised)."""
    rng = np.random.default_rng(seed)
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds
    xs, ys, got = [], [], 0
    while got < n:
        m = int((n - got) * 2.2) + 1000
        x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(area, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    size = rng.uniform(20, 300, n) / 111_000.0
    geoms = shapely.points(x, y)
    poly = rng.random(n) < 0.4
    geoms[poly] = shapely.box(x, y, x + size / np.cos(np.radians(y)), y + size)[poly]
    return gpd.GeoDataFrame(
        {
            "site_id": np.char.add("s", np.arange(n).astype(str)).astype(object),
            "project_type": TYPES[rng.integers(0, len(TYPES), n)],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def cpu_seconds(client=None) -> float:
    """User + system CPU seconds of this process, plus the workers' (and their children)."""
    import psutil

    def own() -> float:
        t = psutil.Process().cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    total = own()
    if client is not None:
        total += sum(client.run(own).values())
    return total


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not POSIX
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=200_000)
    ap.add_argument("--store", type=Path, default=DEFAULT_STORE)
    ap.add_argument("--pack", default="beijing")
    ap.add_argument("--workers", default=None, help="comma-separated, default 1,2,<cores>")
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-memory run")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    from zoning.check.batch import run_batch
    from zoning.check.distributed import dask_client, run_batch_dask
    from zoning.pack import load_pack

    cores = os.cpu_count() or 1
    workers = sorted({int(w) for w in (args.workers or f"1,2,{cores}").split(",")})
    pack = load_pack(args.pack)
    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        sites = make_sites(beijing(args.store), args.sites)
        src = tmp / "sites.parquet"
        sites.to_parquet(src, row_group_size=20_000)
        print(f"{args.sites:,} sites ({src.stat().st_size / 1e6:.1f} MB GeoParquet), pack "
              f"{pack.name}, store {args.store.name}, {cores} cores")  # fmt: skip
        rows: list[dict] = []
        counts = None
        if not args.no_baseline:
            t, c0 = time.perf_counter(), cpu_seconds()
            s = run_batch(src, pack=pack, store_or_layers=args.store, out=tmp / "mem.parquet")
            rows.append({"engine": "in-memory", "workers": 1, "startup_s": 0.0,
                         "wall_s": time.perf_counter() - t, "cpu_s": cpu_seconds() - c0,
                         "load": load_average()})  # fmt: skip
            counts = s.by_verdict
        for n in workers:
            t = time.perf_counter()
            with dask_client(n_workers=n) as client:
                start = time.perf_counter() - t
                t, c0 = time.perf_counter(), cpu_seconds(client)
                s = run_batch_dask(src, pack=pack, store=args.store, out=tmp / f"out{n}",
                                   scheduler=client)  # fmt: skip
                wall, cpu = time.perf_counter() - t, cpu_seconds(client) - c0
            rows.append({"engine": "dask", "workers": n, "startup_s": start, "wall_s": wall,
                         "cpu_s": cpu, "load": load_average()})  # fmt: skip
            if counts is not None and s.by_verdict != counts:
                raise SystemExit(
                    f"verdict counts differ with {n} workers: {s.by_verdict} vs {counts}"
                )
            counts = s.by_verdict
        t1 = next((r["wall_s"] for r in rows if r["engine"] == "dask" and r["workers"] == 1), None)
        print(f"{'engine':<10} {'workers':>7} {'start s':>8} {'wall s':>8} {'sites/s':>10} "
              f"{'speed-up':>9} {'efficiency':>10} {'cpu s':>7} {'sites/cpu-s':>11} "
              f"{'load':>5}")  # fmt: skip
        for r in rows:
            r["sites_per_s"] = args.sites / r["wall_s"]
            if r["engine"] == "dask" and t1:
                r["speedup"] = t1 / r["wall_s"]
                r["efficiency"] = r["speedup"] / r["workers"]
            print(f"{r['engine']:<10} {r['workers']:>7} {r['startup_s']:>8.1f} {r['wall_s']:>8.1f} "
                  f"{r['sites_per_s']:>10,.0f} {r.get('speedup', float('nan')):>9.2f} "
                  f"{r.get('efficiency', float('nan')):>10.2f} {r['cpu_s']:>7.1f} "
                  f"{args.sites / r['cpu_s']:>11,.0f} {r['load']:>5.1f}")  # fmt: skip
        print(f"verdicts: {counts}")
        if args.json:
            args.json.write_text(json.dumps({"sites": args.sites, "cores": cores, "runs": rows},
                                            indent=2), encoding="utf-8")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
